//! The systemd cgroup driver (`--systemd-cgroup`) on a pure cgroup v2 host with systemd as PID 1,
//! i.e. the QEMU guest of guest/run.sh. This machine has no systemd, so every test here is
//! `#[ignore]`d; the guest runs this binary with `--include-ignored`. The tests look from the
//! host side (`systemctl show`, /proc/<pid>/cgroup, the cgroup files) and from inside.

mod common;

use common::{poll, require_root, unique, Bundle, Runtime};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);
const WHY: &str = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)";

/// Panics unless this is the host the tests are for.
fn assert_systemd_v2() {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    assert_eq!(st.filesystem_type(), nix::sys::statfs::CGROUP2_SUPER_MAGIC, "/sys/fs/cgroup is not cgroup2: {WHY}");
    assert!(Path::new("/run/systemd/system").is_dir(), "systemd is not PID 1: {WHY}");
}

/// `systemctl show UNIT -p P...` as a map.
fn show(unit: &str, props: &[&str]) -> BTreeMap<String, String> {
    let mut c = Command::new("systemctl");
    c.args(["show", unit]);
    for p in props {
        c.args(["-p", p]);
    }
    let out = c.output().expect("run systemctl");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The unit as `systemctl list-units --all` lists it (empty when systemd has forgotten it).
fn listed(unit: &str) -> String {
    let out = Command::new("systemctl").args(["list-units", "--all", "--no-legend", unit]).output().expect("run systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cgroup_of(pid: i64) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("").to_string()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| format!("<{e}>")).trim().to_owned()
}

fn sd(rt: &Runtime, args: &[&str]) -> std::process::Output {
    rt.cmd().arg("--systemd-cgroup").args(args).stdin(std::process::Stdio::null()).output().expect("spawn hull")
}

fn sd_ok(rt: &Runtime, args: &[&str]) -> String {
    let out = sd(rt, args);
    assert!(
        out.status.success(),
        "--systemd-cgroup {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// create + start with the systemd driver (output to files: the container inherits them).
fn sd_start(rt: &Runtime, b: &Bundle, id: &str) {
    let io = common::TempDir::new("io");
    let (o, e) = (io.path().join("out"), io.path().join("err"));
    let status = rt
        .cmd()
        .args(["--systemd-cgroup", "create", "--bundle", b.arg(), id])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .expect("spawn hull");
    assert!(status.success(), "create {id}: {}{}", read(io.path(), "out"), read(io.path(), "err"));
    sd_ok(rt, &["start", id]);
}

fn assert_unit_gone(unit: &str, dir: &Path) {
    assert!(poll(T, || listed(unit).is_empty().then_some(())).is_some(), "unit left after delete: {}", listed(unit));
    assert!(poll(T, || (!dir.exists()).then_some(())).is_some(), "{} left after delete", dir.display());
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_container_is_a_transient_scope_with_its_limits_as_unit_properties() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let id = unique("sd");
    let unit = format!("hull-{id}.scope");
    let mut b = Bundle::new(&["sleep", "1000"]);
    // No cgroup namespace: /proc/self/cgroup inside then shows the host path.
    b.remove_namespace("cgroup");
    let r = &mut b.config["linux"]["resources"];
    r["memory"] = json!({"limit": 64 * 1024 * 1024});
    r["pids"] = json!({"limit": 64});
    r["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000});
    b.config["annotations"] = json!({
        "org.systemd.property.TimeoutStopSec": "uint64 7",
        "org.systemd.property.CollectMode": "'inactive-or-failed'"
    });
    b.save();
    let rt = Runtime::new();
    sd_start(&rt, &b, &id);
    let pid = rt.pid(&id);
    let dir = PathBuf::from(format!("/sys/fs/cgroup/system.slice/{unit}"));

    let p = show(
        &unit,
        &["ActiveState", "Slice", "Delegate", "MemoryMax", "TasksMax", "CPUWeight", "CPUQuotaPerSecUSec", "TimeoutStopUSec", "CollectMode"],
    );
    let want = [
        ("ActiveState", "active"),
        ("Slice", "system.slice"),
        ("Delegate", "yes"),
        ("MemoryMax", "67108864"),
        ("TasksMax", "64"),
        ("CPUWeight", "59"),
        ("CPUQuotaPerSecUSec", "500ms"),
        ("TimeoutStopUSec", "7s"),
        ("CollectMode", "inactive-or-failed"),
    ];
    for (k, v) in want {
        assert_eq!(p.get(k).map(String::as_str), Some(v), "systemctl show {unit}: {k} (all: {p:?})");
    }
    assert_eq!(cgroup_of(pid), format!("/system.slice/{unit}"), "/proc/{pid}/cgroup");
    assert_eq!(read(&dir, "memory.max"), "67108864");
    assert_eq!(read(&dir, "pids.max"), "64");
    assert_eq!(read(&dir, "cpu.max"), "50000 100000");
    // Inside: a process exec'd into the container is in the scope too.
    let inside = sd_ok(&rt, &["exec", &id, "cat", "/proc/self/cgroup"]);
    assert_eq!(inside.trim(), format!("0::/system.slice/{unit}"), "/proc/self/cgroup inside");
    // pause/resume with the v2 freezer of the scope's cgroup.
    sd_ok(&rt, &["pause", &id]);
    assert!(read(&dir, "cgroup.events").lines().any(|l| l == "frozen 1"), "not frozen: {}", read(&dir, "cgroup.events"));
    sd_ok(&rt, &["resume", &id]);
    assert!(read(&dir, "cgroup.events").lines().any(|l| l == "frozen 0"));

    sd_ok(&rt, &["delete", "--force", &id]);
    assert_unit_gone(&unit, &dir);
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn the_cgroups_path_names_the_slice_the_prefix_and_the_name() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let id = unique("sdpath");
    let name = format!("n{}", id.replace('-', ""));
    let unit = format!("pfx-{name}.scope");
    let slice = "system-hulltest.slice";
    let mut b = Bundle::sh("cat /proc/self/cgroup");
    b.remove_namespace("cgroup");
    b.config["linux"]["cgroupsPath"] = json!(format!("{slice}:pfx:{name}"));
    b.save();
    let rt = Runtime::new();
    let out = sd_ok(&rt, &["run", "--bundle", b.arg(), &id]);
    let want = format!("0::/system.slice/{slice}/{unit}");
    assert_eq!(out.trim(), want, "the container's own view of its cgroup");
    assert_unit_gone(&unit, &Path::new("/sys/fs/cgroup/system.slice").join(slice).join(&unit));
    // The slice is systemd's (made on demand for the scope); stop it so the guest ends clean.
    let _ = Command::new("systemctl").args(["stop", slice]).status();
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn update_changes_the_unit_properties_and_the_cgroup_files() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let id = unique("sdupd");
    let unit = format!("hull-{id}.scope");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 * 1024 * 1024});
    b.save();
    let rt = Runtime::new();
    sd_start(&rt, &b, &id);
    sd_ok(&rt, &["update", "--memory", "134217728", "--pids-limit", "99", &id]);
    let p = show(&unit, &["MemoryMax", "TasksMax"]);
    assert_eq!(p.get("MemoryMax").map(String::as_str), Some("134217728"), "{p:?}");
    assert_eq!(p.get("TasksMax").map(String::as_str), Some("99"), "{p:?}");
    let dir = PathBuf::from(format!("/sys/fs/cgroup/system.slice/{unit}"));
    assert_eq!(read(&dir, "memory.max"), "134217728");
    assert_eq!(read(&dir, "pids.max"), "99");
    sd_ok(&rt, &["delete", "--force", &id]);
    assert_unit_gone(&unit, &dir);
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_create_that_fails_after_the_unit_started_leaves_no_unit() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let id = unique("sdfail");
    let unit = format!("hull-{id}.scope");
    let mut b = Bundle::new(&["sleep", "1000"]);
    // systemd takes the unit; the cgroupfs write after it fails (no such file).
    b.config["linux"]["resources"]["unified"] = json!({"memory.no_such_file": "1"});
    b.save();
    let rt = Runtime::new();
    let out = sd(&rt, &["create", "--bundle", b.arg(), &id]);
    assert!(!out.status.success(), "create succeeded with an unknown unified key");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory.no_such_file"), "the error does not name the key: {err}");
    assert_unit_gone(&unit, &PathBuf::from(format!("/sys/fs/cgroup/system.slice/{unit}")));
    assert!(!rt.run(&["state", &id]).status.success(), "a state was left behind");
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn an_oom_kill_in_a_scope_is_reported_and_the_failed_unit_is_cleared() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let id = unique("sdoom");
    let unit = format!("hull-{id}.scope");
    // Grows until the 16 MiB limit kills it.
    let mut b = Bundle::sh("x=a; while :; do x=$x$x$x$x; done");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    b.save();
    let rt = Runtime::new();
    let out = sd(&rt, &["run", "--bundle", b.arg(), &id]);
    assert_eq!(out.status.code(), Some(137), "the hog was not killed: {}", String::from_utf8_lossy(&out.stderr));
    assert_unit_gone(&unit, &PathBuf::from(format!("/sys/fs/cgroup/system.slice/{unit}")));
}
