//! stats: a container's resource usage, read from its cgroups into the schema of runc's
//! `events` output (`types/events.go` in runc 1.1), so that tools parsing runc's JSON parse
//! hull's.
//!
//! What is read, and from where, follows runc 1.1's cgroup drivers: on cgroup v1 (and on a
//! hybrid host, whose unified hierarchy holds no resource controllers) each v1 controller's
//! files; on a pure v2 host the unified files, converted to the v1 shapes the schema has.
//! A controller that is not mounted leaves its part at zero; a file a controller must have
//! that is missing or unreadable is an error naming it.
//!
//! Go's `omitempty` is kept field by field (`skip_serializing_if`), and so are Go's quirks
//! that show in the JSON: `omitempty` on a struct field has no effect, `network_interfaces`
//! is `null`, `hugetlb` is always an object.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupManager;

/// Errors reading stats; each names the cgroup file.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("unable to parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The `data` of a `stats` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT: hull has no resctrl support, so always `{}`.
    pub intel_rdt: IntelRdt,
    /// runc fills this only for its own (non-OCI) veth networks: `null` for OCI containers.
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// memory+swap, as cgroup v1 counts it (v2's swap-only numbers are converted).
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 means no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Blkio {
    #[serde(rename = "ioServiceBytesRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// runc's JSON name says "Queue", not "Queued".
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServiceTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntelRdt {}

/// runc's field names (Go's, without JSON tags).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Reads the stats of the container whose cgroups `cg` describes.
pub fn collect(cg: &CgroupManager) -> Result<Stats, StatsError> {
    let mut s = Stats::default();
    if cg.is_unified() {
        if let Some(dir) = cg.paths.get("") {
            v2(dir, &mut s)?;
        }
        return Ok(s);
    }
    // A hybrid host's unified hierarchy holds no resource controllers: v1 only, as runc.
    let p = |c: &str| cg.paths.get(c).map(PathBuf::as_path);
    if let Some(d) = p("cpu") {
        v1_cpu(d, &mut s)?;
    }
    if let Some(d) = p("cpuacct") {
        v1_cpuacct(d, &mut s)?;
    }
    if let Some(d) = p("cpuset") {
        v1_cpuset(d, &mut s)?;
    }
    if let Some(d) = p("memory") {
        v1_memory(d, &mut s)?;
    }
    if let Some(d) = p("pids") {
        pids(d, &mut s)?;
    }
    if let Some(d) = p("blkio") {
        v1_blkio(d, &mut s)?;
    }
    if let Some(d) = p("hugetlb") {
        for size in huge_page_sizes() {
            let f = |n: &str| format!("hugetlb.{size}.{n}");
            let h = Hugetlb {
                usage: read_u64(d, &f("usage_in_bytes"))?,
                max: read_u64(d, &f("max_usage_in_bytes"))?,
                failcnt: read_u64(d, &f("failcnt"))?,
            };
            s.hugetlb.insert(size, h);
        }
    }
    Ok(s)
}

// --- reading cgroup files -------------------------------------------------------------------

/// The text of `dir/file`; `None` when it does not exist.
fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, StatsError> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StatsError::Read { path, source }),
    }
}

fn read(dir: &Path, file: &str) -> Result<String, StatsError> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| StatsError::Read { path, source })
}

fn parse_error(dir: &Path, file: &str, reason: impl Into<String>) -> StatsError {
    StatsError::Parse { path: dir.join(file), reason: reason.into() }
}

/// A cgroup counter as runc reads it: "max" is u64::MAX, and a negative value (a kernel bug
/// some memory counters had) is 0.
pub fn parse_counter(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    match s.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => s.parse::<i128>().ok().filter(|v| *v < 0).map(|_| 0),
    }
}

fn read_u64(dir: &Path, file: &str) -> Result<u64, StatsError> {
    let t = read(dir, file)?;
    parse_counter(&t).ok_or_else(|| parse_error(dir, file, format!("{:?} is not a number", t.trim())))
}

