//! The parts of runc's command line the lifecycle suite does not cover: `--version` and
//! `features` (what go-runc and engines parse), `spec --rootless`, logging (`--log`,
//! `--log-format`), a relative `--root`, `kill` with a numeric signal after the id and `--all`,
//! `delete -f`, the global flags callers put before the command, `create --no-pivot` and
//! `--no-new-keyring`; and process/linux fields not covered elsewhere: `process.ioPriority`,
//! `process.scheduler`, `linux.personality`, `domainname`, `linux.rootfsPropagation`.
//! Each test checks what happened: output of the container's process, host processes, files.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{hull_bin, pid_ended, poll, propagation_fields, require_root, root_mount_line, unique, Bundle, Runtime, TempDir};
use serde_json::json;

/// Generous bound for anything that should take well under a second.
const T: Duration = Duration::from_secs(10);

/// The runtime's own name (`hull`, or `runc` when `HULL_TEST_BIN` points at it): the first word
/// of its `--version`.
fn bin_name() -> String {
    hull_bin().file_name().unwrap().to_string_lossy().into_owned()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bundle whose process lives until it is killed.
fn sleeper() -> Bundle {
    Bundle::new(&["sleep", "1000"])
}

/// The `key: value` line of `--version` output.
fn version_field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
}

#[test]
fn version_prints_the_lines_go_runc_parses() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let out = rt.ok(&["--version"]);
    let first = out.lines().next().unwrap_or("");
    let prefix = format!("{} version ", bin_name());
    let version = first.strip_prefix(&prefix).unwrap_or_else(|| panic!("first line is not `{prefix}X`: {out:?}"));
    assert!(!version.trim().is_empty(), "no version after `{prefix}`: {out:?}");
    let spec = version_field(&out, "spec").unwrap_or_else(|| panic!("no `spec: ` line: {out:?}"));
    if bin_name() == "hull" {
        assert_eq!(spec, "1.3.0", "hull implements runtime-spec 1.3.0: {out:?}");
        assert_eq!(version, env!("CARGO_PKG_VERSION"), "{out:?}");
    }
    // `commit: ` is optional (only when built with one), but never empty when present.
    if let Some(c) = version_field(&out, "commit") {
        assert!(!c.trim().is_empty(), "empty commit line: {out:?}");
    }
    assert!(out.lines().filter(|l| l.starts_with("commit:")).count() <= 1, "{out:?}");
    // The spec version is the one `features` reports as the highest supported.
    let f: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).expect("features JSON");
    assert_eq!(f["ociVersionMax"], spec, "features and --version disagree");
    // -v is the short form.
    assert_eq!(rt.ok(&["-v"]), out, "-v and --version differ");
}

#[test]
fn features_reports_versions_hooks_mount_options_and_all_namespaces() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let out = rt.ok(&["features"]);
    let f: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("features is not JSON ({e}): {out}"));
    assert!(out.starts_with("{\n    \""), "runc indents features with 4 spaces: {out:.80}");
    assert_eq!(f["ociVersionMin"], "1.0.0", "{out}");
    assert!(f["ociVersionMax"].as_str().is_some_and(|v| v.starts_with("1.")), "{out}");
    let strings = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|s| s.as_str().expect("string").to_owned()).collect()
    };
    let hooks = strings(&f["hooks"]);
    for h in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
        assert!(hooks.contains(h), "hooks lack {h}: {hooks:?}");
    }
    let opts = strings(&f["mountOptions"]);
    for o in ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec", "private", "rprivate", "shared", "rslave", "relatime"] {
        assert!(opts.contains(o), "mountOptions lack {o}: {opts:?}");
    }
    let ns = strings(&f["linux"]["namespaces"]);
    let all: BTreeSet<String> = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"].map(String::from).into();
    assert_eq!(ns, all, "linux.namespaces must list all 8 types");
    let caps = strings(&f["linux"]["capabilities"]);
    assert!(caps.contains("CAP_SYS_ADMIN") && caps.contains("CAP_CHOWN"), "linux.capabilities: {caps:?}");
}

