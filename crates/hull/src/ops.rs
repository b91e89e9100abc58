//! The commands on a container that runs: `ps`, `events` and `update` (their flags, output
//! and messages as runc's). `pause` and `resume` need nothing beyond a library call.

use std::io::{Read, Write};
use std::process::Command;

use clap::Args;
use libhull::events::Event;
use libhull::Runtime;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use crate::log::Logger;
use crate::units;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: table (ps's own rows) or json (the array of host pids)
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// The container id, then the options for ps(1) (default: -ef). Flags of hull's own
    /// are parsed only before the id, as runc does: `ps <id> -f` passes -f to ps(1).
    #[arg(value_name = "ID [PS OPTIONS]", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `ps`: the host pids of the container's cgroup as JSON, or the rows of the host's `ps`
/// for those pids.
pub fn ps(rt: &Runtime, a: &PsArgs) -> Result<u8, String> {
    let (id, ps_args) = a.args.split_first().ok_or("ps: a container id is required")?;
    // Before the id, a dash is one of hull's flags: an unknown one, not an id.
    if id.starts_with('-') {
        return Err(format!("flag provided but not defined: {id}"));
    }
    let pids = rt.processes(id).map_err(|e| e.to_string())?;
    match a.format.as_str() {
        "table" => {}
        "json" => {
            // Go encodes runc's empty (nil) list as null; callers expect exactly that.
            let s = if pids.is_empty() { "null".to_string() } else { serde_json::to_string(&pids).map_err(|e| e.to_string())? };
            println!("{s}");
            return Ok(0);
        }
        _ => return Err("invalid format option".into()),
    }
    let args: Vec<&str> = if ps_args.is_empty() { vec!["-ef"] } else { ps_args.iter().map(String::as_str).collect() };
    let out = Command::new("ps").args(&args).output().map_err(|e| format!("ps {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => out.status.to_string(),
        };
        return Err(format!("{status}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    }
    let _ = std::io::stderr().write_all(&out.stderr);
    let rows = filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(rows.as_bytes());
    let _ = stdout.flush();
    Ok(0)
}

/// The header of `ps` output and the rows whose PID column is one of `pids`.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = output.split('\n');
    let header = lines.next().unwrap_or("");
    let col = header.split_whitespace().position(|t| t == "PID").ok_or("couldn't find PID field in ps output")?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(col).ok_or_else(|| format!("unable to parse pid: no PID column in {line:?}"))?;
        let pid: i32 = field.parse().map_err(|e| format!("unable to parse pid: {field:?}: {e}"))?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// The stats collection interval (Go duration: 5s, 100ms, 1m30s)
    #[arg(long, default_value = "5s", allow_hyphen_values = true)]
    pub interval: String,
    /// Display the container's stats then exit
    #[arg(long)]
    pub stats: bool,
    /// The container id
    pub id: String,
}

/// `events`: one stats event (`--stats`), or a stream of stats and OOM events, one JSON object
/// a line, until the container stops.
pub fn events(rt: &Runtime, a: &EventsArgs) -> Result<u8, String> {
    let interval = units::parse_interval(&a.interval).map_err(|e| {
        if e.starts_with("time:") {
            format!("invalid value {:?} for flag --interval: {e}", a.interval)
        } else {
            e
        }
    })?;
    let mut emit = |e: &Event| -> Result<(), libhull::Error> {
        let line = serde_json::to_string(e).map_err(|e| libhull::Error::Other(e.to_string()))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|e| libhull::Error::Other(format!("writing to stdout: {e}")))
    };
    if a.stats {
        let s = rt.stats(&a.id).map_err(|e| e.to_string())?;
        emit(&Event::stats(&a.id, s)).map_err(|e| e.to_string())?;
        return Ok(0);
    }
    rt.events(&a.id, interval, &mut emit).map_err(|e| e.to_string())?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Path to a JSON file with the resources to update (a linux.resources object), or '-' for
    /// stdin; all the other options are then ignored
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Per cgroup block IO weight, 10 to 1000
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<String>,
    /// CPU CFS quota: CPU time allowed in a period (microseconds)
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long = "cpu-share", visible_alias = "cpu-shares")]
    pub cpu_share: Option<String>,
    /// CPU realtime period (microseconds)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime runtime allowed in a period (microseconds)
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Obsolete: ignored, with a warning
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    /// Obsolete: ignored, with a warning
    #[arg(long = "kernel-memory-tcp", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with a unit: 512m, 1g; -1 for unlimited)
    #[arg(long = "memory", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation or soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids in the container (-1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT/CAT L3 cache schema (not supported by hull)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (not supported by hull)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// The container id
    pub id: String,
}

