//! `hull checkpoint` and `hull restore`: runc's flags over libhull's criu module.

use std::path::PathBuf;

use clap::Args;
use libhull::criu::{CgroupsMode, CheckpointOptions, RestoreOptions};
use libhull::Runtime;

use crate::log::Logger;

/// runc's default image directory: `checkpoint` in the current directory.
fn default_image_path() -> PathBuf {
    PathBuf::from("checkpoint")
}

fn cgroups_mode(s: &Option<String>) -> Result<Option<CgroupsMode>, String> {
    s.as_deref().map(|m| m.parse::<CgroupsMode>().map_err(|e| e.to_string())).transpose()
}

/// `--empty-ns` may be repeated or comma-separated.
fn namespaces(v: &[String]) -> Vec<String> {
    v.iter().flat_map(|s| s.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Path for saving criu image files
    #[arg(long = "image-path")]
    image_path: Option<PathBuf>,
    /// Path for saving work files and logs
    #[arg(long = "work-path")]
    work_path: Option<PathBuf>,
    /// Path for previous criu image files in pre-dump (relative to --image-path)
    #[arg(long = "parent-path")]
    parent_path: Option<String>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    leave_running: bool,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    tcp_established: bool,
    /// Skip in-flight tcp connections
    #[arg(long = "tcp-skip-in-flight")]
    tcp_skip_in_flight: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    shell_job: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    lazy_pages: bool,
    /// CRIU writes \0 to this fd once the lazy-pages server is ready
    #[arg(long = "status-fd")]
    status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    page_server: Option<String>,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    file_locks: bool,
    /// Dump the container's memory only, leave it running
    #[arg(long = "pre-dump")]
    pre_dump: bool,
    /// Cgroups mode: soft, full, strict or ignore
    #[arg(long = "manage-cgroups-mode")]
    manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long = "empty-ns")]
    empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    auto_dedup: bool,
    /// The container id
    id: String,
}

pub fn checkpoint(rt: &Runtime, a: &CheckpointArgs, criu: Option<PathBuf>) -> Result<u8, String> {
    let opts = CheckpointOptions {
        image_path: a.image_path.clone().unwrap_or_else(default_image_path),
        work_path: a.work_path.clone(),
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        lazy_pages: a.lazy_pages,
        status_fd: a.status_fd,
        page_server: a.page_server.clone(),
        file_locks: a.file_locks,
        pre_dump: a.pre_dump,
        manage_cgroups_mode: cgroups_mode(&a.manage_cgroups_mode)?,
        empty_ns: namespaces(&a.empty_ns),
        auto_dedup: a.auto_dedup,
        criu,
    };
    rt.checkpoint(&a.id, &opts).map(|()| 0).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Path to criu image files for restoring
    #[arg(long = "image-path")]
    image_path: Option<PathBuf>,
    /// Path for saving work files and logs
    #[arg(long = "work-path")]
    work_path: Option<PathBuf>,
    /// Path to the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    detach: bool,
    /// File to write the restored init's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Do not make hull a child subreaper
    #[arg(long = "no-subreaper")]
    no_subreaper: bool,
    /// Accepted as runc's (CRIU sets up the root)
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    file_locks: bool,
    /// Cgroups mode: soft, full, strict or ignore
    #[arg(long = "manage-cgroups-mode")]
    manage_cgroups_mode: Option<String>,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    lazy_pages: bool,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long = "empty-ns")]
    empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    auto_dedup: bool,
    /// The container id
    id: String,
}

pub fn restore(rt: &Runtime, a: &RestoreArgs, criu: Option<PathBuf>, logger: &Logger) -> Result<u8, String> {
    let mut opts = RestoreOptions {
        image_path: a.image_path.clone().unwrap_or_else(default_image_path),
        work_path: a.work_path.clone(),
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: cgroups_mode(&a.manage_cgroups_mode)?,
        lazy_pages: a.lazy_pages,
        empty_ns: namespaces(&a.empty_ns),
        auto_dedup: a.auto_dedup,
        criu,
        keep_console: false,
    };
    if !a.detach {
        opts.keep_console = a.console_socket.is_none();
        if !a.no_subreaper {
            let _ = libhull::sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0);
        }
        crate::run::block_signals()?;
    }
    // The restored init is our child (CRIU restores it as its own sibling).
    let restored = rt.restore(&a.id, &a.bundle, &opts).map_err(|e| e.to_string())?;
    if a.detach {
        return Ok(0);
    }
    let status = crate::run::supervise(restored.pid, restored.console, logger);
    if let Err(e) = rt.delete(&a.id, true) {
        logger.warn(&format!("delete {}: {e}", a.id));
    }
    status
}
