//! `exec`: a process started in a running container (a detached `sleep`), each flag asserted by
//! its effect inside: user and groups, cwd, env, capabilities (never inheritable or ambient,
//! CVE-2022-29162), no_new_privs, a pty over `--console-socket`, `--detach` with `--pid-file`,
//! `--preserve-fds` and LISTEN_FDS, `-p process.json`, the exit status, and the errors (bad
//! `--user`, bad process.json, stopped, unknown or paused container), after which nothing has
//! changed: no new process in the container's cgroup.
//!
//! The container's cgroup is a `cgroupsPath` the test sets, so its processes are read from
//! /sys/fs/cgroup/pids/<cgroupsPath>/cgroup.procs (cgroup v1 on this host).

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{check_messages, hull_bin, poll, require_root, unique, wait_child, Bundle, Outcome, Runtime, TempDir};
use serde_json::json;

const T: Duration = Duration::from_secs(10);

/// The v1 controllers mounted on this host.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio"];

/// On drop, removes the (empty) cgroup directories at `path` that a failing runtime left behind.
struct CgroupCleanup(String);

impl Drop for CgroupCleanup {
    fn drop(&mut self) {
        for ctrl in V1_CONTROLLERS {
            let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{ctrl}{}", self.0));
        }
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup{}", self.0));
    }
}

/// A container with its own runtime root and cgroupsPath. Fields drop in order: the
/// runtime first (it deletes the container), the cgroup directories last.
struct Ctr {
    rt: Runtime,
    id: String,
    /// The container's `linux.cgroupsPath` (absolute, so it is the same in every hierarchy).
    cg: String,
    bundle: Bundle,
    io: TempDir,
    _cleanup: CgroupCleanup,
}

impl Ctr {
    /// A container to be made from `b` (its cgroupsPath set here), not created yet.
    fn new(mut b: Bundle) -> Ctr {
        let cg = format!("/{}", unique("hull-exec-cg"));
        b.config["linux"]["cgroupsPath"] = json!(cg);
        b.save();
        Ctr { rt: Runtime::new(), id: unique("exec"), cg: cg.clone(), bundle: b, io: TempDir::new("io"), _cleanup: CgroupCleanup(cg) }
    }

    /// Creates and starts a container from `b`.
    fn start(b: Bundle) -> Ctr {
        let c = Ctr::new(b);
        c.rt.create_and_start(&c.bundle, &c.id);
        c
    }

    /// A running `sleep 1000` container.
    fn sleeper() -> Ctr {
        Ctr::start(Bundle::new(&["sleep", "1000"]))
    }

    /// A running `sleep 1000` container whose config `edit` changed.
    fn sleeper_with(edit: impl FnOnce(&mut serde_json::Value)) -> Ctr {
        let mut b = Bundle::new(&["sleep", "1000"]);
        edit(&mut b.config);
        Ctr::start(b)
    }

    /// `exec <flags...> <id> <cmd...>`: `args` is everything after `exec`, with `ID` standing for
    /// the container's id. Output goes to files, so a process left running cannot hang the test.
    fn exec(&self, args: &[&str]) -> Outcome {
        let mut full = vec!["exec"];
        full.extend(args.iter().map(|a| if *a == "ID" { self.id.as_str() } else { a }));
        self.rt.run_logged(&full, self.io.path(), T)
    }

    /// `exec` that must succeed: its stdout.
    fn exec_ok(&self, args: &[&str]) -> String {
        let o = self.exec(args);
        assert!(o.success(), "exec {args:?} failed: {}", o.describe());
        o.stdout
    }

    /// The pids in the container's cgroup (pids controller), sorted.
    fn procs(&self) -> Vec<i64> {
        let path = common::cgroup_dir("pids", &self.cg).join("cgroup.procs").display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut v: Vec<i64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        v.sort();
        v
    }

    fn init_pid(&self) -> i64 {
        self.rt.pid(&self.id)
    }
}

