//! criu: checkpoint and restore of a container through CRIU, as runc does it.
//!
//! CRIU runs as `criu swrk` (see `swrk`) and is told, for the container:
//! - the bind mounts of the config and, on a cgroup v1 host, the cgroup directories bound into
//!   the container's /sys/fs/cgroup: external mounts, named by their destination at dump and
//!   mapped back to host paths at restore (so a restore under a new id gets its own cgroups);
//! - namespaces joined by path (network, pid): external, given back as fds at restore;
//! - cgroups: the container's freezer at dump; at restore CRIU is first moved into the new
//!   container's cgroups, which become its cgroup roots (`--manage-cgroups-mode` passes on);
//! - stdio: the init's fds 0-2 are recorded in `descriptors.json` in the image directory; at
//!   restore each pipe, host terminal or host file among them is replaced by the caller's fd
//!   of the same number (`inherit_fd`), so the restored process uses the restorer's stdio;
//! - the terminal: CRIU hands back a new pty master (`orphan-pts-master`), which goes to
//!   `--console-socket` (or to the caller for a foreground restore).
//!
//! At restore the prestart and createRuntime hooks run when CRIU has made the namespaces
//! (`setup-namespaces`), and the state is written as soon as the process exists
//! (`post-restore`).
//!
//! A failed dump leaves the container running as it was (CRIU thaws it); a failed restore
//! undoes everything it made: processes, cgroups, the temporary root mount, the state.

pub mod rpc;
mod swrk;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxNamespaceType;

use crate::cgroups::CgroupManager;
use crate::container::{derive_status, destroy, lock_existing, write_pid_file};
use crate::hooks::{run_hooks, HookState};
use crate::spec::mounts::MountKind;
use crate::spec::{validate_id, Plan};
use crate::state::{self, ContainerState, StateDir, StateError, Status};
use crate::{sys, Error, Runtime};
use rpc::{CgMode, CgroupRoot, ExtMountMap, InheritFd, Opts, PageServerInfo, Req, ReqType};
use swrk::{StdioMode, Swrk};

/// The oldest CRIU hull drives. CRIU 3.x cannot dump on current kernels (6.13 added a vvar
/// area that 3.17 refuses: "Unexpected rt vDSO area bounds"); hull is tested with 4.1.
pub const MIN_VERSION: (u32, u32) = (4, 0);

/// The file in the image directory that records the init's stdio (runc's name and format).
pub const DESCRIPTORS_FILE: &str = "descriptors.json";

/// Errors of checkpoint and restore, each naming the option, path or CRIU's reason.
#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    #[error("criu: {0}: not found; checkpoint and restore need CRIU {maj}.{min} or newer", maj = MIN_VERSION.0, min = MIN_VERSION.1)]
    Missing(String),
    #[error("criu: {path} is version {found}; checkpoint and restore need CRIU {}.{} or newer", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld { path: String, found: String },
    #[error("criu: {0}")]
    Spawn(String),
    #[error("criu: rpc: {0}")]
    Rpc(String),
    #[error("criu failed: type {kind}: {reason}")]
    Failed { kind: String, reason: String },
    #[error("criu notification {script}: {reason}")]
    Notify { script: String, reason: String },
    #[error("{option}: {reason}")]
    Option { option: String, reason: String },
    #[error("{path}: {reason}")]
    Path { path: PathBuf, reason: String },
}

impl From<CriuError> for Error {
    fn from(e: CriuError) -> Error {
        Error::Other(e.to_string())
    }
}

fn opt_err(option: &str, reason: impl Into<String>) -> CriuError {
    CriuError::Option { option: option.into(), reason: reason.into() }
}

fn path_err(path: &Path) -> impl FnOnce(std::io::Error) -> CriuError + '_ {
    move |e| CriuError::Path { path: path.to_path_buf(), reason: e.to_string() }
}

/// `--manage-cgroups-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl std::str::FromStr for CgroupsMode {
    type Err = CriuError;
    fn from_str(s: &str) -> Result<Self, CriuError> {
        match s {
            "soft" => Ok(CgroupsMode::Soft),
            "full" => Ok(CgroupsMode::Full),
            "strict" => Ok(CgroupsMode::Strict),
            "ignore" => Ok(CgroupsMode::Ignore),
            _ => Err(opt_err("--manage-cgroups-mode", format!("invalid value {s:?} (soft, full, strict or ignore)"))),
        }
    }
}

impl CgroupsMode {
    fn rpc(self) -> i32 {
        (match self {
            CgroupsMode::Soft => CgMode::Soft,
            CgroupsMode::Full => CgMode::Full,
            CgroupsMode::Strict => CgMode::Strict,
            CgroupsMode::Ignore => CgMode::Ignore,
        }) as i32
    }
}

