//! `process.terminal`: the pty master handed over a `--console-socket` (SCM_RIGHTS) for
//! `create`, the errors when the console socket and the terminal setting do not go together,
//! and `run` in the foreground proxying the pty to its own terminal (run under util-linux
//! `script`, which gives it one). Each test reads what the container's process wrote to its
//! terminal.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::Duration;

use common::{hull_bin, require_root, unique, wait_child, Bundle, Runtime, TempDir};
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
    let (master, _name) = common::receive_fd(&listener, T);
    // What came is the master of a pty: it answers the pty ioctls.
    let mut ptn: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut ptn) };
    assert_eq!(r, 0, "the descriptor is not a pty master: {}", std::io::Error::last_os_error());

    rt.ok(&["start", &id]);
    let out = common::read_pty(&master, T);
    let got = common::pty_lines(&out);
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
    let got = common::pty_lines(&out);
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
    assert!(common::pty_lines(&out).iter().any(|l| l == "got-typed-in"), "the input did not reach the process: {out:?}");
    assert_eq!(code, Some(0), "{out:?}");
}
