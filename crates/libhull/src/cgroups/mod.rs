//! cgroups: where a container's processes are placed and what limits they get.
//!
//! One `CgroupManager` a container, behind which the host's layout (cgroup v1, v2, or hybrid)
//! is hidden. Placement and limits come from `linux.cgroupsPath` and `linux.resources`.
//!
//! The life of a container's cgroups: `new` (compute the directories, no side effects),
//! `create` (mkdir, recording what hull made), `apply` (limits, before the first process
//! enters so that e.g. realtime bandwidth is in place), `clone_into_fd` / `add_pid`
//! (placement), and at the end `destroy` (rmdir only what hull made).
//!
//! With the systemd driver (`new_systemd`, see `systemd`) the same manager holds the unit:
//! `create` makes nothing on v2, `start_unit` replaces `apply` + `add_pid` once the init
//! exists (systemd makes the cgroup with the init in it), and `destroy` stops the unit.
//!
//! House rule: hull creates cgroups below any cgroup and removes only those it created. The one
//! change it makes to cgroups it did not create is runc's and crun's: on cgroup v2 it enables
//! the controllers the config needs in each ancestor's `cgroup.subtree_control` (adding only,
//! see `subtree`).

mod dbus;
mod devices;
pub(crate) mod layout;
mod subtree;
pub mod systemd;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxHugepageLimit, LinuxRdma, LinuxResources, LinuxThrottleDevice};

use layout::Kind;

/// Errors of the cgroups module; each names the file or field involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A config value this host cannot apply; `field` is its JSON path.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("cgroup {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The kernel refused a value for `field` written to the cgroup file `path`.
    #[error("{field}: writing {value:?} to {path}: {source}")]
    Write { path: PathBuf, field: String, value: String, source: std::io::Error },
    /// Moving a process into the cgroup (its cgroup.procs is `path`) failed.
    #[error("moving pid {pid} into cgroup {path}: {source}")]
    Join { pid: i32, path: PathBuf, source: std::io::Error },
    /// runc's refusal, kept: sharing a cgroup with processes hull did not start would mix
    /// their limits, and `delete` would kill them.
    #[error("cgroup {path} is not empty: it has processes")]
    NotEmpty { path: PathBuf },
    #[error("{path}: no cgroup filesystem is mounted")]
    NoCgroupFs { path: PathBuf },
    #[error("cgroup {path}: {reason}")]
    Freeze { path: PathBuf, reason: String },
    /// Loading or attaching the cgroup v2 device program (`what` is the bpf(2) command).
    #[error("linux.resources.devices: {what} for cgroup {path}: {source}")]
    Bpf { path: PathBuf, what: String, source: std::io::Error },
    /// The kernel refused to enable `controller` in an ancestor's `cgroup.subtree_control`
    /// (`path`), which `field` needs.
    #[error("{field}: enabling the {controller} controller in {path}: {source}{hint}")]
    Enable { path: PathBuf, controller: String, field: String, hint: &'static str, source: std::io::Error },
    /// The systemd driver: systemd unreachable, or a call or job that failed.
    #[error("{0}")]
    Systemd(String),
}

impl CgroupError {
    /// The kernel said no for lack of rights (not delegated to an unprivileged user).
    pub fn is_access_denied(&self) -> bool {
        let src = match self {
            CgroupError::Io { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Join { source, .. }
            | CgroupError::Bpf { source, .. } => source,
            CgroupError::Enable { source, .. } => return subtree::denied(source),
            _ => return false,
        };
        matches!(src.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS))
    }
}

/// A container's cgroup(s): the directories hull made (or found) for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct CgroupManager {
    /// controller (or "" for the unified hierarchy) -> absolute directory.
    pub paths: BTreeMap<String, PathBuf>,
    /// The directories hull created itself, removed on destroy (deepest first).
    pub created: Vec<PathBuf>,
    /// The systemd driver's unit, when the cgroup is a transient unit (`--systemd-cgroup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
}

impl CgroupManager {
    /// Computes where the container's cgroups go; no side effects.
    ///
    /// `cgroups_path` is `linux.cgroupsPath` (cgroupfs driver, as runc reads it): absolute
    /// means below each hierarchy's mountpoint, relative means below the cgroup hull itself
    /// runs in (on a pure v2 host: below its parent), empty or absent means the relative path
    /// `<id>`. A `..` that climbs out is refused.
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Result<Self, CgroupError> {
        let layout = layout::parse_mountinfo(&read_proc(layout::MOUNTINFO)?)?;
        let own = layout::parse_proc_cgroup(&read_proc(layout::PROC_CGROUP)?);
        let paths = layout::container_paths(&layout, &own, cgroups_path, id)?;
        Ok(Self { paths, created: Vec::new(), systemd: None })
    }