/// Runs `cmd` (a runtime command line) with stdin closed and stdout/stderr in files of `c.io`;
/// what it did (killed after `T`).
fn run_command(c: &Ctr, cmd: &mut Command) -> Outcome {
    let (out_path, err_path) = (c.io.path().join("stdout"), c.io.path().join("stderr"));
    cmd.stdin(Stdio::null()).stdout(std::fs::File::create(&out_path).unwrap()).stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("spawn runtime");
    let status = poll(T, || child.try_wait().expect("wait for runtime"));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Outcome { status, stdout: read(&out_path), stderr: read(&err_path) }
}

/// Asserts that a failed exec exited 255 and (when messages are checked) said `needle`.
fn assert_exec_error(o: &Outcome, needle: &str, what: &str) {
    assert_eq!(o.status.and_then(|s| s.code()), Some(255), "{what}: exec did not exit 255: {}", o.describe());
    if check_messages() {
        assert!(o.text().contains(needle), "{what}: the error does not name {needle:?}: {}", o.describe());
    }
}

/// The `Key:\tvalue` fields of a /proc/<pid>/status text.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')).map(str::trim))
}

/// A capability mask of a /proc/<pid>/status text (`CapEff`, ...).
fn cap_mask(status: &str, key: &str) -> u64 {
    let hex = status_field(status, key).unwrap_or_else(|| panic!("no {key} in {status}"));
    u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{key}: {hex}: {e}"))
}

const CAP_NET_ADMIN: u64 = 1 << 12;

// ---------------------------------------------------------------------------------------------
// --user, --additional-gids

#[test]
fn user_uid_and_gid() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let out = c.exec_ok(&["-u", "1000:1000", "ID", "sh", "-c", "id -u; id -g"]);
    assert_eq!(out, "1000\n1000\n", "-u 1000:1000");
    let out = c.exec_ok(&["-u", "1000:1000", "ID", "id"]);
    assert!(out.starts_with("uid=1000 gid=1000"), "-u 1000:1000 id: {out}");
    // A uid alone: gid 0.
    let out = c.exec_ok(&["-u", "1", "ID", "sh", "-c", "id -u; id -g"]);
    assert_eq!(out, "1\n0\n", "-u 1");
    let out = c.exec_ok(&["-u", "0", "ID", "sh", "-c", "id -u; id -g"]);
    assert_eq!(out, "0\n0\n", "-u 0");
}

#[test]
fn cve_2026_30892_bad_user_values_are_refused_and_change_nothing() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let before = c.procs();
    for bad in [":1", "a", "1:", "-1", "4294967296", "1:a"] {
        let o = c.exec(&["-u", bad, "ID", "echo", "RAN"]);
        assert!(!o.stdout.contains("RAN"), "-u {bad:?}: the command ran: {}", o.describe());
        assert_exec_error(&o, "--user", &format!("-u {bad:?}"));
        assert_eq!(c.procs(), before, "-u {bad:?}: the container's processes changed");
    }
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("running"));
}

/// `--apparmor` and `--process-label` on a host where that LSM is not enabled (this one), or
/// naming a profile that is not loaded (AppArmor in the guest): refused naming the field, the
/// command never runs unconfined, the container is untouched.
#[test]
fn lsm_flags_the_host_cannot_honour_are_refused_and_change_nothing() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let before = c.procs();
    let sys = std::path::Path::new("/sys");
    for (flag, value, field, enabled) in [
        ("--apparmor", "hull-test-never-loaded", "process.apparmorProfile", libhull::lsm::apparmor_enabled(sys)),
        ("--process-label", "system_u:system_r:hull_never_defined_t:s0", "process.selinuxLabel", libhull::lsm::selinux_enabled(sys)),
    ] {
        let o = c.exec(&[flag, value, "ID", "echo", "RAN"]);
        assert!(!o.stdout.contains("RAN"), "{flag}: the command ran: {}", o.describe());
        assert_exec_error(&o, field, flag);
        if !enabled && check_messages() {
            assert!(o.text().contains("is not enabled on this host"), "{flag}: {}", o.describe());
        }
        assert_eq!(c.procs(), before, "{flag}: the container's processes changed");
    }
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("running"));
}

