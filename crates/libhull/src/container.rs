//! container: the lifecycle operations (create, start, state, list, kill, delete) on a root
//! directory of containers. This is the library's public face; the CLI only parses arguments
//! and prints.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cgroups::{CgroupError, CgroupManager};
use crate::hooks::{run_hooks, HookState};
use crate::process::{self, SpawnOptions};
use crate::procfs::ProcFs;
use crate::spec::{validate_id, Plan};
use crate::state::{self, ContainerState, StateDir, StateError, StateReport, Status};
use crate::{sys, Error};

/// Options of `create` (and `run`); the default is what `hull create` does without flags.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    /// `--console-socket`: the AF_UNIX socket the pty master is sent to (with
    /// `process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`: where the init's pid is written once it waits for `start`.
    pub pid_file: Option<PathBuf>,
    /// `--no-pivot`: `MS_MOVE` + `chroot` instead of `pivot_root` (for a rootfs on a ramfs).
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// `--preserve-fds N`: the caller's fds 3..3+N are passed to the process.
    pub preserve_fds: u32,
    /// Keep the pty master for the caller (foreground `run` with a terminal).
    pub keep_console: bool,
    /// The process's stdin, stdout and stderr; `None`: the caller's own.
    pub stdio: Option<crate::process::Stdio>,
}

/// A container just created: its init waits on the exec fifo.
#[derive(Debug)]
pub struct Created {
    pub id: String,
    /// The init's pid on the host; the caller is its parent and reaps it.
    pub pid: i32,
    /// The pty master when `keep_console` was asked and the process has a terminal.
    pub console: Option<OwnedFd>,
    /// The record create wrote: [`Runtime::start_created`] and [`Runtime::delete_created`] use
    /// it instead of reading state.json back (`run` does create, start and delete in one go).
    state: ContainerState,
}

/// A root directory of containers (`--root`).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub root: PathBuf,
    /// Unprivileged mode (detected by `new`): cgroups only where delegated, ids beyond the
    /// user's own through newuidmap/newgidmap, devices bound instead of made.
    pub rootless: bool,
    /// `--systemd-cgroup`: each container's cgroup is a transient systemd unit.
    pub systemd_cgroup: bool,
}

fn other(msg: impl Into<String>) -> Error {
    Error::Other(msg.into())
}

