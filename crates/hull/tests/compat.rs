//! What container engines depend on beyond the lifecycle itself, in the exact shape each one
//! calls the runtime (measured with a logging wrapper around runc; tests/engines/ runs the
//! engines themselves):
//! - Go-style single-dash long options (`-root`, `-no-subreaper`, `-pid-file=P`): runc parses
//!   flags with Go's flag package, and containerd's shim passes `-no-subreaper`; options end at
//!   the container id, so the container's own argv is never touched.
//! - containerd's runc v2 shim (also under docker): every call with `--root R --log
//!   B/log.json --log-format json`, create with `--pid-file`, exec with `--process --detach
//!   --pid-file`, `ps --format json`, `update --resources -` (docker's JSON), signals as numbers
//!   after the id, and the error of a failed call read back from the JSON log.
//! - podman's conmon: no global flags at all, `kill <id> <number>`, `delete --force`.
//! - rootless podman: hull runs as root in podman's user namespace, without USER, and the
//!   container shares that namespace; its state goes under $XDG_RUNTIME_DIR.
//! - Error words engines turn into exit statuses (docker, podman: 127 for a missing program,
//!   126 for one that cannot run) and show as the container's log (a failed execve).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{pid_ended, poll, require_root, unique, Bundle, Runtime, TempDir};

