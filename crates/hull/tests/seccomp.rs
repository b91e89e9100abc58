//! seccomp: `linux.seccomp` in real containers. Each test loads a profile and looks at what the
//! container's process can and cannot do, with the filter loaded both ways hull loads it (early,
//! before the user switch, without noNewPrivileges; last, with it).
//!
//! Against runc: `HULL_TEST_BIN=/usr/sbin/runc HULL_TEST_MESSAGES=0` (runc 1.1.5 refuses notify on
//! `write` and accepts it on `sendmsg`; hull the other way round, see `seccomp::validate`).

mod common;

use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Output;

use common::{check_messages, require_root, unique, Bundle, Runtime, TempDir};
use serde_json::{json, Value};

/// A bundle running `args` with a writable rootfs, under `seccomp`, with
/// `process.noNewPrivileges = nnp`.
fn bundle(args: &[&str], seccomp: Value, nnp: bool) -> Bundle {
    let mut b = Bundle::new(args);
    b.config["root"]["readonly"] = json!(false);
    b.config["process"]["noNewPrivileges"] = json!(nnp);
    b.config["linux"]["seccomp"] = seccomp;
    b.save();
    b
}

/// `sh -c script` under `seccomp`, with `process.noNewPrivileges = nnp`; the run's output.
fn run_with(script: &str, seccomp: Value, nnp: bool) -> Output {
    let b = bundle(&["sh", "-c", script], seccomp, nnp);
    Runtime::new().run_bundle(&b)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs `script` both ways (nnp false and true), asserts success and returns stdout of each.
fn run_ok_both(script: &str, seccomp: &Value) -> Vec<String> {
    [false, true]
        .into_iter()
        .map(|nnp| {
            let o = run_with(script, seccomp.clone(), nnp);
            assert!(o.status.success(), "noNewPrivileges={nnp}: {:?}\n{}", o.status, text(&o));
            String::from_utf8_lossy(&o.stdout).into_owned()
        })
        .collect()
}

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("read fixture")).expect("parse fixture")
}

#[test]
fn mkdir_errno_eperm_and_seccomp_mode_2() {
    if !require_root() {
        return;
    }
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
    let script = "mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && echo touched; grep '^Seccomp:' /proc/self/status";
    for out in run_ok_both(script, &s) {
        assert!(out.contains("Operation not permitted"), "{out}");
        assert!(out.contains("rc=1") && out.contains("touched"), "{out}");
        assert!(out.contains("Seccomp:\t2"), "{out}");
    }
}

#[test]
fn errno_ret_and_default_errno_ret() {
    if !require_root() {
        return;
    }
    // errnoRet on a rule: ENOSYS.
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]});
    for out in run_ok_both("mkdir /tmp/x 2>&1; true", &s) {
        assert!(out.contains("Function not implemented"), "{out}");
    }
    // defaultErrnoRet with an allow list: everything but mkdir is allowed; mkdir gets ENOSPC.
    let podman = fixture("podman-seccomp.json");
    // Every name podman allows unconditionally.
    let lists = podman["syscalls"].as_array().unwrap().iter().filter(|c| c["action"] == "SCMP_ACT_ALLOW" && c["args"].is_null());
    let mut allow: Vec<Value> = lists.flat_map(|c| c["names"].as_array().unwrap().clone()).collect();
    allow.retain(|n| n != "mkdir" && n != "mkdirat");
    assert!(allow.len() > 300);
    let s = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 28, "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]});
    for out in run_ok_both("mkdir /tmp/x 2>&1; echo hi > /tmp/f && cat /tmp/f", &s) {
        assert!(out.contains("No space left on device") && out.contains("hi"), "{out}");
    }
    // defaultAction ERRNO without defaultErrnoRet is EPERM.
    let s = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]});
    for out in run_ok_both("mkdir /tmp/x 2>&1; true", &s) {
        assert!(out.contains("Operation not permitted"), "{out}");
    }
}