/// Options of `checkpoint` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Where the images go (made if missing).
    pub image_path: PathBuf,
    /// CRIU's work directory (logs); default: the container's state directory.
    pub work_path: Option<PathBuf>,
    /// A previous (pre-)dump, relative to the image directory.
    pub parent_path: Option<String>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub lazy_pages: bool,
    /// An fd of the caller that CRIU writes a byte to when the lazy-pages server is ready.
    pub status_fd: Option<i32>,
    /// `ADDRESS:PORT` of a CRIU page server.
    pub page_server: Option<String>,
    pub file_locks: bool,
    pub pre_dump: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    /// Namespaces (`network`) made empty at restore instead of restored.
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    /// The criu binary (default: `criu` on PATH).
    pub criu: Option<PathBuf>,
}

/// Options of `restore` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    pub lazy_pages: bool,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub criu: Option<PathBuf>,
    /// Keep the restored terminal's pty master for the caller (a foreground restore).
    pub keep_console: bool,
}

/// A restored container: its init runs (as a child of the caller, as after `run`).
#[derive(Debug)]
pub struct Restored {
    pub id: String,
    pub pid: i32,
    /// The pty master when `keep_console` was asked and the process has a terminal.
    pub console: Option<OwnedFd>,
}

/// A located CRIU binary of a usable version.
#[derive(Debug, Clone)]
pub struct Criu {
    pub path: PathBuf,
    pub version: (u32, u32, u32),
}

