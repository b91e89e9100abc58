//! Rootless containers with the cgroupfs driver and a delegated cgroup v2 subtree, on a pure
//! cgroup v2 host with systemd as PID 1 (the QEMU guest of guest/run.sh).
//!
//! `loginctl enable-linger` starts the test user's systemd manager, user@UID.service, whose
//! cgroup systemd delegates to the user (`Delegate=`: the directory and its files belong to the
//! user, with the controllers user@.service names). hull runs as the user from a leaf cgroup of
//! that subtree (where a `systemd-run --user --scope` shell would be), so runc's rule for a
//! relative `linux.cgroupsPath` (below the parent of the runtime's own cgroup) puts the
//! container's cgroup inside the delegated subtree: limits, pause/resume, stats and update work
//! there. Run from a cgroup of root's instead (no delegation), a config without limits runs
//! without a cgroup and one with limits is refused. This machine has no systemd and is cgroup
//! v1 hybrid, so every test is `#[ignore]`d; the guest runs this binary with `--include-ignored`.
//! The checks look from inside the container and at the cgroup files on the host.

mod common;

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::rootless::*;
use common::{check_messages, hull_bin, poll, require_root, unique, Bundle, Outcome};
use serde_json::json;

/// systemd under emulation is slow: the user's manager takes a while to come up and go.
const SLOW: Duration = Duration::from_secs(120);
const WHY: &str = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)";

/// Panics unless this is the host the tests are for.
fn assert_systemd_v2() {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    assert_eq!(st.filesystem_type(), nix::sys::statfs::CGROUP2_SUPER_MAGIC, "/sys/fs/cgroup is not cgroup2: {WHY}");
    assert!(Path::new("/run/systemd/system").is_dir(), "systemd is not PID 1: {WHY}");
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| format!("<{}: {e}>", dir.join(file).display())).trim().to_owned()
}

fn words(dir: &Path, file: &str) -> Vec<String> {
    read(dir, file).split_whitespace().map(str::to_owned).collect()
}

/// A `KEY VALUE` line of a flat-keyed cgroup file (memory.events, pids.events, cgroup.events).
fn keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    read(dir, file).lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The cgroup v2 path of a host process (the `0::` line of /proc/PID/cgroup).
fn cgroup_of(pid: i64) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("").to_string()
}

/// How many tests hold the delegation now (see `Delegation`).
static HOLDERS: Mutex<usize> = Mutex::new(0);

/// The main test user's delegated subtree, up while a test holds this: the first holder enables
/// linger (systemd starts user@UID.service without a login) and makes the leaf cgroup hull runs
/// from; the last one removes the leaf, disables linger and stops the user's slice, so the tests
/// leave no cgroup behind.
struct Delegation {
    user: TestUser,
    /// /sys/fs/cgroup/user.slice/user-UID.slice/user@UID.service: the delegated subtree.
    service: PathBuf,
    /// `service`/hull-tests: the leaf the user's hull commands run from.
    leaf: PathBuf,
}

fn delegation() -> Delegation {
    let user = users().main.clone();
    let service = PathBuf::from(format!("/sys/fs/cgroup/user.slice/user-{0}.slice/user@{0}.service", user.uid));
    let leaf = service.join("hull-tests");
    let mut n = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
    if *n == 0 {
        if let Err(e) = start_delegation(&user, &service, &leaf) {
            stop_delegation(&user, &leaf);
            panic!("{e}");
        }
    }
    *n += 1;
    Delegation { user, service, leaf }
}

fn systemctl(args: &[&str]) -> String {
    let out = Command::new("systemctl").args(args).output().expect("run systemctl");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
}

