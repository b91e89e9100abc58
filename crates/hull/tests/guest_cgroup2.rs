//! cgroup v2 on a pure cgroup v2 host with systemd as PID 1, i.e. the QEMU guest of guest/run.sh.
//! This machine is cgroup v1 hybrid, so every test here is `#[ignore]`d; the guest runs this
//! binary with `--include-ignored`. The tests check what hull does on v2 today: the limits land
//! in the v2 files, the init is placed in the cgroup, the cgroup is gone after delete, a pids
//! limit stops fork inside, and the same config gives the same file values as Debian's runc.
//! The guest is a throwaway VM: the tests may enable controllers in its root cgroup.

mod common;

use common::{poll, require_root, unique, Bundle, TempDir};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Generous: under the guest's software emulation a container start takes about a second.
const T: Duration = Duration::from_secs(60);

/// Debian's runc in the guest (1.1.5), the reference.
const RUNC: &str = "/usr/sbin/runc";

/// The v2 files a container's resources are written to (those the tests' configs set, and their
/// neighbours that must keep their defaults), compared between hull and Debian 12's runc 1.1.5.
/// Not cpu.weight: runc 1.1 converts cpu.shares linearly, hull as runc >= 1.3 does (see the first test).
const FILES: &[&str] = &["memory.max", "memory.low", "memory.swap.max", "pids.max", "cpu.max", "cpuset.cpus", "cpuset.mems"];

/// Panics unless /sys/fs/cgroup is a cgroup2 mount (the tests are meant for the guest).
fn assert_pure_v2() {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    assert_eq!(
        st.filesystem_type(),
        nix::sys::statfs::CGROUP2_SUPER_MAGIC,
        "/sys/fs/cgroup is not cgroup2: these tests need a pure cgroup v2 host (bash guest/run.sh)"
    );
}

/// Enables `controllers` in the root cgroup's subtree_control, as a host that delegates them to
/// container runtimes would. systemd as PID 1 enables only what its units need (memory and pids
/// here) and takes the others back on its next re-realization of the root (e.g. a daemon-reload),
/// which nothing triggers during these tests. runc and hull enable what a config needs themselves
/// (guest_cgroup2_ops.rs tests that); this keeps the comparison with runc independent of it.
fn delegate_at_root(controllers: &[&str]) {
    let want: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    std::fs::write("/sys/fs/cgroup/cgroup.subtree_control", want.join(" ")).expect("enable controllers in the root cgroup");
}

/// A runtime binary with a private `--root`.
struct Rt {
    bin: PathBuf,
    root: TempDir,
}

impl Rt {
    fn new(bin: PathBuf) -> Rt {
        Rt { bin, root: TempDir::new("root") }
    }

    /// Runs the runtime; stdout and stderr go to files (a container left running inherits them).
    fn run(&self, args: &[&str]) -> (bool, String) {
        let io = TempDir::new("io");
        let (out, err) = (io.path().join("out"), io.path().join("err"));
        let status = Command::new(&self.bin)
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .expect("spawn runtime");
        let text = format!("{}{}", std::fs::read_to_string(&out).unwrap_or_default(), std::fs::read_to_string(&err).unwrap_or_default());
        (status.success(), text)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "{} {args:?} failed: {text}", self.bin.display());
        text
    }

    /// `create` + `start`; the init's host pid.
    fn start(&self, b: &Bundle, id: &str) -> i64 {
        self.ok(&["create", "--bundle", b.arg(), id]);
        self.ok(&["start", id]);
        let state: serde_json::Value = serde_json::from_str(&self.ok(&["state", id])).expect("state JSON");
        state["pid"].as_i64().expect("state has a pid")
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir(self.root.path()) {
            for e in rd.flatten() {
                if let Some(id) = e.file_name().to_str() {
                    let _ = self.run(&["delete", "--force", id]);
                }
            }
        }
    }
}

/// An absolute cgroupsPath of its own, and on drop the removal of the (empty) directory a failing
/// runtime may have left there.
struct Cg(String);

impl Cg {
    fn new(prefix: &str) -> Cg {
        Cg(format!("/{}", unique(prefix)))
    }
    fn dir(&self) -> PathBuf {
        Path::new("/sys/fs/cgroup").join(self.0.trim_start_matches('/'))
    }
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir().join(file)).unwrap_or_else(|e| format!("<{e}>")).trim().to_owned()
    }
    fn assert_gone(&self) {
        let dir = self.dir();
        assert!(poll(T, || (!dir.exists()).then_some(())).is_some(), "{} left after delete", dir.display());
    }
}

