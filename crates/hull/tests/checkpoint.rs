//! `checkpoint` and `restore` through CRIU, on real containers (root, CRIU 4.x: a missing or old
//! CRIU fails every test here with the reason; `scripts/install-deps.sh` builds one).
//!
//! The workload is a busybox counter printing 1, 2, 3, ... to stdout. Its stdio are pipes this
//! test holds (CRIU cannot dump stdio that is a host file; pipes are given back at restore
//! through `descriptors.json` and CRIU's inherit-fd), so the test reads the whole sequence:
//! what the container printed before the checkpoint, then what the restored one prints, and
//! checks that the second continues the first.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use common::{poll, require_root, unique, Bundle, Runtime, Scene, Snapshot, TempDir};
use serde_json::json;

/// An upper bound for anything to happen: generous, since the guest lane runs these tests
/// under TCG emulation, where one dump can take many seconds.
const T: Duration = Duration::from_secs(120);

const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done";

/// CRIU 4.x must be installed: the tests fail loudly, never skip, when it is not.
fn require_criu() {
    let out = Command::new("criu").arg("--version").output();
    let text = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => panic!("criu is not installed ({e}): run scripts/install-deps.sh (scripts/build-criu.sh builds CRIU 4.x)"),
    };
    let major: u32 =
        text.lines().find_map(|l| l.strip_prefix("Version:")).and_then(|v| v.trim().split('.').next()?.parse().ok()).unwrap_or(0);
    assert!(major >= 4, "criu in PATH is too old ({text:?}): run scripts/build-criu.sh to install CRIU 4.x");
}

/// Tests that look for leftovers (every new process below this test binary counts) run alone;
/// the others share.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn setup() -> Option<RwLockReadGuard<'static, ()>> {
    if !require_root() {
        return None;
    }
    require_criu();
    Some(EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner()))
}

fn setup_alone() -> Option<RwLockWriteGuard<'static, ()>> {
    if !require_root() {
        return None;
    }
    require_criu();
    Some(EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner()))
}

/// Lines read from a pipe by a thread, until EOF.
struct Reader {
    lines: Arc<Mutex<Vec<String>>>,
    eof: Arc<AtomicBool>,
}

impl Reader {
    fn new(pipe: impl std::io::Read + Send + 'static) -> Reader {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        let (l, e) = (lines.clone(), eof.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                match line {
                    Ok(s) => l.lock().unwrap().push(s),
                    Err(_) => break,
                }
            }
            e.store(true, Ordering::SeqCst);
        });
        Reader { lines, eof }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// The text once the writers are gone (or after a short wait, if a container keeps the
    /// pipe): what a runtime that exited wrote, without racing the reading thread.
    fn settled_text(&self) -> String {
        let _ = poll(Duration::from_secs(5), || self.eof.load(Ordering::SeqCst).then_some(()));
        self.text()
    }

    /// The counter values read so far.
    fn values(&self) -> Vec<u64> {
        self.lines().iter().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Waits until at least `n` values have come.
    fn wait_values(&self, n: usize) -> Vec<u64> {
        poll(T, || {
            let v = self.values();
            (v.len() >= n).then_some(v)
        })
        .unwrap_or_else(|| panic!("fewer than {n} counter values within {T:?}: {:?}", self.lines()))
    }

    /// Waits for EOF: every writer (the container's processes) is gone.
    fn wait_eof(&self) {
        assert!(poll(T, || self.eof.load(Ordering::SeqCst).then_some(())).is_some(), "the pipe still has writers after {T:?}");
    }
}

/// A runtime command whose stdin, stdout and stderr are pipes of this test: the container it
/// leaves running inherits them.
struct Piped {
    status: ExitStatus,
    out: Reader,
    err: Reader,
    _stdin: ChildStdin,
}

fn piped(rt: &Runtime, args: &[&str]) -> Piped {
    let mut child =
        rt.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn the runtime");
    let out = Reader::new(child.stdout.take().unwrap());
    let err = Reader::new(child.stderr.take().unwrap());
    let stdin = child.stdin.take().unwrap();
    let status = common::wait_child(&mut child, T);
    Piped { status, out, err, _stdin: stdin }
}

fn assert_ok(p: &Piped, what: &str) {
    assert!(p.status.success(), "{what} failed ({:?}): {}", p.status, p.err.settled_text());
}

/// `run -d` of the counter with piped stdio; returns once a few values came.
fn start_counter(rt: &Runtime, b: &Bundle, id: &str) -> Piped {
    let p = piped(rt, &["run", "-d", "--bundle", b.arg(), id]);
    assert_ok(&p, "run -d");
    p.out.wait_values(3);
    p
}

/// Reads a pty master until `n` counter values came (or `T`): the values and the text.
fn pty_values(master: &std::os::fd::OwnedFd, n: usize) -> (Vec<u64>, String) {
    let mut text = String::new();
    let deadline = std::time::Instant::now() + T;
    loop {
        text.push_str(&common::read_pty(master, Duration::from_millis(300)));
        let values: Vec<u64> = common::pty_lines(&text).iter().filter_map(|l| l.parse().ok()).collect();
        if values.len() >= n || std::time::Instant::now() >= deadline {
            return (values, text);
        }
    }
}

