//! seccomp_notify: SCMP_ACT_NOTIFY's listener fd, from the container's process to the seccomp
//! agent at `linux.seccomp.listenerPath` (runtime-spec config-linux.md#seccomp, "listenerPath").
//!
//! The child loads the filter (`load_in_child`) and sends the notify fd to hull over the sync
//! channel (`Msg::SeccompFd`). hull (`forward`) connects to the listener's unix socket and sends,
//! in one message, the container process state (runtime-spec's `ContainerProcessState`, the
//! JSON runc sends) with the fd attached by SCM_RIGHTS; `fds` names it `seccompFd`. Then hull
//! closes its copy: only the agent holds the fd.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::Spec;
use serde::Serialize;

use crate::hooks::HookState;
use crate::process::sync::{Channel, Msg};
use crate::seccomp::Filter;

/// The name of the notify fd in `fds` (runtime-spec `SeccompFdName`).
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// What the agent receives with the fd (runtime-spec `ContainerProcessState`).
#[derive(Debug, Serialize)]
pub struct ContainerProcessState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    /// The names of the fds sent along, in order.
    pub fds: Vec<&'a str>,
    /// The (host) pid of the process the filter was loaded into.
    pub pid: i32,
    /// `linux.seccomp.listenerMetadata`, opaque to the runtime.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub metadata: &'a str,
    /// The container's state.
    pub state: &'a HookState,
}

/// In the container's process: loads the filter and, when it notifies, hands the notify fd to
/// hull at once. Nothing else runs between the two: a syscall the filter sends to an agent
/// would wait forever, since no agent has the fd yet (hence `sendmsg` may not notify, see
/// `seccomp::validate`). Our copy of the fd is closed on return.
pub(crate) fn load_in_child(filter: Option<&Filter>, chan: &Channel) -> Result<(), String> {
    let Some(filter) = filter else { return Ok(()) };
    if let Some(fd) = filter.load().map_err(|e| e.to_string())? {
        chan.send_with_fd(&Msg::SeccompFd, Some(fd.as_fd())).map_err(|e| format!("sending the seccomp notify fd to hull: {e}"))?;
    }
    Ok(())
}

/// In hull: sends the notify fd of the process `pid` (the init or an exec'd process) of
/// container `id` to the listener. `status` is the container's status as of now.
pub(crate) fn forward(
    spec: &Spec,
    id: &str,
    bundle: &Path,
    status: &str,
    init_pid: i32,
    pid: i32,
    fd: Option<OwnedFd>,
) -> Result<(), String> {
    let fd = fd.ok_or("the container process sent no seccomp notify fd")?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(listener) = seccomp.and_then(|s| s.listener_path().as_deref()) else {
        // Validation requires a listener whenever a rule notifies.
        return Err("linux.seccomp.listenerPath: not set, but the filter notifies".into());
    };
    let state = HookState {
        oci_version: crate::OCI_VERSION.to_string(),
        id: id.to_string(),
        status: status.to_string(),
        pid: init_pid,
        bundle: bundle.display().to_string(),
        annotations: spec.annotations().clone().unwrap_or_default(),
    };
    let msg = ContainerProcessState {
        oci_version: crate::OCI_VERSION,
        fds: vec![SECCOMP_FD_NAME],
        pid,
        metadata: seccomp.and_then(|s| s.listener_metadata().as_deref()).unwrap_or(""),
        state: &state,
    };
    let json = serde_json::to_vec(&msg).map_err(|e| format!("linux.seccomp: state for the listener: {e}"))?;
    send(listener, &json, fd.as_fd()).map_err(|e| format!("linux.seccomp.listenerPath: {}: {e}", listener.display()))
}

/// Connects to the unix stream socket at `path` and sends `data` with `fd` attached.
fn send(path: &Path, data: &[u8], fd: BorrowedFd<'_>) -> nix::Result<()> {
    use nix::sys::socket::{connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr};
    let s = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    connect(s.as_raw_fd(), &UnixAddr::new(path)?)?;
    let fds = [fd.as_raw_fd()];
    let mut sent = 0;
    // The fd goes with the first bytes; a stream socket may take the rest in more calls.
    while sent < data.len() {
        let iov = [std::io::IoSlice::new(&data[sent..])];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let c: &[ControlMessage] = if sent == 0 { &cmsg } else { &[] };
        match sendmsg::<()>(s.as_raw_fd(), &iov, c, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{IoSliceMut, Read};
    use std::os::fd::{FromRawFd, RawFd};

    #[test]
    fn listener_gets_state_and_fd() {
        let dir = std::env::temp_dir().join(format!("hull-notify-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "annotations": {"a": "b"},
            "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}}
        }))
        .unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        let t = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let mut cbuf = nix::cmsg_space!([RawFd; 1]);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r =
                nix::sys::socket::recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cbuf), nix::sys::socket::MsgFlags::empty()).unwrap();
            let mut fds = vec![];
            for c in r.cmsgs().unwrap() {
                if let nix::sys::socket::ControlMessageOwned::ScmRights(v) = c {
                    fds.extend(v);
                }
            }
            let n = r.bytes;
            let mut rest = Vec::new();
            (&conn).read_to_end(&mut rest).unwrap();
            let mut all = buf[..n].to_vec();
            all.extend(rest);
            for fd in &fds {
                // SAFETY: received by SCM_RIGHTS, ours to close.
                drop(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
            (all, fds.len())
        });
        forward(&spec, "c1", Path::new("/b"), "creating", 42, 43, Some(OwnedFd::from(f))).unwrap();
        let (data, nfds) = t.join().unwrap();
        assert_eq!(nfds, 1);
        let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ociVersion": crate::OCI_VERSION, "fds": ["seccompFd"], "pid": 43, "metadata": "meta",
                "state": {"ociVersion": crate::OCI_VERSION, "id": "c1", "status": "creating", "pid": 42, "bundle": "/b", "annotations": {"a": "b"}}})
        );
        // Field order as runc writes it.
        let text = String::from_utf8(data).unwrap();
        assert!(text.starts_with(r#"{"ociVersion":"#) && text.find("\"fds\"") < text.find("\"pid\""), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_listener_is_an_error_naming_the_field() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}}
        }))
        .unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        let err = forward(&spec, "c1", Path::new("/b"), "creating", 1, 1, Some(OwnedFd::from(f))).unwrap_err();
        assert!(err.starts_with("linux.seccomp.listenerPath: /nonexistent/agent.sock: "), "{err}");
    }
}