/// One condition on chmod(2)'s mode: which modes are refused (EPERM) and which pass.
#[test]
fn argument_filters_every_operator() {
    if !require_root() {
        return;
    }
    let cases: [(Value, &[&str], &[&str]); 7] = [
        (json!({"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}), &["777"], &["700", "755"]),
        (json!({"index": 1, "value": 0o700, "op": "SCMP_CMP_NE"}), &["777", "600"], &["700"]),
        (json!({"index": 1, "value": 0o700, "op": "SCMP_CMP_LT"}), &["600", "000"], &["700", "777"]),
        (json!({"index": 1, "value": 0o700, "op": "SCMP_CMP_LE"}), &["600", "700"], &["701", "777"]),
        (json!({"index": 1, "value": 0o700, "op": "SCMP_CMP_GE"}), &["700", "777"], &["600", "677"]),
        (json!({"index": 1, "value": 0o700, "op": "SCMP_CMP_GT"}), &["701", "777"], &["700", "600"]),
        // value is the mask, valueTwo what the masked argument must equal: world-writable.
        (json!({"index": 1, "value": 0o002, "valueTwo": 0o002, "op": "SCMP_CMP_MASKED_EQ"}), &["777", "702"], &["775", "700"]),
    ];
    for (arg, refused, allowed) in cases {
        let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [arg]}]});
        let modes: Vec<&str> = refused.iter().chain(allowed).copied().collect();
        let script =
            format!("touch /tmp/f; for m in {}; do chmod $m /tmp/f 2>/dev/null && echo $m:ok || echo $m:refused; done", modes.join(" "));
        let out = run_with(&script, s.clone(), true);
        let out = text(&out);
        for m in refused {
            assert!(out.contains(&format!("{m}:refused")), "{arg}: {m} should be refused\n{out}");
        }
        for m in allowed {
            assert!(out.contains(&format!("{m}:ok")), "{arg}: {m} should pass\n{out}");
        }
    }
}

#[test]
fn conditions_on_two_arguments_and_and_the_same_argument_twice_or() {
    if !require_root() {
        return;
    }
    // kill(pid == 1 AND sig == 0): only `kill -0 1` is refused (sh is pid 1).
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]});
    let script = "sleep 10 & bg=$!; kill -0 1 2>/dev/null && echo self0:ok || echo self0:refused; \
                  kill -0 $bg && echo bg0:ok || echo bg0:refused; kill -CONT 1 && echo selfcont:ok; kill $bg";
    for out in run_ok_both(script, &s) {
        assert!(out.contains("self0:refused") && out.contains("bg0:ok") && out.contains("selfcont:ok"), "{out}");
    }
    // The same argument twice: as runc, one rule a condition, so they are ORed (ANDed, sig == 10
    // and sig == 12 could never both hold and nothing would be refused).
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}]});
    let script = "for s in USR1 USR2 CONT; do kill -$s 1 2>/dev/null && echo $s:ok || echo $s:refused; done";
    for out in run_ok_both(script, &s) {
        assert!(out.contains("USR1:refused") && out.contains("USR2:refused") && out.contains("CONT:ok"), "{out}");
    }
}

#[test]
fn kill_trap_trace_and_log_actions() {
    if !require_root() {
        return;
    }
    let rule = |action: &str| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": action}]});
    // The killing actions end the (single-threaded) process with SIGSYS: `run` exits 128+31.
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"] {
        for nnp in [false, true] {
            let b = bundle(&["mkdir", "/tmp/x"], rule(action), nnp);
            let o = Runtime::new().run_bundle(&b);
            assert_eq!(o.status.code(), Some(128 + libc::SIGSYS), "{action} nnp={nnp}: {}", text(&o));
            assert!(!b.rootfs().join("tmp/x").exists(), "{action}: mkdir ran");
        }
    }
    // TRACE without a tracer: the syscall fails with ENOSYS. LOG: allowed (and logged).
    for out in run_ok_both("mkdir /tmp/x 2>&1; true", &rule("SCMP_ACT_TRACE")) {
        assert!(out.contains("Function not implemented"), "{out}");
    }
    for out in run_ok_both("mkdir /tmp/x && echo made", &rule("SCMP_ACT_LOG")) {
        assert!(out.contains("made"), "{out}");
    }
}