fn consecutive_from(v: &[u64], first: u64) -> bool {
    v.iter().enumerate().all(|(i, x)| *x == first + i as u64)
}

/// The values from before the checkpoint run 1..=N; the restored container's go on N+1, N+2, ...
fn assert_continues(before: &[u64], after: &[u64]) {
    assert!(consecutive_from(before, 1), "the counter before the checkpoint is not 1, 2, 3, ...: {before:?}");
    let last = *before.last().expect("values before the checkpoint");
    assert!(consecutive_from(after, last + 1), "the restored counter does not continue from {last}: {after:?}");
}

fn image_dir(tmp: &TempDir, name: &str) -> PathBuf {
    tmp.path().join(name)
}

fn checkpoint(rt: &Runtime, id: &str, image: &Path, extra: &[&str]) -> common::Outcome {
    let io = TempDir::new("cr-io");
    let mut args = vec!["checkpoint", "--image-path", image.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(id);
    rt.run_logged(&args, io.path(), T)
}

fn restore_args<'a>(image: &'a Path, b: &'a Bundle, extra: &[&'a str], id: &'a str) -> Vec<&'a str> {
    let mut args = vec!["restore", "-d", "--image-path", image.to_str().unwrap(), "--bundle", b.arg()];
    args.extend_from_slice(extra);
    args.push(id);
    args
}

/// The host cgroup of `pid` in the v1 pids hierarchy (or the unified one).
fn pids_cgroup(pid: i64) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines()
        .find(|l| l.split(':').nth(1) == Some("pids"))
        .or_else(|| text.lines().find(|l| l.starts_with("0::")))
        .unwrap_or("")
        .to_string()
}

#[test]
fn checkpoint_stops_the_container_and_restore_under_the_same_id_continues_the_counter() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-same");
    let first = start_counter(&rt, &b, &id);
    let old_pid = rt.pid(&id);

    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"), "after checkpoint");
    assert!(common::pid_ended(old_pid), "the checkpointed init {old_pid} still runs");
    first.out.wait_eof();
    let before = first.out.values();
    let fds: Vec<String> = serde_json::from_slice(&std::fs::read(img.join("descriptors.json")).expect("descriptors.json")).unwrap();
    assert!(fds.iter().all(|d| d.starts_with("pipe:")), "descriptors.json: {fds:?}");

    let second = piped(&rt, &restore_args(&img, &b, &[], &id));
    assert_ok(&second, "restore");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let new_pid = rt.pid(&id);
    assert_ne!(new_pid, old_pid);
    assert!(pids_cgroup(new_pid).ends_with(&format!("/{id}")), "restored init not in the container's cgroup: {}", pids_cgroup(new_pid));
    let after = second.out.wait_values(5);
    assert_continues(&before, &after);
    // The restored container is a container like any other: exec joins it.
    let ps = rt.ok(&["exec", &id, "sh", "-c", "echo $(cat /proc/1/cmdline | tr '\\0' ' ')"]);
    assert!(ps.contains("sh -c i=0;"), "pid 1 of the restored container: {ps:?}");

    rt.ok(&["delete", "--force", &id]);
    second.out.wait_eof();
    assert!(rt.status(&id).is_none(), "state left after delete");
}

/// `org.criu.config` names a CRIU configuration file, whose settings override hull's RPC
/// options (as with runc): here its `log-file` renames the dump's and the restore's logs.
#[test]
fn criu_config_annotation_names_a_configuration_file_criu_reads() {
    let Some(_guard) = setup() else {
        return;
    };
    let tmp = TempDir::new("cr");
    let conf = tmp.path().join("criu.conf");
    std::fs::write(&conf, "log-file from-annotation.log\n").unwrap();
    let mut b = Bundle::sh(COUNTER);
    b.config["annotations"] = serde_json::json!({"org.criu.config": conf.to_str().unwrap()});
    b.save();
    let rt = Runtime::new();
    let id = unique("cr-conf");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "img");
    let work = tmp.path().join("work");
    let out = checkpoint(&rt, &id, &img, &["--work-path", work.to_str().unwrap()]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    first.out.wait_eof();
    let before = first.out.values();
    assert!(
        work.join("from-annotation.log").is_file(),
        "CRIU did not read the configuration file (no from-annotation.log in {})",
        work.display()
    );
    assert!(!work.join("dump.log").exists(), "dump.log written: the configuration file was not read");
    std::fs::remove_file(work.join("from-annotation.log")).unwrap();

    let args = restore_args(&img, &b, &["--work-path", work.to_str().unwrap()], &id);
    let second = piped(&rt, &args);
    assert_ok(&second, "restore");
    assert!(work.join("from-annotation.log").is_file(), "restore: CRIU did not read the configuration file");
    assert_continues(&before, &second.out.wait_values(5));
    rt.ok(&["delete", "--force", &id]);
    second.out.wait_eof();
}