    /// The systemd driver's manager: the unit `linux.cgroupsPath` (`slice:prefix:name`) names,
    /// and the directory systemd gives it in every hierarchy; no side effects (the unit is
    /// made by `start_unit` once the init exists).
    ///
    /// On cgroup v1 the controllers systemd does not manage for the unit are joined the way
    /// runc does: hull makes the unit's directory in those hierarchies itself. systemd's own
    /// `name=systemd` hierarchy is left to systemd.
    ///
    /// `user_manager` (rootless): the ControlGroup of the user's systemd manager, which makes
    /// the unit below it; cgroup v2 only (as runc: systemd delegates nothing to a user on v1).
    pub fn new_systemd(cgroups_path: Option<&Path>, id: &str, user_manager: Option<&str>) -> Result<Self, CgroupError> {
        let p = cgroups_path
            .map(|p| {
                p.to_str().ok_or_else(|| CgroupError::Invalid {
                    field: "linux.cgroupsPath".into(),
                    reason: format!("{} is not valid UTF-8", p.display()),
                })
            })
            .transpose()?;
        let unit = systemd::Unit::parse(p, id, user_manager)?;
        let rel = unit.cgroup()?;
        let layout = layout::parse_mountinfo(&read_proc(layout::MOUNTINFO)?)?;
        if unit.is_user() && layout.kind != Kind::Unified {
            return Err(CgroupError::Systemd(
                "--systemd-cgroup: rootless, the systemd driver needs a pure cgroup v2 host (systemd delegates no cgroup v1 hierarchy to a user); use the cgroupfs driver".into(),
            ));
        }
        let mut paths = BTreeMap::new();
        for h in &layout.hierarchies {
            let dir = rel.split('/').fold(h.mountpoint.clone(), |d, c| d.join(c));
            if h.is_v2() {
                paths.insert(String::new(), dir);
            } else {
                for c in h.controllers.iter().filter(|c| *c != "name=systemd") {
                    paths.insert(c.clone(), dir.clone());
                }
            }
        }
        Ok(Self { paths, created: Vec::new(), systemd: Some(unit) })
    }

    /// The systemd driver, once the init `pid` exists and waits: makes the transient unit with
    /// `pid` in it and the limits systemd has properties for (plus `extra`, the annotations'
    /// properties), checks the init landed in the unit's cgroup, then writes every limit
    /// through cgroupfs as well and joins the hierarchies systemd does not manage (v1).
    pub(crate) fn start_unit(
        &self,
        session: &mut systemd::Session,
        id: &str,
        pid: i32,
        resources: &LinuxResources,
        extra: Vec<dbus::Value>,
    ) -> Result<(), CgroupError> {
        let Some(unit) = &self.systemd else {
            return self.add_pid(pid);
        };
        let mut props = systemd::resource_properties(resources, self.is_unified());
        props.extend(extra);
        session.start(unit, id, pid, props)?;
        if let Some(dir) = self.paths.get("") {
            let want = unit.cgroup()?;
            let got = if unit.is_user() { wait_in_cgroup(pid, &want)? } else { v2_cgroup_of(pid)? };
            if got.trim_start_matches('/') != want && self.is_unified() {
                return Err(CgroupError::Systemd(format!(
                    "systemd put the init in the cgroup {got}, not in {} where hull expects the unit {}",
                    dir.display(),
                    unit.name
                )));
            }
        }
        match (unit.is_user(), self.paths.get("")) {
            // Rootless: the limits only (no device program: see `systemd`), in the controllers
            // systemd delegates to the user's manager.
            (true, Some(dir)) => {
                subtree::enable_in_ancestors(dir, resources)?;
                v2::apply_limits(dir, resources)?;
            }
            _ => self.apply(resources)?,
        }
        self.add_pid(pid)
    }

    /// Whether the systemd driver manages this cgroup.
    pub fn is_systemd(&self) -> bool {
        self.systemd.is_some()
    }

    /// Checks `linux.resources` against the host's layout (v1, hybrid or v2), before any side
    /// effect: values no kernel takes, device rules that do not add up, unified keys of the
    /// wrong form, v1-only fields on v2. `check_host` then checks the controllers.
    pub fn validate(resources: &LinuxResources) -> Result<(), CgroupError> {
        // Without a readable mountinfo the layout-specific checks are skipped; `new` reports
        // the real problem.
        let kind = crate::sys::read_proc_text(layout::MOUNTINFO).ok().and_then(|t| layout::parse_mountinfo(&t).ok()).map(|l| l.kind);
        validate_for(kind, resources)
    }

    /// Makes the directories; refuses a cgroup that already has processes.
    ///
    /// Every directory made is recorded in `created`; on failure those made by this call are
    /// removed again. On cgroup v1 the cpuset files of each new cpuset directory are copied
    /// from its parent (a new cpuset is empty, and no process can join an empty cpuset). On a
    /// pure v2 host every controller available to a directory hull made is enabled in its
    /// `cgroup.subtree_control`, so that the next level gets it; in the ancestors hull did not
    /// make, `apply` enables only what the config needs.
    pub fn create(&mut self) -> Result<(), CgroupError> {
        // Check first, so a refusal leaves no trace.
        for dir in self.dirs() {
            if dir.exists() && !procs_recursive(dir)?.is_empty() {
                return Err(CgroupError::NotEmpty { path: dir.clone() });
            }
        }
        if self.is_systemd() && self.is_unified() {
            // systemd makes the scope's cgroup when it starts the unit (`start_unit`).
            return Ok(());
        }
        let mut made = Vec::new();
        match self.make_dirs(&mut made) {
            Ok(()) => {
                self.created.extend(made);
                Ok(())
            }
            Err(e) => {
                for d in made.iter().rev() {
                    let _ = rmdir_retrying(d);
                }
                Err(e)
            }
        }
    }

