//! Rootless containers: hull run by an ordinary user, as rootless podman runs runc.
//!
//! The tests run as root (as CI does) and make what a rootless setup has: an unprivileged user
//! (`hullrootless`, with subordinate id ranges in /etc/subuid and /etc/subgid) and a second one
//! (`hullrootless2`, none), made once and kept (idempotent, under a lock file, so test processes
//! running in parallel do not race). Each test builds a bundle owned by the user, with the config
//! `hull spec --rootless` writes when run as that user, and runs hull as that user (uid, gid, no
//! supplementary groups; XDG_RUNTIME_DIR a 0700 directory of its own, so hull's default root is
//! `$XDG_RUNTIME_DIR/hull`). The checks are made from inside the container and on the host.
//!
//! `start_is_reliable` guards against an id-map race once seen here (the init turned itself
//! non-dumpable before an unprivileged hull wrote its id maps); the tests find exec'd processes
//! on the host by their command line.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::rootless::*;
use common::{
    cgroup_hierarchies, cgroup_v2_only, check_messages, hull_bin, own_cgroup, pid_ended, poll, require_root, unique, Bundle, TempDir,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn spec_rootless_as_the_user_maps_its_own_ids() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_bundle(u, &["true"]);
    let c = &b.config;
    assert_eq!(c["linux"]["uidMappings"], json!([{"containerID": 0, "hostID": u.uid, "size": 1}]), "{c}");
    assert_eq!(c["linux"]["gidMappings"], json!([{"containerID": 0, "hostID": u.gid, "size": 1}]), "{c}");
    let ns: Vec<&str> = c["linux"]["namespaces"].as_array().unwrap().iter().filter_map(|n| n["type"].as_str()).collect();
    assert!(ns.contains(&"user") && ns.contains(&"mount") && ns.contains(&"pid"), "namespaces: {ns:?}");
    assert!(!ns.contains(&"network"), "a rootless config has no network namespace: {ns:?}");
    let sys = c["mounts"].as_array().unwrap().iter().find(|m| m["destination"] == "/sys").expect("a /sys mount");
    assert_eq!(sys["source"], "/sys", "/sys is bound from the host: {sys}");
    assert!(sys["options"].as_array().unwrap().iter().any(|o| o == "rbind"), "/sys by rbind: {sys}");
    assert!(c["linux"]["resources"].is_null(), "no cgroup resources in a rootless config: {}", c["linux"]["resources"]);
    let owner = std::fs::metadata(b.path().join("config.json")).unwrap().uid();
    assert_eq!(owner, u.uid, "config.json is written by the user");
}

#[test]
fn lifecycle_as_the_user() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_bundle(u, &["sleep", "1000"]);
    let h = UserHull::main();
    let id = unique("rl-life");

    h.create(&b, &id);
    let st = h.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().expect("pid");
    assert!(pid > 0, "{st}");
    // The init belongs to the user on the host, and lives in a user namespace of its own whose
    // map (seen from the host) is the user's id as 0.
    assert_eq!(status_ids(pid, "Uid:"), vec![u.uid; 4], "host uids of the init");
    assert_eq!(status_ids(pid, "Gid:"), vec![u.gid; 4], "host gids of the init");
    assert_ne!(user_ns(&pid.to_string()), user_ns("self"), "the init is in a user namespace of its own");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(map_lines(&map), vec![vec![0, u64::from(u.uid), 1]], "uid_map of the init: {map}");

    // State under $XDG_RUNTIME_DIR/hull, only the user's.
    let root = h.xdg.path().join(runtime_name());
    for d in [root.clone(), root.join(&id)] {
        let m = std::fs::metadata(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        assert_eq!(m.mode() & 0o777, 0o700, "{} mode {:o}", d.display(), m.mode());
        assert_eq!((m.uid(), m.gid()), (u.uid, u.gid), "{} owner", d.display());
    }
    let state_json = root.join(&id).join("state.json");
    let m = std::fs::metadata(&state_json).expect("state.json under the user's root");
    assert_eq!(m.uid(), u.uid, "state.json owner");
    assert_eq!(m.mode() & 0o077, 0, "state.json is readable by the user only: {:o}", m.mode());

    // list: the container, owned by the user (by name).
    let list: serde_json::Value = serde_json::from_str(&h.ok(&["list", "-f", "json"])).expect("list JSON");
    let entry =
        list.as_array().and_then(|a| a.iter().find(|c| c["id"] == id.as_str())).unwrap_or_else(|| panic!("{id} not listed: {list}"));
    assert_eq!(entry["owner"], u.name.as_str(), "{entry}");
    assert_eq!(entry["status"], "created", "{entry}");
    assert_eq!(entry["pid"], pid, "{entry}");
    let table = h.ok(&["list"]);
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap_or_else(|| panic!("no row for {id}: {table}"));
    assert!(row.split_whitespace().last() == Some(u.name.as_str()), "OWNER column: {row}");

    h.ok(&["start", &id]);
    assert!(h.wait_status(&id, "running"), "not running after start: {:?}", h.status(&id));
    assert_eq!(h.pid(&id), pid, "the same init after start");
    assert_eq!(status_ids(pid, "Uid:"), vec![u.uid; 4], "host uids of the running process");

    h.ok(&["kill", &id, "KILL"]);
    assert!(h.wait_status(&id, "stopped"), "not stopped after kill: {:?}", h.status(&id));
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "init {pid} still alive after kill");

    h.ok(&["delete", &id]);
    assert!(!root.join(&id).exists(), "state directory left after delete");
    let gone = h.run(&["state", &id]);
    assert!(!gone.success(), "state after delete succeeded: {}", gone.describe());
    if check_messages() {
        assert!(gone.text().contains("does not exist"), "state of a deleted container: {}", gone.describe());
    }
    // Nothing went to the privileged default root.
    assert!(!Path::new("/run/hull").join(&id).exists(), "the user's container was recorded under /run/hull");
}

