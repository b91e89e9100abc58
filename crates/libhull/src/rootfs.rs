//! rootfs: the container's mounts, devices, /dev links, pivot_root, masked and read-only paths.
//!
//! Runs in the container's init, in its new mount namespace. Every path inside the rootfs is
//! resolved with openat2(RESOLVE_IN_ROOT) from an fd of the root and every mount is attached
//! with move_mount() onto that fd, never through a path string, so a symlink in the image
//! (e.g. `/mnt/x -> /etc`) can only lead somewhere inside the rootfs (CVE-2019-18837,
//! CVE-2021-30465, CVE-2024-45310).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::spec::mounts::MountKind;
use crate::spec::{MountPlan, Plan};
use crate::sys;

/// Errors of rootfs setup; each names the mount or path.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{field}: {path}: {source}")]
    Mount { field: String, path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Path { path: PathBuf, source: io::Error },
    #[error("{field}: {reason}")]
    Refused { field: String, reason: String },
}

fn perr(path: &Path) -> impl FnOnce(io::Error) -> RootfsError + '_ {
    move |source| RootfsError::Path { path: path.to_path_buf(), source }
}

const RESOLVE_ROOT: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

fn rel(p: &Path) -> &Path {
    p.strip_prefix("/").unwrap_or(p)
}

/// Opens `path` inside the root `root` (O_PATH unless `flags` say otherwise).
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let r = rel(path);
    let r = if r.as_os_str().is_empty() { Path::new(".") } else { r };
    sys::openat2(root, r, flags, 0, RESOLVE_ROOT)
}

/// What to create at a mount point that does not exist.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Dir,
    File,
}

/// `mkdir -p` inside the root: every component is looked up in a directory already resolved
/// inside the root, symlinks are followed by hand with the root as `/` (so a dangling link in
/// the image leads to a directory made inside the root, never outside), and only plain names
/// are created. The last component is made a directory or an empty file. Returns an O_PATH
/// fd of the result.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &Path, leaf: Leaf) -> io::Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, libc::O_PATH) {
        return Ok(fd);
    }
    // The usual case, only the last component missing: its parent resolved in one openat2
    // (RESOLVE_IN_ROOT follows symlinks with the root as `/`, as the walk below does), the
    // name made there. Anything else (a missing parent, a dangling symlink as the last
    // component) takes the walk.
    if let (Some(parent), Some(Component::Normal(name))) = (path.parent(), path.components().next_back()) {
        if let Ok(dir) = open_in_root(root, parent, libc::O_RDONLY | libc::O_DIRECTORY) {
            if nix::fcntl::readlinkat(dir.as_fd(), name) == Err(nix::errno::Errno::ENOENT) {
                make_leaf(dir.as_fd(), name, leaf)?;
                return sys::openat2(dir.as_fd(), Path::new(name), libc::O_PATH, 0, libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS);
            }
        }
    }
    let comps = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect()
    };
    let mut pending: std::collections::VecDeque<std::ffi::OsString> = comps(path).into();
    let mut prefix: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    let joined = |p: &[std::ffi::OsString]| -> PathBuf { p.iter().collect::<PathBuf>() };
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            // `prefix` holds real directories only, so `..` is lexical, clamped at the root.
            prefix.pop();
            continue;
        }
        let dir = open_in_root(root, &joined(&prefix), libc::O_RDONLY | libc::O_DIRECTORY)?;
        match nix::fcntl::readlinkat(dir.as_fd(), name.as_os_str()) {
            Ok(target) => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    prefix.clear();
                }
                for c in comps(&target).into_iter().rev() {
                    pending.push_front(c);
                }
                continue;
            }
            Err(nix::errno::Errno::EINVAL) => {} // exists and is not a symlink
            Err(nix::errno::Errno::ENOENT) => make_leaf(dir.as_fd(), &name, if pending.is_empty() { leaf } else { Leaf::Dir })?,
            Err(e) => return Err(e.into()),
        }
        prefix.push(name);
    }
    open_in_root(root, &joined(&prefix), libc::O_PATH)
}

