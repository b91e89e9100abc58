//! cgroups: where a container's processes are placed and what limits they get.
//!
//! One `CgroupManager` a container, behind which the host's layout (cgroup v1, v2, or hybrid)
//! is hidden. Placement and limits come from `linux.cgroupsPath` and `linux.resources`.
//! (Stub: the full implementation lands with the cgroups module.)

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

/// Errors of the cgroups module; each names the file or field involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("cgroup {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A container's cgroup(s): the directories hull made (or found) for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct CgroupManager {
    /// controller (or "" for the unified hierarchy) -> absolute directory.
    pub paths: BTreeMap<String, PathBuf>,
    /// The directories hull created itself, removed on destroy (deepest first).
    pub created: Vec<PathBuf>,
}

impl CgroupManager {
    /// Computes where the container's cgroups go; no side effects.
    pub fn new(_cgroups_path: Option<&std::path::Path>, _id: &str) -> Result<Self, CgroupError> {
        Ok(Self::default())
    }
    /// Checks `linux.resources` against what this host supports, before any side effect.
    pub fn validate(_resources: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }
    /// Makes the directories; refuses a cgroup that already has processes.
    pub fn create(&mut self) -> Result<(), CgroupError> {
        Ok(())
    }
    /// A cgroup v2 directory fd usable with CLONE_INTO_CGROUP, where the host allows it.
    pub fn clone_into_fd(&self) -> Option<OwnedFd> {
        None
    }
    /// Moves `pid` into every hierarchy that it was not cloned into.
    pub fn add_pid(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }
    /// Writes the limits.
    pub fn apply(&self, _resources: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }
    /// The pids in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(Vec::new())
    }
    /// Removes the directories hull created, retrying while the kernel drains them.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}
