//! The container's init side of the clone: everything here runs in the child, from the moment
//! clone3() returns 0 until execve() of the user's process. It never returns: it execs or exits.
//!
//! Order (each step needs the one before): namespaces -> session (keyring label) -> hostname -> rootfs (mounts,
//! devices, console, hooks, pivot_root, masked/readonly paths) -> sysctl -> rlimits and
//! scheduling -> `Ready` (parent saves state) -> LSM exec labels -> capabilities and user -> cwd -> fd hygiene ->
//! `Done` -> exec fifo (blocks until `start`) -> startContainer hooks -> execve.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxNamespaceType;

use super::sync::{Channel, Msg};
use crate::hooks::{run_hooks, HookState};
use crate::procfs::ProcFs;
use crate::spec::{ns_flag, Plan};
use crate::{rootfs, security, sys};

/// What the init needs; built by the parent before clone3 and inherited by the copy.
pub struct InitContext<'a> {
    pub plan: &'a Plan,
    pub id: &'a str,
    pub chan: Channel,
    pub fifo: OwnedFd,
    pub procfs: &'a ProcFs,
    pub cgroup_paths: std::collections::BTreeMap<String, PathBuf>,
    /// All namespaces were made by clone3 itself (no joins, no second fork).
    pub cloned_namespaces: bool,
    /// hull places us in our cgroups while we set up; wait for `Placed` before the hooks.
    pub placed_later: bool,
    /// hull runs unprivileged: devices are bound from the host.
    pub rootless: bool,
    /// Unshare the cgroup namespace after the parent placed us (cgroup v1: no CLONE_INTO_CGROUP).
    pub late_cgroupns: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Fds 3..3+extra_fds are passed to the process (LISTEN_FDS + --preserve-fds).
    pub extra_fds: u32,
    pub listen_fds: u32,
    /// `linux.seccomp`, compiled.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The process's stdio, when not inherited from hull.
    pub stdio: Option<&'a super::Stdio>,
    /// Detached idmapped mounts made by hull, by index in `mounts`.
    pub idmapped: &'a std::collections::BTreeMap<usize, OwnedFd>,
}

/// Entry point of the child. Reports a failure to the parent and exits.
pub fn run(ctx: InitContext<'_>) -> ! {
    let err = match setup(&ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if ctx.chan.send(&Msg::Error(err.clone())).is_err() {
        // hull has gone (the failure came after `create` returned): the container's stderr
        // is the only place left to say why.
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("hull: container init: {err}\n").as_bytes());
    }
    sys::exit_now(1)
}

enum Never {}

fn e<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{what}: {err}")
}

fn chan_err(err: std::io::Error) -> String {
    format!("sync with hull: {err}")
}

