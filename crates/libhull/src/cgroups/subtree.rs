//! cgroup v2 delegation: a controller is usable in a cgroup only when every ancestor lists it
//! in `cgroup.subtree_control`. As runc and crun do, hull enables the controllers a config
//! needs in each ancestor, from the hierarchy's root down to the container's parent, so that a
//! host whose init delegates only what its own units use (systemd enables just "memory pids"
//! at the root after boot) still runs a container with CPU or cpuset limits.
//!
//! Only adding, never removing; a controller already listed is not written again (so a
//! delegated, read-only ancestor of an unprivileged user is fine when it already has it).

use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::CgroupError;

/// The v2 controllers `r` needs, each with the JSON path of the first field that needs it.
pub(super) fn needed(r: &LinuxResources) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |c: &str, field: String| {
        if !out.iter().any(|(have, _)| have == c) {
            out.push((c.to_string(), field));
        }
    };
    if r.pids().is_some() {
        add("pids", "linux.resources.pids.limit".into());
    }
    if let Some(m) = r.memory() {
        let fields = [("limit", m.limit().is_some()), ("reservation", m.reservation().is_some()), ("swap", m.swap().is_some())];
        if let Some((name, _)) = fields.iter().find(|(_, set)| *set) {
            add("memory", format!("linux.resources.memory.{name}"));
        }
    }
    if let Some(c) = r.cpu() {
        let set = |v: Option<u64>| v.is_some_and(|v| v != 0);
        let fields = [
            ("shares", set(c.shares())),
            ("quota", c.quota().is_some_and(|q| q != 0)),
            ("period", set(c.period())),
            ("burst", c.burst().is_some()),
            ("idle", c.idle().is_some()),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, set)| *set) {
            add("cpu", format!("linux.resources.cpu.{name}"));
        }
        for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
            if v.as_deref().is_some_and(|v| !v.is_empty()) {
                add("cpuset", format!("linux.resources.cpu.{name}"));
            }
        }
    }
    if let Some(b) = r.block_io() {
        let set = b.weight().is_some_and(|w| w != 0)
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || [b.throttle_read_bps_device(), b.throttle_write_bps_device(), b.throttle_read_iops_device(), b.throttle_write_iops_device()]
                .iter()
                .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
        if set {
            add("io", "linux.resources.blockIO".into());
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        add("hugetlb", "linux.resources.hugepageLimits".into());
    }
    if r.rdma().as_ref().is_some_and(|h| !h.is_empty()) {
        add("rdma", "linux.resources.rdma".into());
    }
    if let Some(u) = r.unified() {
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            // "memory.high" needs memory; "cgroup.*" files are in every cgroup.
            if let Some((c, _)) = k.split_once('.') {
                if c != "cgroup" && !c.is_empty() {
                    add(c, format!("linux.resources.unified[{k:?}]"));
                }
            }
        }
    }
    out
}

/// The ancestors of `dir` inside its cgroup2 mount, root first (`dir` itself excluded: it
/// holds the container's processes, and v2 enables controllers only for children).
fn ancestors(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        dir.ancestors().skip(1).take_while(|a| a.join("cgroup.controllers").exists()).map(Path::to_path_buf).collect();
    out.reverse();
    out
}

/// Enables every controller `r` needs in each ancestor's `cgroup.subtree_control` of the
/// cgroup `dir`, top-down. An error names the file, the controller, and the field that
/// needed it.
pub(super) fn enable_in_ancestors(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let want = needed(r);
    if want.is_empty() {
        return Ok(());
    }
    for a in ancestors(dir) {
        let path = a.join("cgroup.subtree_control");
        let have = std::fs::read_to_string(&path).map_err(|source| CgroupError::Io { path: path.clone(), source })?;
        let have: Vec<&str> = have.split_whitespace().collect();
        for (c, field) in &want {
            if have.contains(&c.as_str()) {
                continue;
            }
            if let Err(source) = super::write_raw(&path, &format!("+{c}")) {
                let hint = match source.raw_os_error() {
                    Some(libc::ENOENT) => " (the controller is not in that cgroup's cgroup.controllers: its own parent does not offer it)",
                    Some(libc::EBUSY) => {
                        " (that cgroup has processes of its own, and cgroup v2 enables controllers only below cgroups without processes)"
                    }
                    Some(libc::EOPNOTSUPP) => " (a threaded subtree supports only threaded controllers)",
                    _ => "",
                };
                return Err(CgroupError::Enable { path, controller: c.clone(), field: field.clone(), hint, source });
            }
        }
    }
    Ok(())
}

/// Whether an `Enable` failure is the kernel's "no rights" (unprivileged, not delegated).
pub(super) fn denied(source: &io::Error) -> bool {
    matches!(source.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn controllers_a_config_needs() {
        let r = res(serde_json::json!({
            "pids": {"limit": 10},
            "cpu": {"shares": 512, "cpus": "0"},
            "unified": {"memory.high": "1G", "cgroup.max.depth": "3"}
        }));
        let n = needed(&r);
        let names: Vec<&str> = n.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["pids", "cpu", "cpuset", "memory"]);
        assert_eq!(n[1].1, "linux.resources.cpu.shares");
        assert_eq!(n[3].1, "linux.resources.unified[\"memory.high\"]");
        // Unset or zero values ask for nothing.
        assert!(needed(&res(serde_json::json!({"cpu": {"shares": 0, "cpus": ""}, "memory": {}}))).is_empty());
    }

    #[test]
    fn ancestors_stop_at_the_mount() {
        let root = std::env::temp_dir().join(format!("hull-subtree-{}", std::process::id()));
        let leaf = root.join("a/b/c");
        std::fs::create_dir_all(&leaf).unwrap();
        for d in [root.join("a"), root.join("a/b"), leaf.clone()] {
            std::fs::write(d.join("cgroup.controllers"), "").unwrap();
        }
        assert_eq!(ancestors(&leaf), [root.join("a"), root.join("a/b")]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