    fn make_dirs(&self, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
        let unified = self.is_unified();
        let cpuset = self.paths.get("cpuset");
        for dir in self.dirs() {
            // The missing ancestors, top-down; the walk ends at the mountpoint at the latest.
            let mut missing = Vec::new();
            let mut d = dir.as_path();
            while fs::symlink_metadata(d).is_err() {
                missing.push(d.to_path_buf());
                match d.parent() {
                    Some(p) => d = p,
                    None => break,
                }
            }
            missing.reverse();
            let first_new = made.len();
            for m in &missing {
                match fs::create_dir(m) {
                    Ok(()) => made.push(m.clone()),
                    // Made concurrently by someone else: not ours to configure or remove.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(CgroupError::Io { path: m.clone(), source: e }),
                }
                if !unified && cpuset == Some(dir) {
                    v1::copy_cpuset_from_parent(m)?;
                }
            }
            if unified {
                // Enable controllers in the directories hull made that have a child on the way
                // to the container's cgroup (the leaf itself needs none: it holds processes).
                for m in &made[first_new..] {
                    if m != dir {
                        v2::enable_all_controllers(m);
                    }
                }
            }
        }
        Ok(())
    }

    /// A cgroup v2 directory fd usable with CLONE_INTO_CGROUP, where the host allows it.
    ///
    /// Only on a pure v2 host: on a hybrid host the unified hierarchy holds (almost) no
    /// controllers and the v1 hierarchies need cgroup.procs anyway, so `add_pid` places the
    /// process everywhere.
    pub fn clone_into_fd(&self) -> Option<OwnedFd> {
        // systemd's unit does not exist before the init does (it is made with the init's pid).
        if !self.is_unified() || self.is_systemd() {
            return None;
        }
        let dir = self.paths.get("")?;
        fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(dir).ok().map(OwnedFd::from)
    }

