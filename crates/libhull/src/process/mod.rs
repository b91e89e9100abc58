//! process: making the container's init. This file is the parent (hull) side; `init.rs` is the
//! child side, so a reader always knows which side of the clone a line runs on.
//!
//! One clone3() makes the init, with every new namespace in the same call and, on a cgroup v2
//! host, CLONE_INTO_CGROUP. Only when the config joins namespaces by path (which must happen
//! before the rest are created) does the child setns()/unshare() itself, and then a PID
//! namespace needs one more fork.

pub mod exec_init;
pub mod init;
pub mod sync;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::runtime::LinuxNamespaceType;

use crate::cgroups::CgroupManager;
use crate::hooks::{run_hooks, HookState};
use crate::procfs::ProcFs;
use crate::spec::{ns_flag, Plan};
use crate::sys;
use sync::{Channel, Msg};

/// How the caller wants the init made.
#[derive(Debug, Default, Clone)]
pub struct SpawnOptions {
    /// hull runs unprivileged (see `rootless`).
    pub rootless: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
    /// `LISTEN_FDS` passed through (socket activation).
    pub listen_fds: u32,
    /// Where to send the pty master (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    /// `linux.seccomp`, compiled.
    pub seccomp: Option<crate::seccomp::Filter>,
    /// The process's stdio, when not the caller's.
    pub stdio: Option<Stdio>,
}

/// Standard input, output and error for a container's process, in place of the caller's own
/// (which the process inherits when none are given). Any fds do: pipe ends, files, sockets.
/// hull keeps them open only until `create`/`exec` returns; the caller closes its copies (of
/// a pipe's write end, say) after that call to see EOF when the process ends.
///
/// Not used with `process.terminal`: the pty is then the process's stdio.
#[derive(Debug, Clone)]
pub struct Stdio {
    pub stdin: Arc<OwnedFd>,
    pub stdout: Arc<OwnedFd>,
    pub stderr: Arc<OwnedFd>,
}

impl Stdio {
    /// The three descriptors, in the order 0, 1, 2.
    pub fn new(stdin: impl Into<OwnedFd>, stdout: impl Into<OwnedFd>, stderr: impl Into<OwnedFd>) -> Stdio {
        Stdio { stdin: Arc::new(stdin.into()), stdout: Arc::new(stdout.into()), stderr: Arc::new(stderr.into()) }
    }

    /// In the new process (after clone, before execve): makes the descriptors its fds 0, 1, 2.
    /// Each is first copied above 2, so a source that is itself 0, 1 or 2 is not overwritten
    /// before it is used; the copies are close-on-exec.
    pub(crate) fn install(&self) -> Result<(), String> {
        let mut copies = Vec::with_capacity(3);
        for (name, fd) in [("stdin", &self.stdin), ("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let copy = nix::fcntl::fcntl(fd.as_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(|e| format!("{name}: dup: {e}"))?;
            copies.push((name, copy));
        }
        for (target, (name, copy)) in copies.into_iter().enumerate() {
            sys::dup2(copy, target as i32).map_err(|e| format!("{name}: dup2: {e}"))?;
        }
        Ok(())
    }
}

/// The init, made and waiting on the exec fifo.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    /// The pty master, when the process has a terminal and no console socket took it.
    pub console: Option<OwnedFd>,
}

