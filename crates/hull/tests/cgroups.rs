//! `linux.resources` on this cgroup v1 (hybrid) host: each field lands in its v1 file, read back
//! from the container's cgroup on the host, and what the host cannot apply is refused naming the
//! field. The cgroup v2 side is guest_cgroup2.rs (run in the guest).
//!
//! Side by side with runc: `HULL_TEST_BIN=/usr/sbin/runc cargo test --test cgroups -- v1_every
//! v1_a_throttled` passes with runc 1.1.5 too (the same file values); the refusal test does not,
//! since runc words its errors differently (and fails only when writing).

mod common;

use common::{poll, require_root, unique, Bundle, Runtime};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio"];

/// Panics unless the v1 controllers these tests read are mounted (a pure v2 host is the guest's
/// business, see guest_cgroup2.rs).
fn assert_v1() {
    for c in ["memory", "cpu", "blkio", "pids"] {
        assert!(Path::new("/sys/fs/cgroup").join(c).join("cgroup.procs").exists(), "this test needs the cgroup v1 {c} controller");
    }
}

/// An absolute cgroupsPath of its own; on drop the (empty) directories a failing runtime may
/// have left are removed.
struct Cg(String);

impl Cg {
    fn new() -> Cg {
        Cg(format!("/{}", unique("hull-test-cgres")))
    }
    fn dir(&self, ctrl: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup").join(ctrl).join(self.0.trim_start_matches('/'))
    }
    fn read(&self, ctrl: &str, file: &str) -> String {
        let p = self.dir(ctrl).join(file);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
    }
    fn assert_gone(&self) {
        for ctrl in V1_CONTROLLERS.iter().chain(&["unified"]) {
            let d = self.dir(ctrl);
            assert!(poll(T, || (!d.exists()).then_some(())).is_some(), "{} left behind", d.display());
        }
    }
}

impl Drop for Cg {
    fn drop(&mut self) {
        for ctrl in V1_CONTROLLERS.iter().chain(&["unified"]) {
            let _ = std::fs::remove_dir(self.dir(ctrl));
        }
    }
}

/// major:minor of a real disk of this host (for the per-device blkio files).
fn a_disk() -> String {
    let mut disks: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?.trim().to_string();
            Some((name, dev))
        })
        .filter(|(n, _)| !n.starts_with("loop") && !n.starts_with("ram"))
        .collect();
    disks.sort_by_key(|(n, _)| !(n.starts_with("vd") || n.starts_with("sd") || n.starts_with("nvme")));
    disks.first().map(|(_, d)| d.clone()).expect("a block device in /sys/block")
}

