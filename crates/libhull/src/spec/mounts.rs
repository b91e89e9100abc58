//! Mount entries of the config, checked and turned into what the rootfs code needs:
//! the kind of mount, its MOUNT_ATTR_* flags, propagation and filesystem options.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::{invalid, SpecError};
use crate::lsm::MountLabeling;

/// How a mount is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of a host path (`rbind` = with everything mounted below it).
    Bind { recursive: bool },
    /// A new filesystem instance of `fstype`.
    Fs,
}

/// One checked mount.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Index in `mounts`, for error messages.
    pub index: usize,
    pub destination: PathBuf,
    /// Host path for binds (absolute), or the source string for filesystems.
    pub source: Option<PathBuf>,
    pub fstype: String,
    pub kind: MountKind,
    /// MOUNT_ATTR_* to set on the mount itself.
    pub attr_set: u64,
    /// MOUNT_ATTR_* to clear (e.g. `rw`, `suid`).
    pub attr_clr: u64,
    /// MOUNT_ATTR_* set recursively (`rro`, `rnosuid`, ...).
    pub rec_set: u64,
    pub rec_clr: u64,
    /// MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE, with MS_REC for r-variants; 0 = none.
    pub propagation: u64,
    /// Filesystem options passed to fsconfig: `key` or `key=value`.
    pub data: Vec<String>,
    /// `linux.mountLabel`, to set as the `security.selinux` xattr of the mount's root once
    /// mounted (mqueue; other filesystems get it as `context=` in `data`).
    pub root_label: Option<String>,
    /// An idmapped bind mount: its ids are shown through these mappings.
    pub idmap: Option<IdMapPlan>,
}

/// The id mappings of an idmapped mount (`mounts[].uidMappings`/`gidMappings`, or the options
/// `idmap`/`ridmap`). A file owned on disk by `containerID + n` is seen as `hostID + n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapPlan {
    /// Mappings as uid_map/gid_map take them: `containerID hostID size` lines.
    pub uid_map: String,
    pub gid_map: String,
    /// A user namespace to take the mappings from instead (the container's, joined by path).
    pub userns_path: Option<PathBuf>,
    /// `ridmap`: every mount below the bind too.
    pub recursive: bool,
}

