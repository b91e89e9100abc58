//! cgroup v2: one hierarchy; a controller is usable in a cgroup only when its parent lists it
//! in `cgroup.subtree_control`.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::{deferrable, read_file, write_error, write_file, write_raw, CgroupError};

/// Enables in `dir`'s `cgroup.subtree_control`, one by one, every controller it has (its
/// `cgroup.controllers`), so its children get them. Only called on directories hull made;
/// a controller the kernel refuses (e.g. in a threaded subtree) just stays off, and `apply`
/// names it if the config needs it.
pub(super) fn enable_all_controllers(dir: &Path) {
    let Ok(avail) = std::fs::read_to_string(dir.join("cgroup.controllers")) else {
        return;
    };
    for c in avail.split_whitespace() {
        let _ = write_raw(&dir.join("cgroup.subtree_control"), &format!("+{c}"));
    }
}

/// runc's conversion of the OCI memory+swap limit (`swap`) to cgroup v2's swap-only
/// `memory.swap.max`; 0 = leave alone, -1 = "max".
pub(super) fn swap_max(limit: i64, swap: i64) -> Result<i64, String> {
    match (limit, swap) {
        // Unlimited memory with swap unsaid: unlimited swap too (what v1 does).
        (-1, 0) => Ok(-1),
        (_, -1) | (_, 0) => Ok(swap),
        (-1, _) => Ok(swap),
        (0, _) => Err("a swap limit needs a memory limit (it is the memory+swap limit)".into()),
        (l, _) if l < 0 => Err(format!("memory limit {l} is invalid")),
        (l, s) if s < l => Err(format!("{s} is below memory.limit {l} (swap is the memory+swap limit)")),
        (l, s) => Ok(s - l),
    }
}

/// runc's mapping of v1 cpu.shares [2, 262144] (default 1024) to v2 cpu.weight [1, 10000]
/// (default 100): a quadratic in log2(shares) through those three points.
pub(super) fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        s => {
            let l = (s as f64).log2();
            10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0).ceil() as u64
        }
    }
}

/// runc's mapping of the v1 blkio weight [10, 1000] to v2 io.weight [1, 10000].
pub(super) fn blkio_to_io_weight(w: u16) -> u64 {
    match w {
        0 => 0,
        w => 1 + (u64::from(w).saturating_sub(10)) * 9999 / 990,
    }
}

/// -1 is "max", 0 is unset.
fn limit_str(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

struct Dir<'a> {
    path: &'a Path,
    /// The controllers usable in this cgroup (its `cgroup.controllers`).
    enabled: BTreeSet<String>,
}

impl Dir<'_> {
    /// Ok when `controller` is usable here; else an error naming the field that wants it.
    fn need(&self, controller: &str, field: &str) -> Result<(), CgroupError> {
        if self.enabled.contains(controller) {
            return Ok(());
        }
        Err(CgroupError::Invalid {
            field: field.into(),
            reason: format!("the {controller} controller is not available in {} (not in its cgroup.controllers)", self.path.display()),
        })
    }
}

pub(super) fn apply(path: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let enabled = read_file(path, "cgroup.controllers")?.split_whitespace().map(str::to_string).collect();
    let d = Dir { path, enabled };
    if let Some(p) = r.pids() {
        let f = "linux.resources.pids.limit";
        d.need("pids", f)?;
        // -1 and 0 both mean "no limit" here (see v1).
        let v = if p.limit() > 0 { p.limit().to_string() } else { "max".into() };
        write_file(path, "pids.max", &v, f)?;
    }
    if let Some(m) = r.memory() {
        apply_memory(&d, m)?;
    }
    if let Some(c) = r.cpu() {
        apply_cpu(&d, c)?;
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()).filter(|&w| w != 0) {
        let f = "linux.resources.blockIO.weight";
        d.need("io", f)?;
        // BFQ takes the v1 weight as is; io.weight has another range (runc's conversion).
        if path.join("io.bfq.weight").exists() {
            write_file(path, "io.bfq.weight", &w.to_string(), f)?;
        } else {
            write_file(path, "io.weight", &blkio_to_io_weight(w).to_string(), f)?;
        }
    }
    // TODO(cgroups issue): linux.resources.devices on cgroup v2 needs an eBPF program
    // (BPF_CGROUP_DEVICE) attached to the cgroup; until it lands device rules are not
    // enforced on a pure v2 host (the container's device nodes still come only from
    // linux.devices and the default set).
    // TODO(cgroups issue): blockIO throttling and device weights (io.max, io.bfq.weight
    // per device), hugepageLimits, rdma.
    if let Some(u) = r.unified() {
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            let field = format!("linux.resources.unified[{k:?}]");
            if k.is_empty() || k.contains('/') || k == "." || k == ".." {
                return Err(CgroupError::Invalid { field, reason: "must be a cgroup file name".into() });
            }
            if let Err(e) = write_raw(&path.join(k), &u[k]) {
                // A missing file usually means a missing controller: say so.
                if e.kind() == io::ErrorKind::NotFound {
                    if let Some((ctrl, _)) = k.split_once('.') {
                        if ctrl != "cgroup" {
                            d.need(ctrl, &field)?;
                        }
                    }
                }
                return Err(write_error(path, k, &u[k], &field, e));
            }
        }
    }
    Ok(())
}