#[test]
fn leave_running_keeps_the_container_and_restore_under_a_new_id_with_pid_file() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-leave");
    let first = start_counter(&rt, &b, &id);
    let pid = rt.pid(&id);
    let img = image_dir(&tmp, "img");
    let seen_before = first.out.values().len();
    let out = checkpoint(&rt, &id, &img, &["--leave-running"]);
    assert!(out.success(), "checkpoint --leave-running: {}", out.describe());
    let seen_after = first.out.values();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_eq!(rt.pid(&id), pid, "the init changed");
    // The original goes on counting.
    first.out.wait_values(seen_after.len() + 3);
    assert!(consecutive_from(&first.out.values(), 1), "{:?}", first.out.values());

    let id2 = unique("cr-new");
    let pid_file = tmp.path().join("restored.pid");
    let second = piped(&rt, &restore_args(&img, &b, &["--pid-file", pid_file.to_str().unwrap()], &id2));
    assert_ok(&second, "restore under a new id");
    assert_eq!(rt.status(&id2).as_deref(), Some("running"));
    let pid2 = rt.pid(&id2);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap().trim(), pid2.to_string(), "--pid-file");
    assert!(pids_cgroup(pid2).ends_with(&format!("/{id2}")), "restored into {} instead of its own cgroup", pids_cgroup(pid2));
    // The copy continues from the moment of the dump: after what was seen before the
    // checkpoint began, at most what had come when it returned.
    let after = second.out.wait_values(5);
    let resumed_from = after[0] - 1;
    assert!(
        resumed_from as usize >= seen_before && resumed_from as usize <= seen_after.len(),
        "restored copy starts at {} (before checkpoint: {seen_before} values, after: {})",
        after[0],
        seen_after.len()
    );
    assert!(consecutive_from(&after, after[0]), "{after:?}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"), "the original is untouched");
    rt.ok(&["delete", "--force", &id2]);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn a_paused_container_is_checkpointed_and_restored_running() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-paused");
    let first = start_counter(&rt, &b, &id);
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint of a paused container: {}", out.describe());
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    first.out.wait_eof();
    let second = piped(&rt, &restore_args(&img, &b, &[], &id));
    assert_ok(&second, "restore");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_continues(&first.out.values(), &second.out.wait_values(3));
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn tmpfs_and_bind_mounts_are_restored_under_a_new_id() {
    let Some(_guard) = setup() else {
        return;
    };
    let tmp = TempDir::new("cr");
    let host = tmp.path().join("shared");
    std::fs::create_dir_all(&host).unwrap();
    let mut b = Bundle::sh("i=0; while true; do i=$((i+1)); echo $i; echo $i > /scratch/last; echo $i >> /data/log; sleep 0.1; done");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}));
    mounts.push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "rw"]}));
    b.save();
    let rt = Runtime::new();
    let id = unique("cr-mnt");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    first.out.wait_eof();
    let before = first.out.values();
    let logged = std::fs::read_to_string(host.join("log")).unwrap();

    let id2 = unique("cr-mnt2");
    let second = piped(&rt, &restore_args(&img, &b, &[], &id2));
    assert_ok(&second, "restore");
    let after = second.out.wait_values(5);
    assert_continues(&before, &after);
    // The tmpfs came back with its contents and is a tmpfs; /data is the host directory again.
    let pid = rt.pid(&id2);
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(
        mountinfo.lines().any(|l| l.split(' ').nth(4) == Some("/scratch") && l.contains(" - tmpfs ")),
        "no tmpfs on /scratch:\n{mountinfo}"
    );
    let last: u64 = std::fs::read_to_string(format!("/proc/{pid}/root/scratch/last")).unwrap().trim().parse().unwrap();
    assert!(last >= after[0], "/scratch/last = {last}, restored counter at {:?}", after);
    let now = second.out.wait_values(8);
    let log = std::fs::read_to_string(host.join("log")).unwrap();
    assert!(log.starts_with(&logged), "the bind-mounted host file lost lines");
    let host_values: Vec<u64> = log.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(consecutive_from(&host_values, 1), "host file through the bind mount: {host_values:?}");
    assert!(host_values.len() > before.len(), "the restored container does not write to the host directory: {host_values:?} vs {now:?}");
    rt.ok(&["delete", "--force", &id2]);
    rt.ok(&["delete", "--force", &id]);
}