#[test]
fn additional_gids() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let out = c.exec_ok(&["-g", "5", "-g", "6", "ID", "cat", "/proc/self/status"]);
    let mut groups: Vec<&str> = status_field(&out, "Groups").unwrap_or("").split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["5", "6"], "Groups of -g 5 -g 6");
    let out = c.exec_ok(&["-g", "5", "-g", "6", "ID", "id", "-G"]);
    let ids: Vec<&str> = out.split_whitespace().collect();
    assert!(ids.contains(&"5") && ids.contains(&"6"), "id -G: {out}");
}

// ---------------------------------------------------------------------------------------------
// --cwd, --env, --cap, --no-new-privs

#[test]
fn cwd_flag() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    assert_eq!(c.exec_ok(&["--cwd", "/tmp", "ID", "pwd"]), "/tmp\n");
    // Without it, the config's cwd (/).
    assert_eq!(c.exec_ok(&["ID", "pwd"]), "/\n");
}

#[test]
fn env_flag_adds_to_the_config_env() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper_with(|cfg| cfg["process"]["env"] = json!(["PATH=/bin", "KEEP=me", "OVER=old"]));
    let out = c.exec_ok(&["-e", "A=B", "-e", "OVER=new", "ID", "env"]);
    let vars: Vec<&str> = out.lines().collect();
    for want in ["A=B", "KEEP=me", "PATH=/bin", "OVER=new"] {
        assert!(vars.contains(&want), "{want} missing from env: {out}");
    }
    assert!(!vars.contains(&"OVER=old"), "-e did not override the config's value: {out}");
}

/// An environment entry without `=` is refused (runc: "invalid environment variable"), from `-e`
/// and from a process.json, and nothing runs; `create` refuses it in config.json already.
#[test]
fn env_without_equals_is_refused() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let before = c.procs();
    let o = c.exec(&["-e", "NOEQUALS", "ID", "echo", "RAN"]);
    assert!(!o.stdout.contains("RAN"), "-e NOEQUALS: the command ran: {}", o.describe());
    assert_exec_error(&o, "NOEQUALS", "-e NOEQUALS");
    let p = c.io.path().join("process.json");
    let process = json!({"args": ["echo", "RAN"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin", "NOEQUALS"]});
    std::fs::write(&p, serde_json::to_vec(&process).unwrap()).unwrap();
    let o = c.exec(&["-p", p.to_str().unwrap(), "ID"]);
    assert!(!o.stdout.contains("RAN"), "process.json env NOEQUALS: the command ran: {}", o.describe());
    assert_exec_error(&o, "NOEQUALS", "process.json env NOEQUALS");
    assert_eq!(c.procs(), before, "the container's processes changed");
}

#[test]
fn cve_2022_29162_cap_flag_adds_to_effective_permitted_bounding_never_inheritable_or_ambient() {
    if !require_root() {
        return;
    }
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let c = Ctr::sleeper_with(|cfg| cfg["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps}));
    let plain = c.exec_ok(&["ID", "cat", "/proc/self/status"]);
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(cap_mask(&plain, key) & CAP_NET_ADMIN, 0, "{key} has CAP_NET_ADMIN without --cap");
    }
    let out = c.exec_ok(&["--cap", "CAP_NET_ADMIN", "ID", "cat", "/proc/self/status"]);
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        let m = cap_mask(&out, key);
        assert_ne!(m & CAP_NET_ADMIN, 0, "{key} {m:x} lacks CAP_NET_ADMIN");
        // The config's capabilities are kept.
        assert_eq!(m & cap_mask(&plain, key), cap_mask(&plain, key), "{key} lost the config's capabilities");
    }
    // CVE-2022-29162: nothing inheritable (or ambient), so an exec'd setcap binary gains nothing.
    assert_eq!(cap_mask(&out, "CapInh"), 0, "CapInh: {out}");
    assert_eq!(cap_mask(&out, "CapAmb"), 0, "CapAmb: {out}");
}

#[test]
fn no_new_privs_flag() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper_with(|cfg| cfg["process"]["noNewPrivileges"] = json!(false));
    let plain = c.exec_ok(&["ID", "cat", "/proc/self/status"]);
    assert_eq!(status_field(&plain, "NoNewPrivs"), Some("0"), "config says noNewPrivileges false");
    let out = c.exec_ok(&["--no-new-privs", "ID", "cat", "/proc/self/status"]);
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("1"), "--no-new-privs");
}

