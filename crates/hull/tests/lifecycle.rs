//! The container lifecycle through the CLI, as runc does it: `spec`, `create`, `start`, `state`,
//! `kill`, `delete`, `run` (exit codes, `--detach`, `--keep`), `list`, `--pid-file`, and the
//! errors for operations in the wrong state. Each test looks at what really happened: the output
//! of the container's process, host processes, the state directory.

mod common;

use common::{pid_ended, poll, require_root, unique, wait_child, Bundle, Runtime, TempDir};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Generous bound for anything that should take well under a second.
const T: Duration = Duration::from_secs(10);

/// A bundle whose process lives until it is killed (as pid 1 of its pid namespace it ignores
/// every signal but SIGKILL, so the tests kill it with SIGKILL).
fn sleeper() -> Bundle {
    Bundle::new(&["sleep", "1000"])
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn spec_writes_runc_defaults_and_refuses_to_overwrite() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("spec");
    let rt = Runtime::new();
    rt.ok(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).expect("spec writes JSON");
    assert_eq!(config["process"]["terminal"], true, "spec defaults to a terminal: {config}");
    assert_eq!(config["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(config["root"]["path"], "rootfs");
    assert_eq!(config["root"]["readonly"], true);
    assert_eq!(config["hostname"], "runc", "runc's example config names the host runc");
    assert!(config["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "ociVersion: {config}");
    // A second spec in the same bundle must not clobber the user's config.
    let again = rt.run(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    assert!(!again.status.success(), "spec overwrote an existing config.json");
}

#[test]
fn spec_bundle_runs_echo_hello() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["echo", "hello"]);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "hello\n");
}

#[test]
fn create_waits_for_start_and_the_process_uses_creates_stdio() {
    if !require_root() {
        return;
    }
    let b = Bundle::sh("echo hello; echo oops >&2; sleep 1000");
    let rt = Runtime::new();
    let id = unique("create");
    let io = TempDir::new("io");
    let (out, err) = (io.path().join("out"), io.path().join("err"));
    let status = rt.run_to_files(&["create", "--bundle", b.arg(), &id], &out, &err);
    assert!(status.success(), "create failed: {}", std::fs::read_to_string(&err).unwrap_or_default());

    // `create` returned, the container exists, but the user's process has not run yet.
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    let pid = rt.pid(&id);
    assert!(pid > 0 && !pid_ended(pid), "created container has no live init (pid {pid})");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "", "the process ran before start");

    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_eq!(rt.pid(&id), pid, "start must exec in the init created by create");
    // The output of the process reaches the stdout/stderr that `create` was given.
    let got = poll(T, || {
        let (o, e) = (std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&err).unwrap());
        (o.contains("hello") && e.contains("oops")).then_some((o, e))
    });
    let (o, e) = got.expect("container output did not reach create's stdout/stderr");
    assert_eq!(o, "hello\n");
    assert!(e.ends_with("oops\n"), "stderr: {e:?}");

    rt.ok(&["kill", &id, "KILL"]);
    assert!(rt.wait_status(&id, "stopped", T));
}

#[test]
fn state_after_create_has_runc_fields() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("state");
    rt.create(&b, &id);
    let st = rt.state(&id);
    for key in ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"] {
        assert!(st.get(key).is_some(), "state lacks {key}: {st}");
    }
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["status"], "created");
    assert!(st["pid"].as_i64().unwrap() > 0, "pid: {st}");
    assert_eq!(st["bundle"], b.arg());
    assert_eq!(st["rootfs"], b.rootfs().to_str().unwrap());
    assert!(st["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{st}");
    // RFC 3339 in UTC, as runc writes it: 2006-01-02T15:04:05.999999999Z
    let created = st["created"].as_str().expect("created is a string");
    let bytes = created.as_bytes();
    assert!(
        created.len() >= 20 && bytes[4] == b'-' && bytes[7] == b'-' && bytes[10] == b'T' && bytes[13] == b':' && created.ends_with('Z'),
        "created: {created}"
    );
    assert!(
        st.get("annotations").is_none() || st["annotations"].as_object().is_some_and(|a| a.is_empty()),
        "annotations without any in config: {st}"
    );
}