impl Drop for Cg {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(self.dir());
    }
}

/// A bundle running `args` at cgroupsPath `cg` with a memory, pids, cpu and cpuset limit.
fn limited_bundle(cg: &Cg, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    let r = &mut b.config["linux"]["resources"];
    r["memory"] = json!({"limit": 64 * 1024 * 1024});
    r["pids"] = json!({"limit": 20});
    r["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"});
    b.save();
    b
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn limits_land_in_the_v2_files_and_the_cgroup_goes_on_delete() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    delegate_at_root(&["cpu", "cpuset", "memory", "pids"]);
    let cg = Cg::new("hull-test-cg2");
    let b = limited_bundle(&cg, &["sleep", "1000"]);
    let rt = Rt::new(common::hull_bin());
    let id = unique("cg2");
    let pid = rt.start(&b, &id);

    assert_eq!(cg.read("memory.max"), "67108864");
    assert_eq!(cg.read("pids.max"), "20");
    assert_eq!(cg.read("cpu.max"), "50000 100000");
    // hull maps cpu.shares to cpu.weight with the quadratic in log2(shares) of runc >= 1.3 and
    // crun >= 1.23 (libhull cgroups/v2.rs); older runc wrote 1 + (shares - 2) * 9999 / 262142 = 20.
    assert_eq!(cg.read("cpu.weight"), "59");
    assert_eq!(cg.read("cpuset.cpus"), "0");
    assert_eq!(cg.read("cpuset.mems"), "0");
    assert!(cg.read("cgroup.procs").lines().any(|l| l == pid.to_string()), "init {pid} not in {}: {}", cg.0, cg.read("cgroup.procs"));
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(own.trim(), format!("0::{}", cg.0), "/proc/{pid}/cgroup");

    rt.ok(&["delete", "--force", &id]);
    cg.assert_gone();
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn the_same_config_gives_the_same_v2_files_as_runc() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    assert!(Path::new(RUNC).exists(), "{RUNC} missing: the guest image has Debian's runc");
    delegate_at_root(&["cpu", "cpuset", "memory", "pids"]);
    let mut seen: Vec<BTreeMap<&str, String>> = Vec::new();
    for bin in [common::hull_bin(), PathBuf::from(RUNC)] {
        let cg = Cg::new("hull-test-cg2-cmp");
        let b = limited_bundle(&cg, &["sleep", "1000"]);
        let rt = Rt::new(bin);
        let id = unique("cmp");
        rt.start(&b, &id);
        seen.push(FILES.iter().map(|f| (*f, cg.read(f))).collect());
        rt.ok(&["delete", "--force", &id]);
        cg.assert_gone();
    }
    let diff: Vec<String> =
        FILES.iter().filter(|f| seen[0][*f] != seen[1][*f]).map(|f| format!("{f}: hull {:?}, runc {:?}", seen[0][f], seen[1][f])).collect();
    assert!(diff.is_empty(), "hull and runc differ:\n{}", diff.join("\n"));
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn a_pids_limit_makes_fork_fail_inside() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let cg = Cg::new("hull-test-cg2-pids");
    let mut b = Bundle::sh("for i in 1 2 3 4 5 6 7 8; do sleep 100 & done; echo started");
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 4});
    b.save();
    let rt = Rt::new(common::hull_bin());
    let id = unique("pids");
    let (_, text) = rt.run(&["run", "--bundle", b.arg(), &id]);
    let _ = rt.run(&["delete", "--force", &id]);
    assert!(text.contains("can't fork") || text.contains("Resource temporarily unavailable"), "fork did not fail under pids.max=4: {text}");
    cg.assert_gone();
}

/// A bundle with a /dev/kmsg node (1:11, not among runc's default allowed devices) running
/// `script`, with `rules` as linux.resources.devices. The tests write to it: opening /dev/kmsg
/// for writing needs no capability (reading needs CAP_SYSLOG under dmesg_restrict), so an
/// EPERM can only come from the device program.
fn kmsg_bundle(cg: &Cg, script: &str, rules: serde_json::Value) -> Bundle {
    let mut b = Bundle::sh(script);
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644, "uid": 0, "gid": 0}]);
    b.config["linux"]["resources"]["devices"] = rules;
    b.save();
    b
}