// ---------------------------------------------------------------------------------------------
// terminal

/// `exec -d -t --console-socket S`: the pty master arrives on the socket, the process's stdio is
/// the pty (runc needs `-d` for a console socket; this is what conmon does).
#[test]
fn tty_through_a_console_socket() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    b.add_applets(&["tty"]);
    let c = Ctr::start(b);
    let dir = TempDir::new("console");
    let sock = dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).expect("bind the console socket");
    let o = c.exec(&["-d", "-t", "--console-socket", sock.to_str().unwrap(), "ID", "sh", "-c", "tty; tty <&1; echo hello-exec-tty"]);
    assert!(o.success(), "exec -d -t --console-socket failed: {}", o.describe());
    let master = common::receive_fd(&listener, T).0;
    let mut ptn: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut ptn) };
    assert_eq!(r, 0, "the descriptor is not a pty master: {}", std::io::Error::last_os_error());
    let out = common::read_pty(&master, T);
    let got = common::pty_lines(&out);
    assert_eq!(got.len(), 3, "tty output: {out:?}");
    assert!(got[0].starts_with("/dev/pts/"), "stdin is not a pty: {out:?}");
    assert_eq!(got[0], got[1], "stdin and stdout are different terminals: {out:?}");
    assert_eq!(got[2], "hello-exec-tty");
}

/// `exec -t` in the foreground (under `script`, which gives the runtime a terminal): the
/// runtime proxies the pty and exits with the process's status.
#[test]
fn tty_in_the_foreground_passes_the_exit_status() {
    if !require_root() {
        return;
    }
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: util-linux script is not installed");
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    b.add_applets(&["tty"]);
    let c = Ctr::start(b);
    let cmd = format!("{} --root {} exec -t {} sh -c 'tty; echo hi-fg; exit 3'", hull_bin().display(), c.rt.root.path().display(), c.id);
    let out_path = c.io.path().join("script-out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn script");
    let status = wait_child(&mut child, T);
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    let got = common::pty_lines(&text);
    assert!(got.iter().any(|l| l.starts_with("/dev/pts/")), "no pty: {text:?}");
    assert!(got.iter().any(|l| l == "hi-fg"), "output did not come through: {text:?}");
    assert_eq!(status.code(), Some(3), "exit status: {text:?}");
}

/// runc's rules: a console socket only with `--detach` and `--tty`, and `--detach --tty` needs one.
/// Each refusal is exit 255 and leaves the container as it was.
#[test]
fn console_socket_goes_with_detach_and_tty() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let dir = TempDir::new("console");
    let sock = dir.path().join("console.sock");
    let _listener = UnixListener::bind(&sock).expect("bind the console socket");
    let sock = sock.to_str().unwrap();
    let before = c.procs();
    for (args, needle) in [
        (vec!["-d", "-t", "ID", "echo", "RAN"], "console"),
        (vec!["-d", "--console-socket", sock, "ID", "echo", "RAN"], "console"),
        (vec!["--console-socket", sock, "ID", "echo", "RAN"], "console"),
    ] {
        let o = c.exec(&args);
        assert!(!o.stdout.contains("RAN"), "{args:?}: the command ran: {}", o.describe());
        assert_exec_error(&o, needle, &format!("{args:?}"));
        assert_eq!(c.procs(), before, "{args:?}: the container's processes changed");
    }
}