#[test]
fn spec_rootless_maps_the_caller_to_root_and_runs() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    let rt = Runtime::new();
    rt.ok(&["spec", "--rootless", "--bundle", b.arg()]);
    b.config = serde_json::from_str(&std::fs::read_to_string(b.path().join("config.json")).unwrap()).unwrap();
    let c = &b.config;
    let types: Vec<&str> = c["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"user"), "no user namespace: {types:?}");
    assert!(!types.contains(&"network"), "a rootless config has no network namespace: {types:?}");
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    assert_eq!(c["linux"]["uidMappings"], json!([{"containerID": 0, "hostID": uid, "size": 1}]), "uidMappings");
    assert_eq!(c["linux"]["gidMappings"], json!([{"containerID": 0, "hostID": gid, "size": 1}]), "gidMappings");
    let sys = c["mounts"].as_array().unwrap().iter().find(|m| m["destination"] == "/sys").expect("a /sys mount");
    assert_eq!(sys["type"], "none", "without a network namespace /sys is bound from the host: {sys}");

    b.config["process"]["terminal"] = json!(false);
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "id; echo \"uidmap=$(cat /proc/self/uid_map)\"; echo \"gidmap=$(cat /proc/self/gid_map)\"; readlink /proc/self/ns/user"
    ]);
    b.save();
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("uid=0(root) gid=0(root)")), "not root inside:\n{out}");
    let norm = |key: &str| -> Vec<String> {
        let l = lines.iter().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} line:\n{out}"));
        l.split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(norm("uidmap="), ["0", &uid.to_string(), "1"], "uid_map inside:\n{out}");
    assert_eq!(norm("gidmap="), ["0", &gid.to_string(), "1"], "gid_map inside:\n{out}");
    let host_userns = std::fs::read_link("/proc/self/ns/user").unwrap();
    assert_ne!(lines.last().copied(), Some(host_userns.to_str().unwrap()), "the container shares the host's user namespace:\n{out}");
}

/// The JSON lines of a log file, each checked to have level, msg and time.
fn json_log_lines(path: &Path) -> Vec<serde_json::Value> {
    let log = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no log file {}: {e}", path.display()));
    assert!(!log.is_empty(), "the log file is empty");
    log.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}"));
            for k in ["level", "msg", "time"] {
                assert!(v[k].is_string(), "log line lacks {k}: {l}");
            }
            let t = v["time"].as_str().unwrap().as_bytes();
            assert!(t.len() >= 20 && t[4] == b'-' && t[10] == b'T', "time is not RFC 3339: {l}");
            v
        })
        .collect()
}

#[test]
fn log_json_records_the_error_of_a_failing_command() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let dir = TempDir::new("log");
    let log = dir.path().join("log.json");
    let id = unique("nosuch");
    let out = rt.run(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", &id]);
    assert!(!out.status.success(), "state of a missing container succeeded");
    let lines = json_log_lines(&log);
    // Podman reads the whole file of a failed command as one JSON object: one record.
    assert_eq!(lines.len(), 1, "one failure, one record: {lines:?}");
    let err = lines.iter().find(|v| v["level"] == "error").unwrap_or_else(|| panic!("no error record: {lines:?}"));
    assert!(err["msg"].as_str().unwrap().contains("does not exist"), "error msg: {err}");
    // The error also reaches stderr, which callers read when there is no log.
    assert!(text(&out.stderr).contains("does not exist"), "stderr: {}", text(&out.stderr));
    // The file is appended to, not truncated: a second failure adds a record.
    let _ = rt.run(&["--log", log.to_str().unwrap(), "--log-format=json", "state", &id]);
    let again = json_log_lines(&log);
    assert_eq!(again.iter().filter(|v| v["level"] == "error").count(), 2, "{again:?}");

    // The text format writes logfmt: time=... level=error msg=...
    let textlog = dir.path().join("log.txt");
    let _ = rt.run(&["--log", textlog.to_str().unwrap(), "state", &id]);
    let t = std::fs::read_to_string(&textlog).unwrap();
    assert!(t.contains("level=error") && t.contains("msg=") && t.contains("does not exist"), "text log: {t:?}");
}

