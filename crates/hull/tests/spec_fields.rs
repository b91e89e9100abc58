//! The smaller Linux fields, seen from inside real containers: the loopback of a new network
//! namespace, `linux.netDevices`, `linux.timeOffsets`, `process.execCPUAffinity`,
//! `linux.memoryPolicy` and idmapped mounts (`mounts[].uidMappings`/`gidMappings`).
//! (`linux.intelRdt` needs resctrl, which this host lacks: its logic is unit-tested in libhull's
//! rdt.rs against a resctrl-shaped tree, and its refusal is a row of bad_input_matrix.rs.)

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{require_root, unique, Bundle, Runtime, TempDir};
use serde_json::json;

const T: Duration = Duration::from_secs(10);

fn text(out: &Output) -> String {
    format!("status {:?}\nstdout: {}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn sh(cmd: &str) -> Output {
    Command::new("sh").args(["-c", cmd]).output().expect("run sh")
}

/// `ip link show`'s line of `dev` in `out`.
fn link_line<'a>(out: &'a str, dev: &str) -> Option<&'a str> {
    out.lines().find(|l| l.split(':').nth(1).map(|n| n.trim().split('@').next() == Some(dev)).unwrap_or(false))
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    if !require_root() {
        return;
    }
    let b = Bundle::sh("ip link show; ip addr show lo");
    b.add_applets(&["ip"]);
    let out = Runtime::new().run_ok(&b);
    let lo = link_line(&out, "lo").unwrap_or_else(|| panic!("no lo in:\n{out}"));
    assert!(lo.contains("UP") && lo.contains("LOWER_UP"), "lo is not up: {lo}\n{out}");
    assert!(out.contains("inet 127.0.0.1/8"), "lo has no 127.0.0.1:\n{out}");
    // Exactly lo: the namespace is new.
    assert_eq!(out.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count(), 2, "{out}");
    // link + addr line of lo
}

/// A veth pair on the host (this kernel has no dummy driver): the test moves one end, the
/// peer (`<name>p`) stays. Removed when dropped if still (or again) there.
struct Dummy(String);

impl Dummy {
    /// `n` tells apart the dummies of tests running at once.
    fn new(n: u32) -> Dummy {
        let name = format!("hulltest{}{n}", std::process::id() % 100_000);
        let _ = sh(&format!("ip link del {name} 2>/dev/null"));
        let out = sh(&format!("ip link add {name} type veth peer name {name}p && ip addr add 10.213.7.1/24 dev {name} && ip -6 addr add fd00:213::7/64 dev {name} nodad"));
        assert!(out.status.success(), "making the veth pair: {}", text(&out));
        Dummy(name)
    }
    fn on_host(&self) -> bool {
        sh(&format!("ip link show {}", self.0)).status.success()
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = sh(&format!("ip link del {} 2>/dev/null", self.0));
    }
}

#[test]
fn net_device_is_moved_renamed_up_with_its_addresses() {
    if !require_root() {
        return;
    }
    move_device(1, false, "ctr0", "ctr0");
}

#[test]
fn net_device_name_template_is_numbered_by_the_kernel() {
    if !require_root() {
        return;
    }
    move_device(4, false, "eth%d", "eth0");
}

#[test]
fn net_device_moves_into_a_container_with_a_user_namespace() {
    if !require_root() {
        return;
    }
    move_device(3, true, "ctr0", "ctr0");
}

