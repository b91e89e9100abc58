//! The lifecycle through the library: create, state, start, list, kill, delete, and the
//! destruction of a running container (`delete` with `force`).
//!
//! ```sh
//! sudo cargo run -p libhull --example lifecycle
//! ```

mod common;

use common::{check, wait_exit, Result, Scratch};
use libhull::{CreateOptions, Status};

fn main() -> Result {
    let s = Scratch::new("lifecycle")?;
    let rt = &s.runtime;
    let id = s.id("sleeper");
    // As PID 1 of its namespace the process gets no signal it has no handler for: this one
    // handles SIGTERM.
    let bundle = s.bundle("sleeper", &["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done"], |_| {})?;

    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    let st = rt.state(&id)?;
    check(st.status == Status::Created && st.pid == created.pid, format!("created: status {}, init pid {}", st.status, st.pid))?;
    rt.start(&id)?;
    check(rt.state(&id)?.status == Status::Running, "started: status running")?;
    check(rt.list()?.iter().any(|c| c.id == id), "list names the container")?;

    rt.kill(&id, libc::SIGTERM, false)?;
    // This program made the init, so it reaps it.
    let code = wait_exit(created.pid)?;
    check(code == 3, format!("the init handled SIGTERM and exited 3 (status {code})"))?;
    check(rt.state(&id)?.status == Status::Stopped, "stopped after the kill")?;
    rt.delete(&id, false)?;
    check(rt.state(&id).is_err(), "deleted: no state left")?;

    // Destroy: a running container goes at once with `force`, and its process with it.
    let id = s.id("destroyed");
    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    rt.start(&id)?;
    rt.delete(&id, true)?;
    let code = wait_exit(created.pid)?;
    check(code == 128 + libc::SIGKILL, format!("delete with force killed the running init (status {code})"))?;
    check(rt.state(&id).is_err(), "destroyed: no state left")?;
    Ok(())
}