#[test]
fn log_format_other_than_text_or_json_is_refused() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    // `list` succeeds otherwise, so the failure is the format's.
    rt.ok(&["list"]);
    let out = rt.run(&["--log-format", "xml", "list"]);
    assert!(!out.status.success(), "--log-format xml accepted");
    let msg = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(msg.contains("invalid log-format"), "message: {msg}");
}

#[test]
fn relative_root_is_made_absolute() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let cwd = TempDir::new("cwd");
    let id = unique("relroot");
    let hull = |args: &[&str]| {
        let io = TempDir::new("io");
        let (o, e) = (std::fs::File::create(io.path().join("o")).unwrap(), std::fs::File::create(io.path().join("e")).unwrap());
        let st = Command::new(hull_bin()).current_dir(cwd.path()).args(args).stdin(Stdio::null()).stdout(o).stderr(e).status().unwrap();
        (st, std::fs::read_to_string(io.path().join("o")).unwrap(), std::fs::read_to_string(io.path().join("e")).unwrap())
    };
    // The bundle is elsewhere: a runtime that works from the bundle directory must still put the
    // state under the caller's working directory.
    let (st, _, err) = hull(&["--root", "state-dir", "create", "--bundle", b.arg(), &id]);
    // Whatever happens, delete it through the absolute path afterwards.
    let abs = Runtime { root: TempDir(cwd.path().join("state-dir")) };
    assert!(st.success(), "create with a relative --root failed: {err}");
    assert!(cwd.path().join("state-dir").join(&id).is_dir(), "no state at <cwd>/state-dir/{id}");
    assert!(!b.path().join("state-dir").exists(), "the state went under the bundle");
    assert_eq!(abs.status(&id).as_deref(), Some("created"), "the absolute path does not see the container");
    let (st, out, err) = hull(&["--root", "./state-dir/../state-dir", "state", &id]);
    assert!(st.success(), "state with a relative --root failed: {err}");
    assert!(out.contains(&id), "{out}");
    abs.ok(&["delete", "-f", &id]);
}

/// Host pids of the children of `pid`.
fn children(pid: i64) -> Vec<i64> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// SIGKILLs host pids on drop, so a failed test leaves no process behind.
struct Reap(Vec<i64>);