#[test]
fn kill_by_name_prefixed_name_and_number_stops_the_container() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    for sig in ["KILL", "SIGKILL", "9"] {
        let id = unique("kill");
        rt.create_and_start(&b, &id);
        let pid = rt.pid(&id);
        rt.ok(&["kill", &id, sig]);
        assert!(rt.wait_status(&id, "stopped", T), "kill {sig}: container not stopped: {:?}", rt.status(&id));
        assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "kill {sig}: init {pid} still alive");
        assert_eq!(rt.state(&id)["pid"], 0, "a stopped container reports pid 0");
        rt.ok(&["delete", &id]);
    }
}

#[test]
fn kill_without_signal_sends_sigterm() {
    if !require_root() {
        return;
    }
    // pid 1 ignores SIGTERM unless it handles it: the trap shows which signal arrived.
    let b = Bundle::sh("trap 'echo got-TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done");
    let rt = Runtime::new();
    let id = unique("term");
    let io = TempDir::new("io");
    let (out, err) = (io.path().join("out"), io.path().join("err"));
    assert!(rt.run_to_files(&["create", "--bundle", b.arg(), &id], &out, &err).success());
    rt.ok(&["start", &id]);
    poll(T, || std::fs::read_to_string(&out).unwrap().contains("ready").then_some(())).expect("trap not set up");
    rt.ok(&["kill", &id]);
    assert!(rt.wait_status(&id, "stopped", T), "SIGTERM did not end the container");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ready\ngot-TERM\n");
}

#[test]
fn delete_removes_state_and_state_then_fails() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = unique("del");
    rt.create_and_start(&b, &id);
    assert!(rt.wait_status(&id, "stopped", T));
    assert!(rt.root.path().join(&id).exists(), "no state directory <root>/<id>");
    rt.ok(&["delete", &id]);
    assert!(!rt.root.path().join(&id).exists(), "delete left <root>/<id>");
    let out = rt.run(&["state", &id]);
    assert!(!out.status.success(), "state of a deleted container succeeded");
    assert!(stderr_of(&out).contains("container does not exist"), "stderr: {}", stderr_of(&out));
}

#[test]
fn state_of_unknown_container_fails() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let out = rt.run(&["state", "no-such-container"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("container does not exist"), "stderr: {}", stderr_of(&out));
}

#[test]
fn delete_of_created_container_needs_no_force() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("delc");
    rt.create(&b, &id);
    let pid = rt.pid(&id);
    rt.ok(&["delete", &id]);
    assert!(!rt.root.path().join(&id).exists());
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "init {pid} of a deleted created container lives on");
}