/// A container with `process.terminal` (its pty master on a console socket, as engines run
/// them) is checkpointed and restored with a new pty sent to the new console socket.
fn terminal_round_trip(extra: &[&str]) {
    let mut b = Bundle::sh(COUNTER);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let tmp = TempDir::new("cr");
    let sock = tmp.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let rt = Runtime::new();
    let id = unique("cr-tty");
    let d = rt.run_detached(&["run", "-d", "--console-socket", sock.to_str().unwrap(), "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "run -d with a terminal: {}", d.stderr);
    let (master, _) = common::receive_fd(&listener, T);
    std::thread::sleep(Duration::from_millis(800));
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, extra);
    assert!(out.success(), "checkpoint {extra:?}: {}", out.describe());
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    let before: Vec<u64> = common::pty_lines(&common::read_pty(&master, T)).iter().filter_map(|l| l.parse().ok()).collect();
    assert!(before.len() >= 3, "{before:?}");

    let sock2 = tmp.path().join("console2.sock");
    let listener2 = UnixListener::bind(&sock2).unwrap();
    let mut args = extra.to_vec();
    args.extend(["--console-socket", sock2.to_str().unwrap()]);
    let r = rt.run_detached(&restore_args(&img, &b, &args, &id));
    assert!(r.status.success(), "restore with a console socket: {}", r.stderr);
    let (master2, _) = common::receive_fd(&listener2, T);
    // The process does not end on its own: read until a few values came.
    let (after, text) = pty_values(&master2, 3);
    assert!(after.len() >= 3, "restored counter on the new pty: {text:?}");
    assert_continues(&before, &after);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn terminal_container_is_restored_with_a_new_pty_on_the_console_socket() {
    let Some(_guard) = setup() else {
        return;
    };
    terminal_round_trip(&[]);
}

#[test]
fn terminal_container_with_shell_job() {
    let Some(_guard) = setup() else {
        return;
    };
    terminal_round_trip(&["--shell-job"]);
}

/// The prestart and createRuntime hooks run at restore too (when CRIU has made the
/// namespaces, as runc runs them), with the restored init's pid in the state they read.
#[test]
fn restore_runs_prestart_and_create_runtime_hooks_with_the_new_pid() {
    let Some(_guard) = setup() else {
        return;
    };
    let tmp = TempDir::new("cr");
    let log = tmp.path().join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("printf '{name} ' >> {0}; cat >> {0}; echo >> {0}", log.display())]});
    let mut b = Bundle::sh(COUNTER);
    b.config["hooks"] = json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")]});
    b.save();
    let rt = Runtime::new();
    let id = unique("cr-hooks");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    first.out.wait_eof();
    std::fs::write(&log, "").unwrap();
    let second = piped(&rt, &restore_args(&img, &b, &[], &id));
    assert_ok(&second, "restore");
    let pid = rt.pid(&id);
    let text = std::fs::read_to_string(&log).unwrap();
    let runs: Vec<(&str, serde_json::Value)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, state)| (name, serde_json::from_str(state).unwrap_or_else(|e| panic!("hook state {state:?}: {e}"))))
        .collect();
    let names: Vec<&str> = runs.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["prestart", "createRuntime"], "hooks run at restore: {text}");
    for (name, state) in &runs {
        assert_eq!(state["id"], json!(id), "{name}: {state}");
        assert_eq!(state["pid"], json!(pid), "{name} did not get the restored init's pid: {state}");
    }
    rt.ok(&["delete", "--force", &id]);
}

/// A network namespace joined by path stays outside the image: the restored container joins
/// the same namespace again.
#[test]
fn a_network_namespace_joined_by_path_is_joined_again_at_restore() {
    let Some(_guard) = setup() else {
        return;
    };
    let mut holder = Command::new("unshare").args(["--net", "sleep", "1000"]).spawn().expect("unshare --net sleep");
    let ns = format!("/proc/{}/ns/net", holder.id());
    let ino = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok();
    let host_ns = ino("/proc/self/ns/net");
    assert!(poll(T, || (ino(&ns) != host_ns).then_some(())).is_some(), "the holder did not get its own network namespace");
    let want = ino(&ns);
    let mut b = Bundle::sh(COUNTER);
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!(ns);
        }
    }
    b.save();
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-netns");
    let first = start_counter(&rt, &b, &id);
    assert_eq!(ino(&format!("/proc/{}/ns/net", rt.pid(&id))), want);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    let result = std::panic::catch_unwind(|| {
        assert!(out.success(), "checkpoint: {}", out.describe());
        first.out.wait_eof();
        let second = piped(&rt, &restore_args(&img, &b, &[], &id));
        assert_ok(&second, "restore");
        assert_continues(&first.out.values(), &second.out.wait_values(3));
        assert_eq!(ino(&format!("/proc/{}/ns/net", rt.pid(&id))), want, "the restored container is in another network namespace");
    });
    let _ = rt.run(&["delete", "--force", &id]);
    let _ = holder.kill();
    let _ = holder.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A foreground restore of a terminal container (no console socket) proxies the new pty to