impl Criu {
    /// Finds `criu` (or `path`) and checks its version (`criu --version`: "Version: 4.1.1").
    pub fn find(path: Option<&Path>) -> Result<Criu, CriuError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => which("criu").ok_or_else(|| CriuError::Missing("criu (in PATH)".into()))?,
        };
        let out =
            std::process::Command::new(&path).arg("--version").stdin(std::process::Stdio::null()).output().map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => CriuError::Missing(path.display().to_string()),
                _ => CriuError::Spawn(format!("{}: {e}", path.display())),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text)
            .ok_or_else(|| CriuError::Spawn(format!("{}: cannot read a version from `criu --version`: {text:?}", path.display())))?;
        if (version.0, version.1) < MIN_VERSION {
            return Err(CriuError::TooOld {
                path: path.display().to_string(),
                found: format!("{}.{}.{}", version.0, version.1, version.2),
            });
        }
        Ok(Criu { path, version })
    }

    /// Whether CRIU and this kernel can track dirty memory (needed by `--pre-dump` and
    /// `--parent-path`): soft-dirty bits or an equivalent.
    pub fn mem_tracking(&self) -> Result<bool, CriuError> {
        let req = Req {
            r#type: ReqType::FeatureCheck as i32,
            features: Some(rpc::Features { mem_track: Some(true), ..Default::default() }),
            ..Default::default()
        };
        let sw = Swrk::start(&self.path, &[], StdioMode::Quiet)?;
        // CRIU answers a feature check with success=false when a feature is missing, but
        // still fills in `features`.
        match sw.run_raw(&req) {
            Ok(resp) => Ok(resp.features.and_then(|f| f.mem_track).unwrap_or(false)),
            Err(e) => Err(e),
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// "Version: 4.1.1" or "Version: 4.1" from `criu --version`.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let v = text.lines().find_map(|l| l.trim().strip_prefix("Version:"))?.trim();
    let mut parts = v.split('.').map(|p| p.trim().parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let sub = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    Some((major, minor, sub))
}

/// `--empty-ns` names to CLONE_* flags (runc accepts `network`).
fn empty_ns_mask(names: &[String]) -> Result<u32, CriuError> {
    let mut mask = 0u32;
    for n in names {
        mask |= match n.as_str() {
            "network" | "net" => libc::CLONE_NEWNET as u32,
            _ => return Err(opt_err("--empty-ns", format!("namespace {n:?} cannot be left empty (only network)"))),
        };
    }
    Ok(mask)
}

/// `ADDRESS:PORT` of `--page-server`.
fn page_server(s: &str) -> Result<PageServerInfo, CriuError> {
    let (addr, port) = s.rsplit_once(':').ok_or_else(|| opt_err("--page-server", format!("{s:?} is not ADDRESS:PORT")))?;
    let port: u16 = port.parse().map_err(|_| opt_err("--page-server", format!("{port:?} is not a port number")))?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if addr.is_empty() {
        return Err(opt_err("--page-server", format!("{s:?} has no address")));
    }
    Ok(PageServerInfo { address: Some(addr.to_string()), port: Some(i32::from(port)), ..Default::default() })
}

/// The CRIU key of a namespace joined by path, and whether it is one CRIU can take as
/// external (network and pid, as runc).
fn external_ns_key(kind: LinuxNamespaceType) -> Option<(&'static str, &'static str)> {
    match kind {
        LinuxNamespaceType::Network => Some(("net", "extRootNetNS")),
        LinuxNamespaceType::Pid => Some(("pid", "extRootPidNS")),
        _ => None,
    }
}

/// The external mounts of a container, as (destination inside the container, host path):
/// the config's bind mounts and, on a cgroup v1 host, the cgroup directories bound into the
/// container's cgroup mount.
fn external_mounts(plan: &Plan, cgroup: &CgroupManager) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for m in &plan.mounts {
        match m.kind {
            MountKind::Bind { .. } => {
                if let Some(src) = &m.source {
                    out.push((m.destination.display().to_string(), src.clone()));
                }
            }
            MountKind::Fs if m.fstype == "cgroup" && !cgroup.is_unified() => {
                let mut seen = std::collections::BTreeSet::new();
                for (ctrl, host_dir) in &cgroup.paths {
                    if ctrl.is_empty() {
                        continue;
                    }
                    if let Some(hier) = crate::rootfs::hierarchy_dir_name(host_dir) {
                        if seen.insert(hier.clone()) {
                            out.push((m.destination.join(&hier).display().to_string(), host_dir.clone()));
                        }
                    }
                }
            }
            MountKind::Fs => {}
        }
    }
    out
}

/// The init's stdio as recorded in `descriptors.json`, and what CRIU must be told is external.
///
/// runc records the targets of /proc/<pid>/fd/0-2 and gives pipes back at restore. hull records
/// CRIU's key instead of the path for the two other kinds of stdio that come from outside the
/// container, so those are given back too (and can be dumped at all): a terminal of the host
/// (`tty[rdev:dev]`, a `--shell-job`), and a file on a mount the container does not have, such
/// as /dev/null (`file[mnt_id:inode]`). Everything else (the
/// container's own pty, files inside it) CRIU handles itself. A regular file of the host is
/// refused before the dump (`host_file_stdio`).
fn stdio_descriptors(pid: i32, container_terminal: bool) -> (Vec<String>, Vec<String>) {
    let own_mounts: std::collections::BTreeSet<u64> = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    let mut external = Vec::new();
    let mut entries = Vec::new();
    for n in 0..3 {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{n}")).map(|p| p.display().to_string()).unwrap_or_default();
        let entry = match external_stdio_key(pid, n, &link, container_terminal, &own_mounts) {
            Some(key) => {
                if !external.contains(&key) {
                    external.push(key.clone());
                }
                key
            }
            None => link,
        };
        entries.push(entry);
    }
    (entries, external)
}

fn external_stdio_key(
    pid: i32,
    n: u32,
    link: &str,
    container_terminal: bool,
    own_mounts: &std::collections::BTreeSet<u64>,
) -> Option<String> {
    if link.is_empty() || link.starts_with("pipe:") || link.starts_with("socket:") || link.starts_with("anon_inode:") {
        return None;
    }
    let st = std::fs::metadata(format!("/proc/{pid}/fd/{n}")).ok()?;
    let kind = st.mode() & libc::S_IFMT;
    if kind == libc::S_IFCHR && is_tty_major(libc::major(st.rdev())) {
        // The container's own pty is restored by CRIU (orphan-pts-master).
        return (!container_terminal).then(|| format!("tty[{:x}:{:x}]", st.rdev(), st.dev()));
    }
    // A regular file of the host is left to CRIU, which refuses it (`host_file_stdio` says so
    // first): given back at restore, CRIU would insist on the same size.
    if kind == libc::S_IFREG {
        return None;
    }
    let mnt_id = fd_mount_id(pid, n)?;
    (!own_mounts.contains(&mnt_id)).then(|| format!("file[{mnt_id:x}:{:x}]", st.ino()))
}

fn fd_mount_id(pid: i32, n: u32) -> Option<u64> {
    let fdinfo = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}")).ok()?;
    fdinfo.lines().find_map(|l| l.strip_prefix("mnt_id:"))?.trim().parse().ok()
}

/// The first stdio fd of the init that is a regular file outside the container's mounts:
/// CRIU cannot dump it ("Can't lookup mount"), so the checkpoint is refused before it starts.
fn host_file_stdio(pid: i32) -> Option<(u32, String)> {
    let own_mounts: std::collections::BTreeSet<u64> = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    (0..3).find_map(|n| {
        let st = std::fs::metadata(format!("/proc/{pid}/fd/{n}")).ok()?;
        if st.mode() & libc::S_IFMT != libc::S_IFREG || own_mounts.contains(&fd_mount_id(pid, n)?) {
            return None;
        }
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{n}")).ok()?;
        Some((n, link.display().to_string()))
    })
}

