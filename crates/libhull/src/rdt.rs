//! rdt: `linux.intelRdt` through the resctrl filesystem (Intel RDT / AMD PQoS): a CTRL_MON
//! group for the container (named by `closID`, or by the container id), its `schemata`, the
//! init's pid in its `tasks`, and with `enableMonitoring` a MON group named by the container id.
//!
//! Everything works on a root directory given to it (the real one is /sys/fs/resctrl), so the
//! logic is tested against a resctrl-shaped tree on hosts without RDT. runtime-spec
//! config-linux.md, "IntelRdt", says which directories the runtime creates and removes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxIntelRdt;

use crate::spec::{invalid, SpecError};

/// Where resctrl is mounted.
pub const RESCTRL_ROOT: &str = "/sys/fs/resctrl";
const RDTGROUP_SUPER_MAGIC: i64 = 0x7655821;

/// `linux.intelRdt`, checked against a resctrl root.
#[derive(Debug, Clone)]
pub struct RdtPlan {
    pub root: PathBuf,
    /// `closID` (`/` is the root group); `None`: the container id names the group.
    pub clos_id: Option<String>,
    /// Lines for `schemata`, in the order the spec wants them written (L3, MB, then `schemata`).
    pub lines: Vec<String>,
    pub monitoring: bool,
}

/// True when `p` is a mounted resctrl.
pub fn is_resctrl(p: &Path) -> bool {
    use std::os::fd::AsFd;
    std::fs::File::open(p).ok().and_then(|f| crate::sys::fstatfs_magic(f.as_fd()).ok()) == Some(RDTGROUP_SUPER_MAGIC)
}

impl RdtPlan {
    /// Checks the config and that `root` is a mounted resctrl that can do what it asks.
    pub fn check(r: &LinuxIntelRdt, root: &Path) -> Result<RdtPlan, SpecError> {
        if !is_resctrl(root) {
            return Err(invalid(
                "linux.intelRdt",
                format!("resctrl (Intel RDT) is not mounted at {}: this host cannot apply it", root.display()),
            ));
        }
        RdtPlan::check_in(r, root)
    }

    /// Checks the config against the tree at `root` (resctrl's layout: `info/`, `schemata`,
    /// `tasks`, `mon_groups/`), without checking the filesystem type.
    pub fn check_in(r: &LinuxIntelRdt, root: &Path) -> Result<RdtPlan, SpecError> {
        let clos_id = r.clos_id().clone();
        if let Some(c) = &clos_id {
            let bad = c.is_empty()
                || c == "."
                || c == ".."
                || (c != "/" && c.contains('/'))
                || c.contains('\n')
                || c.contains('\0')
                || ["info", "mon_groups", "mon_data"].contains(&c.as_str());
            if bad {
                return Err(invalid("linux.intelRdt.closID", format!("{c:?} is not a resctrl group name")));
            }
        }
        let mut lines = Vec::new();
        if let Some(l3) = r.l3_cache_schema().as_deref().filter(|s| !s.is_empty()) {
            if l3.contains('\n') {
                return Err(invalid("linux.intelRdt.l3CacheSchema", "must not contain a newline"));
            }
            if !root.join("info/L3").exists() && !root.join("info/L3CODE").exists() {
                return Err(invalid("linux.intelRdt.l3CacheSchema", "this host's resctrl has no L3 cache allocation (CAT)"));
            }
            lines.push(l3.to_string());
        }
        if let Some(mb) = r.mem_bw_schema().as_deref().filter(|s| !s.is_empty()) {
            if mb.contains('\n') || !mb.starts_with("MB:") {
                return Err(invalid("linux.intelRdt.memBwSchema", "must start with \"MB:\" and have no newline"));
            }
            if !root.join("info/MB").exists() {
                return Err(invalid("linux.intelRdt.memBwSchema", "this host's resctrl has no memory bandwidth allocation (MBA)"));
            }
            lines.push(mb.to_string());
        }
        for (i, s) in r.schemata().iter().flatten().enumerate() {
            if s.contains('\n') {
                return Err(invalid(format!("linux.intelRdt.schemata[{i}]"), "must not contain a newline"));
            }
            lines.push(s.clone());
        }
        // runtime-spec 1.3 replaced these by enableMonitoring; never ignored silently.
        #[allow(deprecated)]
        for (name, v) in [("enableCMT", r.enable_cmt()), ("enableMBM", r.enable_mbm())] {
            if *v == Some(true) {
                return Err(invalid(format!("linux.intelRdt.{name}"), "is deprecated since runtime-spec 1.3.0: use enableMonitoring"));
            }
        }
        let monitoring = *r.enable_monitoring() == Some(true);
        if monitoring && !root.join("info/L3_MON").exists() {
            return Err(invalid("linux.intelRdt.enableMonitoring", "this host's resctrl has no monitoring (info/L3_MON)"));
        }
        if let Some(c) = clos_id.as_deref().filter(|c| *c != "/") {
            let dir = root.join(c);
            if lines.is_empty() && !dir.is_dir() {
                return Err(invalid("linux.intelRdt.closID", format!("{c:?}: no such resctrl group ({} does not exist)", dir.display())));
            }
            // An existing group must already have the schema asked for.
            if dir.is_dir() && !lines.is_empty() {
                let have = std::fs::read_to_string(dir.join("schemata")).unwrap_or_default();
                for l in &lines {
                    if !schema_matches(&have, l) {
                        return Err(invalid(
                            "linux.intelRdt.closID",
                            format!("the existing group {c:?} has another schema than {l:?}:\n{}", have.trim_end()),
                        ));
                    }
                }
            }
        }
        Ok(RdtPlan { root: root.to_path_buf(), clos_id, lines, monitoring })
    }