impl Drop for Reap {
    fn drop(&mut self) {
        for p in &self.0 {
            if !pid_ended(*p) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p as i32), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

#[test]
fn kill_takes_a_numeric_signal_after_the_id() {
    if !require_root() {
        return;
    }
    // pid 1 of a pid namespace gets only the signals it handles: SIGUSR1 reaches it only through
    // the trap, which tells which signal came.
    let b = Bundle::sh("trap 'echo got-usr1; exit 3' USR1; trap 'echo got-term; exit 4' TERM; echo ready; while :; do sleep 0.05; done");
    let rt = Runtime::new();
    let id = unique("killnum");
    let io = TempDir::new("io");
    let (out, err) = (io.path().join("out"), io.path().join("err"));
    assert!(rt.run_to_files(&["create", "--bundle", b.arg(), &id], &out, &err).success(), "create failed");
    rt.ok(&["start", &id]);
    assert!(poll(T, || std::fs::read_to_string(&out).unwrap().contains("ready").then_some(())).is_some(), "never ready");
    rt.ok(&["kill", &id, "10"]);
    assert!(rt.wait_status(&id, "stopped", T), "SIGUSR1 did not stop it: {:?}", rt.status(&id));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ready\ngot-usr1\n", "signal 10 is SIGUSR1");
    rt.ok(&["delete", &id]);
}

/// A container without its own pid namespace whose init has two `sleep` children: killing the
/// init alone would leave them running; `kill --all` signals every process of the container.
fn kill_all_with(flag: &str) {
    let mut b = Bundle::sh("sleep 1001 & sleep 1002 & wait");
    b.remove_namespace("pid");
    b.save();
    let rt = Runtime::new();
    let id = unique("killall");
    rt.create_and_start(&b, &id);
    let init = rt.pid(&id);
    let kids = poll(T, || Some(children(init)).filter(|c| c.len() == 2)).expect("the init did not start its two children");
    let mut all = kids.clone();
    all.push(init);
    let _reap = Reap(all.clone());
    rt.ok(&["kill", flag, &id, "9"]);
    for p in &all {
        assert!(poll(T, || pid_ended(*p).then_some(())).is_some(), "kill {flag}: process {p} survived (init {init}, children {kids:?})");
    }
    assert!(rt.wait_status(&id, "stopped", T), "{:?}", rt.status(&id));
    rt.ok(&["delete", &id]);
}

#[test]
fn kill_all_short_flag_signals_every_process() {
    if !require_root() {
        return;
    }
    kill_all_with("-a");
}

#[test]
fn kill_all_long_flag_signals_every_process() {
    if !require_root() {
        return;
    }
    kill_all_with("--all");
}

#[test]
fn delete_short_force_flag_kills_and_removes_a_running_container() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("delf");
    rt.create_and_start(&b, &id);
    let pid = rt.pid(&id);
    rt.ok(&["delete", "-f", &id]);
    assert!(pid_ended(pid), "init {pid} still alive after delete -f returned");
    assert!(!rt.run(&["state", &id]).status.success(), "state still works after delete -f");
    assert!(!rt.root.path().join(&id).exists(), "the state directory is left behind");
}

#[test]
fn delete_force_of_a_missing_container_succeeds() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique("never");
    // Without -f it is an error...
    let out = rt.run(&["delete", &id]);
    assert!(!out.status.success(), "delete of a missing container succeeded");
    // ...with -f there is nothing to do, and that is success (runc's delete.go; containerd's
    // shim deletes with --force after the container may already be gone).
    let out = rt.run(&["delete", "-f", &id]);
    assert!(out.status.success(), "delete -f of a missing container failed: {}", text(&out.stderr));
    // A state directory left by an aborted create (no state.json) is removed by delete -f.
    std::fs::create_dir_all(rt.root.path().join(&id)).unwrap();
    let out = rt.run(&["delete", "-f", &id]);
    assert!(out.status.success(), "delete -f of an aborted create failed: {}", text(&out.stderr));
    assert!(!rt.root.path().join(&id).exists(), "the aborted create's directory is left behind");
}