fn start_delegation(u: &TestUser, service: &Path, leaf: &Path) -> Result<(), String> {
    let out = Command::new("loginctl").args(["enable-linger", &u.name]).output().map_err(|e| format!("loginctl: {e}"))?;
    if !out.status.success() {
        return Err(format!("loginctl enable-linger {}: {}", u.name, String::from_utf8_lossy(&out.stderr)));
    }
    let unit = format!("user@{}.service", u.uid);
    let up = poll(SLOW, || (systemctl(&["is-active", &unit]) == "active" && service.join("cgroup.procs").exists()).then_some(()));
    if up.is_none() {
        return Err(format!(
            "{unit} did not come up within {SLOW:?}: {}",
            systemctl(&["status", "--no-pager", "--lines=20", &unit, &format!("user-runtime-dir@{}.service", u.uid)])
        ));
    }
    // What the tests rely on: systemd delegates the manager's cgroup to the user.
    let delegate = systemctl(&["show", &unit, "-p", "Delegate", "--value"]);
    let owner = std::fs::metadata(service).map_err(|e| format!("{}: {e}", service.display()))?.uid();
    if delegate != "yes" || owner != u.uid {
        return Err(format!("{unit} is not delegated to {}: Delegate={delegate}, {} owned by uid {owner}", u.name, service.display()));
    }
    std::fs::create_dir(leaf).map_err(|e| format!("mkdir {}: {e}", leaf.display()))?;
    std::os::unix::fs::chown(leaf, Some(u.uid), Some(u.gid)).map_err(|e| format!("chown {}: {e}", leaf.display()))?;
    Ok(())
}

fn stop_delegation(u: &TestUser, leaf: &Path) {
    // Every hull command run from the leaf has exited: it is empty.
    if leaf.exists() {
        if let Err(e) = std::fs::remove_dir(leaf) {
            eprintln!("rmdir {}: {e}", leaf.display());
        }
    }
    let _ = Command::new("loginctl").args(["disable-linger", &u.name]).output();
    let slice = format!("user-{}.slice", u.uid);
    systemctl(&["stop", &slice]);
    let dir = PathBuf::from(format!("/sys/fs/cgroup/user.slice/{slice}"));
    if poll(SLOW, || (!dir.exists()).then_some(())).is_none() {
        eprintln!("{} is still there after systemctl stop {slice}", dir.display());
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        let mut n = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            stop_delegation(&self.user, &self.leaf);
        }
    }
}

impl Delegation {
    /// hull as the user with `args`, from the leaf cgroup of the delegated subtree.
    ///
    /// The test runs as root in a cgroup of its own; a user may move a process only between
    /// cgroups below one whose cgroup.procs it may write, so root moves the child, before it
    /// execs hull, by writing "0" (the writer itself) to the leaf's cgroup.procs through a file
    /// root opened: the kernel checks the credentials the file was opened with (Linux >= 5.16).
    fn run(&self, h: &UserHull, args: &[&str]) -> Outcome {
        let procs_path = self.leaf.join("cgroup.procs");
        let procs = std::fs::OpenOptions::new().write(true).open(&procs_path).unwrap_or_else(|e| panic!("{}: {e}", procs_path.display()));
        let fd = procs.as_raw_fd();
        let mut c = h.cmd();
        c.args(args);
        // SAFETY: the closure runs in the forked child before exec and calls only write(2),
        // which is async-signal-safe; `fd` stays open until run_command has waited for the child.
        unsafe {
            c.pre_exec(move || match libc::write(fd, b"0".as_ptr().cast(), 1) {
                1 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            });
        }
        let o = run_command(c);
        drop(procs);
        o
    }

    fn ok(&self, h: &UserHull, args: &[&str]) -> String {
        let o = self.run(h, args);
        assert!(o.success(), "hull {args:?} as {} from {} failed: {}", h.user.name, self.leaf.display(), o.describe());
        o.stdout
    }

    /// `run -d`, from the leaf: a running container.
    fn run_detached(&self, h: &UserHull, b: &Bundle, id: &str) {
        self.ok(h, &["run", "-d", "--bundle", b.arg(), id]);
    }

    /// The host directory of the container `id` with the default cgroupsPath (the id, relative:
    /// next to the leaf).
    fn dir_of(&self, id: &str) -> PathBuf {
        self.service.join(id)
    }

