//! exec: run another process in a container (the parent side; the child side is
//! `process::exec_init`).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::process::exec_init::{self, ExecContext};
use crate::process::sync::{Channel, Msg};
use crate::procfs::ProcFs;
use crate::spec::ns_flag;
use crate::state::{self, Status};
use crate::{sys, Error, Runtime};

/// Options of `exec`; the default is what `hull exec -d` does without flags.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    /// `--console-socket`: the AF_UNIX socket the pty master is sent to (with
    /// `process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`: where the process's pid is written.
    pub pid_file: Option<PathBuf>,
    /// `--preserve-fds N`: the caller's fds 3..3+N are passed to the process.
    pub preserve_fds: u32,
    /// Exec into a paused container too.
    pub ignore_paused: bool,
    /// Keep the pty master for the caller (foreground exec with a terminal).
    pub keep_console: bool,
    /// `--cgroup [ctrl[,ctrl]:]path`: a sub-cgroup of the container to run in.
    pub sub_cgroups: Vec<String>,
    /// The process's stdin, stdout and stderr; `None`: the caller's own.
    pub stdio: Option<crate::process::Stdio>,
}

/// A process started in a container.
#[derive(Debug)]
pub struct Execed {
    /// Its pid on the host; the caller is its parent and reaps it.
    pub pid: i32,
    /// The pty master, with `keep_console` and `process.terminal`.
    pub console: Option<OwnedFd>,
}

fn other(msg: impl Into<String>) -> Error {
    Error::Other(msg.into())
}

