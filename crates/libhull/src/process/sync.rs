//! The parent/init sync channel: a SOCK_SEQPACKET socketpair carrying one small JSON message a
//! packet, with an fd attached where a message hands one over (the pty master).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Messages between hull (parent) and the container's init (child).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// parent -> child: go on (ids mapped, cgroup joined, state saved, ...).
    Continue,
    /// parent -> child: you are in your cgroups now (sent after an early `Continue`).
    Placed,
    /// child -> parent: I unshared a user namespace; write my id maps.
    NeedIdMaps,
    /// child -> parent: I unshared a time namespace; write its offsets (`linux.timeOffsets`)
    /// before any process enters it.
    NeedTimeOffsets,
    /// child -> parent: the container's init is this (host) pid (after a second fork).
    InitPid(i32),
    /// child -> parent: the pty master is attached.
    Console,
    /// child -> parent: run the prestart and createRuntime hooks now.
    RunHooks,
    /// child -> parent: setup done up to the user switch; save the state.
    Ready,
    /// child -> parent: everything done; about to wait on the exec fifo.
    Done,
    /// child -> parent: the seccomp filter is loaded; its notify fd is attached.
    SeccompFd,
    /// child -> parent: setup failed.
    Error(String),
}

/// Decodes one packet of the channel.
pub(crate) fn decode(data: &[u8]) -> std::io::Result<Msg> {
    serde_json::from_slice(data).map_err(std::io::Error::other)
}

/// The longest error text sent whole; longer ones are cut (the start names the field).
const MAX_ERROR: usize = 4096;

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair: (parent end, child end), both close-on-exec.
    pub fn pair() -> std::io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, msg: &Msg) -> std::io::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &Msg, fd: Option<BorrowedFd<'_>>) -> std::io::Result<()> {
        // An error can quote config values of any size (CVE-2021-43784 was about such sizes):
        // keep each message small (a packet is bounded by the socket's buffer).
        let shortened;
        let msg = match msg {
            Msg::Error(text) if text.len() > MAX_ERROR => {
                let mut cut = MAX_ERROR;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                shortened = Msg::Error(format!("{}... ({} bytes cut)", &text[..cut], text.len() - cut));
                &shortened
            }
            m => m,
        };
        let data = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        let iov = [IoSlice::new(&data)];
        let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let c: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, c, MsgFlags::MSG_NOSIGNAL, None)?;
        Ok(())
    }

    /// Receives one message; `Ok(None)` when the other side closed its end.
    pub fn recv(&self) -> std::io::Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut resets = 0;
        // The buffer is sized to the packet (peeked first): a buffer for the largest possible
        // message, zeroed on every receive, was a third of a create's page faults.
        let len = loop {
            match crate::sys::next_packet_len(self.fd.as_raw_fd()) {
                // See below: an exited peer's pending reset comes before its last message.
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) && resets < 2 => resets += 1,
                r => break r?,
            }
        };
        if len == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; len];
        let mut cbuf = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r = loop {
                match recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut cbuf), MsgFlags::MSG_CMSG_CLOEXEC) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    // A peer that exited with our message unread leaves ECONNRESET pending on
                    // our side, reported once, even while its last message (often the error
                    // that says why it exited) still waits in our queue: read on.
                    Err(nix::errno::Errno::ECONNRESET) if resets < 2 => {
                        resets += 1;
                        continue;
                    }
                    r => break r?,
                }
            };
            let mut fd = None;
            for c in r.cmsgs()? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for f in fds {
                        // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                        let owned = unsafe { OwnedFd::from_raw_fd(f) };
                        if fd.is_none() {
                            fd = Some(owned);
                        }
                    }
                }
            }
            (r.bytes, fd)
        };
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((decode(&buf[..n])?, fd)))
    }

    /// Waits for `Continue`; anything else (or EOF) is an error.
    pub fn expect_continue(&self) -> std::io::Result<()> {
        self.expect(Msg::Continue)
    }

    /// Waits for `want`; anything else (or EOF) is an error.
    pub fn expect(&self, want: Msg) -> std::io::Result<()> {
        match self.recv()? {
            Some((m, _)) if m == want => Ok(()),
            Some((m, _)) => Err(std::io::Error::other(format!("unexpected message from hull: {m:?}"))),
            None => Err(std::io::Error::other("hull closed the sync channel")),
        }
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn roundtrip_with_fd() {
        let (a, b) = Channel::pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&Msg::Console, Some(f.as_fd())).unwrap();
        a.send(&Msg::Error("x".into())).unwrap();
        let (m, fd) = b.recv().unwrap().unwrap();
        assert_eq!(m, Msg::Console);
        assert!(fd.is_some());
        assert_eq!(b.recv().unwrap().unwrap().0, Msg::Error("x".into()));
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }

    #[test]
    fn last_message_survives_a_peer_that_left_ours_unread() {
        let (hull, init) = Channel::pair().unwrap();
        init.send(&Msg::Error("why".into())).unwrap();
        hull.send(&Msg::Placed).unwrap(); // never read
        drop(init);
        assert_eq!(hull.recv().unwrap().unwrap().0, Msg::Error("why".into()));
        assert!(hull.recv().unwrap().is_none());
    }
}