/// Terminal majors: pty slaves (136-143), tty and console (4, 5).
fn is_tty_major(major: u32) -> bool {
    matches!(major, 4 | 5 | 136..=143)
}

/// Whether a `descriptors.json` entry is handed to CRIU as an inherited fd at restore.
fn inherited_at_restore(entry: &str) -> bool {
    entry.starts_with("pipe:") || entry.starts_with("tty[") || entry.starts_with("file[")
}

fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(path)?;
    Ok(OwnedFd::from(f))
}

fn mkdir_p(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

fn hook_state(id: &str, pid: i32, bundle: &Path, spec: &oci_spec::runtime::Spec, status: &str) -> HookState {
    HookState {
        oci_version: crate::OCI_VERSION.to_string(),
        id: id.to_string(),
        status: status.to_string(),
        pid,
        bundle: bundle.display().to_string(),
        annotations: spec.annotations().clone().unwrap_or_default(),
    }
}

impl Runtime {
    /// Checkpoints a running (or paused) container into `opts.image_path`.
    ///
    /// Afterwards the container is `stopped` (its processes are gone, its record stays for
    /// `delete` or a `restore` under the same id), or still `running` with `leave_running` or
    /// `pre_dump`. A failure leaves it running and its state as it was.
    pub fn checkpoint(&self, id: &str, opts: &CheckpointOptions) -> Result<(), Error> {
        let sd = self.dir(id)?;
        let _lock = lock_existing(&sd)?;
        let st = sd.load()?;
        let status = derive_status(&sd, &st);
        if !matches!(status, Status::Running | Status::Paused) {
            return Err(Error::Other(format!("container {id} cannot be checkpointed in {status} state")));
        }
        // Every option is checked before anything is written.
        let criu = Criu::find(opts.criu.as_deref())?;
        let empty_ns = empty_ns_mask(&opts.empty_ns)?;
        let ps = opts.page_server.as_deref().map(page_server).transpose()?;
        if let Some(p) = &opts.parent_path {
            if Path::new(p).is_absolute() {
                return Err(opt_err("--parent-path", format!("{p}: must be relative to --image-path")).into());
            }
        }
        if opts.pre_dump || opts.parent_path.is_some() {
            let option = if opts.pre_dump { "--pre-dump" } else { "--parent-path" };
            if !criu.mem_tracking()? {
                return Err(opt_err(
                    option,
                    "this kernel cannot track dirty memory (no soft-dirty bits): CRIU cannot make incremental dumps here",
                )
                .into());
            }
        }
        if let Some(fd) = opts.status_fd {
            if !sys::fd_is_open(fd) {
                return Err(opt_err("--status-fd", format!("{fd} is not an open file descriptor")).into());
            }
        }
        let plan = Plan::from_spec(st.config.clone(), &st.bundle)?;
        if let Some((n, path)) = host_file_stdio(st.init_process_pid) {
            return Err(Error::Other(format!(
                "container {id}: its fd {n} is the host file {path}, which CRIU cannot checkpoint: give the container pipes (or a file inside it) as stdio"
            )));
        }
        let mut external = Vec::new();
        for ns in &plan.namespaces {
            if let (Some(path), Some((kind, key))) = (&ns.path, external_ns_key(ns.kind)) {
                let ino = std::fs::metadata(path).map_err(path_err(path))?.ino();
                external.push(format!("{kind}[{ino}]:{key}"));
            }
        }
        let ext_mnt: Vec<ExtMountMap> =
            external_mounts(&plan, &st.cgroup).into_iter().map(|(dest, _)| ExtMountMap { key: dest.clone(), val: dest }).collect();
        let freeze_cgroup = st.cgroup.paths.get("freezer").or_else(|| st.cgroup.paths.get("")).map(|p| p.display().to_string());

        // An image directory made here is removed again if the checkpoint fails.
        let made_image_dir = !opts.image_path.exists();
        mkdir_p(&opts.image_path).map_err(path_err(&opts.image_path))?;
        let image_guard = ImageDirGuard { path: made_image_dir.then(|| opts.image_path.clone()) };
        let image_dir = open_dir(&opts.image_path).map_err(path_err(&opts.image_path))?;
        if let Some(p) = &opts.parent_path {
            let parent = opts.image_path.join(p);
            if !parent.is_dir() {
                return Err(opt_err("--parent-path", format!("{}: no such image directory", parent.display())).into());
            }
        }
        let work_path = opts.work_path.clone().unwrap_or_else(|| sd.dir.join("criu.work"));
        mkdir_p(&work_path).map_err(path_err(&work_path))?;
        let work_dir = open_dir(&work_path).map_err(path_err(&work_path))?;

        let (descriptors, stdio_external) = stdio_descriptors(st.init_process_pid, plan.terminal);
        external.extend(stdio_external);
        if !opts.pre_dump {
            let fds = serde_json::to_vec(&descriptors).unwrap_or_default();
            let p = opts.image_path.join(DESCRIPTORS_FILE);
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&p)
                .and_then(|mut f| std::io::Write::write_all(&mut f, &fds))
                .map_err(path_err(&p))?;
        }

        let req = Req {
            r#type: if opts.pre_dump { ReqType::PreDump } else { ReqType::Dump } as i32,
            opts: Some(Opts {
                images_dir_fd: image_dir.as_raw_fd(),
                work_dir_fd: Some(work_dir.as_raw_fd()),
                log_level: Some(4),
                log_file: Some(if opts.pre_dump { "pre-dump.log" } else { "dump.log" }.into()),
                pid: Some(st.init_process_pid),
                root: Some(st.rootfs.display().to_string()),
                manage_cgroups: Some(true),
                manage_cgroups_mode: opts.manage_cgroups_mode.map(CgroupsMode::rpc),
                freeze_cgroup,
                notify_scripts: Some(true),
                leave_running: Some(opts.leave_running),
                tcp_established: Some(opts.tcp_established),
                tcp_skip_in_flight: Some(opts.tcp_skip_in_flight),
                ext_unix_sk: Some(opts.ext_unix_sk),
                shell_job: Some(opts.shell_job),
                file_locks: Some(opts.file_locks),
                evasive_devices: Some(true),
                link_remap: Some(true),
                orphan_pts_master: Some(true),
                auto_dedup: Some(opts.auto_dedup),
                lazy_pages: Some(opts.lazy_pages),
                status_fd: opts.status_fd,
                ps,
                empty_ns: Some(empty_ns),
                parent_img: opts.parent_path.clone(),
                track_mem: if opts.parent_path.is_some() || opts.pre_dump { Some(true) } else { None },
                config_file: criu_config_file(&plan.spec),
                ext_mnt,
                external,
                ..Default::default()
            }),
            ..Default::default()
        };
        let sw = Swrk::start(&criu.path, &[], StdioMode::Quiet)?;
        let log = work_path.join(if opts.pre_dump { "pre-dump.log" } else { "dump.log" });
        sw.run(&req, &mut |_script, _pid, _fd| Ok(())).map_err(|e| with_log(e, &log))?;
        image_guard.keep();
        if !opts.leave_running && !opts.pre_dump {
            // CRIU killed the dumped tasks; wait until the init is gone so `state` says stopped.
            let deadline = Instant::now() + Duration::from_secs(10);
            while state::process_alive(st.init_process_pid, st.init_process_start) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(())
    }

    /// Restores a container from `opts.image_path` under `id`, with the bundle's config. The
    /// id may be new, or that of a stopped container (as after its own checkpoint), which is
    /// deleted first (cgroups, poststop hooks, record) once every input has been checked; a
    /// live container under `id` is an error. A failure undoes what the restore made, so no
    /// container is left under `id`.
    pub fn restore(&self, id: &str, bundle: &Path, opts: &RestoreOptions) -> Result<Restored, Error> {
        validate_id(id)?;
        let sd = StateDir::new(&self.root, id);
        let criu = Criu::find(opts.criu.as_deref())?;
        let plan = Plan::from_bundle(bundle)?;
        if plan.terminal && opts.console_socket.is_none() && !opts.keep_console {
            return Err(Error::Other(
                "process.terminal: cannot allocate a tty if hull will detach without setting --console-socket".into(),
            ));
        }
        if !plan.terminal && opts.console_socket.is_some() {
            return Err(Error::Other("--console-socket: cannot use a console socket when process.terminal is false".into()));
        }
        // What restore does not rebuild yet is refused before any side effect, never dropped.
        if self.systemd_cgroup {
            return Err(Error::Other(
                "--systemd-cgroup: restore places the container with the cgroupfs driver only (not yet with systemd)".into(),
            ));
        }
        if let Some(l) = plan.spec.linux() {
            if l.intel_rdt().is_some() {
                return Err(Error::Other("linux.intelRdt: restore does not rebuild the resctrl group yet".into()));
            }
            if l.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
                return Err(Error::Other("linux.netDevices: restore does not move network devices yet".into()));
            }
        }
        let empty_ns = empty_ns_mask(&opts.empty_ns)?;
        let image_dir = open_dir(&opts.image_path).map_err(|e| opt_err("--image-path", format!("{}: {e}", opts.image_path.display())))?;
        let desc_path = opts.image_path.join(DESCRIPTORS_FILE);
        let descriptors: Vec<String> = std::fs::read(&desc_path)
            .map_err(|e| e.to_string())
            .and_then(|d| serde_json::from_slice(&d).map_err(|e| e.to_string()))
            .map_err(|reason| CriuError::Path { path: desc_path.clone(), reason: format!("{reason} (not a checkpoint image?)") })?;
        let replaced = match sd.check_exists()? {
            false => None,
            true => {
                let old = sd.load()?;
                if derive_status(&sd, &old) != Status::Stopped {
                    return Err(StateError::Exists(id.to_string()).into());
                }
                Some(old)
            }
        };
        let linux = plan.spec.linux().as_ref();
        let mut cgroup = CgroupManager::new(linux.and_then(|l| l.cgroups_path().as_deref()), id)?;
        let pid_file = opts.pid_file.as_ref().map(std::path::absolute).transpose().map_err(|e| opt_err("--pid-file", e.to_string()))?;
        // Namespaces joined by path are handed to CRIU as fds 4, 5, ... under the keys of
        // the dump.
        let mut ns_fds = Vec::new();
        let mut inherit = Vec::new();
        for ns in &plan.namespaces {
            if let (Some(path), Some((_, key))) = (&ns.path, external_ns_key(ns.kind)) {
                let f = std::fs::File::open(path).map_err(path_err(path))?;
                inherit.push(InheritFd { key: key.to_string(), fd: 4 + ns_fds.len() as i32 });
                ns_fds.push(OwnedFd::from(f));
            }
        }
        for (n, d) in descriptors.iter().enumerate() {
            if inherited_at_restore(d) {
                inherit.push(InheritFd { key: d.clone(), fd: n as i32 });
            }
        }

        // Side effects start here; `undo` reverts them on any error.
        if let Some(old) = &replaced {
            let _lock = sd.lock()?;
            destroy(&sd, old)?;
        }
        sd.create()?;
        let mut undo = Undo { sd: sd.clone(), cgroup: None, pid: None, root_mount: None };
        let _lock = sd.lock()?;
        cgroup.create()?;
        undo.cgroup = Some(cgroup.clone());
        let default_resources = oci_spec::runtime::LinuxResources::default();
        cgroup.apply(linux.and_then(|l| l.resources().as_ref()).unwrap_or(&default_resources))?;

        let work_path = opts.work_path.clone().unwrap_or_else(|| sd.dir.join("criu.work"));
        mkdir_p(&work_path).map_err(path_err(&work_path))?;
        let work_dir = open_dir(&work_path).map_err(path_err(&work_path))?;

        // CRIU needs the root to be a mount point: bind the rootfs to a directory of our own.
        let root = sd.dir.join("criu-root");
        std::fs::DirBuilder::new().mode(0o755).create(&root).map_err(path_err(&root))?;
        sys::mount(Some(&plan.rootfs), &root, None, libc::MS_BIND | libc::MS_REC, None).map_err(path_err(&root))?;
        undo.root_mount = Some(root.clone());
        prepare_mount_points(&plan)?;

        let inherits_tty = inherit.iter().any(|i| i.key.starts_with("tty["));
        let ext = external_mounts(&plan, &cgroup);
        let ext_mnt: Vec<ExtMountMap> =
            ext.into_iter().map(|(dest, src)| ExtMountMap { key: dest, val: src.display().to_string() }).collect();

        let sw = Swrk::start(&criu.path, &ns_fds, StdioMode::Inherit)?;
        // CRIU restores the tasks into its own cgroups: the container's.
        let criu_pid = sw.pid();
        let cg_root = match cgroup.add_pid(criu_pid) {
            Ok(()) => cgroup_roots(criu_pid),
            Err(e) => {
                sw.abort();
                return Err(e.into());
            }
        };

        let req = Req {
            r#type: ReqType::Restore as i32,
            opts: Some(Opts {
                images_dir_fd: image_dir.as_raw_fd(),
                work_dir_fd: Some(work_dir.as_raw_fd()),
                log_level: Some(4),
                log_file: Some("restore.log".into()),
                root: Some(root.display().to_string()),
                rst_sibling: Some(true),
                manage_cgroups: Some(true),
                manage_cgroups_mode: opts.manage_cgroups_mode.map(CgroupsMode::rpc),
                cg_root,
                notify_scripts: Some(true),
                evasive_devices: Some(true),
                // A host terminal handed back as an inherited fd replaces what --shell-job would
                // do with CRIU's own stdin (CRIU refuses both: it would store fd 0 twice).
                shell_job: Some(opts.shell_job && !inherits_tty),
                ext_unix_sk: Some(opts.ext_unix_sk),
                tcp_established: Some(opts.tcp_established),
                file_locks: Some(opts.file_locks),
                empty_ns: Some(empty_ns),
                orphan_pts_master: Some(true),
                auto_dedup: Some(opts.auto_dedup),
                lazy_pages: Some(opts.lazy_pages),
                config_file: criu_config_file(&plan.spec),
                ext_mnt,
                inherit_fd: inherit,
                ..Default::default()
            }),
            ..Default::default()
        };

        let owner = nix::unistd::geteuid().as_raw();
        let hooks = plan.spec.hooks().clone();
        let mut console = None;
        let mut saved_pid = None;
        let mut notify = |script: &str, pid: i32, fd: Option<OwnedFd>| -> Result<(), String> {
            match script {
                "setup-namespaces" => {
                    let hs = hook_state(id, pid, &plan.bundle, &plan.spec, "creating");
                    let h = hooks.as_ref();
                    #[allow(deprecated)]
                    run_hooks("prestart", h.and_then(|h| h.prestart().as_ref()), &hs).map_err(|e| e.to_string())?;
                    run_hooks("createRuntime", h.and_then(|h| h.create_runtime().as_ref()), &hs).map_err(|e| e.to_string())?;
                }
                "orphan-pts-master" => {
                    let master = fd.ok_or("CRIU sent no pty master")?;
                    if let Some(sock) = &opts.console_socket {
                        crate::process::send_console(sock, master.as_fd())?;
                    } else if opts.keep_console {
                        console = Some(master);
                    }
                }
                "post-restore" => {
                    saved_pid = Some(pid);
                    save_restored(&sd, id, pid, &plan, &cgroup, owner, pid_file.as_deref())?;
                }
                _ => {}
            }
            Ok(())
        };
        let log = work_path.join("restore.log");
        let result = sw.run(&req, &mut notify);
        undo.pid = saved_pid;
        let resp = result.map_err(|e| with_log(e, &log))?;
        let pid = resp.restore.map(|r| r.pid).or(saved_pid).ok_or_else(|| CriuError::Rpc("restore response without a pid".into()))?;
        undo.pid = Some(pid);
        if saved_pid != Some(pid) {
            save_restored(&sd, id, pid, &plan, &cgroup, owner, pid_file.as_deref()).map_err(Error::Other)?;
        }
        undo.unmount_root();
        undo.disarm();
        Ok(Restored { id: id.to_string(), pid, console })
    }
}