#[test]
fn unknown_syscall_names_are_skipped_and_flags_accepted() {
    if !require_root() {
        return;
    }
    let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["no_such_syscall_hull", "mkdir", "another_made_up_one"], "action": "SCMP_ACT_ERRNO"}]});
    for out in run_ok_both("mkdir /tmp/x 2>&1; grep '^Seccomp:' /proc/self/status", &s) {
        assert!(out.contains("Operation not permitted") && out.contains("Seccomp:\t2"), "{out}");
    }
}

/// The profiles podman 4.3 and docker 20.10 pass (captured from their config.json on this
/// machine, see tests/fixtures/README.md) load, and a busybox shell works under them.
#[test]
fn podman_and_docker_default_profiles_load() {
    if !require_root() {
        return;
    }
    for name in ["podman-seccomp.json", "docker-seccomp.json"] {
        let s = fixture(name);
        let script = "echo hello; mkdir /tmp/d && ls -d /tmp/d; ps -o pid,comm | head -3; grep '^Seccomp:' /proc/self/status";
        for out in run_ok_both(script, &s) {
            assert!(out.contains("hello") && out.contains("/tmp/d") && out.contains("Seccomp:\t2"), "{name}: {out}");
        }
    }
}

#[test]
fn exec_gets_the_filter_too() {
    if !require_root() {
        return;
    }
    for nnp in [false, true] {
        let rt = Runtime::new();
        let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
        let b = bundle(&["sleep", "60"], s, nnp);
        let id = unique("seccomp-exec");
        rt.create_and_start(&b, &id);
        let o = rt.run(&["exec", &id, "sh", "-c", "mkdir /tmp/e 2>&1; grep '^Seccomp:' /proc/self/status"]);
        let out = text(&o);
        assert!(out.contains("Operation not permitted") && out.contains("Seccomp:\t2"), "nnp={nnp}: {out}");
        rt.ok(&["delete", "--force", &id]);
    }
}

/// What the test agent saw of one connection: the JSON and how many fds came with it.
struct Received {
    state: Value,
    fds: Vec<OwnedFd>,
}

/// Accepts one connection on `l` and reads the whole message and its fds.
fn receive(l: &UnixListener) -> Received {
    let (conn, _) = l.accept().expect("accept");
    let mut buf = vec![0u8; 64 * 1024];
    let mut cbuf = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let r = nix::sys::socket::recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cbuf), nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC)
        .expect("recvmsg");
    let mut fds = Vec::new();
    for c in r.cmsgs().expect("cmsgs") {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(v) = c {
            // SAFETY: SCM_RIGHTS installed these fds in our table; we own them.
            fds.extend(v.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
        }
    }
    let n = r.bytes;
    let mut data = buf[..n].to_vec();
    (&conn).read_to_end(&mut data).expect("read the rest");
    Received { state: serde_json::from_slice(&data).expect("state JSON"), fds }
}

/// Answers every notification on `fd` until the filter has no process left: mkdir "succeeds"
/// without doing anything, anything else is let through. Returns the syscalls seen.
///
/// The end is seen by poll(2): the fd reports POLLHUP once no process uses the filter (Linux
/// 5.8). SECCOMP_IOCTL_NOTIF_RECV itself only returns then since Linux 6.11 ("seccomp: interrupt
/// SECCOMP_IOCTL_NOTIF_RECV when all users have exited"); on older kernels (Debian 12's 6.1) an
/// agent blocked in it waits forever.
fn answer(fd: &OwnedFd) -> Vec<String> {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut seen = Vec::new();
    loop {
        let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let revents = pfd[0].revents().unwrap_or(PollFlags::POLLHUP);
        if !revents.contains(PollFlags::POLLIN) {
            // POLLHUP (no process left) or POLLERR/POLLNVAL.
            break;
        }
        // A notification whose process was killed in between is gone: ENOENT, poll again.
        let Ok(req) = ScmpNotifReq::receive(fd.as_raw_fd()) else { continue };
        let name = req.data.syscall.get_name().unwrap_or_default();
        let resp = if name == "mkdir" {
            ScmpNotifResp::new_val(req.id, 0, ScmpNotifRespFlags::empty())
        } else {
            ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::empty())
        };
        let _ = resp.respond(fd.as_raw_fd());
        seen.push(name);
    }
    seen
}

