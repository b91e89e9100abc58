//! Checkpointing a running container with CRIU and restoring it: the restored process goes on
//! from where it was. Needs CRIU 4 on PATH (`scripts/build-criu.sh`).
//!
//! ```sh
//! sudo cargo run -p libhull --example checkpoint_restore
//! ```

mod common;

use std::time::{Duration, Instant};

use common::{check, Result, Scratch};
use libhull::{CheckpointOptions, CreateOptions, RestoreOptions, Status};

/// The counter the container writes to /tmp/count (0 while it has not written yet).
fn count(s: &Scratch) -> u64 {
    std::fs::read_to_string(s.rootfs.join("tmp/count")).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

/// Waits until the counter is no longer `n`, and returns its new value.
fn wait_change(s: &Scratch, n: u64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = count(s);
        if c != n {
            return Ok(c);
        }
        if Instant::now() >= deadline {
            return Err(format!("the counter stays at {n}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() -> Result {
    let s = Scratch::new("criu")?;
    let rt = &s.runtime;
    let id = s.id("counter");
    // The process's stdio is the container's /dev/null: CRIU cannot dump a host file as stdio.
    let script = "exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done";
    let bundle = s.bundle("counter", &["sh", "-c", script], |_| {})?;
    rt.create(&id, &bundle, &CreateOptions::default())?;
    rt.start(&id)?;
    let mut c = 0;
    while c < 3 {
        c = wait_change(&s, c)?;
    }

    let images = s.dir.join("images");
    rt.checkpoint(&id, &CheckpointOptions { image_path: images.clone(), ..Default::default() })?;
    check(rt.state(&id)?.status == Status::Stopped, "stopped after the checkpoint")?;
    let at_dump = count(&s);
    std::thread::sleep(Duration::from_millis(500));
    check(count(&s) == at_dump, "the counter stands still while the container is checkpointed")?;

    let restored = rt.restore(&id, &bundle, &RestoreOptions { image_path: images, ..Default::default() })?;
    check(rt.state(&id)?.status == Status::Running, "running after the restore")?;
    let next = wait_change(&s, at_dump)?;
    // The restored shell goes on counting from its own memory: at_dump + 1 (or a little more
    // on a slow machine), where a fresh start would write 1.
    check(next > at_dump && next <= at_dump + 3, format!("the counter continues: {at_dump} then {next}"))?;
    println!("checkpointed at {at_dump}, restored as pid {}, counting on at {next}", restored.pid);
    rt.delete(&id, true)?;
    Ok(())
}
