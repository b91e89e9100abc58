//! state: one directory a container under the root dir, `state.json` written atomically,
//! a lock a container, and the status derived from the kernel (not trusted from the file).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupManager;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
const LOCK_FILE: &str = ".lock";

/// Errors of the state store; each names the container or the file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt state: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// The OCI status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What hull records about a container (`<root>/<id>/state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    /// Host pid of the container's init.
    pub init_process_pid: i32,
    /// Its start time in clock ticks since boot (field 22 of /proc/<pid>/stat): guards against
    /// signalling a reused pid.
    pub init_process_start: u64,
    /// RFC 3339 creation time (UTC, nanoseconds).
    pub created: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Uid of the user who created the container.
    pub owner: u32,
    pub cgroup: CgroupManager,
    /// The config the container was created from (hooks, annotations, namespaces).
    pub config: oci_spec::runtime::Spec,
    /// resctrl directories hull made for `linux.intelRdt`, removed at `delete` (deepest last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rdt_dirs: Vec<PathBuf>,
}

impl ContainerState {
    /// The record of a container whose init is `pid` (alive now: its start time is read here),
    /// made from `plan` and placed in `cgroup`; created now, by `owner`, not yet started.
    pub(crate) fn for_init(id: &str, pid: i32, plan: &crate::spec::Plan, cgroup: &CgroupManager, owner: u32) -> Result<Self, String> {
        let start = proc_stat(pid).map(|s| s.0).ok_or("the container init vanished")?;
        Ok(ContainerState {
            id: id.to_string(),
            init_process_pid: pid,
            init_process_start: start,
            created: now_rfc3339(),
            bundle: plan.bundle.clone(),
            rootfs: plan.rootfs.clone(),
            owner,
            cgroup: cgroup.clone(),
            config: plan.spec.clone(),
            rdt_dirs: Vec::new(),
        })
    }
}

/// The JSON that `state` prints (runtime-spec state plus runc's `rootfs`, `created`, `owner`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateReport {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty", default)]
    pub annotations: std::collections::HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// A container's directory under the root.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
    pub id: String,
    pub dir: PathBuf,
}

/// An exclusive lock on one container (flock on `<dir>/.lock`), held while a command works on it.
pub struct Lock {
    _file: nix::fcntl::Flock<File>,
}

impl StateDir {
    pub fn new(root: &Path, id: &str) -> StateDir {
        StateDir { root: root.to_path_buf(), id: id.to_string(), dir: root.join(id) }
    }

    /// Makes the root (0700) if needed and the container's directory (0700); fails if it exists.
    pub fn create(&self) -> Result<(), StateError> {
        ensure_root(&self.root)?;
        match fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StateError::Exists(self.id.clone())),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Whether the container's directory exists; a directory we may not look into (another
    /// user's root) is an error, not "does not exist".
    pub fn check_exists(&self) -> Result<bool, StateError> {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }

    /// Takes the container's lock; blocks while another hull command holds it.
    pub fn lock(&self) -> Result<Lock, StateError> {
        let p = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).custom_flags(libc::O_CLOEXEC).open(&p).map_err(
            |e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    StateError::NotExist(self.id.clone())
                } else {
                    io_err(&p)(e)
                }
            },
        )?;
        let locked =
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| io_err(&p)(std::io::Error::from(e)))?;
        Ok(Lock { _file: locked })
    }

    /// Writes state.json atomically: a temporary file in the same directory, then rename.
    pub fn save(&self, st: &ContainerState) -> Result<(), StateError> {
        let tmp = self.dir.join(".state.json.tmp");
        let data = serde_json::to_vec(st).map_err(|e| StateError::Corrupt { path: tmp.clone(), reason: e.to_string() })?;
        let mut f = OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&data).map_err(io_err(&tmp))?;
        // No fsync: the state describes processes, which a reboot ends anyway; rename alone
        // keeps readers from ever seeing a half-written file. (runc does not sync either.)
        let dst = self.dir.join(STATE_FILE);
        fs::rename(&tmp, &dst).map_err(io_err(&dst))
    }

    /// Reads state.json; a directory without it (an aborted create) reads as NotExist.
    pub fn load(&self) -> Result<ContainerState, StateError> {
        let p = self.dir.join(STATE_FILE);
        let data = fs::read(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StateError::NotExist(self.id.clone())
            } else {
                io_err(&p)(e)
            }
        })?;
        serde_json::from_slice(&data).map_err(|e| StateError::Corrupt { path: p, reason: e.to_string() })
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// Removes the directory and everything in it.
    pub fn remove(&self) -> Result<(), StateError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }
}

/// Makes the root directory 0700 if missing (runc: 0700 plus sticky for rootless).
pub fn ensure_root(root: &Path) -> Result<(), StateError> {
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(root) {
        Ok(()) => {}
        Err(e) => return Err(io_err(root)(e)),
    }
    let m = fs::metadata(root).map_err(io_err(root))?;
    if m.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(io_err(root))?;
    }
    Ok(())
}

/// Lists the container ids under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) => return Err(io_err(root)(e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Reads the start time (clock ticks since boot) and the state letter of `pid`.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let s = crate::sys::read_proc_text(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may contain spaces and parentheses: parse after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 overall is index 19 after pid and comm.
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

/// True when `pid` is the same live process that was recorded (not a zombie, not a reused pid).
pub fn process_alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((s, st)) => s == start && st != 'Z' && st != 'X',
        None => false,
    }
}

/// The time now as RFC 3339 with nanoseconds, UTC (runc's `created`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The user name of `uid` from /etc/passwd, or `#uid` as runc prints it.
pub fn owner_name(uid: u32) -> String {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    match crate::passwd::by_uid(&text, uid) {
        Some(e) => e.name.to_string(),
        None => format!("#{uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_stat() {
        let pid = std::process::id() as i32;
        let (start, st) = proc_stat(pid).unwrap();
        assert!(start > 0);
        assert_ne!(st, 'Z');
        assert!(process_alive(pid, start));
        assert!(!process_alive(pid, start + 1));
    }

    #[test]
    fn create_twice_fails_and_save_load_roundtrip() {
        let root = std::env::temp_dir().join(format!("hull-state-test-{}", std::process::id()));
        let sd = StateDir::new(&root, "c1");
        sd.create().unwrap();
        assert!(matches!(sd.create(), Err(StateError::Exists(_))));
        let spec: oci_spec::runtime::Spec = serde_json::from_str(r#"{"ociVersion":"1.0.0"}"#).unwrap();
        let st = ContainerState {
            id: "c1".into(),
            init_process_pid: 1,
            init_process_start: 2,
            created: now_rfc3339(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            owner: 0,
            cgroup: CgroupManager::default(),
            config: spec,
            rdt_dirs: Vec::new(),
        };
        sd.save(&st).unwrap();
        let _l = sd.lock().unwrap();
        assert_eq!(sd.load().unwrap().init_process_start, 2);
        sd.remove().unwrap();
        assert!(matches!(sd.load(), Err(StateError::NotExist(_))));
        fs::remove_dir_all(&root).unwrap();
    }
}