#[test]
fn notify_listener_gets_fd_and_state_and_answers() {
    if !require_root() {
        return;
    }
    for nnp in [false, true] {
        let dir = TempDir::new("agent");
        let sock = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let rt = Runtime::new();
        let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "bar",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]});
        let mut b = bundle(&["sh", "-c", "mkdir /tmp/n && echo made; ls -d /tmp/n 2>/dev/null || echo absent"], s, nnp);
        b.config["annotations"] = json!({"org.example.k": "v"});
        b.save();
        let agent = std::thread::spawn(move || {
            let r = receive(&listener);
            let seen = r.fds.first().map(answer).unwrap_or_default();
            (r.state, r.fds.len(), seen)
        });
        let id = unique("seccomp-notify");
        let o = rt.cmd().args(["run", "--bundle", b.arg(), &id]).stdin(std::process::Stdio::null()).output().expect("run");
        let _ = rt.run(&["delete", "--force", &id]);
        let (state, nfds, seen) = agent.join().expect("agent");
        let out = text(&o);
        assert!(o.status.success(), "nnp={nnp}: {out}");
        // The agent answered mkdir with success and made nothing.
        assert!(out.contains("made") && out.contains("absent"), "nnp={nnp}: {out}");
        assert!(seen.iter().any(|s| s == "mkdir"), "{seen:?}");
        assert_eq!(nfds, 1, "{state}");
        let pid = state["pid"].as_i64().expect("pid");
        assert!(pid > 0);
        assert_eq!(state["fds"], json!(["seccompFd"]));
        assert_eq!(state["metadata"], "bar");
        assert!(state["ociVersion"].is_string());
        let st = &state["state"];
        assert_eq!(st["id"], json!(id));
        assert_eq!(st["status"], "creating");
        assert_eq!(st["pid"].as_i64(), Some(pid), "the init's own filter: its pid is the state's");
        assert_eq!(st["bundle"], json!(b.arg()));
        assert_eq!(st["annotations"], json!({"org.example.k": "v"}));
        assert!(st["ociVersion"].is_string());
    }
}

/// As runc's "important syscalls" case: syscalls hull itself makes after loading the filter
/// (reading /proc, closing fds, opening the exec fifo, writing to it, execve) go to the agent,
/// which must already have the fd: nothing may hang.
#[test]
fn notify_on_syscalls_hull_makes_after_loading() {
    if !require_root() {
        return;
    }
    for nnp in [false, true] {
        let dir = TempDir::new("agent");
        let sock = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let names = ["execve", "openat", "open", "read", "close", "fcntl", "close_range", "write", "chdir", "setresuid", "capset"];
        let s =
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]});
        let b = bundle(&["echo", "hello"], s, nnp);
        let agent = std::thread::spawn(move || {
            let r = receive(&listener);
            r.fds.first().map(answer).unwrap_or_default()
        });
        let rt = Runtime::new();
        let o = rt.run_bundle(&b);
        let seen = agent.join().expect("agent");
        assert!(o.status.success(), "nnp={nnp}: {}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
        assert!(seen.iter().any(|s| s == "execve") && seen.iter().any(|s| s == "write"), "nnp={nnp}: {seen:?}");
    }
}