#[test]
fn global_flags_before_the_command_are_accepted() {
    if !require_root() {
        return;
    }
    let b = sleeper();
    let rt = Runtime::new();
    let id = unique("globals");
    let d = rt.run_detached(&["--rootless=false", "--debug", "create", "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "create with --rootless=false --debug failed: {}", d.stderr);
    assert!(d.stderr.contains("level=debug"), "--debug logged nothing at debug level: {:?}", d.stderr);
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    // Without --debug there are no debug records.
    let quiet = rt.run(&["state", &id]);
    assert!(!text(&quiet.stderr).contains("level=debug"), "{}", text(&quiet.stderr));
    // containerd puts these before any command; --systemd-cgroup is harmless for list.
    let out = rt.ok(&["--systemd-cgroup", "--rootless=false", "--debug", "list", "-q"]);
    assert_eq!(out.trim(), id, "list -q");
    rt.ok(&["--rootless=false", "delete", "--force", &id]);
}

#[test]
fn create_no_pivot_runs_with_the_rootfs_as_root() {
    if !require_root() {
        return;
    }
    let b = Bundle::sh("cat /proc/self/mountinfo; echo \"rootino=$(stat -c %i /)\"; ls /");
    std::fs::write(b.rootfs().join("hull-rootfs-marker"), "").unwrap();
    let rt = Runtime::new();
    let id = unique("nopivot");
    let io = TempDir::new("io");
    let (out, err) = (io.path().join("out"), io.path().join("err"));
    let st = rt.run_to_files(&["create", "--no-pivot", "--bundle", b.arg(), &id], &out, &err);
    assert!(st.success(), "create --no-pivot failed: {}", std::fs::read_to_string(&err).unwrap());
    rt.ok(&["start", &id]);
    assert!(rt.wait_status(&id, "stopped", T));
    let o = std::fs::read_to_string(&out).unwrap();
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(b.rootfs()).unwrap().ino();
    assert!(o.contains(&format!("rootino={ino}\n")), "/ is not the rootfs (inode {ino}):\n{o}");
    assert!(o.lines().any(|l| l == "hull-rootfs-marker"), "/ does not list the rootfs:\n{o}");
    let root = root_mount_line(&o).unwrap_or_else(|| panic!("no mount at / in the container's mountinfo:\n{o}"));
    // The mount at / is the bundle's rootfs (its root within the filesystem ends in /rootfs),
    // not the host's root.
    let mnt_root = root.split(' ').nth(3).unwrap();
    assert!(mnt_root.ends_with("/rootfs"), "the mount at / is not the rootfs: {root}\n{o}");
    rt.ok(&["delete", &id]);
}

#[test]
fn create_no_pivot_refuses_a_private_rootfs_propagation() {
    if !require_root() {
        return;
    }
    // runc: "rootfsPropagation of [r]private is not safe without pivot_root" (with MS_MOVE and
    // chroot the host's root stays reachable below the container's unless it is a slave).
    let mut b = Bundle::new(&["echo", "should-not-run"]);
    let rt = Runtime::new();
    for prop in ["private", "rprivate"] {
        b.config["linux"]["rootfsPropagation"] = json!(prop);
        b.save();
        let id = unique("nopivot-private");
        let d = rt.run_detached(&["create", "--no-pivot", "--bundle", b.arg(), &id]);
        assert!(!d.status.success(), "create --no-pivot with rootfsPropagation {prop} succeeded");
        assert!(!d.stdout.contains("should-not-run"), "the process ran");
        assert!(d.stderr.contains("pivot"), "unclear error for {prop}: {}", d.stderr);
        assert!(!rt.run(&["state", &id]).status.success(), "a container was left behind");
    }
}

#[test]
fn create_fails_when_the_executable_is_missing() {
    if !require_root() {
        return;
    }
    // runc looks the program up in the container before `create` returns, so callers (docker
    // run, podman) get "executable file not found" from create, not a container that dies.
    let rt = Runtime::new();
    for arg0 in ["/no/such-binary", "no-such-command"] {
        let b = Bundle::new(&[arg0]);
        let id = unique("noexe");
        let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
        let status = rt.status(&id);
        let _ = rt.run(&["delete", "-f", &id]);
        assert!(!d.status.success(), "create with args[0] {arg0:?} succeeded (state: {status:?})");
        assert!(d.stderr.contains(arg0), "the error does not name {arg0:?}: {}", d.stderr);
        assert_eq!(status, None, "a container was left behind");
    }
}

/// The names of the keyrings host /proc/keys lists (session keyrings are `_ses...`).
fn host_session_keyrings() -> Option<Vec<String>> {
    let keys = std::fs::read_to_string("/proc/keys").ok()?;
    Some(keys.lines().filter_map(|l| l.split_whitespace().nth(8)).map(|d| d.trim_end_matches(':').to_owned()).collect())
}

#[test]
fn create_no_new_keyring_keeps_the_callers_keyring() {
    if !require_root() {
        return;
    }
    let b = Bundle::new(&["echo", "ran"]);
    let rt = Runtime::new();
    let keyrings = host_session_keyrings();
    for (flag, id) in [(true, unique("nokeyring")), (false, unique("keyring"))] {
        let mut args = vec!["create", "--bundle", b.arg(), &id];
        if flag {
            args.insert(1, "--no-new-keyring");
        }
        let io = TempDir::new("io");
        let (out, err) = (io.path().join("out"), io.path().join("err"));
        let st = rt.run_to_files(&args, &out, &err);
        assert!(st.success(), "{args:?} failed: {}", std::fs::read_to_string(&err).unwrap());
        // While the container is created, host /proc/keys shows the keyrings of its init.
        if keyrings.is_some() {
            let name = format!("_ses.{id}");
            let has = host_session_keyrings().unwrap().contains(&name);
            if flag {
                assert!(!has, "--no-new-keyring: a session keyring {name} was made");
            } else {
                assert!(has, "without --no-new-keyring there is no session keyring {name}");
            }
        } else {
            eprintln!("no /proc/keys on this host: keyring names not checked");
        }
        rt.ok(&["start", &id]);
        assert!(rt.wait_status(&id, "stopped", T));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "ran\n");
        rt.ok(&["delete", &id]);
    }
}

#[test]
fn io_priority_is_set() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::sh("ionice -p 1; ionice -p $$");
    b.add_applets(&["ionice"]);
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    b.save();
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    assert_eq!(out, "best-effort: prio 4\nbest-effort: prio 4\n", "ioPriority BE/4 not applied");

    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    b.save();
    let out = rt.run_ok(&b);
    assert!(out.starts_with("idle"), "ioPriority IDLE not applied: {out:?}");
}

