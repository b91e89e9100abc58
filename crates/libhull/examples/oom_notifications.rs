//! The OOM notification stream: a container with a 16 MiB memory limit runs `tail /dev/zero`
//! (it keeps the never-ending first line in memory), the kernel's OOM killer kills it, and the
//! stream yields the event.
//!
//! ```sh
//! sudo cargo run -p libhull --example oom_notifications
//! ```

mod common;

use std::time::Duration;

use common::{check, wait_exit, Result, Scratch};
use libhull::{CreateOptions, MemoryEvent};
use serde_json::json;

fn main() -> Result {
    let s = Scratch::new("oom")?;
    let rt = &s.runtime;
    let id = s.id("hog");
    let limit = 16u64 << 20;
    let bundle = s.bundle("hog", &["tail", "/dev/zero"], |c| {
        // swap = limit (memory+swap, as the spec counts it): no room to swap, so the limit is
        // hit at once. Only where swap is accounted: cgroup v2, or v1 with memory.memsw.
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let memsw = std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists();
        c["linux"]["resources"]["memory"] = if v2 || memsw { json!({"limit": limit, "swap": limit}) } else { json!({"limit": limit}) };
    })?;
    let created = rt.create(&id, &bundle, &CreateOptions::default())?;
    // Listening before the start: no kill can be missed.
    let mut oom = rt.oom_notifications(&id)?;
    rt.start(&id)?;

    let event = oom.recv_timeout(Duration::from_secs(60))?;
    check(event == Some(MemoryEvent::Oom), format!("the stream yielded an OOM event: {event:?}"))?;
    let code = wait_exit(created.pid)?;
    check(code == 128 + libc::SIGKILL, format!("the OOM killer killed the init (status {code})"))?;
    // The container has stopped: the iterator ends.
    let rest: Vec<_> = oom.by_ref().collect();
    check(oom.ended(), format!("the stream ended with the container ({} more events)", rest.len()))?;
    Ok(())
}
