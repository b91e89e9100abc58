//! The host's cgroup layout: which hierarchies are mounted where (from /proc/self/mountinfo),
//! where this process sits in them (from /proc/self/cgroup), and from those the directories a
//! container's `linux.cgroupsPath` names. Pure functions over the files' text, so the path
//! rules are unit-tested against fixtures of every layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CgroupError;

pub(crate) const MOUNTINFO: &str = "/proc/self/mountinfo";
pub(crate) const PROC_CGROUP: &str = "/proc/self/cgroup";

/// The cgroup v1 hierarchies a container is placed in (runc's list); any other named v1
/// hierarchy (`name=foo`) belongs to somebody else and is left alone.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "misc",
    "name=systemd",
];

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only cgroup v1 hierarchies.
    V1,
    /// v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified) holding few or no
    /// controllers.
    Hybrid,
    /// A single cgroup2 hierarchy holds every controller.
    Unified,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// The v1 controllers (and `name=systemd`) it carries; empty for cgroup2.
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    /// The cgroup that is the root of this mount (field 4 of mountinfo), as /proc/self/cgroup
    /// spells it: a mount of a sub-cgroup (a container's view) shifts every path.
    pub root: String,
}

impl Hierarchy {
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub kind: Kind,
    pub hierarchies: Vec<Hierarchy>,
}

/// One line of /proc/self/cgroup: controllers ("" split to none for cgroup2) and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnCgroup {
    pub controllers: Vec<String>,
    pub path: String,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...). Three octal digits above
/// `\377` are no byte: kept as they are.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        let value = octal.map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))).and_then(|v| u8::try_from(v).ok());
        if let (b'\\', Some(v)) = (b[i], value) {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds the cgroup mounts in the text of /proc/self/mountinfo and decides the layout.
pub(crate) fn parse_mountinfo(text: &str) -> Result<Layout, CgroupError> {
    let mut v1: Vec<Hierarchy> = Vec::new();
    let mut v2: Option<Hierarchy> = None;
    for line in text.lines() {
        // "36 25 0:32 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let (root, mountpoint) = (unescape(l[3]), PathBuf::from(unescape(l[4])));
        match r[0] {
            // The first mount wins: a later one is usually a bind mount of the same tree.
            "cgroup2" if v2.is_none() => {
                v2 = Some(Hierarchy { controllers: Vec::new(), mountpoint, root });
            }
            "cgroup" => {
                let controllers: Vec<String> = r[2].split(',').filter(|o| V1_CONTROLLERS.contains(o)).map(str::to_string).collect();
                if controllers.is_empty() {
                    continue;
                }
                // A hierarchy mounted twice: keep the first mount, as runc does.
                if v1.iter().any(|h| h.controllers.iter().any(|c| controllers.contains(c))) {
                    continue;
                }
                v1.push(Hierarchy { controllers, mountpoint, root });
            }
            _ => {}
        }
    }
    // A name=systemd v1 mount alone (kept by some v2 hosts for old tools) does not make the
    // host hybrid: the controllers are all in cgroup2 then.
    let has_v1_controllers = v1.iter().any(|h| h.controllers.iter().any(|c| c != "name=systemd"));
    match (has_v1_controllers, v2) {
        (false, Some(h)) => Ok(Layout { kind: Kind::Unified, hierarchies: vec![h] }),
        (true, Some(h)) => {
            v1.push(h);
            Ok(Layout { kind: Kind::Hybrid, hierarchies: v1 })
        }
        (true, None) => Ok(Layout { kind: Kind::V1, hierarchies: v1 }),
        (false, None) => Err(CgroupError::NoCgroupFs { path: PathBuf::from(MOUNTINFO) }),
    }
}

/// Parses /proc/<pid>/cgroup ("4:memory:/a/b", "0::/c").
pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<OwnCgroup> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let (_id, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            let controllers = ctrls.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect();
            Some(OwnCgroup { controllers, path: path.to_string() })
        })
        .collect()
}

/// `p` cleaned lexically into its components; `None` when a `..` climbs above where `p`
/// starts (runc silently clamps such paths; hull refuses them, since a config that says
/// "above my cgroup" most likely means a mistake or an attack).
pub(crate) fn clean(p: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s.to_string()),
        }
    }
    Some(out)
}

/// Where this process sits in hierarchy `h`, as a directory below its mountpoint.
fn own_dir(h: &Hierarchy, kind: Kind, own: &[OwnCgroup]) -> PathBuf {
    let line =
        own.iter().find(|o| if h.is_v2() { o.controllers.is_empty() } else { o.controllers.iter().any(|c| h.controllers.contains(c)) });
    // Without a line for the hierarchy (an odd /proc view), the mount's root is the best guess.
    let Some(line) = line else {
        return h.mountpoint.clone();
    };
    // /proc/self/cgroup and the mount's root are both relative to our cgroup namespace's root;
    // what lies below the mount's root is what is visible under the mountpoint.
    let root = h.root.trim_end_matches('/');
    let rel = match line.path.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        // Our cgroup is outside what this mount shows: fall back to the mount's root.
        _ => "",
    };
    let mut comps = clean(rel).unwrap_or_default();
    if kind == Kind::Unified {
        // As runc: the parent of our own cgroup. Ours holds processes (us), so cgroup v2's
        // "no internal processes" rule would keep controllers from being enabled below it.
        comps.pop();
    }
    comps.iter().fold(h.mountpoint.clone(), |p, c| p.join(c))
}

/// The container's directory in every hierarchy, keyed by controller ("" for cgroup2).
///
/// `linux.cgroupsPath`, for the cgroupfs driver as runc reads it:
/// - absolute: relative to each hierarchy's mountpoint (`/a/b` -> `/sys/fs/cgroup/memory/a/b`);
/// - relative: relative to the cgroup this process is in, per hierarchy (on a pure v2 host to
///   its parent, see `own_dir`);
/// - empty/absent: the container id, as a relative path (so `<own cgroup>/<id>`).
pub(crate) fn container_paths(
    layout: &Layout,
    own: &[OwnCgroup],
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    let (field, inner) = match cgroups_path.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => (
            "linux.cgroupsPath",
            p.to_str().ok_or_else(|| CgroupError::Invalid {
                field: "linux.cgroupsPath".into(),
                reason: format!("{} is not valid UTF-8", p.display()),
            })?,
        ),
        None => ("id", id),
    };
    let absolute = inner.starts_with('/');
    let comps = clean(inner).ok_or_else(|| CgroupError::Invalid {
        field: field.into(),
        reason: format!("{inner:?} climbs out of {} with '..'", if absolute { "the cgroup root" } else { "the runtime's own cgroup" }),
    })?;
    if comps.is_empty() && field == "id" {
        return Err(CgroupError::Invalid { field: field.into(), reason: format!("{inner:?} names no cgroup") });
    }
    let mut paths = BTreeMap::new();
    for h in &layout.hierarchies {
        let base = if absolute { h.mountpoint.clone() } else { own_dir(h, layout.kind, own) };
        let dir = comps.iter().fold(base, |p, c| p.join(c));
        if h.is_v2() {
            paths.insert(String::new(), dir);
        } else {
            for c in &h.controllers {
                paths.insert(c.clone(), dir.clone());
            }
        }
    }
    Ok(paths)
}