/// Makes `name` in `dir`: an empty file or a directory (one that appeared meanwhile is fine).
fn make_leaf(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, leaf: Leaf) -> io::Result<()> {
    let r = match leaf {
        Leaf::File => nix::fcntl::openat(
            dir,
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CLOEXEC
                | nix::fcntl::OFlag::O_NOFOLLOW,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .map(drop),
        Leaf::Dir => nix::sys::stat::mkdirat(dir, name, nix::sys::stat::Mode::from_bits_truncate(0o755)),
    };
    match r {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sets up the rootfs before pivot_root: propagation, the rootfs bind mount, the config's
/// mounts, devices and /dev links. Returns an fd of the rootfs mount.
/// `idmapped` holds the detached idmapped mounts hull made, by index in `mounts`.
pub fn prepare(
    plan: &Plan,
    cgroup_paths: &std::collections::BTreeMap<String, PathBuf>,
    rootless: bool,
    idmapped: &std::collections::BTreeMap<usize, OwnedFd>,
) -> Result<OwnedFd, RootfsError> {
    // Our copy of the host's mounts gets the config's propagation (default rslave: host
    // mounts still reach us, ours never reach the host).
    sys::mount(None, Path::new("/"), None, plan.rootfs_propagation, None).map_err(|e| RootfsError::Mount {
        field: "linux.rootfsPropagation".into(),
        path: "/".into(),
        source: e,
    })?;
    // If the mount holding the rootfs is still shared (a non-recursive propagation above), the
    // rootfs bind and every mount on it would propagate to the host, and pivot_root would
    // refuse: cut it off in our namespace (private when the config asks for a private or a
    // new shared tree, as runc does; else a slave, which still receives the host's mounts).
    if let Some(parent) = shared_mount_holding(&plan.rootfs) {
        let cut = if plan.rootfs_propagation & (libc::MS_PRIVATE | libc::MS_SHARED) != 0 { libc::MS_PRIVATE } else { libc::MS_SLAVE };
        sys::mount(None, &parent, None, cut, None).map_err(|e| RootfsError::Mount {
            field: "linux.rootfsPropagation".into(),
            path: parent.clone(),
            source: e,
        })?;
    }
    // The rootfs becomes a mount of its own (pivot_root needs one): a recursive bind onto itself.
    let cwd = nix::fcntl::AT_FDCWD;
    let tree = sys::open_tree(cwd, &plan.rootfs, libc::OPEN_TREE_CLONE | libc::AT_RECURSIVE as u32).map_err(perr(&plan.rootfs))?;
    let target = sys::openat2(cwd, &plan.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0, 0).map_err(perr(&plan.rootfs))?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(perr(&plan.rootfs))?;
    drop(target);
    // After the move, `tree` refers to the attached rootfs mount.
    let root = tree;

    for m in &plan.mounts {
        mount_one(root.as_fd(), m, plan, cgroup_paths, idmapped.get(&m.index))?;
    }
    // In a user namespace (the container's, or hull's own when rootless) mknod is refused.
    if rootless || plan.has_namespace(oci_spec::runtime::LinuxNamespaceType::User) {
        bind_devices(root.as_fd(), plan)?;
    } else {
        create_devices(root.as_fd(), plan)?;
    }
    dev_symlinks(root.as_fd())?;
    // A missing cwd is made now, while the root may still be written (as runc does).
    let cwd = plan.process().cwd();
    mkdir_all_in_root(root.as_fd(), cwd, Leaf::Dir).map_err(|e| RootfsError::Path { path: cwd.clone(), source: e })?;
    Ok(root)
}

/// The mount point of the mount that holds `path`, if that mount is shared.
fn shared_mount_holding(path: &Path) -> Option<PathBuf> {
    let info = crate::sys::read_proc_text("/proc/self/mountinfo").ok()?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(mp) = f.get(4).map(|m| PathBuf::from(unescape_mountinfo(m))) else { continue };
        if !path.starts_with(&mp) {
            continue;
        }
        let shared = f.iter().skip(6).take_while(|x| **x != "-").any(|x| x.starts_with("shared:"));
        // Later lines stack on earlier ones at the same point: >= keeps the topmost.
        if best.as_ref().is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len()) {
            best = Some((mp, shared));
        }
    }
    best.filter(|(_, shared)| *shared).map(|(p, _)| p)
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
pub(crate) fn unescape_mountinfo(s: &str) -> String {
    crate::cgroups::layout::unescape(s)
}

/// Refuses mounts over /proc that are not procfs (CVE-2019-16884, CVE-2019-19921): only
/// a few /proc files may be overlaid (what lxcfs does).
fn check_proc_destination(m: &MountPlan, d: &Path) -> Result<(), RootfsError> {
    if !d.starts_with("/proc") {
        return Ok(());
    }
    if d == Path::new("/proc") {
        if m.fstype == "proc" && m.kind == MountKind::Fs {
            return Ok(());
        }
        return Err(RootfsError::Refused { field: m.field("destination"), reason: "only a procfs may be mounted on /proc".into() });
    }
    const ALLOWED: [&str; 8] = [
        "/proc/cpuinfo",
        "/proc/diskstats",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/swaps",
        "/proc/uptime",
        "/proc/loadavg",
        "/proc/slabinfo",
    ];
    if ALLOWED.iter().any(|a| d == Path::new(a)) || d.starts_with("/proc/net/dev") {
        return Ok(());
    }
    Err(RootfsError::Refused {
        field: m.field("destination"),
        reason: format!("{} is below /proc and not a file that may be overlaid", d.display()),
    })
}

fn mount_one(
    root: BorrowedFd<'_>,
    m: &MountPlan,
    plan: &Plan,
    cgroup_paths: &std::collections::BTreeMap<String, PathBuf>,
    idmapped: Option<&OwnedFd>,
) -> Result<(), RootfsError> {
    check_proc_destination(m, &m.destination)?;
    let merr = |e: io::Error| RootfsError::Mount { field: format!("mounts[{}]", m.index), path: m.destination.clone(), source: e };
    // proc and sysfs go on real directories: a symlinked /proc in the image is refused
    // rather than followed (CVE-2023-28642).
    if matches!(m.fstype.as_str(), "proc" | "sysfs") && m.kind == MountKind::Fs {
        if let Err(e) = sys::openat2(root, rel(&m.destination), libc::O_PATH, 0, RESOLVE_ROOT | libc::RESOLVE_NO_SYMLINKS) {
            if e.raw_os_error() == Some(libc::ELOOP) {
                return Err(RootfsError::Refused {
                    field: m.field("destination"),
                    reason: format!(
                        "{} is a symlink in the rootfs; {} must be mounted on a real directory",
                        m.destination.display(),
                        m.fstype
                    ),
                });
            }
        }
    }
    let detached = match &m.kind {
        MountKind::Bind { recursive } => {
            let src = m.source.as_deref().unwrap_or(Path::new(""));
            let mut flags = libc::OPEN_TREE_CLONE;
            if *recursive {
                flags |= libc::AT_RECURSIVE as u32;
            }
            let tree = match idmapped {
                Some(fd) => fd.try_clone(),
                None => sys::open_tree(nix::fcntl::AT_FDCWD, src, flags),
            };
            let tree = tree.map_err(|e| RootfsError::Mount { field: m.field("source"), path: src.to_path_buf(), source: e })?;
            if m.attr_set != 0 || m.attr_clr != 0 {
                sys::mount_setattr(tree.as_fd(), false, m.attr_set, m.attr_clr, 0).map_err(merr)?;
            }
            tree
        }
        MountKind::Fs if m.fstype == "cgroup" => return mount_cgroup(root, m, plan, cgroup_paths),
        MountKind::Fs => fs_mount(m).map_err(merr)?,
    };
    if m.rec_set != 0 || m.rec_clr != 0 {
        sys::mount_setattr(detached.as_fd(), true, m.rec_set, m.rec_clr, 0).map_err(merr)?;
    }
    let leaf = match &m.kind {
        MountKind::Bind { .. } if m.source.as_ref().is_some_and(|s| !s.is_dir()) => Leaf::File,
        _ => Leaf::Dir,
    };
    let target = mkdir_all_in_root(root, &m.destination, leaf).map_err(merr)?;
    // Symlinks in the image may lead the destination into /proc (CVE-2019-19921): check
    // where it really is. The fd is what gets mounted on, so nothing can change it after.
    let resolved = resolved_in_root(&target, &plan.rootfs).map_err(merr)?;
    check_proc_destination(m, &resolved)?;
    sys::move_mount_fd(detached.as_fd(), target.as_fd()).map_err(merr)?;
    if let Some(label) = &m.root_label {
        label_mount_root(detached.as_fd(), label).map_err(|e| RootfsError::Mount {
            field: "linux.mountLabel".into(),
            path: m.destination.clone(),
            source: e,
        })?;
    }
    if m.propagation != 0 {
        let rec = m.propagation & libc::MS_REC != 0;
        sys::mount_setattr(detached.as_fd(), rec, 0, 0, m.propagation & !libc::MS_REC).map_err(merr)?;
    }
    Ok(())
}

/// Gives the root of a mount (an mqueue's, which takes no `context=`) the SELinux label
/// `linux.mountLabel`; a filesystem without labels (ENOTSUP) keeps none, as runc.
fn label_mount_root(mnt: BorrowedFd<'_>, label: &str) -> io::Result<()> {
    // The mount fd is an O_PATH one, which fsetxattr refuses: open its root for real.
    let dir = sys::openat2(mnt, Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0, libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV)?;
    match sys::fsetxattr(dir.as_fd(), "security.selinux", label.as_bytes()) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(()),
        r => r,
    }
}

/// Where an fd inside the rootfs (before pivot_root) is, as a path from the container's `/`.
fn resolved_in_root(fd: &OwnedFd, rootfs: &Path) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    match real.strip_prefix(rootfs) {
        Ok(r) => Ok(Path::new("/").join(r)),
        Err(_) => Err(io::Error::other(format!("resolves outside the rootfs, to {}", real.display()))),
    }
}