/// Adds where to read CRIU's log to its failure.
fn with_log(e: CriuError, log: &Path) -> CriuError {
    match e {
        CriuError::Failed { kind, reason } => {
            // CRIU logs a harmless error when it cannot raise its own RLIMIT_NOFILE (no
            // CAP_SYS_RESOURCE); it is not why anything failed.
            let harmless = |l: &str| l.contains("RLIMIT_NOFILE");
            let tail = std::fs::read_to_string(log)
                .map(|t| t.lines().filter(|l| l.contains("Error (") && !harmless(l)).take(3).map(str::trim).collect::<Vec<_>>().join("; "))
                .unwrap_or_default();
            let reason = reason.trim();
            let mut reason = if reason.is_empty() || harmless(reason) { String::new() } else { format!("{reason}; ") };
            if !tail.is_empty() {
                reason.push_str(&format!("{tail}; "));
            }
            reason.push_str(&format!("see {}", log.display()));
            CriuError::Failed { kind, reason }
        }
        e => e,
    }
}

fn save_restored(
    sd: &StateDir,
    id: &str,
    pid: i32,
    plan: &Plan,
    cgroup: &CgroupManager,
    owner: u32,
    pid_file: Option<&Path>,
) -> Result<(), String> {
    // The restored process runs (no exec fifo: the status reads running). restore refuses
    // linux.intelRdt, so there is no resctrl group to remove at delete.
    let st = ContainerState::for_init(id, pid, plan, cgroup, owner)?;
    sd.save(&st).map_err(|e| e.to_string())?;
    if let Some(p) = pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(())
}

