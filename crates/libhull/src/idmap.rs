//! idmapped mounts (`mounts[].uidMappings`/`gidMappings`, options `idmap`/`ridmap`).
//!
//! Runs in hull before the init is cloned: giving a mount an idmapping (mount_setattr with
//! MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user namespace of the filesystem, the host's,
//! which the container's init does not have once it is in a user namespace. hull makes each
//! idmapped mount detached (open_tree + mount_setattr); the init inherits the fds and only
//! attaches them where the config says (`rootfs::prepare`).

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::procfs::ProcFs;
use crate::spec::{mounts::IdMapPlan, Plan};
use crate::sys;

/// The detached idmapped mounts of `plan`, by index in `mounts`.
pub fn prepare(plan: &Plan, procfs: &ProcFs) -> Result<BTreeMap<usize, OwnedFd>, String> {
    let mut out = BTreeMap::new();
    // One user namespace per distinct mapping.
    let mut userns: BTreeMap<(String, String), OwnedFd> = BTreeMap::new();
    for m in &plan.mounts {
        let Some(idmap) = &m.idmap else { continue };
        let field = format!("mounts[{}]", m.index);
        let ns = match &idmap.userns_path {
            Some(p) => std::fs::File::open(p).map(OwnedFd::from).map_err(|e| format!("{field}: {}: {e}", p.display()))?,
            None => {
                let key = (idmap.uid_map.clone(), idmap.gid_map.clone());
                if let Some(fd) = userns.get(&key) {
                    fd.try_clone().map_err(|e| format!("{field}: {e}"))?
                } else {
                    let fd = mapped_userns(idmap, procfs).map_err(|e| format!("{field}.uidMappings: making its user namespace: {e}"))?;
                    let copy = fd.try_clone().map_err(|e| format!("{field}: {e}"))?;
                    userns.insert(key, fd);
                    copy
                }
            }
        };
        let src = m.source.as_deref().unwrap_or(Path::new(""));
        let mut flags = libc::OPEN_TREE_CLONE;
        if matches!(m.kind, crate::spec::mounts::MountKind::Bind { recursive: true }) {
            flags |= libc::AT_RECURSIVE as u32;
        }
        let tree = sys::open_tree(nix::fcntl::AT_FDCWD, src, flags).map_err(|e| format!("{field}.source: {}: {e}", src.display()))?;
        sys::mount_setattr_idmap(tree.as_fd(), idmap.recursive, ns.as_fd()).map_err(|e| {
            let hint =
                if e.raw_os_error() == Some(libc::EINVAL) { " (the filesystem of the source may not support idmapped mounts)" } else { "" };
            format!("{field}: idmapping {}: {e}{hint}", src.display())
        })?;
        out.insert(m.index, tree);
    }
    Ok(out)
}

/// A user namespace with the mount's mappings, held by an fd: a child is cloned into a new
/// user namespace, hull writes its maps, opens its ns/user and lets it exit.
fn mapped_userns(idmap: &IdMapPlan, procfs: &ProcFs) -> Result<OwnedFd, String> {
    let (wait_r, wait_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (pid, _) = sys::clone3(&sys::Clone3 { flags: libc::CLONE_NEWUSER as u64, cgroup: None, want_pidfd: false })
        .map_err(|e| format!("clone3(CLONE_NEWUSER): {e}"))?;
    if pid == 0 {
        // The child only exists to own the namespace: wait for hull's end to close, leave.
        drop(wait_w);
        let mut b = [0u8; 1];
        let _ = nix::unistd::read(&wait_r, &mut b);
        sys::exit_now(0);
    }
    drop(wait_r);
    let r = (|| {
        procfs.write(&format!("{pid}/uid_map"), idmap.uid_map.as_bytes()).map_err(|e| format!("uid_map: {e}"))?;
        procfs.write(&format!("{pid}/gid_map"), idmap.gid_map.as_bytes()).map_err(|e| format!("gid_map: {e}"))?;
        procfs.open_ns(Some(pid), "user").map_err(|e| format!("/proc/{pid}/ns/user: {e}"))
    })();
    drop(wait_w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    r
}