#[test]
fn time_offsets_and_loopback_as_the_user() {
    if !require_root() {
        return;
    }
    // An unprivileged hull writes the offsets of a time namespace owned by the container's
    // user namespace (which it owns), and the init brings up its own lo.
    let u = &users().main;
    let mut b = user_sh(u, "cat /proc/uptime; cat /proc/self/timens_offsets; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags");
    b.config["linux"]["namespaces"].as_array_mut().expect("namespaces").push(json!({"type": "time"}));
    if !b.config["linux"]["namespaces"].as_array().expect("namespaces").iter().any(|n| n["type"] == "network") {
        b.config["linux"]["namespaces"].as_array_mut().expect("namespaces").push(json!({"type": "network"}));
    }
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1_000_000}});
    b.save();
    let before: f64 = std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let out = UserHull::main().run_ok(&b);
    let inside: f64 = out.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("uptime inside: {out}"));
    assert!(inside >= before + 1_000_000.0, "uptime inside {inside}, host before {before}:\n{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["boottime", "1000000", "0"]), "{out}");
    // IFF_UP is bit 0 of the flags.
    let flags = out.lines().find(|l| l.starts_with("0x")).unwrap_or_else(|| panic!("lo flags: {out}"));
    assert!(u32::from_str_radix(&flags[2..], 16).unwrap_or(0) & 1 == 1, "lo is not up: {out}");
}

#[test]
fn run_as_the_user_is_root_inside_with_the_users_id_mapped() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_sh(u, "id; cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups");
    let h = UserHull::main();
    let out = h.run_ok(&b);
    let mut parts = out.split("--\n");
    let (id_and_uid, gid, setgroups) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut lines = id_and_uid.lines();
    let id_line = lines.next().unwrap_or("");
    assert!(id_line.starts_with("uid=0") && id_line.contains("gid=0"), "id inside: {out}");
    let uid_map: String = lines.map(|l| format!("{l}\n")).collect();
    assert_eq!(map_lines(&uid_map), vec![vec![0, u64::from(u.uid), 1]], "uid_map inside: {out}");
    assert_eq!(map_lines(gid), vec![vec![0, u64::from(u.gid), 1]], "gid_map inside: {out}");
    // The user's own gid alone can only be mapped with setgroups denied.
    assert_eq!(setgroups.trim(), "deny", "setgroups inside: {out}");
}