fn setup(ctx: &InitContext<'_>) -> Result<Never, String> {
    let plan = ctx.plan;
    // Until execve, nobody in the container may ptrace us or open our /proc files
    // (CVE-2016-9962): our fds still point at the host. An unprivileged hull writes our id
    // maps itself, which the kernel allows only while we are dumpable (our /proc files are
    // root's otherwise): then we turn non-dumpable once the maps are written, before any
    // container process can exist.
    let set_nondumpable = || sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).map(drop).map_err(e("prctl(PR_SET_DUMPABLE)"));
    if !ctx.rootless {
        set_nondumpable()?;
    }
    enter_namespaces(ctx)?;
    set_nondumpable()?;

    nix::unistd::setsid().map_err(e("setsid"))?;
    if !ctx.no_new_keyring {
        crate::lsm::set_keyring_label(ctx.procfs, plan.process())?;
        join_session_keyring(ctx.id);
    }
    if let Some(h) = plan.spec.hostname() {
        nix::unistd::sethostname(h).map_err(e("hostname"))?;
    }
    if let Some(d) = plan.spec.domainname() {
        let c = sys::cstring(d).map_err(e("domainname"))?;
        // SAFETY: setdomainname reads `len` bytes of a valid string.
        if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
            return Err(format!("domainname: {}", std::io::Error::last_os_error()));
        }
    }

    let hook_state = |status: &str| HookState {
        oci_version: crate::OCI_VERSION.to_string(),
        id: ctx.id.to_string(),
        status: status.to_string(),
        // In-container hooks see the pid as the container does (1 in a PID namespace), as runc.
        pid: std::process::id() as i32,
        bundle: plan.bundle.display().to_string(),
        annotations: plan.spec.annotations().clone().unwrap_or_default(),
    };

    let root = rootfs::prepare(plan, &ctx.cgroup_paths, ctx.rootless, ctx.idmapped).map_err(|x| x.to_string())?;
    let mut console_slave = None;
    if plan.terminal {
        let (master, slave) = rootfs::setup_console(root.as_fd()).map_err(|x| x.to_string())?;
        ctx.chan.send_with_fd(&Msg::Console, Some(master.as_fd())).map_err(chan_err)?;
        console_slave = Some(slave);
    }
    if ctx.placed_later {
        ctx.chan.expect(Msg::Placed).map_err(chan_err)?;
    }
    ctx.chan.send(&Msg::RunHooks).map_err(chan_err)?;
    ctx.chan.expect_continue().map_err(chan_err)?;
    let hooks = plan.spec.hooks().as_ref();
    run_hooks("createContainer", hooks.and_then(|h| h.create_container().as_ref()), &hook_state("creating")).map_err(|x| x.to_string())?;
    rootfs::enter_root(&root, ctx.no_pivot).map_err(|x| x.to_string())?;
    drop(root);
    rootfs::finalize(plan).map_err(|x| x.to_string())?;

    if let Some(l) = plan.spec.linux() {
        for (k, v) in l.sysctl().iter().flatten() {
            let rel = format!("sys/{}", k.replace('.', "/"));
            ctx.procfs.write(&rel, v.as_bytes()).map_err(|x| format!("linux.sysctl[{k:?}]: {x}"))?;
        }
        if let Some(p) = l.personality() {
            security::set_personality(p).map_err(|x| x.to_string())?;
        }
    }
    let process = plan.process();
    if let Some(r) = process.rlimits() {
        security::set_rlimits(r).map_err(|x| x.to_string())?;
    }
    if let Some(slave) = &console_slave {
        sys::set_controlling_tty(slave.as_fd()).map_err(e("process.terminal: TIOCSCTTY"))?;
        if let Some(size) = process.console_size() {
            sys::set_winsize(slave.as_fd(), size.height() as u16, size.width() as u16).map_err(e("process.consoleSize"))?;
        }
        for fd in 0..3 {
            sys::dup2(slave.as_raw_fd(), fd).map_err(e("process.terminal: dup2"))?;
        }
    } else if let Some(stdio) = ctx.stdio {
        stdio.install()?;
    }
    drop(console_slave);
    if let Some(io) = process.io_priority() {
        security::set_io_priority(io).map_err(|x| x.to_string())?;
    }
    if let Some(s) = process.scheduler() {
        security::set_scheduler(s).map_err(|x| x.to_string())?;
    }
    if let Some(m) = &plan.mempolicy {
        set_mempolicy(m)?;
    }

    ctx.chan.send(&Msg::Ready).map_err(chan_err)?;
    ctx.chan.expect_continue().map_err(chan_err)?;

    let ready = prepare_exec(process, ctx.procfs, ctx.extra_fds, ctx.listen_fds, ctx.seccomp, &ctx.chan)?;
    ctx.chan.send(&Msg::Done).map_err(chan_err)?;
    // Block until `start` opens the fifo for reading, then tell it we are about to exec.
    let mut fifo = ctx.procfs.reopen_fd(ctx.fifo.as_fd(), libc::O_WRONLY).map_err(e("exec fifo"))?;
    fifo.write_all(b"0").map_err(e("exec fifo"))?;
    // Our end stays open (close-on-exec) until execve: `start` reads EOF exactly when the
    // user's process runs, and only then runs the poststart hooks.
    let _open_until_exec = fifo;
    run_hooks("startContainer", hooks.and_then(|h| h.start_container().as_ref()), &hook_state("created")).map_err(|x| x.to_string())?;
    Err(ready.exec())
}