#[test]
fn v1_every_resource_lands_in_its_file() {
    if !require_root() {
        return;
    }
    assert_v1();
    let cg = Cg::new();
    let disk = a_disk();
    let (major, minor) = disk.split_once(':').map(|(a, b)| (a.parse::<i64>().unwrap(), b.parse::<i64>().unwrap())).unwrap();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    let dev = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20, "swappiness": 10},
        "cpu": {"quota": 50000, "period": 100000, "burst": 20000, "realtimeRuntime": 10000, "realtimePeriod": 1000000,
                "idle": 1, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "blockIO": {"weight": 200, "throttleReadBpsDevice": dev(1 << 20), "throttleWriteBpsDevice": dev(2 << 20),
                    "throttleReadIOPSDevice": dev(100), "throttleWriteIOPSDevice": dev(200)},
    });
    b.save();
    let rt = Runtime::new();
    let id = unique("cgres");
    rt.create_and_start(&b, &id);

    assert_eq!(cg.read("memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(cg.read("memory", "memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
    assert_eq!(cg.read("memory", "memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(cg.read("memory", "memory.swappiness"), "10");
    assert_eq!(cg.read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg.read("cpu", "cpu.cfs_period_us"), "100000");
    // Debian's runc 1.1 predates burst and idle on v1 (HULL_TEST_BIN=/usr/sbin/runc gives the
    // same values for every other file here).
    if std::env::var_os("HULL_TEST_BIN").is_none() {
        assert_eq!(cg.read("cpu", "cpu.cfs_burst_us"), "20000");
        assert_eq!(cg.read("cpu", "cpu.idle"), "1");
    }
    assert_eq!(cg.read("cpu", "cpu.rt_runtime_us"), "10000");
    assert_eq!(cg.read("cpu", "cpu.rt_period_us"), "1000000");
    assert_eq!(cg.read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(cg.read("pids", "pids.max"), "20");
    // BFQ's file where the kernel has no CFQ (this host); it lists the default weight.
    let weight = if cg.dir("blkio").join("blkio.weight").exists() { "blkio.weight" } else { "blkio.bfq.weight" };
    assert!(cg.read("blkio", weight).split_whitespace().any(|w| w == "200"), "{weight}: {}", cg.read("blkio", weight));
    for (file, v) in [("read_bps", 1u64 << 20), ("write_bps", 2 << 20), ("read_iops", 100), ("write_iops", 200)] {
        assert_eq!(cg.read("blkio", &format!("blkio.throttle.{file}_device")), format!("{disk} {v}"), "{file}");
    }

    rt.ok(&["delete", "--force", &id]);
    cg.assert_gone();
}

/// `create` with `resources` fails naming `field`, and leaves no cgroup and no state behind.
fn refused(resources: serde_json::Value, field: &str) {
    let cg = Cg::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    b.config["linux"]["resources"] = resources;
    b.save();
    let rt = Runtime::new();
    let id = unique("cgres-bad");
    let out = rt.run(&["create", "--bundle", b.arg(), &id]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "create accepted {field}");
    assert!(text.contains(field), "the error does not name {field}: {text}");
    cg.assert_gone();
    assert!(rt.status(&id).is_none(), "state of {id} left behind");
}

#[test]
fn v1_what_this_host_lacks_is_refused_naming_the_field() {
    if !require_root() {
        return;
    }
    assert_v1();
    // No net_cls/net_prio hierarchy here (refused before anything is made).
    if !Path::new("/sys/fs/cgroup/net_cls").exists() {
        refused(json!({"network": {"classID": 1048577}}), "linux.resources.network.classID");
    }
    if !Path::new("/sys/fs/cgroup/net_prio").exists() {
        refused(json!({"network": {"priorities": [{"name": "lo", "priority": 1}]}}), "linux.resources.network.priorities");
    }
    if !Path::new("/sys/fs/cgroup/rdma").exists() {
        refused(json!({"rdma": {"mlx5_0": {"hcaHandles": 2, "hcaObjects": 3}}}), "linux.resources.rdma");
    }
    // hugetlb is neither a v1 hierarchy nor delegated below this host's cgroup2 root (which
    // hull does not change); a page size the host does not have is refused on any host.
    if !Path::new("/sys/fs/cgroup/hugetlb").exists() {
        refused(json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}), "linux.resources.hugepageLimits[0]");
    }
    refused(json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 2 << 20}]}), "linux.resources.hugepageLimits[0].pageSize");
    // The kernel has no leaf weights without CFQ: the missing file is named with the field.
    if !Path::new("/sys/fs/cgroup/blkio/blkio.leaf_weight").exists() {
        refused(json!({"blockIO": {"leafWeight": 100}}), "linux.resources.blockIO.leafWeight");
    }
    refused(json!({"unified": {"memory.high": "1G"}}), "linux.resources.unified");
    refused(json!({"blockIO": {"weight": 5}}), "linux.resources.blockIO.weight");
}

/// A loop device over a 4 MiB file (this host's own disks cannot be opened, even by root);
/// detached and removed on drop.
struct Loop {
    path: String,
    file: PathBuf,
    dev: (i64, i64),
}