    /// Moves `pid` into every hierarchy.
    ///
    /// Rootless with the systemd driver, where the kernel refuses the move (hull runs in a
    /// cgroup outside the user's delegated subtree, so it may not write the common ancestor's
    /// cgroup.procs), the user's manager is asked to move it (`AttachProcessesToUnit`, as runc).
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        self.add_pid_after_clone(pid, false)
    }

    /// Moves `pid` into every hierarchy that it was not cloned into: with `cloned_into`, the
    /// process was born in the unified cgroup (`clone3(CLONE_INTO_CGROUP)` on the fd of
    /// `clone_into_fd`), which is not written again. Writing cgroup.procs is never free, even
    /// for a process already there: the kernel takes cgroup_threadgroup_rwsem for writing,
    /// which after a quiet moment waits for an RCU grace period (milliseconds).
    pub fn add_pid_after_clone(&self, pid: i32, cloned_into: bool) -> Result<(), CgroupError> {
        let unified = self.paths.get("").filter(|_| cloned_into && self.is_unified());
        for dir in self.dirs() {
            if Some(dir) == unified {
                continue;
            }
            let path = dir.join("cgroup.procs");
            match (write_raw(&path, &pid.to_string()), &self.systemd) {
                (Ok(()), _) => {}
                (Err(e), Some(unit)) if unit.is_user() && matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
                    systemd::connect_for(unit)?.attach(unit, pid)?;
                    let want = unit.cgroup()?;
                    let got = wait_in_cgroup(pid, &want)?;
                    if got.trim_start_matches('/') != want {
                        return Err(CgroupError::Join { pid, path, source: e });
                    }
                }
                (Err(source), _) => return Err(CgroupError::Join { pid, path, source }),
            }
        }
        Ok(())
    }

    /// Writes the limits.
    ///
    /// Call it before the first process joins (realtime CPU bandwidth must be in place before a
    /// SCHED_RR/FIFO process enters a v1 cpu cgroup). The device policy is complete every time
    /// (deny all, the config's rules in order, then runc's default allowed devices): on v1
    /// written to devices.deny/allow, on v2 an eBPF program that replaces the one attached
    /// before (see `devices`).
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        if self.is_unified() {
            match self.paths.get("") {
                Some(dir) => apply_unified(dir, resources),
                None => Ok(()),
            }
        } else {
            let (v1_part, hugetlb_v2) = self.split_hybrid(resources);
            v1::apply(&self.paths, &v1_part)?;
            match hugetlb_v2 {
                Some(dir) => v2::apply_hugetlb_only(dir, resources),
                None => Ok(()),
            }
        }
    }

    /// Changes the limits of a container that already runs (`update`): as `apply`, except
    /// that the device rules are never touched (runc's `SkipDevices`), whatever `resources`
    /// says about devices.
    pub fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let mut r = resources.clone();
        r.set_devices(None);
        if let Some(unit) = &self.systemd {
            // The unit's properties too, or systemd would put the old values back on its next
            // re-realization of the cgroup (a daemon-reload).
            systemd::connect_for(unit)?.set_properties(unit, systemd::resource_properties(&r, self.is_unified()))?;
        }
        if self.is_unified() {
            match self.paths.get("") {
                Some(dir) => {
                    subtree::enable_in_ancestors(dir, &r)?;
                    v2::apply_limits(dir, &r)
                }
                None => Ok(()),
            }
        } else {
            let (v1_part, hugetlb_v2) = self.split_hybrid(&r);
            v1::apply_limits(&self.paths, &v1_part)?;
            match hugetlb_v2 {
                Some(dir) => v2::apply_hugetlb_only(dir, &r),
                None => Ok(()),
            }
        }
    }

    /// On a v1 or hybrid host: the resources for the v1 hierarchies, and the cgroup2 directory
    /// that takes hugepageLimits instead when hugetlb is not a v1 hierarchy but cgroup2 is
    /// mounted beside them (then the v1 part has no hugepage limits).
    fn split_hybrid(&self, r: &LinuxResources) -> (LinuxResources, Option<&PathBuf>) {
        let mut v1_part = r.clone();
        let asks = r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty());
        match self.paths.get("") {
            Some(dir) if asks && !self.paths.contains_key("hugetlb") => {
                v1_part.set_hugepage_limits(None);
                (v1_part, Some(dir))
            }
            _ => (v1_part, None),
        }
    }

    /// Checks `r` against this host's controllers, before any side effect: a field whose
    /// controller the host does not have at all is refused, naming the field. (Whether a
    /// controller that exists is delegated to the container's cgroup shows only once the
    /// cgroup exists: `apply` names the field then, and `create` undoes what it did.)
    ///
    /// runc differs per field (it fails writing some, ignores others); hull refuses every
    /// limit it cannot apply, since a container that runs without an asked-for limit is
    /// worse than one that does not start.
    pub fn check_host(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let v2_root = self.paths.get("").map(|d| v2_root_controllers(d));
        let v2_has = |c: &str| v2_root.as_ref().is_some_and(|set| set.iter().any(|x| x == c));
        let has = |c: &str| if self.is_unified() { v2_has(c) } else { self.paths.contains_key(c) };
        let absent = |field: String, what: &str| {
            Err(CgroupError::Invalid { field, reason: format!("{what} is not available on this host (not mounted or not in the kernel)") })
        };
        let hugetlb = |c: &str| if self.is_unified() { v2_has(c) } else { self.paths.contains_key(c) || v2_has(c) };
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            if !hugetlb("hugetlb") {
                return absent(format!("linux.resources.hugepageLimits[{i}]"), "the hugetlb controller");
            }
            let sizes = host_hugepage_sizes();
            if !sizes.is_empty() && !sizes.iter().any(|s| s == h.page_size()) {
                return Err(CgroupError::Invalid {
                    field: format!("linux.resources.hugepageLimits[{i}].pageSize"),
                    reason: format!("{:?}: this host has huge pages of {} only", h.page_size(), sizes.join(", ")),
                });
            }
        }
        if let Some(n) = r.network() {
            let (cls, prio) = if self.is_unified() {
                // cgroup v2 has no net_cls/net_prio (runc ignores both there).
                (false, false)
            } else {
                (self.paths.contains_key("net_cls"), self.paths.contains_key("net_prio"))
            };
            if n.class_id().is_some() && !cls {
                return absent("linux.resources.network.classID".into(), "the net_cls controller (cgroup v1 only)");
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) && !prio {
                return absent("linux.resources.network.priorities".into(), "the net_prio controller (cgroup v1 only)");
            }
        }
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) && !has("rdma") {
            return absent("linux.resources.rdma".into(), "the rdma controller");
        }
        if r.block_io().as_ref().is_some_and(|b| !blkio_is_empty(b)) && !has(if self.is_unified() { "io" } else { "blkio" }) {
            return absent("linux.resources.blockIO".into(), if self.is_unified() { "the io controller" } else { "the blkio controller" });
        }
        if self.is_unified() {
            if let Some(u) = r.unified() {
                for k in u.keys() {
                    if let Some((ctrl, _)) = k.split_once('.').filter(|(c, _)| *c != "cgroup") {
                        if !v2_has(ctrl) {
                            return absent(format!("linux.resources.unified[{k:?}]"), &format!("the {ctrl} controller"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The limits without the device rules: what an unprivileged hull writes into a cgroup
    /// delegated to its user. The device rules need privileges on the host that delegation
    /// does not give (bpf(2) for v2's device program, CAP_SYS_ADMIN for v1's devices.allow),
    /// and a rootless container's devices are bounded by its user namespace anyway: no mknod,
    /// only the host's nodes the user may open, bound in. (runc ignores the device
    /// controller's errors when rootless.) For a cgroupfs manager this is what `update` writes.
    pub fn apply_limits(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        self.update(resources)
    }

    /// The pids in the container's cgroup, including its child cgroups.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = ["pids", "memory", ""].iter().find_map(|k| self.paths.get(*k)).or_else(|| self.paths.values().next());
        match dir {
            Some(d) => procs_recursive(d),
            None => Ok(Vec::new()),
        }
    }

    /// Removes the directories hull created, retrying while the kernel drains them.
    ///
    /// Deepest first. Child cgroups the container made inside a directory hull created go
    /// with it (they would keep the rmdir failing). A directory already gone is fine. Every
    /// directory is tried; the first error is returned.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let mut first_err = None;
        if let Some(unit) = &self.systemd {
            // Stopping the unit removes its cgroup; what the container made below it (it is
            // delegated) and the v1 directories hull made go below.
            if let Err(e) = systemd::connect_for(unit).and_then(|mut s| s.stop(unit)) {
                first_err = Some(e);
            }
            if let Some(dir) = self.paths.get("") {
                if let Err(e) = remove_tree(dir) {
                    first_err.get_or_insert(e);
                }
            }
        }
        let mut dirs: Vec<&PathBuf> = self.created.iter().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            if let Err(e) = remove_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// SIGKILLs every process in the container's cgroup and its children with cgroup v2's
    /// `cgroup.kill` (Linux 5.14), which the kernel does atomically: a process forking
    /// meanwhile cannot escape, and no freeze is needed. Ok(false) when there is no
    /// `cgroup.kill` (v1, a hybrid host, an older kernel): the caller signals pid by pid.
    pub fn kill_all(&self) -> Result<bool, CgroupError> {
        let Some(dir) = self.paths.get("").filter(|_| self.is_unified()) else {
            return Ok(false);
        };
        match write_raw(&dir.join("cgroup.kill"), "1") {
            Ok(()) => Ok(true),
            // No such file: a kernel before 5.14. The cgroup itself gone: nothing to kill.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(!dir.exists()),
            Err(source) => Err(CgroupError::Io { path: dir.join("cgroup.kill"), source }),
        }
    }

    /// Freezes every process of the container (`pause`).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            Freezer::V1(dir) => v1::freeze(dir),
            Freezer::V2(dir) => v2::freeze(dir),
        }
    }

    /// Thaws the container (`resume`).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match self.freezer()? {
            Freezer::V1(dir) => v1::thaw(dir),
            Freezer::V2(dir) => v2::thaw(dir),
        }
    }

    /// Whether the container was frozen by `freeze` (waits out a freeze in progress).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.freezer()? {
            Freezer::V1(dir) => v1::is_frozen(dir),
            Freezer::V2(dir) => v2::is_frozen(dir),
        }
    }

    /// The v1 freezer if mounted, else cgroup2's cgroup.freeze (any non-root cgroup2
    /// directory has it, so this also covers a hybrid host without a v1 freezer).
    fn freezer(&self) -> Result<Freezer<'_>, CgroupError> {
        if let Some(d) = self.paths.get("freezer") {
            Ok(Freezer::V1(d))
        } else if let Some(d) = self.paths.get("") {
            Ok(Freezer::V2(d))
        } else {
            let path = self.paths.values().next().cloned().unwrap_or_default();
            Err(CgroupError::Freeze { path, reason: "no freezer: neither a v1 freezer hierarchy nor cgroup2 is mounted".into() })
        }
    }

    /// Only a cgroup2 directory: a pure v2 host.
    pub fn is_unified(&self) -> bool {
        self.paths.len() == 1 && self.paths.contains_key("")
    }

    /// Each directory once (co-mounted controllers such as cpu,cpuacct share one).
    fn dirs(&self) -> BTreeSet<&PathBuf> {
        self.paths.values().collect()
    }

    /// A manager for an explicitly given layout (tests: a v2-only view of a hybrid host).
    #[cfg(test)]
    fn with_layout(layout: &layout::Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Self, CgroupError> {
        let own = layout::parse_proc_cgroup(&read_proc(layout::PROC_CGROUP)?);
        Ok(Self { paths: layout::container_paths(layout, &own, cgroups_path, id)?, created: Vec::new(), systemd: None })
    }
}