#[test]
fn exec_as_the_user_joins_the_containers_user_namespace() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_bundle(u, &["sleep", "1000"]);
    let h = UserHull::main();
    let id = unique("rl-exec");
    h.run_detached(&b, &id);
    let init = h.pid(&id);

    let out = h.ok(&["exec", &id, "id"]);
    assert!(out.starts_with("uid=0") && out.contains("gid=0"), "id through exec: {out}");
    let inside = h.ok(&["exec", &id, "readlink", "/proc/self/ns/user"]);
    assert_eq!(inside.trim(), user_ns(&init.to_string()), "exec's user namespace (seen inside) is the init's");
    let map = h.ok(&["exec", &id, "cat", "/proc/self/uid_map"]);
    assert_eq!(map_lines(&map), vec![vec![0, u64::from(u.uid), 1]], "uid_map through exec: {map}");

    // A detached exec: the host sees it in the init's user namespace, owned by the user. (Found
    // by its command line, not --pid-file: see exec_pid_and_exit_status_are_the_processs.)
    h.ok(&["exec", "-d", &id, "sleep", "999"]);
    let epid = container_process(init, &["sleep", "999"]);
    assert_eq!(user_ns(&epid.to_string()), user_ns(&init.to_string()), "exec'd process in the container's user namespace");
    assert_ne!(user_ns(&epid.to_string()), user_ns("self"), "exec'd process not in the host's user namespace");
    for ns in ["pid", "mnt", "ipc", "uts"] {
        let a = std::fs::read_link(format!("/proc/{epid}/ns/{ns}")).unwrap();
        let b = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        assert_eq!(a, b, "{ns} namespace of the exec'd process");
    }
    assert_eq!(status_ids(epid, "Uid:"), vec![u.uid; 4], "host uids of the exec'd process");
    h.ok(&["delete", "--force", &id]);
    assert!(poll(T, || pid_ended(epid).then_some(())).is_some(), "exec'd process {epid} outlived delete --force");
}

#[test]
fn ps_as_the_user_lists_the_init_and_an_exec() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_bundle(u, &["sleep", "1000"]);
    let h = UserHull::main();
    let id = unique("rl-ps");
    h.run_detached(&b, &id);
    let init = h.pid(&id);
    h.ok(&["exec", "-d", &id, "sleep", "999"]);
    // Once it has exec'd (it is listed from then on; --pid-file is not trusted, see
    // exec_pid_and_exit_status_are_the_processs).
    let epid = container_process(init, &["sleep", "999"]);

    let json_out = h.ok(&["ps", "-f", "json", &id]);
    let mut pids: Vec<i64> = serde_json::from_str(&json_out).unwrap_or_else(|e| panic!("ps -f json: {e}: {json_out}"));
    pids.sort_unstable();
    let mut want = vec![init, epid];
    want.sort_unstable();
    assert_eq!(pids, want, "ps -f json lists the init and the exec'd process");

    let table = h.ok(&["ps", &id]);
    let header = table.lines().next().unwrap_or("");
    assert!(header.contains("PID") && header.contains("CMD"), "ps table header: {table}");
    for p in [init, epid] {
        assert!(
            table.lines().skip(1).any(|l| l.split_whitespace().nth(1) == Some(p.to_string().as_str())),
            "pid {p} not in the ps table:\n{table}"
        );
    }
    assert!(table.contains("sleep 1000") && table.contains("sleep 999"), "ps table commands:\n{table}");
}

#[test]
fn multi_range_maps_go_through_newuidmap() {
    if !require_root() {
        return;
    }
    let us = users();
    let u = &us.main;
    let (sub_u, sub_g) = (us.subuid.0, us.subgid.0);
    assert!(us.subuid.1 >= 1000 && us.subgid.1 >= 1000, "the test needs at least 1000 subordinate ids");
    let mut b = user_sh(
        u,
        "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
         touch /tmp/f && chown 1000:1000 /tmp/f && stat -c '%u:%g' /tmp/f",
    );
    b.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": u.uid, "size": 1}, {"containerID": 1, "hostID": sub_u, "size": us.subuid.1}]);
    b.config["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": u.gid, "size": 1}, {"containerID": 1, "hostID": sub_g, "size": us.subgid.1}]);
    // Writes into the rootfs, which the host then looks at; chown needs CAP_CHOWN (in the
    // container's user namespace only).
    b.config["root"]["readonly"] = json!(false);
    add_caps(&mut b, &["CAP_CHOWN"]);
    b.save();
    let h = UserHull::main();
    let out = h.run_ok(&b);
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts.len(), 3, "output: {out}");
    assert_eq!(
        map_lines(parts[0]),
        vec![vec![0, u64::from(u.uid), 1], vec![1, u64::from(sub_u), u64::from(us.subuid.1)]],
        "uid_map inside: {out}"
    );
    assert_eq!(
        map_lines(parts[1]),
        vec![vec![0, u64::from(u.gid), 1], vec![1, u64::from(sub_g), u64::from(us.subgid.1)]],
        "gid_map inside: {out}"
    );
    assert_eq!(parts[2].trim(), "1000:1000", "owner inside after chown: {out}");
    let m = std::fs::metadata(b.rootfs().join("tmp/f")).expect("the file the container made");
    assert_eq!((m.uid(), m.gid()), (sub_u + 999, sub_g + 999), "host owner of a file chowned to 1000:1000 inside");
}

