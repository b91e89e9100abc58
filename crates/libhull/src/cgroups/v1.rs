//! cgroup v1: one hierarchy per controller (or co-mounted group), each with its own files.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::{deferrable, devices, read_file, write_error, write_file, write_raw, CgroupError};

/// The directory of `controller`, or a clear error naming `field` that asked for it.
fn need<'a>(paths: &'a BTreeMap<String, PathBuf>, controller: &str, field: &str) -> Result<&'a Path, CgroupError> {
    paths.get(controller).map(PathBuf::as_path).ok_or_else(|| CgroupError::Invalid {
        field: field.into(),
        reason: format!("the cgroup v1 {controller} controller is not mounted on this host"),
    })
}

pub(super) fn apply(paths: &BTreeMap<String, PathBuf>, r: &LinuxResources) -> Result<(), CgroupError> {
    apply_limits(paths, r)?;
    apply_devices(paths, r)
}

/// Every limit but the devices policy: what `update` changes in a running container (runc
/// never rewrites device rules there; rewriting them starts with "deny all", which a running
/// container would notice).
pub(super) fn apply_limits(paths: &BTreeMap<String, PathBuf>, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(c) = r.cpu() {
        apply_cpu(paths, c)?;
    }
    if let Some(m) = r.memory() {
        apply_memory(paths, m)?;
    }
    if let Some(p) = r.pids() {
        let dir = need(paths, "pids", "linux.resources.pids.limit")?;
        // -1 and 0 both mean "no limit" here (runc >= 1.2 writes 1 for 0, matching systemd's
        // TasksMax; runc 1.1 and the OCI spec's "unlimited" reading agree with "max").
        let v = if p.limit() > 0 { p.limit().to_string() } else { "max".into() };
        write_file(dir, "pids.max", &v, "linux.resources.pids.limit")?;
    }
    if let Some(b) = r.block_io() {
        apply_blkio(paths, b)?;
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let f = format!("linux.resources.hugepageLimits[{i}]");
        let dir = need(paths, "hugetlb", &f)?;
        super::write_hugetlb(dir, h, ".limit_in_bytes", &f)?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            let f = "linux.resources.network.classID";
            write_file(need(paths, "net_cls", f)?, "net_cls.classid", &id.to_string(), f)?;
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            let f = format!("linux.resources.network.priorities[{i}]");
            write_file(need(paths, "net_prio", &f)?, "net_prio.ifpriomap", &format!("{} {}", p.name(), p.priority()), &f)?;
        }
    }
    if let Some(rdma) = r.rdma() {
        let mut devs: Vec<_> = rdma.iter().collect();
        devs.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in devs {
            let f = format!("linux.resources.rdma[{dev:?}]");
            write_file(need(paths, "rdma", &f)?, "rdma.max", &super::rdma_line(dev, l), &f)?;
        }
    }
    Ok(())
}

/// blkio: weights (CFQ's files, or BFQ's where the kernel has no CFQ, as runc picks them) and
/// the four throttle lists, one write a device.
fn apply_blkio(paths: &BTreeMap<String, PathBuf>, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if super::blkio_is_empty(b) {
        return Ok(());
    }
    let dir = need(paths, "blkio", "linux.resources.blockIO")?;
    let cfq = dir.join("blkio.weight").exists();
    let (weight, weight_device) =
        if cfq { ("blkio.weight", "blkio.weight_device") } else { ("blkio.bfq.weight", "blkio.bfq.weight_device") };
    // A missing file is a scheduler the kernel does not have: say which field needs it.
    let write = |file: &str, v: &str, field: &str| match write_raw(&dir.join(file), v) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CgroupError::Invalid {
            field: field.into(),
            reason: format!("{} does not exist (this kernel's I/O schedulers do not support it)", dir.join(file).display()),
        }),
        // BFQ's per-device weight on a device that uses another scheduler.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Err(CgroupError::Invalid {
            field: field.into(),
            reason: format!(
                "writing {v:?} to {}: the device does not use the I/O scheduler this file belongs to",
                dir.join(file).display()
            ),
        }),
        Err(e) => Err(write_error(dir, file, v, field, e)),
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        write(weight, &w.to_string(), "linux.resources.blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        write("blkio.leaf_weight", &w.to_string(), "linux.resources.blockIO.leafWeight")?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            write(
                weight_device,
                &format!("{}:{} {w}", d.major(), d.minor()),
                &format!("linux.resources.blockIO.weightDevice[{i}].weight"),
            )?;
        }
        if let Some(w) = d.leaf_weight().filter(|&w| w != 0) {
            let f = format!("linux.resources.blockIO.weightDevice[{i}].leafWeight");
            write("blkio.leaf_weight_device", &format!("{}:{} {w}", d.major(), d.minor()), &f)?;
        }
    }
    for (name, list, file) in super::throttle_lists(b) {
        let file = format!("blkio.throttle.{file}_device");
        for (i, t) in list.iter().enumerate() {
            write(&file, &format!("{}:{} {}", t.major(), t.minor(), t.rate()), &format!("linux.resources.blockIO.{name}[{i}]"))?;
        }
    }
    Ok(())
}