/// cgroup v2: the controllers the config needs enabled in every ancestor (as runc and crun
/// do), then the limits.
fn apply_unified(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    subtree::enable_in_ancestors(dir, r)?;
    v2::apply(dir, r)
}

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// The layout-dependent checks of `validate`; `kind` is None when the layout is unknown.
fn validate_for(kind: Option<Kind>, r: &LinuxResources) -> Result<(), CgroupError> {
    let invalid = |field: &str, reason: String| Err(CgroupError::Invalid { field: field.into(), reason });
    let unified = kind == Some(Kind::Unified);
    if let Some(m) = r.memory() {
        if let Some(s) = m.swappiness() {
            // u64::MAX is -1 cast by some engines: "unset", as runc reads it.
            if s > 100 && s != u64::MAX {
                return invalid("linux.resources.memory.swappiness", format!("{s} is out of range (0-100)"));
            }
        }
        let (limit, swap) = (m.limit().unwrap_or(0), m.swap().unwrap_or(0));
        if unified {
            if let Err(reason) = v2::swap_max(limit, swap) {
                return invalid("linux.resources.memory.swap", reason);
            }
        } else if limit == 0 && swap > 0 {
            // memory+swap below the (unlimited) memory limit: the kernel refuses it.
            return invalid("linux.resources.memory.swap", "a swap limit needs a memory limit (it is the memory+swap limit)".into());
        } else if limit > 0 && swap > 0 && swap < limit {
            return invalid("linux.resources.memory.swap", format!("{swap} is below memory.limit {limit} (swap is the memory+swap limit)"));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            // cgroup v1 clamps to [2, 262144], which runc reports as an error after reading the
            // value back; v2 converts a value to a weight, 1 for anything up to 2 (runc's
            // conversion). Above 262144 (weight 10000, the most there is) runc >= 1.2 clamps
            // on v2; hull refuses it on both, so one config means the same everywhere and a
            // value such as 2^64-1 (a -1 cast by an engine) shows as the mistake it is.
            if s != 0 && (s > 262_144 || !unified && s < 2) {
                return invalid("linux.resources.cpu.shares", format!("{s} is out of range (2-262144)"));
            }
        }
        // The kernel's bounds for CFS bandwidth, in microseconds; 0 means unset, as in runc.
        if let Some(p) = c.period() {
            if p != 0 && !(1_000..=1_000_000).contains(&p) {
                return invalid("linux.resources.cpu.period", format!("{p} is out of range (1000-1000000 microseconds)"));
            }
        }
        if let Some(q) = c.quota() {
            if q > 0 && q < 1_000 {
                return invalid("linux.resources.cpu.quota", format!("{q} is below the minimum of 1000 microseconds"));
            }
        }
        if unified {
            for (name, set) in [
                ("realtimeRuntime", c.realtime_runtime().is_some_and(|v| v != 0)),
                ("realtimePeriod", c.realtime_period().is_some_and(|v| v != 0)),
            ] {
                if set {
                    return invalid(&format!("linux.resources.cpu.{name}"), "cgroup v2 has no realtime CPU bandwidth control".into());
                }
            }
        }
    }
    // The rules, and what they add up to (a hole punched in a wildcard rule is refused).
    devices::Policy::from_rules(&devices::rules(r)?)?;
    if let Some(u) = r.unified() {
        if !u.is_empty() && kind.is_some() && !unified {
            return invalid("linux.resources.unified", "needs a pure cgroup v2 host (cgroup v1 does not support unified resources)".into());
        }
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            if let Err(reason) = unified_key_ok(k) {
                return invalid(&format!("linux.resources.unified[{k:?}]"), reason);
            }
        }
    }
    if let Some(b) = r.block_io() {
        validate_blkio(b)?;
        let leaf =
            b.leaf_weight().is_some_and(|w| w != 0) || b.weight_device().iter().flatten().any(|w| w.leaf_weight().is_some_and(|w| w != 0));
        if unified && leaf {
            // runc ignores them there; a limit asked for and not applied is refused instead.
            return invalid("linux.resources.blockIO.leafWeight", "cgroup v2 has no leaf weights (a CFQ feature of cgroup v1)".into());
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        if !valid_page_size(h.page_size()) {
            return invalid(
                &format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!("{:?} is not a huge page size (a number and KB, MB, GB, TB or PB: \"2MB\")", h.page_size()),
            );
        }
        if h.limit() < -1 {
            return invalid(
                &format!("linux.resources.hugepageLimits[{i}].limit"),
                format!("{} is negative (only -1, unlimited, is allowed)", h.limit()),
            );
        }
    }
    if let Some(n) = r.network() {
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            if p.name().is_empty() || p.name().len() > 15 || p.name().chars().any(|c| c.is_whitespace() || c == '/' || c == ':') {
                return invalid(
                    &format!("linux.resources.network.priorities[{i}].name"),
                    format!("{:?} is not a network interface name", p.name()),
                );
            }
        }
        if unified && (n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())) {
            let f = if n.class_id().is_some() { "linux.resources.network.classID" } else { "linux.resources.network.priorities" };
            return invalid(f, "cgroup v2 has no net_cls/net_prio controllers (use eBPF or nftables on the cgroup instead)".into());
        }
    }
    for dev in r.rdma().iter().flat_map(|m| m.keys()) {
        if dev.is_empty() || dev.chars().any(|c| c.is_whitespace() || c == '/') {
            return invalid(&format!("linux.resources.rdma[{dev:?}]"), "is not an RDMA device name".into());
        }
    }
    if let Some(idle) = r.cpu().as_ref().and_then(|c| c.idle()) {
        if !(0..=1).contains(&idle) {
            return invalid("linux.resources.cpu.idle", format!("{idle} is out of range (0 or 1)"));
        }
    }
    Ok(())
}

