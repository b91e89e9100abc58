//! spec: load a bundle's `config.json` and check every field once, turning it into a `Plan`.
//!
//! Data flows one way: config.json -> `Plan` (every field checked, every error naming its JSON
//! path) -> side effects. Nothing touches the host until `Plan::from_bundle` has returned.

pub mod example;
pub mod fields;
pub mod mounts;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub use mounts::MountPlan;

/// Errors found while loading or checking a config. `field` is a JSON path such as
/// `linux.namespaces[2].type`, or a file path.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid JSON at {field}: {reason}")]
    Parse { path: PathBuf, field: String, reason: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid { field: field.into(), reason: reason.into() }
}

/// The namespace kinds, in the order hull joins or creates them.
pub const NAMESPACE_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
];

/// The clone flag of a namespace kind.
pub fn ns_flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The name of a namespace kind under /proc/<pid>/ns.
pub fn ns_file_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// True when `p` is hull's own network namespace.
fn is_own_net_namespace(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(p), std::fs::metadata("/proc/self/ns/net")) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// A namespace the container gets: new (`path == None`) or joined by path.
#[derive(Debug, Clone)]
pub struct NamespacePlan {
    pub kind: LinuxNamespaceType,
    pub path: Option<PathBuf>,
}

/// A checked config: what `create` will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec: Spec,
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// `root.path`, absolute, an existing directory.
    pub rootfs: PathBuf,
    /// Namespaces in `NAMESPACE_ORDER`.
    pub namespaces: Vec<NamespacePlan>,
    pub mounts: Vec<MountPlan>,
    /// MS_* propagation of the rootfs (`linux.rootfsPropagation`, default MS_SLAVE|MS_REC).
    pub rootfs_propagation: u64,
    /// Signal-free defaults filled in: `process` exists.
    pub terminal: bool,
    /// What hull writes to the init's /proc/<pid>/timens_offsets (empty: nothing).
    pub time_offsets: String,
    /// `linux.memoryPolicy`, checked.
    pub mempolicy: Option<fields::MemPolicy>,
    /// `linux.intelRdt`, checked against the host's resctrl.
    pub rdt: Option<crate::rdt::RdtPlan>,
}

impl Plan {
    /// Loads `<bundle>/config.json` and checks it.
    pub fn from_bundle(bundle: &Path) -> Result<Plan, SpecError> {
        let bundle = std::path::absolute(bundle).map_err(|e| SpecError::Read { path: bundle.to_path_buf(), source: e })?;
        let spec = load_config(&bundle.join("config.json"))?;
        Plan::from_spec(spec, &bundle)
    }