fn apply_memory(d: &Dir<'_>, m: &LinuxMemory) -> Result<(), CgroupError> {
    let (limit, swap, reservation) = (m.limit().unwrap_or(0), m.swap().unwrap_or(0), m.reservation().unwrap_or(0));
    // swappiness and disableOOMKiller have no cgroup v2 counterpart; runc ignores them too.
    if limit == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    d.need("memory", if limit != 0 { "linux.resources.memory.limit" } else { "linux.resources.memory" })?;
    let sw = swap_max(limit, swap).map_err(|reason| CgroupError::Invalid { field: "linux.resources.memory.swap".into(), reason })?;
    // memory == memory+swap: no swap at all, which is "0" (limit_str would say "unset").
    let sw = if sw == 0 && swap > 0 { Some("0".to_string()) } else { limit_str(sw) };
    if let Some(v) = sw {
        match write_raw(&d.path.join("memory.swap.max"), &v) {
            Ok(()) => {}
            // A kernel without swap accounting: "no limit" and "no swap" hold anyway.
            Err(e) if e.kind() == io::ErrorKind::NotFound && (v == "max" || v == "0") => {}
            Err(e) => return Err(write_error(d.path, "memory.swap.max", &v, "linux.resources.memory.swap", e)),
        }
    }
    if let Some(v) = limit_str(limit) {
        write_file(d.path, "memory.max", &v, "linux.resources.memory.limit")?;
    }
    if let Some(v) = limit_str(reservation) {
        write_file(d.path, "memory.low", &v, "linux.resources.memory.reservation")?;
    }
    Ok(())
}

fn apply_cpu(d: &Dir<'_>, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        return Err(CgroupError::Invalid {
            field: "linux.resources.cpu.realtimeRuntime".into(),
            reason: "cgroup v2 has no realtime CPU bandwidth control".into(),
        });
    }
    if let Some(idle) = c.idle() {
        let f = "linux.resources.cpu.idle";
        d.need("cpu", f)?;
        write_file(d.path, "cpu.idle", &idle.to_string(), f)?;
    }
    if let Some(shares) = c.shares().filter(|&s| s != 0) {
        let f = "linux.resources.cpu.shares";
        d.need("cpu", f)?;
        write_file(d.path, "cpu.weight", &shares_to_weight(shares).to_string(), f)?;
    }
    let quota = c.quota().filter(|&q| q != 0);
    let period = c.period().filter(|&p| p != 0);
    let quota_or_period = quota.is_some() || period.is_some();
    let retry_burst = match c.burst() {
        Some(b) => {
            let f = "linux.resources.cpu.burst";
            d.need("cpu", f)?;
            // A burst above the current quota may fit once the new quota is written.
            deferrable(d.path, "cpu.max.burst", &b.to_string(), f, quota_or_period)?
        }
        None => None,
    };
    if quota_or_period {
        let f = if quota.is_some() { "linux.resources.cpu.quota" } else { "linux.resources.cpu.period" };
        d.need("cpu", f)?;
        let q = quota.filter(|&q| q > 0).map_or_else(|| "max".to_string(), |q| q.to_string());
        // The kernel's default period, which "max" alone would also keep.
        let v = format!("{q} {}", period.unwrap_or(100_000));
        write_file(d.path, "cpu.max", &v, f)?;
    }
    if let Some(b) = retry_burst {
        write_file(d.path, "cpu.max.burst", &b, "linux.resources.cpu.burst")?;
    }
    for (file, field, v) in [("cpuset.cpus", "linux.resources.cpu.cpus", c.cpus()), ("cpuset.mems", "linux.resources.cpu.mems", c.mems())] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            d.need("cpuset", field)?;
            write_file(d.path, file, v, field)?;
        }
    }
    Ok(())
}

/// "frozen 1" in cgroup.events: every process is stopped (cgroup.freeze says only what was
/// asked).
fn events_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(read_file(dir, "cgroup.events")?.lines().any(|l| l.trim() == "frozen 1"))
}

/// Polls cgroup.events until "frozen" is `want` or `limit` passes; returns whether it got there.
fn wait_frozen(dir: &Path, want: bool, limit: Duration) -> Result<bool, CgroupError> {
    let deadline = Instant::now() + limit;
    loop {
        if events_frozen(dir)? == want {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes 1 to cgroup.freeze and waits (up to 10 s, as runc) until the kernel reports every
/// process stopped; on timeout thaws again rather than leave it half frozen.
pub(super) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    write_file(dir, "cgroup.freeze", "1", "cgroup.freeze")?;
    if wait_frozen(dir, true, Duration::from_secs(10))? {
        return Ok(());
    }
    let _ = write_raw(&dir.join("cgroup.freeze"), "0");
    Err(CgroupError::Freeze { path: dir.into(), reason: "not frozen after 10 s (cgroup.events); thawed it again".into() })
}

pub(super) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    write_file(dir, "cgroup.freeze", "0", "cgroup.freeze")?;
    if wait_frozen(dir, false, Duration::from_secs(1))? {
        return Ok(());
    }
    // Still frozen: an ancestor hull does not control is frozen.
    Err(CgroupError::Freeze {
        path: dir.into(),
        reason: "still frozen after writing 0 to cgroup.freeze (a parent cgroup is frozen)".into(),
    })
}

/// Whether cgroup.freeze asks for frozen, waiting for a freeze in progress to complete. A
/// kernel without cgroup.freeze (before 5.2) cannot freeze: false.
pub(super) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let asked = match read_file(dir, "cgroup.freeze") {
        Ok(s) => s.trim() == "1",
        Err(CgroupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !asked {
        return Ok(false);
    }
    if wait_frozen(dir, true, Duration::from_secs(10))? {
        Ok(true)
    } else {
        Err(CgroupError::Freeze { path: dir.into(), reason: "cgroup.freeze is 1 but cgroup.events never reported frozen".into() })
    }
}
