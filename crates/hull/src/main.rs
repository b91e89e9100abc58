//! hull: runc's command line over libhull. Argument parsing, output formats and exit codes
//! only; everything a container is lives in the library.

mod argv;
mod criu;
mod exec;
mod log;
mod ops;
mod run;
mod units;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use libhull::{CreateOptions, Runtime};

use crate::log::Logger;

#[derive(Parser, Debug)]
#[command(name = "hull", about = "hull: an OCI container runtime with runc's command line", disable_version_flag = true)]
struct Cli {
    /// Root directory for storage of container state
    #[arg(long)]
    root: Option<PathBuf>,
    /// Log file (default: stderr)
    #[arg(long, default_value = "")]
    log: String,
    /// Log format: text or json
    #[arg(long = "log-format", default_value = "text")]
    log_format: String,
    /// Debug logging
    #[arg(long)]
    debug: bool,
    /// Use the systemd cgroup driver: cgroupsPath is slice:prefix:name, the cgroup a transient scope
    #[arg(long = "systemd-cgroup")]
    systemd_cgroup: bool,
    /// Rootless cgroup manager: true, false or auto
    #[arg(long, value_name = "true|false|auto")]
    rootless: Option<String>,
    /// Path to the criu binary used for checkpoint and restore (default: criu in PATH)
    #[arg(long)]
    criu: Option<String>,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct CreateArgs {
    /// Path to the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// File to write the container's init pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N more fds (after stdio and LISTEN_FDS) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// The container id
    id: String,
}

/// `defer`: a subcommand's arguments are added only when clap builds that subcommand, i.e. for
/// the one being parsed. Building all seventeen (their arguments, help strings and value
/// parsers) was a third of the instructions of a `hull state`.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Command {
    /// Create a new specification file (config.json)
    Spec {
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        /// Generate a config for a rootless container
        #[arg(long)]
        rootless: bool,
    },
    /// Create a container
    Create {
        #[command(flatten)]
        args: CreateArgs,
        /// Accepted for go-runc compatibility (create always detaches)
        #[arg(short = 'd', long, hide = true)]
        detach: bool,
    },
    /// Start a created container
    Start { id: String },
    /// Create and start a container
    Run {
        #[command(flatten)]
        args: CreateArgs,
        /// Detach from the container's process
        #[arg(short = 'd', long)]
        detach: bool,
        /// Do not delete the container after it exits
        #[arg(long)]
        keep: bool,
        /// Do not make hull a child subreaper
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
    },
    /// Output the state of a container
    State { id: String },
    /// List containers
    List {
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Send a signal to the container's init process
    Kill {
        /// Send the signal to all processes in the container
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container
    Delete {
        /// Kill the container first if it is running
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// Show the enabled features
    Features,
    /// Suspend all processes of a container (cgroup freezer)
    Pause { id: String },
    /// Resume the processes of a paused container
    Resume { id: String },
    /// Display the processes of a container: ps <id> [ps options]
    Ps(ops::PsArgs),
    /// Display container events: OOM notifications and cpu, memory, pids and IO statistics
    Events(ops::EventsArgs),
    /// Update a container's resource limits
    Update(Box<ops::UpdateArgs>),
    /// Run a new process inside a running container
    Exec(Box<exec::ExecArgs>),
    /// Checkpoint a running container (CRIU)
    Checkpoint(Box<criu::CheckpointArgs>),
    /// Restore a container from a checkpoint (CRIU)
    Restore(Box<criu::RestoreArgs>),
}

/// runc's rule: `$XDG_RUNTIME_DIR/hull` when unprivileged, or euid 0 in a user namespace with
/// `$USER` unset or other than root (rootless podman runs the runtime so, without USER), else
/// /run/hull.
fn default_root() -> PathBuf {
    let euid0 = nix::unistd::geteuid().is_root();
    let userns_user = euid0 && libhull::rootless::in_user_namespace() && std::env::var_os("USER").is_none_or(|u| u != "root");
    if !euid0 || userns_user {
        if let Some(r) = libhull::rootless::default_root() {
            return r;
        }
    }
    PathBuf::from("/run/hull")
}

/// Sealing the binary re-executes hull (see libhull::exeseal). It is done from an ELF
/// constructor, before the Rust runtime, clap's command tree and the logger are set up in a
/// process that is about to be replaced, whenever the command line may name a command that
/// makes container processes. An argument that merely equals such a name costs one needless
/// re-exec; `main` checks again after parsing (a no-op once sealed) and logs any failure.
#[cfg_attr(test, allow(dead_code))]
extern "C" fn early_seal(argc: libc::c_int, argv: *const *const libc::c_char, envp: *const *const libc::c_char) {
    if argv.is_null() || argc < 1 {
        return;
    }
    // SAFETY: glibc calls `.init_array` functions with main's argc, argv and envp; argv holds
    // argc valid C strings.
    let args = unsafe { std::slice::from_raw_parts(argv, argc as usize) };
    let makes_processes = args.iter().skip(1).any(|&a| {
        // SAFETY: each entry is a NUL-terminated string from the kernel (checked non-null).
        !a.is_null() && matches!(unsafe { std::ffi::CStr::from_ptr(a) }.to_bytes(), b"create" | b"run" | b"exec")
    });
    if makes_processes {
        // SAFETY: argv and envp are the process's own, as the kernel laid them out.
        unsafe { libhull::exeseal::reexec_sealed_early(argv, envp) };
    }
}

// Not in the unit-test build of this file: the test harness is not hull.
#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static EARLY_SEAL: extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char) = early_seal;

fn main() -> ExitCode {
    // Rust's runtime ignores SIGPIPE, which makes `hull state id | head` panic on the closed
    // pipe; a command-line tool should just end, as runc does.
    // SAFETY: restoring the default disposition installs no handler.
    let _ = unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv::needs_normalise(&args) {
        args = argv::normalise(&<Cli as clap::CommandFactory>::command(), args);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let logger = match Logger::new(&cli.log, &cli.log_format, cli.debug) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    logger.install_for_library();
    logger.debug("command line parsed");
    if cli.version {
        print_version();
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::SUCCESS;
    };
    let root = match &cli.root {
        Some(r) => match std::path::absolute(r) {
            Ok(p) if p != Path::new("/") => p,
            _ => {
                logger.error(&format!("--root: invalid root {}", r.display()));
                return ExitCode::from(1);
            }
        },
        None => default_root(),
    };
    let mut rt = Runtime::new(root);
    rt.systemd_cgroup = cli.systemd_cgroup;
    match cli.rootless.as_deref() {
        None | Some("auto") => {}
        Some("true") => rt.rootless = true,
        Some("false") => rt.rootless = false,
        Some(v) => {
            logger.error(&format!("--rootless: invalid value {v:?} (true, false or auto)"));
            return ExitCode::from(1);
        }
    }
    if matches!(command, Command::Create { .. } | Command::Run { .. } | Command::Exec(_)) {
        // Already done by `early_seal` unless it failed; this says why.
        if let Err(why) = libhull::exeseal::ensure_sealed() {
            logger.debug(&format!("binary not sealed: {why}"));
        }
    }
    // exec reports its own failures as 255, as runc does, so callers can tell them from the
    // process's exit status.
    let fail_code = if matches!(command, Command::Exec(_)) { 255 } else { 1 };
    match dispatch(&rt, command, cli.criu.map(PathBuf::from), &logger) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            logger.error(&msg);
            ExitCode::from(fail_code)
        }
    }
}

fn print_version() {
    println!("hull version {}", env!("CARGO_PKG_VERSION"));
    if let Some(c) = option_env!("HULL_COMMIT").filter(|c| !c.is_empty()) {
        println!("commit: {c}");
    }
    println!("spec: {}", libhull::OCI_VERSION);
}

fn create_options(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        keep_console: false,
        stdio: None,
    }
}

fn dispatch(rt: &Runtime, command: Command, criu: Option<PathBuf>, logger: &Logger) -> Result<u8, String> {
    let err = |e: libhull::Error| e.to_string();
    match command {
        Command::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(format!("File {} exists. Remove it first", path.display()));
            }
            std::fs::write(&path, libhull::spec::example::example_config(rootless)).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(0)
        }
        Command::Create { args, .. } => {
            logger.debug(&format!("create {} from {}", args.id, args.bundle.display()));
            rt.create(&args.id, &args.bundle, &create_options(&args)).map_err(err)?;
            Ok(0)
        }
        Command::Start { id } => rt.start(&id).map(|_| 0).map_err(err),
        Command::Run { args, detach, keep, no_subreaper } => {
            run::run(rt, &args.id, &args.bundle, create_options(&args), detach, keep, no_subreaper, logger)
        }
        Command::State { id } => {
            let st = rt.state(&id).map_err(err)?;
            let s = serde_json::to_string_pretty(&st).map_err(|e| e.to_string())?;
            print!("{s}");
            let _ = std::io::stdout().flush();
            Ok(0)
        }
        Command::List { format, quiet } => {
            let all = rt.list().map_err(err)?;
            let mut out = std::io::stdout().lock();
            if quiet {
                for s in &all {
                    let _ = writeln!(out, "{}", s.id);
                }
                return Ok(0);
            }
            match format.as_str() {
                "json" => {
                    let s = serde_json::to_string(&all).map_err(|e| e.to_string())?;
                    let _ = writeln!(out, "{s}");
                }
                "table" => {
                    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
                    for s in &all {
                        rows.push(vec![
                            s.id.clone(),
                            s.pid.to_string(),
                            s.status.to_string(),
                            s.bundle.display().to_string(),
                            s.created.clone(),
                            s.owner.clone().unwrap_or_default(),
                        ]);
                    }
                    let _ = out.write_all(tabwrite(&rows).as_bytes());
                }
                f => return Err(format!("invalid format option: {f}")),
            }
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let sig = parse_signal(&signal)?;
            rt.kill(&id, sig, all).map(|_| 0).map_err(err)
        }
        Command::Delete { force, id } => rt.delete(&id, force).map(|_| 0).map_err(err),
        Command::Exec(args) => exec::exec(rt, *args, logger),
        Command::Features => {
            print!("{}", libhull::features::features_json());
            Ok(0)
        }
        Command::Pause { id } => rt.pause(&id).map(|_| 0).map_err(err),
        Command::Resume { id } => rt.resume(&id).map(|_| 0).map_err(err),
        Command::Ps(a) => ops::ps(rt, &a),
        Command::Events(a) => ops::events(rt, &a),
        Command::Update(a) => ops::update(rt, &a, logger),
        Command::Checkpoint(a) => criu::checkpoint(rt, &a, criu),
        Command::Restore(a) => criu::restore(rt, &a, criu, logger),
    }
}

/// Go's tabwriter as runc configures it (minwidth 12, padding 3): every column but the last
/// is padded to its widest cell.
fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols.saturating_sub(1)) {
            widths[i] = widths[i].max((c.chars().count() + 3).max(12));
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < cols {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                out.push_str(c);
            }
        }
        out.push('\n');
    }
    out
}

/// A signal by number (`9`), name (`KILL`) or full name (`SIGKILL`).
pub fn parse_signal(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        return Err(format!("invalid signal: {s}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<nix::sys::signal::Signal>().map(|s| s as i32).map_err(|_| format!("unknown signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(parse_signal("term"), Ok(15));
        assert!(parse_signal("FOO").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
    }

    #[test]
    fn table_like_go_tabwriter() {
        let rows = vec![vec!["ID".into(), "PID".into(), "OWNER".into()], vec!["abc".into(), "12".into(), "root".into()]];
        assert_eq!(tabwrite(&rows), "ID          PID         OWNER\nabc         12          root\n");
    }
}