/// runc refuses `--console-socket` in the foreground ("cannot use console socket if runc will not
/// detach or allocate tty"), even with `--tty`: the runtime would keep the process without its
/// terminal.
#[test]
fn foreground_exec_refuses_a_console_socket() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let dir = TempDir::new("console");
    let sock = dir.path().join("console.sock");
    let _listener = UnixListener::bind(&sock).expect("bind the console socket");
    let before = c.procs();
    let o = c.exec(&["-t", "--console-socket", sock.to_str().unwrap(), "ID", "echo", "RAN"]);
    assert_exec_error(&o, "console", "-t --console-socket without -d");
    assert_eq!(c.procs(), before, "the container's processes changed");
}

// ---------------------------------------------------------------------------------------------
// exit status

#[test]
fn exit_status_passes_through() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let o = c.exec(&["ID", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.and_then(|s| s.code()), Some(7), "{}", o.describe());
    let o = c.exec(&["ID", "true"]);
    assert_eq!(o.status.and_then(|s| s.code()), Some(0), "{}", o.describe());
    // Killed by a signal: 128 + the signal, as a shell reports it.
    let o = c.exec(&["ID", "sh", "-c", "kill -9 $$"]);
    assert_eq!(o.status.and_then(|s| s.code()), Some(137), "{}", o.describe());
}

#[test]
fn missing_program_fails_with_255_naming_it() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let before = c.procs();
    let o = c.exec(&["ID", "/bin/no-such-program"]);
    assert_exec_error(&o, "no-such-program", "missing absolute program");
    let o = c.exec(&["ID", "no-such-program"]);
    assert_exec_error(&o, "no-such-program", "missing program in PATH");
    assert_eq!(c.procs(), before, "a failed exec left a process");
}

/// Starts a foreground `exec` of a shell that says `ready`, then exits 4 on SIGTERM; waits until
/// it said `ready` (polling every `every`), sends SIGTERM to the runtime after `delay`, and
/// returns the runtime's exit code and the process's output.
fn sigterm_foreground_exec(c: &Ctr, every: Duration, delay: Duration) -> (Option<i32>, String) {
    let out_path = c.io.path().join("sig-out");
    let script = "trap 'echo got-term; exit 4' TERM; echo ready; while :; do sleep 0.1; done";
    let mut child =
        c.rt.cmd()
            .args(["exec", &c.id, "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let deadline = Instant::now() + T;
    while !std::fs::read_to_string(&out_path).unwrap_or_default().contains("ready") {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the exec'd process never said ready");
        }
        std::thread::sleep(every);
    }
    std::thread::sleep(delay);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait_child(&mut child, T);
    (status.code(), std::fs::read_to_string(&out_path).unwrap())
}

/// In the foreground the runtime forwards the signals it gets to the process and exits with
/// the process's status.
#[test]
fn signals_are_forwarded_in_the_foreground() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let (code, out) = sigterm_foreground_exec(&c, Duration::from_millis(20), Duration::from_millis(300));
    assert_eq!(out, "ready\ngot-term\n", "the SIGTERM did not reach the process");
    assert_eq!(code, Some(4));
}

/// A signal that comes as soon as the process runs is forwarded too: runc sets up its signal
/// handling before it starts the process, so there is no window where a SIGTERM kills the
/// runtime and leaves the process running without it.
#[test]
fn signals_right_after_the_start_are_forwarded() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    for i in 0..20 {
        let (code, out) = sigterm_foreground_exec(&c, Duration::from_micros(200), Duration::ZERO);
        assert_eq!((code, out.as_str()), (Some(4), "ready\ngot-term\n"), "try {i}: the SIGTERM was not forwarded");
    }
}

// ---------------------------------------------------------------------------------------------
// --detach, --pid-file, namespaces and cgroup

/// The inode of each /proc/<pid>/ns/* link, by name.
fn namespaces(pid: i64) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/ns")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(target) = std::fs::read_link(e.path()) {
            m.insert(name, target.to_string_lossy().into_owned());
        }
    }
    m
}