#[test]
fn mapping_outside_the_subordinate_ranges_is_refused_leaving_nothing() {
    if !require_root() {
        return;
    }
    let us = users();
    let u = &us.main;
    // Past the end of the user's range (and, with the defaults, of anyone's).
    let outside = (us.subuid.0.max(us.subgid.0) + us.subuid.1.max(us.subgid.1)).saturating_add(1_000_000);
    for (field, helper, own) in [("uidMappings", "newuidmap", u.uid), ("gidMappings", "newgidmap", u.gid)] {
        let mut b = user_bundle(u, &["true"]);
        b.config["linux"][field] =
            json!([{"containerID": 0, "hostID": own, "size": 1}, {"containerID": 1, "hostID": outside, "size": 100}]);
        b.save();
        let h = UserHull::main();
        let id = unique("rl-outside");
        let o = h.start_cmd(&["create", "--bundle", b.arg(), &id]);
        assert!(!o.success(), "a {field} range outside /etc/sub?id was accepted: {}", o.describe());
        if check_messages() {
            let text = o.text();
            assert!(text.contains(&format!("linux.{field}")) && text.contains(helper), "message for a refused {field}: {}", o.describe());
        }
        h.assert_nothing_left(&id);
    }
}

#[test]
fn missing_newuidmap_is_refused_naming_the_helper() {
    if !require_root() {
        return;
    }
    let us = users();
    let u = &us.main;
    let mut b = user_bundle(u, &["true"]);
    b.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": u.uid, "size": 1}, {"containerID": 1, "hostID": us.subuid.0, "size": us.subuid.1}]);
    b.save();
    let h = UserHull::main();
    let id = unique("rl-nohelper");
    // hull finds the helper through PATH: an empty one is a host without uidmap.
    let mut c = h.cmd();
    c.env("PATH", "/nonexistent").args(["create", "--bundle", b.arg(), &id]);
    let o = run_command(c);
    assert!(!o.success(), "create without newuidmap succeeded: {}", o.describe());
    if check_messages() {
        let text = o.text();
        assert!(text.contains("linux.uidMappings") && text.contains("newuidmap") && text.contains("uidmap"), "{}", o.describe());
    }
    h.assert_nothing_left(&id);
}

#[test]
fn limits_without_a_delegated_cgroup_are_refused_leaving_nothing() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    for (field, resources) in [
        ("linux.resources.memory", json!({"memory": {"limit": 67108864}})),
        ("linux.resources.pids", json!({"pids": {"limit": 10}})),
        ("linux.resources.cpu", json!({"cpu": {"shares": 512}})),
    ] {
        let mut b = user_bundle(u, &["true"]);
        b.config["linux"]["resources"] = resources;
        b.save();
        let h = UserHull::main();
        let id = unique("rl-limit");
        let o = h.start_cmd(&["create", "--bundle", b.arg(), &id]);
        assert!(!o.success(), "{field} without a delegated cgroup was accepted: {}", o.describe());
        if check_messages() {
            assert!(o.text().contains(field), "message for {field}: {}", o.describe());
        }
        h.assert_nothing_left(&id);
        for hier in cgroup_hierarchies() {
            for dir in [hier.join(&id), hier.join(own_cgroup(&hier).trim_start_matches('/')).join(&id)] {
                assert!(!dir.exists(), "cgroup {} left by a refused create", dir.display());
            }
        }
    }
}

/// A cgroup directory on the host owned by the user, as systemd's Delegate= gives one: the
/// user may write it, so only the runtime's mounts keep the container from it. Removed on drop.
struct DelegatedCgroup(PathBuf);

