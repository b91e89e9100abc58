//! The lifecycle through the library: create, state, start, list, kill, delete, and the
//! destruction of a running container (`delete` with `force`).
//!
//! ```sh
//! sudo cargo run -p libhull --example lifecycle
//! ```

mod common;

use std::io::BufRead as _;

use common::{check, dev_null, pipe, wait_exit, Result, Scratch};
use libhull::{CreateOptions, Status, Stdio};

fn main() -> Result {
    let s = Scratch::new("lifecycle")?;
    let rt = &s.runtime;
    let id = s.id("sleeper");
    // As PID 1 of its namespace the process gets no signal it has no handler for: this one
    // handles SIGTERM, and says so on its stdout once the handler is in place.
    let bundle = s.bundle("sleeper", &["sh", "-c", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done"], |_| {})?;

    let (out_r, out_w) = pipe()?;
    let opts = CreateOptions { stdio: Some(Stdio::new(dev_null()?, out_w, dev_null()?)), ..Default::default() };
    let created = rt.create(&id, &bundle, &opts)?;
    drop(opts);
    let st = rt.state(&id)?;
    check(st.status == Status::Created && st.pid == created.pid, format!("created: status {}, init pid {}", st.status, st.pid))?;
    rt.start(&id)?;
    check(rt.state(&id)?.status == Status::Running, "started: status running")?;
    check(rt.list()?.iter().any(|c| c.id == id), "list names the container")?;
    let mut ready = String::new();
    std::io::BufReader::new(std::fs::File::from(out_r)).read_line(&mut ready)?;
    check(ready == "ready\n", "the process handles SIGTERM now")?;

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