    /// Asserts that nothing of the container is left in the delegated subtree (no directory
    /// naming it anywhere below the manager's cgroup).
    fn assert_nothing_left(&self, id: &str) {
        let mut left = Vec::new();
        let mut todo = vec![self.service.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    if e.file_name().to_string_lossy().contains(id) {
                        left.push(e.path());
                    }
                    todo.push(e.path());
                }
            }
        }
        assert!(left.is_empty(), "cgroups of {id} left in the delegated subtree: {left:?}");
    }
}

/// A bundle of the user's (`hull spec --rootless` as the user) running `sh -c script`, with a
/// cgroup namespace (so /sys/fs/cgroup inside is the container's own cgroup) and a writable
/// rootfs (the scripts leave their results in /tmp, which the host reads).
fn bundle(u: &TestUser, script: &str) -> Bundle {
    let mut b = user_sh(u, script);
    let ns = b.config["linux"]["namespaces"].as_array_mut().expect("namespaces");
    if !ns.iter().any(|n| n["type"] == "cgroup") {
        ns.push(json!({"type": "cgroup"}));
    }
    b.config["root"]["readonly"] = json!(false);
    b.save();
    b
}

/// The content of the rootfs's /tmp/out once it has a line `end`.
fn wait_out(b: &Bundle) -> String {
    let path = b.rootfs().join("tmp/out");
    let got = poll(SLOW, || std::fs::read_to_string(&path).ok().filter(|t| t.lines().any(|l| l == "end")));
    got.unwrap_or_else(|| panic!("the container did not finish its checks: {:?}", std::fs::read_to_string(&path)))
}

