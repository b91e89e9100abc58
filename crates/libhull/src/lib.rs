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
//!
//! What runc's libcontainer offers on a container, and where it is here (every call is a
//! method of [`Runtime`]; each area has an example under `crates/libhull/examples/`, run as
//! root by `crates/libhull/tests/examples.rs`):
//!
//! | libcontainer | libhull | example |
//! |---|---|---|
//! | `State`, `Status`, list | [`Runtime::state`], [`Runtime::list`] | `lifecycle` |
//! | `Run`, `Start` (create + exec) | [`Runtime::create`], [`Runtime::start`] | `lifecycle`, `run_container` |
//! | a `Process` with its `Stdin`/`Stdout`/`Stderr` | [`CreateOptions::stdio`], [`ExecOptions::stdio`] ([`Stdio`]) | `exec_stdio`, `run_container` |
//! | `Run` of another process (exec) | [`Runtime::exec`] | `exec_stdio` |
//! | `Signal` | [`Runtime::kill`] (one process or all) | `lifecycle`, `processes_signal` |
//! | `Processes` | [`Runtime::processes`] | `processes_signal` |
//! | `Stats` | [`Runtime::stats`] (and the stream [`Runtime::events`]) | `stats_update` |
//! | `Set` (update resources) | [`Runtime::update`] | `stats_update` |
//! | `Pause`, `Resume` | [`Runtime::pause`], [`Runtime::resume`] | `pause_resume` |
//! | `NotifyOOM` | [`Runtime::oom_notifications`] | `oom_notifications` |
//! | `NotifyMemoryPressure` | [`Runtime::memory_pressure_notifications`] | `memory_pressure` |
//! | `Destroy` | [`Runtime::delete`] with `force` | `lifecycle` |
//! | `Checkpoint`, `Restore` (CRIU) | [`Runtime::checkpoint`], [`Runtime::restore`] | `checkpoint_restore` |
//!
//! The calls block; there is no async runtime. The process that calls `create` or `exec` is
//! the new process's parent and reaps it (`waitpid`). `create` and `exec` clone the calling
//! process: call them while it has a single thread (as the `hull` binary does), since a
//! clone of a multi-threaded process may find a lock held by a thread that does not exist in
//! the clone.

pub mod cgroups;
pub mod container;
#[cfg(test)]
mod coverage;
pub mod criu;
pub mod events;
pub mod exec;
pub mod exeseal;
pub mod features;
#[doc(hidden)]
pub mod fuzz;
pub mod hooks;
pub mod idmap;
pub mod lsm;
pub mod net;
pub mod notify;
mod passwd;
mod pause;
pub mod process;
pub mod procfs;
mod ps;
pub mod rdt;
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
pub use notify::{MemoryEvent, MemoryNotifications, PressureLevel};
pub use process::Stdio;
pub use spec::example::OCI_VERSION;
pub use state::{StateReport, Status};

/// Every error the library returns; the variants carry the module's error with its path/field.
/// Operations on a container (`notify`, `events`, `exec`, ...) report in `Other` with a message
/// that names the file or field involved.
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