    /// Checks an already parsed spec whose relative paths are relative to `bundle`.
    pub fn from_spec(spec: Spec, bundle: &Path) -> Result<Plan, SpecError> {
        let root = spec.root().as_ref().ok_or_else(|| invalid("root", "missing: a container needs a root filesystem"))?;
        if root.path().as_os_str().is_empty() {
            return Err(invalid("root.path", "is empty"));
        }
        let rootfs = if root.path().is_absolute() { root.path().clone() } else { bundle.join(root.path()) };
        match std::fs::metadata(&rootfs) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(invalid("root.path", format!("{} is not a directory", rootfs.display()))),
            Err(e) => return Err(invalid("root.path", format!("{}: {e}", rootfs.display()))),
        }
        let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| invalid("root.path", format!("{}: {e}", rootfs.display())))?;

        let process = spec.process().as_ref().ok_or_else(|| invalid("process", "missing: hull needs a process to run"))?;
        validate_process(process)?;

        let namespaces = validate_namespaces(&spec)?;
        let has = |k: LinuxNamespaceType| namespaces.iter().any(|n| n.kind == k);
        let linux = spec.linux().as_ref();

        // User namespace mappings only make sense in a new user namespace.
        if let Some(l) = linux {
            let maps = l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()) || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
            let new_user = namespaces.iter().any(|n| n.kind == LinuxNamespaceType::User && n.path.is_none());
            if maps && !new_user {
                let f = if l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()) { "linux.uidMappings" } else { "linux.gidMappings" };
                return Err(invalid(f, "id mappings need a new user namespace (linux.namespaces has no \"user\" entry without a path)"));
            }
            if new_user {
                for (name, maps) in [("linux.uidMappings", l.uid_mappings()), ("linux.gidMappings", l.gid_mappings())] {
                    let maps = maps.as_deref().unwrap_or(&[]);
                    if maps.is_empty() {
                        return Err(invalid(name, "a new user namespace needs at least one mapping"));
                    }
                    for (i, m) in maps.iter().enumerate() {
                        if m.size() == 0 {
                            return Err(invalid(format!("{name}[{i}].size"), "must be greater than 0"));
                        }
                        // Both ranges must fit in 32-bit ids, or the kernel refuses the map.
                        for (what, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
                            if start.checked_add(m.size()).is_none() {
                                return Err(invalid(
                                    format!("{name}[{i}]"),
                                    format!("{what} {start} + size {} goes past the last id (4294967294)", m.size()),
                                ));
                            }
                        }
                    }
                }
            }
            if l.sysctl().as_ref().is_some_and(|s| !s.is_empty()) {
                for (k, _) in l.sysctl().iter().flatten() {
                    validate_sysctl(k, &has)?;
                }
            }
            for (f, v) in [("hostname", spec.hostname()), ("domainname", spec.domainname())] {
                if v.as_ref().is_some_and(|h| h.contains('\0') || h.len() > 64) {
                    return Err(invalid(f, "must be at most 64 bytes, without NUL"));
                }
            }
            if (spec.hostname().is_some() || spec.domainname().is_some()) && !has(LinuxNamespaceType::Uts) {
                let f = if spec.hostname().is_some() { "hostname" } else { "domainname" };
                return Err(invalid(f, "setting it needs a new UTS namespace"));
            }
            if let Some(res) = l.resources() {
                validate_resources(res)?;
                crate::cgroups::CgroupManager::validate(res).map_err(|e| match e {
                    crate::cgroups::CgroupError::Invalid { field, reason } => invalid(field, reason),
                    e => invalid("linux.resources", e.to_string()),
                })?;
            }
            if let Some(s) = l.seccomp() {
                crate::seccomp::validate(s)?;
            }
            for (i, d) in l.devices().iter().flatten().enumerate() {
                if !d.path().is_absolute() {
                    return Err(invalid(format!("linux.devices[{i}].path"), "must be an absolute path"));
                }
            }
            for (name, list) in [("linux.maskedPaths", l.masked_paths()), ("linux.readonlyPaths", l.readonly_paths())] {
                for (i, p) in list.iter().flatten().enumerate() {
                    if !p.starts_with('/') {
                        return Err(invalid(format!("{name}[{i}]"), format!("{p:?} must be an absolute path")));
                    }
                }
            }
        } else if spec.hostname().is_some() {
            return Err(invalid("hostname", "setting it needs a new UTS namespace"));
        }

        refuse_unsupported(&spec)?;
        let time_offsets = fields::time_offsets(&spec, &namespaces)?;
        let mempolicy = fields::memory_policy(linux.and_then(|l| l.memory_policy().as_ref()))?;
        let host_netns =
            namespaces.iter().any(|n| n.kind == LinuxNamespaceType::Network && n.path.as_deref().is_some_and(is_own_net_namespace));
        let rootless = !nix::unistd::geteuid().is_root();
        crate::net::validate(&spec, rootless, has(LinuxNamespaceType::Network), host_netns)?;
        let rdt = match linux.and_then(|l| l.intel_rdt().as_ref()) {
            Some(r) => Some(crate::rdt::RdtPlan::check(r, std::path::Path::new(crate::rdt::RESCTRL_ROOT))?),
            None => None,
        };
        let mounts = mounts::plan_mounts(&spec, bundle)?;
        let rootfs_propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
            None | Some("") => libc::MS_SLAVE | libc::MS_REC,
            Some(p) => match mounts::propagation_flag(p) {
                Some(f) => f,
                None => return Err(invalid("linux.rootfsPropagation", format!("unknown propagation {p:?}"))),
            },
        };
        validate_hooks(&spec, &rootfs)?;

        let terminal = process.terminal().unwrap_or(false);
        Ok(Plan {
            bundle: bundle.to_path_buf(),
            rootfs,
            namespaces,
            mounts,
            rootfs_propagation,
            terminal,
            time_offsets,
            mempolicy,
            rdt,
            spec,
        })
    }

    /// True when the container gets a namespace of this kind (new or joined).
    pub fn has_namespace(&self, kind: LinuxNamespaceType) -> bool {
        self.namespaces.iter().any(|n| n.kind == kind)
    }

    /// True when the container creates a new namespace of this kind.
    pub fn new_namespace(&self, kind: LinuxNamespaceType) -> bool {
        self.namespaces.iter().any(|n| n.kind == kind && n.path.is_none())
    }

    /// The process section (validated to exist).
    pub fn process(&self) -> &oci_spec::runtime::Process {
        // from_spec refused a spec without a process.
        self.spec.process().as_ref().expect("validated: process exists")
    }
}