const T: Duration = Duration::from_secs(10);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` with stdin closed and stdout/stderr into files (a container started by it holds
/// them): (success, stdout, stderr).
fn run_files(mut cmd: Command, io: &Path) -> (bool, String, String) {
    let (o, e) = (io.join("out"), io.join("err"));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .expect("spawn runtime");
    (status.success(), std::fs::read_to_string(&o).unwrap_or_default(), std::fs::read_to_string(&e).unwrap_or_default())
}

fn read_pid(path: &Path) -> i64 {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("pid file {}: {e}", path.display()));
    t.trim().parse().unwrap_or_else(|_| panic!("pid file {} holds {t:?}", path.display()))
}

/// A file of the v1 cgroup (or the v2 group) that host process `pid` is in.
fn cgroup_file_of(pid: i64, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        if ctrls.split(',').any(|c| c == controller) {
            return std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}{path}/{v1_file}")).unwrap().trim().to_string();
        }
        if ctrls.is_empty() && common::cgroup_v2_only() {
            return std::fs::read_to_string(format!("/sys/fs/cgroup{path}/{v2_file}")).unwrap().trim().to_string();
        }
    }
    panic!("no {controller} cgroup for {pid}: {text}");
}

#[test]
fn go_style_single_dash_long_options_are_accepted_until_the_id() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let rt = Runtime::new();
    let dir = TempDir::new("go-flags");
    let log = dir.path().join("log.json");
    let pid_file = dir.path().join("init.pid");
    let id = unique("goflags");
    let root = rt.root.path().to_str().unwrap();
    // Every global and command option in Go's single-dash spelling, with a separate value and
    // with `=`.
    let mut cmd = Command::new(common::hull_bin());
    cmd.args(["-root", root, "-log", log.to_str().unwrap(), "-log-format=json", "run", "-detach", "-no-subreaper"]).args([
        "-bundle",
        b.arg(),
        &format!("-pid-file={}", pid_file.display()),
        &id,
    ]);
    let (ok, out, err) = run_files(cmd, dir.path());
    assert!(ok, "run with single-dash options failed:\nstdout: {out}\nstderr: {err}");
    let pid = read_pid(&pid_file);
    assert_eq!(pid, rt.pid(&id));
    assert_eq!(rt.status(&id).as_deref(), Some("running"));

    // After the id everything is the container's: single-dash words that are hull's option
    // names reach the process unchanged.
    let out =
        Command::new(common::hull_bin()).args(["-root", root, "exec", &id, "echo", "-root", "-tty", "-detach", "--"]).output().unwrap();
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "-root -tty -detach --\n");
    // ... and so are they after `--`.
    let out = Command::new(common::hull_bin()).args(["-root", root, "exec", "--", &id, "echo", "-cwd", "/x"]).output().unwrap();
    assert_eq!(text(&out.stdout), "-cwd /x\n", "{}", text(&out.stderr));
    // exec's own options in Go's spelling: -cwd, -env.
    let out = Command::new(common::hull_bin())
        .args(["-root", root, "exec", "-cwd", "/tmp", "-env", "X=y", &id, "sh", "-c", "echo $PWD $X"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "/tmp y\n", "{}", text(&out.stderr));

    // An unknown single-dash option is still an error, not an id.
    let out = Command::new(common::hull_bin()).args(["-root", root, "delete", "-nosuch", &id]).output().unwrap();
    assert!(!out.status.success(), "delete -nosuch succeeded");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));

    let out = Command::new(common::hull_bin()).args(["-root", root, "delete", "-force", &id]).output().unwrap();
    assert!(out.status.success(), "delete -force: {}", text(&out.stderr));
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "init {pid} still runs");
    assert_eq!(rt.status(&id), None);
}

/// The calls of containerd's runc v2 shim (and so of docker), in order, with its global flags.
#[test]
fn containerd_shim_calls_work_and_log_json_lines() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique("shim");
    let bundle = b.path();
    let log = bundle.join("log.json");
    let shim = |args: &[&str]| -> Command {
        let mut c = rt.cmd();
        c.arg("--log").arg(&log).args(["--log-format", "json"]).args(args);
        c
    };
    let io = TempDir::new("shim-io");

    // create --bundle B --pid-file B/init.pid <id>: the pid file is there when create returns.
    let init_pid = bundle.join("init.pid");
    let (ok, _, err) = run_files(shim(&["create", "--bundle", b.arg(), "--pid-file", init_pid.to_str().unwrap(), &id]), io.path());
    assert!(ok, "create: {err}");
    let pid = read_pid(&init_pid);
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    let out = shim(&["start", &id]).output().unwrap();
    assert!(out.status.success(), "start: {}", text(&out.stderr));

    // exec --process P --detach --pid-file B/<exec>.pid <id>
    let process = io.path().join("process.json");
    let mut p = b.config["process"].clone();
    p["args"] = serde_json::json!(["sleep", "1001"]);
    std::fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    let exec_pid = bundle.join("e1.pid");
    let (ok, _, err) = run_files(
        shim(&["exec", "--process", process.to_str().unwrap(), "--detach", "--pid-file", exec_pid.to_str().unwrap(), &id]),
        io.path(),
    );
    assert!(ok, "exec: {err}");
    let epid = read_pid(&exec_pid);
    let cmdline = || std::fs::read(format!("/proc/{epid}/cmdline")).map(|c| text(&c)).unwrap_or_default();
    assert!(poll(T, || (cmdline() == "sleep\x001001\x00").then_some(())).is_some(), "exec'd process {epid}: {:?}", cmdline());

    // ps --format json <id>: both host pids.
    let out = shim(&["ps", "--format", "json", &id]).output().unwrap();
    assert!(out.status.success(), "ps: {}", text(&out.stderr));
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("ps json {e}: {}", text(&out.stdout)));
    assert!(pids.contains(&pid) && pids.contains(&epid), "ps: {pids:?}, want {pid} and {epid}");

    // update --resources - <id>, with the JSON docker sends for `update -m 32m --memory-swap 64m`
    // (an empty cpu object, no other fields).
    let mut child =
        shim(&["update", "--resources", "-", &id]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(br#"{"memory":{"limit":33554432,"swap":67108864},"cpu":{}}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    assert_eq!(cgroup_file_of(pid, "memory", "memory.limit_in_bytes", "memory.max"), "33554432");

    // pause/resume, then kill <id> 9: the signal as a number after the id.
    for cmd in ["pause", "resume"] {
        let out = shim(&[cmd, &id]).output().unwrap();
        assert!(out.status.success(), "{cmd}: {}", text(&out.stderr));
    }
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let out = shim(&["kill", &id, "9"]).output().unwrap();
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    assert!(rt.wait_status(&id, "stopped", T), "not stopped after kill 9: {:?}", rt.status(&id));
    let out = shim(&["delete", &id]).output().unwrap();
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    // The shim deletes again with --force after the task is gone: it must not fail.
    let out = shim(&["delete", "--force", &id]).output().unwrap();
    assert!(out.status.success(), "delete --force of a deleted container: {}", text(&out.stderr));
    assert!(pid_ended(pid) && pid_ended(epid));

    // A failing create: the shim shows the last error record of log.json.
    let bad = Bundle::new(&["/no/such/program"]);
    let id2 = unique("shimbad");
    let (ok, _, _) =
        run_files(shim(&["create", "--bundle", bad.arg(), "--pid-file", bad.path().join("init.pid").to_str().unwrap(), &id2]), io.path());
    assert!(!ok, "create of a missing program succeeded");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log.json line is not JSON ({e}): {l:?}")))
        .collect();
    let last_error = lines.iter().rev().find(|v| v["level"] == "error").unwrap_or_else(|| panic!("no error record: {lines:?}"));
    assert!(last_error["msg"].as_str().unwrap().contains("/no/such/program"), "error record: {last_error}");
    assert_eq!(rt.status(&id2), None, "a failed create left its container");
}

/// podman's conmon: no global flags (the runtime's default root), `kill <id> 15`, `delete --force`.
/// The default root is shared with the host, so the test takes a unique id and removes it.
#[test]
fn podman_calls_use_the_default_root() {
    if !require_root() {
        return;
    }
    let b = Bundle::sh("trap 'exit 7' TERM; while :; do sleep 0.05; done");
    let id = unique("conmon");
    let io = TempDir::new("conmon-io");
    let pid_file = io.path().join("pidfile");
    let bin = common::hull_bin();
    // Whatever happens below, the container leaves the shared root.
    struct Cleanup(std::path::PathBuf, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new(&self.0).args(["delete", "--force", &self.1]).output();
        }
    }
    let _cleanup = Cleanup(bin.clone(), id.clone());
    let (ok, _, err) = run_files(
        {
            let mut c = Command::new(&bin);
            c.args(["create", "--bundle", b.arg(), "--pid-file", pid_file.to_str().unwrap(), &id]);
            c
        },
        io.path(),
    );
    assert!(ok, "create without --root: {err}");
    let pid = read_pid(&pid_file);
    let state = |id: &str| Command::new(&bin).args(["state", id]).output().unwrap();
    let st: serde_json::Value = serde_json::from_slice(&state(&id).stdout).unwrap();
    assert_eq!(st["pid"].as_i64(), Some(pid));
    assert!(Command::new(&bin).args(["start", &id]).status().unwrap().success());
    // TERM reaches a PID 1 only once its trap is set: wait for the shell to catch it.
    let catches_term = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:")).and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
        mask.is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0).then_some(())
    };
    assert!(poll(T, catches_term).is_some(), "the shell never set its TERM trap");
    assert!(Command::new(&bin).args(["kill", &id, "15"]).status().unwrap().success());
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "TERM (15) did not end the trap loop");
    assert!(Command::new(&bin).args(["delete", "--force", &id]).status().unwrap().success());
    assert!(!state(&id).status.success(), "state after delete succeeded");
}

/// The words of a failed program lookup are runc's (Go's exec.LookPath): docker and podman
/// match them to give `run` and `exec` exit status 127 ("no such file or directory",
/// "executable file not found") or 126 ("permission denied").
#[test]
fn program_lookup_errors_use_runcs_words() {
    if !require_root() {
        return;
    }
    let cases: &[(&[&str], &str)] = &[
        (&["nosuch"], r#"exec: "nosuch": executable file not found in $PATH"#),
        (&["/nosuch"], r#"exec: "/nosuch": stat /nosuch: no such file or directory"#),
        (&["/etc"], r#"exec: "/etc": permission denied"#),
        (&["/etc/passwd"], r#"exec: "/etc/passwd": permission denied"#),
    ];
    let rt = Runtime::new();
    for (args, want) in cases {
        let b = Bundle::new(args);
        let id = unique("lookup");
        let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
        assert!(!d.status.success(), "create of {args:?} succeeded");
        // The message inside logfmt's quotes.
        let stderr = d.stderr.replace("\\\"", "\"");
        assert!(stderr.contains(want), "{args:?}: stderr {stderr:?} lacks {want:?}");
        assert_eq!(rt.status(&id), None, "{args:?}: a failed create left its container");
    }
    // exec into a running container: the same words, exit status 255.
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("lookup");
    rt.create_and_start(&b, &id);
    let out = rt.run(&["exec", &id, "/nosuch"]);
    assert_eq!(out.status.code(), Some(255));
    let err = text(&out.stderr).replace("\\\"", "\"");
    assert!(err.contains(r#"exec: "/nosuch": stat /nosuch: no such file or directory"#), "exec: {err}");
    rt.ok(&["delete", "--force", &id]);
}

/// Rootless podman runs the runtime as root in podman's own user namespace, without USER in the
/// environment and with a config that has no user namespace of its own. runc then keeps its
/// state under $XDG_RUNTIME_DIR and lets the container share that user namespace; so does hull.
#[test]
fn root_in_a_user_namespace_shares_it_and_keeps_state_under_xdg() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::sh("cat /proc/self/uid_map; readlink /proc/self/ns/user; id -u");
    b.remove_namespace("user");
    // gid 5 (tty) does not exist in a namespace that maps only root.
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev/pts" {
            let opts: Vec<serde_json::Value> = m["options"].as_array().unwrap().iter().filter(|o| *o != "gid=5").cloned().collect();
            m["options"] = serde_json::json!(opts);
        }
    }
    b.save();
    let xdg = TempDir::new("userns-xdg");
    let id = unique("userns");
    let unshare = ["/usr/bin/unshare", "/bin/unshare"].into_iter().find(|p| Path::new(p).exists()).expect("unshare (util-linux)");
    let out = Command::new(unshare)
        .arg("-r")
        .arg(common::hull_bin())
        .args(["run", "--bundle", b.arg(), &id])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("XDG_RUNTIME_DIR", xdg.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let name = common::hull_bin().file_name().unwrap().to_string_lossy().into_owned();
    let _ = Command::new(common::hull_bin()).arg("--root").arg(xdg.path().join(&name)).args(["delete", "--force", &id]).output();
    assert!(out.status.success(), "run as root in a user namespace without one in the config: {}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["0", "0", "1"], "the unshare namespace's map");
    let own = std::fs::read_link("/proc/self/ns/user").unwrap();
    assert_ne!(Path::new(&lines[1]), own, "the container is in the host's user namespace");
    assert_eq!(lines[2], "0");
    assert!(xdg.path().join(&name).is_dir(), "USER unset: the state root is not $XDG_RUNTIME_DIR/{name}");
}

/// An execve failure after `start` reaches the container's stderr in runc's words (Go's
/// os.PathError: "exec PATH: exec format error"), where engines show it as the container's log.
#[test]
fn execve_failure_reads_as_runcs() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["/bin/bad"]);
    std::fs::write(b.rootfs().join("bin/bad"), "garbage\n").unwrap();
    std::fs::set_permissions(b.rootfs().join("bin/bad"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let rt = Runtime::new();
    let out = rt.run_bundle(&b);
    assert!(!out.status.success(), "a program of no known format ran");
    let err = text(&out.stderr);
    assert!(err.contains("exec /bin/bad: exec format error"), "stderr: {err}");
}