/// "2MB", "64KB", "1GB": digits and a unit, as hugetlb's file names spell sizes.
fn valid_page_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
        && ["KB", "MB", "GB", "TB", "PB"].contains(&unit)
}

/// Weights in the kernel's range [10, 1000] (0 is unset); device numbers not negative.
fn validate_blkio(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let weight = |field: String, w: Option<u16>| match w {
        Some(w) if w != 0 && !(10..=1000).contains(&w) => {
            Err(CgroupError::Invalid { field, reason: format!("{w} is out of range (10-1000)") })
        }
        _ => Ok(()),
    };
    let device = |field: String, major: i64, minor: i64| {
        if major < 0 || minor < 0 || major > u32::MAX as i64 || minor > u32::MAX as i64 {
            Err(CgroupError::Invalid { field, reason: format!("{major}:{minor} is not a device number") })
        } else {
            Ok(())
        }
    };
    weight("linux.resources.blockIO.weight".into(), b.weight())?;
    weight("linux.resources.blockIO.leafWeight".into(), b.leaf_weight())?;
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = format!("linux.resources.blockIO.weightDevice[{i}]");
        device(f.clone(), d.major(), d.minor())?;
        weight(format!("{f}.weight"), d.weight())?;
        weight(format!("{f}.leafWeight"), d.leaf_weight())?;
    }
    for (name, list, _) in throttle_lists(b) {
        for (i, t) in list.iter().enumerate() {
            device(format!("linux.resources.blockIO.{name}[{i}]"), t.major(), t.minor())?;
        }
    }
    Ok(())
}

