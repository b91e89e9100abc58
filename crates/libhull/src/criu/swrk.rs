//! Talking to CRIU: `criu swrk 3` is started with one end of a SOCK_SEQPACKET socketpair as
//! its fd 3; each protobuf message is one packet. CRIU answers a request with notifications
//! (each acknowledged by us) and then one final response.
//!
//! CRIU opens the image and work directories we name by fd through `/proc/<our pid>/fd/N`
//! (it finds our pid as its socket peer); `inherit_fd` numbers and extra namespace fds are
//! CRIU's own descriptors, so those are handed to it at fds 4, 5, ... by the spawn.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::socket::{recvmsg, sendmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use prost::Message;

use super::rpc::{Notify, Req, ReqType, Resp};
use super::CriuError;

/// Notification packets carry at most a few strings; a final response never more than a page.
const MAX_PACKET: usize = 64 * 1024;

/// A running `criu swrk`.
pub struct Swrk {
    child: Child,
    sock: OwnedFd,
}

/// What the caller does for one notification; an error makes CRIU abort the operation.
pub type NotifyHandler<'a> = dyn FnMut(&str, i32, Option<OwnedFd>) -> Result<(), String> + 'a;

/// How CRIU's own stdio is set up.
pub enum StdioMode {
    /// CRIU gets ours (restore: the restored process inherits them through `inherit_fd`).
    Inherit,
    /// stdin and stdout on /dev/null, stderr ours (dump: nothing of CRIU's mixes into the
    /// caller's output).
    Quiet,
}

impl Swrk {
    /// Starts `criu swrk 3` with `extra` at fds 4, 5, ...
    pub fn start(criu: &Path, extra: &[OwnedFd], stdio: StdioMode) -> Result<Swrk, CriuError> {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
            .map_err(|e| CriuError::Spawn(format!("socketpair: {e}")))?;
        // Every fd the child keeps is first copied above any target number, so no dup2 in the
        // child overwrites a source it still needs.
        let mut high = Vec::with_capacity(extra.len() + 1);
        for fd in std::iter::once(&theirs).chain(extra.iter()) {
            let h = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100)).map_err(|e| CriuError::Spawn(format!("dup: {e}")))?;
            // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
            high.push(unsafe { OwnedFd::from_raw_fd(h) });
        }
        let plan: Vec<(RawFd, RawFd)> = high.iter().enumerate().map(|(i, fd)| (fd.as_raw_fd(), 3 + i as RawFd)).collect();
        let mut cmd = Command::new(criu);
        cmd.arg("swrk").arg("3");
        if let StdioMode::Quiet = stdio {
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
        }
        // SAFETY: the closure runs in the forked child before execve and only calls dup2 (async-
        // signal-safe) on descriptors that stay open in the parent until spawn returns; it
        // allocates nothing (`plan` was built before the fork).
        unsafe {
            cmd.pre_exec(move || {
                for &(from, to) in &plan {
                    crate::sys::dup2(from, to)?;
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CriuError::Missing(criu.display().to_string()),
            _ => CriuError::Spawn(format!("{}: {e}", criu.display())),
        })?;
        drop(high);
        drop(theirs);
        Ok(Swrk { child, sock: ours })
    }

    /// CRIU's pid (restore moves it into the container's cgroups before sending the request).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Ends CRIU without a request (it exits when its socket closes) and reaps it.
    pub fn abort(mut self) {
        drop(self.sock);
        let _ = self.child.wait();
    }

    /// Sends `req` and serves notifications until the final response, which is returned when
    /// it reports success.
    pub fn run(mut self, req: &Req, notify: &mut NotifyHandler<'_>) -> Result<Resp, CriuError> {
        let kind = ReqType::try_from(req.r#type).map(|t| format!("{t:?}")).unwrap_or_default().to_uppercase();
        let result = self.converse(req, notify, &kind);
        // CRIU exits once the socket is closed; reap it either way.
        drop(self.sock);
        let _ = self.child.wait();
        result
    }

    /// Sends `req` (one without notifications) and returns the final response whatever its
    /// `success` says (a feature check reports missing features as a failure).
    pub fn run_raw(mut self, req: &Req) -> Result<Resp, CriuError> {
        let result = self
            .send(req)
            .and_then(|()| self.recv())
            .and_then(|r| r.map(|(resp, _)| resp).ok_or_else(|| CriuError::Rpc("criu exited without an answer".into())));
        drop(self.sock);
        let _ = self.child.wait();
        result
    }

    fn converse(&mut self, req: &Req, notify: &mut NotifyHandler<'_>, kind: &str) -> Result<Resp, CriuError> {
        self.send(req)?;
        loop {
            let (resp, fd) =
                self.recv()?.ok_or_else(|| CriuError::Failed { kind: kind.to_string(), reason: "criu exited without an answer".into() })?;
            if resp.r#type == ReqType::Notify as i32 {
                let Notify { script, pid } = resp.notify.unwrap_or_default();
                let script = script.unwrap_or_default();
                let handled = notify(&script, pid.unwrap_or(0), fd);
                let ok = handled.is_ok();
                self.send(&Req { r#type: ReqType::Notify as i32, notify_success: Some(ok), ..Default::default() })?;
                if let Err(reason) = handled {
                    return Err(CriuError::Notify { script, reason });
                }
                continue;
            }
            if !resp.success {
                let mut reason = resp.cr_errmsg.clone().unwrap_or_default();
                if let Some(errno) = resp.cr_errno.filter(|e| *e != 0) {
                    let e = std::io::Error::from_raw_os_error(errno);
                    reason = if reason.is_empty() { e.to_string() } else { format!("{reason} ({e})") };
                }
                return Err(CriuError::Failed { kind: kind.to_string(), reason });
            }
            return Ok(resp);
        }
    }

    fn send(&self, req: &Req) -> Result<(), CriuError> {
        let data = req.encode_to_vec();
        sendmsg::<()>(self.sock.as_raw_fd(), &[IoSlice::new(&data)], &[], MsgFlags::MSG_NOSIGNAL, None)
            .map_err(|e| CriuError::Rpc(format!("send: {e}")))?;
        Ok(())
    }

    /// One packet and the fd it may carry; `None` when CRIU closed its end.
    fn recv(&self) -> Result<Option<(Resp, Option<OwnedFd>)>, CriuError> {
        let mut buf = vec![0u8; MAX_PACKET];
        let mut cbuf = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = self.recv_into(&mut buf, &mut cbuf)?;
        if n == 0 {
            return Ok(None);
        }
        let resp = Resp::decode(&buf[..n]).map_err(|e| CriuError::Rpc(format!("bad response: {e}")))?;
        Ok(Some((resp, fd)))
    }

    #[allow(clippy::ptr_arg)] // nix's recvmsg wants the Vec that cmsg_space! makes
    fn recv_into(&self, buf: &mut [u8], cbuf: &mut Vec<u8>) -> Result<(usize, Option<OwnedFd>), CriuError> {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = loop {
            match recvmsg::<()>(self.sock.as_raw_fd(), &mut iov, Some(cbuf), MsgFlags::MSG_CMSG_CLOEXEC) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => return Ok((0, None)),
                r => break r.map_err(|e| CriuError::Rpc(format!("recv: {e}")))?,
            }
        };
        let mut fd = None;
        for c in msg.cmsgs().map_err(|e| CriuError::Rpc(format!("recv: {e}")))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for f in fds {
                    // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    fd.get_or_insert(owned);
                }
            }
        }
        Ok((msg.bytes, fd))
    }
}
