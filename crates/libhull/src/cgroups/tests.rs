//! Path rules against fixtures of every layout, and (as root) real cgroups on this host, each
//! made under a unique `/hull-test-<pid>-<n>` and removed again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::runtime::LinuxResources;

use super::layout::{self, Kind, Layout};
use super::*;

const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const HYBRID_OWN: &str = "\
9:name=systemd:/
8:pids:/
5:devices:/
4:memory:/process_api/9a2d
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

/// Debian-style v1 with co-mounted cpu,cpuacct, a foreign named hierarchy, a bind mount of
/// the memory hierarchy, and no cgroup2.
const V1: &str = "\
25 24 0:21 / /sys/fs/cgroup rw shared:4 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:5 - cgroup cgroup rw,cpu,cpuacct
27 25 0:23 / /sys/fs/cgroup/memory rw,nosuid shared:6 - cgroup cgroup rw,memory
28 25 0:24 / /sys/fs/cgroup/elsewhere rw,nosuid shared:7 - cgroup cgroup rw,name=elsewhere
29 25 0:23 / /mnt/memory\\040copy rw,nosuid shared:6 - cgroup cgroup rw,memory
";

const V1_OWN: &str = "\
3:name=elsewhere:/x
2:memory:/user/1
1:cpu,cpuacct:/user/2
";

const UNIFIED: &str = "\
24 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
35 24 0:30 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup rw,xattr,name=systemd
";

const UNIFIED_OWN: &str = "\
1:name=systemd:/
0::/user.slice/user-0.slice/session-1.scope
";

fn paths_for(mountinfo: &str, own: &str, cgroups_path: Option<&str>, id: &str) -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    let l = layout::parse_mountinfo(mountinfo)?;
    layout::container_paths(&l, &layout::parse_proc_cgroup(own), cgroups_path.map(Path::new), id)
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

