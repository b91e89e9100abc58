//! `process.terminal`: the pty master handed over a `--console-socket` (SCM_RIGHTS) for
//! `create`, the errors when the console socket and the terminal setting do not go together,
//! and `run` in the foreground proxying the pty to its own terminal (run under util-linux
//! `script`, which gives it one). Each test reads what the container's process wrote to its
//! terminal.

mod common;

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{hull_bin, require_root, unique, wait_child, Bundle, Runtime, TempDir};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::json;

const T: Duration = Duration::from_secs(10);

/// A bundle with `process.terminal` true running `sh -c script`, with `tty` and `stty` linked.
fn tty_bundle(script: &str) -> Bundle {
    let mut b = Bundle::sh(script);
    b.add_applets(&["tty", "stty"]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    b
}

/// Waits up to `timeout` for a connection on `listener` and receives one descriptor sent with
/// SCM_RIGHTS, and the data that came with it.
fn receive_fd(listener: &UnixListener, timeout: Duration) -> (OwnedFd, Vec<u8>) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + timeout;
    let (stream, _) = loop {
        match listener.accept() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("no connection on the console socket: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut data = vec![0u8; 4096];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut data)];
    let msg =
        recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC).expect("recvmsg on the console socket");
    let n = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(list) = c {
            fds.extend(list);
        }
    }
    assert_eq!(fds.len(), 1, "expected exactly one descriptor over the console socket, got {fds:?}");
    // SAFETY: the kernel just installed this descriptor in our table; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    data.truncate(n);
    (fd, data)
}

/// Reads `master` until the other side is closed (EIO once the container's process has ended and
/// the buffer is drained) or `timeout`, whichever comes first.
fn read_pty(master: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [nix::poll::PollFd::new(master.as_fd(), nix::poll::PollFlags::POLLIN)];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("poll on the pty master: {e}"),
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(nix::errno::Errno::EIO) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(e) => panic!("read from the pty master: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lines of terminal output, without the `\r` the pty adds, nor the echo of the NUL that
/// `script` sends for the end of its (empty) input (`^@`, or the raw byte).
fn lines(s: &str) -> Vec<String> {
    s.split('\n')
        .map(|l| l.trim_end_matches('\r').trim_start_matches('\0').trim_start_matches("^@").to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn console_socket_receives_the_pty_master() {
    if !require_root() {
        return;
    }
    let mut b = tty_bundle("tty; echo hello-tty; stty size; stat -c '%F %t %T' /dev/console; exit 3");
    b.config["process"]["consoleSize"] = json!({"height": 40, "width": 100});
    b.save();
    let dir = TempDir::new("console");
    let sock = dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).expect("bind the console socket");
    let rt = Runtime::new();
    let id = unique("tty");
    let d = rt.run_detached(&["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "create with a console socket failed: {}{}", d.stdout, d.stderr);
    let (master, _name) = receive_fd(&listener, T);
    // What came is the master of a pty: it answers the pty ioctls.
    let mut ptn: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut ptn) };
    assert_eq!(r, 0, "the descriptor is not a pty master: {}", std::io::Error::last_os_error());

    rt.ok(&["start", &id]);
    let out = read_pty(&master, T);
    let got = lines(&out);
    assert_eq!(got.first().map(String::as_str), Some("/dev/pts/0"), "tty inside: {out:?}");
    assert!(got.iter().any(|l| l == "hello-tty"), "no hello-tty through the pty: {out:?}");
    assert!(got.iter().any(|l| l == "40 100"), "consoleSize 40x100 not applied (stty size): {out:?}");
    // /dev/console is the pty: a character device of major 136 (0x88, Unix98 pty slaves).
    assert!(got.iter().any(|l| l.starts_with("character special file 88 ")), "/dev/console is not the pty: {out:?}");
    assert!(rt.wait_status(&id, "stopped", T), "{:?}", rt.status(&id));
    rt.ok(&["delete", &id]);
}

#[test]
fn create_with_a_terminal_needs_a_console_socket() {
    if !require_root() {
        return;
    }
    let b = tty_bundle("echo should-not-run");
    let rt = Runtime::new();
    let id = unique("nosock");
    let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
    assert!(!d.status.success(), "create with terminal: true and no --console-socket succeeded");
    assert!(!d.stdout.contains("should-not-run"), "the process ran");
    let msg = format!("{}{}", d.stdout, d.stderr).to_lowercase();
    assert!(msg.contains("console socket") || msg.contains("console-socket"), "unclear error: {msg}");
    assert!(!rt.run(&["state", &id]).status.success(), "a container was left behind");
    assert_eq!(rt.ok(&["list", "-q"]).trim(), "", "list shows a container");
}

#[test]
fn console_socket_without_a_terminal_is_refused() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["echo", "should-not-run"]);
    let dir = TempDir::new("console");
    let sock = dir.path().join("console.sock");
    let _listener = UnixListener::bind(&sock).expect("bind the console socket");
    let rt = Runtime::new();
    let id = unique("sockonly");
    let d = rt.run_detached(&["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.arg(), &id]);
    assert!(!d.status.success(), "create with --console-socket and terminal: false succeeded");
    let msg = format!("{}{}", d.stdout, d.stderr).to_lowercase();
    assert!(msg.contains("console socket") || msg.contains("console-socket"), "unclear error: {msg}");
    assert!(!rt.run(&["state", &id]).status.success(), "a container was left behind");
}

/// `run` (foreground) of `b` under `script`, which gives it a terminal: (exit status, output).
/// `input` is what `script` reads on its stdin and types into the terminal.
fn run_under_script(rt: &Runtime, b: &Bundle, input: &str) -> (Option<i32>, String) {
    let io = TempDir::new("io");
    let id = unique("fgtty");
    let cmd = format!("{} --root {} run --bundle {} {}", hull_bin().display(), rt.root.path().display(), b.arg(), id);
    let out_path = io.path().join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let input_path = io.path().join("in");
    std::fs::write(&input_path, input).unwrap();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(std::fs::File::open(&input_path).unwrap())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn script (util-linux)");
    let status = wait_child(&mut child, T);
    let _ = rt.run(&["delete", "--force", &id]);
    (status.code(), std::fs::read_to_string(&out_path).unwrap_or_default())
}

#[test]
fn run_in_the_foreground_proxies_the_terminal() {
    if !require_root() {
        return;
    }
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: util-linux script is not installed");
        return;
    }
    let b = tty_bundle("tty; echo hi-from-pty; exit 5");
    let rt = Runtime::new();
    let (code, out) = run_under_script(&rt, &b, "");
    let got = lines(&out);
    assert!(got.iter().any(|l| l == "/dev/pts/0"), "the process has no pty of its own: {out:?}");
    assert!(got.iter().any(|l| l == "hi-from-pty"), "the output did not come through: {out:?}");
    assert_eq!(code, Some(5), "the exit status did not pass through: {out:?}");
    assert_eq!(rt.ok(&["list", "-q"]).trim(), "", "run left a container behind");
}

#[test]
fn run_in_the_foreground_passes_terminal_input_to_the_process() {
    if !require_root() {
        return;
    }
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: util-linux script is not installed");
        return;
    }
    let b = tty_bundle("read line; echo \"got-$line\"");
    let rt = Runtime::new();
    let (code, out) = run_under_script(&rt, &b, "typed-in\n");
    assert!(lines(&out).iter().any(|l| l == "got-typed-in"), "the input did not reach the process: {out:?}");
    assert_eq!(code, Some(0), "{out:?}");
}