impl Runtime {
    /// The containers under `root` (made on the first `create`, mode 0700); unprivileged mode
    /// when the caller is not root (or is root in a user namespace without the host's ids).
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into(), rootless: crate::rootless::detect(), systemd_cgroup: false }
    }

    pub(crate) fn dir(&self, id: &str) -> Result<StateDir, Error> {
        validate_id(id)?;
        Ok(StateDir::new(&self.root, id))
    }

    /// Creates a container from a bundle. Nothing touches the host until the whole config has
    /// been checked; a failure half-way undoes every side effect (state dir, fifo, cgroup,
    /// process).
    pub fn create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Created, Error> {
        let sd = self.dir(id)?;
        let plan = Plan::from_bundle(bundle)?;
        log::debug!("{id}: config checked");
        if plan.terminal && opts.stdio.is_some() {
            return Err(other("process.terminal: the process's stdio is its terminal; stdio cannot be given too"));
        }
        if plan.terminal && opts.console_socket.is_none() && !opts.keep_console {
            return Err(other("process.terminal: cannot allocate a tty if hull will detach without setting --console-socket"));
        }
        if !plan.terminal && opts.console_socket.is_some() {
            return Err(other("--console-socket: cannot use a console socket when process.terminal is false"));
        }
        if opts.no_pivot && plan.rootfs_propagation & libc::MS_PRIVATE != 0 {
            return Err(other("linux.rootfsPropagation: [r]private is not safe without pivot_root (--no-pivot)"));
        }
        // An unprivileged hull can make no other namespace without a user namespace of the
        // container's own. As root in a user namespace (rootless podman, `unshare -r`) the
        // container may share hull's, as with runc.
        if self.rootless && !nix::unistd::geteuid().is_root() && !plan.has_namespace(oci_spec::runtime::LinuxNamespaceType::User) {
            return Err(other("linux.namespaces: a rootless container needs a user namespace (see `hull spec --rootless`)"));
        }
        if !plan.has_namespace(oci_spec::runtime::LinuxNamespaceType::Mount) {
            return Err(other("linux.namespaces: a mount namespace is required"));
        }
        let linux = plan.spec.linux().as_ref();
        let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
        // The systemd driver: the unit's properties checked and systemd reached before any side
        // effect; the unit itself is made once the init exists (see `place` below).
        let mut systemd = None;
        let mut cgroup = if self.systemd_cgroup {
            let props = crate::cgroups::systemd::annotation_properties(plan.spec.annotations().as_ref())?;
            let cg = CgroupManager::new_systemd(cgroups_path, id, None)?;
            // Rootless: the user's own systemd manager over the user's session bus; the unit
            // goes below that manager's cgroup.
            let session = crate::cgroups::systemd::connect(self.rootless)?;
            let cg = match session.user_manager() {
                Some(m) => CgroupManager::new_systemd(cgroups_path, id, Some(m))?,
                None => cg,
            };
            systemd = Some((session, props));
            cg
        } else {
            CgroupManager::new(cgroups_path, id)?
        };
        if let Some(r) = linux.and_then(|l| l.resources().as_ref()) {
            cgroup.check_host(r)?;
        }
        let pid_file = opts.pid_file.as_ref().map(std::path::absolute).transpose().map_err(|e| other(format!("--pid-file: {e}")))?;
        let listen_fds = listen_fds();
        let procfs = ProcFs::open().map_err(|e| other(format!("/proc: {e}")))?;
        let seccomp = crate::seccomp_cache::filter_for(&self.root, linux.and_then(|l| l.seccomp().as_ref()));
        let seccomp = seccomp.map_err(|e| other(e.to_string()))?;
        log::debug!("{id}: cgroup layout, /proc handle and seccomp filter ready");

        // Side effects start here; `undo` reverts them on any error.
        sd.create()?;
        let mut undo = Undo { sd: sd.clone(), cgroup: None, pid: None, rdt_dirs: Vec::new() };
        let _lock = sd.lock()?;
        let fifo_path = sd.fifo_path();
        nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .map_err(|e| other(format!("{}: {e}", fifo_path.display())))?;
        // Writable by the container's user whatever our umask: the init opens it after
        // switching to process.user.
        std::fs::set_permissions(&fifo_path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
            .map_err(|e| other(format!("{}: {e}", fifo_path.display())))?;
        // The init gets only an O_PATH handle, never the state directory itself.
        let fifo = sys::openat2(nix::fcntl::AT_FDCWD, &fifo_path, libc::O_PATH, 0, 0)
            .map_err(|e| other(format!("{}: {e}", fifo_path.display())))?;
        let default_resources = oci_spec::runtime::LinuxResources::default();
        let resources = linux.and_then(|l| l.resources().as_ref()).unwrap_or(&default_resources);
        // Limits are in place before the init exists (on v1 the devices policy applies even
        // when the config has no resources).
        let placed = match cgroup.create() {
            Ok(()) => {
                undo.cgroup = Some(cgroup.clone());
                log::debug!("{id}: cgroup made");
                // With systemd the limits follow the unit, made after the clone.
                if cgroup.is_systemd() {
                    Ok(())
                } else if self.rootless {
                    // A cgroup the user may write (delegated): the limits, not the device
                    // rules (see `apply_limits`).
                    log::debug!(
                        "rootless: {id} in the delegated cgroup {}; its device rules are left to the user namespace",
                        cgroup.paths.values().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                    );
                    cgroup.apply_limits(resources)
                } else {
                    cgroup.apply(resources)
                }
            }
            Err(e) => Err(e),
        };
        match placed {
            Ok(()) => {}
            // Unprivileged without a delegated cgroup (or one whose files we may not write, as
            // root in a user namespace): run without one unless the config asks for limits,
            // which could then not be enforced.
            Err(e) if self.rootless && e.is_access_denied() => {
                if let Some(field) = crate::rootless::asks_for_limits(resources) {
                    // The error names the field itself when a limit's own write failed.
                    let named = matches!(e, CgroupError::Enable { .. } | CgroupError::Write { .. });
                    let prefix = if named { String::new() } else { format!("{field}: cannot set cgroup limits: ") };
                    return Err(other(format!("{prefix}{e} (not delegated to this user)")));
                }
                log::debug!("rootless: no cgroup for {id} ({e}); limits are not set");
                if let Some(cg) = undo.cgroup.take() {
                    let _ = cg.destroy();
                }
                cgroup = CgroupManager::default();
            }
            Err(e) => return Err(e.into()),
        }

        log::debug!("{id}: state directory, exec fifo and cgroup made");
        if let Some(rdt) = &plan.rdt {
            rdt.create(id, &mut undo.rdt_dirs).map_err(other)?;
        }
        let rdt_dirs = undo.rdt_dirs.clone();

        let spawn_opts = SpawnOptions {
            rootless: self.rootless,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            listen_fds,
            console_socket: opts.console_socket.clone(),
            seccomp,
            stdio: opts.stdio.clone(),
        };
        let owner = nix::unistd::geteuid().as_raw();
        let mut record = None;
        let mut on_ready = |pid: i32| -> Result<(), String> {
            let st = ContainerState { rdt_dirs: rdt_dirs.clone(), ..ContainerState::for_init(id, pid, &plan, &cgroup, owner)? };
            sd.save(&st).map_err(|e| e.to_string())?;
            record = Some(st);
            if let Some(p) = &pid_file {
                write_pid_file(p, pid)?;
            }
            Ok(())
        };
        // Puts the init, cloned and waiting, in its cgroup(s): the systemd unit is made here,
        // after the clone, so that the CLI has no thread (the D-Bus client starts none anyway)
        // and the unit has the init's pid from the start, as runc does.
        let placing = cgroup.clone();
        let mut place = |pid: i32, cloned_into: bool| -> Result<(), String> {
            match systemd.as_mut() {
                Some((session, props)) => placing.start_unit(session, id, pid, resources, std::mem::take(props)),
                None => placing.add_pid_after_clone(pid, cloned_into),
            }
            .map_err(|e| e.to_string())
        };
        let spawned =
            process::spawn(&plan, id, &cgroup, &procfs, fifo, &spawn_opts, &mut undo.pid, &mut place, &mut on_ready).map_err(other);
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                if let Some(p) = &pid_file {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        };
        let Some(state) = record else {
            return Err(other("the container's record was never written"));
        };
        undo.disarm();
        log::debug!("{id}: created, init {} waits for start", spawned.pid);
        Ok(Created { id: id.to_string(), pid: spawned.pid, console: if opts.keep_console { spawned.console } else { None }, state })
    }

    /// Loads a container's record and its status as the kernel sees it now.
    pub fn load(&self, id: &str) -> Result<(StateDir, ContainerState, Status), Error> {
        let sd = self.dir(id)?;
        let st = sd.load()?;
        let status = derive_status(&sd, &st);
        Ok((sd, st, status))
    }

    /// Releases a created container's process (it execs the user's program).
    pub fn start(&self, id: &str) -> Result<(), Error> {
        let sd = self.dir(id)?;
        let _lock = lock_existing(&sd)?;
        let st = sd.load()?;
        start_locked(&sd, &st)
    }

    /// [`start`](Self::start) of the container this process just created, from the record
    /// create returned (state.json is not read back).
    pub fn start_created(&self, c: &Created) -> Result<(), Error> {
        let sd = self.dir(&c.id)?;
        let _lock = lock_existing(&sd)?;
        start_locked(&sd, &c.state)
    }

    /// The `state` report of a container.
    pub fn state(&self, id: &str) -> Result<StateReport, Error> {
        let (_, st, status) = self.load(id)?;
        Ok(report(&st, status, false))
    }

    /// Every container under the root, with owners (`list`).
    pub fn list(&self) -> Result<Vec<StateReport>, Error> {
        let ids = match state::list_ids(&self.root) {
            Ok(ids) => ids,
            Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for id in ids {
            if let Ok((_, st, status)) = self.load(&id) {
                out.push(report(&st, status, true));
            }
        }
        Ok(out)
    }

    /// Sends `sig` to the container's init, or with `all` to every process in its cgroup.
    pub fn kill(&self, id: &str, sig: i32, all: bool) -> Result<(), Error> {
        let (_, st, status) = self.load(id)?;
        if status == Status::Stopped {
            if all {
                return Ok(());
            }
            return Err(other("container not running"));
        }
        if all {
            // The init is one of them; signalling it once more could find it already dead.
            return crate::ps::signal_all(&st.cgroup, sig);
        }
        signal_init(&st, sig)
    }

    /// Deletes a container: stopped ones always, created ones by killing them, running ones
    /// only with `force`. Runs the poststop hooks and removes the cgroup and state.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), Error> {
        let sd = self.dir(id)?;
        if !sd.check_exists()? {
            // `delete --force` of a container that is already gone succeeds, as runc's does.
            if force {
                return Ok(());
            }
            return Err(StateError::NotExist(id.to_string()).into());
        }
        let _lock = lock_existing(&sd)?;
        let st = match sd.load() {
            Ok(st) => st,
            // A directory without state.json is an aborted create: just remove it.
            Err(StateError::NotExist(_)) => return Ok(sd.remove()?),
            Err(e) => return Err(e.into()),
        };
        let status = derive_status(&sd, &st);
        match status {
            Status::Stopped => {}
            Status::Created => kill_and_wait(&st)?,
            Status::Running | Status::Paused | Status::Creating if force => kill_and_wait(&st)?,
            s => return Err(other(format!("cannot delete container {id} that is not stopped: {s}"))),
        }
        destroy(&sd, &st)
    }

    /// `delete --force` of the container this process created, from the record create returned
    /// (what it names, the cgroup, hooks and pid, does not change after create).
    pub fn delete_created(&self, c: &Created) -> Result<(), Error> {
        let sd = self.dir(&c.id)?;
        if !sd.check_exists()? {
            return Ok(());
        }
        let _lock = lock_existing(&sd)?;
        match derive_status(&sd, &c.state) {
            Status::Stopped => {}
            _ => kill_and_wait(&c.state)?,
        }
        destroy(&sd, &c.state)
    }
}