/// (nice, policy) of process `pid` inside the container, from /proc/<pid>/stat fields 19 and 41.
const SCHED_PROBE: &str = "cut -d' ' -f19,41 /proc/1/stat";

#[test]
fn scheduler_policy_and_nice_are_set() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::sh(SCHED_PROBE);
    b.add_applets(&["cut"]);
    let rt = Runtime::new();
    // SCHED_BATCH is 3, SCHED_IDLE 5; nice applies to both.
    for (policy, nice, want) in [("SCHED_BATCH", 7, "7 3"), ("SCHED_IDLE", 0, "0 5"), ("SCHED_OTHER", 3, "3 0")] {
        b.config["process"]["scheduler"] = json!({"policy": policy, "nice": nice});
        b.save();
        let out = rt.run_ok(&b);
        assert_eq!(out.trim(), want, "scheduler {policy} nice {nice}: (nice, policy) inside");
    }
    // The host agrees, for a created container's init (it keeps the policy through exec).
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 2});
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.save();
    let id = unique("sched");
    rt.create_and_start(&b, &id);
    let pid = rt.pid(&id);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // After the comm, field 3 is index 0: nice (19) is 16, policy (41) is 38.
    assert_eq!((fields[16], fields[38]), ("2", "3"), "host /proc/{pid}/stat (nice, policy)");
    rt.ok(&["delete", "-f", &id]);
}

#[test]
fn personality_linux32_makes_uname_report_32_bit() {
    if !require_root() {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("SKIPPED: LINUX32 is checked on x86_64 only");
        return;
    }
    let mut b = Bundle::new(&["uname", "-m"]);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "x86_64\n", "without linux.personality");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.save();
    let out = rt.run_ok(&b);
    assert_eq!(out, "i686\n", "linux.personality LINUX32");
    b.config["linux"]["personality"] = json!({"domain": "LINUX"});
    b.save();
    assert_eq!(rt.run_ok(&b), "x86_64\n", "linux.personality LINUX");
}

#[test]
fn domainname_is_set_in_the_container_only() {
    if !require_root() {
        return;
    }
    let host_before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let mut b = Bundle::sh("cat /proc/sys/kernel/domainname; hostname");
    b.config["domainname"] = json!("hull.example");
    b.config["hostname"] = json!("box");
    b.save();
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "hull.example\nbox\n");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(), host_before, "the host's domainname changed");
}