    /// The CTRL_MON group's directory.
    pub fn group_dir(&self, id: &str) -> PathBuf {
        match self.clos_id.as_deref() {
            Some("/") => self.root.clone(),
            Some(c) => self.root.join(c),
            None => self.root.join(id),
        }
    }

    /// The MON group's directory.
    pub fn mon_dir(&self, id: &str) -> PathBuf {
        self.group_dir(id).join("mon_groups").join(id)
    }

    /// Makes the groups and writes the schemata, before the container's init exists. Every
    /// directory it makes is pushed onto `made` (the caller removes them on failure and at
    /// `delete`, deepest first).
    pub fn create(&self, id: &str, made: &mut Vec<PathBuf>) -> Result<(), String> {
        let group = self.group_dir(id);
        if !group.is_dir() {
            std::fs::create_dir(&group).map_err(|e| format!("linux.intelRdt: {}: {e}", group.display()))?;
            // Only a group the runtime made is the runtime's to remove (closID set or not).
            made.push(group.clone());
        }
        if !self.lines.is_empty() {
            let text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
            write_file(&group.join("schemata"), &text).map_err(|e| format!("linux.intelRdt: {}/schemata: {e}", group.display()))?;
        }
        if self.monitoring {
            let mon = self.mon_dir(id);
            std::fs::create_dir(&mon).map_err(|e| format!("linux.intelRdt.enableMonitoring: {}: {e}", mon.display()))?;
            made.push(mon);
        }
        Ok(())
    }

    /// Puts `pid` (the init; its children follow it) into the groups.
    pub fn add_pid(&self, id: &str, pid: i32) -> Result<(), String> {
        let tasks = self.group_dir(id).join("tasks");
        write_file(&tasks, &pid.to_string()).map_err(|e| format!("linux.intelRdt: {}: {e}", tasks.display()))?;
        if self.monitoring {
            // A MON group takes only tasks of its parent CTRL_MON group: that write came first.
            let tasks = self.mon_dir(id).join("tasks");
            write_file(&tasks, &pid.to_string()).map_err(|e| format!("linux.intelRdt.enableMonitoring: {}: {e}", tasks.display()))?;
        }
        Ok(())
    }
}