/// The user's program, resolved and ready for execve.
pub(crate) struct ReadyToExec {
    exe: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl ReadyToExec {
    /// execve(); returns only the error.
    pub(crate) fn exec(&self) -> String {
        let err = sys::execve(&self.exe, &self.argv, &self.envp);
        format!("exec {}: {}", self.exe.to_string_lossy(), go_error_text(&err))
    }
}

/// The privilege drop and the last checks, shared by the container's init and `exec`:
/// bounding set, no_new_privs, user and capabilities, umask, cwd (verified inside the
/// container), environment, the program looked up in the container, and every fd but stdio
/// and the passed ones marked close-on-exec.
pub(crate) fn prepare_exec(
    process: &oci_spec::runtime::Process,
    procfs: &ProcFs,
    extra_fds: u32,
    listen_fds: u32,
    seccomp: Option<&crate::seccomp::Filter>,
    chan: &Channel,
) -> Result<ReadyToExec, String> {
    let caps = security::CapPlan::from_config(process.capabilities().as_ref()).map_err(|x| x.to_string())?;
    security::apply_bounding(&caps).map_err(|x| x.to_string())?;
    let nnp = process.no_new_privileges() == Some(true);
    if nnp {
        security::set_no_new_privs().map_err(|x| x.to_string())?;
    }
    // The AppArmor profile and SELinux label for execve, through the verified procfs handle:
    // written while still privileged and before the seccomp filter (which could deny the
    // write), as runc does; they take effect at execve and nothing runs in between but hull's
    // own steps and the startContainer hooks (which run in the container, so confined too).
    crate::lsm::set_exec_labels(procfs, process)?;
    // As runc: without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN, which the
    // user switch below drops, so it is loaded now; with no_new_privs it is loaded last (then
    // only the exec fifo wait or execve follow), so the fewest syscalls run under it.
    if !nnp {
        crate::seccomp_notify::load_in_child(seccomp, chan)?;
    }
    let setgroups_allowed = procfs.read("self/setgroups").map(|s| s.trim() != "deny").unwrap_or(true);
    security::switch_user(process, &caps, setgroups_allowed).map_err(|x| x.to_string())?;
    // The process gets 0022 unless the config says otherwise, whatever hull's own umask is.
    let mask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask as libc::mode_t));
    enter_cwd(process.cwd())?;

    let env = build_env(process, listen_fds)?;
    let args = process.args().clone().unwrap_or_default();
    let arg0 = args.first().ok_or("process.args: must name the program to run")?;
    let exe = find_executable(arg0, &env)?;
    let argv: Vec<CString> = args.iter().map(|a| sys::cstring(a)).collect::<Result<_, _>>().map_err(e("process.args"))?;
    let envp: Vec<CString> = env.iter().map(|a| sys::cstring(a)).collect::<Result<_, _>>().map_err(e("process.env"))?;

    reset_signals()?;
    // Every fd but stdio and the passed ones is closed at execve.
    for fd in 3..3 + extra_fds {
        sys::clear_cloexec(fd as i32).map_err(e("--preserve-fds"))?;
    }
    sys::cloexec_from(3 + extra_fds).map_err(e("close_range"))?;
    if nnp {
        crate::seccomp_notify::load_in_child(seccomp, chan)?;
    }
    Ok(ReadyToExec { exe, argv, envp })
}

