//! The commands on a running container, as runc has them: `pause`/`resume`, `ps`, `events`,
//! `update`, `kill --all` and `delete --force`. Each test looks at the effect on the host: the
//! freezer, the cgroup files, the processes, and the JSON the command prints.
//!
//! Every container gets an absolute `linux.cgroupsPath` of its own, so the test knows where its
//! cgroups are whatever the runtime under test (`HULL_TEST_BIN=/usr/sbin/runc` runs these
//! against runc 1.1.5; a few checks of hull's own behaviour are skipped then, and say so).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{
    cgroup_dir, cgroup_procs, cgroup_v2_only, check_messages, pid_ended, poll, read_cgroup_file, require_root, unique, wait_child, Bundle,
    Runtime, TempDir,
};
use serde_json::json;

/// Generous bound for anything that should take well under a second.
const T: Duration = Duration::from_secs(10);

/// The v1 controllers a container is placed in on this host.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio"];

/// True when the tests run against hull itself (not `HULL_TEST_BIN`).
fn testing_hull() -> bool {
    std::env::var_os("HULL_TEST_BIN").is_none()
}

/// A bundle with a cgroupsPath of its own; removes the (empty) cgroup directories a failing
/// runtime left behind when dropped. Declare it before the `Runtime`, so it is dropped after
/// the runtime deleted its containers.
struct CgBundle {
    b: Bundle,
    path: String,
}

impl CgBundle {
    fn sh(script: &str) -> CgBundle {
        let mut b = Bundle::sh(script);
        let path = format!("/{}", unique("hull-ops-cg"));
        b.config["linux"]["cgroupsPath"] = json!(path);
        // The tests read files the container writes below its /tmp.
        b.config["root"]["readonly"] = json!(false);
        b.save();
        CgBundle { b, path }
    }

    fn dir(&self, controller: &str) -> PathBuf {
        cgroup_dir(controller, &self.path)
    }

    fn save(&self) {
        self.b.save();
    }
}