/// Releases a created container's process; the caller holds the container's lock.
fn start_locked(sd: &StateDir, st: &ContainerState) -> Result<(), Error> {
    let id = &st.id;
    match derive_status(sd, st) {
        Status::Created => {}
        Status::Stopped => return Err(other("cannot start a container that has stopped")),
        Status::Running | Status::Paused => return Err(other("cannot start an already running container")),
        Status::Creating => return Err(other("cannot start a container that is still being created")),
    }
    let fifo_path = sd.fifo_path();
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo_path)
        .map_err(|e| other(format!("{}: {e}", fifo_path.display())))?;
    // The init is blocked opening the fifo for writing; our open released it. Wait for its
    // byte, watching that it does not die instead.
    let mut byte = [0u8; 1];
    loop {
        let mut pfd = [nix::poll::PollFd::new(fifo.as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16));
        match fifo.read(&mut byte) {
            Ok(1) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(other(format!("{}: {e}", fifo_path.display()))),
        }
        if !state::process_alive(st.init_process_pid, st.init_process_start) {
            return Err(other("container init exited before it was started"));
        }
    }
    // The init keeps its end open until execve (close-on-exec): EOF means the user's
    // process runs (or the init died), so poststart hooks come after startContainer ones.
    loop {
        let mut pfd = [nix::poll::PollFd::new(fifo.as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16));
        match fifo.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(other(format!("{}: {e}", fifo_path.display()))),
        }
        if !state::process_alive(st.init_process_pid, st.init_process_start) {
            break;
        }
    }
    let _ = std::fs::remove_file(&fifo_path);
    log::debug!("{id}: started");
    let hs = hook_state(st, "running");
    run_hooks("poststart", st.config.hooks().as_ref().and_then(|h| h.poststart().as_ref()), &hs).map_err(|e| other(e.to_string()))?;
    Ok(())
}
pub(crate) fn lock_existing(sd: &StateDir) -> Result<state::Lock, Error> {
    if !sd.check_exists()? {
        return Err(StateError::NotExist(sd.id.clone()).into());
    }
    Ok(sd.lock()?)
}