fn apply_cpu(paths: &BTreeMap<String, PathBuf>, c: &LinuxCpu) -> Result<(), CgroupError> {
    // The kernel refuses shares while the group is idle: leaving idle goes first, entering it
    // last (after the shares, which it then overrides).
    if c.idle() == Some(0) {
        let f = "linux.resources.cpu.idle";
        write_file(need(paths, "cpu", f)?, "cpu.idle", "0", f)?;
    }
    if let Some(shares) = c.shares().filter(|&s| s != 0) {
        let f = "linux.resources.cpu.shares";
        let dir = need(paths, "cpu", f)?;
        write_file(dir, "cpu.shares", &shares.to_string(), f)?;
        // The kernel clamps silently; read back so a clamped value is an error, as in runc.
        let got: u64 = read_file(dir, "cpu.shares")?.trim().parse().unwrap_or(0);
        if got != shares {
            return Err(CgroupError::Invalid { field: f.into(), reason: format!("{shares} was clamped by the kernel to {got}") });
        }
    }
    let quota = c.quota().filter(|&q| q != 0);
    let period = c.period().filter(|&p| p != 0);
    let burst = c.burst();
    if quota.is_some() || period.is_some() || burst.is_some() {
        let dir = need(paths, "cpu", if quota.is_some() { "linux.resources.cpu.quota" } else { "linux.resources.cpu.period" })?;
        // period, burst and quota are checked against each other (and the parent's quota) at
        // every write: a value refused now (EINVAL) may fit once the quota is written.
        let retry_period = match period {
            Some(p) => deferrable(dir, "cpu.cfs_period_us", &p.to_string(), "linux.resources.cpu.period", quota.is_some())?,
            None => None,
        };
        let retry_burst = match burst {
            // An older kernel without burst support: nothing to do, as runc.
            Some(b) => match deferrable(dir, "cpu.cfs_burst_us", &b.to_string(), "linux.resources.cpu.burst", quota.is_some()) {
                Err(CgroupError::Write { source, .. }) if source.kind() == io::ErrorKind::NotFound => None,
                other => other?,
            },
            None => None,
        };
        if let Some(q) = quota {
            write_file(dir, "cpu.cfs_quota_us", &q.to_string(), "linux.resources.cpu.quota")?;
        }
        if let Some(p) = retry_period {
            write_file(dir, "cpu.cfs_period_us", &p, "linux.resources.cpu.period")?;
        }
        if let Some(b) = retry_burst {
            write_file(dir, "cpu.cfs_burst_us", &b, "linux.resources.cpu.burst")?;
        }
    }
    let rt_period = c.realtime_period().filter(|&p| p != 0);
    let rt_runtime = c.realtime_runtime().filter(|&r| r != 0);
    if rt_period.is_some() || rt_runtime.is_some() {
        let dir = need(paths, "cpu", "linux.resources.cpu.realtimeRuntime")?;
        // Same dance: a new period may only fit once the runtime is set.
        let retry = match rt_period {
            Some(p) => deferrable(dir, "cpu.rt_period_us", &p.to_string(), "linux.resources.cpu.realtimePeriod", rt_runtime.is_some())?,
            None => None,
        };
        if let Some(rt) = rt_runtime {
            write_file(dir, "cpu.rt_runtime_us", &rt.to_string(), "linux.resources.cpu.realtimeRuntime")?;
        }
        if let Some(p) = retry {
            write_file(dir, "cpu.rt_period_us", &p, "linux.resources.cpu.realtimePeriod")?;
        }
    }
    if let Some(idle) = c.idle().filter(|&i| i != 0) {
        let f = "linux.resources.cpu.idle";
        write_file(need(paths, "cpu", f)?, "cpu.idle", &idle.to_string(), f)?;
    }
    for (file, field, v) in [("cpuset.cpus", "linux.resources.cpu.cpus", c.cpus()), ("cpuset.mems", "linux.resources.cpu.mems", c.mems())] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            write_file(need(paths, "cpuset", field)?, file, v, field)?;
        }
    }
    Ok(())
}