#[test]
fn cgroups_layout_detection() {
    let h = layout::parse_mountinfo(HYBRID).unwrap();
    assert_eq!(h.kind, Kind::Hybrid);
    assert_eq!(h.hierarchies.len(), 8);
    let v1 = layout::parse_mountinfo(V1).unwrap();
    assert_eq!(v1.kind, Kind::V1);
    // name=elsewhere is not ours; the bind mount of memory is a duplicate.
    assert_eq!(v1.hierarchies.len(), 2);
    assert_eq!(v1.hierarchies[0].controllers, vec!["cpu", "cpuacct"]);
    let u = layout::parse_mountinfo(UNIFIED).unwrap();
    assert_eq!(u.kind, Kind::Unified, "a name=systemd v1 mount alone keeps the host unified");
    assert_eq!(u.hierarchies.len(), 1);
    assert!(matches!(layout::parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"), Err(CgroupError::NoCgroupFs { .. })));
    // Octal escapes in mountpoints.
    let esc = "29 25 0:23 / /mnt/mem\\040ory rw - cgroup cgroup rw,memory\n";
    assert_eq!(layout::parse_mountinfo(esc).unwrap().hierarchies[0].mountpoint, p("/mnt/mem ory"));
}

#[test]
fn cgroups_path_absolute_is_below_each_mountpoint() {
    let m = paths_for(HYBRID, HYBRID_OWN, Some("/a/b"), "id").unwrap();
    assert_eq!(m["memory"], p("/sys/fs/cgroup/memory/a/b"));
    assert_eq!(m["cpu"], p("/sys/fs/cgroup/cpu/a/b"));
    assert_eq!(m["cpuacct"], p("/sys/fs/cgroup/cpuacct/a/b"));
    assert_eq!(m["name=systemd"], p("/sys/fs/cgroup/systemd/a/b"));
    assert_eq!(m[""], p("/sys/fs/cgroup/unified/a/b"));
    let m = paths_for(V1, V1_OWN, Some("/a/b"), "id").unwrap();
    assert_eq!(m["cpu"], p("/sys/fs/cgroup/cpu,cpuacct/a/b"));
    assert_eq!(m["cpuacct"], m["cpu"]);
    assert!(!m.contains_key("name=elsewhere"));
    let m = paths_for(UNIFIED, UNIFIED_OWN, Some("/machine.slice/c1"), "id").unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[""], p("/sys/fs/cgroup/machine.slice/c1"));
    // Harmless `..` and `.` are cleaned.
    let m = paths_for(UNIFIED, UNIFIED_OWN, Some("/a/./x/../b/"), "id").unwrap();
    assert_eq!(m[""], p("/sys/fs/cgroup/a/b"));
}

#[test]
fn cgroups_path_relative_is_below_own_cgroup() {
    let m = paths_for(HYBRID, HYBRID_OWN, Some("a/b"), "id").unwrap();
    assert_eq!(m["memory"], p("/sys/fs/cgroup/memory/process_api/9a2d/a/b"));
    assert_eq!(m["pids"], p("/sys/fs/cgroup/pids/a/b"));
    assert_eq!(m[""], p("/sys/fs/cgroup/unified/a/b"));
    let m = paths_for(V1, V1_OWN, Some("a"), "id").unwrap();
    assert_eq!(m["memory"], p("/sys/fs/cgroup/memory/user/1/a"));
    assert_eq!(m["cpu"], p("/sys/fs/cgroup/cpu,cpuacct/user/2/a"));
    // Pure v2: below the parent of our own cgroup (which holds processes).
    let m = paths_for(UNIFIED, UNIFIED_OWN, Some("a"), "id").unwrap();
    assert_eq!(m[""], p("/sys/fs/cgroup/user.slice/user-0.slice/a"));
    // A systemd-style "slice:prefix:name" is just a relative name for the cgroupfs driver.
    let m = paths_for(UNIFIED, UNIFIED_OWN, Some("system.slice:hull:c1"), "id").unwrap();
    assert_eq!(m[""], p("/sys/fs/cgroup/user.slice/user-0.slice/system.slice:hull:c1"));
}

#[test]
fn cgroups_path_empty_is_own_cgroup_slash_id() {
    for cp in [None, Some("")] {
        let m = paths_for(HYBRID, HYBRID_OWN, cp, "c1").unwrap();
        assert_eq!(m["memory"], p("/sys/fs/cgroup/memory/process_api/9a2d/c1"));
        assert_eq!(m["cpu"], p("/sys/fs/cgroup/cpu/c1"));
        let m = paths_for(UNIFIED, UNIFIED_OWN, cp, "c1").unwrap();
        assert_eq!(m[""], p("/sys/fs/cgroup/user.slice/user-0.slice/c1"));
    }
    // Own cgroup at the root: the parent of "/" is "/".
    let m = paths_for(UNIFIED, "0::/\n", None, "c1").unwrap();
    assert_eq!(m[""], p("/sys/fs/cgroup/c1"));
}

#[test]
fn cgroups_path_mount_of_a_subtree() {
    // Inside a container: the memory mount shows only /docker/abc of the hierarchy.
    let mi = "27 25 0:23 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    let m = paths_for(mi, "4:memory:/docker/abc/sub\n", Some("x"), "id").unwrap();
    assert_eq!(m["memory"], p("/sys/fs/cgroup/memory/sub/x"));
    // Our cgroup outside the mount's view: the mount's root.
    let m = paths_for(mi, "4:memory:/elsewhere\n", Some("x"), "id").unwrap();
    assert_eq!(m["memory"], p("/sys/fs/cgroup/memory/x"));
}

#[test]
fn cgroups_path_escape_is_refused() {
    for bad in ["/../x", "../x", "a/../../x", "/a/../../b", ".."] {
        match paths_for(HYBRID, HYBRID_OWN, Some(bad), "id") {
            Err(CgroupError::Invalid { field, reason }) => {
                assert_eq!(field, "linux.cgroupsPath");
                assert!(reason.contains(".."), "{reason}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(paths_for(HYBRID, HYBRID_OWN, None, "../x"), Err(CgroupError::Invalid { field, .. }) if field == "id"));
    let m = paths_for(HYBRID, HYBRID_OWN, Some("a/../b"), "id").unwrap();
    assert_eq!(m["pids"], p("/sys/fs/cgroup/pids/b"));
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn invalid_field(r: Result<(), CgroupError>) -> String {
    match r {
        Err(CgroupError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn cgroups_validate() {
    let v1 = Some(Kind::V1);
    let v2 = Some(Kind::Unified);
    let ok = res(
        r#"{"memory":{"limit":67108864,"swap":134217728},"pids":{"limit":10},"cpu":{"shares":512,"quota":50000,"period":100000},"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#,
    );
    validate_for(v1, &ok).unwrap();
    validate_for(v2, &ok).unwrap();
    validate_for(None, &ok).unwrap();
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"memory":{"swappiness":101}}"#))), "linux.resources.memory.swappiness");
    validate_for(v1, &res(r#"{"memory":{"swappiness":18446744073709551615}}"#)).unwrap();
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"memory":{"limit":200,"swap":100}}"#))), "linux.resources.memory.swap");
    assert_eq!(invalid_field(validate_for(v2, &res(r#"{"memory":{"swap":100}}"#))), "linux.resources.memory.swap");
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"memory":{"swap":100}}"#))), "linux.resources.memory.swap");
    validate_for(v1, &res(r#"{"memory":{"limit":-1,"swap":-1}}"#)).unwrap();
    validate_for(v2, &res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"cpu":{"shares":1}}"#))), "linux.resources.cpu.shares");
    validate_for(v2, &res(r#"{"cpu":{"shares":1}}"#)).unwrap();
    assert_eq!(invalid_field(validate_for(v2, &res(r#"{"cpu":{"shares":262145}}"#))), "linux.resources.cpu.shares");
    validate_for(v2, &res(r#"{"cpu":{"shares":262144}}"#)).unwrap();
    validate_for(v1, &res(r#"{"cpu":{"period":0}}"#)).unwrap();
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"cpu":{"period":500}}"#))), "linux.resources.cpu.period");
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"cpu":{"quota":999}}"#))), "linux.resources.cpu.quota");
    validate_for(v1, &res(r#"{"cpu":{"realtimeRuntime":950000}}"#)).unwrap();
    assert_eq!(invalid_field(validate_for(v2, &res(r#"{"cpu":{"realtimeRuntime":950000}}"#))), "linux.resources.cpu.realtimeRuntime");
    assert_eq!(
        invalid_field(validate_for(v1, &res(r#"{"devices":[{"allow":true,"type":"p","access":"rwm"}]}"#))),
        "linux.resources.devices[0].type"
    );
    assert_eq!(
        invalid_field(validate_for(v1, &res(r#"{"devices":[{"allow":true},{"allow":true,"access":""}]}"#))),
        "linux.resources.devices[0].access"
    );
    assert_eq!(
        invalid_field(validate_for(v1, &res(r#"{"devices":[{"allow":true,"access":"rwx"}]}"#))),
        "linux.resources.devices[0].access"
    );
    assert_eq!(invalid_field(validate_for(v1, &res(r#"{"unified":{"memory.high":"1G"}}"#))), "linux.resources.unified");
    validate_for(v2, &res(r#"{"unified":{"memory.high":"1G"}}"#)).unwrap();
    assert_eq!(invalid_field(validate_for(v2, &res(r#"{"unified":{"../x":"1"}}"#))), "linux.resources.unified[\"../x\"]");
}

#[test]
fn cgroups_conversions() {
    assert_eq!(v2::shares_to_weight(0), 0);
    assert_eq!(v2::shares_to_weight(2), 1);
    assert_eq!(v2::shares_to_weight(1024), 100);
    assert_eq!(v2::shares_to_weight(262_144), 10_000);
    assert_eq!(v2::shares_to_weight(1_000_000), 10_000);
    let w512 = v2::shares_to_weight(512);
    assert!(w512 > 1 && w512 < 100, "{w512}");
    // runc's blkio weight [10, 1000] -> io.weight [1, 10000].
    assert_eq!(v2::blkio_to_io_weight(0), 0);
    assert_eq!(v2::blkio_to_io_weight(10), 1);
    assert_eq!(v2::blkio_to_io_weight(1000), 10_000);
    assert_eq!(v2::blkio_to_io_weight(500), 1 + 490 * 9999 / 990);
    assert_eq!(v2::swap_max(-1, 0), Ok(-1));
    assert_eq!(v2::swap_max(100, 0), Ok(0));
    assert_eq!(v2::swap_max(100, -1), Ok(-1));
    assert_eq!(v2::swap_max(-1, 300), Ok(300));
    assert_eq!(v2::swap_max(100, 300), Ok(200));
    assert_eq!(v2::swap_max(100, 100), Ok(0));
    assert!(v2::swap_max(0, 300).is_err());
    assert!(v2::swap_max(300, 100).is_err());
}

/// The tables of runc's own unit tests (opencontainers/cgroups utils_test.go:
/// TestConvertCPUSharesToCgroupV2Value, TestConvertMemorySwapToCgroupV2Value,
/// TestConvertBlkIOToIOWeightValue), value for value.
#[test]
fn cgroups_conversions_match_runcs_tables() {
    for (shares, weight) in [(0, 0), (1, 1), (2, 1), (3, 2), (1024, 100), (262_143, 10_000), (262_144, 10_000), (262_145, 10_000)] {
        assert_eq!(v2::shares_to_weight(shares), weight, "cpu.shares {shares}");
    }
    // (memory+swap, memory) -> memory.swap.max, or an error.
    for (memswap, memory, want) in [
        (0, 0, Some(0)),
        (-1, 0, Some(-1)),
        (300, -1, Some(300)),
        (-1, -1, Some(-1)),
        (-2, 0, None),
        (-1, 1000, Some(-1)),
        (1000, 1000, Some(0)),
        (500, 200, Some(300)),
        (300, 400, None),
        (300, 0, None),
        (300, -300, None),
    ] {
        assert_eq!(v2::swap_max(memory, memswap).ok(), want, "memory+swap {memswap}, memory {memory}");
    }
    for (blkio, io) in [(0, 0), (10, 1), (1000, 10_000)] {
        assert_eq!(v2::blkio_to_io_weight(blkio), io, "blkio weight {blkio}");
    }
}

#[test]
fn cgroups_validate_new_fields() {
    let v1 = Some(Kind::V1);
    let v2 = Some(Kind::Unified);
    let ok = res(r#"{"blockIO":{"weight":500,"leafWeight":10,"weightDevice":[{"major":8,"minor":0,"weight":1000}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
            "hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}],
            "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]},
            "rdma":{"mlx5_0":{"hcaHandles":3}},"cpu":{"idle":1}}"#);
    validate_for(v1, &ok).unwrap();
    for (json, field) in [
        (r#"{"blockIO":{"weight":5}}"#, "linux.resources.blockIO.weight"),
        (r#"{"blockIO":{"leafWeight":1001}}"#, "linux.resources.blockIO.leafWeight"),
        (r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":2000}]}}"#, "linux.resources.blockIO.weightDevice[0].weight"),
        (r#"{"blockIO":{"weightDevice":[{"major":-1,"minor":0,"weight":20}]}}"#, "linux.resources.blockIO.weightDevice[0]"),
        (
            r#"{"blockIO":{"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":1},{"major":8,"minor":-1,"rate":1}]}}"#,
            "linux.resources.blockIO.throttleWriteIOPSDevice[1]",
        ),
        (r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#, "linux.resources.hugepageLimits[0].pageSize"),
        (r#"{"hugepageLimits":[{"pageSize":"../2MB","limit":1}]}"#, "linux.resources.hugepageLimits[0].pageSize"),
        (r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-2}]}"#, "linux.resources.hugepageLimits[0].limit"),
        (r#"{"network":{"priorities":[{"name":"eth 0","priority":1}]}}"#, "linux.resources.network.priorities[0].name"),
        (r#"{"rdma":{"a/b":{"hcaHandles":1}}}"#, "linux.resources.rdma[\"a/b\"]"),
        (r#"{"cpu":{"idle":2}}"#, "linux.resources.cpu.idle"),
    ] {
        assert_eq!(invalid_field(validate_for(v1, &res(json))), field, "{json}");
    }
    // cgroup v2: no net_cls/net_prio; unified keys of the right form only.
    assert_eq!(invalid_field(validate_for(v2, &res(r#"{"network":{"classID":1}}"#))), "linux.resources.network.classID");
    assert_eq!(invalid_field(validate_for(v2, &res(r#"{"blockIO":{"leafWeight":100}}"#))), "linux.resources.blockIO.leafWeight");
    assert_eq!(
        invalid_field(validate_for(v2, &res(r#"{"network":{"priorities":[{"name":"","priority":1}]}}"#))),
        "linux.resources.network.priorities[0].name"
    );
    for (key, ok) in [
        ("memory.high", true),
        ("cgroup.max.depth", true),
        ("memory", false),
        (".high", false),
        ("cgroup.procs", false),
        ("cgroup.kill", false),
        (r"a\u0000.b", false),
    ] {
        let r = res(&format!(r#"{{"unified":{{"{key}":"1"}}}}"#));
        assert_eq!(validate_for(v2, &r).is_ok(), ok, "unified key {key:?}");
    }
}

#[test]
fn cgroups_hugepage_names() {
    assert_eq!(hugepage_name(2048), "2MB");
    assert_eq!(hugepage_name(1_048_576), "1GB");
    assert_eq!(hugepage_name(64), "64KB");
    assert_eq!(hugepage_name(32 * 1024), "32MB");
    assert!(valid_page_size("2MB") && valid_page_size("16GB") && valid_page_size("64KB"));
    assert!(!valid_page_size("2mb") && !valid_page_size("MB") && !valid_page_size("02MB") && !valid_page_size("2 MB"));
}

#[test]
fn cgroups_device_rules() {
    let r = res(
        r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},{"allow":true,"type":"b","major":8,"access":"r"},{"allow":false,"type":"c","major":-1,"minor":-1,"access":"m"}]}"#,
    );
    let rules = v1::device_rules(&r).unwrap();
    let flat: Vec<String> = rules.iter().map(|(f, r, _)| format!("{f} {r}")).collect();
    assert_eq!(flat[0], "devices.deny a");
    assert_eq!(flat[1], "devices.deny a");
    assert_eq!(flat[2], "devices.allow c 1:3 rw");
    assert_eq!(flat[3], "devices.allow b 8:* r");
    assert_eq!(flat[4], "devices.deny c *:* m");
    assert_eq!(rules[2].2, "linux.resources.devices[1]");
    assert_eq!(flat.len(), 5 + devices::DEFAULT_ALLOWED.len());
    assert!(flat.contains(&"devices.allow c 1:3 rwm".to_string()));
    // No rules at all: still an allow-list of the defaults, as under runc.
    let rules = v1::device_rules(&LinuxResources::default()).unwrap();
    assert_eq!(rules[0].1, "a");
    assert_eq!(rules.len(), 1 + devices::DEFAULT_ALLOWED.len());
}

#[test]
fn cgroups_manager_serde_and_empty_state() {
    // The stub's form (and an old state.json) still loads.
    let m: CgroupManager = serde_json::from_str(r#"{"paths":{},"created":[]}"#).unwrap();
    assert!(m.pids().unwrap().is_empty());
    m.destroy().unwrap();
    assert!(m.clone_into_fd().is_none());
    let m = CgroupManager { paths: [("memory".to_string(), p("/x"))].into(), created: vec![p("/x")], systemd: None };
    let back: CgroupManager = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(back.paths, m.paths);
    assert_eq!(back.created, m.created);
}

// ---- real cgroups on this host (root) ----

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique_path() -> String {
    format!("/hull-test-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn host_layout() -> Layout {
    layout::parse_mountinfo(&std::fs::read_to_string(layout::MOUNTINFO).unwrap()).unwrap()
}

/// Kills the children and destroys the managers even when an assertion fails half-way.
#[derive(Default)]
struct Cleanup {
    children: Vec<Child>,
    managers: Vec<CgroupManager>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for m in &self.managers {
            let _ = m.destroy();
        }
    }
}

fn sleeper() -> Child {
    Command::new("sleep").arg("5").spawn().unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap().trim().to_string()
}

/// The line of /proc/<pid>/cgroup for a hierarchy carrying `controller` ("" for cgroup2).
fn proc_cgroup_of(pid: u32, controller: &str) -> String {
    let t = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    layout::parse_proc_cgroup(&t)
        .into_iter()
        .find(|o| if controller.is_empty() { o.controllers.is_empty() } else { o.controllers.iter().any(|c| c == controller) })
        .map(|o| o.path)
        .unwrap_or_default()
}

#[test]
fn cgroups_v1_create_apply_place_destroy() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let l = host_layout();
    if l.kind == Kind::Unified {
        eprintln!("SKIPPED: needs cgroup v1 (this host is pure cgroup v2)");
        return;
    }
    let top = unique_path();
    let path = format!("{top}/inner");
    let mut clean = Cleanup::default();
    let mut m = CgroupManager::new(Some(Path::new(&path)), "ignored").unwrap();
    let mem_mount = &l.hierarchies.iter().find(|h| h.controllers.iter().any(|c| c == "memory")).unwrap().mountpoint;
    let mem = mem_mount.join(path.trim_start_matches('/'));
    assert_eq!(m.paths["memory"], mem);
    if l.kind == Kind::Hybrid {
        assert!(m.paths.contains_key(""), "hybrid: the unified hierarchy is joined too");
    }
    assert!(m.clone_into_fd().is_none(), "no CLONE_INTO_CGROUP on v1/hybrid");

    m.create().unwrap();
    clean.managers.push(m.clone());
    for d in m.paths.values() {
        assert!(d.is_dir(), "{}", d.display());
        assert!(m.created.contains(d));
        assert!(m.created.contains(&d.parent().unwrap().to_path_buf()), "the missing parent is recorded too");
    }
    if let Some(cs) = m.paths.get("cpuset") {
        assert!(!read(cs, "cpuset.cpus").is_empty(), "cpuset.cpus copied from the parent");
        assert!(!read(cs, "cpuset.mems").is_empty(), "cpuset.mems copied from the parent");
    }

    let r = res(
        r#"{"memory":{"limit":67108864},"pids":{"limit":10},"cpu":{"shares":512},"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]}"#,
    );
    CgroupManager::validate(&r).unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(&m.paths["pids"], "pids.max"), "10");
    assert_eq!(read(&m.paths["cpu"], "cpu.shares"), "512");
    let devs = read(&m.paths["devices"], "devices.list");
    assert!(!devs.contains("a *:* rwm"), "deny-all took effect: {devs}");
    assert!(devs.contains("c 1:3 rwm"), "runc's default /dev/null rule: {devs}");
    assert!(devs.contains("c 1:5 r"), "the config's rule: {devs}");
    // pids -1 means no limit.
    m.apply(&res(r#"{"pids":{"limit":-1}}"#)).unwrap();
    assert_eq!(read(&m.paths["pids"], "pids.max"), "max");
    m.apply(&res(r#"{"pids":{"limit":10}}"#)).unwrap();
    // Swap and the rest of memory, CFS bandwidth; then raising and lowering memory with swap
    // (the two bounds must be written in the right order).
    let mib = |n: u64| (n << 20).to_string();
    let r = res(
        r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":33554432,"swappiness":10},"cpu":{"quota":50000,"period":200000}}"#,
    );
    m.apply(&r).unwrap();
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), mib(128));
    assert_eq!(read(&mem, "memory.soft_limit_in_bytes"), mib(32));
    assert_eq!(read(&mem, "memory.swappiness"), "10");
    assert_eq!(read(&m.paths["cpu"], "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&m.paths["cpu"], "cpu.cfs_period_us"), "200000");
    m.apply(&res(r#"{"memory":{"limit":268435456,"swap":536870912}}"#)).unwrap();
    assert_eq!((read(&mem, "memory.limit_in_bytes"), read(&mem, "memory.memsw.limit_in_bytes")), (mib(256), mib(512)));
    m.apply(&res(r#"{"memory":{"limit":33554432,"swap":67108864}}"#)).unwrap();
    assert_eq!((read(&mem, "memory.limit_in_bytes"), read(&mem, "memory.memsw.limit_in_bytes")), (mib(32), mib(64)));
    m.apply(&res(r#"{"memory":{"limit":67108864}}"#)).unwrap();
    // A write the kernel refuses names the file and the field.
    let e = m.apply(&res(r#"{"cpu":{"cpus":"4096"}}"#)).unwrap_err().to_string();
    assert!(e.contains("linux.resources.cpu.cpus") && e.contains("cpuset.cpus"), "{e}");
    // update changes limits and never the device rules, whatever it is given.
    let devs = read(&m.paths["devices"], "devices.list");
    m.update(&res(r#"{"pids":{"limit":12},"devices":[{"allow":true,"access":"rwm"}]}"#)).unwrap();
    assert_eq!(read(&m.paths["pids"], "pids.max"), "12");
    assert_eq!(read(&m.paths["devices"], "devices.list"), devs);
    // The blkio weight goes to CFQ's file, or BFQ's on a kernel without CFQ.
    if let Some(b) = m.paths.get("blkio") {
        let file = ["blkio.weight", "blkio.bfq.weight"].into_iter().find(|f| b.join(f).exists());
        if let Some(file) = file {
            m.update(&res(r#"{"blockIO":{"weight":300}}"#)).unwrap();
            assert_eq!(read(b, file), "300");
        }
    }

    let child = sleeper();
    let pid = child.id();
    clean.children.push(child);
    m.add_pid(pid as i32).unwrap();
    assert_eq!(proc_cgroup_of(pid, "memory"), path);
    assert_eq!(proc_cgroup_of(pid, "pids"), path);
    assert_eq!(m.pids().unwrap(), vec![pid as i32]);

    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());

    // Another container on the same cgroup is refused, and leaves nothing behind.
    let mut other = CgroupManager::new(Some(Path::new(&path)), "x").unwrap();
    let e = other.create().unwrap_err();
    assert!(matches!(e, CgroupError::NotEmpty { .. }));
    assert!(e.to_string().contains("is not empty: it has processes"), "{e}");
    assert!(other.created.is_empty());
    // Also when the processes are in a child cgroup of it.
    let mut parent = CgroupManager::new(Some(Path::new(&top)), "x").unwrap();
    assert!(matches!(parent.create(), Err(CgroupError::NotEmpty { .. })));

    // A child cgroup the container made goes with it.
    std::fs::create_dir(mem.join("sub")).unwrap();

    for mut c in clean.children.drain(..) {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    m.destroy().unwrap();
    for d in &m.created {
        assert!(!d.exists(), "{} still exists", d.display());
    }
    // Destroying again is fine: already gone.
    m.destroy().unwrap();
}

#[test]
fn cgroups_existing_cgroup_is_used_but_not_removed() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let top = unique_path();
    let mut clean = Cleanup::default();
    // "Somebody else's" cgroup: made by the first manager, reused by the second.
    let mut owner = CgroupManager::new(Some(Path::new(&top)), "x").unwrap();
    owner.create().unwrap();
    clean.managers.push(owner.clone());
    let mut user = CgroupManager::new(Some(Path::new(&top)), "x").unwrap();
    user.create().unwrap();
    assert!(user.created.is_empty(), "it existed: not hull's to remove");
    user.destroy().unwrap();
    for d in owner.paths.values() {
        assert!(d.is_dir());
    }
    owner.destroy().unwrap();
    for d in owner.paths.values() {
        assert!(!d.exists());
    }
}

#[test]
fn cgroups_v2_on_the_unified_hierarchy() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    // On a pure v2 host the real thing; on a hybrid host a v2-only view of its cgroup2 mount
    // (no controllers there, so the limits must be refused clearly).
    let host = host_layout();
    let Some(h) = host.hierarchies.iter().find(|h| h.is_v2()).cloned() else {
        eprintln!("SKIPPED: no cgroup2 mount");
        return;
    };
    let l = Layout { kind: Kind::Unified, hierarchies: vec![h.clone()] };
    let top = unique_path();
    let path = format!("{top}/a/b");
    let mut clean = Cleanup::default();
    let mut m = CgroupManager::with_layout(&l, Some(Path::new(&path)), "x").unwrap();
    let leaf = h.mountpoint.join(path.trim_start_matches('/'));
    assert_eq!(m.paths.len(), 1);
    assert_eq!(m.paths[""], leaf);

    let root_subtree = read(&h.mountpoint, "cgroup.subtree_control");
    m.create().unwrap();
    clean.managers.push(m.clone());
    assert_eq!(m.created.len(), 3);
    assert_eq!(read(&h.mountpoint, "cgroup.subtree_control"), root_subtree, "a cgroup hull did not create is unchanged");
    // Every directory hull made passes on all it has.
    let top_dir = h.mountpoint.join(top.trim_start_matches('/'));
    for d in [top_dir.clone(), top_dir.join("a")] {
        assert_eq!(read(&d, "cgroup.subtree_control"), read(&d, "cgroup.controllers"), "{}", d.display());
    }
    assert!(m.clone_into_fd().is_some());

    let avail = read(&leaf, "cgroup.controllers");
    let has = |c: &str| avail.split_whitespace().any(|x| x == c);
    let r = res(r#"{"pids":{"limit":10}}"#);
    match m.apply(&r) {
        Ok(()) => assert_eq!(read(&leaf, "pids.max"), "10"),
        // The ancestors (hull enables what the config needs there) do not offer it.
        Err(CgroupError::Enable { field, controller, path, .. }) if !has("pids") => {
            assert_eq!(field, "linux.resources.pids.limit");
            assert_eq!(controller, "pids");
            assert!(path.ends_with("cgroup.subtree_control"), "{}", path.display());
        }
        Err(e) => panic!("{e}"),
    }
    let r = res(r#"{"memory":{"limit":67108864},"cpu":{"shares":512}}"#);
    match m.apply(&r) {
        Ok(()) => {
            assert_eq!(read(&leaf, "memory.max"), "67108864");
            assert_eq!(read(&leaf, "cpu.weight"), v2::shares_to_weight(512).to_string());
        }
        Err(CgroupError::Enable { field, .. }) if !has("memory") => {
            assert_eq!(field, "linux.resources.memory.limit")
        }
        Err(e) => panic!("{e}"),
    }
    // Nothing asked, nothing needed.
    m.apply(&LinuxResources::default()).unwrap();

    let child = sleeper();
    let pid = child.id();
    clean.children.push(child);
    m.add_pid(pid as i32).unwrap();
    let in_ns = format!("{}{}", h.root.trim_end_matches('/'), path);
    assert_eq!(proc_cgroup_of(pid, ""), in_ns);
    assert_eq!(m.pids().unwrap(), vec![pid as i32]);

    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());

    let mut other = CgroupManager::with_layout(&l, Some(Path::new(&path)), "x").unwrap();
    assert!(matches!(other.create(), Err(CgroupError::NotEmpty { .. })));

    // cgroup.kill: one write SIGKILLs everything in the cgroup.
    assert!(m.kill_all().unwrap(), "no cgroup.kill in {}", leaf.display());
    for mut c in clean.children.drain(..) {
        let status = c.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL), "{status:?}");
    }
    m.destroy().unwrap();
    for d in &m.created {
        assert!(!d.exists(), "{} still exists", d.display());
    }
}

/// Opens `dev` (`<` for reading, `>` for writing) from a shell that first moves itself into
/// `dir`; the error is the shell's stderr.
fn open_in_cgroup(dir: &Path, how: char, dev: &str) -> Result<(), String> {
    let script = format!("echo $$ > {}/cgroup.procs && : {how} {dev}", dir.display());
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn cgroups_v2_device_program_is_enforced_and_replaced() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    // A cgroup2 directory is all the program needs, also on a hybrid host (the kernel asks the
    // program before the v1 devices controller).
    let host = host_layout();
    let Some(h) = host.hierarchies.iter().find(|h| h.is_v2()).cloned() else {
        eprintln!("SKIPPED: no cgroup2 mount");
        return;
    };
    let l = Layout { kind: Kind::Unified, hierarchies: vec![h.clone()] };
    let path = unique_path();
    let mut clean = Cleanup::default();
    let mut m = CgroupManager::with_layout(&l, Some(Path::new(&path)), "x").unwrap();
    m.create().unwrap();
    clean.managers.push(m.clone());
    let dir = m.paths[""].clone();
    let attached = || {
        let fd: std::os::fd::OwnedFd = std::fs::File::open(&dir).unwrap().into();
        crate::sys::bpf_prog_query(std::os::fd::AsFd::as_fd(&fd), crate::sys::BPF_CGROUP_DEVICE).unwrap()
    };

    // runc's defaults only: /dev/null yes, /dev/kmsg (1:11) no.
    m.apply(&LinuxResources::default()).unwrap();
    assert_eq!(attached().len(), 1);
    open_in_cgroup(&dir, '<', "/dev/null").unwrap();
    let e = open_in_cgroup(&dir, '<', "/dev/kmsg").unwrap_err();
    assert!(e.contains("Operation not permitted"), "{e}");

    // Applied again with /dev/kmsg readable only: one program still, the new one.
    m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"r"}]}"#)).unwrap();
    assert_eq!(attached().len(), 1, "the earlier program is detached");
    open_in_cgroup(&dir, '<', "/dev/kmsg").unwrap();
    let e = open_in_cgroup(&dir, '>', "/dev/kmsg").unwrap_err();
    assert!(e.contains("Operation not permitted"), "{e}");

    // A deny-list that takes /dev/null away: runc's defaults come last and give it back.
    m.apply(&res(r#"{"devices":[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#)).unwrap();
    open_in_cgroup(&dir, '<', "/dev/null").unwrap();
    open_in_cgroup(&dir, '<', "/dev/kmsg").unwrap();

    // Wait for the shells to be gone from the cgroup, then remove it.
    assert!(m.pids().unwrap().is_empty());
    m.destroy().unwrap();
    assert!(!dir.exists());
}