/// The controllers of the cgroup2 root above `dir` (the topmost ancestor with a
/// cgroup.controllers): what the host has, whatever is delegated below it.
fn v2_root_controllers(dir: &Path) -> Vec<String> {
    let root = dir.ancestors().filter(|a| a.join("cgroup.controllers").exists()).last();
    root.and_then(|r| fs::read_to_string(r.join("cgroup.controllers")).ok())
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The huge page sizes of this host as hugetlb spells them ("2MB", "1GB"), from
/// /sys/kernel/mm/hugepages/hugepages-<kB>kB.
fn host_hugepage_sizes() -> Vec<String> {
    let Ok(rd) = fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<u64> =
        rd.flatten().filter_map(|e| e.file_name().to_str()?.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()).collect();
    sizes.sort_unstable();
    sizes.into_iter().map(hugepage_name).collect()
}

/// A size in KiB as the kernel names hugetlb files: the largest unit that divides it.
fn hugepage_name(kb: u64) -> String {
    let units = ["KB", "MB", "GB", "TB", "PB"];
    let (mut v, mut u) = (kb, 0);
    while v >= 1024 && v % 1024 == 0 && u + 1 < units.len() {
        v /= 1024;
        u += 1;
    }
    format!("{v}{}", units[u])
}

/// A `unified` key hull writes: a plain file name of the form CONTROLLER.PARAMETER, and not
/// one of the files that move processes or change the cgroup itself rather than set a
/// limit (hull manages those; writing cgroup.procs from a config would pull arbitrary host
/// processes into the container's cgroup).
fn unified_key_ok(k: &str) -> Result<(), String> {
    const MANAGED: &[&str] = &[
        "cgroup.procs",
        "cgroup.threads",
        "cgroup.subtree_control",
        "cgroup.type",
        "cgroup.freeze",
        "cgroup.kill",
        "cgroup.events",
        "cgroup.controllers",
    ];
    if k.is_empty() || k.contains('/') || k.contains('\0') || k == "." || k == ".." {
        return Err("must be a cgroup file name (no path separators)".into());
    }
    match k.split_once('.') {
        Some((c, p)) if !c.is_empty() && !p.is_empty() => {}
        _ => return Err("must be of the form CONTROLLER.PARAMETER (e.g. memory.high)".into()),
    }
    if MANAGED.contains(&k) {
        return Err(format!("{k} is managed by the runtime, not a resource limit"));
    }
    Ok(())
}

/// Whether `b` asks for nothing (0 weights are "unset", as in runc).
fn blkio_is_empty(b: &LinuxBlockIo) -> bool {
    b.weight().unwrap_or(0) == 0
        && b.leaf_weight().unwrap_or(0) == 0
        && b.weight_device().as_ref().is_none_or(|v| v.is_empty())
        && throttle_lists(b).iter().all(|(_, l, _)| l.is_empty())
}

/// The four throttle lists as (JSON name, entries, v1 file stem).
fn throttle_lists(b: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice], &'static str); 4] {
    [
        ("throttleReadBpsDevice", list(b.throttle_read_bps_device()), "read_bps"),
        ("throttleWriteBpsDevice", list(b.throttle_write_bps_device()), "write_bps"),
        ("throttleReadIOPSDevice", list(b.throttle_read_iops_device()), "read_iops"),
        ("throttleWriteIOPSDevice", list(b.throttle_write_iops_device()), "write_iops"),
    ]
}

fn list(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
    v.as_deref().unwrap_or(&[])
}

