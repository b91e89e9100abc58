//! The memory pressure notification stream: a container with a 32 MiB memory limit writes
//! 128 MiB to a file; its page cache must be reclaimed to stay under the limit, and the
//! stream yields a "low" pressure event.
//!
//! On cgroup v1 the kernel reports reclaim through `memory.pressure_level`; on cgroup v2 the
//! stream is a PSI trigger on `memory.pressure` (see `libhull::PressureLevel`).
//!
//! ```sh
//! sudo cargo run -p libhull --example memory_pressure
//! ```

mod common;

use std::time::Duration;

use common::{check, wait_exit, Result, Scratch};
use libhull::{CreateOptions, MemoryEvent, PressureLevel};
use serde_json::json;

fn main() -> Result {
    let s = Scratch::new("pressure")?;
    let rt = &s.runtime;
    let id = s.id("writer");
    // /tmp in this rootfs is the host directory (no tmpfs mounted there): page cache, which
    // the kernel reclaims under the limit instead of killing.
    let script = "for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero of=/tmp/f bs=1M count=128 2>/dev/null; sync; done; rm -f /tmp/f";
    let bundle = s.bundle("writer", &["sh", "-c", script], |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 32u64 << 20});
    })?;
    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    let mut pressure = rt.memory_pressure_notifications(&id, PressureLevel::Low)?;
    rt.start(&id)?;

    let event = pressure.recv_timeout(Duration::from_secs(120))?;
    check(event == Some(MemoryEvent::Pressure(PressureLevel::Low)), format!("the stream yielded low memory pressure: {event:?}"))?;
    let code = wait_exit(created.pid)?;
    check(code == 0, format!("the writer finished (status {code}): reclaim, not the OOM killer"))?;
    Ok(())
}