/// `update`: new limits for a container, from flags or a JSON document.
pub fn update(rt: &Runtime, a: &UpdateArgs, logger: &Logger) -> Result<u8, String> {
    let changes = match a.resources.as_deref() {
        Some(src) if !src.is_empty() => read_resources(src)?,
        _ => {
            let (r, kernel) = resources_from_flags(a)?;
            if kernel {
                logger.warn("Kernel memory settings are ignored and will be removed");
            }
            r
        }
    };
    // hull has no Intel RDT support (and this kernel no resctrl): what runc says without it.
    if a.l3_cache_schema.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err("Intel RDT/CAT: l3 cache schema is not enabled".into());
    }
    if a.mem_bw_schema.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err("Intel RDT/MBA: memory bandwidth schema is not enabled".into());
    }
    rt.update(&a.id, &changes).map_err(|e| e.to_string())?;
    Ok(0)
}

fn read_resources(src: &str) -> Result<LinuxResources, String> {
    let mut data = Vec::new();
    let name = if src == "-" {
        std::io::stdin().read_to_end(&mut data).map_err(|e| format!("--resources -: reading stdin: {e}"))?;
        "--resources - (stdin)".to_string()
    } else {
        let mut f = std::fs::File::open(src).map_err(|e| format!("--resources {src}: {e}"))?;
        f.read_to_end(&mut data).map_err(|e| format!("--resources {src}: {e}"))?;
        format!("--resources {src}")
    };
    libhull::update::parse_resources(&data, &name).map_err(|e| e.to_string())
}

/// The resources the flags name (0 or an empty value: unchanged, as runc), and whether an
/// obsolete kernel memory flag was given.
fn resources_from_flags(a: &UpdateArgs) -> Result<(LinuxResources, bool), String> {
    let mut r = LinuxResources::default();
    let size = |flag: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some("-1") => Ok(Some(-1)),
            Some(s) => units::parse_ram_size(s).map(Some).map_err(|e| format!("invalid value for {flag}: {e}")),
        }
    };
    let uint = |flag: &str, v: &Option<String>| -> Result<Option<u64>, String> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => s.parse::<u64>().map(Some).map_err(|e| format!("invalid value for {flag}: {s:?}: {e}")),
        }
    };
    let int = |flag: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|e| format!("invalid value for {flag}: {s:?}: {e}")),
        }
    };
    let mut mem = LinuxMemory::default();
    mem.set_limit(size("memory", &a.memory)?);
    mem.set_swap(size("memory-swap", &a.memory_swap)?);
    mem.set_reservation(size("memory-reservation", &a.memory_reservation)?);
    // Checked like the others, then dropped: kernel memory limits are gone from the kernel.
    let kernel = size("kernel-memory", &a.kernel_memory)?.is_some() | size("kernel-memory-tcp", &a.kernel_memory_tcp)?.is_some();
    r.set_memory(Some(mem));
    let mut cpu = LinuxCpu::default();
    cpu.set_period(uint("cpu-period", &a.cpu_period)?);
    cpu.set_realtime_period(uint("cpu-rt-period", &a.cpu_rt_period)?);
    cpu.set_shares(uint("cpu-share", &a.cpu_share)?);
    cpu.set_quota(int("cpu-quota", &a.cpu_quota)?);
    cpu.set_realtime_runtime(int("cpu-rt-runtime", &a.cpu_rt_runtime)?);
    cpu.set_cpus(a.cpuset_cpus.clone().filter(|s| !s.is_empty()));
    cpu.set_mems(a.cpuset_mems.clone().filter(|s| !s.is_empty()));
    r.set_cpu(Some(cpu));
    if let Some(w) = a.blkio_weight.filter(|&w| w != 0) {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    if let Some(l) = a.pids_limit.filter(|&l| l != 0) {
        let mut p = LinuxPids::default();
        p.set_limit(l);
        r.set_pids(Some(p));
    }
    Ok((r, kernel))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root        4242       1  0 10:01 ?        00:00:00 sh -c sleep 1000 & wait
root        4243    4242  0 10:01 ?        00:00:00 sleep 1000
";

    #[test]
    fn ps_rows_are_filtered_by_the_pid_column() {
        assert_eq!(
            filter_ps(PS_EF, &[4242, 4243, 99]).unwrap(),
            "UID          PID    PPID  C STIME TTY          TIME CMD\n\
             root        4242       1  0 10:01 ?        00:00:00 sh -c sleep 1000 & wait\n\
             root        4243    4242  0 10:01 ?        00:00:00 sleep 1000\n"
        );
        // The PID column where ps puts it (-o pid,comm: first).
        assert_eq!(filter_ps("  PID COMMAND\n    1 init\n 4242 sh\n", &[4242]).unwrap(), "  PID COMMAND\n 4242 sh\n");
        assert_eq!(filter_ps(PS_EF, &[]).unwrap(), "UID          PID    PPID  C STIME TTY          TIME CMD\n");
        assert_eq!(filter_ps("COMMAND\nsh\n", &[1]).unwrap_err(), "couldn't find PID field in ps output");
        assert!(filter_ps("PID\nx\n", &[1]).unwrap_err().starts_with("unable to parse pid"));
        assert!(filter_ps("", &[1]).is_err());
    }
}