impl Runtime {
    /// Starts `process` in the running container `id`: it joins all the container's namespaces
    /// and its cgroup, and gets its own capabilities, rlimits and user.
    pub fn exec(&self, id: &str, process: &Process, opts: &ExecOptions) -> Result<Execed, Error> {
        let (_, st, status) = self.load(id)?;
        match status {
            Status::Stopped => return Err(other("cannot exec in a stopped container")),
            Status::Paused if !opts.ignore_paused => {
                return Err(other("cannot exec in a paused container, use --ignore-paused to override"))
            }
            _ => {}
        }
        let terminal = process.terminal() == Some(true);
        if terminal && opts.stdio.is_some() {
            return Err(other("process.terminal: the process's stdio is its terminal; stdio cannot be given too"));
        }
        if terminal && opts.console_socket.is_none() && !opts.keep_console {
            return Err(other("process.terminal: cannot allocate a tty if hull will detach without setting --console-socket"));
        }
        if opts.keep_console && opts.console_socket.is_some() {
            return Err(other("--console-socket: cannot use a console socket unless hull detaches (-d)"));
        }
        if !terminal && opts.console_socket.is_some() {
            return Err(other("--console-socket: cannot use a console socket when the process has no terminal"));
        }
        // The same checks as a config's process (args, cwd, env, rlimits).
        crate::spec::validate_process(process)?;
        crate::lsm::check_process(process, std::path::Path::new(crate::lsm::SYSFS))?;
        let pid_file = opts.pid_file.as_ref().map(std::path::absolute).transpose().map_err(|e| other(format!("--pid-file: {e}")))?;
        let init = sys::pidfd_open(st.init_process_pid).map_err(|_| other("cannot exec in a stopped container"))?;
        // The pidfd names the process we checked: a pid reused after this check can't be joined.
        if !state::process_alive(st.init_process_pid, st.init_process_start) {
            return Err(other("cannot exec in a stopped container"));
        }
        let ns_flags = namespaces_to_join(&st.config, st.init_process_pid);
        let procfs = ProcFs::open().map_err(|e| other(format!("/proc: {e}")))?;
        let cgroup_fd = if opts.sub_cgroups.is_empty() { st.cgroup.clone_into_fd() } else { None };

        let seccomp = crate::seccomp_cache::filter_for(&self.root, st.config.linux().as_ref().and_then(|l| l.seccomp().as_ref()));
        let seccomp = seccomp.map_err(|e| other(e.to_string()))?;
        // process.execCPUAffinity of this process, else the container's (as runc does).
        let config_process = st.config.process().as_ref();
        let affinity = process.exec_cpu_affinity().as_ref().or(config_process.and_then(|p| p.exec_cpu_affinity().as_ref()));
        let affinity = crate::spec::fields::cpu_affinity("process.execCPUAffinity", affinity)?;
        let mempolicy = crate::spec::fields::memory_policy(st.config.linux().as_ref().and_then(|l| l.memory_policy().as_ref()))?;
        let (parent, child) = Channel::pair().map_err(|e| other(format!("socketpair: {e}")))?;
        let ctx = ExecContext {
            final_affinity: affinity.last.clone(),
            mempolicy: mempolicy.as_ref(),
            process,
            chan: child,
            init: &init,
            ns_flags,
            procfs: &procfs,
            extra_fds: opts.preserve_fds,
            seccomp: seccomp.as_ref(),
            stdio: opts.stdio.as_ref(),
        };
        // The initial affinity is ours while we clone, so the child has it from its first
        // instruction until it is in the container's cgroup; we take our own back at once.
        let saved = match &affinity.initial {
            Some(mask) => {
                let saved = sys::sched_getaffinity(0).map_err(|e| other(format!("sched_getaffinity: {e}")))?;
                sys::sched_setaffinity(0, mask).map_err(|e| other(format!("process.execCPUAffinity.initial: sched_setaffinity: {e}")))?;
                Some(saved)
            }
            None => None,
        };
        let mut cloned_into = cgroup_fd.is_some();
        let mut cloned = sys::clone3(&sys::Clone3 { flags: 0, cgroup: cgroup_fd.as_ref().map(|f| f.as_raw_fd()), want_pidfd: false });
        // Rootless, a delegated cgroup can only be joined from a cgroup of the same delegated
        // subtree (the kernel checks write access to the common ancestor's cgroup.procs): from
        // elsewhere (a login session's scope) the process stays in the caller's cgroup, as with
        // runc. The refusal comes before any child exists, so cloning again is safe.
        if self.rootless
            && cgroup_fd.is_some()
            && cloned.as_ref().is_err_and(|e| matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)))
        {
            log::debug!("rootless: cannot clone into the cgroup of {id} from here; the process stays in hull's cgroup");
            cloned = sys::clone3(&sys::Clone3 { flags: 0, cgroup: None, want_pidfd: false });
            cloned_into = false;
        }
        let in_child = matches!(cloned, Ok((0, _)));
        if let (Some(mask), false) = (&saved, in_child) {
            sys::sched_setaffinity(0, mask).map_err(|e| other(format!("restoring hull's CPU affinity: {e}")))?;
        }
        let (pid, _) = cloned.map_err(|e| other(format!("clone3: {e}")))?;
        if pid == 0 {
            drop(parent);
            exec_init::run(ctx);
        }
        drop(ctx);
        let mut guard = KillOnDrop(Some(pid));
        match st.cgroup.add_pid_after_clone(pid, cloned_into) {
            Err(e) if self.rootless && e.is_access_denied() => log::debug!("rootless: exec'd process not in the cgroup of {id}: {e}"),
            r => r?,
        }
        join_sub_cgroups(&st.cgroup, &opts.sub_cgroups, pid)?;
        if let Some(adj) = process.oom_score_adj() {
            procfs
                .write(&format!("{pid}/oom_score_adj"), adj.to_string().as_bytes())
                .map_err(|e| other(format!("process.oomScoreAdj: {adj}: {e}")))?;
        }
        parent.send(&Msg::Continue).map_err(|e| other(format!("sync: {e}")))?;

        let mut exec_pid = pid;
        let mut console = None;
        loop {
            match parent.recv().map_err(|e| other(format!("sync: {e}")))? {
                Some((Msg::InitPid(p), _)) => {
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    exec_pid = p;
                    guard.0 = Some(p);
                    parent.send(&Msg::Continue).map_err(|e| other(format!("sync: {e}")))?;
                }
                Some((Msg::Console, fd)) => {
                    let fd = fd.ok_or_else(|| other("the exec process sent no pty master"))?;
                    match &opts.console_socket {
                        Some(sock) => crate::process::send_console(sock, fd.as_fd()).map_err(other)?,
                        None => console = Some(fd),
                    }
                }
                Some((Msg::SeccompFd, fd)) => {
                    crate::seccomp_notify::forward(&st.config, id, &st.bundle, "running", st.init_process_pid, exec_pid, fd)
                        .map_err(other)?
                }
                Some((Msg::Done, _)) => break,
                Some((Msg::Error(m), _)) => return Err(other(m)),
                Some((m, _)) => return Err(other(format!("unexpected message from the exec process: {m:?}"))),
                None => return Err(other("the exec process exited during setup")),
            }
        }
        // The process holds its end (close-on-exec) until execve: EOF means it runs the
        // program; an error message means execve failed.
        loop {
            match parent.recv().map_err(|e| other(format!("sync: {e}")))? {
                None => break,
                Some((Msg::Error(m), _)) => return Err(other(m)),
                Some(_) => {}
            }
        }
        if let Some(p) = &pid_file {
            crate::container::write_pid_file(p, exec_pid).map_err(other)?;
        }
        guard.0 = None;
        Ok(Execed { pid: exec_pid, console })
    }
}