impl DelegatedCgroup {
    fn new(u: &TestUser) -> DelegatedCgroup {
        let base = if cgroup_v2_only() { PathBuf::from("/sys/fs/cgroup") } else { PathBuf::from("/sys/fs/cgroup/pids") };
        let dir = base.join(unique("hull-rl-deleg"));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let d = DelegatedCgroup(dir);
        std::os::unix::fs::chown(&d.0, Some(u.uid), Some(u.gid)).unwrap();
        for f in ["cgroup.procs", "tasks", "cgroup.subtree_control", "cgroup.threads"] {
            let p = d.0.join(f);
            if p.exists() {
                std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        d
    }
}

impl Drop for DelegatedCgroup {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir(&self.0) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn cgroupfs_is_not_writable_inside_cve_2023_25809() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let deleg = DelegatedCgroup::new(u);
    // The user itself can write there on the host: the container (root = the user) must not.
    let probe = deleg.0.join("userprobe");
    let mut c = user_command(u, Path::new("/bin/mkdir"), Path::new("/"));
    c.arg(&probe);
    let o = run_command(c);
    assert!(o.success(), "the user cannot write its delegated cgroup on the host: {}", o.describe());
    std::fs::remove_dir(&probe).unwrap();

    // The same path inside: /sys is the host's, bound.
    let inside = deleg.0.to_str().unwrap();
    let script = format!(
        "grep ' /sys/fs/cgroup ' /proc/self/mountinfo | tail -n 1 | cut -d' ' -f6; \
         for d in /sys/fs/cgroup /sys/fs/cgroup/* {inside}; do \
           mkdir \"$d/hullx\" 2>/dev/null && echo \"MKDIR_OK $d\"; \
           echo $$ 2>/dev/null > \"$d/cgroup.procs\" && echo \"PROCS_OK $d\"; \
           echo $$ 2>/dev/null > \"$d/tasks\" && echo \"TASKS_OK $d\"; \
         done; \
         umount /sys/fs/cgroup 2>/dev/null && echo UMOUNT_OK; \
         mkdir {inside}/hully 2>/dev/null && echo \"MKDIR_OK after umount\"; \
         echo $$ 2>/dev/null > {inside}/cgroup.procs && echo \"PROCS_OK after umount\"; \
         echo done"
    );
    let b = user_sh(u, &script);
    b.add_applets(&["umount"]);
    let h = UserHull::main();
    let out = h.run_ok(&b);
    assert!(out.contains("done"), "script did not finish: {out}");
    let flags = out.lines().next().unwrap_or("");
    assert!(flags.split(',').any(|f| f == "ro"), "the top mount on /sys/fs/cgroup is not read-only: {flags:?}\n{out}");
    for bad in ["MKDIR_OK", "PROCS_OK", "TASKS_OK", "UMOUNT_OK"] {
        assert!(!out.contains(bad), "the container could write the cgroup filesystem ({bad}):\n{out}");
    }
    // On the host, nothing changed in the delegated cgroup.
    assert!(!deleg.0.join("hullx").exists() && !deleg.0.join("hully").exists(), "the container made a cgroup on the host");
    let procs = std::fs::read_to_string(deleg.0.join("cgroup.procs")).unwrap_or_default();
    assert!(procs.trim().is_empty(), "the container moved processes into the host cgroup: {procs}");
    for hier in cgroup_hierarchies() {
        assert!(!hier.join("hullx").exists(), "the container made {}", hier.join("hullx").display());
    }
}

#[test]
fn devices_are_bound_from_the_host_and_work() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let script = "for d in null zero full tty random urandom kmsg; do stat -c \"$d %F %t:%T\" /dev/$d; done; \
                  echo x > /dev/null && echo NULL_WRITE_OK; \
                  head -c1 /dev/zero | wc -c; \
                  head -c8 /dev/urandom | wc -c; \
                  (echo x > /dev/full) 2>/dev/null || echo FULL_REFUSED";
    let mut b = user_sh(u, script);
    // /dev/kmsg is not a default device: it comes from linux.devices (bound from the host's).
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 420, "uid": 0, "gid": 0}]);
    b.save();
    let h = UserHull::main();
    let out = h.run_ok(&b);
    for (name, num) in
        [("null", "1:3"), ("zero", "1:5"), ("full", "1:7"), ("tty", "5:0"), ("random", "1:8"), ("urandom", "1:9"), ("kmsg", "1:b")]
    {
        let want = format!("{name} character special file {num}");
        assert!(out.lines().any(|l| l == want), "expected {want:?} in:\n{out}");
    }
    assert!(out.contains("NULL_WRITE_OK"), "/dev/null not writable: {out}");
    assert!(out.contains("FULL_REFUSED"), "/dev/full accepted a write: {out}");
    let counts: Vec<&str> = out.lines().filter(|l| l.trim().chars().all(|c| c.is_ascii_digit()) && !l.trim().is_empty()).collect();
    assert_eq!(counts.iter().map(|c| c.trim()).collect::<Vec<_>>(), vec!["1", "8"], "bytes read from /dev/zero, /dev/urandom:\n{out}");
}