/// Runs a kmsg_bundle to its end; its output.
fn run_kmsg(rt: &Rt, script: &str, rules: serde_json::Value) -> String {
    let cg = Cg::new("hull-test-cg2-dev");
    let b = kmsg_bundle(&cg, script, rules);
    let id = unique("dev");
    let (_, text) = rt.run(&["run", "--bundle", b.arg(), &id]);
    let _ = rt.run(&["delete", "--force", &id]);
    cg.assert_gone();
    text
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn a_denied_device_cannot_be_opened_and_an_allowed_one_can() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let rt = Rt::new(common::hull_bin());
    let script = "head -c1 /dev/null && echo null-ok; echo hull-device-test > /dev/kmsg && echo write-ok; true";
    // Deny everything but runc's defaults: the node exists but opening it is EPERM, while
    // /dev/null (a default) works.
    let text = run_kmsg(&rt, script, json!([{"allow": false, "access": "rwm"}]));
    assert!(text.contains("null-ok"), "/dev/null must stay usable: {text}");
    assert!(!text.contains("write-ok") && text.contains("Operation not permitted"), "/dev/kmsg opened under deny-all: {text}");

    // Allowed for writing: it opens (last match wins: the allow comes after the deny-all).
    let allow_w = json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]);
    let text = run_kmsg(&rt, script, allow_w);
    assert!(text.contains("write-ok"), "/dev/kmsg not writable though allowed: {text}");

    // Allowed for reading only: writing is still denied.
    let allow_r = json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}]);
    let text = run_kmsg(&rt, script, allow_r);
    assert!(!text.contains("write-ok") && text.contains("Operation not permitted"), "/dev/kmsg writable though only r is allowed: {text}");

    // A deny-list (allow all, then deny reading and writing 1:11; denying "m" too would make
    // creating the node fail, under runc as well): denied; /dev/null still fine.
    let deny = json!([{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rw"}]);
    let text = run_kmsg(&rt, script, deny);
    assert!(text.contains("null-ok") && !text.contains("write-ok"), "deny-list: {text}");
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn a_device_rule_punching_a_hole_in_a_wildcard_is_refused_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let rt = Rt::new(common::hull_bin());
    let cg = Cg::new("hull-test-cg2-devbad");
    let b = kmsg_bundle(
        &cg,
        "true",
        json!([{"allow": true, "type": "c", "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "r"}]),
    );
    let id = unique("devbad");
    let (ok, text) = rt.run(&["create", "--bundle", b.arg(), &id]);
    assert!(!ok, "create accepted a hole in a wildcard rule");
    assert!(text.contains("linux.resources.devices[1]"), "{text}");
    assert!(!cg.dir().exists(), "{} left behind", cg.dir().display());
    assert!(std::fs::read_dir(rt.root.path()).map(|d| d.count()).unwrap_or(0) == 0, "state left behind");
}

/// major:minor of the guest's disk (for the per-device io files).
fn a_disk() -> String {
    let mut disks: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?.trim().to_string();
            Some((name, dev))
        })
        .filter(|(n, _)| !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram"))
        .collect();
    disks.sort_by_key(|(n, _)| !(n.starts_with("vd") || n.starts_with("sd") || n.starts_with("nvme")));
    disks.first().map(|(_, d)| d.clone()).expect("a block device in /sys/block")
}

/// The resources of the v2 file tests: blockIO (weight and the four throttle lists on the
/// guest's disk), hugepageLimits, unified, memory with checkBeforeUpdate, cpu burst.
fn more_resources(disk: &str) -> serde_json::Value {
    let (major, minor) = disk.split_once(':').map(|(a, b)| (a.parse::<i64>().unwrap(), b.parse::<i64>().unwrap())).unwrap();
    let dev = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
    json!({
        "memory": {"limit": 64 << 20, "reservation": 16 << 20, "swap": 96 << 20, "checkBeforeUpdate": true},
        "cpu": {"quota": 50000, "period": 100000},
        "pids": {"limit": 30},
        "blockIO": {"weight": 200, "throttleReadBpsDevice": dev(1 << 20), "throttleWriteBpsDevice": dev(2 << 20),
                    "throttleReadIOPSDevice": dev(100), "throttleWriteIOPSDevice": dev(200)},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
        "unified": {"memory.high": "50331648", "pids.max": "25"},
    })
}

const MORE_CONTROLLERS: &[&str] = &["cpu", "cpuset", "memory", "pids", "io", "hugetlb"];

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn every_v2_resource_lands_in_its_file() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    delegate_at_root(MORE_CONTROLLERS);
    let disk = a_disk();
    let cg = Cg::new("hull-test-cg2-all");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    b.config["linux"]["resources"] = more_resources(&disk);
    b.config["linux"]["resources"]["cpu"]["burst"] = json!(20000);
    b.save();
    let rt = Rt::new(common::hull_bin());
    let id = unique("cg2all");
    rt.start(&b, &id);

    assert_eq!(cg.read("memory.max"), (64u64 << 20).to_string());
    assert_eq!(cg.read("memory.low"), (16u64 << 20).to_string());
    // memory+swap 96M over memory 64M: 32M of swap (runc's conversion).
    assert_eq!(cg.read("memory.swap.max"), (32u64 << 20).to_string());
    assert_eq!(cg.read("cpu.max"), "50000 100000");
    assert_eq!(cg.read("cpu.max.burst"), "20000");
    // unified wins over pids.limit (written after it), as in runc.
    assert_eq!(cg.read("pids.max"), "25");
    assert_eq!(cg.read("memory.high"), "50331648");
    // BFQ takes the v1 weight as is, io.weight the converted one: 1 + (200 - 10) * 9999 / 990.
    if cg.dir().join("io.bfq.weight").exists() {
        assert!(cg.read("io.bfq.weight").split_whitespace().any(|w| w == "200"), "io.bfq.weight: {}", cg.read("io.bfq.weight"));
    } else {
        assert_eq!(cg.read("io.weight"), "default 1920");
    }
    let io_max = cg.read("io.max");
    assert_eq!(io_max, format!("{disk} rbps=1048576 wbps=2097152 riops=100 wiops=200"), "io.max");
    assert_eq!(cg.read("hugetlb.2MB.max"), (4u64 << 20).to_string());
    if cg.dir().join("hugetlb.2MB.rsvd.max").exists() {
        assert_eq!(cg.read("hugetlb.2MB.rsvd.max"), (4u64 << 20).to_string());
    }

    // checkBeforeUpdate: a limit at or below what the cgroup uses is refused, and the limit
    // stays; one above it is taken.
    let usage: u64 = cg.read("memory.current").parse().unwrap();
    let low = (usage / 2).max(4096).to_string();
    let (ok, text) = rt.run(&["update", "--memory", &low, &id]);
    assert!(!ok && text.contains("linux.resources.memory.limit"), "update to {low} (usage {usage}): {text}");
    assert_eq!(cg.read("memory.max"), (64u64 << 20).to_string());
    rt.ok(&["update", "--memory", &(100u64 << 20).to_string(), "--memory-swap", &(150u64 << 20).to_string(), &id]);
    assert_eq!(cg.read("memory.max"), (100u64 << 20).to_string());
    assert_eq!(cg.read("memory.swap.max"), (50u64 << 20).to_string());

    rt.ok(&["delete", "--force", &id]);
    cg.assert_gone();
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn io_hugetlb_and_unified_files_are_the_same_as_runcs() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    delegate_at_root(MORE_CONTROLLERS);
    let disk = a_disk();
    // Not the rsvd hugetlb files, cpu.max.burst nor cpu.idle: runc 1.1 does not write them.
    const MORE_FILES: &[&str] = &[
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "memory.high",
        "pids.max",
        "cpu.max",
        "io.max",
        "io.weight",
        "io.bfq.weight",
        "hugetlb.2MB.max",
    ];
    let mut seen: Vec<BTreeMap<&str, String>> = Vec::new();
    for bin in [common::hull_bin(), PathBuf::from(RUNC)] {
        let cg = Cg::new("hull-test-cg2-cmp2");
        let mut b = Bundle::new(&["sleep", "1000"]);
        b.config["linux"]["cgroupsPath"] = json!(cg.0);
        b.config["linux"]["resources"] = more_resources(&disk);
        b.save();
        let rt = Rt::new(bin);
        let id = unique("cmp2");
        rt.start(&b, &id);
        seen.push(MORE_FILES.iter().map(|f| (*f, cg.read(f))).collect());
        rt.ok(&["delete", "--force", &id]);
        cg.assert_gone();
    }
    let diff: Vec<String> = MORE_FILES
        .iter()
        .filter(|f| seen[0][*f] != seen[1][*f])
        .map(|f| format!("{f}: hull {:?}, runc {:?}", seen[0][f], seen[1][f]))
        .collect();
    assert!(diff.is_empty(), "hull and runc differ:\n{}", diff.join("\n"));
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn what_v2_cannot_apply_is_refused_naming_the_field_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let rt = Rt::new(common::hull_bin());
    for (resources, field) in [
        (json!({"network": {"classID": 1048577}}), "linux.resources.network.classID"),
        (json!({"blockIO": {"leafWeight": 100}}), "linux.resources.blockIO.leafWeight"),
        (json!({"cpu": {"realtimeRuntime": 1000}}), "linux.resources.cpu.realtimeRuntime"),
        (json!({"unified": {"bogus.max": "1"}}), "linux.resources.unified[\"bogus.max\"]"),
        (json!({"unified": {"cgroup.procs": "1"}}), "linux.resources.unified[\"cgroup.procs\"]"),
        (json!({"unified": {"memory.nonexistent": "1"}}), "linux.resources.unified[\"memory.nonexistent\"]"),
        (json!({"rdma": {"hull_no_such_hca": {"hcaHandles": 2}}}), "linux.resources.rdma"),
        (json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}), "linux.resources.hugepageLimits[0].pageSize"),
    ] {
        let cg = Cg::new("hull-test-cg2-bad");
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["cgroupsPath"] = json!(cg.0);
        b.config["linux"]["resources"] = resources;
        b.save();
        let id = unique("cg2bad");
        let (ok, text) = rt.run(&["create", "--bundle", b.arg(), &id]);
        assert!(!ok, "create accepted {field}");
        // The log line escapes the quotes of a unified key.
        assert!(text.replace("\\\"", "\"").contains(field), "the error does not name {field}: {text}");
        assert!(!cg.dir().exists(), "{} left behind ({field})", cg.dir().display());
        let left = std::fs::read_dir(rt.root.path()).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "state left behind ({field})");
    }
}