const MEM_LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

fn apply_memory(paths: &BTreeMap<String, PathBuf>, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let reservation = m.reservation().unwrap_or(0);
    // u64::MAX is -1 cast by some engines: "unset", as runc reads it.
    let swappiness = m.swappiness().filter(|&s| s != u64::MAX);
    let oom = m.disable_oom_killer() == Some(true);
    // kernel and kernelTCP are deprecated and ignored (runc too): recent kernels dropped them.
    if limit == 0 && swap == 0 && reservation == 0 && swappiness.is_none() && !oom {
        return Ok(());
    }
    if let Some(s) = swappiness.filter(|&s| s > 100) {
        return Err(CgroupError::Invalid {
            field: "linux.resources.memory.swappiness".into(),
            reason: format!("{s} is out of range (0-100)"),
        });
    }
    let field = if limit != 0 { "linux.resources.memory.limit" } else { "linux.resources.memory" };
    let dir = need(paths, "memory", field)?;
    let has_memsw = dir.join(MEMSW_LIMIT).exists();
    // "Unlimited memory" with swap unsaid means unlimited memory+swap too (runc's reading).
    if limit == -1 && swap == 0 && has_memsw {
        swap = -1;
    }
    if swap != 0 && !has_memsw {
        return Err(CgroupError::Invalid {
            field: "linux.resources.memory.swap".into(),
            reason: format!("swap accounting is off on this host ({} does not exist)", dir.join(MEMSW_LIMIT).display()),
        });
    }
    // memory+swap may never be below memory: raise whichever bound must go first.
    let swap_first = limit != 0 && swap != 0 && {
        let cur: u64 = read_file(dir, MEM_LIMIT)?.trim().parse().unwrap_or(u64::MAX);
        swap == -1 || cur < swap as u64
    };
    if swap_first {
        set_swap(dir, swap)?;
        set_limit(dir, limit)?;
    } else {
        set_limit(dir, limit)?;
        set_swap(dir, swap)?;
    }
    if reservation != 0 {
        write_file(dir, "memory.soft_limit_in_bytes", &reservation.to_string(), "linux.resources.memory.reservation")?;
    }
    if oom {
        write_file(dir, "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller")?;
    }
    if let Some(s) = swappiness {
        write_file(dir, "memory.swappiness", &s.to_string(), "linux.resources.memory.swappiness")?;
    }
    Ok(())
}

fn set_limit(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    if limit == 0 {
        return Ok(());
    }
    let v = limit.to_string();
    match write_raw(&dir.join(MEM_LIMIT), &v) {
        Ok(()) => Ok(()),
        // EBUSY: below what the cgroup already uses (an update); say how much that is.
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let usage = read_file(dir, "memory.usage_in_bytes").map(|s| s.trim().to_string()).unwrap_or_default();
            let peak = read_file(dir, "memory.max_usage_in_bytes").map(|s| s.trim().to_string()).unwrap_or_default();
            Err(CgroupError::Invalid {
                field: "linux.resources.memory.limit".into(),
                reason: format!("{limit} is below the current usage of {} ({usage} bytes, peak {peak})", dir.display()),
            })
        }
        Err(e) => Err(write_error(dir, MEM_LIMIT, &v, "linux.resources.memory.limit", e)),
    }
}