impl Drop for CgBundle {
    fn drop(&mut self) {
        let dirs: Vec<PathBuf> = if cgroup_v2_only() { vec![self.dir("")] } else { V1_CONTROLLERS.iter().map(|c| self.dir(c)).collect() };
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and asserts failure; returns stdout and stderr together.
fn fails(rt: &Runtime, args: &[&str]) -> String {
    let out = rt.run(args);
    assert!(!out.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(&out))
}

/// The number the counter script last wrote to `file` (retrying across a rewrite in progress).
fn counter(file: &Path) -> u64 {
    poll(T, || std::fs::read_to_string(file).ok().and_then(|s| s.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{} never held a number", file.display()))
}

/// Whether the container's cgroup is frozen, as the kernel says.
fn frozen(cg: &CgBundle) -> bool {
    if cgroup_v2_only() {
        read_cgroup_file(&cg.dir(""), "cgroup.events").lines().any(|l| l == "frozen 1")
    } else {
        read_cgroup_file(&cg.dir("freezer"), "freezer.state") == "FROZEN"
    }
}

/// The pids of the container's cgroup, from the host.
fn procs(cg: &CgBundle) -> Vec<i64> {
    cgroup_procs(&cg.dir("pids"))
}

const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done";

// ---------------------------------------------------------------------------------------------
// pause / resume

#[test]
fn pause_freezes_the_processes_and_resume_thaws_them() {
    if !require_root() {
        return;
    }
    // A second process that always exists: the counter's own `sleep 0.05` may be between two
    // runs at the moment of the freeze (often so under the guest's emulation).
    let cg = CgBundle::sh(&format!("sleep 1000 & {COUNTER}"));
    let rt = Runtime::new();
    let id = unique("pause");
    rt.create_and_start(&cg.b, &id);
    let file = cg.b.rootfs().join("tmp/c");
    let start = counter(&file);
    assert!(poll(T, || (counter(&file) > start).then_some(())).is_some(), "the counter does not run");

    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    assert!(frozen(&cg), "pause returned but the cgroup is not frozen");
    let list: serde_json::Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["status"], "paused", "list: {list}");
    let before = counter(&file);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(counter(&file), before, "the counter moved while paused");
    // Every process of the container is frozen, not just the init.
    assert!(procs(&cg).len() >= 2, "sh and its sleep: {:?}", procs(&cg));
    let again = fails(&rt, &["pause", &id]);
    if check_messages() {
        assert!(again.contains("container not running"), "{again}");
    }
    // exec refuses a paused container unless told --ignore-paused.
    let out = fails(&rt, &["exec", &id, "true"]);
    if check_messages() {
        assert!(out.contains("paused"), "{out}");
    }

    rt.ok(&["resume", &id]);
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert!(!frozen(&cg), "resume returned but the cgroup is frozen");
    let after = counter(&file);
    assert!(poll(T, || (counter(&file) > after).then_some(())).is_some(), "the counter does not move after resume");
    let again = fails(&rt, &["resume", &id]);
    if check_messages() {
        assert!(again.contains("container not paused"), "{again}");
    }
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn delete_force_removes_a_paused_container() {
    if !require_root() {
        return;
    }
    let cg = CgBundle::sh("sleep 1000 & sleep 1001");
    let rt = Runtime::new();
    let id = unique("pausedel");
    rt.create_and_start(&cg.b, &id);
    assert!(poll(T, || (procs(&cg).len() == 2).then_some(())).is_some(), "two processes: {:?}", procs(&cg));
    let pids = procs(&cg);
    rt.ok(&["pause", &id]);
    // Without --force a paused container stays, still paused.
    let out = fails(&rt, &["delete", &id]);
    if check_messages() {
        assert!(out.contains("paused"), "{out}");
    }
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));

    rt.ok(&["delete", "--force", &id]);
    for p in &pids {
        assert!(poll(T, || pid_ended(*p).then_some(())).is_some(), "pid {p} survived delete --force of a paused container");
    }
    assert!(rt.status(&id).is_none(), "the container still exists");
    for c in ["freezer", "memory", "pids"] {
        let d = cg.dir(c);
        assert!(poll(T, || (!d.exists()).then_some(())).is_some(), "{} left behind", d.display());
    }
}

#[test]
fn pause_and_resume_of_a_stopped_container_fail() {
    if !require_root() {
        return;
    }
    let cg = CgBundle::sh("true");
    let rt = Runtime::new();
    let id = unique("pausestop");
    rt.create_and_start(&cg.b, &id);
    assert!(rt.wait_status(&id, "stopped", T));
    let out = fails(&rt, &["pause", &id]);
    let out2 = fails(&rt, &["resume", &id]);
    if check_messages() {
        assert!(out.contains("container not running"), "{out}");
        assert!(out2.contains("container not paused"), "{out2}");
    }
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    let out = fails(&rt, &["pause", "no-such-container"]);
    if check_messages() {
        assert!(out.contains("container does not exist"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// ps

#[test]
fn ps_lists_the_containers_processes_only() {
    if !require_root() {
        return;
    }
    let cg = CgBundle::sh("sleep 1000 & sleep 1001 & wait");
    let rt = Runtime::new();
    let id = unique("ps");
    rt.create_and_start(&cg.b, &id);
    assert!(poll(T, || (procs(&cg).len() == 3).then_some(())).is_some(), "sh and two sleeps: {:?}", procs(&cg));
    let host = procs(&cg);

    // json: the array of host pids, as Go's encoder writes it (no spaces, a newline).
    let out = rt.ok(&["ps", "--format", "json", &id]);
    assert!(out.ends_with("]\n") && out.starts_with('[') && !out.contains(' '), "{out:?}");
    let mut pids: Vec<i64> = serde_json::from_str(&out).unwrap();
    pids.sort_unstable();
    assert_eq!(pids, host);
    assert_eq!(rt.ok(&["ps", "-f", "json", &id]), out);

    // table: ps -ef's header and exactly the container's rows.
    let table = rt.ok(&["ps", &id]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(header.split_whitespace().any(|h| h == "PID") && header.contains("CMD"), "{table}");
    let rows: Vec<&str> = lines.collect();
    let mut row_pids: Vec<i64> = rows.iter().map(|r| r.split_whitespace().nth(1).unwrap().parse().unwrap()).collect();
    row_pids.sort_unstable();
    assert_eq!(row_pids, host, "{table}");
    assert!(rows.iter().any(|r| r.contains("sleep 1001")), "{table}");
    assert!(!table.contains(&format!(" {} ", std::process::id())), "the test's own process is listed: {table}");

    // Everything after the id goes to ps(1), flags included.
    let custom = rt.ok(&["ps", &id, "-o", "pid,comm"]);
    let mut lines = custom.lines();
    assert_eq!(lines.next().unwrap().split_whitespace().collect::<Vec<_>>(), ["PID", "COMMAND"], "{custom}");
    let comms: Vec<&str> = lines.map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(comms.len(), 3, "{custom}");
    assert!(comms.iter().all(|c| *c == "sh" || *c == "sleep"), "{custom}");
    let full = rt.ok(&["ps", &id, "-f"]);
    assert!(full.lines().next().unwrap().contains("PPID"), "-f after the id is ps's full format: {full}");

    let out = fails(&rt, &["ps", "--format", "xml", &id]);
    if check_messages() {
        assert!(out.contains("invalid format option"), "{out}");
    }
    // ps output without a PID column cannot be filtered.
    let out = fails(&rt, &["ps", &id, "-o", "comm"]);
    if check_messages() {
        assert!(out.contains("couldn't find PID field in ps output"), "{out}");
    }

    // A stopped container (PID namespace: everything died with the init) has no processes:
    // runc prints null.
    rt.ok(&["kill", &id, "KILL"]);
    assert!(rt.wait_status(&id, "stopped", T));
    assert!(poll(T, || procs(&cg).is_empty().then_some(())).is_some());
    assert_eq!(rt.ok(&["ps", "--format", "json", &id]), "null\n");
    let out = fails(&rt, &["ps", "no-such-container"]);
    if check_messages() {
        assert!(out.contains("container does not exist"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// events

/// The top-level keys of runc 1.1.5's stats `data`.
const STATS_KEYS: &[&str] = &["blkio", "cpu", "cpuset", "hugetlb", "intel_rdt", "memory", "network_interfaces", "pids"];

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

#[test]
fn events_stats_prints_one_object_in_runcs_schema() {
    if !require_root() {
        return;
    }
    let mut cg = CgBundle::sh("sleep 1000 & while true; do i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; sleep 0.1; done");
    cg.b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    cg.b.config["linux"]["resources"]["pids"] = json!({"limit": 20});
    cg.save();
    let rt = Runtime::new();
    let id = unique("stats");
    rt.create_and_start(&cg.b, &id);
    assert!(poll(T, || (procs(&cg).len() >= 2).then_some(())).is_some());

    let out = rt.ok(&["events", "--stats", &id]);
    assert!(out.ends_with('\n') && out.trim_end().lines().count() == 1, "one JSON line: {out:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys(&v), ["data", "id", "type"], "{v}");
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    let d = &v["data"];
    assert_eq!(keys(d), STATS_KEYS, "{d}");
    assert!(d["network_interfaces"].is_null() && d["intel_rdt"] == json!({}) && d["hugetlb"].is_object(), "{d}");
    // Go's omitempty: zero counters go, the nested objects and the always-present fields stay.
    assert!(d["cpu"]["usage"]["kernel"].is_u64() && d["cpu"]["usage"]["user"].is_u64(), "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().is_some_and(|t| t > 0), "the busy loop used no CPU: {d}");
    assert!(d["cpu"]["throttling"].is_object(), "{d}");
    assert_eq!(d["pids"]["limit"], 20, "{d}");
    assert!(d["pids"]["current"].as_u64().is_some_and(|n| n >= 2), "{d}");
    assert_eq!(d["memory"]["usage"]["limit"], 64u64 << 20, "{d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().is_some_and(|n| n > 0), "{d}");
    for entry in ["usage", "swap", "kernel", "kernelTCP"] {
        let e = &d["memory"][entry];
        assert!(e["limit"].is_u64() && e["failcnt"].is_u64(), "memory.{entry}: {d}");
    }
    assert!(d["memory"]["raw"].is_object(), "{d}");
    if !cgroup_v2_only() {
        // cgroup v1: per-CPU usage and the cpuset are read.
        assert!(d["cpu"]["usage"]["percpu"].as_array().is_some_and(|a| !a.is_empty()), "{d}");
        assert!(d["cpuset"]["cpus"].as_array().is_some_and(|a| !a.is_empty()), "{d}");
        assert!(d["memory"]["raw"]["total_rss"].is_u64(), "{d}");
    }
    rt.ok(&["delete", "--force", &id]);
}

/// Whether process `pid` holds an eventfd (runc and hull register one for OOM events on v1).
fn has_eventfd(pid: u32) -> bool {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    rd.flatten().any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().contains("eventfd")))
}

#[test]
fn events_streams_stats_and_an_oom_kill_until_the_container_stops() {
    if !require_root() {
        return;
    }
    // A memory hog is started on demand: dd's 64 MiB buffer in a 32 MiB cgroup.
    let mut cg = CgBundle::sh("while [ ! -e /tmp/go ]; do sleep 0.05; done; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000");
    cg.b.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
    cg.save();
    let rt = Runtime::new();
    let id = unique("events");
    rt.create_and_start(&cg.b, &id);

    let io = TempDir::new("events-io");
    let (out_path, err_path) = (io.path().join("out"), io.path().join("err"));
    let mut child = rt
        .cmd()
        .args(["events", "--interval", "200ms", &id])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // On v1 the OOM notification is an eventfd: wait until the events process has registered it.
    if cgroup_v2_only() {
        std::thread::sleep(Duration::from_millis(500));
    } else {
        assert!(poll(T, || has_eventfd(child.id()).then_some(())).is_some(), "events never opened an eventfd");
    }
    std::fs::write(cg.b.rootfs().join("tmp/go"), "").unwrap();
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&out_path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    };
    let oom = poll(T, || lines().into_iter().find(|e| e["type"] == "oom"));
    let oom = oom.unwrap_or_else(|| panic!("no oom event; output: {}", std::fs::read_to_string(&out_path).unwrap_or_default()));
    assert_eq!(oom, json!({"type": "oom", "id": id}), "an oom event has no data");
    assert!(poll(T, || (lines().iter().filter(|e| e["type"] == "stats").count() >= 2).then_some(())).is_some(), "no stats every 200ms");
    for e in lines().iter().filter(|e| e["type"] == "stats") {
        assert_eq!(e["id"], id.as_str());
        assert_eq!(keys(&e["data"]), STATS_KEYS);
    }
    if !cgroup_v2_only() {
        // A later stats event shows the peak at the limit (v1's max_usage_in_bytes).
        let hit = |e: &serde_json::Value| e["type"] == "stats" && e["data"]["memory"]["usage"]["max"].as_u64() >= Some(32 << 20);
        assert!(poll(T, || lines().iter().any(hit).then_some(())).is_some(), "memory.usage.max never reached the limit");
    }

    rt.ok(&["kill", &id, "KILL"]);
    if testing_hull() {
        // hull ends the stream when the container stops; runc 1.1 only when its cgroup is removed.
        let status = wait_child(&mut child, T);
        assert!(status.success(), "events: {status}; {}", std::fs::read_to_string(&err_path).unwrap_or_default());
        rt.ok(&["delete", &id]);
    } else {
        assert!(rt.wait_status(&id, "stopped", T));
        rt.ok(&["delete", &id]);
        let status = wait_child(&mut child, T);
        assert!(status.success(), "events: {status}");
    }
}

#[test]
fn events_refuses_bad_intervals_and_stopped_containers() {
    if !require_root() {
        return;
    }
    let cg = CgBundle::sh("sleep 1000");
    let rt = Runtime::new();
    let id = unique("evbad");
    rt.create_and_start(&cg.b, &id);
    for bad in ["0s", "-1s", "5", "1x", ""] {
        let out = fails(&rt, &["events", "--interval", bad, &id]);
        if check_messages() && (bad == "0s" || bad == "-1s") {
            assert!(out.contains("duration interval must be greater than 0"), "{bad}: {out}");
        }
    }
    rt.ok(&["kill", &id, "KILL"]);
    assert!(rt.wait_status(&id, "stopped", T));
    let out = fails(&rt, &["events", "--stats", &id]);
    if check_messages() {
        assert!(out.contains(&format!("container with id {id} is not running")), "{out}");
    }
    let out = fails(&rt, &["events", &id]);
    if check_messages() {
        assert!(out.contains("is not running"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// update

/// `update` with `json` on stdin (`-r -`).
fn update_stdin(rt: &Runtime, id: &str, json: &str) -> std::process::Output {
    let mut child =
        rt.cmd().args(["update", "-r", "-", id]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The limits of a container as the host's cgroup files say them, v1 or v2.
struct HostLimits<'a>(&'a CgBundle);

impl HostLimits<'_> {
    fn read(&self, v1: (&str, &str), v2: &str) -> String {
        if cgroup_v2_only() {
            read_cgroup_file(&self.0.dir(""), v2)
        } else {
            read_cgroup_file(&self.0.dir(v1.0), v1.1)
        }
    }
    fn memory(&self) -> String {
        self.read(("memory", "memory.limit_in_bytes"), "memory.max")
    }
    fn reservation(&self) -> String {
        self.read(("memory", "memory.soft_limit_in_bytes"), "memory.low")
    }
    fn pids(&self) -> String {
        self.read(("pids", "pids.max"), "pids.max")
    }
    /// cpu.shares on v1; on v2 cpu.weight, which runc's conversion of `shares` gives.
    fn shares(&self) -> String {
        self.read(("cpu", "cpu.shares"), "cpu.weight")
    }
    fn quota_period(&self) -> String {
        if cgroup_v2_only() {
            read_cgroup_file(&self.0.dir(""), "cpu.max")
        } else {
            format!(
                "{} {}",
                read_cgroup_file(&self.0.dir("cpu"), "cpu.cfs_quota_us"),
                read_cgroup_file(&self.0.dir("cpu"), "cpu.cfs_period_us")
            )
        }
    }
    fn cpus(&self) -> String {
        self.read(("cpuset", "cpuset.cpus"), "cpuset.cpus")
    }
    /// How many forks the pids limit refused (pids.events, both versions).
    fn forks_refused(&self) -> u64 {
        let t = self.read(("pids", "pids.events"), "pids.events");
        t.lines().find_map(|l| l.strip_prefix("max ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
    }
}

/// cpu.shares as the host shows them: as is on v1, runc's cpu.weight on v2.
fn shares_shown(shares: u64) -> String {
    match (cgroup_v2_only(), shares) {
        (false, s) => s.to_string(),
        (true, 256) => "35".into(),
        (true, 512) => "59".into(),
        (true, s) => panic!("no v2 weight known for {s} shares"),
    }
}

#[test]
fn update_changes_the_cgroup_files_and_the_recorded_limits() {
    if !require_root() {
        return;
    }
    // After /tmp/go appears a subshell tries to start 20 sleeps: the pids limit stops it (and
    // the subshell, which exits on a failed fork); the init lives on as a sleep.
    let mut cg = CgBundle::sh("while [ ! -e /tmp/go ]; do sleep 0.05; done; (for i in $(seq 1 20); do sleep 1000 & done); exec sleep 1000");
    cg.b.config["linux"]["resources"]["memory"] = json!({"limit": 256 << 20});
    cg.b.config["linux"]["resources"]["pids"] = json!({"limit": 100});
    cg.save();
    let rt = Runtime::new();
    let id = unique("update");
    rt.create_and_start(&cg.b, &id);
    let host = HostLimits(&cg);
    // v2 has no devices files (its rules are an eBPF program).
    let devices = || (!cgroup_v2_only()).then(|| read_cgroup_file(&cg.dir("devices"), "devices.list"));
    let devices_before = devices();

    rt.ok(&["update", "--memory", "128m", &id]);
    assert_eq!(host.memory(), (128u64 << 20).to_string());
    rt.ok(&["update", "--pids-limit", "7", &id]);
    assert_eq!(host.pids(), "7");
    assert_eq!(host.memory(), (128u64 << 20).to_string(), "an update of pids changed memory");

    // JSON on stdin; the other flags would be ignored.
    let out = update_stdin(&rt, &id, r#"{"cpu":{"shares":256},"memory":{"reservation":33554432}}"#);
    assert!(out.status.success(), "update -r -: {}", stderr_of(&out));
    assert_eq!(host.shares(), shares_shown(256));
    assert_eq!(host.reservation(), (32u64 << 20).to_string());

    rt.ok(&["update", "--cpu-quota", "50000", "--cpu-period", "200000", "--cpuset-cpus", "0", "--cpu-share", "512", &id]);
    assert_eq!(host.quota_period(), "50000 200000");
    assert_eq!(host.shares(), shares_shown(512));
    assert_eq!(host.cpus(), "0");
    rt.ok(&["update", "--memory", "-1", &id]);
    let unlimited = host.memory();
    assert!(unlimited == "max" || unlimited.parse::<u64>().is_ok_and(|n| n > 1 << 60), "--memory -1 is unlimited: {unlimited}");
    rt.ok(&["update", "--memory", "128m", &id]);

    // Device rules are never updated.
    assert_eq!(devices(), devices_before);

    // The pids limit works: the shell cannot start its 20 sleeps.
    std::fs::write(cg.b.rootfs().join("tmp/go"), "").unwrap();
    assert!(poll(T, || (host.forks_refused() > 0).then_some(())).is_some(), "no fork was refused");
    assert!(procs(&cg).len() <= 7, "{:?}", procs(&cg));

    // Bad values fail, name the flag or field, and change nothing.
    let limit = host.memory();
    let out = fails(&rt, &["update", "--memory", "lots", &id]);
    if check_messages() {
        assert!(out.contains("invalid value for memory"), "{out}");
    }
    fails(&rt, &["update", "--pids-limit", "x", &id]);
    let out = fails(&rt, &["update", "--cpu-quota", "1.5", &id]);
    if check_messages() {
        assert!(out.contains("cpu-quota"), "{out}");
    }
    // Below what the container already uses.
    if !cgroup_v2_only() {
        // v1 refuses a limit below the usage (EBUSY); v2 accepts it and reclaims (runc 1.1
        // too, unless memory.checkBeforeUpdate), so there it is not a bad value.
        fails(&rt, &["update", "--memory", "4k", &id]);
    }
    let out = update_stdin(&rt, &id, r#"{"memory":{"limit":"big"}}"#);
    assert!(!out.status.success(), "a bad JSON document was accepted");
    if check_messages() {
        assert!(stderr_of(&out).contains("memory.limit"), "{}", stderr_of(&out));
    }
    let missing = fails(&rt, &["update", "-r", "/nonexistent/resources.json", &id]);
    if check_messages() {
        assert!(missing.contains("/nonexistent/resources.json"), "{missing}");
    }
    assert_eq!(host.memory(), limit);
    assert_eq!(host.pids(), "7");
    let out = fails(&rt, &["update", "--memory", "64m", "no-such-container"]);
    if check_messages() {
        assert!(out.contains("container does not exist"), "{out}");
    }

    // state.json keeps the new values (hull's state format; runc 1.1 records 0 for every
    // limit an update does not name).
    if testing_hull() {
        let st: serde_json::Value = serde_json::from_slice(&std::fs::read(rt.root.path().join(&id).join("state.json")).unwrap()).unwrap();
        let r = &st["config"]["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 128u64 << 20, "{r}");
        assert_eq!(r["memory"]["reservation"], 32u64 << 20, "{r}");
        assert_eq!(r["pids"]["limit"], 7, "{r}");
        assert_eq!(r["cpu"]["shares"], 512, "{r}");
        assert_eq!(r["cpu"]["quota"], 50000, "{r}");
        assert_eq!(r["cpu"]["cpus"], "0", "{r}");
        assert_eq!(r["devices"], cg.b.config["linux"]["resources"]["devices"], "{r}");
    } else {
        eprintln!("note: state.json check skipped (not hull)");
    }

    rt.ok(&["kill", &id, "KILL"]);
    assert!(rt.wait_status(&id, "stopped", T));
    let out = fails(&rt, &["update", "--memory", "64m", &id]);
    if check_messages() {
        assert!(out.contains("container not running"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// kill --all, delete --force

#[test]
fn kill_all_signals_every_process_of_a_container_without_pid_namespace() {
    if !require_root() {
        return;
    }
    let mut cg = CgBundle::sh("sleep 100 & sleep 100");
    cg.b.remove_namespace("pid");
    cg.save();
    let rt = Runtime::new();
    let id = unique("killall");
    rt.create_and_start(&cg.b, &id);
    assert!(poll(T, || (procs(&cg).len() == 2).then_some(())).is_some(), "two sleeps: {:?}", procs(&cg));
    let pids = procs(&cg);
    rt.ok(&["kill", "--all", &id, "KILL"]);
    for p in &pids {
        assert!(poll(T, || pid_ended(*p).then_some(())).is_some(), "pid {p} survived kill --all");
    }
    assert!(poll(T, || procs(&cg).is_empty().then_some(())).is_some(), "processes left in the cgroup: {:?}", procs(&cg));
    assert!(rt.wait_status(&id, "stopped", T));
    // On a stopped container --all is not an error (runc: it only suppresses "not running").
    rt.ok(&["kill", "--all", &id, "KILL"]);
    rt.ok(&["delete", &id]);
}

#[test]
fn delete_force_kills_every_process_and_removes_the_cgroups() {
    if !require_root() {
        return;
    }
    // Without a PID namespace the children do not die with the init: only the cgroup finds them.
    let mut cg = CgBundle::sh("sleep 1000 & sleep 1001 & wait");
    cg.b.remove_namespace("pid");
    cg.save();
    let rt = Runtime::new();
    let id = unique("delforce");
    rt.create_and_start(&cg.b, &id);
    assert!(poll(T, || (procs(&cg).len() == 3).then_some(())).is_some(), "sh and two sleeps: {:?}", procs(&cg));
    let pids = procs(&cg);
    let out = fails(&rt, &["delete", &id]);
    if check_messages() {
        assert!(out.contains("running"), "{out}");
    }
    rt.ok(&["delete", "--force", &id]);
    for p in &pids {
        assert!(poll(T, || pid_ended(*p).then_some(())).is_some(), "pid {p} survived delete --force");
    }
    assert!(rt.status(&id).is_none(), "the container still exists");
    assert!(!rt.root.path().join(&id).exists(), "the state directory is left");
    for c in V1_CONTROLLERS.iter().filter(|_| !cgroup_v2_only()).copied().chain(cgroup_v2_only().then_some("")) {
        let d = cg.dir(c);
        assert!(poll(T, || (!d.exists()).then_some(())).is_some(), "{} left behind", d.display());
    }
}

/// The update flags the test above does not use: each is read back from the cgroup files.
#[test]
fn update_remaining_flags_are_read_back() {
    if !require_root() {
        return;
    }
    let mut cg = CgBundle::sh("exec sleep 1000");
    cg.b.config["linux"]["resources"]["memory"] = json!({"limit": 256 << 20});
    cg.save();
    let rt = Runtime::new();
    let id = unique("update2");
    rt.create_and_start(&cg.b, &id);
    let host = HostLimits(&cg);

    rt.ok(&["update", "--memory", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--cpuset-mems", "0", &id]);
    assert_eq!(host.memory(), (64u64 << 20).to_string());
    assert_eq!(host.reservation(), (32u64 << 20).to_string());
    if cgroup_v2_only() {
        // v2 counts swap apart from memory: 128m - 64m.
        assert_eq!(read_cgroup_file(&cg.dir(""), "memory.swap.max"), (64u64 << 20).to_string());
        assert_eq!(read_cgroup_file(&cg.dir(""), "cpuset.mems"), "0");
    } else {
        assert_eq!(read_cgroup_file(&cg.dir("memory"), "memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
        assert_eq!(read_cgroup_file(&cg.dir("cpuset"), "cpuset.mems"), "0");
        rt.ok(&["update", "--cpu-rt-period", "1000000", "--cpu-rt-runtime", "10000", &id]);
        assert_eq!(read_cgroup_file(&cg.dir("cpu"), "cpu.rt_period_us"), "1000000");
        assert_eq!(read_cgroup_file(&cg.dir("cpu"), "cpu.rt_runtime_us"), "10000");
        rt.ok(&["update", "--blkio-weight", "500", &id]);
        let dir = cg.dir("blkio");
        let file = if dir.join("blkio.weight").exists() { "blkio.weight" } else { "blkio.bfq.weight" };
        let w = read_cgroup_file(&dir, file);
        // BFQ shows "default N" on some kernels.
        assert!(w.split_whitespace().any(|t| t == "500"), "{file}: {w}");
    }
    // -r with a file.
    let res = cg.b.path().join("resources.json");
    std::fs::write(&res, r#"{"pids":{"limit":9}}"#).unwrap();
    rt.ok(&["update", "-r", res.to_str().unwrap(), &id]);
    assert_eq!(host.pids(), "9");
    rt.ok(&["delete", "--force", &id]);
}

/// `events --stats` of the same bundle under hull and under Debian's runc, side by side: the
/// field names agree down to the second level (values and zero-valued fields may differ).
#[test]
fn events_stats_field_names_match_runc_side_by_side() {
    if !require_root() {
        return;
    }
    let runc = Path::new("/usr/sbin/runc");
    assert!(runc.exists(), "runc is the reference here: scripts/install-deps.sh installs it");
    let mut cg = CgBundle::sh("exec sleep 1000");
    cg.b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    cg.b.config["linux"]["resources"]["pids"] = json!({"limit": 20});
    cg.save();
    let stats_of = |bin: &Path| -> serde_json::Value {
        let root = common::TempDir::new("sbs-root");
        let id = unique("sbs");
        let run = |args: &[&str]| {
            std::process::Command::new(bin).arg("--root").arg(root.path()).args(args).stdin(Stdio::null()).output().expect("spawn runtime")
        };
        // The detached container keeps its stdio: give it none, or reading the output would
        // wait for the container to end.
        let st = std::process::Command::new(bin)
            .arg("--root")
            .arg(root.path())
            .args(["run", "-d", "--bundle", cg.b.path().to_str().unwrap(), &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("spawn runtime");
        assert!(st.success(), "{} run -d failed", bin.display());
        let out = run(&["events", "--stats", &id]);
        let _ = run(&["delete", "--force", &id]);
        assert!(out.status.success(), "{}: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("stats JSON")
    };
    let ours = stats_of(&common::hull_bin());
    let theirs = stats_of(runc);
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(keys(&ours["data"]), keys(&theirs["data"]), "data:\nhull {}\nrunc {}", ours["data"], theirs["data"]);
    for k in ["cpu", "memory", "pids"] {
        let (a, b) = (&ours["data"][k], &theirs["data"][k]);
        // Go drops zero-valued fields (omitempty); compare what both have non-empty.
        let nonzero = |v: &serde_json::Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.iter().filter(|(_, x)| !(x.is_null() || *x == &json!(0))).map(|(k, _)| k.clone()).collect())
                .unwrap_or_default()
        };
        // Each side's non-zero fields must be fields the other side has too; `cache` is
        // omitted when the "file" memory is 0, which depends on the process, not the runtime.
        let all = |v: &serde_json::Value| -> Vec<String> { v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default() };
        let (ka, kb) = (all(a), all(b));
        for key in nonzero(a) {
            assert!(kb.contains(&key) || key == "cache", "data.{k}.{key} only in hull:\nhull {a}\nrunc {b}");
        }
        for key in nonzero(b) {
            assert!(ka.contains(&key) || key == "cache", "data.{k}.{key} only in runc:\nhull {a}\nrunc {b}");
        }
    }
}