#[test]
fn detach_with_pid_file_joins_every_namespace_and_the_cgroup() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let init = c.init_pid();
    let pid_file = c.io.path().join("exec.pid");
    let started = Instant::now();
    let o = c.exec(&["-d", "--pid-file", pid_file.to_str().unwrap(), "ID", "sleep", "999"]);
    let took = started.elapsed();
    assert!(o.success(), "exec -d failed: {}", o.describe());
    assert!(took < Duration::from_secs(5), "exec -d took {took:?}: it waited for the process");
    let text = std::fs::read_to_string(&pid_file).expect("the pid file was written");
    let pid: i64 = text.trim().parse().unwrap_or_else(|_| panic!("pid file holds {text:?}"));
    assert_ne!(pid, init);
    assert!(c.procs().contains(&pid), "{pid} not in the container's cgroup: {:?}", c.procs());
    assert_eq!(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap(), b"sleep\0999\0", "{pid} does not run the command");
    // Every namespace of the init, none of the host's (the config has pid, net, ipc, uts, mnt).
    let (theirs, ours) = (namespaces(init), namespaces(pid));
    assert_eq!(ours, theirs, "the exec'd process's namespaces differ from the init's");
    let host = namespaces(std::process::id() as i64);
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        assert_ne!(ours.get(ns), host.get(ns), "the exec'd process is in the host's {ns} namespace");
    }
    // Its cgroup is the container's, for every controller (memory and pids included).
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    if common::cgroup_v2_only() {
        assert!(cgroup.lines().any(|l| l == format!("0::{}", c.cg)), "cgroup of {pid}: {cgroup}");
    } else {
        for ctrl in ["memory", "pids"] {
            assert!(cgroup.lines().any(|l| l.ends_with(&format!(":{ctrl}:{}", c.cg))), "{ctrl} cgroup of {pid}: {cgroup}");
        }
        for ctrl in V1_CONTROLLERS {
            let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{}/cgroup.procs", c.cg)).unwrap_or_default();
            assert!(procs.lines().any(|l| l.trim() == pid.to_string()), "{pid} not in {ctrl}{}", c.cg);
        }
    }
    // The container is still running, and deleting it ends the exec'd process too.
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("running"));
    c.rt.ok(&["delete", "--force", &c.id]);
    assert!(poll(T, || common::pid_ended(pid).then_some(())).is_some(), "exec'd {pid} outlived delete --force");
}

#[test]
fn exec_is_in_the_pid_namespace() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let out = c.exec_ok(&["ID", "sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]*$'"]);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l.len(), 3, "{out}");
    let me: i64 = l[0].parse().unwrap();
    assert_ne!(me, 1, "the exec'd process is pid 1");
    assert_eq!(l[1].trim(), "sleep 1000", "pid 1 is not the container's init");
    // init, the shell, ls and grep (at most): not the host's processes.
    assert!(l[2].parse::<u32>().unwrap() <= 5, "the process sees {} pids: not the container's pid namespace", l[2]);
}

// ---------------------------------------------------------------------------------------------
// file descriptors