#[test]
fn run_returns_the_exit_code() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let out = rt.run_bundle(&Bundle::sh("echo out; exit 3"));
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    let out = rt.run_bundle(&Bundle::new(&["true"]));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn run_returns_128_plus_signal_when_the_process_kills_itself() {
    if !require_root() {
        return;
    }
    // Without a pid namespace the shell is not a namespace init, so its own SIGTERM kills it
    // (pid 1 of a pid namespace would ignore it: it has no handler).
    let mut b = Bundle::sh("kill -TERM $$; echo survived");
    b.remove_namespace("pid");
    b.save();
    let rt = Runtime::new();
    let out = rt.run_bundle(&b);
    assert_eq!(out.status.code(), Some(128 + 15), "stderr: {}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "the process survived its SIGTERM");
}

#[test]
fn run_returns_137_when_the_container_is_killed() {
    if !require_root() {
        return;
    }
    let b = Bundle::sh("echo up; sleep 1000");
    let rt = Runtime::new();
    let id = unique("runkill");
    let io = TempDir::new("io");
    let out = io.path().join("out");
    let mut child = rt
        .cmd()
        .args(["run", "--bundle", b.arg(), &id])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run");
    poll(T, || std::fs::read_to_string(&out).unwrap().contains("up").then_some(())).expect("container never printed up");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.ok(&["kill", &id, "KILL"]);
    let status = wait_child(&mut child, T);
    assert_eq!(status.code(), Some(128 + 9));
    // Without --keep, run deletes the container it ran.
    assert!(poll(T, || (!rt.root.path().join(&id).exists()).then_some(())).is_some(), "run left its container behind");
}

#[test]
fn run_detach_returns_with_the_container_running() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("detach");
    let d = rt.run_detached(&["run", "--detach", "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "run -d failed: {}", d.stderr);
    // run returned although the process (sleep 1000) is still going.
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let pid = rt.pid(&id);
    assert!(!pid_ended(pid));
    // The init execs the process just after start is told to go (runc too reports "running" a
    // moment before the execve), so poll for it.
    let cmdline = || std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let ran = poll(T, || cmdline().starts_with(b"sleep\0").then_some(()));
    assert!(ran.is_some(), "init runs {:?}, not the container's process", String::from_utf8_lossy(&cmdline()));
    // The short flag works too.
    let id2 = unique("detach");
    let d = rt.run_detached(&["run", "-d", "--bundle", b.arg(), &id2]);
    assert!(d.status.success(), "run -d failed: {}", d.stderr);
    assert_eq!(rt.status(&id2).as_deref(), Some("running"));
    rt.ok(&["delete", "--force", &id]);
    rt.ok(&["delete", "--force", &id2]);
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "exit 0"]);
    let rt = Runtime::new();
    let id = unique("keep");
    let out = rt.run(&["run", "--keep", "--bundle", b.arg(), &id]);
    assert!(out.status.success(), "run --keep failed: {}", stderr_of(&out));
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    assert_eq!(rt.state(&id)["pid"], 0);
    rt.ok(&["delete", &id]);
    assert!(!rt.root.path().join(&id).exists());
    // Without --keep the container is gone once run returns.
    let id2 = unique("nokeep");
    let out = rt.run(&["run", "--bundle", b.arg(), &id2]);
    assert!(out.status.success(), "run failed: {}", stderr_of(&out));
    assert_eq!(rt.status(&id2), None);
    assert!(!rt.root.path().join(&id2).exists());
}

#[test]
fn list_shows_table_json_and_ids() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let created = unique("lc");
    let running = unique("lr");
    rt.create(&b, &created);
    rt.create_and_start(&b, &running);
    let pid_c = rt.pid(&created);
    let pid_r = rt.pid(&running);

    let table = rt.ok(&["list"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("list prints a header").split_whitespace().collect();
    assert_eq!(header, ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "table: {table}");
    for (id, pid, status) in [(&created, pid_c, "created"), (&running, pid_r, "running")] {
        let row = rows.iter().find(|r| r[0] == id.as_str()).unwrap_or_else(|| panic!("{id} not listed: {table}"));
        assert_eq!(row.len(), 6, "row: {row:?}");
        assert_eq!(row[1], pid.to_string());
        assert_eq!(row[2], status);
        assert_eq!(row[3], b.arg());
        assert_eq!(row[5], "root");
    }

    for args in [&["list", "--format", "json"][..], &["list", "-f", "json"][..], &["list", "--format=json"][..]] {
        let json: serde_json::Value = serde_json::from_str(&rt.ok(args)).expect("list --format json prints JSON");
        let arr = json.as_array().expect("a JSON array");
        assert_eq!(arr.len(), 2, "{json}");
        for (id, pid, status) in [(&created, pid_c, "created"), (&running, pid_r, "running")] {
            let c = arr.iter().find(|c| c["id"] == id.as_str()).unwrap_or_else(|| panic!("{id} not in {json}"));
            assert_eq!(c["pid"], pid);
            assert_eq!(c["status"], status);
            assert_eq!(c["bundle"], b.arg());
            assert_eq!(c["owner"], "root");
            assert!(c["created"].as_str().is_some_and(|s| s.ends_with('Z')), "{c}");
            assert!(c["rootfs"].as_str().is_some(), "{c}");
        }
    }

    for flag in ["-q", "--quiet"] {
        let mut ids: Vec<String> = rt.ok(&["list", flag]).lines().map(str::to_owned).collect();
        ids.sort();
        let mut want = vec![created.clone(), running.clone()];
        want.sort();
        assert_eq!(ids, want, "list {flag}");
    }
}

#[test]
fn delete_of_running_container_needs_force() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("delr");
    rt.create_and_start(&b, &id);
    let pid = rt.pid(&id);
    let out = rt.run(&["delete", &id]);
    assert!(!out.status.success(), "delete of a running container succeeded without --force");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert!(!pid_ended(pid), "a refused delete killed the container");

    rt.ok(&["delete", "--force", &id]);
    assert!(!rt.root.path().join(&id).exists());
    assert_eq!(rt.status(&id), None);
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "delete --force left init {pid} running");

    // -f is the short form.
    let id2 = unique("delr");
    rt.create_and_start(&b, &id2);
    let pid2 = rt.pid(&id2);
    rt.ok(&["delete", "-f", &id2]);
    assert!(!rt.root.path().join(&id2).exists());
    assert!(poll(T, || pid_ended(pid2).then_some(())).is_some());
}