/// Moves a veth end into a container as `name`, and checks it is seen there as `seen`.
fn move_device(n: u32, userns: bool, name: &str, seen: &str) {
    let dummy = Dummy::new(n);
    let mut b = Bundle::sh(&format!("ip link show; ip addr show {seen}"));
    b.add_applets(&["ip"]);
    b.config["linux"]["netDevices"] = json!({ dummy.0.clone(): {"name": name} });
    if userns {
        b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    b.save();
    let rt = Runtime::new();
    let id = unique("netdev");
    let out = rt.cmd().args(["run", "--bundle", b.arg(), &id]).stdin(Stdio::null()).output().expect("run");
    let _ = rt.run(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let inside = String::from_utf8_lossy(&out.stdout);
    let line = link_line(&inside, seen).unwrap_or_else(|| panic!("{seen} not seen inside:\n{inside}"));
    assert!(line.contains(",UP"), "{seen} is not up inside: {line}");
    assert!(link_line(&inside, &dummy.0).is_none(), "the old name is seen inside:\n{inside}");
    assert!(inside.contains("inet 10.213.7.1/24"), "the IPv4 address was not kept:\n{inside}");
    assert!(inside.contains("inet6 fd00:213::7/64"), "the IPv6 address was not kept:\n{inside}");
    // A virtual device dies with the namespace (runtime-spec: never moved back), and a veth
    // takes its peer with it.
    // The kernel tears a network namespace down asynchronously (cleanup_net), after the last
    // process left: wait for it.
    let gone = common::poll(T, || (!dummy.on_host() && !sh(&format!("ip link show {}p", dummy.0)).status.success()).then_some(()));
    assert!(gone.is_some(), "the moved veth or its peer outlived the container by {T:?}");
}

#[test]
fn net_device_errors_come_before_any_side_effect() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let dummy = Dummy::new(2);
    for (devs, want) in [
        (json!({"hullnosuchdev0": {}}), "linux.netDevices[\"hullnosuchdev0\"]"),
        (json!({ dummy.0.clone(): {"name": "a/b"} }), ".name"),
        (json!({ dummy.0.clone(): {"name": "lo"} }), ".name"),
        (json!({ dummy.0.clone(): {"name": "waytoolongname16"} }), ".name"),
    ] {
        let mut b = Bundle::sh("true");
        b.config["linux"]["netDevices"] = devs.clone();
        b.save();
        let id = unique("netbad");
        let out = rt.run(&["create", "--bundle", b.arg(), &id]);
        assert!(!out.status.success(), "{devs} accepted");
        let err = String::from_utf8_lossy(&out.stderr).replace("\\\"", "\"");
        assert!(err.contains(want), "{devs}: the error does not name {want}: {err}");
        assert!(rt.run(&["state", &id]).status.code() != Some(0), "{devs}: a container was left");
        assert!(dummy.on_host(), "{devs}: the device left the host");
    }
    // Without a network namespace of its own.
    let mut b = Bundle::sh("true");
    b.remove_namespace("network");
    b.config["linux"]["netDevices"] = json!({ dummy.0.clone(): {} });
    b.save();
    let out = rt.run(&["create", "--bundle", b.arg(), &unique("netbad")]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("linux.netDevices"), "{}", text(&out));
    assert!(dummy.on_host());
}

/// The first field of /proc/uptime: seconds of CLOCK_BOOTTIME (as the namespace sees it).
fn uptime_of(s: &str) -> f64 {
    s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("not /proc/uptime: {s:?}"))
}

#[test]
fn time_offsets_shift_boottime_and_monotonic_for_init_and_exec() {
    if !require_root() {
        return;
    }
    const BOOT: i64 = 86_400 * 365; // a year
    const MONO: i64 = 86_400 * 30;
    let mut b = Bundle::sh("sleep 30");
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": BOOT, "nanosecs": 0}, "monotonic": {"secs": MONO, "nanosecs": 5}});
    b.save();
    let rt = Runtime::new();
    let id = unique("timens");
    let host_before = uptime_of(&std::fs::read_to_string("/proc/uptime").unwrap());
    rt.create_and_start(&b, &id);
    let exec = rt.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time; readlink /proc/1/ns/time",
    ]);
    let host_after = uptime_of(&std::fs::read_to_string("/proc/uptime").unwrap());
    let _ = rt.run(&["delete", "--force", &id]);
    assert!(exec.status.success(), "{}", text(&exec));
    let out = String::from_utf8_lossy(&exec.stdout);
    let inside = uptime_of(&out);
    assert!(
        inside >= host_before + BOOT as f64 && inside <= host_after + BOOT as f64 + 1.0,
        "uptime inside {inside}, host {host_before}..{host_after}:\n{out}"
    );
    let ns: Vec<&str> = out.lines().filter(|l| l.starts_with("time:")).collect();
    assert!(ns.len() == 2 && ns[0] == ns[1], "exec is not in the init's time namespace:\n{out}");
    // The namespace's own record of its offsets (monotonic is clock 1, boottime 7).
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["monotonic", &MONO.to_string(), "5"]), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["boottime", &BOOT.to_string(), "0"]), "{out}");
}

