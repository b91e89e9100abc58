//! cgroup v2: one hierarchy; a controller is usable in a cgroup only when its parent lists it
//! in `cgroup.subtree_control`.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

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

/// Every limit and the device program (a container's first apply).
pub(super) fn apply(path: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    apply_limits(path, r)?;
    super::devices::apply_v2(path, r)
}

/// Every limit but the device program: what `update` changes (as on v1, see there).
pub(super) fn apply_limits(path: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
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
    if let Some(b) = r.block_io() {
        apply_io(&d, b)?;
    }
    apply_hugetlb(&d, r)?;
    if let Some(rdma) = r.rdma() {
        let mut devs: Vec<_> = rdma.iter().collect();
        devs.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in devs {
            let f = format!("linux.resources.rdma[{dev:?}]");
            d.need("rdma", &f)?;
            write_file(path, "rdma.max", &super::rdma_line(dev, l), &f)?;
        }
    }
    if let Some(u) = r.unified() {
        apply_unified(&d, u)?;
    }
    Ok(())
}

fn apply_hugetlb(d: &Dir<'_>, r: &LinuxResources) -> Result<(), CgroupError> {
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let f = format!("linux.resources.hugepageLimits[{i}]");
        d.need("hugetlb", &f)?;
        super::write_hugetlb(d.path, h, ".max", &f)?;
    }
    Ok(())
}

/// hugepageLimits alone, in the cgroup2 directory `path` of a hybrid host whose hugetlb
/// controller is not a v1 hierarchy (this machine's layout: cgroup2 holds only hugetlb).
pub(super) fn apply_hugetlb_only(path: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if r.hugepage_limits().as_ref().is_none_or(|h| h.is_empty()) {
        return Ok(());
    }
    let enabled = read_file(path, "cgroup.controllers")?.split_whitespace().map(str::to_string).collect();
    apply_hugetlb(&Dir { path, enabled }, r)
}

/// `unified`: each key a file of a controller enabled in this cgroup (or a `cgroup.*` limit),
/// written line by line (a file such as io.max takes one device a write), keys in order.
/// The key's form was checked by `validate`; the controller is checked here.
fn apply_unified(d: &Dir<'_>, u: &std::collections::HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        let field = format!("linux.resources.unified[{k:?}]");
        super::unified_key_ok(k).map_err(|reason| CgroupError::Invalid { field: field.clone(), reason })?;
        if let Some((ctrl, _)) = k.split_once('.').filter(|(c, _)| *c != "cgroup") {
            d.need(ctrl, &field)?;
        }
        let lines: Vec<&str> = u[k].lines().filter(|l| !l.trim().is_empty()).collect();
        // An empty value is still one write (e.g. "" resets some files).
        for line in if lines.is_empty() { vec![""] } else { lines } {
            match write_raw(&d.path.join(k), line) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(CgroupError::Invalid {
                        field,
                        reason: format!(
                            "{} does not exist: not a file of the {} controller",
                            d.path.join(k).display(),
                            k.split('.').next().unwrap_or(k)
                        ),
                    })
                }
                Err(e) => return Err(write_error(d.path, k, line, &field, e)),
            }
        }
    }
    Ok(())
}

/// blockIO on v2 (runc's choices): the weight to BFQ's io.bfq.weight as is when the kernel has
/// BFQ, else to io.weight converted (`blkio_to_io_weight`); device weights to io.bfq.weight
/// ("major:minor weight", kernel >= 5.4); the throttle lists to io.max. (v2 has no leaf
/// weights: `validate` refuses them, where runc ignores them.)
fn apply_io(d: &Dir<'_>, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if super::blkio_is_empty(b) {
        return Ok(());
    }
    let path = d.path;
    d.need("io", "linux.resources.blockIO")?;
    let bfq = path.join("io.bfq.weight");
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let f = "linux.resources.blockIO.weight";
        if bfq.exists() {
            write_file(path, "io.bfq.weight", &w.to_string(), f)?;
        } else {
            write_file(path, "io.weight", &blkio_to_io_weight(w).to_string(), f)?;
        }
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let Some(w) = wd.weight().filter(|&w| w != 0) else { continue };
        let f = format!("linux.resources.blockIO.weightDevice[{i}].weight");
        // An old BFQ shows a single number and takes no per-device weights.
        let per_device = std::fs::read_to_string(&bfq).is_ok_and(|t| t.trim().parse::<u64>().is_err());
        if !per_device {
            return Err(CgroupError::Invalid {
                field: f,
                reason: format!("per-device weights need the BFQ I/O scheduler's {} (kernel >= 5.4)", bfq.display()),
            });
        }
        write_file(path, "io.bfq.weight", &format!("{}:{} {w}", wd.major(), wd.minor()), &f)?;
    }
    for (name, list, _) in super::throttle_lists(b) {
        let key = match name {
            "throttleReadBpsDevice" => "rbps",
            "throttleWriteBpsDevice" => "wbps",
            "throttleReadIOPSDevice" => "riops",
            _ => "wiops",
        };
        for (i, t) in list.iter().enumerate() {
            write_file(
                path,
                "io.max",
                &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                &format!("linux.resources.blockIO.{name}[{i}]"),
            )?;
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
    if m.check_before_update() == Some(true) {
        check_usage(d.path, limit, swap)?;
    }
    if let Some(v) = limit_str(limit) {
        write_file(d.path, "memory.max", &v, "linux.resources.memory.limit")?;
    }
    if let Some(v) = limit_str(reservation) {
        write_file(d.path, "memory.low", &v, "linux.resources.memory.reservation")?;
    }
    Ok(())
}

/// `checkBeforeUpdate` (runc's check, v2 only: v1 refuses a limit below the usage itself):
/// a memory or memory+swap limit at or below what the cgroup already uses is refused rather
/// than making the kernel reclaim or OOM-kill. Best effort: an unreadable memory.current
/// (a cgroup just made) passes.
fn check_usage(dir: &Path, limit: i64, swap: i64) -> Result<(), CgroupError> {
    let Ok(usage) = read_file(dir, "memory.current").map(|s| s.trim().parse::<u64>().unwrap_or(0)) else {
        return Ok(());
    };
    for (field, v) in [("linux.resources.memory.swap", swap), ("linux.resources.memory.limit", limit)] {
        if v > 0 && v as u64 <= usage {
            return Err(CgroupError::Invalid {
                field: field.into(),
                reason: format!("{v} is not above the current usage of {usage} bytes (memory.checkBeforeUpdate)"),
            });
        }
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
    // The kernel refuses a weight while the group is idle: leaving idle goes first, entering
    // it last (after the weight, which it then overrides).
    if c.idle() == Some(0) {
        let f = "linux.resources.cpu.idle";
        d.need("cpu", f)?;
        write_file(d.path, "cpu.idle", "0", f)?;
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
    if let Some(idle) = c.idle().filter(|&i| i != 0) {
        let f = "linux.resources.cpu.idle";
        d.need("cpu", f)?;
        write_file(d.path, "cpu.idle", &idle.to_string(), f)?;
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