/// A device the host does not have cannot be bound: the create is refused and leaves nothing.
#[test]
fn device_missing_on_the_host_is_refused_leaving_nothing() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let mut b = user_bundle(u, &["true"]);
    b.config["linux"]["devices"] = json!([{"path": "/dev/hull-no-such-device", "type": "c", "major": 1, "minor": 3}]);
    b.save();
    let h = UserHull::main();
    let id = unique("rl-nodev");
    let o = h.start_cmd(&["create", "--bundle", b.arg(), &id]);
    assert!(!o.success(), "a device missing on the host was accepted: {}", o.describe());
    if check_messages() {
        assert!(o.text().contains("/dev/hull-no-such-device"), "{}", o.describe());
    }
    h.assert_nothing_left(&id);
}

#[test]
fn device_missing_on_the_host_error_names_the_field() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let mut b = user_bundle(u, &["true"]);
    b.config["linux"]["devices"] = json!([{"path": "/dev/hull-no-such-device", "type": "c", "major": 1, "minor": 3}]);
    b.save();
    let h = UserHull::main();
    let o = h.start_cmd(&["create", "--bundle", b.arg(), &unique("rl-nodev")]);
    assert!(!o.success(), "{}", o.describe());
    assert!(o.text().contains("linux.devices[0]"), "the error does not name the field: {}", o.describe());
}

#[test]
fn device_whose_numbers_differ_from_the_hosts_is_refused() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    // The host's /dev/kmsg is char 1:11; the config asks for block 1:3 there. A rootless
    // runtime can only bind what the host has, so it cannot give what is asked for.
    let mut b = user_sh(u, "stat -c '%F %t:%T' /dev/kmsg");
    b.config["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "b", "major": 1, "minor": 3}]);
    b.save();
    let h = UserHull::main();
    let o = h.run_bundle(&b);
    assert!(!o.success(), "the container got another device than configured: {}", o.describe());
    assert!(o.text().contains("linux.devices[0]"), "{}", o.describe());
}

/// A host mount with flags the container's user namespace cannot clear (ro, nosuid, nodev,
/// noexec are locked on a mount copied into a less privileged mount namespace). Unmounted on drop.
struct LockedMount(TempDir);

impl LockedMount {
    fn new() -> LockedMount {
        let d = TempDir::new("rl-locked");
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,nosuid,nodev,noexec,size=1m", "hull-rl-locked"])
            .arg(d.path())
            .output()
            .expect("spawn mount");
        assert!(o.status.success(), "mount tmpfs: {}", String::from_utf8_lossy(&o.stderr));
        LockedMount(d)
    }
}

impl Drop for LockedMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn locked_mount_flags_are_kept_on_bind_mounts() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let src = LockedMount::new();
    let mut b = user_sh(u, "grep -E ' /mnt/(a|b) ' /proc/self/mountinfo | cut -d' ' -f5,6");
    let src_path = src.0.path().to_str().unwrap();
    // Options that make a runtime remount the bind, without asking to clear a locked flag.
    b.config["mounts"].as_array_mut().unwrap().extend([
        json!({"destination": "/mnt/a", "type": "bind", "source": src_path, "options": ["bind", "nosuid"]}),
        json!({"destination": "/mnt/b", "type": "bind", "source": src_path, "options": ["rbind", "ro", "nodev"]}),
    ]);
    b.save();
    std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    chown_tree(&b.rootfs().join("mnt"), u.uid, u.gid);
    let h = UserHull::main();
    let out = h.run_ok(&b);
    for dest in ["/mnt/a", "/mnt/b"] {
        let line = out.lines().find(|l| l.split(' ').next() == Some(dest)).unwrap_or_else(|| panic!("{dest} not mounted:\n{out}"));
        let flags: Vec<&str> = line.split(' ').nth(1).unwrap_or("").split(',').collect();
        for f in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(flags.contains(&f), "{dest} lost the locked flag {f}: {line}");
        }
    }
}