/// its own terminal, as a foreground `run` does, and exits with the process's status. Run
/// under util-linux `script`, which gives it a terminal.
#[test]
fn foreground_restore_of_a_terminal_container_proxies_the_pty() {
    let Some(_guard) = setup() else {
        return;
    };
    let mut b = Bundle::sh("i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i; sleep 0.1; done; exit 5");
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let tmp = TempDir::new("cr");
    let sock = tmp.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let rt = Runtime::new();
    let id = unique("cr-fgtty");
    let d = rt.run_detached(&["run", "-d", "--console-socket", sock.to_str().unwrap(), "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "run -d with a terminal: {}", d.stderr);
    let (master, _) = common::receive_fd(&listener, T);
    std::thread::sleep(Duration::from_millis(600));
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    let before: Vec<u64> = common::pty_lines(&common::read_pty(&master, T)).iter().filter_map(|l| l.parse().ok()).collect();

    let cmd = format!(
        "{} --root {} restore --image-path {} --bundle {} {}",
        common::hull_bin().display(),
        rt.root.path().display(),
        img.display(),
        b.arg(),
        id
    );
    let out_path = tmp.path().join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn script (util-linux)");
    let status = common::wait_child(&mut child, T);
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert_eq!(status.code(), Some(5), "foreground restore under script: {text}");
    let after: Vec<u64> = common::pty_lines(&text).iter().filter_map(|l| l.parse().ok()).collect();
    assert_continues(&before, &after);
    assert_eq!(after.last(), Some(&40), "{text}");
    assert!(rt.status(&id).is_none(), "a foreground restore deletes the container when it ends");
}

/// Whether this kernel and CRIU track dirty memory (`--pre-dump` needs it).
fn dirty_tracking() -> bool {
    Command::new("criu").args(["check", "--feature", "mem_dirty_track"]).output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn pre_dump_needs_dirty_memory_tracking_and_says_so() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-pre");
    let first = start_counter(&rt, &b, &id);
    let pid = rt.pid(&id);
    let img = image_dir(&tmp, "parent");
    let out = checkpoint(&rt, &id, &img, &["--pre-dump"]);
    if dirty_tracking() {
        assert!(out.success(), "pre-dump with dirty tracking available: {}", out.describe());
    } else {
        assert!(!out.success(), "pre-dump without dirty tracking succeeded");
        assert!(out.stderr.contains("--pre-dump") && out.stderr.contains("dirty memory"), "unclear error: {}", out.describe());
        assert!(!img.exists(), "the refused pre-dump made {}", img.display());
    }
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_eq!(rt.pid(&id), pid);
    let n = first.out.values().len();
    first.out.wait_values(n + 2);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
#[ignore = "needs dirty memory tracking (soft-dirty bits), which this host's kernel lacks: `criu check --feature mem_dirty_track` fails; run with --include-ignored on a kernel that has it"]
fn pre_dump_then_dump_with_parent_path_restores_the_counter() {
    let Some(_guard) = setup() else {
        return;
    };
    assert!(dirty_tracking(), "this kernel cannot track dirty memory (criu check --feature mem_dirty_track): pre-dump cannot run here");
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-pre");
    let first = start_counter(&rt, &b, &id);
    let parent = image_dir(&tmp, "parent");
    let out = checkpoint(&rt, &id, &parent, &["--pre-dump"]);
    assert!(out.success(), "pre-dump: {}", out.describe());
    assert_eq!(rt.status(&id).as_deref(), Some("running"), "pre-dump stopped the container");
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &["--parent-path", "../parent"]);
    assert!(out.success(), "dump with --parent-path: {}", out.describe());
    first.out.wait_eof();
    let before = first.out.values();
    let second = piped(&rt, &restore_args(&img, &b, &[], &id));
    assert_ok(&second, "restore");
    assert_continues(&before, &second.out.wait_values(5));
    rt.ok(&["delete", "--force", &id]);
}

/// The engines' exact calls (reference: podman through conmon, containerd's runc shim).
#[test]
fn engine_command_lines_are_accepted() {
    let Some(_guard) = setup() else {
        return;
    };
    assert!(Runtime::new().run(&["checkpoint", "--help"]).status.success(), "checkpoint --help must exit 0 (podman's probe)");
    assert!(Runtime::new().run(&["restore", "--help"]).status.success());

    // containerd: checkpoint --image-path D --work-path W --file-locks --leave-running, then
    // restore --image-path D --work-path W --detach --pid-file P -no-subreaper --bundle B. The
    // shim writes `-no-subreaper` with one dash (Go's flag style), and so does this test.
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-ctd");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "ctd-checkpoint");
    let work = tmp.path().join("work/criu-work");
    let io = TempDir::new("cr-io");
    let log = tmp.path().join("log.json");
    let out = rt.run_logged(
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "checkpoint",
            "--image-path",
            img.to_str().unwrap(),
            "--work-path",
            work.to_str().unwrap(),
            "--file-locks",
            "--leave-running",
            &id,
        ],
        io.path(),
        T,
    );
    assert!(out.success(), "containerd's checkpoint: {}", out.describe());
    assert!(work.join("dump.log").is_file(), "CRIU's log is not in --work-path");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.ok(&["delete", "--force", &id]);
    first.out.wait_eof();

    let work2 = tmp.path().join("work2");
    std::fs::create_dir_all(&work2).unwrap();
    let pid_file = tmp.path().join("init.pid");
    let second = piped(
        &rt,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "restore",
            "--image-path",
            img.to_str().unwrap(),
            "--work-path",
            work2.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "-no-subreaper",
            "--bundle",
            b.arg(),
            &id,
        ],
    );
    assert_ok(&second, "containerd's restore");
    assert!(work2.join("restore.log").is_file(), "CRIU's restore log is not in --work-path");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap().trim(), rt.pid(&id).to_string());
    second.out.wait_values(3);
    rt.ok(&["delete", "--force", &id]);

    // podman: checkpoint --image-path B/checkpoint --work-path B, then restore --bundle B
    // --pid-file P --detach --image-path B/checkpoint --work-path B.
    let id = unique("cr-podman");
    let first = start_counter(&rt, &b, &id);
    let img = b.path().join("checkpoint");
    let out = rt.run_logged(&["checkpoint", "--image-path", img.to_str().unwrap(), "--work-path", b.arg(), &id], io.path(), T);
    assert!(out.success(), "podman's checkpoint: {}", out.describe());
    first.out.wait_eof();
    let before = first.out.values();
    let out = rt.run_logged(&["delete", "--force", &id], io.path(), T);
    assert!(out.success(), "{}", out.describe());
    let second = piped(
        &rt,
        &[
            "restore",
            "--bundle",
            b.arg(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "--detach",
            "--image-path",
            img.to_str().unwrap(),
            "--work-path",
            b.arg(),
            &id,
        ],
    );
    assert_ok(&second, "podman's restore");
    assert_continues(&before, &second.out.wait_values(3));
    rt.ok(&["delete", "--force", &id]);
}