/// Reads and parses a config.json; a parse error names the JSON path where it happened.
pub fn load_config(path: &Path) -> Result<Spec, SpecError> {
    let data = std::fs::read(path).map_err(|e| SpecError::Read { path: path.to_path_buf(), source: e })?;
    parse_config(&data, path)
}

/// Parses the bytes of a config.json read from `path` (named in errors).
pub fn parse_config(data: &[u8], path: &Path) -> Result<Spec, SpecError> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize::<_, Spec>(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        SpecError::Parse {
            path: path.to_path_buf(),
            field: if field == "." { "(top level)".into() } else { field },
            reason: inner.to_string(),
        }
    })
}

/// What this host cannot honour is refused, never silently ignored: an AppArmor profile or
/// SELinux label whose LSM is not enabled (running the container unconfined instead would be a
/// silent security downgrade).
fn refuse_unsupported(spec: &Spec) -> Result<(), SpecError> {
    crate::lsm::check_spec(spec, Path::new(crate::lsm::SYSFS))
}

/// A path the kernel will be given: no NUL byte, not longer than PATH_MAX.
pub(crate) fn check_path_string(field: &str, p: &Path) -> Result<(), SpecError> {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    if b.contains(&0) {
        return Err(invalid(field, "contains a NUL byte"));
    }
    if b.len() >= libc::PATH_MAX as usize {
        return Err(invalid(field, format!("is {} bytes long, longer than PATH_MAX", b.len())));
    }
    Ok(())
}

/// A namespace path must be a namespace file (nsfs) of the kind the entry names.
fn check_namespace_file(p: &Path, kind: LinuxNamespaceType) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    // Looked at through O_PATH first: opening a FIFO would block and opening some devices has
    // effects (a watchdog starts), and validation must do neither. Only an nsfs file is then
    // opened for real (for the ioctl), and checked again.
    let is_nsfs = |flags: i32| -> Result<std::fs::File, String> {
        let f = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if crate::sys::fstatfs_magic(f.as_fd()).map_err(|e| format!("{}: {e}", p.display()))? != NSFS_MAGIC {
            return Err(format!("{} is not a namespace file", p.display()));
        }
        Ok(f)
    };
    is_nsfs(libc::O_PATH)?;
    let f = is_nsfs(0)?;
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the CLONE_NEW* flag of the namespace.
    let t = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE) };
    if t >= 0 && t != ns_flag(kind) {
        return Err(format!("{} is not a {} namespace", p.display(), kind));
    }
    Ok(())
}