/// The rdma.max line of one device ("mlx4_0 hca_handle=2 hca_object=max"; unset is "max").
fn rdma_line(dev: &str, l: &LinuxRdma) -> String {
    let v = |n: Option<u32>| n.map_or_else(|| "max".to_string(), |n| n.to_string());
    format!("{dev} hca_handle={} hca_object={}", v(l.hca_handles()), v(l.hca_objects()))
}

/// The hugetlb limit `h` (`suffix` is ".limit_in_bytes" on v1, ".max" on v2), and the same
/// for reservations (`hugetlb.<size>.rsvd<suffix>`, kernel >= 5.7) where the kernel has them,
/// as runc does: a limit on faults alone can be dodged by reserving.
fn write_hugetlb(dir: &Path, h: &LinuxHugepageLimit, suffix: &str, field: &str) -> Result<(), CgroupError> {
    // -1 is unlimited (validated: nothing below it).
    let v = if h.limit() < 0 {
        if suffix == ".max" {
            "max".to_string()
        } else {
            "-1".to_string()
        }
    } else {
        h.limit().to_string()
    };
    let file = format!("hugetlb.{}{suffix}", h.page_size());
    match write_raw(&dir.join(&file), &v) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(CgroupError::Invalid {
                field: format!("{field}.pageSize"),
                reason: format!("{} does not exist: no {} huge pages on this host", dir.join(&file).display(), h.page_size()),
            })
        }
        Err(e) => return Err(write_error(dir, &file, &v, field, e)),
    }
    let rsvd = format!("hugetlb.{}.rsvd{suffix}", h.page_size());
    match write_raw(&dir.join(&rsvd), &v) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(write_error(dir, &rsvd, &v, field, e)),
    }
}

/// `pid`'s cgroup v2 path (`/system.slice/x.scope`).
fn v2_cgroup_of(pid: i32) -> Result<String, CgroupError> {
    let own = read_proc(&format!("/proc/{pid}/cgroup"))?;
    Ok(layout::parse_proc_cgroup(&own).into_iter().find(|l| l.controllers.is_empty()).map(|l| l.path).unwrap_or_default())
}

/// Waits up to 30 s for `pid` to be in the cgroup `want` (relative to the root); returns where
/// it is. A user's systemd manager may not move a process from a cgroup outside its own subtree
/// itself: it asks the system manager to (AttachProcessesToUnit) and does not wait for the
/// answer, so its job or call is done before the process has moved.
fn wait_in_cgroup(pid: i32, want: &str) -> Result<String, CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = v2_cgroup_of(pid)?;
        if got.trim_start_matches('/') == want || Instant::now() >= deadline {
            return Ok(got);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_proc(path: &str) -> Result<String, CgroupError> {
    crate::sys::read_proc_text(path).map_err(|source| CgroupError::Io { path: path.into(), source })
}

/// One write(2) of `value` to an existing cgroup file (never O_CREAT: a missing file means
/// a missing controller, which must show as ENOENT).
fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    fs::OpenOptions::new().write(true).open(path)?.write_all(value.as_bytes())
}

/// Writes `value` to `dir/file`; an error names the file and the config field.
fn write_file(dir: &Path, file: &str, value: &str, field: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    write_raw(&path, value).map_err(|source| CgroupError::Write { path, field: field.into(), value: value.into(), source })
}

fn write_error(dir: &Path, file: &str, value: &str, field: &str, source: io::Error) -> CgroupError {
    CgroupError::Write { path: dir.join(file), field: field.into(), value: value.into(), source }
}

/// Writes `value`; when the kernel says EINVAL and `later` (the value it depends on will be
/// written next), returns the value to write again afterwards instead of failing.
pub(crate) fn deferrable(dir: &Path, file: &str, value: &str, field: &str, later: bool) -> Result<Option<String>, CgroupError> {
    match write_raw(&dir.join(file), value) {
        Ok(()) => Ok(None),
        Err(e) if later && e.raw_os_error() == Some(libc::EINVAL) => Ok(Some(value.to_string())),
        Err(e) => Err(write_error(dir, file, value, field, e)),
    }
}

fn read_file(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| CgroupError::Io { path, source })
}

/// The pids in cgroup `dir` and every cgroup below it; a directory that is gone has none.
fn procs_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut pids = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let procs = d.join("cgroup.procs");
        match fs::read_to_string(&procs) {
            Ok(t) => pids.extend(t.split_whitespace().filter_map(|p| p.parse::<i32>().ok())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CgroupError::Io { path: procs, source }),
        }
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CgroupError::Io { path: d, source }),
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// rmdir `dir`'s child cgroups (deepest first), then `dir`.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    // Usually the directory is empty and its processes gone: one rmdir. Otherwise (child
    // cgroups the container made, processes still leaving) the children go first, then the
    // directory, retried while the kernel says busy.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    rmdir_retrying(dir)
}

/// rmdir, retried for up to 5 s while the kernel says EBUSY: a killed container's processes
/// take a moment to leave the cgroup (cgroup.kill only queues the signals; hundreds of
/// exiting processes on a loaded machine take longer than runc's ~150 ms of retries).
fn rmdir_retrying(dir: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => return Err(CgroupError::Io { path: dir.to_path_buf(), source }),
        }
    }
}