/// The process starts with no blocked signals (a foreground `run`/`exec` blocks them in hull
/// before cloning, so none is lost) and with SIGPIPE at its default (Rust's runtime ignores
/// it, and an ignored disposition would survive execve).
fn reset_signals() -> Result<(), String> {
    nix::sys::signal::SigSet::empty().thread_set_mask().map_err(e("sigprocmask"))?;
    // SAFETY: restoring the default disposition installs no handler.
    unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) }
        .map_err(e("signal(SIGPIPE)"))?;
    Ok(())
}

fn enter_namespaces(ctx: &InitContext<'_>) -> Result<(), String> {
    let plan = ctx.plan;
    let has_user = plan.has_namespace(LinuxNamespaceType::User);
    // The parent has mapped ids (fast path) and placed us in our cgroup.
    ctx.chan.expect_continue().map_err(chan_err)?;
    if ctx.cloned_namespaces {
        if has_user {
            become_root()?;
        }
    } else {
        for ns in plan.namespaces.iter().filter(|n| n.path.is_some()) {
            let p = ns.path.as_deref().unwrap_or(Path::new(""));
            let f = std::fs::File::open(p).map_err(|x| format!("linux.namespaces: {}: {x}", p.display()))?;
            sys::setns(f.as_fd(), ns_flag(ns.kind)).map_err(|x| format!("linux.namespaces: setns {}: {x}", p.display()))?;
        }
        if plan.new_namespace(LinuxNamespaceType::User) {
            sys::unshare(libc::CLONE_NEWUSER).map_err(e("unshare(user)"))?;
            ctx.chan.send(&Msg::NeedIdMaps).map_err(chan_err)?;
            ctx.chan.expect_continue().map_err(chan_err)?;
        }
        if has_user {
            become_root()?;
        }
        let mut flags = 0;
        for ns in plan.namespaces.iter().filter(|n| n.path.is_none() && n.kind != LinuxNamespaceType::User) {
            flags |= ns_flag(ns.kind);
        }
        if flags != 0 {
            sys::unshare(flags).map_err(e("unshare"))?;
        }
        if !plan.time_offsets.is_empty() {
            ctx.chan.send(&Msg::NeedTimeOffsets).map_err(chan_err)?;
            ctx.chan.expect_continue().map_err(chan_err)?;
        }
        // A new or joined PID (or time) namespace applies to children only: the container's
        // init is a second process, made a child of hull (CLONE_PARENT) so hull can reap it.
        if plan.has_namespace(LinuxNamespaceType::Pid) || plan.new_namespace(LinuxNamespaceType::Time) {
            let (pid, _) =
                sys::clone3(&sys::Clone3 { flags: libc::CLONE_PARENT as u64, cgroup: None, want_pidfd: false }).map_err(e("clone"))?;
            if pid != 0 {
                let _ = ctx.chan.send(&Msg::InitPid(pid));
                sys::exit_now(0);
            }
            // Wait until hull has our pid, so nothing we send overtakes the `InitPid` above.
            ctx.chan.expect_continue().map_err(chan_err)?;
        }
    }
    if ctx.late_cgroupns {
        sys::unshare(libc::CLONE_NEWCGROUP).map_err(e("unshare(cgroup)"))?;
    }
    // A new network namespace starts with lo down; runc brings it up, and programs expect it.
    if plan.new_namespace(LinuxNamespaceType::Network) {
        crate::net::loopback_up().map_err(e("bringing up lo in the new network namespace"))?;
    }
    Ok(())
}

/// `linux.memoryPolicy` for this process; execve keeps it and children inherit it.
pub(crate) fn set_mempolicy(m: &crate::spec::fields::MemPolicy) -> Result<(), String> {
    sys::set_mempolicy(m.mode, &m.nodes).map_err(e("linux.memoryPolicy: set_mempolicy"))
}

fn become_root() -> Result<(), String> {
    let root_g = nix::unistd::Gid::from_raw(0);
    let root_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).map_err(e("setresgid(0) in the user namespace"))?;
    nix::unistd::setresuid(root_u, root_u, root_u).map_err(e("setresuid(0) in the user namespace"))?;
    Ok(())
}