/// A new filesystem instance, configured key by key with fsconfig().
fn fs_mount(m: &MountPlan) -> io::Result<OwnedFd> {
    let fs = sys::fsopen(&m.fstype)?;
    let with_msg = |e: io::Error, what: &str| -> io::Error {
        match sys::fs_context_message(fs.as_fd()) {
            Some(msg) => io::Error::new(e.kind(), format!("{what}: {e} ({msg})")),
            None => io::Error::new(e.kind(), format!("{what}: {e}")),
        }
    };
    if let Some(src) = &m.source {
        if let Some(s) = src.to_str() {
            // Not every filesystem takes a source; ignoring EINVAL matches mount(2), which
            // ignores it for pseudo filesystems.
            let _ = sys::fsconfig_set(fs.as_fd(), "source", Some(s));
        }
    }
    for opt in &m.data {
        let (k, v) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        sys::fsconfig_set(fs.as_fd(), k, v).map_err(|e| with_msg(e, &format!("option {opt:?}")))?;
    }
    sys::fsmount(fs.as_fd(), m.attr_set).map_err(|e| with_msg(e, "mount"))
}

/// The cgroup filesystem inside the container. On a cgroup v2 host, a cgroup2 instance (which
/// shows the container's own cgroup as root inside a cgroup namespace). On v1, a tmpfs with
/// each hierarchy's container directory bound in, as runc does. Read-only unless `rw` is asked.
fn mount_cgroup(
    root: BorrowedFd<'_>,
    m: &MountPlan,
    plan: &Plan,
    cgroup_paths: &std::collections::BTreeMap<String, PathBuf>,
) -> Result<(), RootfsError> {
    let merr = |e: io::Error| RootfsError::Mount { field: format!("mounts[{}]", m.index), path: m.destination.clone(), source: e };
    let target = mkdir_all_in_root(root, &m.destination, Leaf::Dir).map_err(merr)?;
    check_proc_destination(m, &resolved_in_root(&target, &plan.rootfs).map_err(merr)?)?;
    if is_unified_host() {
        let fs = sys::fsopen("cgroup2").map_err(merr)?;
        let mnt = sys::fsmount(fs.as_fd(), m.attr_set).map_err(merr)?;
        sys::move_mount_fd(mnt.as_fd(), target.as_fd()).map_err(merr)?;
        return Ok(());
    }
    let fs = sys::fsopen("tmpfs").map_err(merr)?;
    sys::fsconfig_set(fs.as_fd(), "mode", Some("755")).map_err(merr)?;
    let tmp = sys::fsmount(fs.as_fd(), libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC).map_err(merr)?;
    sys::move_mount_fd(tmp.as_fd(), target.as_fd()).map_err(merr)?;
    for (controller, host_dir) in cgroup_paths {
        if controller.is_empty() {
            continue;
        }
        // The hierarchy's directory name on the host (e.g. "cpu,cpuacct" for "cpu").
        let Some(hier) = hierarchy_dir_name(host_dir) else { continue };
        let dest = m.destination.join(&hier);
        if open_in_root(root, &dest, libc::O_PATH).is_ok() {
            continue; // co-mounted controllers share one directory
        }
        let tree = sys::open_tree(nix::fcntl::AT_FDCWD, host_dir, libc::OPEN_TREE_CLONE).map_err(merr)?;
        sys::mount_setattr(
            tree.as_fd(),
            false,
            m.attr_set | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC,
            m.attr_clr,
            0,
        )
        .map_err(merr)?;
        let t = mkdir_all_in_root(root, &dest, Leaf::Dir).map_err(merr)?;
        sys::move_mount_fd(tree.as_fd(), t.as_fd()).map_err(merr)?;
    }
    // Read-only tmpfs on top, unless `rw` was asked.
    if m.attr_set & libc::MOUNT_ATTR_RDONLY != 0 {
        sys::mount_setattr(tmp.as_fd(), false, libc::MOUNT_ATTR_RDONLY, 0, 0).map_err(merr)?;
    }
    Ok(())
}