#[test]
fn another_user_cannot_see_or_touch_the_container() {
    if !require_root() {
        return;
    }
    let us = users();
    let b = user_bundle(&us.main, &["sleep", "1000"]);
    let h = UserHull::main();
    let id = unique("rl-other");
    h.run_detached(&b, &id);
    let pid = h.pid(&id);

    let mut other = UserHull::new(&us.other);
    other.root = Some(h.state_root());
    for args in [
        vec!["state", id.as_str()],
        vec!["kill", id.as_str(), "KILL"],
        vec!["kill", "--all", id.as_str(), "KILL"],
        vec!["delete", id.as_str()],
        vec!["ps", id.as_str()],
        vec!["exec", id.as_str(), "id"],
        vec!["pause", id.as_str()],
    ] {
        let o = other.run(&args);
        assert!(!o.success(), "{} could run {args:?} on {}'s container: {}", us.other.name, us.main.name, o.describe());
        if check_messages() {
            let text = o.text();
            assert!(text.contains("Permission denied") || text.contains("does not exist"), "{args:?}: unclear error: {}", o.describe());
        }
        // Nothing changed.
        assert_eq!(h.status(&id).as_deref(), Some("running"), "after {args:?} by {}", us.other.name);
        assert_eq!(h.pid(&id), pid, "after {args:?} by {}", us.other.name);
        assert!(!pid_ended(pid), "the init died after {args:?} by {}", us.other.name);
    }
    // list does not show it either.
    let o = other.run(&["list", "-q"]);
    assert!(!o.stdout.contains(&id), "{} lists {}'s container: {}", us.other.name, us.main.name, o.describe());
    // Its own root (the default) does not have it.
    other.root = None;
    let o = other.run(&["state", &id]);
    assert!(!o.success(), "state in the other user's own root: {}", o.describe());
    assert!(h.state_root().join(&id).exists());
    drop(other);
    assert_eq!(h.status(&id).as_deref(), Some("running"));
}

#[test]
fn another_users_delete_force_fails() {
    if !require_root() {
        return;
    }
    let us = users();
    let b = user_bundle(&us.main, &["sleep", "1000"]);
    let h = UserHull::main();
    let id = unique("rl-otherdel");
    h.run_detached(&b, &id);
    let pid = h.pid(&id);
    let mut other = UserHull::new(&us.other);
    other.root = Some(h.state_root());
    let o = other.run(&["delete", "--force", &id]);
    let still = h.status(&id);
    other.root = None;
    assert_eq!(still.as_deref(), Some("running"));
    assert_eq!(h.pid(&id), pid);
    assert!(!o.success(), "delete --force of a container it cannot see reported success: {}", o.describe());
    if check_messages() {
        assert!(o.text().contains("Permission denied"), "{}", o.describe());
    }
}

#[test]
fn start_is_reliable() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_bundle(u, &["true"]);
    let h = UserHull::main();
    let mut failures = Vec::new();
    for _ in 0..20 {
        let id = unique("rl-rel");
        let o = h.run(&["run", "--bundle", b.arg(), &id]);
        if !o.success() {
            failures.push(o.stderr.trim().to_string());
        }
        let _ = h.run(&["delete", "--force", &id]);
    }
    assert!(failures.is_empty(), "{} of 20 runs failed: {failures:#?}", failures.len());
}

