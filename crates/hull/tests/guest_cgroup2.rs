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