pub(crate) fn validate_process(p: &oci_spec::runtime::Process) -> Result<(), SpecError> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(invalid("process.args", "must name the program to run"));
    }
    if !p.cwd().is_absolute() {
        return Err(invalid("process.cwd", format!("{:?} must be an absolute path", p.cwd())));
    }
    check_path_string("process.cwd", p.cwd())?;
    for (i, a) in p.args().iter().flatten().enumerate() {
        if a.contains('\0') {
            return Err(invalid(format!("process.args[{i}]"), "contains a NUL byte"));
        }
    }
    if let Some(m) = p.user().umask() {
        if m > 0o777 {
            return Err(invalid("process.user.umask", format!("{m:o} is not a file mode mask (0 to 0777)")));
        }
    }
    if let Some(n) = p.scheduler().as_ref().and_then(|s| *s.nice()) {
        if !(-20..=19).contains(&n) {
            return Err(invalid("process.scheduler.nice", format!("{n} is not in -20..19")));
        }
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(invalid(format!("process.env[{i}]"), format!("{e:?} is not of the form KEY=value")));
        }
        if e.contains('\0') {
            return Err(invalid(format!("process.env[{i}]"), "contains a NUL byte"));
        }
    }
    fields::cpu_affinity("process.execCPUAffinity", p.exec_cpu_affinity().as_ref())?;
    if let Some(rl) = p.rlimits() {
        let mut seen = HashSet::new();
        for (i, r) in rl.iter().enumerate() {
            if !seen.insert(format!("{:?}", r.typ())) {
                return Err(invalid(format!("process.rlimits[{i}].type"), format!("{:?} given twice", r.typ())));
            }
            if r.soft() > r.hard() {
                return Err(invalid(format!("process.rlimits[{i}]"), "soft limit is greater than the hard limit"));
            }
        }
    }
    Ok(())
}

fn validate_namespaces(spec: &Spec) -> Result<Vec<NamespacePlan>, SpecError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    if let Some(l) = spec.linux() {
        for (i, ns) in l.namespaces().iter().flatten().enumerate() {
            if !seen.insert(ns.typ()) {
                return Err(invalid(format!("linux.namespaces[{i}].type"), format!("duplicate namespace {:?}", ns.typ().to_string())));
            }
            // A kind this kernel lacks is refused here, not by a failing clone later.
            let file = ns_file_name(ns.typ());
            if !Path::new("/proc/self/ns").join(file).exists() {
                return Err(invalid(format!("linux.namespaces[{i}].type"), format!("this kernel has no {} namespaces", ns.typ())));
            }
            if ns.typ() == LinuxNamespaceType::Time && !Path::new("/proc/self/timens_offsets").exists() {
                return Err(invalid(format!("linux.namespaces[{i}].type"), "this kernel has no time namespaces"));
            }
            if let Some(p) = ns.path() {
                if !p.is_absolute() {
                    return Err(invalid(format!("linux.namespaces[{i}].path"), format!("{} must be an absolute path", p.display())));
                }
                check_namespace_file(p, ns.typ()).map_err(|reason| invalid(format!("linux.namespaces[{i}].path"), reason))?;
            }
            out.push(NamespacePlan { kind: ns.typ(), path: ns.path().clone() });
        }
    }
    out.sort_by_key(|n| NAMESPACE_ORDER.iter().position(|k| *k == n.kind));
    Ok(out)
}