#[test]
fn time_offsets_seen_by_the_init() {
    if !require_root() {
        return;
    }
    const BOOT: i64 = 1_000_000;
    let mut b = Bundle::sh("cat /proc/uptime");
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": BOOT}});
    b.save();
    let before = uptime_of(&std::fs::read_to_string("/proc/uptime").unwrap());
    let out = Runtime::new().run_ok(&b);
    let after = uptime_of(&std::fs::read_to_string("/proc/uptime").unwrap());
    let inside = uptime_of(&out);
    assert!(inside >= before + BOOT as f64 && inside <= after + BOOT as f64 + 1.0, "uptime inside {inside}, host {before}..{after}");
}

/// Cpus_allowed_list of a status text.
fn cpus_allowed(status: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).map(|v| v.trim().to_string()).unwrap_or_default()
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    if !require_root() {
        return;
    }
    let ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if ncpu < 2 {
        panic!("this test needs 2 CPUs to tell affinities apart; the machine has {ncpu}");
    }
    let all = cpus_allowed(&std::fs::read_to_string("/proc/self/status").unwrap());
    let mut b = Bundle::sh("grep Cpus_allowed_list /proc/self/status; sleep 30");
    // The container's default for exec: final 0.
    b.config["process"]["execCPUAffinity"] = json!({"initial": "1", "final": "0"});
    b.save();
    let rt = Runtime::new();
    let id = unique("affinity");
    let io = TempDir::new("aff-io");
    let log = io.path().join("init.out");
    let f = std::fs::File::create(&log).unwrap();
    let st = rt.cmd().args(["create", "--bundle", b.arg(), &id]).stdout(f).stdin(Stdio::null()).status().expect("create");
    assert!(st.success());
    rt.ok(&["start", &id]);
    let exec = |args: &[&str]| {
        let mut full = vec!["exec"];
        full.extend_from_slice(args);
        let out = rt.run(&full);
        assert!(out.status.success(), "{}", text(&out));
        cpus_allowed(&String::from_utf8_lossy(&out.stdout))
    };
    let from_config = exec(&[&id, "cat", "/proc/self/status"]);
    // A process.json of its own: only an initial affinity, which it keeps after execve.
    let pj = io.path().join("p.json");
    let mut p = b.config["process"].clone();
    p["args"] = json!(["cat", "/proc/self/status"]);
    p["execCPUAffinity"] = json!({"initial": "1"});
    std::fs::write(&pj, p.to_string()).unwrap();
    let initial_only = exec(&["--process", pj.to_str().unwrap(), &id]);
    p["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
    std::fs::write(&pj, p.to_string()).unwrap();
    let final_one = exec(&["--process", pj.to_str().unwrap(), &id]);
    let hull_after = cpus_allowed(&std::fs::read_to_string("/proc/self/status").unwrap());
    let init = cpus_allowed(&rt.ok(&["exec", &id, "cat", "/proc/1/status"]));
    let _ = rt.run(&["delete", "--force", &id]);
    assert_eq!(from_config, "0", "exec with the config's execCPUAffinity");
    assert_eq!(initial_only, "1", "exec with only an initial affinity keeps it");
    assert_eq!(final_one, "1", "exec with a final affinity");
    // runtime-spec: "not applicable to the container's init process".
    assert_eq!(init, all, "the init's affinity");
    assert_eq!(hull_after, all, "the test process itself is untouched");
}