/// True when /sys/fs/cgroup is a cgroup2 filesystem (a pure v2 host).
fn is_unified_host() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    std::fs::File::open("/sys/fs/cgroup").ok().and_then(|f| sys::fstatfs_magic(f.as_fd()).ok()) == Some(CGROUP2_SUPER_MAGIC)
}

/// The v1 hierarchy's directory under /sys/fs/cgroup that `host_dir` lies in ("cpu,cpuacct").
pub(crate) fn hierarchy_dir_name(host_dir: &Path) -> Option<String> {
    let rest = host_dir.strip_prefix("/sys/fs/cgroup").ok()?;
    rest.components().next().and_then(|c| c.as_os_str().to_str()).map(str::to_string)
}

/// The devices every container gets (runc's default auto-created devices).
fn default_devices() -> Vec<(&'static str, u32, u32)> {
    vec![("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/tty", 5, 0), ("/dev/urandom", 1, 9), ("/dev/random", 1, 8)]
}

struct DevNode {
    /// `linux.devices[i]`, or "default devices".
    field: String,
    path: PathBuf,
    kind: u32,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

fn device_nodes(plan: &Plan) -> Vec<DevNode> {
    let mut out: Vec<DevNode> = Vec::new();
    let cfg: Vec<LinuxDevice> = plan.spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default();
    for (p, ma, mi) in default_devices() {
        if cfg.iter().any(|d| d.path() == Path::new(p)) {
            continue;
        }
        out.push(DevNode {
            field: "default devices".into(),
            path: p.into(),
            kind: libc::S_IFCHR,
            major: ma,
            minor: mi,
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    }
    for (i, d) in cfg.into_iter().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        out.push(DevNode {
            field: format!("linux.devices[{i}]"),
            path: d.path().clone(),
            kind,
            major: d.major() as u32,
            minor: d.minor() as u32,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    out
}

/// mknod()s the default and configured devices under the rootfs's /dev.
fn create_devices(root: BorrowedFd<'_>, plan: &Plan) -> Result<(), RootfsError> {
    for d in device_nodes(plan) {
        let parent = d.path.parent().unwrap_or(Path::new("/dev"));
        let name = d.path.file_name().map(PathBuf::from).unwrap_or_default();
        let dir = mkdir_all_in_root(root, parent, Leaf::Dir).map_err(perr(parent))?;
        let dirfd = sys::openat2(dir.as_fd(), Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0, 0).map_err(perr(parent))?;
        // The umask must not trim the mode the config asked for.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let r = sys::mknodat(dirfd.as_fd(), &name, d.kind | d.mode, libc::makedev(d.major, d.minor));
        nix::sys::stat::umask(old);
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
            Err(e) => return Err(RootfsError::Mount { field: d.field.clone(), path: d.path.clone(), source: e }),
        }
        let node = sys::openat2(dirfd.as_fd(), &name, libc::O_PATH | libc::O_NOFOLLOW, 0, libc::RESOLVE_BENEATH).map_err(perr(&d.path))?;
        sys::fchown_fd(node.as_fd(), d.uid, d.gid).map_err(perr(&d.path))?;
    }
    Ok(())
}

/// In a user namespace devices can't be made: bind-mount the host's instead.
fn bind_devices(root: BorrowedFd<'_>, plan: &Plan) -> Result<(), RootfsError> {
    for d in device_nodes(plan) {
        if open_in_root(root, &d.path, libc::O_PATH).is_ok() {
            continue;
        }
        let merr = |e: io::Error| RootfsError::Mount { field: d.field.clone(), path: d.path.clone(), source: e };
        // The host's node at the same path is bound in; it must be the device asked for.
        let tree = sys::open_tree(nix::fcntl::AT_FDCWD, &d.path, libc::OPEN_TREE_CLONE).map_err(merr)?;
        let st = sys::fstat(tree.as_fd()).map_err(merr)?;
        if st.st_mode & libc::S_IFMT != d.kind || libc::major(st.st_rdev) != d.major || libc::minor(st.st_rdev) != d.minor {
            return Err(RootfsError::Refused {
                field: d.field.clone(),
                reason: format!(
                    "{} on the host is {}:{}, not the device asked for ({}:{}); in a user namespace devices are bound from the host",
                    d.path.display(),
                    libc::major(st.st_rdev),
                    libc::minor(st.st_rdev),
                    d.major,
                    d.minor
                ),
            });
        }
        sys::mount_setattr(tree.as_fd(), false, libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC, 0, 0).map_err(merr)?;
        let target = mkdir_all_in_root(root, &d.path, Leaf::File).map_err(merr)?;
        sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(merr)?;
    }
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (and /dev/core if /proc/kcore is there).
fn dev_symlinks(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let dev = mkdir_all_in_root(root, Path::new("/dev"), Leaf::Dir).map_err(perr(Path::new("/dev")))?;
    let dirfd = sys::openat2(dev.as_fd(), Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0, 0).map_err(perr(Path::new("/dev")))?;
    let links = [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    for (target, name) in links {
        if name == "ptmx" {
            // An image's /dev/ptmx would shadow the container's devpts instance.
            let _ = nix::unistd::unlinkat(dirfd.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        match nix::unistd::symlinkat(target, dirfd.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(perr(&Path::new("/dev").join(name))(e.into())),
        }
    }
    Ok(())
}

/// Moves into the new root: pivot_root (or MS_MOVE + chroot with `no_pivot`) and detaches the
/// old root so nothing of the host stays reachable.
pub fn enter_root(root: &OwnedFd, no_pivot: bool) -> Result<(), RootfsError> {
    fn e(s: &'static str) -> impl FnOnce(io::Error) -> RootfsError {
        move |err| RootfsError::Path { path: PathBuf::from(s), source: err }
    }
    nix::unistd::fchdir(root.as_fd()).map_err(|x| e("(rootfs)")(x.into()))?;
    if no_pivot {
        // Move the rootfs mount over / and chroot into it.
        let slash = sys::openat2(nix::fcntl::AT_FDCWD, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0, 0).map_err(e("/"))?;
        sys::move_mount_fd(root.as_fd(), slash.as_fd()).map_err(e("/"))?;
        nix::unistd::chroot(".").map_err(|x| e("chroot")(x.into()))?;
    } else {
        sys::pivot_root_dot().map_err(e("pivot_root"))?;
        // The old root is now stacked on "."; make it private so detaching it can't propagate.
        sys::mount(None, Path::new("."), None, libc::MS_SLAVE | libc::MS_REC, None).map_err(e("old root"))?;
        sys::umount2(Path::new("."), libc::MNT_DETACH).map_err(e("old root"))?;
    }
    nix::unistd::chdir("/").map_err(|x| e("/")(x.into()))?;
    Ok(())
}

/// After pivot_root: masked paths, read-only paths, the read-only root, root propagation.
pub fn finalize(plan: &Plan) -> Result<(), RootfsError> {
    let root = sys::openat2(nix::fcntl::AT_FDCWD, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0, 0).map_err(perr(Path::new("/")))?;
    let linux = plan.spec.linux().as_ref();
    for p in linux.and_then(|l| l.readonly_paths().as_ref()).into_iter().flatten() {
        readonly_path(root.as_fd(), Path::new(p))?;
    }
    let masked: Vec<String> = linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default();
    if !masked.is_empty() {
        let null = verified_dev_null(root.as_fd())?;
        for p in &masked {
            mask_path(root.as_fd(), null.as_fd(), Path::new(p))?;
        }
    }
    if plan.spec.root().as_ref().is_some_and(|r| r.readonly() == Some(true)) {
        sys::mount_setattr(root.as_fd(), false, libc::MOUNT_ATTR_RDONLY, 0, 0).map_err(|e| RootfsError::Mount {
            field: "root.readonly".into(),
            path: "/".into(),
            source: e,
        })?;
    }
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_deref()).filter(|p| !p.is_empty()) {
        let flag = plan.rootfs_propagation;
        sys::mount_setattr(root.as_fd(), flag & libc::MS_REC != 0, 0, 0, flag & !libc::MS_REC).map_err(|e| RootfsError::Mount {
            field: "linux.rootfsPropagation".into(),
            path: PathBuf::from(p),
            source: e,
        })?;
    }
    Ok(())
}

/// The container's /dev/null, checked to be the real 1:3 character device before it is bound
/// over masked paths: an image can plant a symlink there (CVE-2025-31133).
fn verified_dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd, RootfsError> {
    let p = Path::new("/dev/null");
    let fd = sys::openat2(root, rel(p), libc::O_PATH, 0, RESOLVE_ROOT | libc::RESOLVE_NO_SYMLINKS).map_err(perr(p))?;
    let st = sys::fstat(fd.as_fd()).map_err(perr(p))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || libc::major(st.st_rdev) != 1 || libc::minor(st.st_rdev) != 3 {
        return Err(RootfsError::Refused {
            field: "linux.maskedPaths".into(),
            reason: "/dev/null in the container is not the 1:3 character device".into(),
        });
    }
    Ok(fd)
}

fn mask_path(root: BorrowedFd<'_>, null: BorrowedFd<'_>, p: &Path) -> Result<(), RootfsError> {
    let target = match open_in_root(root, p, libc::O_PATH) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(perr(p)(e)),
    };
    let st = sys::fstat(target.as_fd()).map_err(perr(p))?;
    let merr = |e: io::Error| RootfsError::Mount { field: "linux.maskedPaths".into(), path: p.to_path_buf(), source: e };
    let src = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let fs = sys::fsopen("tmpfs").map_err(merr)?;
        sys::fsconfig_set(fs.as_fd(), "size", Some("0")).map_err(merr)?;
        sys::fsconfig_set(fs.as_fd(), "nr_inodes", Some("1")).map_err(merr)?;
        sys::fsmount(fs.as_fd(), libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC)
            .map_err(merr)?
    } else {
        open_tree_fd(null).map_err(merr)?
    };
    sys::move_mount_fd(src.as_fd(), target.as_fd()).map_err(merr)
}

/// A detached bind of whatever `fd` refers to.
fn open_tree_fd(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    sys::open_tree(fd, Path::new(""), libc::OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32)
}

fn readonly_path(root: BorrowedFd<'_>, p: &Path) -> Result<(), RootfsError> {
    let target = match open_in_root(root, p, libc::O_PATH) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(perr(p)(e)),
    };
    let merr = |e: io::Error| RootfsError::Mount { field: "linux.readonlyPaths".into(), path: p.to_path_buf(), source: e };
    let tree =
        sys::open_tree(target.as_fd(), Path::new(""), libc::OPEN_TREE_CLONE | libc::AT_RECURSIVE as u32 | libc::AT_EMPTY_PATH as u32)
            .map_err(merr)?;
    sys::mount_setattr(
        tree.as_fd(),
        true,
        libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC,
        0,
        0,
    )
    .map_err(merr)?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(merr)
}

/// Opens the container's pty (its own devpts instance) and bind-mounts the peer on /dev/console.
/// Returns (master, slave). The slave is checked to be a pts device, not whatever an image put
/// at /dev/pts/N (CVE-2025-52565): it comes from TIOCGPTPEER, never from a path.
pub fn setup_console(root: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd), RootfsError> {
    let (master, slave) = open_pty(root)?;
    let console = Path::new("/dev/console");
    // An image's /dev/console (maybe a symlink) is replaced by a plain file to mount on.
    if let Ok(dev) = open_in_root(root, Path::new("/dev"), libc::O_RDONLY | libc::O_DIRECTORY) {
        let _ = nix::unistd::unlinkat(dev.as_fd(), "console", nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    let target = mkdir_all_in_root(root, console, Leaf::File).map_err(perr(console))?;
    let tree = open_tree_fd(slave.as_fd()).map_err(perr(console))?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(perr(console))?;
    Ok((master, slave))
}

/// A new pty of the container's devpts instance (`/dev/pts/ptmx` under `root`): (master, peer).
/// Both ends are checked to be what they claim; the peer comes from TIOCGPTPEER, not a path.
pub fn open_pty(root: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd), RootfsError> {
    let ptmx = Path::new("/dev/pts/ptmx");
    let master =
        sys::openat2(root, rel(ptmx), libc::O_RDWR | libc::O_NOCTTY, 0, RESOLVE_ROOT | libc::RESOLVE_NO_SYMLINKS).map_err(perr(ptmx))?;
    let st = sys::fstat(master.as_fd()).map_err(perr(ptmx))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || libc::major(st.st_rdev) != 5 || libc::minor(st.st_rdev) != 2 {
        return Err(RootfsError::Refused {
            field: "process.terminal".into(),
            reason: "/dev/pts/ptmx is not a devpts ptmx: is devpts mounted at /dev/pts?".into(),
        });
    }
    sys::unlockpt(master.as_fd()).map_err(perr(ptmx))?;
    let slave = sys::tiocgptpeer(master.as_fd()).map_err(perr(ptmx))?;
    let sst = sys::fstat(slave.as_fd()).map_err(perr(ptmx))?;
    if !(136..144).contains(&libc::major(sst.st_rdev)) {
        return Err(RootfsError::Refused { field: "process.terminal".into(), reason: "the pty peer is not a pts device".into() });
    }
    Ok((master, slave))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\"), "/end\\");
        // An escape at the very end, and three octal digits that are no byte (found by fuzzing:
        // they overflowed).
        assert_eq!(unescape_mountinfo("/a\\134"), "/a\\");
        assert_eq!(unescape_mountinfo("/a\\777b"), "/a\\777b");
        assert_eq!(unescape_mountinfo("\\400"), "\\400");
    }

    #[test]
    fn mkdir_all_stays_in_root() {
        let base = std::env::temp_dir().join(format!("hull-rootfs-test-{}", std::process::id()));
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", root.join("up")).unwrap();
        let rfd = std::fs::File::open(&root).unwrap();
        mkdir_all_in_root(rfd.as_fd(), Path::new("/evil/a/b"), Leaf::Dir).unwrap();
        mkdir_all_in_root(rfd.as_fd(), Path::new("/up/c"), Leaf::File).unwrap();
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing created outside the root");
        assert!(root.join(outside.strip_prefix("/").unwrap()).join("a/b").is_dir());
        assert!(root.join("c").is_file());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