/// Like `read_u64`; a missing file is `None`.
fn read_u64_opt(dir: &Path, file: &str) -> Result<Option<u64>, StatsError> {
    match read_opt(dir, file)? {
        None => Ok(None),
        Some(t) => parse_counter(&t).map(Some).ok_or_else(|| parse_error(dir, file, format!("{:?} is not a number", t.trim()))),
    }
}

/// "key value" lines (cpu.stat, memory.stat, ...), in file order.
fn key_values(dir: &Path, file: &str, text: &str) -> Result<Vec<(String, u64)>, StatsError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split(' ');
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(parse_error(dir, file, format!("line {line:?} is not in key value format")));
        };
        let v = parse_counter(v).ok_or_else(|| parse_error(dir, file, format!("line {line:?}: {v:?} is not a number")))?;
        out.push((k.to_string(), v));
    }
    Ok(out)
}

/// A cpuset list ("0-3,8,10-11") as the numbers in it.
pub fn parse_cpuset_list(s: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// The huge page sizes of this host in runc's spelling ("2MB", "1GB"), from
/// /sys/kernel/mm/hugepages/hugepages-<n>kB.
pub fn huge_page_sizes() -> Vec<String> {
    let Ok(rd) = fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<u64> =
        rd.flatten().filter_map(|e| e.file_name().to_str()?.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse::<u64>().ok()).collect();
    sizes.sort_unstable();
    sizes.into_iter().map(|kb| page_size_name(kb.saturating_mul(1024))).collect()
}

/// go-units' CustomSize("%g%s", size, 1024, {"B","KB","MB","GB","TB","PB"}).
pub fn page_size_name(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v}{}", UNITS[i])
}

// --- cgroup v1 ------------------------------------------------------------------------------

/// USER_HZ: the unit of cpuacct.stat, fixed at 100 in the kernel's ABI.
const USER_HZ: u64 = 100;
const NANOS_PER_SEC: u64 = 1_000_000_000;

fn v1_cpu(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    let Some(text) = read_opt(dir, "cpu.stat")? else {
        return Ok(());
    };
    for (k, v) in key_values(dir, "cpu.stat", &text)? {
        match k.as_str() {
            "nr_periods" => s.cpu.throttling.periods = v,
            "nr_throttled" => s.cpu.throttling.throttled_periods = v,
            "throttled_time" => s.cpu.throttling.throttled_time = v,
            _ => {}
        }
    }
    Ok(())
}

fn v1_cpuacct(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    let file = "cpuacct.stat";
    let text = read(dir, file)?;
    let (mut user, mut system) = (None, None);
    for (k, v) in key_values(dir, file, &text)? {
        match k.as_str() {
            "user" => user = Some(v),
            "system" => system = Some(v),
            _ => {}
        }
    }
    let (Some(user), Some(system)) = (user, system) else {
        return Err(parse_error(dir, file, "no user and system lines"));
    };
    let u = &mut s.cpu.usage;
    u.user = user.saturating_mul(NANOS_PER_SEC) / USER_HZ;
    u.kernel = system.saturating_mul(NANOS_PER_SEC) / USER_HZ;
    u.total = read_u64(dir, "cpuacct.usage")?;
    let file = "cpuacct.usage_percpu";
    u.percpu = read(dir, file)?
        .split_whitespace()
        .map(|v| v.parse::<u64>().map_err(|e| parse_error(dir, file, format!("{v:?}: {e}"))))
        .collect::<Result<_, _>>()?;
    // "cpu user system" then one line a CPU; absent on old kernels.
    let file = "cpuacct.usage_all";
    if let Some(text) = read_opt(dir, file)? {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() != 3 {
                continue;
            }
            let num = |v: &str| v.parse::<u64>().map_err(|e| parse_error(dir, file, format!("{v:?}: {e}")));
            u.percpu_kernel.push(num(f[2])?);
            u.percpu_user.push(num(f[1])?);
        }
    }
    Ok(())
}