#[test]
fn pid_file_holds_the_init_pid_when_create_returns() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let dir = TempDir::new("pidfile");
    let pid_file = dir.path().join("init.pid");
    let id = unique("pidf");
    let d = rt.run_detached(&["create", "--pid-file", pid_file.to_str().unwrap(), "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    let text = std::fs::read_to_string(&pid_file).expect("pid file written before create returned");
    let pid: i64 = text.trim().parse().unwrap_or_else(|_| panic!("pid file holds {text:?}"));
    assert_eq!(pid, rt.pid(&id));
    assert!(!pid_ended(pid));

    // A relative pid file is relative to the caller's cwd, not the bundle.
    let id2 = unique("pidf");
    let out = rt
        .cmd()
        .current_dir(dir.path())
        .args(["run", "--detach", "--pid-file", "rel.pid", "--bundle", b.arg(), &id2])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());
    let text = std::fs::read_to_string(dir.path().join("rel.pid")).expect("relative pid file in the caller's cwd");
    assert_eq!(text.trim().parse::<i64>().unwrap(), rt.pid(&id2));
    assert!(!Path::new(&b.path().join("rel.pid")).exists());
}

#[test]
fn kill_of_stopped_container_fails() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = unique("kills");
    rt.create_and_start(&b, &id);
    assert!(rt.wait_status(&id, "stopped", T));
    let out = rt.run(&["kill", &id, "KILL"]);
    assert!(!out.status.success(), "kill of a stopped container succeeded");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
}

#[test]
fn start_twice_fails() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("start2");
    rt.create_and_start(&b, &id);
    let pid = rt.pid(&id);
    let out = rt.run(&["start", &id]);
    assert!(!out.status.success(), "second start succeeded");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_eq!(rt.pid(&id), pid);

    // Nor can a stopped container be started again.
    rt.ok(&["kill", &id, "KILL"]);
    assert!(rt.wait_status(&id, "stopped", T));
    let out = rt.run(&["start", &id]);
    assert!(!out.status.success(), "start of a stopped container succeeded");
}

#[test]
fn create_with_an_id_in_use_fails() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("dup");
    rt.create(&b, &id);
    let pid = rt.pid(&id);
    let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
    assert!(!d.status.success(), "a second create with the same id succeeded");
    assert!(d.stderr.contains("exists"), "stderr: {}", d.stderr);
    // The first container is untouched.
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    assert_eq!(rt.pid(&id), pid);
    assert!(!pid_ended(pid));
}
