//! The child side of `exec`: runs in the new process from clone3() until execve(). It joins
//! every namespace of the container's init at once through the init's pidfd (so it cannot
//! join a reused pid's namespaces), forks once more when that includes a PID namespace, then
//! drops privileges exactly as the init does.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::Process;

use super::init::prepare_exec;
use super::sync::{Channel, Msg};
use crate::procfs::ProcFs;
use crate::{rootfs, security, sys};

/// What the exec child needs; built by the parent before clone3.
pub struct ExecContext<'a> {
    pub process: &'a Process,
    pub chan: Channel,
    /// pidfd of the container's init.
    pub init: &'a OwnedFd,
    /// CLONE_NEW* flags of the namespaces to join.
    pub ns_flags: i32,
    pub procfs: &'a ProcFs,
    pub extra_fds: u32,
    /// The container's `linux.seccomp`, compiled.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The process's stdio, when not inherited from the caller.
    pub stdio: Option<&'a super::Stdio>,
    /// `process.execCPUAffinity.final`, set once we are in the container's cgroup.
    pub final_affinity: Option<crate::sys::BitMask>,
    /// The container's `linux.memoryPolicy`.
    pub mempolicy: Option<&'a crate::spec::fields::MemPolicy>,
}

/// Entry point of the exec child: execs the process or reports why not and exits.
pub fn run(ctx: ExecContext<'_>) -> ! {
    let err = match setup(&ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if ctx.chan.send(&Msg::Error(err.clone())).is_err() {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("hull: exec: {err}\n").as_bytes());
    }
    sys::exit_now(255)
}

enum Never {}

fn chan_err(err: std::io::Error) -> String {
    format!("sync with hull: {err}")
}

fn setup(ctx: &ExecContext<'_>) -> Result<Never, String> {
    // Nothing in the container may ptrace or read us while we hold host fds (CVE-2016-9962).
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).map_err(|e| format!("prctl(PR_SET_DUMPABLE): {e}"))?;
    ctx.chan.expect_continue().map_err(chan_err)?;
    if ctx.ns_flags != 0 {
        sys::setns(ctx.init.as_fd(), ctx.ns_flags).map_err(|e| format!("joining the container's namespaces: {e}"))?;
    }
    if ctx.ns_flags & (libc::CLONE_NEWPID | libc::CLONE_NEWTIME) != 0 {
        // setns() into a PID namespace applies to children: the process is one more fork,
        // a child of hull (CLONE_PARENT) so hull can wait for it.
        let (pid, _) = sys::clone3(&sys::Clone3 { flags: libc::CLONE_PARENT as u64, cgroup: None, want_pidfd: false })
            .map_err(|e| format!("clone: {e}"))?;
        if pid != 0 {
            let _ = ctx.chan.send(&Msg::InitPid(pid));
            sys::exit_now(0);
        }
        // Wait until hull has our pid: otherwise our `Done` could overtake the `InitPid`
        // above and hull would wait for the wrong process.
        ctx.chan.expect_continue().map_err(chan_err)?;
    }
    let p = ctx.process;
    if p.terminal() == Some(true) {
        nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
        let root =
            sys::openat2(nix::fcntl::AT_FDCWD, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0, 0).map_err(|e| format!("/: {e}"))?;
        let (master, slave) = rootfs::open_pty(root.as_fd()).map_err(|e| e.to_string())?;
        ctx.chan.send_with_fd(&Msg::Console, Some(master.as_fd())).map_err(chan_err)?;
        drop(master);
        sys::set_controlling_tty(slave.as_fd()).map_err(|e| format!("process.terminal: TIOCSCTTY: {e}"))?;
        if let Some(size) = p.console_size() {
            sys::set_winsize(slave.as_fd(), size.height() as u16, size.width() as u16).map_err(|e| format!("process.consoleSize: {e}"))?;
        }
        for fd in 0..3 {
            sys::dup2(slave.as_raw_fd(), fd).map_err(|e| format!("process.terminal: dup2: {e}"))?;
        }
    } else if let Some(stdio) = ctx.stdio {
        stdio.install()?;
    }
    if let Some(r) = p.rlimits() {
        security::set_rlimits(r).map_err(|x| x.to_string())?;
    }
    if let Some(io) = p.io_priority() {
        security::set_io_priority(io).map_err(|x| x.to_string())?;
    }
    if let Some(s) = p.scheduler() {
        security::set_scheduler(s).map_err(|x| x.to_string())?;
    }
    if let Some(m) = ctx.mempolicy {
        super::init::set_mempolicy(m)?;
    }
    // hull placed us in the container's cgroup before its `Continue`: the final affinity now.
    if let Some(mask) = &ctx.final_affinity {
        sys::sched_setaffinity(0, mask).map_err(|e| format!("process.execCPUAffinity.final: sched_setaffinity: {e}"))?;
    }
    let ready = prepare_exec(p, ctx.procfs, ctx.extra_fds, 0, ctx.seccomp, &ctx.chan)?;
    ctx.chan.send(&Msg::Done).map_err(chan_err)?;
    Err(ready.exec())
}
