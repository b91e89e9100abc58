//! rootless: what changes when hull runs without privileges on the host — as an ordinary user,
//! or as root inside a user namespace (`unshare -r`).
//!
//! The container then always has a user namespace; ids beyond the user's own go through the
//! setuid `newuidmap`/`newgidmap` helpers (subordinate ranges in /etc/subuid, /etc/subgid);
//! devices are bind-mounted instead of made; cgroups are used only where they are delegated.

use std::path::Path;
use std::process::Command;

use oci_spec::runtime::{LinuxIdMapping, LinuxResources};

/// True when hull runs unprivileged: euid is not 0, or it is 0 only inside a user namespace
/// (whose uid_map is not the whole identity map).
pub fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// True when this process is inside a user namespace other than the initial one.
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(m) => parse_id_map(&m) != Ok(vec![IdRange { inside: 0, outside: 0, count: u32::MAX }]),
        Err(_) => false,
    }
}

/// One line of a /proc/<pid>/uid_map or gid_map: `count` ids from `inside` (in the namespace)
/// are `outside` (in the parent namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Parses the text of a uid_map or gid_map: lines of three decimal numbers, ranges that fit in
/// 32-bit ids.
pub fn parse_id_map(text: &str) -> Result<Vec<IdRange>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let num = |s: &str| s.parse::<u32>().map_err(|e| format!("line {}: {s:?}: {e}", n + 1));
        let [a, b, c] = f[..] else { return Err(format!("line {}: {} fields, not 3", n + 1, f.len())) };
        let r = IdRange { inside: num(a)?, outside: num(b)?, count: num(c)? };
        if r.inside.checked_add(r.count).is_none() || r.outside.checked_add(r.count).is_none() {
            return Err(format!("line {}: the range goes past the last id", n + 1));
        }
        out.push(r);
    }
    Ok(out)
}

/// True when the maps name only the caller's own id (mapped once): an unprivileged process
/// may write that itself.
pub fn own_id_only(maps: &[LinuxIdMapping], own: u32) -> bool {
    maps.len() == 1 && maps[0].host_id() == own && maps[0].size() == 1
}

/// Writes the id maps of `pid` with `newuidmap`/`newgidmap` (`helper`), which check them
/// against /etc/subuid and /etc/subgid. The error names the helper and the field.
pub fn map_with_helper(helper: &str, field: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<(), String> {
    let mut cmd = Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id().to_string(), m.host_id().to_string(), m.size().to_string()]);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{field}: {helper} refused the mapping (are the ranges in /etc/sub{}id for this user?): {}",
            if helper.contains("gid") { "g" } else { "u" },
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{field}: mapping more than your own id needs {helper}, which is not installed (Debian: apt-get install uidmap)"))
        }
        Err(e) => Err(format!("{field}: {helper}: {e}")),
    }
}

/// Does the config ask for a cgroup limit (anything but device rules, which a rootless
/// container cannot have enforced anyway)?
pub fn asks_for_limits(r: &LinuxResources) -> Option<&'static str> {
    if r.memory().is_some() {
        return Some("linux.resources.memory");
    }
    if r.cpu().is_some() {
        return Some("linux.resources.cpu");
    }
    if r.pids().is_some() {
        return Some("linux.resources.pids");
    }
    if r.block_io().is_some() {
        return Some("linux.resources.blockIO");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        return Some("linux.resources.hugepageLimits");
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Some("linux.resources.unified");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Some("linux.resources.rdma");
    }
    if r.network().is_some() {
        return Some("linux.resources.network");
    }
    None
}

/// The default state root of an unprivileged user: `$XDG_RUNTIME_DIR/hull`.
pub fn default_root() -> Option<std::path::PathBuf> {
    let x = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty())?;
    Some(Path::new(&x).join("hull"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        serde_json::from_value(serde_json::json!({"containerID": c, "hostID": h, "size": s})).unwrap()
    }

    #[test]
    fn id_map_text() {
        let r = |i, o, c| IdRange { inside: i, outside: o, count: c };
        assert_eq!(parse_id_map("         0          0 4294967295\n").unwrap(), [r(0, 0, u32::MAX)]);
        assert_eq!(parse_id_map("0 1000 1\n1 100000 65536\n").unwrap(), [r(0, 1000, 1), r(1, 100000, 65536)]);
        assert_eq!(parse_id_map("").unwrap(), []);
        for bad in ["0 0", "0 0 1 1", "a 0 1", "0 0 4294967296", "1 0 4294967295", "-1 0 1"] {
            assert!(parse_id_map(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn own_id() {
        assert!(own_id_only(&[map(0, 1000, 1)], 1000));
        assert!(!own_id_only(&[map(0, 1000, 1), map(1, 100000, 65536)], 1000));
        assert!(!own_id_only(&[map(0, 1001, 1)], 1000));
        assert!(!own_id_only(&[map(0, 1000, 2)], 1000));
    }

    #[test]
    fn limits() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})).unwrap();
        assert_eq!(asks_for_limits(&r), None);
        let r: LinuxResources = serde_json::from_value(serde_json::json!({"pids": {"limit": 5}})).unwrap();
        assert_eq!(asks_for_limits(&r), Some("linux.resources.pids"));
    }

    #[test]
    fn missing_helper_is_named() {
        let e = map_with_helper("/nonexistent/newuidmap", "linux.uidMappings", 1, &[map(0, 1, 1)]).unwrap_err();
        assert!(e.contains("newuidmap") && e.contains("linux.uidMappings"), "{e}");
    }
}
