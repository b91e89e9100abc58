//! Runs a container through the library, without the `hull` binary:
//!
//! ```sh
//! cargo run -p libhull --example run_container -- /path/to/bundle [id]
//! ```
//!
//! The bundle's process must not ask for a terminal. The container inherits this program's
//! stdio; the example waits for it, prints its exit status and deletes it.

use std::path::PathBuf;

use libhull::{CreateOptions, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bundle = PathBuf::from(args.next().ok_or("usage: run_container BUNDLE [ID]")?);
    let id = args.next().unwrap_or_else(|| format!("example-{}", std::process::id()));
    let rt = Runtime::new("/run/hull");

    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    println!("created {id}: init pid {}, status {}", created.pid, rt.state(&id)?.status);
    rt.start(&id)?;
    // This process made the init, so it is the one that may reap it.
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(created.pid), None)?;
    println!("container {id} ended: {status:?}");
    rt.delete(&id, false)?;
    Ok(())
}