/// The container's status as the user sees it (from outside the subtree: state needs none).
fn status(h: &UserHull, id: &str) -> String {
    h.status(id).unwrap_or_default()
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn limits_are_set_in_the_delegated_subtree_seen_inside_and_enforced() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    // Inside: the container's own cgroup at /sys/fs/cgroup; a fork bomb (in a subshell, which
    // the shell's "can't fork" ends) stopped at pids.max, read with builtins only (no fork is
    // possible then) before the init kills everything else; a 128 MiB buffer in a 64 MiB cgroup
    // without swap killed by the OOM killer.
    let script = "exec >/tmp/out 2>&1; cat /proc/self/cgroup; \
                  echo memory.max $(cat /sys/fs/cgroup/memory.max); echo pids.max $(cat /sys/fs/cgroup/pids.max); \
                  (i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null; \
                  read n < /sys/fs/cgroup/pids.current; echo pids.current $n; \
                  while read k v; do [ $k = max ] && echo pids.events max $v; done < /sys/fs/cgroup/pids.events; \
                  kill -9 -1; wait; \
                  dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; echo dd $?; \
                  echo memory.events $(grep oom_kill /sys/fs/cgroup/memory.events); echo end; exec sleep 1000";
    let mut b = bundle(&d.user, script);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 64 << 20, "swap": 64 << 20}, "pids": {"limit": 16}});
    b.save();
    let id = unique("rlcg-limits");
    d.run_detached(&h, &b, &id);
    let out = wait_out(&b);
    let value = |key: &str| -> String {
        let prefix = format!("{key} ");
        out.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key} in the container's output:\n{out}"))
            .to_string()
    };
    assert_eq!(out.lines().next(), Some("0::/"), "not in a cgroup namespace of its own:\n{out}");
    assert_eq!(value("memory.max"), (64u64 << 20).to_string(), "{out}");
    assert_eq!(value("pids.max"), "16", "{out}");
    let current: u64 = value("pids.current").parse().unwrap_or(u64::MAX);
    assert!(current <= 16, "the fork bomb went past pids.max:\n{out}");
    let refused: u64 = value("pids.events").strip_prefix("max ").and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(refused > 0, "no fork was refused at pids.max:\n{out}");
    assert_eq!(value("dd"), "137", "the memory hog was not killed (SIGKILL):\n{out}");
    let kills: u64 = value("memory.events").strip_prefix("oom_kill ").and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(kills >= 1, "no OOM kill counted:\n{out}");

    // On the host: the cgroup is the user's, next to the leaf hull ran from, with the limits.
    let dir = d.dir_of(&id);
    let pid = h.pid(&id);
    let want = dir.strip_prefix("/sys/fs/cgroup").unwrap();
    assert_eq!(cgroup_of(pid), format!("/{}", want.display()), "the init's cgroup on the host");
    let m = std::fs::metadata(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert_eq!(m.uid(), d.user.uid, "{} is not the user's", dir.display());
    assert_eq!(read(&dir, "memory.max"), (64u64 << 20).to_string());
    assert_eq!(read(&dir, "memory.swap.max"), "0");
    assert_eq!(read(&dir, "pids.max"), "16");
    assert!(keyed(&dir, "memory.events", "oom_kill").is_some_and(|n| n >= 1), "memory.events on the host: {}", read(&dir, "memory.events"));

    h.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "{} left after delete", dir.display());
    d.assert_nothing_left(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn pause_and_resume_freeze_the_delegated_cgroup() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    // No limits: the container still gets its cgroup in the delegated subtree, which pause needs.
    let b = bundle(&d.user, "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done");
    let id = unique("rlcg-pause");
    let o = d.run(&h, &["--debug", "run", "-d", "--bundle", b.arg(), &id]);
    assert!(o.success(), "run -d from the subtree: {}", o.describe());
    let dir = d.dir_of(&id);
    assert!(dir.is_dir(), "no cgroup {} for a container without limits", dir.display());
    if check_messages() {
        assert!(o.stderr.contains(&format!("in the delegated cgroup {}", dir.display())), "--debug: {}", o.describe());
    }
    let count = || std::fs::read_to_string(b.rootfs().join("tmp/count")).ok().and_then(|t| t.trim().parse::<u64>().ok()).unwrap_or(0);
    let moving = |from: u64| poll(SLOW, || (count() > from + 2).then_some(())).is_some();
    assert!(moving(0), "the counter does not run");

    // pause and resume as the user, from outside the subtree (they write the container's files).
    h.ok(&["pause", &id]);
    assert_eq!(status(&h, &id), "paused");
    assert_eq!(read(&dir, "cgroup.freeze"), "1");
    assert_eq!(keyed(&dir, "cgroup.events", "frozen"), Some(1), "cgroup.events: {}", read(&dir, "cgroup.events"));
    let frozen_at = count();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(), frozen_at, "the counter moved while paused");
    let o = h.run(&["pause", &id]);
    assert!(!o.success(), "pausing a paused container succeeded: {}", o.describe());

    h.ok(&["resume", &id]);
    assert_eq!(status(&h, &id), "running");
    assert_eq!(read(&dir, "cgroup.freeze"), "0");
    assert_eq!(keyed(&dir, "cgroup.events", "frozen"), Some(0));
    assert!(moving(frozen_at), "the counter does not run after resume");

    // kill --all goes through the container's cgroup.kill.
    h.ok(&["kill", "--all", &id, "KILL"]);
    assert!(h.wait_status(&id, "stopped"), "not stopped after kill --all: {}", status(&h, &id));
    h.ok(&["delete", &id]);
    assert!(!dir.exists(), "{} left after delete", dir.display());
    d.assert_nothing_left(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn events_stats_match_the_cgroup_files() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    let mut b = bundle(&d.user, "sleep 1000 & sleep 1000 & wait");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 96 << 20}, "pids": {"limit": 20}});
    b.save();
    let id = unique("rlcg-stats");
    d.run_detached(&h, &b, &id);
    let dir = d.dir_of(&id);
    assert!(poll(SLOW, || (read(&dir, "pids.current") == "3").then_some(())).is_some(), "pids.current: {}", read(&dir, "pids.current"));

    let before: u64 = read(&dir, "memory.current").parse().unwrap();
    let out = h.ok(&["events", "--stats", &id]);
    let after: u64 = read(&dir, "memory.current").parse().unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("events --stats: {e}: {out}"));
    assert_eq!(v["type"], "stats", "{v}");
    let s = &v["data"];
    assert_eq!(s["pids"]["current"], 3, "{s}");
    assert_eq!(s["pids"]["limit"], 20, "{s}");
    assert_eq!(s["memory"]["usage"]["limit"], 96u64 << 20, "{s}");
    let usage = s["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
    let (lo, hi) = (before.min(after), before.max(after));
    assert!(usage > 0 && usage >= lo / 2 && usage <= hi * 2, "memory usage {usage} against memory.current {before}..{after}: {s}");
    // memory.stat's counters, as the cgroup has them.
    let raw_file = s["memory"]["raw"]["file_mapped"].as_u64();
    let host_file = read(&dir, "memory.stat").lines().find_map(|l| l.strip_prefix("file_mapped ")?.parse::<u64>().ok());
    assert!(raw_file.is_some() && host_file.is_some(), "file_mapped: stats {raw_file:?}, memory.stat {host_file:?}");

    h.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "{} left after delete", dir.display());
    d.assert_nothing_left(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn update_as_the_user_changes_the_limits() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    // Below a level of hull's own (`nest`), in which hull enables every controller it may.
    let nest = unique("rlcg-upnest");
    let id = unique("rlcg-update");
    let mut b = bundle(&d.user, "sleep 1000");
    b.config["linux"]["cgroupsPath"] = json!(format!("{nest}/{id}"));
    b.config["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 20}});
    b.save();
    d.run_detached(&h, &b, &id);
    let dir = d.service.join(&nest).join(&id);
    assert_eq!(read(&dir, "pids.max"), "20");

    // From outside the subtree; cpu is delegated too (user@.service: Delegate=pids memory cpu):
    // the manager's cgroup passes it on, and hull's level does.
    let mem = (96u64 << 20).to_string();
    h.ok(&["update", "--pids-limit", "30", "--memory", &mem, "--cpu-quota", "50000", "--cpu-period", "100000", &id]);
    assert_eq!(read(&dir, "pids.max"), "30");
    assert_eq!(read(&dir, "memory.max"), mem);
    assert_eq!(read(&dir, "cpu.max"), "50000 100000");
    for parent in [d.service.clone(), d.service.join(&nest)] {
        assert!(words(&parent, "cgroup.subtree_control").contains(&"cpu".to_string()), "cpu not enabled in {}", parent.display());
    }
    // Seen inside (an exec from the subtree joins the container's cgroup).
    let inside = d.ok(&h, &["exec", &id, "cat", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/cpu.max"]);
    assert_eq!(inside.lines().collect::<Vec<_>>(), ["30", mem.as_str(), "50000 100000"], "inside after update: {inside}");

    h.ok(&["delete", "--force", &id]);
    assert!(!d.service.join(&nest).exists(), "{} left after delete", d.service.join(&nest).display());
    d.assert_nothing_left(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn cgroups_paths_inside_the_subtree_get_the_controllers_enabled() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    // A cgroup of the user's own in the subtree, without controllers for its children: hull
    // enables what the limits need there, as the user.
    let mine = d.service.join(unique("rlcg-mine"));
    let mut c = user_command(&d.user, Path::new("/bin/mkdir"), Path::new("/"));
    c.arg(&mine);
    let o = run_command(c);
    assert!(o.success(), "the user cannot make a cgroup in its subtree: {}", o.describe());
    assert!(words(&mine, "cgroup.subtree_control").is_empty());
    let rel = |p: &Path| format!("/{}", p.strip_prefix("/sys/fs/cgroup").unwrap().display());

    let resources = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 20}});
    let absolute_id = unique("rlcg-abs");
    let relative_id = unique("rlcg-rel");
    let nest = unique("rlcg-nest");
    // (cgroupsPath, where it lands): absolute = below /sys/fs/cgroup; relative = below the
    // parent of hull's own cgroup (the leaf), as runc places it.
    let cases = [
        (format!("{}/{absolute_id}", rel(&mine)), mine.join(&absolute_id)),
        (format!("{nest}/{relative_id}"), d.service.join(&nest).join(&relative_id)),
    ];
    for (path, dir) in &cases {
        let mut b = bundle(&d.user, "sleep 1000");
        b.config["linux"]["cgroupsPath"] = json!(path);
        b.config["linux"]["resources"] = resources.clone();
        b.save();
        let id = dir.file_name().unwrap().to_str().unwrap();
        d.run_detached(&h, &b, id);
        assert_eq!(cgroup_of(h.pid(id)), rel(dir), "cgroupsPath {path}");
        assert_eq!(read(dir, "pids.max"), "20", "cgroupsPath {path}");
        assert_eq!(read(dir, "memory.max"), (64u64 << 20).to_string(), "cgroupsPath {path}");
        let parent = dir.parent().unwrap();
        let on = words(parent, "cgroup.subtree_control");
        assert!(on.contains(&"memory".into()) && on.contains(&"pids".into()), "{}/cgroup.subtree_control: {on:?}", parent.display());
        h.ok(&["delete", "--force", id]);
        assert!(!dir.exists(), "{} left after delete", dir.display());
    }
    // What hull made goes with the container; the user's own cgroup stays.
    assert!(!d.service.join(&nest).exists(), "the cgroup hull made for {nest} was left");
    assert!(mine.is_dir(), "delete removed the user's own cgroup");
    std::fs::remove_dir(&mine).unwrap_or_else(|e| panic!("rmdir {}: {e}", mine.display()));
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_limit_whose_controller_is_not_delegated_is_refused_leaving_nothing() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    // cpuset is not delegated to the user (user@.service: Delegate=pids memory cpu).
    let delegated = systemctl(&["show", &format!("user@{}.service", d.user.uid), "-p", "DelegateControllers", "--value"]);
    assert!(!delegated.split_whitespace().any(|c| c == "cpuset"), "cpuset is delegated here: {delegated}");
    let mut b = bundle(&d.user, "true");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 20}, "cpu": {"cpus": "0"}});
    b.save();
    let id = unique("rlcg-cpuset");
    let o = d.run(&h, &["run", "--bundle", b.arg(), &id]);
    assert!(!o.success(), "a cpuset limit was accepted without the controller delegated: {}", o.describe());
    if check_messages() {
        assert!(o.text().contains("linux.resources.cpu.cpus") && o.text().contains("cpuset"), "{}", o.describe());
    }
    h.assert_nothing_left(&id);
    d.assert_nothing_left(&id);
    assert!(!words(&d.service, "cgroup.subtree_control").contains(&"cpuset".to_string()), "cpuset enabled in the subtree");
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn exec_joins_the_cgroup_from_the_subtree_and_runs_from_outside() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let h = UserHull::new(&d.user);
    let b = bundle(&d.user, "sleep 1000");
    let id = unique("rlcg-exec");
    d.run_detached(&h, &b, &id);
    let dir = d.dir_of(&id);
    let init = h.pid(&id);

    // From the subtree: into the container's cgroup (seen inside: its cgroup namespace root).
    let inside = d.ok(&h, &["exec", &id, "cat", "/proc/self/cgroup"]);
    assert_eq!(inside.trim(), "0::/", "exec from the subtree: {inside}");
    d.ok(&h, &["exec", "-d", &id, "sleep", "998"]);
    let joined = container_process_within(init, &["sleep", "998"], SLOW);
    assert_eq!(cgroup_of(joined), cgroup_of(init), "exec -d from the subtree is not in the container's cgroup");

    // From a cgroup of root's the user cannot move a process into the subtree: the process runs
    // in hull's cgroup, as with runc, and --debug says so.
    let o = h.run(&["--debug", "exec", "-d", &id, "sleep", "999"]);
    assert!(o.success(), "exec from outside the subtree: {}", o.describe());
    let outside = container_process_within(init, &["sleep", "999"], SLOW);
    assert_eq!(cgroup_of(outside), cgroup_of(std::process::id() as i64), "exec from outside: the process's cgroup");
    if check_messages() {
        assert!(o.stderr.contains("stays in hull's cgroup"), "{}", o.describe());
    }
    h.ok(&["delete", "--force", &id]);
    assert!(poll(SLOW, || common::pid_ended(outside).then_some(())).is_some(), "the exec'd process outlived delete --force");
    assert!(!dir.exists(), "{} left after delete", dir.display());
    d.assert_nothing_left(&id);
}