#[test]
fn exec_pid_and_exit_status_are_the_processs() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let b = user_bundle(u, &["sleep", "1000"]);
    let h = UserHull::main();
    let id = unique("rl-execrace");
    h.run_detached(&b, &id);
    // Many execs at once (the race needs a busy machine): each exits 3 and records its pid.
    let problems: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..6)
            .map(|w| {
                let (h, id) = (&h, &id);
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for i in 0..15 {
                        let o = h.run(&["exec", id, "sh", "-c", "exit 3"]);
                        if o.status.and_then(|s| s.code()) != Some(3) {
                            bad.push(format!("exec exit 3 gave {}", o.describe()));
                        }
                        let pid_file = h.xdg.path().join(format!("p-{w}-{i}"));
                        let arg = format!("{}", 7000 + w * 100 + i);
                        let o = h.run(&["exec", "-d", "--pid-file", pid_file.to_str().unwrap(), id, "sleep", &arg]);
                        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
                        // The process may not have exec'd yet when exec -d returns: wait for it.
                        let want = format!("sleep\0{arg}\0");
                        let cmdline = || std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
                        if !o.success() || poll(T, || (cmdline() == want.as_bytes()).then_some(())).is_none() {
                            bad.push(format!("exec -d --pid-file: pid {pid:?} runs {:?}", String::from_utf8_lossy(&cmdline())));
                        }
                    }
                    bad
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(problems.is_empty(), "{} of 180 execs wrong:\n{}", problems.len(), problems.join("\n"));
}

/// `unshare -r` (util-linux): a user namespace where the caller is root.
fn unshare() -> PathBuf {
    find_in_path("unshare").expect("unshare (util-linux) not found")
}

#[test]
fn rootless_auto_inside_unshare_as_the_user() {
    if !require_root() {
        return;
    }
    let u = &users().main;
    let h = UserHull::main();
    // As the user, in a user namespace of its own where it is root: `spec --rootless` maps that
    // root (uid 0 there), and hull detects rootless by itself.
    let mut b = user_bundle(u, &["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    let unshared = |args: &[&str]| {
        let mut c = user_command(u, &unshare(), h.xdg.path());
        c.arg("-r").arg(hull_bin()).args(args);
        run_command(c)
    };
    let o = unshared(&["spec", "--rootless", "--bundle", b.arg()]);
    assert!(o.success(), "spec --rootless under unshare -r: {}", o.describe());
    b.config = serde_json::from_str(&std::fs::read_to_string(b.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(
        b.config["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": 0, "size": 1}]),
        "root of the unshare namespace mapped"
    );
    assert_eq!(b.config["linux"]["gidMappings"], json!([{"containerID": 0, "hostID": 0, "size": 1}]));
    b.config["process"]["terminal"] = json!(false);
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.save();

    let id = unique("rl-unshare");
    // USER is the user's name, so the default root is $XDG_RUNTIME_DIR/hull (runc's rule).
    let o = unshared(&["--rootless=auto", "run", "-d", "--bundle", b.arg(), &id]);
    assert!(o.success(), "run -d under unshare -r: {}", o.describe());
    assert!(
        h.xdg.path().join(runtime_name()).join(&id).join("state.json").exists(),
        "state not under $XDG_RUNTIME_DIR/hull: {:?}",
        h.ids_on_disk()
    );
    let o = unshared(&["state", &id]);
    assert!(o.success(), "state under unshare -r: {}", o.describe());
    let st: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(st["status"], "running", "{st}");
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(status_ids(pid, "Uid:"), vec![u.uid; 4], "the init belongs to the user on the host");
    // Seen from the host, the container's map goes through the unshare namespace to the user.
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(map_lines(&map), vec![vec![0, u64::from(u.uid), 1]], "host view of the container's uid_map");
    // The same user outside unshare sees the same container.
    assert_eq!(h.status(&id).as_deref(), Some("running"));
    let o = unshared(&["kill", &id, "KILL"]);
    assert!(o.success(), "kill under unshare -r: {}", o.describe());
    assert!(h.wait_status(&id, "stopped"), "not stopped: {:?}", h.status(&id));
    let o = unshared(&["delete", &id]);
    assert!(o.success(), "delete under unshare -r: {}", o.describe());
    assert!(h.ids_on_disk().is_empty(), "left: {:?}", h.ids_on_disk());
}

#[test]
fn rootless_auto_inside_unshare_as_root() {
    if !require_root() {
        return;
    }
    users();
    // Root's own XDG_RUNTIME_DIR, and USER not root: runc's rule picks $XDG_RUNTIME_DIR/hull.
    let xdg = TempDir::new("rl-rootxdg");
    std::fs::set_permissions(xdg.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    let unshared = |args: &[&str]| {
        let mut c = Command::new(unshare());
        c.arg("-r")
            .arg(hull_bin())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("USER", MAIN_USER)
            .env("HOME", xdg.path())
            .env("XDG_RUNTIME_DIR", xdg.path());
        run_command(c)
    };
    let o = unshared(&["spec", "--rootless", "--bundle", b.arg()]);
    assert!(o.success(), "{}", o.describe());
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(b.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["linux"]["uidMappings"], json!([{"containerID": 0, "hostID": 0, "size": 1}]));
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sh", "-c", "id; cat /proc/self/uid_map"]);
    std::fs::write(b.path().join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let id = unique("rl-rootunshare");
    let o = unshared(&["--rootless=auto", "run", "--bundle", b.arg(), &id]);
    let root = xdg.path().join(runtime_name());
    let _ = Command::new(hull_bin()).arg("--root").arg(&root).args(["delete", "--force", &id]).output();
    assert!(o.success(), "run as root under unshare -r: {}", o.describe());
    assert!(o.stdout.starts_with("uid=0"), "{}", o.describe());
    assert_eq!(map_lines(o.stdout.lines().skip(1).collect::<Vec<_>>().join("\n").as_str()), vec![vec![0, 0, 1]], "{}", o.describe());
    assert!(root.is_dir(), "the default root is not $XDG_RUNTIME_DIR/hull");
}

#[test]
fn rootless_flag_takes_a_separate_value_as_runc() {
    if !require_root() {
        return;
    }
    let h = UserHull::main();
    for v in ["auto", "true", "false"] {
        let o = h.run(&["--rootless", v, "list"]);
        assert!(o.success(), "--rootless {v} list: {}", o.describe());
    }
}