/// The status as the kernel sees it: the recorded init alive (same start time), the fifo still
/// there (not started), the freezer.
pub fn derive_status(sd: &StateDir, st: &ContainerState) -> Status {
    if !state::process_alive(st.init_process_pid, st.init_process_start) {
        return Status::Stopped;
    }
    // Frozen first, as runc: a created container can be paused too.
    if st.cgroup.is_frozen().unwrap_or(false) {
        return Status::Paused;
    }
    if sd.fifo_path().exists() {
        return Status::Created;
    }
    Status::Running
}

fn report(st: &ContainerState, status: Status, with_owner: bool) -> StateReport {
    StateReport {
        oci_version: crate::OCI_VERSION.to_string(),
        id: st.id.clone(),
        pid: if status == Status::Stopped { 0 } else { st.init_process_pid },
        status,
        bundle: st.bundle.clone(),
        rootfs: st.rootfs.clone(),
        created: st.created.clone(),
        owner: if with_owner { Some(state::owner_name(st.owner)) } else { None },
        annotations: st.config.annotations().clone().unwrap_or_default(),
    }
}

fn hook_state(st: &ContainerState, status: &str) -> HookState {
    HookState {
        oci_version: crate::OCI_VERSION.to_string(),
        id: st.id.clone(),
        status: status.to_string(),
        pid: st.init_process_pid,
        bundle: st.bundle.display().to_string(),
        annotations: st.config.annotations().clone().unwrap_or_default(),
    }
}