/// The CRIU configuration file for this container, as runc chooses it: the `org.criu.config`
/// annotation names one (an empty value means none at all), else the runtime's own default,
/// `/etc/criu/hull.conf` (runc's is `/etc/criu/runc.conf`). CRIU reads it when it exists and
/// its settings override the RPC's; a missing file is not an error.
fn criu_config_file(spec: &oci_spec::runtime::Spec) -> Option<String> {
    match spec.annotations().as_ref().and_then(|a| a.get(CRIU_CONFIG_ANNOTATION)) {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v.clone()),
        None => Some(DEFAULT_CRIU_CONFIG.into()),
    }
}

/// The annotation that names a container's CRIU configuration file.
pub const CRIU_CONFIG_ANNOTATION: &str = "org.criu.config";
/// The CRIU configuration file used when the annotation is absent.
pub const DEFAULT_CRIU_CONFIG: &str = "/etc/criu/hull.conf";

/// CRIU's cgroup roots: where it now is (the container's cgroups), hierarchy by hierarchy, as
/// /proc/<pid>/cgroup lists them ("4:cpu,cpuacct:/path", "0::/path").
fn cgroup_roots(pid: i32) -> Vec<CgroupRoot> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            Some(CgroupRoot { ctrl: Some(ctrl.to_string()), path: path.to_string() })
        })
        .collect()
}