/// Makes `fd` the child's fd 3 (without close-on-exec) before it execs.
fn with_fd3(cmd: &mut Command, fd: &std::fs::File) {
    let raw = fd.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe and only touch the child's descriptor table.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The descriptor numbers in sorted `ls /proc/self/fd` output, without the last: the directory
/// `ls` itself opened to list.
fn fd_numbers(ls: &str) -> Vec<String> {
    let mut v: Vec<String> = ls.split_whitespace().map(str::to_owned).collect();
    v.pop();
    v
}

/// A file with `content`, opened for reading.
fn content_file(dir: &Path, content: &str) -> std::fs::File {
    let p = dir.join("passed");
    std::fs::write(&p, content).unwrap();
    std::fs::File::open(&p).unwrap()
}

#[test]
fn preserve_fds_passes_the_runtimes_fd_3() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let dir = TempDir::new("fds");
    let file = content_file(dir.path(), "through fd 3\n");
    let script = "cat /proc/self/fd/3; ls /proc/self/fd | sort -n | tr '\\n' ' '";
    let mut cmd = c.rt.cmd();
    cmd.args(["exec", "--preserve-fds", "1", &c.id, "sh", "-c", script]);
    with_fd3(&mut cmd, &file);
    let o = run_command(&c, &mut cmd);
    assert!(o.success(), "exec --preserve-fds 1: {}", o.describe());
    let (first, ls) = o.stdout.split_once('\n').unwrap_or(("", ""));
    assert_eq!(first, "through fd 3", "{}", o.describe());
    assert_eq!(fd_numbers(ls), ["0", "1", "2", "3"], "fds: {ls}");

    // Without the flag the runtime's fd 3 does not leak in.
    let mut cmd = c.rt.cmd();
    cmd.args(["exec", &c.id, "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"]);
    with_fd3(&mut cmd, &file);
    let o = run_command(&c, &mut cmd);
    assert!(o.success(), "exec: {}", o.describe());
    assert_eq!(fd_numbers(&o.stdout), ["0", "1", "2"], "fds: {}", o.stdout);
}

/// runc does not do socket activation for `exec` (only `create`/`run` read LISTEN_FDS): the
/// runtime's fd 3 is not passed and LISTEN_FDS/LISTEN_PID are not set in the process.
#[test]
fn listen_fds_are_not_passed_to_exec() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper_with(|cfg| cfg["process"]["env"] = json!(["PATH=/bin"]));
    let dir = TempDir::new("fds");
    let file = content_file(dir.path(), "activated\n");
    let script = "echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; ls /proc/self/fd | sort -n | tr '\\n' ' '";
    // LISTEN_PID must be the runtime's own pid: a shell sets it to $$ and execs the runtime.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\""])
        .arg(hull_bin())
        .arg("--root")
        .arg(c.rt.root.path())
        .args(["exec", &c.id, "sh", "-c", script]);
    with_fd3(&mut cmd, &file);
    let o = run_command(&c, &mut cmd);
    assert!(o.success(), "exec with LISTEN_FDS: {}", o.describe());
    let (first, ls) = o.stdout.split_once('\n').unwrap_or(("", ""));
    assert_eq!(first, "LISTEN_FDS= LISTEN_PID=", "{}", o.describe());
    assert_eq!(fd_numbers(ls), ["0", "1", "2"], "fds: {ls}");

    // With --preserve-fds 1 the fd comes, still without the activation variables.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\""]).arg(hull_bin()).arg("--root").arg(c.rt.root.path()).args([
        "exec",
        "--preserve-fds",
        "1",
        &c.id,
        "sh",
        "-c",
        script,
    ]);
    with_fd3(&mut cmd, &file);
    let o = run_command(&c, &mut cmd);
    assert!(o.success(), "exec --preserve-fds 1 with LISTEN_FDS: {}", o.describe());
    let (first, ls) = o.stdout.split_once('\n').unwrap_or(("", ""));
    assert_eq!(first, "LISTEN_FDS= LISTEN_PID=", "{}", o.describe());
    assert_eq!(fd_numbers(ls), ["0", "1", "2", "3"], "fds: {ls}");
}

// ---------------------------------------------------------------------------------------------
// --process

#[test]
fn process_json_runs_as_described() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let p = c.io.path().join("process.json");
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1001, "additionalGids": [7]},
        "args": ["sh", "-c", "id -u; id -g; pwd; echo \"$FOO\"; grep -E '^(Groups|NoNewPrivs):' /proc/self/status"],
        "env": ["PATH=/bin", "FOO=from-process-json"],
        "cwd": "/tmp",
        "noNewPrivileges": true
    });
    std::fs::write(&p, serde_json::to_vec(&process).unwrap()).unwrap();
    let out = c.exec_ok(&["-p", p.to_str().unwrap(), "ID"]);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l.len(), 6, "{out}");
    assert_eq!(&l[..4], ["1000", "1001", "/tmp", "from-process-json"], "{out}");
    assert_eq!(l[4].split_whitespace().collect::<Vec<_>>(), ["Groups:", "7"], "{out}");
    assert_eq!(l[5].split_whitespace().collect::<Vec<_>>(), ["NoNewPrivs:", "1"], "{out}");
}