/// Makes the init and drives its setup until it waits on the exec fifo. `on_ready(pid)` runs
/// when the init has finished everything that needs privileges (the caller saves state.json);
/// `place(pid, cloned_into)` puts the init in its cgroups while it waits
/// (`CgroupManager::add_pid_after_clone`, `cloned_into` when clone3 already placed it in the
/// unified cgroup; or the systemd driver's unit).
/// On error the caller kills `pid_hint` (if set) and cleans up.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    plan: &Plan,
    id: &str,
    cgroup: &CgroupManager,
    procfs: &ProcFs,
    fifo: OwnedFd,
    opts: &SpawnOptions,
    pid_hint: &mut Option<i32>,
    place: &mut dyn FnMut(i32, bool) -> Result<(), String>,
    on_ready: &mut dyn FnMut(i32) -> Result<(), String>,
) -> Result<Spawned, String> {
    let (parent, child) = Channel::pair().map_err(|e| format!("socketpair: {e}"))?;
    // Namespaces joined by path, and a time namespace with offsets (they must be written
    // after it is made and before any process is in it, which clone3 cannot do: its child is
    // born inside), are made by the child itself with setns()/unshare().
    let joins = plan.namespaces.iter().any(|n| n.path.is_some()) || !plan.time_offsets.is_empty();
    let cgroup_fd = cgroup.clone_into_fd();
    let mut flags: u64 = 0;
    let mut late_cgroupns = false;
    if !joins {
        for ns in &plan.namespaces {
            if ns.kind == LinuxNamespaceType::Cgroup && cgroup_fd.is_none() {
                // Without CLONE_INTO_CGROUP the init is placed after the clone; its cgroup
                // namespace must be made after that, so it is rooted at the container's cgroup.
                late_cgroupns = true;
                continue;
            }
            flags |= ns_flag(ns.kind) as u64;
        }
    } else if plan.new_namespace(LinuxNamespaceType::Cgroup) && cgroup_fd.is_some() {
        // Joins happen in the child; the cgroup namespace is unshared there too.
    }
    // Whether the init may go on before it is in its cgroups (see below): not when it joins
    // namespaces (its messages would interleave) or makes its cgroup namespace after placement.
    // Nor rootless with the systemd driver: the user's systemd manager reads the init's /proc
    // files to take it into the unit, which it cannot once the init has made itself
    // non-dumpable during its setup (the unit would start empty).
    let user_unit = cgroup.systemd.as_ref().is_some_and(|u| u.is_user());
    let placed_later = !joins && !late_cgroupns && !user_unit;
    // Made here, on the host side; the init inherits them and attaches them.
    let idmapped = crate::idmap::prepare(plan, procfs)?;
    let ctx = init::InitContext {
        idmapped: &idmapped,
        placed_later,
        plan,
        id,
        chan: child,
        fifo,
        procfs,
        cgroup_paths: cgroup.paths.clone(),
        cloned_namespaces: !joins,
        late_cgroupns,
        rootless: opts.rootless,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        extra_fds: opts.preserve_fds + opts.listen_fds,
        listen_fds: opts.listen_fds,
        seccomp: opts.seccomp.as_ref(),
        stdio: opts.stdio.as_ref(),
    };
    let args = sys::Clone3 { flags, cgroup: cgroup_fd.as_ref().map(|f| f.as_raw_fd()), want_pidfd: false };
    let (pid, _) = sys::clone3(&args).map_err(|e| {
        // CLONE_INTO_CGROUP's refusals, which otherwise read as if clone3 itself were missing.
        let dir = cgroup.paths.get("").filter(|_| cgroup_fd.is_some());
        match (e.raw_os_error(), dir) {
            (Some(libc::EOPNOTSUPP), Some(d)) => format!(
                "clone3 into cgroup {}: {e} (the kernel takes no process there: e.g. a parent cgroup has processes of its own, or it is in a threaded subtree)",
                d.display()
            ),
            (Some(libc::EBUSY), Some(d)) => {
                format!("clone3 into cgroup {}: {e} (it has child cgroups with controllers enabled: processes may only be in leaves)", d.display())
            }
            _ => format!("clone3: {e}"),
        }
    })?;
    if pid == 0 {
        drop(parent);
        init::run(ctx);
    }
    let init::InitContext { chan: child_end, fifo, .. } = ctx;
    drop(child_end);
    drop(fifo);
    drop(idmapped);
    *pid_hint = Some(pid);
    log::debug!("{id}: init {pid} cloned");

    let mut init_pid = pid;
    let mut intermediate = if joins { Some(pid) } else { None };
    let mut console = None;

    if let Some(adj) = plan.process().oom_score_adj() {
        procfs.write(&format!("{pid}/oom_score_adj"), adj.to_string().as_bytes()).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) {
                " (lowering it needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            format!("process.oomScoreAdj: {adj}: {e}{hint}")
        })?;
    }
    if !joins && plan.new_namespace(LinuxNamespaceType::User) {
        write_id_maps(plan, procfs, pid)?;
    }
    if placed_later {
        tell(&parent, &Msg::Continue)?;
    }
    // Every hierarchy the clone did not place it in (all of them on cgroup v1). On v1 the
    // first move after a quiet moment waits for an RCU grace period (several ms): with
    // `placed_later` the init builds its rootfs meanwhile and waits for `Placed` only before
    // the hooks.
    place(pid, cgroup_fd.is_some())?;
    log::debug!("{id}: init placed in its cgroups");
    tell(&parent, if placed_later { &Msg::Placed } else { &Msg::Continue })?;

    loop {
        let msg = parent.recv().map_err(|e| format!("sync: {e}"))?;
        if let Some((m, _)) = &msg {
            log::debug!("{id}: init says {m:?}");
        }
        match msg {
            Some((Msg::NeedIdMaps, _)) => {
                write_id_maps(plan, procfs, init_pid)?;
                tell(&parent, &Msg::Continue)?;
            }
            Some((Msg::NeedTimeOffsets, _)) => {
                procfs
                    .write(&format!("{init_pid}/timens_offsets"), plan.time_offsets.as_bytes())
                    .map_err(|e| format!("linux.timeOffsets: /proc/{init_pid}/timens_offsets: {e}"))?;
                tell(&parent, &Msg::Continue)?;
            }
            Some((Msg::InitPid(p), _)) => {
                if let Some(mid) = intermediate.take() {
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(mid), None);
                }
                init_pid = p;
                *pid_hint = Some(p);
                tell(&parent, &Msg::Continue)?;
            }
            Some((Msg::Console, fd)) => {
                let fd = fd.ok_or("the init sent no pty master")?;
                match &opts.console_socket {
                    Some(sock) => send_console(sock, fd.as_fd())?,
                    None => console = Some(fd),
                }
            }
            Some((Msg::RunHooks, _)) => {
                // The init is in its namespaces: give it its resctrl group and network
                // devices before the hooks, which may expect them.
                if let Some(rdt) = &plan.rdt {
                    rdt.add_pid(id, init_pid)?;
                }
                crate::net::move_devices(&plan.spec, procfs, init_pid)?;
                let st = HookState {
                    oci_version: crate::OCI_VERSION.to_string(),
                    id: id.to_string(),
                    status: "creating".to_string(),
                    pid: init_pid,
                    bundle: plan.bundle.display().to_string(),
                    annotations: plan.spec.annotations().clone().unwrap_or_default(),
                };
                let hooks = plan.spec.hooks().as_ref();
                #[allow(deprecated)]
                run_hooks("prestart", hooks.and_then(|h| h.prestart().as_ref()), &st).map_err(|e| e.to_string())?;
                run_hooks("createRuntime", hooks.and_then(|h| h.create_runtime().as_ref()), &st).map_err(|e| e.to_string())?;
                tell(&parent, &Msg::Continue)?;
            }
            Some((Msg::Ready, _)) => {
                // The init goes on to its user switch while the state is saved: nothing it
                // does next depends on state.json, and create returns only after its `Done`.
                // Should saving fail, the error ends create and the init is killed.
                tell(&parent, &Msg::Continue)?;
                on_ready(init_pid)?;
            }
            Some((Msg::SeccompFd, fd)) => crate::seccomp_notify::forward(&plan.spec, id, &plan.bundle, "creating", init_pid, init_pid, fd)?,
            Some((Msg::Done, _)) => break,
            Some((Msg::Error(m), _)) => return Err(m),
            Some((Msg::Continue | Msg::Placed, _)) => return Err("unexpected message from the container init".into()),
            None => return Err("the container init exited during setup".into()),
        }
    }
    if let Some(mid) = intermediate.take() {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(mid), None);
    }
    Ok(Spawned { pid: init_pid, console })
}