fn v1_cpuset(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    let c = &mut s.cpuset;
    for (file, out) in [("cpuset.cpus", &mut c.cpus), ("cpuset.mems", &mut c.mems)] {
        if let Some(t) = read_opt(dir, file)? {
            *out = parse_cpuset_list(&t).ok_or_else(|| parse_error(dir, file, format!("{:?} is not a cpu list", t.trim())))?;
        }
    }
    for (file, out) in [
        ("cpuset.cpu_exclusive", &mut c.cpu_exclusive),
        ("cpuset.mem_hardwall", &mut c.mem_hardwall),
        ("cpuset.mem_exclusive", &mut c.mem_exclusive),
        ("cpuset.memory_migrate", &mut c.memory_migrate),
        ("cpuset.memory_spread_page", &mut c.memory_spread_page),
        ("cpuset.memory_spread_slab", &mut c.memory_spread_slab),
        ("cpuset.memory_pressure", &mut c.memory_pressure),
        ("cpuset.sched_load_balance", &mut c.sched_load_balance),
    ] {
        if let Some(v) = read_u64_opt(dir, file)? {
            *out = v;
        }
    }
    let file = "cpuset.sched_relax_domain_level";
    if let Some(t) = read_opt(dir, file)? {
        c.sched_relax_domain_level = t.trim().parse().map_err(|e| parse_error(dir, file, format!("{:?}: {e}", t.trim())))?;
    }
    Ok(())
}

/// usage, max usage, failcnt and limit of `memory[.name]`. The swap and kernel counters are
/// optional in the kernel: missing, they are zero.
fn v1_memory_entry(dir: &Path, name: &str) -> Result<MemoryEntry, StatsError> {
    let m = if name.is_empty() { "memory".to_string() } else { format!("memory.{name}") };
    let usage = match read_u64_opt(dir, &format!("{m}.usage_in_bytes"))? {
        Some(v) => v,
        None if !name.is_empty() => return Ok(MemoryEntry::default()),
        None => return Err(StatsError::Read { path: dir.join(format!("{m}.usage_in_bytes")), source: io::ErrorKind::NotFound.into() }),
    };
    Ok(MemoryEntry {
        usage,
        max: read_u64(dir, &format!("{m}.max_usage_in_bytes"))?,
        failcnt: read_u64(dir, &format!("{m}.failcnt"))?,
        limit: read_u64(dir, &format!("{m}.limit_in_bytes"))?,
    })
}

fn v1_memory(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    let Some(text) = read_opt(dir, "memory.stat")? else {
        return Ok(());
    };
    s.memory.raw = key_values(dir, "memory.stat", &text)?.into_iter().collect();
    s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    s.memory.usage = v1_memory_entry(dir, "")?;
    s.memory.swap = v1_memory_entry(dir, "memsw")?;
    s.memory.kernel = v1_memory_entry(dir, "kmem")?;
    s.memory.kernel_tcp = v1_memory_entry(dir, "kmem.tcp")?;
    Ok(())
}

/// pids.current and pids.max ("max" is reported as 0, runc's "no limit"); both versions.
fn pids(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    s.pids.current = read_u64(dir, "pids.current")?;
    let max = read_u64(dir, "pids.max")?;
    s.pids.limit = if max == u64::MAX { 0 } else { max };
    Ok(())
}