fn validate_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<(), SpecError> {
    let field = format!("linux.sysctl[{key:?}]");
    if key.is_empty() || key.contains("..") || key.starts_with('/') || key.starts_with('.') {
        return Err(invalid(field, "not a valid sysctl name"));
    }
    // As runc: only namespaced sysctls, each needing its namespace.
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if !has(LinuxNamespaceType::Ipc) {
            return Err(invalid(field, "needs a new IPC namespace"));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !has(LinuxNamespaceType::Network) {
            return Err(invalid(field, "needs a network namespace"));
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Err(invalid(field, "set it with the hostname/domainname fields"));
    }
    Err(invalid(field, "is not namespaced; it would change the host"))
}

fn validate_resources(r: &oci_spec::runtime::LinuxResources) -> Result<(), SpecError> {
    if let Some(m) = r.memory() {
        for (name, v) in [("limit", m.limit()), ("reservation", m.reservation()), ("swap", m.swap())] {
            if let Some(v) = v {
                if v < -1 {
                    return Err(invalid(
                        format!("linux.resources.memory.{name}"),
                        format!("{v} is negative (only -1, unlimited, is allowed)"),
                    ));
                }
            }
        }
        if let Some(k) = m.kernel() {
            if k < -1 {
                return Err(invalid("linux.resources.memory.kernel", format!("{k} is negative")));
            }
        }
    }
    if let Some(p) = r.pids() {
        if p.limit() < -1 {
            return Err(invalid("linux.resources.pids.limit", format!("{} is negative (only -1, unlimited, or 0 is allowed)", p.limit())));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(q) = c.quota() {
            if q < -1 || q == 0 {
                return Err(invalid("linux.resources.cpu.quota", format!("{q} is not a positive number of microseconds or -1")));
            }
        }
    }
    Ok(())
}

fn validate_hooks(spec: &Spec, rootfs: &Path) -> Result<(), SpecError> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    #[allow(deprecated)]
    let host = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (name, list) in host {
        for (i, hook) in list.iter().flatten().enumerate() {
            let p = hook.path();
            if !p.is_absolute() {
                return Err(invalid(format!("hooks.{name}[{i}].path"), format!("{} must be an absolute path", p.display())));
            }
            if let Err(e) = std::fs::metadata(p) {
                return Err(invalid(format!("hooks.{name}[{i}].path"), format!("{}: {e}", p.display())));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(invalid(format!("hooks.{name}[{i}].timeout"), "must be a positive number of seconds"));
            }
        }
    }
    for (i, hook) in h.start_container().iter().flatten().enumerate() {
        let p = hook.path();
        if !p.is_absolute() {
            return Err(invalid(format!("hooks.startContainer[{i}].path"), format!("{} must be an absolute path", p.display())));
        }
        // startContainer hooks resolve in the container: look inside the rootfs, safely.
        let root = std::fs::File::open(rootfs).map_err(|e| invalid("root.path", e.to_string()))?;
        use std::os::fd::AsFd;
        let rel = p.strip_prefix("/").unwrap_or(p);
        if let Err(e) = crate::sys::openat2(root.as_fd(), rel, libc::O_PATH, 0, libc::RESOLVE_IN_ROOT) {
            return Err(invalid(format!("hooks.startContainer[{i}].path"), format!("{} (in the container): {e}", p.display())));
        }
    }
    Ok(())
}

/// Checks a container id as runc does: `[A-Za-z0-9_+.-]+`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), SpecError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid("id", format!("invalid id format: {id:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "abc-1_2.3+4", "A"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sysctl_rules() {
        let all = |_k: LinuxNamespaceType| true;
        let none = |_k: LinuxNamespaceType| false;
        assert!(validate_sysctl("net.ipv4.ip_forward", &all).is_ok());
        assert!(validate_sysctl("net.ipv4.ip_forward", &none).is_err());
        assert!(validate_sysctl("kernel.shmmax", &all).is_ok());
        assert!(validate_sysctl("vm.swappiness", &all).is_err());
        assert!(validate_sysctl("../../etc", &all).is_err());
    }

    #[test]
    fn parse_error_names_path() {
        let dir = std::env::temp_dir().join(format!("hull-spec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.json");
        std::fs::write(&p, r#"{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#).unwrap();
        let err = load_config(&p).unwrap_err().to_string();
        assert!(err.contains("linux.namespaces[1]"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