fn set_swap(dir: &Path, swap: i64) -> Result<(), CgroupError> {
    if swap == 0 {
        return Ok(());
    }
    write_file(dir, MEMSW_LIMIT, &swap.to_string(), "linux.resources.memory.swap")
}

/// The rules to write, in order, as (file, rule, JSON field of the rule). runc computes the
/// target state starting from "deny everything" (an allow-list), so hull starts with `a`
/// denied, then replays the config's rules (an `allow a` among them turns it into a
/// deny-list), then runc's defaults; the kernel adds them up as `devices::Policy` does.
pub(super) fn device_rules(r: &LinuxResources) -> Result<Vec<(&'static str, String, String)>, CgroupError> {
    let mut out = vec![("devices.deny", "a".to_string(), "linux.resources.devices".to_string())];
    for (rule, field) in devices::rules(r)? {
        out.push((if rule.allow { "devices.allow" } else { "devices.deny" }, rule.v1_line(), field));
    }
    Ok(out)
}

fn apply_devices(paths: &BTreeMap<String, PathBuf>, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(dir) = paths.get("devices") else {
        // No devices hierarchy: only an error when the config asks for rules.
        if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            need(paths, "devices", "linux.resources.devices")?;
        }
        return Ok(());
    };
    for (file, rule, field) in device_rules(r)? {
        write_file(dir, file, &rule, &field)?;
    }
    Ok(())
}

/// A new v1 cpuset starts with empty cpus and mems, and no process may join it then: copy
/// the parent's (the parent is set, being either pre-existing or made just before).
pub(super) fn copy_cpuset_from_parent(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if !read_file(dir, file)?.trim().is_empty() {
            continue;
        }
        let v = read_file(parent, file)?;
        let v = v.trim();
        if !v.is_empty() {
            write_file(dir, file, v, "linux.resources.cpu")?;
        }
    }
    Ok(())
}

fn freezer_state(dir: &Path) -> Result<String, CgroupError> {
    Ok(read_file(dir, "freezer.state")?.trim().to_string())
}

/// Writes FROZEN until the kernel reports FROZEN. While processes keep forking a v1 cgroup
/// can stay FREEZING; the kernel docs say to retry or thaw, so every so often hull thaws
/// briefly and starts over. Gives up (and thaws) after about two seconds.
pub(super) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut attempts = 0u32;
    let result = loop {
        attempts += 1;
        if attempts == 64 {
            // Let the processes that were forking settle, then start over.
            attempts = 0;
            let _ = write_raw(&dir.join("freezer.state"), "THAWED");
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Err(e) = write_file(dir, "freezer.state", "FROZEN", "freezer.state") {
            break Err(e);
        }
        match freezer_state(dir) {
            Ok(s) if s == "FROZEN" => return Ok(()),
            Ok(s) if s == "FREEZING" => {
                if Instant::now() >= deadline {
                    break Err(CgroupError::Freeze { path: dir.into(), reason: "still FREEZING after 2 s; thawed it again".into() });
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Ok(s) => break Err(CgroupError::Freeze { path: dir.into(), reason: format!("unexpected freezer.state {s:?} while freezing") }),
            Err(e) => break Err(e),
        }
    };
    // Never leave a half-frozen container behind.
    let _ = write_raw(&dir.join("freezer.state"), "THAWED");
    result
}

pub(super) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    write_file(dir, "freezer.state", "THAWED", "freezer.state")?;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let s = freezer_state(dir)?;
        if s == "THAWED" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::Freeze { path: dir.into(), reason: format!("still {s} after thawing") });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// FROZEN counts only when this cgroup itself was frozen (freezer.self_freezing), not when
/// an ancestor hull does not own was; FREEZING is waited out.
pub(super) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match freezer_state(dir)?.as_str() {
            "THAWED" => return Ok(false),
            "FROZEN" => {
                return match read_file(dir, "freezer.self_freezing") {
                    Ok(s) => Ok(s.trim() == "1"),
                    Err(CgroupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(true),
                    Err(e) => Err(e),
                };
            }
            s if Instant::now() >= deadline => {
                return Err(CgroupError::Freeze { path: dir.into(), reason: format!("freezer.state stays {s:?}") })
            }
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}
