//! Freezing a container (`pause`) and thawing it (`resume`).
//!
//! ```sh
//! sudo cargo run -p libhull --example pause_resume
//! ```

mod common;

use std::time::Duration;

use common::{check, Result, Scratch};
use libhull::{CreateOptions, ExecOptions, Status};

/// The user CPU time (clock ticks) of `pid`, from /proc/PID/stat.
fn utime(pid: i32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_comm = &stat[stat.rfind(')').ok_or("no comm in stat")? + 2..];
    Ok(after_comm.split(' ').nth(11).ok_or("short stat")?.parse()?)
}

fn main() -> Result {
    let s = Scratch::new("pause")?;
    let rt = &s.runtime;
    let id = s.id("busy");
    // A busy loop: it uses CPU time whenever it runs.
    let bundle = s.bundle("busy", &["sh", "-c", "while :; do :; done"], |_| {})?;
    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    rt.start(&id)?;
    std::thread::sleep(Duration::from_millis(200));

    rt.pause(&id)?;
    check(rt.state(&id)?.status == Status::Paused, "paused")?;
    let before = utime(created.pid)?;
    std::thread::sleep(Duration::from_millis(500));
    let after = utime(created.pid)?;
    check(after == before, format!("no CPU time while frozen ({before} -> {after} ticks)"))?;
    let config: oci_spec::runtime::Spec = serde_json::from_slice(&std::fs::read(bundle.join("config.json"))?)?;
    let process = config.process().clone().ok_or("the bundle has a process")?;
    check(rt.exec(&id, &process, &ExecOptions::default()).is_err(), "exec into a paused container is refused")?;

    rt.resume(&id)?;
    check(rt.state(&id)?.status == Status::Running, "running again")?;
    std::thread::sleep(Duration::from_millis(500));
    let later = utime(created.pid)?;
    check(later > after, format!("CPU time again after resume ({after} -> {later} ticks)"))?;
    Ok(())
}