fn join_session_keyring(id: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    if let Ok(name) = sys::cstring(&format!("_ses.{id}")) {
        // SAFETY: keyctl JOIN_SESSION_KEYRING reads a C string. Failure (no keyring support,
        // or quota) leaves the inherited keyring, as runc does on ENOSYS.
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    }
}

/// chdir to `process.cwd` (made during rootfs setup if missing), then check that the kernel
/// sees it inside our root: a cwd of `/proc/self/fd/N` naming a leaked host fd would otherwise
/// start the process outside the container (CVE-2024-21626).
fn enter_cwd(cwd: &Path) -> Result<(), String> {
    nix::unistd::chdir(cwd).map_err(|x| format!("process.cwd: {}: {x}", cwd.display()))?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() && !p.starts_with("(unreachable)") => Ok(()),
        _ => Err(format!("process.cwd: {} is outside the container", cwd.display())),
    }
}

fn build_env(process: &oci_spec::runtime::Process, listen_fds: u32) -> Result<Vec<String>, String> {
    // A key given twice keeps its last value (as runc does); an empty HOME counts as unset.
    let mut env: Vec<String> = Vec::new();
    for e in process.env().iter().flatten() {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        if e != "HOME=" {
            env.push(e.clone());
        }
    }
    if listen_fds > 0 {
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={listen_fds}"));
        env.push("LISTEN_PID=1".to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(process.user().uid())));
    }
    Ok(env)
}

/// The home directory of `uid` in the container's /etc/passwd, or "/".
fn home_of(uid: u32) -> String {
    let Ok(root) = std::fs::File::open("/") else { return "/".into() };
    let Ok(fd) = rootfs::open_in_root(root.as_fd(), Path::new("/etc/passwd"), libc::O_RDONLY) else { return "/".into() };
    let text = std::io::read_to_string(std::fs::File::from(fd)).unwrap_or_default();
    crate::passwd::by_uid(&text, uid).map_or_else(|| "/".into(), |e| e.home.to_string())
}

/// An OS error in the words of Go's syscall.Errno, which runc prints: strerror with a lower-case
/// first letter and no "(os error N)". Engines match on these words: docker and podman turn
/// "no such file or directory" into exit status 127 and "permission denied" into 126.
pub(crate) fn go_error_text(err: &std::io::Error) -> String {
    let Some(code) = err.raw_os_error() else { return err.to_string() };
    let desc = nix::errno::Errno::from_raw(code).desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => err.to_string(),
    }
}

/// Resolves `process.args[0]` like execvp, in the container, with the container's PATH. The
/// errors are runc's (Go's exec.LookPath), word for word where engines read them.
fn find_executable(arg0: &str, env: &[String]) -> Result<CString, String> {
    use std::os::unix::fs::PermissionsExt;
    if arg0.contains('/') {
        // Checked now so that a missing program fails `create`, not the container later.
        match std::fs::metadata(arg0) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
            Ok(_) => return Err(format!("exec: {arg0:?}: permission denied")),
            Err(err) => return Err(format!("exec: {arg0:?}: stat {arg0}: {}", go_error_text(&err))),
        }
        return sys::cstring(arg0).map_err(e("process.args[0]"));
    }
    let path =
        env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return sys::cstring(&cand.to_string_lossy()).map_err(e("process.args[0]"));
            }
        }
    }
    Err(format!("exec: {arg0:?}: executable file not found in $PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_gos() {
        let err = |n| go_error_text(&std::io::Error::from_raw_os_error(n));
        assert_eq!(err(libc::ENOENT), "no such file or directory");
        assert_eq!(err(libc::EACCES), "permission denied");
        assert_eq!(err(libc::ENOEXEC), "exec format error");
        assert_eq!(err(libc::ENOTDIR), "not a directory");
        assert_eq!(go_error_text(&std::io::Error::other("Custom")), "Custom");
    }
}
