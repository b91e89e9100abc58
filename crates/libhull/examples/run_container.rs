//! Runs a container through the library, without the `hull` binary:
//!
//! ```sh
//! cargo run -p libhull --example run_container -- /path/to/bundle [id]
//! ```
//!
//! The bundle's process must not ask for a terminal. The container inherits this program's
//! stdio; the example waits for it, prints its exit status, deletes it and exits with the
//! container's exit status. Without arguments it runs `echo` in a busybox bundle of its own
//! and checks that the output and the status are what they must be.

mod common;

use std::path::PathBuf;

use common::{check, dev_null, pipe, read_all, wait_exit, Result, Scratch};
use libhull::{CreateOptions, Runtime, Status, Stdio};

fn main() -> Result {
    let mut args = std::env::args().skip(1);
    let Some(bundle) = args.next().map(PathBuf::from) else {
        return self_test();
    };
    let id = args.next().unwrap_or_else(|| format!("example-{}", std::process::id()));
    let rt = Runtime::new("/run/hull");

    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    println!("created {id}: init pid {}, status {}", created.pid, rt.state(&id)?.status);
    rt.start(&id)?;
    // This process made the init, so it is the one that may reap it.
    let code = wait_exit(created.pid)?;
    println!("container {id} ended with status {code}");
    rt.delete(&id, false)?;
    std::process::exit(code);
}

/// create + start + wait + delete on a bundle of our own, with the output on a pipe.
fn self_test() -> Result {
    let s = Scratch::new("run")?;
    let rt = &s.runtime;
    let id = s.id("echo");
    let bundle = s.bundle("echo", &["echo", "hello from a container"], |_| {})?;
    let (out_r, out_w) = pipe()?;
    let opts = CreateOptions { stdio: Some(Stdio::new(dev_null()?, out_w, dev_null()?)), ..Default::default() };
    let created = rt.create(&id, &bundle, &opts)?;
    drop(opts);
    rt.start(&id)?;
    let out = read_all(out_r)?;
    check(wait_exit(created.pid)? == 0, "the container exited 0")?;
    check(out == "hello from a container\n", format!("its output: {out:?}"))?;
    check(rt.state(&id)?.status == Status::Stopped, "stopped")?;
    rt.delete(&id, false)?;
    Ok(())
}