/// The namespaces of the container that differ from ours (joining our own user namespace is
/// an error, and a config may have joined a host namespace by path).
fn namespaces_to_join(config: &oci_spec::runtime::Spec, init_pid: i32) -> i32 {
    let mut flags = 0;
    let kinds = config.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    for ns in kinds {
        let name = match ns.typ() {
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::Network => "net",
            LinuxNamespaceType::Pid => "pid",
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Cgroup => "cgroup",
            LinuxNamespaceType::Time => "time",
        };
        let theirs = std::fs::metadata(format!("/proc/{init_pid}/ns/{name}"));
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
        use std::os::unix::fs::MetadataExt;
        match (theirs, ours) {
            (Ok(t), Ok(o)) if t.ino() == o.ino() && t.dev() == o.dev() => {}
            _ => flags |= ns_flag(ns.typ()),
        }
    }
    flags
}

/// `--cgroup [ctrl[,ctrl]:]path`: moves `pid` into a sub-cgroup of the container's cgroup
/// (for the listed controllers, or all). The sub-cgroup must exist.
fn join_sub_cgroups(cg: &crate::cgroups::CgroupManager, specs: &[String], pid: i32) -> Result<(), Error> {
    for spec in specs {
        let (ctrls, sub) = match spec.split_once(':') {
            Some((c, p)) => (Some(c.split(',').collect::<Vec<_>>()), p),
            None => (None, spec.as_str()),
        };
        let sub = std::path::Path::new(sub.trim_start_matches('/'));
        if sub.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(other(format!("--cgroup {spec}: the path must stay inside the container's cgroup")));
        }
        let mut joined = false;
        for (ctrl, dir) in &cg.paths {
            if ctrls.as_ref().is_some_and(|c| !c.contains(&ctrl.as_str())) {
                continue;
            }
            let procs = dir.join(sub).join("cgroup.procs");
            std::fs::write(&procs, pid.to_string()).map_err(|e| other(format!("--cgroup {spec}: {}: {e}", procs.display())))?;
            joined = true;
        }
        if !joined {
            return Err(other(format!("--cgroup {spec}: no such controller in the container's cgroups")));
        }
    }
    Ok(())
}

/// Kills a half-made exec process on an error path.
struct KillOnDrop(Option<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
    }
}
