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
//! let status = rt.wait(&c)?; // only the creating process can wait
//! rt.delete("demo", false)?;
//! # Ok::<(), libhull::Error>(())
//! ```

pub mod cgroups;
pub mod features;
pub mod spec;
pub mod state;
pub mod sys;

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