/// What the README recommends: hull started in a scope of the user's own manager, as
/// `systemd-run --user --scope` makes one (over the user's session bus, Debian's
/// dbus-user-session). The scope is in app.slice, so the container's cgroup goes there.
#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn hull_in_a_systemd_run_user_scope_places_the_container_in_the_users_manager() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let d = delegation();
    let runtime_dir = PathBuf::from(format!("/run/user/{}", d.user.uid));
    let bus = runtime_dir.join("bus");
    assert!(poll(SLOW, || bus.exists().then_some(())).is_some(), "no session bus at {} (Debian's dbus-user-session)", bus.display());
    let systemd_run = find_in_path("systemd-run").expect("systemd-run not found");
    let h = UserHull::new(&d.user);
    let mut b = bundle(&d.user, "sleep 1000");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 20}});
    b.save();
    let id = unique("rlcg-scope");
    let mut c = user_command(&d.user, &systemd_run, h.xdg.path());
    c.env("XDG_RUNTIME_DIR", &runtime_dir).args(["--user", "--scope", "--quiet", "--"]).arg(hull_bin());
    c.arg("--root").arg(h.state_root()).args(["run", "-d", "--bundle", b.arg(), &id]);
    let o = run_command(c);
    assert!(o.success(), "systemd-run --user --scope hull run -d: {}", o.describe());
    let dir = d.service.join("app.slice").join(&id);
    assert_eq!(cgroup_of(h.pid(&id)), format!("/{}", dir.strip_prefix("/sys/fs/cgroup").unwrap().display()), "the init's cgroup");
    assert_eq!(read(&dir, "memory.max"), (64u64 << 20).to_string());
    assert_eq!(read(&dir, "pids.max"), "20");
    h.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "{} left after delete", dir.display());
    d.assert_nothing_left(&id);
}