#[test]
fn notify_for_exec_sends_the_exec_process() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("agent");
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let rt = Runtime::new();
    let s =
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    let b = bundle(&["sleep", "60"], s, true);
    let agent = std::thread::spawn(move || {
        let init = receive(&listener);
        // The init's filter is answered in the background; the exec's here.
        let init_fd = init.fds.into_iter().next();
        let bg = std::thread::spawn(move || init_fd.as_ref().map(answer));
        let exec = receive(&listener);
        let seen = exec.fds.first().map(answer).unwrap_or_default();
        drop(bg);
        (init.state, exec.state, seen)
    });
    let id = unique("seccomp-notify-exec");
    rt.create_and_start(&b, &id);
    let o = rt.run(&["exec", &id, "sh", "-c", "mkdir /tmp/e && echo made; ls -d /tmp/e 2>/dev/null || echo absent"]);
    rt.ok(&["delete", "--force", &id]);
    let (init, exec, seen) = agent.join().expect("agent");
    let out = text(&o);
    assert!(out.contains("made") && out.contains("absent"), "{out}");
    assert_eq!(seen, ["mkdir"]);
    assert_eq!(init["state"]["status"], "creating");
    assert_eq!(exec["state"]["status"], "running");
    assert!(exec.get("metadata").is_none(), "no listenerMetadata, no field: {exec}");
    assert_eq!(exec["state"]["pid"], init["pid"], "state.pid is the container's init");
    assert_ne!(exec["pid"], init["pid"], "pid is the exec'd process");
}

#[test]
fn notify_listener_not_listening_fails_create_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("agent");
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": dir.path().join("nobody.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    b.save();
    let id = unique("seccomp-nolistener");
    let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
    assert!(!d.status.success(), "{}", d.stdout);
    if check_messages() {
        assert!(d.stderr.contains("linux.seccomp.listenerPath"), "{}", d.stderr);
    }
    assert!(!rt.root.path().join(&id).exists(), "state directory left behind");
}

#[test]
fn invalid_profiles_are_refused_naming_the_field() {
    if !require_root() {
        return;
    }
    let base = || json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]});
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut s = base();
                s["syscalls"][0]["action"] = json!("SCMP_ACT_BOGUS");
                s
            },
            "linux.seccomp.syscalls[0].action",
        ),
        (json!({"defaultAction": "SCMP_ACT_NOPE"}), "linux.seccomp.defaultAction"),
        (
            {
                let mut s = base();
                s["syscalls"][0]["args"] = json!([{"index": 1, "value": 1, "op": "SCMP_CMP_WHAT"}]);
                s
            },
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            {
                let mut s = base();
                s["syscalls"][0]["args"] = json!([{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]);
                s
            },
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}), "linux.seccomp.architectures[0]"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_S390X"]}),
            "linux.seccomp.architectures[1]",
        ),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}), "linux.seccomp.flags[0]"),
        (json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x.sock"}), "linux.seccomp.defaultAction"),
        (json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}), "linux.seccomp.defaultErrnoRet"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x.sock",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}, {"names": ["read", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[1].names[1]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 65536}]}),
            "linux.seccomp.syscalls[0].errnoRet",
        ),
    ];
    for (s, field) in cases {
        let rt = Runtime::new();
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["seccomp"] = s.clone();
        b.save();
        let id = unique("seccomp-bad");
        let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
        assert!(!d.status.success(), "{s} was accepted");
        if check_messages() {
            assert!(d.stderr.contains(field), "{s}: the error should name {field}: {}", d.stderr);
        }
        // Refused before any side effect: nothing in --root at all, not even the cache.
        let left: Vec<_> = std::fs::read_dir(rt.root.path()).map(|rd| rd.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "{s}: left in --root: {left:?}");
    }
}

#[test]
fn features_report_seccomp() {
    let out = Runtime::new().ok(&["features"]);
    let f: Value = serde_json::from_str(&out).expect("features JSON");
    let s = &f["linux"]["seccomp"];
    assert_eq!(s["enabled"], true);
    let has = |k: &str, v: &str| s[k].as_array().is_some_and(|a| a.iter().any(|x| x == v));
    for a in ["SCMP_ACT_NOTIFY", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW"] {
        assert!(has("actions", a), "{a}: {s}");
    }
    assert!(has("operators", "SCMP_CMP_MASKED_EQ"));
    for a in ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] {
        assert!(has("archs", a), "{a}: {s}");
    }
    assert!(has("knownFlags", "SECCOMP_FILTER_FLAG_LOG") && has("supportedFlags", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"), "{s}");
}