#[test]
fn memory_policy_is_set_for_init_and_exec() {
    if !require_root() {
        return;
    }
    // This host has one NUMA node (0): the modes are told apart in numa_maps, not by placement.
    let mut b = Bundle::sh("grep -m1 -o 'interleave[=a-z]*:[0-9-]*' /proc/self/numa_maps; sleep 30");
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    b.save();
    let rt = Runtime::new();
    let id = unique("mempol");
    let io = TempDir::new("mempol-io");
    let log = io.path().join("init.out");
    let f = std::fs::File::create(&log).unwrap();
    let st = rt.cmd().args(["create", "--bundle", b.arg(), &id]).stdout(f).stdin(Stdio::null()).status().expect("create");
    assert!(st.success());
    rt.ok(&["start", &id]);
    let init = common::poll(T, || {
        let s = std::fs::read_to_string(&log).unwrap_or_default();
        (!s.is_empty()).then_some(s)
    });
    let exec = rt.run(&["exec", &id, "cat", "/proc/self/numa_maps"]);
    let _ = rt.run(&["delete", "--force", &id]);
    let init = init.expect("the init printed its policy");
    assert_eq!(init.trim(), "interleave=static:0", "init's numa_maps");
    assert!(exec.status.success(), "{}", text(&exec));
    let maps = String::from_utf8_lossy(&exec.stdout);
    assert!(maps.lines().all(|l| l.split_whitespace().nth(1) == Some("interleave=static:0")), "exec's numa_maps:\n{maps}");

    // A node this host does not have is refused before anything exists.
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "7"});
    b.save();
    let out = rt.run(&["create", "--bundle", b.arg(), &unique("mempol")]);
    assert!(!out.status.success(), "node 7 accepted");
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux.memoryPolicy.nodes"), "{}", text(&out));
}

/// A host directory with a file owned by 1000:1000 (and one by 0:0), for idmapped mounts.
fn owned_tree() -> TempDir {
    let d = TempDir::new("idmap-src");
    std::fs::write(d.path().join("user"), "u").unwrap();
    std::fs::write(d.path().join("root"), "r").unwrap();
    std::os::unix::fs::chown(d.path().join("user"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::chown(d.path().join("root"), Some(0), Some(0)).unwrap();
    std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    d
}

fn stat_owners(out: &str) -> Vec<String> {
    out.lines().filter(|l| l.starts_with('=')).map(str::to_string).collect()
}

#[test]
fn idmapped_mount_without_a_user_namespace() {
    if !require_root() {
        return;
    }
    let src = owned_tree();
    let mut b = Bundle::sh("stat -c =%u:%g= /idm/user /idm/root; touch /idm/new && stat -c =%u:%g= /idm/new");
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/idm", "type": "bind", "source": src.path(), "options": ["bind"],
        "uidMappings": [{"containerID": 1000, "hostID": 2000, "size": 1}, {"containerID": 0, "hostID": 0, "size": 1}],
        "gidMappings": [{"containerID": 1000, "hostID": 3000, "size": 1}, {"containerID": 0, "hostID": 0, "size": 1}]
    }));
    b.save();
    let out = Runtime::new().run_ok(&b);
    // On disk 1000 is seen as 2000/3000; a file made through the mount by root (0) lands as 0.
    assert_eq!(stat_owners(&out), ["=2000:3000=", "=0:0=", "=0:0="], "{out}");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(src.path().join("user")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1000), "the host's file changed owner");
    // Only the mount is mapped: the host sees its own ids.
    let m = std::fs::metadata(src.path().join("new")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
}

#[test]
fn idmapped_mount_in_a_user_namespace_explicit_and_implied() {
    if !require_root() {
        return;
    }
    let src = owned_tree();
    let mut b = Bundle::sh("stat -c =%u:%g= /explicit/user /implied/user /implied/root; id -u");
    // The rootfs belongs to the host's root, whom the container's namespace does not map: the
    // mount points are made here.
    for d in ["explicit", "implied"] {
        std::fs::create_dir(b.rootfs().join(d)).unwrap();
    }
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    // Explicit: on-disk 1000 -> host 100005, which the container's namespace shows as 5.
    mounts.push(json!({
        "destination": "/explicit", "type": "bind", "source": src.path(), "options": ["bind"],
        "uidMappings": [{"containerID": 1000, "hostID": 100005, "size": 1}],
        "gidMappings": [{"containerID": 1000, "hostID": 100006, "size": 1}]
    }));
    // `idmap` alone: the container's own mappings, so on-disk ids are seen unchanged inside.
    mounts.push(json!({"destination": "/implied", "type": "bind", "source": src.path(), "options": ["bind", "idmap"]}));
    b.save();
    let out = Runtime::new().run_ok(&b);
    assert_eq!(stat_owners(&out), ["=5:6=", "=1000:1000=", "=0:0="], "{out}");
}