fn map_text(maps: &[oci_spec::runtime::LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

impl MountPlan {
    /// The JSON path of this mount's field.
    pub fn field(&self, f: &str) -> String {
        format!("mounts[{}].{f}", self.index)
    }
}

/// MS_* propagation flag of a name (`rprivate`, `shared`, ...).
pub fn propagation_flag(name: &str) -> Option<u64> {
    let rec = libc::MS_REC;
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | rec,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | rec,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | rec,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// A mount flag option: (attribute, true when the option sets it / false when it clears it).
fn attr_option(name: &str) -> Option<(u64, bool)> {
    Some(match name {
        "ro" => (libc::MOUNT_ATTR_RDONLY, true),
        "rw" => (libc::MOUNT_ATTR_RDONLY, false),
        "nosuid" => (libc::MOUNT_ATTR_NOSUID, true),
        "suid" => (libc::MOUNT_ATTR_NOSUID, false),
        "nodev" => (libc::MOUNT_ATTR_NODEV, true),
        "dev" => (libc::MOUNT_ATTR_NODEV, false),
        "noexec" => (libc::MOUNT_ATTR_NOEXEC, true),
        "exec" => (libc::MOUNT_ATTR_NOEXEC, false),
        "noatime" => (libc::MOUNT_ATTR_NOATIME, true),
        "atime" => (libc::MOUNT_ATTR_NOATIME, false),
        "relatime" => (libc::MOUNT_ATTR_RELATIME, true),
        "norelatime" => (libc::MOUNT_ATTR_RELATIME, false),
        "strictatime" => (libc::MOUNT_ATTR_STRICTATIME, true),
        "nostrictatime" => (libc::MOUNT_ATTR_STRICTATIME, false),
        "nodiratime" => (libc::MOUNT_ATTR_NODIRATIME, true),
        "diratime" => (libc::MOUNT_ATTR_NODIRATIME, false),
        "nosymfollow" => (libc::MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (libc::MOUNT_ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

/// Options that are accepted and have no effect on the new mount API path.
fn ignored_option(name: &str) -> bool {
    matches!(name, "defaults" | "async" | "loud" | "nomand" | "bind" | "rbind" | "remount" | "tmpcopyup" | "nolazytime" | "noiversion")
}

const ATIME_MASK: u64 = libc::MOUNT_ATTR__ATIME;

/// Checks every entry of `mounts` and classifies its options.
pub fn plan_mounts(spec: &Spec, bundle: &Path) -> Result<Vec<MountPlan>, SpecError> {
    let mut out = Vec::new();
    let mount_label = spec.linux().as_ref().and_then(|l| l.mount_label().as_deref()).filter(|l| !l.is_empty());
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        if dest.as_os_str().is_empty() {
            return Err(invalid(format!("mounts[{i}].destination"), "is empty"));
        }
        super::check_path_string(&format!("mounts[{i}].destination"), dest)?;
        if !dest.is_absolute() {
            return Err(invalid(format!("mounts[{i}].destination"), format!("{} must be an absolute path", dest.display())));
        }
        let opts = m.options().clone().unwrap_or_default();
        let fstype = m.typ().clone().unwrap_or_default();
        let bind = opts.iter().any(|o| o == "bind" || o == "rbind") || fstype == "bind";
        let recursive = opts.iter().any(|o| o == "rbind");
        let mut plan = MountPlan {
            index: i,
            destination: dest.clone(),
            source: m.source().clone(),
            fstype: fstype.clone(),
            kind: if bind { MountKind::Bind { recursive } } else { MountKind::Fs },
            attr_set: 0,
            attr_clr: 0,
            rec_set: 0,
            rec_clr: 0,
            propagation: 0,
            data: Vec::new(),
            root_label: None,
            idmap: None,
        };
        let mut idmap_option = None;
        for o in &opts {
            let o = o.as_str();
            if let Some(p) = propagation_flag(o) {
                plan.propagation = p;
            } else if let Some((attr, set)) = attr_option(o) {
                apply_attr(&mut plan.attr_set, &mut plan.attr_clr, attr, set);
            } else if let Some((attr, set)) = o.strip_prefix('r').and_then(attr_option) {
                apply_attr(&mut plan.rec_set, &mut plan.rec_clr, attr, set);
            } else if ignored_option(o) {
            } else if o == "idmap" || o == "ridmap" {
                idmap_option = Some(o == "ridmap");
            } else if bind {
                return Err(invalid(
                    format!("mounts[{i}].options"),
                    format!("{o:?} is not a mount flag (a bind mount takes no filesystem options)"),
                ));
            } else {
                plan.data.push(o.to_string());
            }
        }
        if bind {
            let src = m.source().as_ref().ok_or_else(|| invalid(format!("mounts[{i}].source"), "a bind mount needs a source"))?;
            let src = if src.is_absolute() { src.clone() } else { bundle.join(src) };
            if let Err(e) = std::fs::metadata(&src) {
                return Err(invalid(format!("mounts[{i}].source"), format!("{}: {e}", src.display())));
            }
            plan.source = Some(src);
        } else if fstype.is_empty() {
            return Err(invalid(format!("mounts[{i}].type"), "missing: a mount that is not a bind mount needs a filesystem type"));
        } else if let Some(label) = mount_label {
            // As runc: the label as the filesystem's context, unless the options choose one.
            match crate::lsm::mount_labeling(&fstype) {
                MountLabeling::ContextOption if !crate::lsm::has_context_option(&plan.data) => plan.data.push(format!("context={label}")),
                MountLabeling::RootXattr => plan.root_label = Some(label.to_string()),
                _ => {}
            }
        }
        plan.idmap = plan_idmap(spec, m, i, bind, idmap_option)?;
        out.push(plan);
    }
    Ok(out)
}

/// The idmapping of mount `i`, checked as runc does: bind mounts only, uid and gid mappings
/// both or neither; `idmap`/`ridmap` without mappings take the container's user namespace.
fn plan_idmap(
    spec: &Spec,
    m: &oci_spec::runtime::Mount,
    i: usize,
    bind: bool,
    option: Option<bool>,
) -> Result<Option<IdMapPlan>, SpecError> {
    let uids = m.uid_mappings().as_deref().unwrap_or(&[]);
    let gids = m.gid_mappings().as_deref().unwrap_or(&[]);
    if uids.is_empty() && gids.is_empty() && option.is_none() {
        return Ok(None);
    }
    let field = |f: &str| format!("mounts[{i}].{f}");
    if !bind {
        return Err(invalid(field("uidMappings"), "idmapped mounts are only supported for bind mounts"));
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(invalid(field("uidMappings"), "idmapped mounts need root on the host (not rootless)"));
    }
    if uids.is_empty() != gids.is_empty() {
        let f = if uids.is_empty() { "uidMappings" } else { "gidMappings" };
        return Err(invalid(field(f), "an idmapped mount needs both uidMappings and gidMappings"));
    }
    for (name, maps) in [("uidMappings", uids), ("gidMappings", gids)] {
        for (j, mp) in maps.iter().enumerate() {
            if mp.size() == 0 {
                return Err(invalid(field(&format!("{name}[{j}].size")), "must be greater than 0"));
            }
        }
    }
    let recursive = option.unwrap_or(false);
    if !uids.is_empty() {
        return Ok(Some(IdMapPlan { uid_map: map_text(uids), gid_map: map_text(gids), userns_path: None, recursive }));
    }
    // `idmap`/`ridmap` alone: the container's own mappings.
    let l = spec.linux().as_ref();
    let userns =
        l.and_then(|l| l.namespaces().as_ref()).and_then(|n| n.iter().find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User));
    let Some(userns) = userns else {
        return Err(invalid(field("options"), "\"idmap\" without mappings takes the container's user namespace, and it has none"));
    };
    if let Some(p) = userns.path() {
        return Ok(Some(IdMapPlan { uid_map: String::new(), gid_map: String::new(), userns_path: Some(p.clone()), recursive }));
    }
    let (u, g) = (l.and_then(|l| l.uid_mappings().as_deref()).unwrap_or(&[]), l.and_then(|l| l.gid_mappings().as_deref()).unwrap_or(&[]));
    Ok(Some(IdMapPlan { uid_map: map_text(u), gid_map: map_text(g), userns_path: None, recursive }))
}

fn apply_attr(set: &mut u64, clr: &mut u64, attr: u64, on: bool) {
    // The atime modes are one field: choosing one clears the others.
    if attr & ATIME_MASK != 0 || attr == libc::MOUNT_ATTR_RELATIME {
        if on {
            *set &= !ATIME_MASK;
            *clr |= ATIME_MASK;
            *set |= attr;
        }
        return;
    }
    if on {
        *set |= attr;
        *clr &= !attr;
    } else {
        *clr |= attr;
        *set &= !attr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(mounts: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.0.0", "mounts": mounts})).unwrap()
    }

    #[test]
    fn options_are_classified() {
        let s = spec_with(serde_json::json!([
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "ro", "rnosuid", "rprivate"]}
        ]));
        let p = plan_mounts(&s, Path::new("/")).unwrap();
        assert_eq!(p[0].kind, MountKind::Fs);
        assert_eq!(p[0].attr_set & libc::MOUNT_ATTR_NOSUID, libc::MOUNT_ATTR_NOSUID);
        assert_eq!(p[0].attr_set & ATIME_MASK, libc::MOUNT_ATTR_STRICTATIME);
        assert_eq!(p[0].data, vec!["mode=755", "size=65536k"]);
        assert_eq!(p[1].kind, MountKind::Bind { recursive: true });
        assert_eq!(p[1].attr_set, libc::MOUNT_ATTR_RDONLY);
        assert_eq!(p[1].rec_set, libc::MOUNT_ATTR_NOSUID);
        assert_eq!(p[1].propagation, libc::MS_PRIVATE | libc::MS_REC);
    }

    #[test]
    fn mount_label_is_the_context_of_filesystems_that_take_it() {
        let s: Spec = serde_json::from_value(serde_json::json!({"ociVersion": "1.0.0",
        "linux": {"mountLabel": "system_u:object_r:container_file_t:s0:c1,c2"},
        "mounts": [
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs"},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
            {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind"]},
            {"destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": ["rootcontext=own_t"]}
        ]}))
        .unwrap();
        let p = plan_mounts(&s, Path::new("/")).unwrap();
        let ctx = "context=system_u:object_r:container_file_t:s0:c1,c2".to_string();
        assert_eq!(p[0].data, ["mode=755".to_string(), ctx.clone()]);
        assert_eq!(p[1].data, ["newinstance".to_string(), ctx]);
        assert!(p[2].data.is_empty());
        assert_eq!(p[2].root_label.as_deref(), Some("system_u:object_r:container_file_t:s0:c1,c2"));
        for m in &p[3..7] {
            assert!(m.data.iter().all(|o| !o.starts_with("context=")) && m.root_label.is_none(), "{}", m.destination.display());
        }
        assert_eq!(p[7].data, ["rootcontext=own_t"]);
        // No label, no option.
        let s: Spec = serde_json::from_value(serde_json::json!({"ociVersion": "1.0.0", "linux": {"mountLabel": ""},
            "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}]}))
        .unwrap();
        let p = plan_mounts(&s, Path::new("/")).unwrap();
        assert!(p[0].data.is_empty() && p[0].root_label.is_none());
    }

    #[test]
    fn bad_mounts_name_the_field() {
        let s = spec_with(serde_json::json!([{"destination": "rel", "type": "tmpfs"}]));
        assert!(plan_mounts(&s, Path::new("/")).unwrap_err().to_string().starts_with("mounts[0].destination"));
        let s = spec_with(serde_json::json!([{"destination": "/a", "type": "bind", "source": "/nonexistent-hull", "options": ["bind"]}]));
        assert!(plan_mounts(&s, Path::new("/")).unwrap_err().to_string().starts_with("mounts[0].source"));
    }

    #[test]
    fn idmap_rules() {
        let m = |extra: serde_json::Value| {
            let mut mnt = serde_json::json!({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["bind"]});
            for (k, v) in extra.as_object().unwrap() {
                mnt[k] = v.clone();
            }
            plan_mounts(&spec_with(serde_json::json!([mnt])), Path::new("/"))
        };
        let maps = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 2}]);
        let p = m(serde_json::json!({"uidMappings": maps, "gidMappings": maps})).unwrap();
        let idm = p[0].idmap.as_ref().unwrap();
        assert_eq!((idm.uid_map.as_str(), idm.recursive), ("0 1000 2\n", false));
        let p = m(serde_json::json!({"uidMappings": maps, "gidMappings": maps, "options": ["rbind", "ridmap"]})).unwrap();
        assert!(p[0].idmap.as_ref().unwrap().recursive);
        let e = m(serde_json::json!({"uidMappings": maps})).unwrap_err().to_string();
        assert!(e.starts_with("mounts[0].gidMappings"), "{e}");
        let e = m(serde_json::json!({"type": "tmpfs", "source": "tmpfs", "options": [], "uidMappings": maps, "gidMappings": maps}));
        assert!(e.unwrap_err().to_string().starts_with("mounts[0].uidMappings"));
        // `idmap` alone needs the container's user namespace.
        let e = m(serde_json::json!({"options": ["bind", "idmap"]})).unwrap_err().to_string();
        assert!(e.starts_with("mounts[0].options"), "{e}");
        let zero = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
        let e = m(serde_json::json!({"uidMappings": zero, "gidMappings": maps})).unwrap_err().to_string();
        assert!(e.starts_with("mounts[0].uidMappings[0].size"), "{e}");
    }
}