impl Loop {
    fn new() -> Loop {
        let file = std::env::temp_dir().join(format!("{}.img", unique("hull-test-loop")));
        std::fs::File::create(&file).unwrap().set_len(4 << 20).unwrap();
        let out = std::process::Command::new("losetup").args(["--find", "--show"]).arg(&file).output().expect("losetup (util-linux)");
        assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let name = path.trim_start_matches("/dev/");
        let dev = std::fs::read_to_string(format!("/sys/block/{name}/dev")).unwrap();
        let (a, b) = dev.trim().split_once(':').unwrap();
        Loop { path, file, dev: (a.parse().unwrap(), b.parse().unwrap()) }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup").arg("-d").arg(&self.path).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

#[test]
fn v1_a_throttled_device_is_slower() {
    if !require_root() {
        return;
    }
    assert_v1();
    let lo = Loop::new();
    let (major, minor) = lo.dev;
    // 1 MiB read with O_DIRECT (no page cache) from a loop device of our own, through a node.
    let script = "a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/hulldisk of=/dev/null bs=64k count=16 iflag=direct 2>&1 && \
                  echo read-done $a $(cut -d' ' -f1 /proc/uptime)";
    let run = |throttle: bool| {
        let cg = Cg::new();
        let mut b = Bundle::sh(script);
        b.config["linux"]["cgroupsPath"] = json!(cg.0);
        b.config["linux"]["devices"] = json!([{"path": "/dev/hulldisk", "type": "b", "major": major, "minor": minor, "fileMode": 0o400}]);
        b.config["linux"]["resources"]["devices"] =
            json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "b", "major": major, "minor": minor, "access": "r"}]);
        if throttle {
            b.config["linux"]["resources"]["blockIO"] =
                json!({"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 512 * 1024}]});
        }
        b.save();
        let rt = Runtime::new();
        let out = rt.run(&["run", "--bundle", b.arg(), &unique("cgres-io")]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success() && text.contains("read-done"), "{text}{}", String::from_utf8_lossy(&out.stderr));
        cg.assert_gone();
        // The read alone, timed inside by /proc/uptime: "read-done <before> <after>".
        let times: Vec<f64> = text.split("read-done").nth(1).unwrap_or("").split_whitespace().filter_map(|t| t.parse().ok()).collect();
        assert_eq!(times.len(), 2, "no times in {text}");
        Duration::from_secs_f64((times[1] - times[0]).max(0.0))
    };
    let free = run(false);
    let throttled = run(true);
    // 1 MiB at 512 KiB/s cannot take less than about 1.5 s (the throttle's first slice lets a
    // little through at once), however loaded the machine; the same read unthrottled (timed
    // inside, so without the container's start) is far faster.
    eprintln!("unthrottled {free:?}, throttled {throttled:?}");
    assert!(throttled >= Duration::from_millis(1500), "throttled read took only {throttled:?}");
    assert!(throttled >= free * 5, "throttled {throttled:?} vs unthrottled {free:?}");
}

#[test]
fn v1_device_weights_on_a_bfq_device() {
    if !require_root() {
        return;
    }
    assert_v1();
    let lo = Loop::new();
    let (major, minor) = lo.dev;
    // Our own loop device may use BFQ (blkio.bfq.weight_device takes only BFQ devices).
    let sched = format!("/sys/block/{}/queue/scheduler", lo.path.trim_start_matches("/dev/"));
    std::fs::write(&sched, "bfq").unwrap_or_else(|e| panic!("{sched}: {e} (the BFQ scheduler is needed)"));
    let cg = Cg::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(cg.0);
    b.config["linux"]["resources"] = json!({"blockIO": {"weight": 300, "weightDevice": [{"major": major, "minor": minor, "weight": 700}]}});
    b.save();
    let rt = Runtime::new();
    let id = unique("cgres-wd");
    rt.create_and_start(&b, &id);
    let file = if cg.dir("blkio").join("blkio.weight_device").exists() { "blkio.weight_device" } else { "blkio.bfq.weight_device" };
    let got = cg.read("blkio", file);
    assert!(got.lines().any(|l| l.trim() == format!("{major}:{minor} 700")), "{file}: {got}");
    rt.ok(&["delete", "--force", &id]);
    cg.assert_gone();
}