/// One blkio stats file: "major:minor [op] value" lines; a "Total n" line is skipped.
fn blkio_entries(dir: &Path, file: &str) -> Result<Option<Vec<BlkioEntry>>, StatsError> {
    let Some(text) = read_opt(dir, file)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split([' ', ':']).filter(|f| !f.is_empty()).collect();
        if f.len() < 3 {
            if f.len() == 2 && f[0] == "Total" {
                continue;
            }
            return Err(parse_error(dir, file, format!("malformed line {line:?}")));
        }
        let num = |v: &str| v.parse::<u64>().map_err(|e| parse_error(dir, file, format!("line {line:?}: {e}")));
        let (op, value) = if f.len() == 4 { (f[2].to_string(), f[3]) } else { (String::new(), f[2]) };
        out.push(BlkioEntry { major: num(f[0])?, minor: num(f[1])?, op, value: num(value)? });
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// runc's order of preference: BFQ's debug files, BFQ's, CFQ's, the throttle layer's
/// recursive files, then its plain ones. The first group whose first file has entries wins.
fn v1_blkio(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    type Field = fn(&mut Blkio) -> &mut Vec<BlkioEntry>;
    let sectors: Field = |b| &mut b.sectors_recursive;
    let service_time: Field = |b| &mut b.io_service_time_recursive;
    let wait_time: Field = |b| &mut b.io_wait_time_recursive;
    let merged: Field = |b| &mut b.io_merged_recursive;
    let queued: Field = |b| &mut b.io_queued_recursive;
    let time: Field = |b| &mut b.io_time_recursive;
    let serviced: Field = |b| &mut b.io_serviced_recursive;
    let bytes: Field = |b| &mut b.io_service_bytes_recursive;
    let groups: [&[(&str, Field)]; 5] = [
        &[
            ("blkio.bfq.sectors_recursive", sectors),
            ("blkio.bfq.io_service_time_recursive", service_time),
            ("blkio.bfq.io_wait_time_recursive", wait_time),
            ("blkio.bfq.io_merged_recursive", merged),
            ("blkio.bfq.io_queued_recursive", queued),
            ("blkio.bfq.time_recursive", time),
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[("blkio.bfq.io_serviced_recursive", serviced), ("blkio.bfq.io_service_bytes_recursive", bytes)],
        &[
            ("blkio.sectors_recursive", sectors),
            ("blkio.io_service_time_recursive", service_time),
            ("blkio.io_wait_time_recursive", wait_time),
            ("blkio.io_merged_recursive", merged),
            ("blkio.io_queued_recursive", queued),
            ("blkio.time_recursive", time),
            ("blkio.io_serviced_recursive", serviced),
            ("blkio.io_service_bytes_recursive", bytes),
        ],
        &[("blkio.throttle.io_serviced_recursive", serviced), ("blkio.throttle.io_service_bytes_recursive", bytes)],
        &[("blkio.throttle.io_serviced", serviced), ("blkio.throttle.io_service_bytes", bytes)],
    ];
    for group in groups {
        for (i, (file, field)) in group.iter().enumerate() {
            match blkio_entries(dir, file)? {
                Some(entries) => *field(&mut s.blkio) = entries,
                // Nothing in the group's first file: try the next group. Later in a group,
                // runc stops with what it has.
                None if i == 0 => break,
                None => return Ok(()),
            }
            if i == group.len() - 1 {
                return Ok(());
            }
        }
    }
    Ok(())
}

// --- cgroup v2 ------------------------------------------------------------------------------

fn v2(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    // pids: without the controller, count the processes (runc does the same).
    if dir.join("pids.current").exists() {
        pids(dir, s)?;
    } else {
        s.pids.current = read(dir, "cgroup.procs")?.lines().count() as u64;
    }
    v2_memory(dir, s)?;
    v2_io(dir, s)?;
    // cpu.stat exists even without the cpu controller (usage only).
    if let Some(text) = read_opt(dir, "cpu.stat")? {
        for (k, v) in key_values(dir, "cpu.stat", &text)? {
            match k.as_str() {
                "usage_usec" => s.cpu.usage.total = v.saturating_mul(1000),
                "user_usec" => s.cpu.usage.user = v.saturating_mul(1000),
                "system_usec" => s.cpu.usage.kernel = v.saturating_mul(1000),
                "nr_periods" => s.cpu.throttling.periods = v,
                "nr_throttled" => s.cpu.throttling.throttled_periods = v,
                "throttled_usec" => s.cpu.throttling.throttled_time = v.saturating_mul(1000),
                _ => {}
            }
        }
    }
    for size in huge_page_sizes() {
        let Some(usage) = read_u64_opt(dir, &format!("hugetlb.{size}.current"))? else {
            continue;
        };
        let file = format!("hugetlb.{size}.events");
        let failcnt = match read_opt(dir, &file)? {
            Some(t) => key_values(dir, &file, &t)?.into_iter().find(|(k, _)| k == "max").map_or(0, |(_, v)| v),
            None => 0,
        };
        s.hugetlb.insert(size, Hugetlb { usage, max: 0, failcnt });
    }
    Ok(())
}

fn v2_memory(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    let Some(text) = read_opt(dir, "memory.stat")? else {
        return Ok(());
    };
    s.memory.raw = key_values(dir, "memory.stat", &text)?.into_iter().collect();
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.memory.usage = MemoryEntry { usage: read_u64(dir, "memory.current")?, limit: read_u64(dir, "memory.max")?, ..Default::default() };
    // v1 reports memory+swap; v2 swap alone: add memory to it, as runc does.
    if let Some(swap) = read_u64_opt(dir, "memory.swap.current")? {
        let limit = read_u64(dir, "memory.swap.max")?;
        s.memory.swap = MemoryEntry {
            usage: swap.saturating_add(s.memory.usage.usage),
            limit: if limit == u64::MAX { limit } else { limit.saturating_add(s.memory.usage.limit) },
            ..Default::default()
        };
    }
    Ok(())
}

/// io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") in the v1 tables runc maps it to.
fn v2_io(dir: &Path, s: &mut Stats) -> Result<(), StatsError> {
    let file = "io.stat";
    let Some(text) = read_opt(dir, file)? else {
        return Ok(());
    };
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some((major, minor)) = parts.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let num = |v: &str| v.parse::<u64>().map_err(|e| parse_error(dir, file, format!("line {line:?}: {e}")));
        let (major, minor) = (num(major)?, num(minor)?);
        for item in parts {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let (op, table) = match key {
                "rbytes" => ("Read", &mut s.blkio.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut s.blkio.io_service_bytes_recursive),
                "rios" => ("Read", &mut s.blkio.io_serviced_recursive),
                "wios" => ("Write", &mut s.blkio.io_serviced_recursive),
                _ => continue,
            };
            table.push(BlkioEntry { major, minor, op: op.to_string(), value: num(value)? });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_like_runc() {
        assert_eq!(parse_counter("12\n"), Some(12));
        assert_eq!(parse_counter("max"), Some(u64::MAX));
        assert_eq!(parse_counter("-5"), Some(0));
        assert_eq!(parse_counter("-99999999999999999999999"), Some(0));
        assert_eq!(parse_counter("x"), None);
        assert_eq!(parse_counter(""), None);
    }

    #[test]
    fn cpuset_lists() {
        assert_eq!(parse_cpuset_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpuset_list("0,2-4,7"), Some(vec![0, 2, 3, 4, 7]));
        assert_eq!(parse_cpuset_list(""), Some(vec![]));
        assert_eq!(parse_cpuset_list("3-1"), None);
        assert_eq!(parse_cpuset_list("a"), None);
    }

    #[test]
    fn page_sizes_in_runc_spelling() {
        assert_eq!(page_size_name(2048 * 1024), "2MB");
        assert_eq!(page_size_name(1048576 * 1024), "1GB");
        assert_eq!(page_size_name(64 * 1024), "64KB");
        assert_eq!(page_size_name(512), "512B");
    }

    /// The JSON shape of runc 1.1's `events --stats` for an idle container: Go's omitempty
    /// drops zero numbers and empty lists, never the nested objects.
    #[test]
    fn empty_stats_have_runcs_shape() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        let want = serde_json::json!({
            "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
                "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
                "sched_load_balance": 0, "sched_relax_domain_level": 0},
            "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
            "pids": {},
            "blkio": {},
            "hugetlb": {},
            "intel_rdt": {},
            "network_interfaces": null
        });
        assert_eq!(v, want);
    }

    /// A cgroup v2 directory as the kernel lays it out, in a temporary directory (this host's
    /// cgroup2 mount has no controllers): the conversions to runc's v1 shapes.
    #[test]
    fn v2_files_in_runcs_shapes() {
        let dir = std::env::temp_dir().join(format!("hull-stats-v2-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let w = |f: &str, t: &str| fs::write(dir.join(f), t).unwrap();
        w("cgroup.procs", "10\n11\n");
        w("pids.current", "2\n");
        w("pids.max", "max\n");
        w("memory.stat", "anon 4096\nfile 8192\nkernel 100\n");
        w("memory.current", "12288\n");
        w("memory.max", "67108864\n");
        w("memory.swap.current", "1000\n");
        w("memory.swap.max", "1048576\n");
        w("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n");
        w("io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        let cg = CgroupManager { paths: [(String::new(), dir.clone())].into_iter().collect(), ..Default::default() };
        let s = collect(&cg).unwrap();
        assert_eq!(s.pids, Pids { current: 2, limit: 0 });
        assert_eq!(s.memory.cache, 8192);
        assert_eq!(s.memory.raw["anon"], 4096);
        assert_eq!((s.memory.usage.usage, s.memory.usage.limit), (12288, 64 << 20));
        // v1's memory+swap: swap plus memory, for the usage and the limit.
        assert_eq!((s.memory.swap.usage, s.memory.swap.limit), (13288, (64 << 20) + (1 << 20)));
        assert_eq!((s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel), (1_500_000, 1_000_000, 500_000));
        assert_eq!(s.cpu.throttling, Throttling { periods: 4, throttled_periods: 1, throttled_time: 7000 });
        assert_eq!(s.blkio.io_service_bytes_recursive[0], BlkioEntry { major: 8, minor: 0, op: "Read".into(), value: 4096 });
        assert_eq!(s.blkio.io_serviced_recursive.len(), 2);
        // No pids controller: the processes are counted.
        fs::remove_file(dir.join("pids.current")).unwrap();
        assert_eq!(collect(&cg).unwrap().pids.current, 2);
        // An unlimited swap stays unlimited.
        w("memory.swap.max", "max\n");
        assert_eq!(collect(&cg).unwrap().memory.swap.limit, u64::MAX);
        w("memory.current", "lots\n");
        let e = collect(&cg).unwrap_err().to_string();
        assert!(e.contains("memory.current") && e.contains("lots"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn blkio_lines() {
        let dir = std::env::temp_dir().join(format!("hull-stats-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("blkio.throttle.io_serviced"), "8:0 Read 3\n8:0 Write 4\n8:0 Total 7\nTotal 7\n").unwrap();
        fs::write(dir.join("blkio.throttle.io_service_bytes"), "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n").unwrap();
        let mut s = Stats::default();
        v1_blkio(&dir, &mut s).unwrap();
        assert_eq!(s.blkio.io_serviced_recursive.len(), 3);
        assert_eq!(s.blkio.io_serviced_recursive[1], BlkioEntry { major: 8, minor: 0, op: "Write".into(), value: 4 });
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        fs::write(dir.join("blkio.throttle.io_serviced"), "garbage\n").unwrap();
        let e = v1_blkio(&dir, &mut Stats::default()).unwrap_err().to_string();
        assert!(e.contains("blkio.throttle.io_serviced") && e.contains("garbage"), "{e}");
        fs::write(dir.join("io.stat"), "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n").unwrap();
        let mut s = Stats::default();
        v2_io(&dir, &mut s).unwrap();
        assert_eq!(s.blkio.io_service_bytes_recursive[1], BlkioEntry { major: 8, minor: 0, op: "Write".into(), value: 20 });
        assert_eq!(s.blkio.io_serviced_recursive[0].value, 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