/// Removes the directories `create` made, deepest first. On resctrl a group directory is
/// removed with rmdir whatever files it shows; a tree that is not resctrl (a test's) is
/// removed with its files.
pub fn remove(made: &[PathBuf]) -> Result<(), String> {
    let mut first_err = None;
    for d in made.iter().rev() {
        let r = match std::fs::remove_dir(d) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(_) if d.parent().is_some_and(|p| !is_resctrl(p)) => std::fs::remove_dir_all(d),
            r => r,
        };
        if let Err(e) = r {
            first_err.get_or_insert(format!("linux.intelRdt: removing {}: {e}", d.display()));
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// One write(2), as resctrl files want; never creates a file on resctrl (they all exist).
fn write_file(p: &Path, text: &str) -> std::io::Result<()> {
    let create = p.parent().is_some_and(|d| !is_resctrl(d));
    let mut f = std::fs::OpenOptions::new().write(true).create(create).truncate(false).open(p)?;
    f.write_all(text.as_bytes())
}

/// True when every domain of `want` (`L3:0=7f0;1=1f`) has that value in the resctrl
/// `schemata` text `have` (which pads names and values).
fn schema_matches(have: &str, want: &str) -> bool {
    fn parse(line: &str) -> Option<(String, BTreeMap<String, String>)> {
        let (res, doms) = line.trim().split_once(':')?;
        let mut m = BTreeMap::new();
        for d in doms.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let (k, v) = d.split_once('=')?;
            let v = v.trim().trim_start_matches('0').to_ascii_lowercase();
            m.insert(k.trim().to_string(), v);
        }
        Some((res.trim().to_string(), m))
    }
    let Some((res, want)) = parse(want) else { return false };
    let Some((_, got)) = have.lines().filter_map(parse).find(|(r, _)| *r == res) else { return false };
    want.iter().all(|(k, v)| got.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resctrl-shaped tree: info/{L3,MB,L3_MON}, the root group's files, mon_groups.
    fn tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("hull-rdt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["info/L3", "info/MB", "info/L3_MON", "mon_groups"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("schemata"), "    L3:0=7ff;1=7ff\n    MB:0=100;1=100\n").unwrap();
        std::fs::write(root.join("tasks"), "").unwrap();
        root
    }

    fn rdt(j: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(j).unwrap()
    }

    #[test]
    fn a_failure_half_way_leaves_the_undo_registered() {
        let root = tree("half");
        let p = RdtPlan::check_in(&rdt(serde_json::json!({"schemata": ["L3:0=1"], "enableMonitoring": true})), &root).unwrap();
        let mut made = Vec::new();
        // A plain directory has no mon_groups inside a new group (resctrl makes one): the MON
        // group cannot be made, and the group made before it is registered for removal.
        let e = p.create("ctr1", &mut made).unwrap_err();
        assert!(e.starts_with("linux.intelRdt.enableMonitoring"), "{e}");
        assert_eq!(made, vec![root.join("ctr1")]);
        remove(&made).unwrap();
        assert!(!root.join("ctr1").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn full_lifecycle_in_a_tree() {
        let root = tree("life");
        let p = RdtPlan::check_in(&rdt(serde_json::json!({"l3CacheSchema": "L3:0=7f0;1=1f", "memBwSchema": "MB:0=20;1=70", "schemata": ["L2:0=f"], "enableMonitoring": true})), &root).unwrap();
        let mut made = Vec::new();
        let group = root.join("ctr2");
        // Make the group ourselves with mon_groups inside, as the kernel would on mkdir.
        std::fs::create_dir(&group).unwrap();
        std::fs::create_dir(group.join("mon_groups")).unwrap();
        p.create("ctr2", &mut made).unwrap();
        assert_eq!(made, vec![group.join("mon_groups/ctr2")], "an existing group is not ours to remove");
        assert_eq!(std::fs::read_to_string(group.join("schemata")).unwrap(), "L3:0=7f0;1=1f\nMB:0=20;1=70\nL2:0=f\n");
        p.add_pid("ctr2", 4242).unwrap();
        assert_eq!(std::fs::read_to_string(group.join("tasks")).unwrap(), "4242");
        assert_eq!(std::fs::read_to_string(group.join("mon_groups/ctr2/tasks")).unwrap(), "4242");
        remove(&made).unwrap();
        assert!(!group.join("mon_groups/ctr2").exists());
        assert!(group.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn new_group_is_removed_on_delete() {
        let root = tree("new");
        let p = RdtPlan::check_in(&rdt(serde_json::json!({"schemata": ["L3:0=1;1=1"]})), &root).unwrap();
        let mut made = Vec::new();
        p.create("ctr3", &mut made).unwrap();
        assert_eq!(made, vec![root.join("ctr3")]);
        assert_eq!(std::fs::read_to_string(root.join("ctr3/schemata")).unwrap(), "L3:0=1;1=1\n");
        p.add_pid("ctr3", 7).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("ctr3/tasks")).unwrap(), "7");
        remove(&made).unwrap();
        assert!(!root.join("ctr3").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn clos_id_rules() {
        let root = tree("clos");
        // The root group: nothing made, the pid goes to the root's tasks.
        let p = RdtPlan::check_in(&rdt(serde_json::json!({"closID": "/"})), &root).unwrap();
        let mut made = Vec::new();
        p.create("c", &mut made).unwrap();
        assert!(made.is_empty());
        p.add_pid("c", 9).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("tasks")).unwrap(), "9");
        // A pre-configured group must exist when no schema is given.
        let e = RdtPlan::check_in(&rdt(serde_json::json!({"closID": "gold"})), &root).unwrap_err().to_string();
        assert!(e.starts_with("linux.intelRdt.closID") && e.contains("no such resctrl group"), "{e}");
        // An existing group with another schema is refused; the same schema (padded) is fine.
        std::fs::create_dir(root.join("gold")).unwrap();
        std::fs::write(root.join("gold/schemata"), "    L3:0=07ff;1=7ff\n    MB:0=100;1=100\n").unwrap();
        assert!(RdtPlan::check_in(&rdt(serde_json::json!({"closID": "gold", "l3CacheSchema": "L3:0=7ff;1=7ff"})), &root).is_ok());
        let e = RdtPlan::check_in(&rdt(serde_json::json!({"closID": "gold", "memBwSchema": "MB:0=20"})), &root).unwrap_err().to_string();
        assert!(e.starts_with("linux.intelRdt.closID"), "{e}");
        for bad in ["..", "a/b", "info", ""] {
            let e = RdtPlan::check_in(&rdt(serde_json::json!({"closID": bad})), &root).unwrap_err().to_string();
            assert!(e.starts_with("linux.intelRdt.closID"), "{bad:?}: {e}");
        }
        let e = RdtPlan::check_in(&rdt(serde_json::json!({"enableCmt": true})), &root).unwrap_err().to_string();
        assert!(e.starts_with("linux.intelRdt.enableCMT"), "{e}"); // oci-spec reads the key as enableCmt
        let e = RdtPlan::check_in(&rdt(serde_json::json!({"memBwSchema": "L3:0=1"})), &root).unwrap_err().to_string();
        assert!(e.starts_with("linux.intelRdt.memBwSchema"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_features_are_refused() {
        let root = std::env::temp_dir().join(format!("hull-rdt-bare-{}", std::process::id()));
        std::fs::create_dir_all(root.join("info")).unwrap();
        for (j, field) in [
            (serde_json::json!({"l3CacheSchema": "L3:0=1"}), "linux.intelRdt.l3CacheSchema"),
            (serde_json::json!({"memBwSchema": "MB:0=10"}), "linux.intelRdt.memBwSchema"),
            (serde_json::json!({"enableMonitoring": true}), "linux.intelRdt.enableMonitoring"),
        ] {
            let e = RdtPlan::check_in(&rdt(j), &root).unwrap_err().to_string();
            assert!(e.starts_with(field), "{e}");
        }
        // Not resctrl at all: the real check says so before anything.
        let e = RdtPlan::check(&rdt(serde_json::json!({})), &root).unwrap_err().to_string();
        assert!(e.starts_with("linux.intelRdt:") && e.contains("not mounted"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