/// A foreground restore stays with the process and exits with its status.
#[test]
fn foreground_restore_exits_with_the_process_status() {
    let Some(_guard) = setup() else {
        return;
    };
    // Counts to 40, then exits 7 (long enough to outlast the checkpoint under emulation).
    let b = Bundle::sh("i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i; sleep 0.1; done; exit 7");
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-fg");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    first.out.wait_eof();
    let before = first.out.values();
    let mut child = rt
        .cmd()
        .args(["restore", "--image-path", img.to_str().unwrap(), "--bundle", b.arg(), &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Reader::new(child.stdout.take().unwrap());
    let err = Reader::new(child.stderr.take().unwrap());
    let status = common::wait_child(&mut child, T);
    assert_eq!(status.code(), Some(7), "foreground restore: {status:?}: {}", err.settled_text());
    out.wait_eof();
    let after = out.values();
    assert_continues(&before, &after);
    assert_eq!(after.last(), Some(&40));
    assert!(rt.status(&id).is_none(), "a foreground restore deletes the container when it ends");
}

// ---------------------------------------------------------------------------------------------
// Bad input and failures: a clear error, nothing changed, nothing left behind.

fn scene(rt: &Runtime, tag: &str, dirs: &[&Path]) -> Scene {
    Scene {
        tag: tag.to_string(),
        root: rt.root.path().to_path_buf(),
        dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        cgroup_paths: Vec::new(),
        watched: Vec::new(),
    }
}

fn assert_no_leftovers(after: &Snapshot, before: &Snapshot, s: &Scene) {
    let left = after.leftovers(before);
    if !left.is_empty() {
        common::scrub(after, before, s);
        panic!("left behind: {left:#?}");
    }
}

#[test]
fn restore_from_a_missing_image_path_fails_and_leaves_nothing() {
    let Some(_guard) = setup_alone() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-noimg");
    let s = scene(&rt, &id, &[b.path(), tmp.path()]);
    let before = Snapshot::take(&s);
    let img = tmp.path().join("does-not-exist");
    let io = TempDir::new("cr-io");
    let out = rt.run_logged(&restore_args(&img, &b, &[], &id), io.path(), T);
    assert!(!out.success(), "restore from a missing image succeeded");
    assert!(out.stderr.contains("--image-path") && out.stderr.contains("does-not-exist"), "unclear error: {}", out.describe());
    assert!(rt.status(&id).is_none());
    assert!(!img.exists());
    assert_no_leftovers(&Snapshot::take(&s), &before, &s);
}

#[test]
fn checkpoint_of_a_stopped_or_created_container_fails_and_changes_nothing() {
    let Some(_guard) = setup() else {
        return;
    };
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let io = TempDir::new("cr-io");
    let b = Bundle::sh("exit 0");
    let id = unique("cr-stopped");
    rt.create_and_start(&b, &id);
    assert!(rt.wait_status(&id, "stopped", T));
    let img = tmp.path().join("img");
    let out = rt.run_logged(&["checkpoint", "--image-path", img.to_str().unwrap(), &id], io.path(), T);
    assert!(!out.success(), "checkpoint of a stopped container succeeded");
    assert!(out.stderr.contains("cannot be checkpointed in stopped state"), "unclear error: {}", out.describe());
    assert!(!img.exists(), "the refused checkpoint made its image directory");
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    rt.ok(&["delete", &id]);

    let b = Bundle::sh(COUNTER);
    let id = unique("cr-created");
    rt.create(&b, &id);
    let out = rt.run_logged(&["checkpoint", "--image-path", img.to_str().unwrap(), &id], io.path(), T);
    assert!(!out.success(), "checkpoint of a created container succeeded");
    assert!(out.stderr.contains("cannot be checkpointed in created state"), "unclear error: {}", out.describe());
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    rt.ok(&["delete", "--force", &id]);

    let out = rt.run_logged(&["checkpoint", "--image-path", img.to_str().unwrap(), "no-such-container"], io.path(), T);
    assert!(!out.success() && out.stderr.contains("does not exist"), "{}", out.describe());
}

#[test]
fn bad_option_values_are_refused_before_anything_is_done() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-opts");
    let first = start_counter(&rt, &b, &id);
    let state = rt.state(&id);
    let img = image_dir(&tmp, "img");
    for (args, says) in [
        (&["--manage-cgroups-mode", "loose"][..], "--manage-cgroups-mode"),
        (&["--empty-ns", "pid"][..], "--empty-ns"),
        (&["--page-server", "nowhere"][..], "--page-server"),
        (&["--parent-path", "/abs"][..], "--parent-path"),
        (&["--status-fd", "999"][..], "--status-fd"),
        (&["--parent-path", "../no-such-parent"][..], "--parent-path"),
    ] {
        let out = checkpoint(&rt, &id, &img, args);
        assert!(!out.success(), "checkpoint {args:?} succeeded");
        assert!(out.stderr.contains(says), "checkpoint {args:?}: unclear error: {}", out.describe());
        assert!(!img.exists(), "checkpoint {args:?} made the image directory");
        assert_eq!(rt.state(&id), state, "checkpoint {args:?} changed the state");
    }
    let n = first.out.values().len();
    first.out.wait_values(n + 2);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn restore_onto_a_running_id_fails_and_leaves_it_untouched() {
    let Some(_guard) = setup_alone() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-busy");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &["--leave-running"]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    let pid = rt.pid(&id);
    let state = rt.state(&id);
    let s = scene(&rt, &format!("{id}-none"), &[b.path(), tmp.path()]);
    let before = Snapshot::take(&s);
    let io = TempDir::new("cr-io");
    let out = rt.run_logged(&restore_args(&img, &b, &[], &id), io.path(), T);
    assert!(!out.success(), "restore onto a running container succeeded");
    assert!(out.stderr.contains("exists"), "unclear error: {}", out.describe());
    assert_eq!(rt.state(&id), state, "the running container's state changed");
    assert_eq!(rt.pid(&id), pid);
    let n = first.out.values().len();
    first.out.wait_values(n + 2);
    assert!(consecutive_from(&first.out.values(), 1));
    assert_no_leftovers(&Snapshot::take(&s), &before, &s);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn a_failed_dump_leaves_the_container_running_and_unchanged() {
    let Some(_guard) = setup() else {
        return;
    };
    // stdout is a unix socket of this test: a connection to outside the container, which CRIU
    // refuses to dump without --ext-unix-sk, after it has frozen the container. The counter
    // also writes its value into the rootfs, where the test reads it.
    let mut b = Bundle::sh("i=0; while true; do i=$((i+1)); echo $i; echo $i > /tmp/n; sleep 0.1; done");
    b.config["root"]["readonly"] = json!(false);
    b.save();
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-baddump");
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let out_reader = Reader::new(ours);
    let errs = theirs.try_clone().unwrap();
    let status = rt
        .cmd()
        .args(["run", "-d", "--bundle", b.arg(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stderr(Stdio::from(std::os::fd::OwnedFd::from(errs)))
        .status()
        .unwrap();
    assert!(status.success(), "run -d: {}", out_reader.text());
    out_reader.wait_values(2);
    let pid = rt.pid(&id);
    let state = rt.state(&id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(!out.success(), "dump of a container with an external unix socket as stdout succeeded");
    assert!(out.stderr.contains("criu failed: type DUMP"), "unclear error: {}", out.describe());
    assert!(out.stderr.contains("dump.log"), "the error does not say where CRIU's log is: {}", out.describe());
    assert!(!img.exists(), "the failed dump left the image directory it made");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_eq!(rt.state(&id), state, "state changed by a failed dump");
    assert_eq!(rt.pid(&id), pid);
    // Not left frozen: it goes on counting, on the same socket.
    let n = b.rootfs().join("tmp/n");
    let read = || std::fs::read_to_string(&n).ok().and_then(|t| t.trim().parse::<u64>().ok());
    let now = read().expect("the counter's file");
    assert!(poll(T, || read().filter(|v| *v >= now + 3)).is_some(), "the counter stopped at {now} after the failed dump");
    assert!(consecutive_from(&out_reader.values(), 1));
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn stdio_on_a_host_file_is_refused_before_the_dump() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-hostfile");
    // run_detached: stdout and stderr are regular files of the host.
    let d = rt.run_detached(&["run", "-d", "--bundle", b.arg(), &id]);
    assert!(d.status.success(), "{}", d.stderr);
    let state = rt.state(&id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(!out.success(), "dump of a container writing to a host file succeeded");
    assert!(out.stderr.contains("is the host file") && out.stderr.contains("pipes"), "unclear error: {}", out.describe());
    assert!(!img.exists(), "the refused checkpoint made its image directory");
    assert_eq!(rt.state(&id), state);
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.ok(&["delete", "--force", &id]);
}

/// stdin on the host's /dev/null and stdout on a host terminal (a container run in the
/// foreground of a shell: `--shell-job`): both are outside the container, recorded as CRIU
/// external files and given back from the restorer's own stdio.
#[test]
fn dev_null_and_a_host_terminal_as_stdio_are_given_back_at_restore() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-shell");
    let run_on_pty = |args: &[&str]| {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = || Stdio::from(pty.slave.try_clone().unwrap());
        let status = rt.cmd().args(args).stdin(Stdio::null()).stdout(slave()).stderr(slave()).status().unwrap();
        (status, pty.master)
    };
    let (status, master) = run_on_pty(&["run", "-d", "--bundle", b.arg(), &id]);
    assert!(status.success(), "run -d on a terminal: {}", common::read_pty(&master, Duration::from_millis(200)));
    std::thread::sleep(Duration::from_millis(800));
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &["--shell-job"]);
    assert!(out.success(), "checkpoint --shell-job: {}", out.describe());
    let before: Vec<u64> = common::pty_lines(&common::read_pty(&master, T)).iter().filter_map(|l| l.parse().ok()).collect();
    let fds: Vec<String> = serde_json::from_slice(&std::fs::read(img.join("descriptors.json")).unwrap()).unwrap();
    assert!(fds[0].starts_with("file[") && fds[1].starts_with("tty[") && fds[2] == fds[1], "descriptors.json: {fds:?}");

    let (status, master2) = run_on_pty(&restore_args(&img, &b, &["--shell-job"], &id));
    assert!(status.success(), "restore --shell-job: {}", common::read_pty(&master2, Duration::from_millis(200)));
    let (after, text) = pty_values(&master2, 3);
    assert!(after.len() >= 3, "{text:?}");
    assert_continues(&before, &after);
    let pid = rt.pid(&id);
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(), Path::new("/dev/null"));
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn a_failed_restore_leaves_no_container_cgroup_mount_or_process() {
    let Some(_guard) = setup_alone() else {
        return;
    };
    let tmp = TempDir::new("cr");
    let host = tmp.path().join("shared");
    std::fs::create_dir_all(&host).unwrap();
    let mut b = Bundle::sh(COUNTER);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind"]}));
    b.save();
    let rt = Runtime::new();
    let id = unique("cr-badrst");
    let first = start_counter(&rt, &b, &id);
    let img = image_dir(&tmp, "img");
    let out = checkpoint(&rt, &id, &img, &[]);
    assert!(out.success(), "checkpoint: {}", out.describe());
    first.out.wait_eof();
    rt.ok(&["delete", &id]);

    // Restored with a config that lacks the bind mount: CRIU finds no host path for the
    // external mount in the image and fails half-way (after hull made the state, cgroups and
    // the root mount).
    let b2 = Bundle::sh(COUNTER);
    let id2 = unique("cr-badrst2");
    let s = scene(&rt, &id2, &[b2.path(), tmp.path()]);
    let before = Snapshot::take(&s);
    let second = piped(&rt, &restore_args(&img, &b2, &[], &id2));
    assert!(!second.status.success(), "restore without the external mount succeeded");
    second.err.wait_eof();
    assert!(second.err.text().contains("criu failed: type RESTORE"), "unclear error: {}", second.err.text());
    assert!(rt.status(&id2).is_none(), "a failed restore left a container");
    assert_no_leftovers(&Snapshot::take(&s), &before, &s);
}

#[test]
fn missing_or_old_criu_is_reported_clearly() {
    let Some(_guard) = setup() else {
        return;
    };
    let b = Bundle::sh(COUNTER);
    let rt = Runtime::new();
    let tmp = TempDir::new("cr");
    let id = unique("cr-nocriu");
    let first = start_counter(&rt, &b, &id);
    let io = TempDir::new("cr-io");
    let img = tmp.path().join("img");
    let out = rt.run_logged(&["--criu", "/nonexistent/criu", "checkpoint", "--image-path", img.to_str().unwrap(), &id], io.path(), T);
    assert!(!out.success());
    assert!(out.stderr.contains("/nonexistent/criu") && out.stderr.contains("not found"), "{}", out.describe());
    let old = tmp.path().join("old-criu");
    std::fs::write(&old, "#!/bin/sh\necho 'Version: 3.17.1'\n").unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = rt.run_logged(&["--criu", old.to_str().unwrap(), "checkpoint", "--image-path", img.to_str().unwrap(), &id], io.path(), T);
    assert!(!out.success());
    assert!(out.stderr.contains("3.17.1") && out.stderr.contains("4.0 or newer"), "{}", out.describe());
    assert!(!img.exists());
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let n = first.out.values().len();
    first.out.wait_values(n + 2);
    rt.ok(&["delete", "--force", &id]);
}