/// Makes the mount points of the config's mounts that the rootfs lacks (a restore from
/// another bundle); CRIU mounts onto them but does not create them.
fn prepare_mount_points(plan: &Plan) -> Result<(), Error> {
    let root = sys::openat2(nix::fcntl::AT_FDCWD, &plan.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
        .map_err(|e| Error::Other(format!("{}: {e}", plan.rootfs.display())))?;
    for m in &plan.mounts {
        let leaf = match (&m.kind, &m.source) {
            (MountKind::Bind { .. }, Some(src)) if !src.is_dir() => crate::rootfs::Leaf::File,
            _ => crate::rootfs::Leaf::Dir,
        };
        crate::rootfs::mkdir_all_in_root(root.as_fd(), &m.destination, leaf)
            .map_err(|e| Error::Other(format!("{}: {}: {e}", m.field("destination"), m.destination.display())))?;
    }
    Ok(())
}

/// Removes an image directory that this checkpoint made, unless the checkpoint succeeded.
struct ImageDirGuard {
    path: Option<PathBuf>,
}

impl ImageDirGuard {
    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for ImageDirGuard {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Undoes a half-made restore.
struct Undo {
    sd: StateDir,
    cgroup: Option<CgroupManager>,
    pid: Option<i32>,
    root_mount: Option<PathBuf>,
}

impl Undo {
    fn unmount_root(&mut self) {
        if let Some(root) = self.root_mount.take() {
            let _ = sys::umount2(&root, libc::MNT_DETACH);
            let _ = std::fs::remove_dir(&root);
        }
    }

    fn disarm(mut self) {
        self.cgroup = None;
        self.pid = None;
        self.sd.id.clear();
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        self.unmount_root();
        if self.sd.id.is_empty() {
            return;
        }
        if let Some(pid) = self.pid {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if let Some(cg) = &self.cgroup {
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(pids) = cg.pids() {
                if pids.is_empty() || Instant::now() > deadline {
                    break;
                }
                for pid in pids {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = cg.destroy();
        }
        let _ = self.sd.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criu_config_file_follows_the_annotation_as_runc() {
        let spec = |ann: Option<&str>| {
            let mut s = oci_spec::runtime::Spec::default();
            s.set_annotations(ann.map(|v| [(CRIU_CONFIG_ANNOTATION.to_string(), v.to_string())].into_iter().collect()));
            s
        };
        assert_eq!(criu_config_file(&spec(None)).as_deref(), Some(DEFAULT_CRIU_CONFIG));
        assert_eq!(criu_config_file(&spec(Some(""))), None);
        assert_eq!(criu_config_file(&spec(Some("/etc/criu/c1.conf"))).as_deref(), Some("/etc/criu/c1.conf"));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("Version: 4.1.1\n"), Some((4, 1, 1)));
        assert_eq!(parse_version("Version: 3.17\nGitID: v3.17\n"), Some((3, 17, 0)));
        assert_eq!(parse_version("criu\n"), None);
    }

    #[test]
    fn page_server_address() {
        let p = page_server("192.168.0.1:8000").unwrap();
        assert_eq!((p.address.as_deref(), p.port), (Some("192.168.0.1"), Some(8000)));
        assert_eq!(page_server("[::1]:27").unwrap().address.as_deref(), Some("::1"));
        assert!(page_server("host").is_err());
        assert!(page_server("host:99999").is_err());
    }

    #[test]
    fn empty_namespaces() {
        assert_eq!(empty_ns_mask(&["network".into()]).unwrap(), libc::CLONE_NEWNET as u32);
        assert!(empty_ns_mask(&["pid".into()]).is_err());
    }

    #[test]
    fn cgroups_mode() {
        assert_eq!("full".parse::<CgroupsMode>().unwrap().rpc(), CgMode::Full as i32);
        assert!("loose".parse::<CgroupsMode>().is_err());
    }
}
