//! libhull: an OCI container runtime as a library.
//!
//! The `hull` binary is a thin command line over this crate; an embedder gets the same
//! behaviour. The usual flow:
//!
//! ```no_run
//! use libhull::{Runtime, CreateOptions};
//! let rt = Runtime::new("/run/hull");
//! let c = rt.create("demo", std::path::Path::new("/path/to/bundle"), &CreateOptions::default())?;
//! rt.start("demo")?;
//! // The creating process is the init's parent and may wait for it.
//! nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(c.pid), None).ok();
//! rt.delete("demo", false)?;
//! # Ok::<(), libhull::Error>(())
//! ```

pub mod cgroups;
pub mod container;
pub mod criu;
pub mod events;
pub mod exec;
pub mod exeseal;
pub mod features;
pub mod hooks;
mod pause;
pub mod process;
pub mod procfs;
mod ps;
pub mod rootfs;
pub mod rootless;
pub mod seccomp;
pub mod seccomp_cache;
pub mod seccomp_notify;
pub mod security;
pub mod spec;
pub mod state;
pub mod stats;
pub mod sys;
pub mod update;

pub use container::{CreateOptions, Created, Runtime};
pub use criu::{CheckpointOptions, RestoreOptions, Restored};
pub use exec::{ExecOptions, Execed};
pub use spec::example::OCI_VERSION;
pub use state::{StateReport, Status};

/// Every error the library returns; the variants carry the module's error with its path/field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    #[error("{0}")]
    Other(String),
}