/// Signals the init through a pidfd opened and then checked against the recorded start time,
/// so a pid reused by another process is never signalled.
fn signal_init(st: &ContainerState, sig: i32) -> Result<(), Error> {
    let pidfd = match sys::pidfd_open(st.init_process_pid) {
        Ok(fd) => fd,
        Err(_) => return Err(other("container not running")),
    };
    if !state::process_alive(st.init_process_pid, st.init_process_start) {
        return Err(other("container not running"));
    }
    sys::pidfd_send_signal(pidfd.as_fd(), sig).map_err(|e| other(format!("signal {sig}: {e}")))
}

/// SIGKILL the init and everything in its cgroup (thawing a paused one), then wait until the
/// init is gone.
fn kill_and_wait(st: &ContainerState) -> Result<(), Error> {
    let _ = crate::ps::signal_all(&st.cgroup, libc::SIGKILL);
    let _ = signal_init(st, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while state::process_alive(st.init_process_pid, st.init_process_start) {
        if Instant::now() > deadline {
            return Err(other(format!("container init {} did not die after SIGKILL", st.init_process_pid)));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

pub(crate) fn destroy(sd: &StateDir, st: &ContainerState) -> Result<(), Error> {
    // Stragglers of a container without its own PID namespace stay in the cgroup.
    let _ = crate::ps::signal_all(&st.cgroup, libc::SIGKILL);
    let cg = st.cgroup.destroy();
    let rdt = crate::rdt::remove(&st.rdt_dirs);
    let hs = hook_state(st, "stopped");
    let hooks = run_hooks("poststop", st.config.hooks().as_ref().and_then(|h| h.poststop().as_ref()), &hs);
    sd.remove()?;
    log::debug!("{}: deleted", st.id);
    cg?;
    rdt.map_err(other)?;
    hooks.map_err(|e| other(e.to_string()))
}

/// Undoes a half-made create.
struct Undo {
    sd: StateDir,
    cgroup: Option<CgroupManager>,
    pid: Option<i32>,
    /// resctrl directories made for `linux.intelRdt`.
    rdt_dirs: Vec<PathBuf>,
}

impl Undo {
    fn disarm(mut self) {
        self.cgroup = None;
        self.pid = None;
        self.rdt_dirs.clear();
        self.sd.id.clear();
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if self.sd.id.is_empty() {
            return;
        }
        if let Some(pid) = self.pid {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if let Some(cg) = &self.cgroup {
            if let Ok(pids) = cg.pids() {
                for pid in pids {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
            }
            let _ = cg.destroy();
        }
        let _ = crate::rdt::remove(&self.rdt_dirs);
        let _ = self.sd.remove();
    }
}

/// Writes the pid file atomically (a temporary file beside it, then rename), as runc does.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string()).map_err(|e| format!("--pid-file {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("--pid-file {}: {e}", path.display()))
}

/// `LISTEN_FDS` for us (LISTEN_PID names this process): socket-activation fds to pass on.
fn listen_fds() -> u32 {
    let pid_ok = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    if !pid_ok {
        return 0;
    }
    std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}
