//! Resource usage (`stats`) and changing the limits of a running container (`update`, runc's
//! `set`).
//!
//! ```sh
//! sudo cargo run -p libhull --example stats_update
//! ```

mod common;

use common::{check, Result, Scratch};
use libhull::CreateOptions;
use serde_json::json;

const MIB: u64 = 1 << 20;

fn main() -> Result {
    let s = Scratch::new("stats")?;
    let rt = &s.runtime;
    let id = s.id("limited");
    let bundle = s.bundle("limited", &["sleep", "1000"], |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB});
        c["linux"]["resources"]["pids"] = json!({"limit": 50});
    })?;
    rt.create(&id, &bundle, &CreateOptions::default())?;
    rt.start(&id)?;

    let st = rt.stats(&id)?;
    check(st.memory.usage.limit == 64 * MIB, format!("memory limit 64 MiB (stats say {})", st.memory.usage.limit))?;
    check(st.memory.usage.usage > 0, format!("memory in use: {} bytes", st.memory.usage.usage))?;
    check(st.pids.current == 1 && st.pids.limit == 50, format!("1 process of at most 50 ({:?})", st.pids))?;

    // Only what is named changes; the result is every limit now in force.
    let changes = libhull::update::parse_resources(br#"{"memory": {"limit": 33554432}, "pids": {"limit": 20}}"#, "changes")?;
    let now = rt.update(&id, &changes)?;
    check(now.memory().as_ref().and_then(|m| m.limit()) == Some(32 * MIB as i64), "update returns the new memory limit")?;
    let st = rt.stats(&id)?;
    check(st.memory.usage.limit == 32 * MIB, format!("memory limit now 32 MiB (stats say {})", st.memory.usage.limit))?;
    check(st.pids.limit == 20, format!("pids limit now 20 (stats say {})", st.pids.limit))?;
    Ok(())
}