#[test]
fn bad_process_json_is_refused_naming_the_field() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let before = c.procs();
    let p = c.io.path().join("process.json");
    let cases = [
        (json!({"args": ["echo", "RAN"], "cwd": 5, "user": {"uid": 0, "gid": 0}}), "cwd"),
        (json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}), "args"),
        (json!({"args": ["echo", "RAN"], "cwd": "/", "user": {"uid": -1, "gid": 0}}), "uid"),
        (json!({"args": ["echo", "RAN"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": "PATH=/bin"}), "env"),
    ];
    for (process, field) in cases {
        std::fs::write(&p, serde_json::to_vec(&process).unwrap()).unwrap();
        let o = c.exec(&["-p", p.to_str().unwrap(), "ID"]);
        assert!(!o.stdout.contains("RAN"), "{process}: the command ran");
        assert_exec_error(&o, field, &process.to_string());
        assert_eq!(c.procs(), before, "{process}: the container's processes changed");
    }
    // Not JSON at all, and a missing file.
    std::fs::write(&p, "{not json").unwrap();
    let o = c.exec(&["-p", p.to_str().unwrap(), "ID"]);
    assert_exec_error(&o, "process.json", "not JSON");
    let o = c.exec(&["-p", "/nonexistent/process.json", "ID"]);
    assert_exec_error(&o, "/nonexistent/process.json", "missing file");
    assert_eq!(c.procs(), before);
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("running"));
}

// ---------------------------------------------------------------------------------------------
// container states

/// A created (not yet started) container can be exec'd into, as with runc; its init stays
/// waiting for `start`.
#[test]
fn exec_into_a_created_container_runs_and_does_not_start_it() {
    if !require_root() {
        return;
    }
    let c = Ctr::new(Bundle::new(&["sleep", "1000"]));
    c.rt.create(&c.bundle, &c.id);
    assert_eq!(c.exec_ok(&["ID", "echo", "in-created"]), "in-created\n");
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("created"), "exec started the container");
}

#[test]
fn exec_into_a_stopped_container_fails() {
    if !require_root() {
        return;
    }
    let c = Ctr::start(Bundle::new(&["true"]));
    assert!(c.rt.wait_status(&c.id, "stopped", T), "{:?}", c.rt.status(&c.id));
    let o = c.exec(&["ID", "echo", "RAN"]);
    assert!(!o.stdout.contains("RAN"), "{}", o.describe());
    assert_exec_error(&o, "cannot exec in a stopped container", "stopped container");
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("stopped"));
}

#[test]
fn exec_into_an_unknown_container_fails() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let id = unique("nosuch");
    let o = rt.run_logged(&["exec", &id, "echo", "RAN"], io.path(), T);
    assert!(!o.stdout.contains("RAN"), "{}", o.describe());
    assert_exec_error(&o, "container does not exist", "unknown id");
    assert!(!rt.root.path().join(&id).exists(), "exec made a state directory");
}

#[test]
fn exec_into_a_paused_container_fails_without_ignore_paused() {
    if !require_root() {
        return;
    }
    let c = Ctr::sleeper();
    let p = c.rt.run(&["pause", &c.id]);
    assert!(p.status.success(), "pause: {}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(c.rt.status(&c.id).as_deref(), Some("paused"));
    let before = c.procs();
    let o = c.exec(&["ID", "echo", "RAN"]);
    assert!(!o.stdout.contains("RAN"), "{}", o.describe());
    assert_exec_error(&o, "paused", "paused container");
    assert_eq!(c.procs(), before, "the container's processes changed");
    c.rt.ok(&["resume", &c.id]);
    assert_eq!(c.exec_ok(&["ID", "echo", "after-resume"]), "after-resume\n");
}