/// No delegation: hull as the user from root's cgroup (the test's), where the user may make
/// nothing. No linger either.
#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn without_delegation_no_limits_run_without_a_cgroup_and_limits_are_refused() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let u = &users().main;
    let h = UserHull::new(u);
    let own = cgroup_of(std::process::id() as i64);
    let own_dir = PathBuf::from(format!("/sys/fs/cgroup{own}"));
    let b = bundle(u, "sleep 1000");
    let id = unique("rlcg-nodeleg");
    let o = h.run(&["--debug", "run", "-d", "--bundle", b.arg(), &id]);
    assert!(o.success(), "a config without limits did not run without delegation: {}", o.describe());
    if check_messages() {
        assert!(o.stderr.contains("limits are not set"), "--debug does not say the limits are not set: {}", o.describe());
    }
    // The init stays in the cgroup hull ran from; none was made for it.
    assert_eq!(cgroup_of(h.pid(&id)), own, "the init's cgroup");
    let parent = own_dir.parent().unwrap();
    assert!(!parent.join(&id).exists() && !own_dir.join(&id).exists(), "a cgroup was made for {id}");
    h.ok(&["delete", "--force", &id]);

    for (field, resources) in
        [("linux.resources.memory", json!({"memory": {"limit": 64 << 20}})), ("linux.resources.pids", json!({"pids": {"limit": 10}}))]
    {
        let mut b = bundle(u, "true");
        b.config["linux"]["resources"] = resources;
        b.save();
        let id = unique("rlcg-refused");
        let o = h.run(&["run", "--bundle", b.arg(), &id]);
        assert!(!o.success(), "{field} without delegation was accepted: {}", o.describe());
        if check_messages() {
            assert!(o.text().contains(field), "the refusal does not name {field}: {}", o.describe());
        }
        h.assert_nothing_left(&id);
        assert!(!parent.join(&id).exists() && !own_dir.join(&id).exists(), "a cgroup was left for {id}");
    }
}