/// Sends `msg` to the init; if it has gone, the error it reported before going is the answer.
fn tell(chan: &Channel, msg: &Msg) -> Result<(), String> {
    match chan.send(msg) {
        Ok(()) => Ok(()),
        Err(e) => match chan.recv() {
            Ok(Some((Msg::Error(m), _))) => Err(m),
            _ => Err(format!("sync: {e}")),
        },
    }
}

/// Writes uid_map and gid_map of `pid`. Root (also root of a user namespace) writes them
/// directly; an unprivileged user may write only its own id (after `setgroups` = deny, as the
/// kernel demands), and goes through the setuid newuidmap/newgidmap for more.
fn write_id_maps(plan: &Plan, procfs: &ProcFs, pid: i32) -> Result<(), String> {
    let Some(l) = plan.spec.linux() else { return Ok(()) };
    let fmt = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        maps.iter().flatten().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
    };
    if !nix::unistd::geteuid().is_root() {
        let uids = l.uid_mappings().clone().unwrap_or_default();
        let gids = l.gid_mappings().clone().unwrap_or_default();
        if crate::rootless::own_id_only(&uids, nix::unistd::geteuid().as_raw()) {
            procfs
                .write(&format!("{pid}/uid_map"), fmt(l.uid_mappings()).as_bytes())
                .map_err(|e| format!("linux.uidMappings: /proc/{pid}/uid_map: {e}"))?;
        } else {
            crate::rootless::map_with_helper("newuidmap", "linux.uidMappings", pid, &uids)?;
        }
        if crate::rootless::own_id_only(&gids, nix::unistd::getegid().as_raw()) {
            procfs.write(&format!("{pid}/setgroups"), b"deny").map_err(|e| format!("/proc/{pid}/setgroups: {e}"))?;
            procfs
                .write(&format!("{pid}/gid_map"), fmt(l.gid_mappings()).as_bytes())
                .map_err(|e| format!("linux.gidMappings: /proc/{pid}/gid_map: {e}"))?;
        } else {
            crate::rootless::map_with_helper("newgidmap", "linux.gidMappings", pid, &gids)?;
        }
        return Ok(());
    }
    procfs
        .write(&format!("{pid}/uid_map"), fmt(l.uid_mappings()).as_bytes())
        .map_err(|e| format!("linux.uidMappings: /proc/{pid}/uid_map: {e}"))?;
    procfs
        .write(&format!("{pid}/gid_map"), fmt(l.gid_mappings()).as_bytes())
        .map_err(|e| format!("linux.gidMappings: /proc/{pid}/gid_map: {e}"))?;
    Ok(())
}

/// Sends the pty master to `--console-socket` with SCM_RIGHTS, as runc does (the payload is
/// the terminal's name; receivers such as conmon and containerd only use the fd).
pub(crate) fn send_console(sock: &Path, master: std::os::fd::BorrowedFd<'_>) -> Result<(), String> {
    use nix::sys::socket::{connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr};
    let err = |e: nix::Error| format!("--console-socket {}: {e}", sock.display());
    let s = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(err)?;
    let addr = UnixAddr::new(sock).map_err(err)?;
    connect(s.as_raw_fd(), &addr).map_err(err)?;
    let name = b"/dev/ptmx";
    let iov = [std::io::IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(s.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None).map_err(err)?;
    Ok(())
}
