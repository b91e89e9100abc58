//! `hull run`: create + start, then (unless detached) stay with the container: forward
//! signals to it, proxy its terminal, reap it and exit with its status (128+N for signal N).

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use libhull::{CreateOptions, Runtime};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::log::Logger;

#[allow(clippy::too_many_arguments)]
pub fn run(
    rt: &Runtime,
    id: &str,
    bundle: &Path,
    mut opts: CreateOptions,
    detach: bool,
    keep: bool,
    no_subreaper: bool,
    logger: &Logger,
) -> Result<u8, String> {
    if !detach {
        opts.keep_console = true;
        if !no_subreaper {
            let _ = libhull::sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0);
        }
        // Blocked before the container exists, so a signal sent to hull right after the start
        // is forwarded, not lost; the container's process unblocks them before execve.
        block_signals()?;
    }
    let mut created = rt.create(id, bundle, &opts).map_err(|e| e.to_string())?;
    // start and delete use the record create returned: state.json is written once, never read.
    if let Err(e) = rt.start_created(&created) {
        let _ = rt.delete_created(&created);
        return Err(e.to_string());
    }
    if detach {
        return Ok(0);
    }
    let status = supervise(created.pid, created.console.take(), logger);
    if !keep {
        if let Err(e) = rt.delete_created(&created) {
            logger.warn(&format!("delete {id}: {e}"));
        }
    }
    status
}

/// Waits for our child `pid` (a container's init or an exec'd process), forwarding signals
/// and proxying the pty; returns its exit code (128+N when killed by signal N).
pub fn supervise(pid: i32, console: Option<OwnedFd>, logger: &Logger) -> Result<u8, String> {
    // The caller blocked the signals before the process was made (block_signals); a SIGCHLD
    // that came before the signalfd exists is not lost: the loop reaps before it waits.
    let mask = block_signals()?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(|e| format!("signalfd: {e}"))?;
    let _raw = console.as_ref().map(|c| RawTerminal::enter(c.as_fd()));
    let stdin = std::io::stdin();
    let mut stdin_open = console.is_some();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(code) = reap(pid)? {
            if let Some(c) = &console {
                drain(c.as_fd(), &mut buf);
            }
            return Ok(code);
        }
        let mut fds = vec![nix::poll::PollFd::new(sfd.as_fd(), nix::poll::PollFlags::POLLIN)];
        if let Some(c) = &console {
            fds.push(nix::poll::PollFd::new(c.as_fd(), nix::poll::PollFlags::POLLIN));
            if stdin_open {
                fds.push(nix::poll::PollFd::new(stdin.as_fd(), nix::poll::PollFlags::POLLIN));
            }
        }
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if ready[0] {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGWINCH {
                    if let Some(c) = &console {
                        if let Ok((r, cols)) = libhull::sys::get_winsize(stdin.as_fd()) {
                            let _ = libhull::sys::set_winsize(c.as_fd(), r, cols);
                        }
                    }
                } else if sig != libc::SIGCHLD {
                    logger.debug(&format!("forwarding signal {sig} to {pid}"));
                    // SAFETY: kill(2) with integer arguments.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
        if let Some(c) = &console {
            if ready.get(1) == Some(&true) {
                let mut f = std::fs::File::from(c.try_clone().map_err(|e| e.to_string())?);
                match f.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = std::io::stdout().write_all(&buf[..n]);
                        let _ = std::io::stdout().flush();
                    }
                    _ => {}
                }
            }
            if stdin_open && ready.get(2) == Some(&true) {
                match stdin.lock().read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let mut f = std::fs::File::from(c.try_clone().map_err(|e| e.to_string())?);
                        let _ = f.write_all(&buf[..n]);
                    }
                    _ => stdin_open = false,
                }
            }
        }
    }
}

/// Blocks every signal hull forwards (all but SIGKILL and SIGSTOP); returns the set.
pub fn block_signals() -> Result<SigSet, String> {
    let mut mask = SigSet::all();
    mask.remove(Signal::SIGKILL);
    mask.remove(Signal::SIGSTOP);
    mask.thread_block().map_err(|e| format!("sigprocmask: {e}"))?;
    Ok(mask)
}

/// Reaps any exited children; the init's exit gives its code.
fn reap(pid: i32) -> Result<Option<u8>, String> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return Ok(Some(code as u8)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => return Ok(Some(128u8.wrapping_add(sig as u8))),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => return Ok(Some(0)),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}

/// Copies what is left in the pty to stdout after the process exited.
fn drain(c: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) {
    let _ = nix::fcntl::fcntl(c, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
    if let Ok(fd) = c.try_clone_to_owned() {
        let mut f = std::fs::File::from(fd);
        while let Ok(n) = f.read(buf) {
            if n == 0 {
                break;
            }
            let _ = std::io::stdout().write_all(&buf[..n]);
        }
        let _ = std::io::stdout().flush();
    }
}

/// Puts our terminal (if stdin is one) in raw mode for the proxy and restores it after.
struct RawTerminal {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerminal {
    fn enter(console: std::os::fd::BorrowedFd<'_>) -> RawTerminal {
        let stdin = std::io::stdin();
        let saved = nix::sys::termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            nix::sys::termios::cfmakeraw(&mut raw);
            let _ = nix::sys::termios::tcsetattr(stdin.as_fd(), nix::sys::termios::SetArg::TCSANOW, &raw);
            if let Ok((r, c)) = libhull::sys::get_winsize(stdin.as_fd()) {
                let _ = libhull::sys::set_winsize(console, r, c);
            }
        }
        RawTerminal { saved }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(std::io::stdin().as_fd(), nix::sys::termios::SetArg::TCSANOW, t);
        }
    }
}
