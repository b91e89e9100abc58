//! A container's processes (the pid list, as `hull ps` gets it) and signals to one of them or
//! to all.
//!
//! ```sh
//! sudo cargo run -p libhull --example processes_signal
//! ```

mod common;

use std::time::{Duration, Instant};

use common::{check, wait_exit, Result, Scratch};
use libhull::{CreateOptions, Status};

fn main() -> Result {
    let s = Scratch::new("ps")?;
    let rt = &s.runtime;
    let id = s.id("three");
    // The init (sh) and two sleeps in the background.
    let bundle = s.bundle("three", &["sh", "-c", "sleep 1000 & sleep 1000 & wait"], |_| {})?;
    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    rt.start(&id)?;

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pids = rt.processes(&id)?;
    while pids.len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        pids = rt.processes(&id)?;
    }
    check(pids.len() == 3 && pids.contains(&created.pid), format!("three processes, the init among them: {pids:?}"))?;

    // One signal to every process of the container.
    rt.kill(&id, libc::SIGKILL, true)?;
    let code = wait_exit(created.pid)?;
    check(code == 128 + libc::SIGKILL, format!("the init was killed (status {code})"))?;
    check(rt.state(&id)?.status == Status::Stopped, "the container stopped")?;
    check(rt.processes(&id)?.is_empty(), "no process is left in its cgroup")?;
    Ok(())
}