/// A loop device over a 4 MiB file; detached and removed on drop.
struct Loop {
    path: String,
    file: PathBuf,
    dev: (i64, i64),
}

impl Loop {
    fn new() -> Loop {
        let file = std::env::temp_dir().join(format!("{}.img", unique("hull-test-loop")));
        std::fs::File::create(&file).unwrap().set_len(4 << 20).unwrap();
        let out = Command::new("losetup").args(["--find", "--show"]).arg(&file).output().expect("losetup (util-linux)");
        assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let dev = std::fs::read_to_string(format!("/sys/block/{}/dev", path.trim_start_matches("/dev/"))).unwrap();
        let (a, b) = dev.trim().split_once(':').unwrap();
        Loop { path, file, dev: (a.parse().unwrap(), b.parse().unwrap()) }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.path).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn a_throttled_device_is_slower() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    delegate_at_root(&["io"]);
    let lo = Loop::new();
    let (major, minor) = lo.dev;
    let cg = Cg::new("hull-test-cg2-io");
    // 1 MiB read with O_DIRECT at 512 KiB/s through io.max, timed inside by /proc/uptime.
    let mut b = Bundle::sh(
        "a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/hulldisk of=/dev/null bs=64k count=16 iflag=direct 2>&1 && \
         echo read-done $a $(cut -d' ' -f1 /proc/uptime)",
    );
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    b.config["linux"]["devices"] = json!([{"path": "/dev/hulldisk", "type": "b", "major": major, "minor": minor, "fileMode": 0o400}]);
    b.config["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "b", "major": major, "minor": minor, "access": "r"}],
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 512 * 1024}]},
    });
    b.save();
    let rt = Rt::new(common::hull_bin());
    let id = unique("cg2io");
    let (ok, text) = rt.run(&["run", "--bundle", b.arg(), &id]);
    let _ = rt.run(&["delete", "--force", &id]);
    assert!(ok && text.contains("read-done"), "{text}");
    let times: Vec<f64> = text.split("read-done").nth(1).unwrap_or("").split_whitespace().filter_map(|t| t.parse().ok()).collect();
    assert_eq!(times.len(), 2, "no times in {text}");
    // However slow the emulation, the throttle makes 1 MiB at 512 KiB/s take at least ~1.5 s.
    assert!(times[1] - times[0] >= 1.5, "the throttled read took only {:.2} s", times[1] - times[0]);
    cg.assert_gone();
}