/// A directory bind-mounted on itself and made a shared mount on the host: a bundle built in it
/// has a rootfs that starts in a peer group, so every rootfsPropagation value shows differently.
/// Unmounted (detaching anything below it) and removed on drop.
struct SharedDir(TempDir);

impl SharedDir {
    fn new() -> SharedDir {
        use nix::mount::{mount, MsFlags};
        let d = TempDir::new("shared");
        mount(Some(d.path()), d.path(), None::<&str>, MsFlags::MS_BIND, None::<&str>).expect("bind the shared dir");
        mount(None::<&str>, d.path(), None::<&str>, MsFlags::MS_SHARED, None::<&str>).expect("make the dir shared");
        SharedDir(d)
    }

    /// Host mount points below the directory (not counting the directory itself).
    fn mounts_below(&self) -> Vec<String> {
        common::mount_points().into_iter().filter(|m| Path::new(m).starts_with(self.0.path()) && Path::new(m) != self.0.path()).collect()
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A bundle whose rootfs sits in `dir`, running `args` (a copy of a fresh busybox bundle).
fn bundle_in(dir: &Path, args: &[&str]) -> Bundle {
    let src = Bundle::new(args);
    let to = TempDir(dir.join(unique("bundle")));
    let st = Command::new("cp").arg("-a").arg(src.path()).arg(to.path()).status().unwrap();
    assert!(st.success(), "cp -a bundle");
    Bundle { dir: to, config: src.config.clone() }
}

#[test]
fn rootfs_propagation_sets_the_propagation_of_root() {
    if !require_root() {
        return;
    }
    let shared = SharedDir::new();
    let rt = Runtime::new();
    let mut b = bundle_in(shared.0.path(), &["cat", "/proc/self/mountinfo"]);
    // runc (main; 1.1.5 leaves / private for "shared" and "slave"): the default is rslave;
    // "shared" makes / shared after pivot_root; "slave" keeps / a slave of the host's peer group.
    let cases: [(Option<&str>, &[&str]); 6] = [
        (None, &["master"]),
        (Some("private"), &[]),
        (Some("rprivate"), &[]),
        (Some("shared"), &["shared"]),
        (Some("slave"), &["master"]),
        (Some("rslave"), &["master"]),
    ];
    let mut failures = Vec::new();
    for (prop, want) in cases {
        match prop {
            Some(p) => b.config["linux"]["rootfsPropagation"] = json!(p),
            None => {
                b.config["linux"].as_object_mut().unwrap().remove("rootfsPropagation");
            }
        }
        b.save();
        let out = rt.run_bundle(&b);
        let stdout = text(&out.stdout);
        // Whatever happened, none of the container's mounts (proc, dev, ...) may have come back
        // to the host through the shared peer group.
        let leaked = shared.mounts_below();
        if !leaked.is_empty() {
            failures.push(format!(
                "{prop:?}: {} container mounts leaked to the host, e.g. {:?}",
                leaked.len(),
                &leaked[..leaked.len().min(3)]
            ));
            // Detach them so the next case starts clean.
            for m in leaked.iter().rev() {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
        if !out.status.success() {
            failures.push(format!("{prop:?}: run failed: {}", text(&out.stderr).trim()));
            continue;
        }
        let Some(line) = root_mount_line(&stdout) else {
            failures.push(format!("{prop:?}: no mount at / inside:\n{stdout}"));
            continue;
        };
        let tags: Vec<String> = propagation_fields(&line).into_iter().map(|f| f.split(':').next().unwrap().to_owned()).collect();
        if tags != want {
            failures.push(format!("{prop:?}: propagation of / is {tags:?}, want {want:?} ({line})"));
        }
    }
    assert!(failures.is_empty(), "rootfsPropagation:\n{}", failures.join("\n"));
}
