//! Checks of the smaller Linux fields: time namespace offsets, the exec CPU affinity, the NUMA
//! memory policy. Each turns its JSON into what the syscall takes, or names the field.

use oci_spec::runtime::{LinuxMemoryPolicy, LinuxNamespaceType, MemoryPolicyFlagType, MemoryPolicyModeType, Spec};

use super::{invalid, NamespacePlan, SpecError};
use crate::sys::BitMask;

/// The highest CPU or node number hull accepts in a list (the kernel's NR_CPUS is at most 8192).
pub const MAX_ID: usize = 8191;

/// Parses a list such as `0-3,7` (CPUs or NUMA nodes) into a bit mask. Spaces around items and
/// empty items are allowed, as runc allows them.
pub fn parse_list(field: &str, s: &str) -> Result<BitMask, SpecError> {
    let mut mask: BitMask = Vec::new();
    let num = |v: &str| -> Result<usize, SpecError> {
        let n: usize = v.trim().parse().map_err(|_| invalid(field, format!("{s:?} is not a list like \"0-3,7\"")))?;
        if n > MAX_ID {
            return Err(invalid(field, format!("{n} is above {MAX_ID}")));
        }
        Ok(n)
    };
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(item)?, num(item)?),
        };
        if a > b {
            return Err(invalid(field, format!("{item:?} is a range that ends before it starts")));
        }
        for i in a..=b {
            if mask.len() <= i / 64 {
                mask.resize(i / 64 + 1, 0);
            }
            mask[i / 64] |= 1 << (i % 64);
        }
    }
    if mask.iter().all(|w| *w == 0) {
        return Err(invalid(field, format!("{s:?} names no CPU or node")));
    }
    Ok(mask)
}

/// `linux.timeOffsets`: the clocks a time namespace can shift, checked.
/// Returns the text for /proc/<pid>/timens_offsets (empty when there are none).
pub fn time_offsets(spec: &Spec, namespaces: &[NamespacePlan]) -> Result<String, SpecError> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref()) else { return Ok(String::new()) };
    if offsets.is_empty() {
        return Ok(String::new());
    }
    match namespaces.iter().find(|n| n.kind == LinuxNamespaceType::Time) {
        None => return Err(invalid("linux.timeOffsets", "needs a new time namespace (linux.namespaces has no \"time\" entry)")),
        Some(n) if n.path.is_some() => {
            return Err(invalid("linux.timeOffsets", "cannot be set on a time namespace joined by path (its clocks are already set)"))
        }
        Some(_) => {}
    }
    let mut clocks: Vec<(&String, _)> = offsets.iter().collect();
    clocks.sort_by_key(|(k, _)| k.as_str());
    let mut text = String::new();
    for (clock, off) in clocks {
        let field = format!("linux.timeOffsets[{clock:?}]");
        // time_namespaces(7): only these two clocks have offsets.
        if clock != "monotonic" && clock != "boottime" {
            return Err(invalid(field, "only \"monotonic\" and \"boottime\" can be offset in a time namespace"));
        }
        let ns = off.nanosecs().unwrap_or(0);
        if ns >= 1_000_000_000 {
            return Err(invalid(format!("{field}.nanosecs"), format!("{ns} is not below one second")));
        }
        text.push_str(&format!("{clock} {} {ns}\n", off.secs().unwrap_or(0)));
    }
    Ok(text)
}

/// `process.execCPUAffinity`, as masks.
#[derive(Debug, Clone, Default)]
pub struct CpuAffinity {
    /// While hull sets the process up (until it is in the container's cgroup).
    pub initial: Option<BitMask>,
    /// From just before execve on.
    pub last: Option<BitMask>,
}

/// Checks `process.execCPUAffinity` (`field` is its JSON path).
pub fn cpu_affinity(field: &str, a: Option<&oci_spec::runtime::ExecCPUAffinity>) -> Result<CpuAffinity, SpecError> {
    let Some(a) = a else { return Ok(CpuAffinity::default()) };
    let parse = |name: &str, v: &Option<String>| -> Result<Option<BitMask>, SpecError> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => parse_list(&format!("{field}.{name}"), s).map(Some),
        }
    };
    Ok(CpuAffinity { initial: parse("initial", a.initial())?, last: parse("final", a.cpu_affinity_final())? })
}

/// `linux.memoryPolicy`, as set_mempolicy(2) takes it.
#[derive(Debug, Clone)]
pub struct MemPolicy {
    /// MPOL_* mode with its MPOL_F_* flags.
    pub mode: i32,
    pub nodes: BitMask,
}

const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;
const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
const MPOL_F_STATIC_NODES: i32 = 1 << 15;

/// Checks `linux.memoryPolicy`: the mode's node rules, the flags, and that the nodes exist.
pub fn memory_policy(p: Option<&LinuxMemoryPolicy>) -> Result<Option<MemPolicy>, SpecError> {
    let Some(p) = p else { return Ok(None) };
    let nodes = match p.nodes().as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(s) => parse_list("linux.memoryPolicy.nodes", s)?,
    };
    use MemoryPolicyModeType as M;
    let (mode, needs) = match p.mode() {
        M::MpolDefault => (0, Some(false)),
        M::MpolPreferred => (1, None),
        M::MpolBind => (2, Some(true)),
        M::MpolInterleave => (3, Some(true)),
        M::MpolLocal => (4, Some(false)),
        M::MpolPreferredMany => (5, Some(true)),
        M::MpolWeightedInterleave => (6, Some(true)),
    };
    match needs {
        Some(true) if nodes.is_empty() => {
            return Err(invalid("linux.memoryPolicy.nodes", format!("{} needs at least one node", p.mode())));
        }
        Some(false) if !nodes.is_empty() => {
            return Err(invalid("linux.memoryPolicy.nodes", format!("{} takes no nodes", p.mode())));
        }
        _ => {}
    }
    let mut flags = 0;
    for (i, f) in p.flags().iter().flatten().enumerate() {
        flags |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => {
                if !matches!(p.mode(), M::MpolBind) {
                    return Err(invalid(format!("linux.memoryPolicy.flags[{i}]"), "MPOL_F_NUMA_BALANCING goes only with MPOL_BIND"));
                }
                MPOL_F_NUMA_BALANCING
            }
            MemoryPolicyFlagType::MpolFRelativeNodes => MPOL_F_RELATIVE_NODES,
            MemoryPolicyFlagType::MpolFStaticNodes => MPOL_F_STATIC_NODES,
        };
    }
    if flags & MPOL_F_RELATIVE_NODES != 0 && flags & MPOL_F_STATIC_NODES != 0 {
        return Err(invalid("linux.memoryPolicy.flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"));
    }
    // Absolute node numbers must name nodes this host has (relative ones are folded onto them).
    if flags & MPOL_F_RELATIVE_NODES == 0 && !nodes.is_empty() {
        let online = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_else(|_| "0".into());
        let online = parse_list("/sys/devices/system/node/online", online.trim()).unwrap_or_else(|_| vec![1]);
        for (w, bits) in nodes.iter().enumerate() {
            let missing = bits & !online.get(w).copied().unwrap_or(0);
            if missing != 0 {
                let node = w * 64 + missing.trailing_zeros() as usize;
                return Err(invalid("linux.memoryPolicy.nodes", format!("NUMA node {node} is not online on this host")));
            }
        }
    }
    Ok(Some(MemPolicy { mode: mode | flags, nodes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("f", "0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(parse_list("f", " 1 , ,64").unwrap(), vec![0b10, 1]);
        for bad in ["", "a", "3-1", "-1", "1-", "9000", ","] {
            assert!(parse_list("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn memory_policy_rules() {
        let p = |j: serde_json::Value| memory_policy(Some(&serde_json::from_value(j).unwrap()));
        assert!(p(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0"})).unwrap().is_some());
        assert!(p(serde_json::json!({"mode": "MPOL_BIND"})).is_err());
        assert!(p(serde_json::json!({"mode": "MPOL_LOCAL", "nodes": "0"})).is_err());
        assert!(p(serde_json::json!({"mode": "MPOL_BIND", "nodes": "4000"})).is_err());
        let e = p(serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}));
        assert!(e.unwrap_err().to_string().starts_with("linux.memoryPolicy.flags"));
        let ok = p(serde_json::json!({"mode": "MPOL_PREFERRED"})).unwrap().unwrap();
        assert_eq!(ok.mode, 1);
    }

    #[test]
    fn time_offset_rules() {
        let spec = |offsets: serde_json::Value| -> Spec {
            serde_json::from_value(serde_json::json!({"ociVersion": "1.0.0", "linux": {"timeOffsets": offsets}})).unwrap()
        };
        let new_time = [NamespacePlan { kind: LinuxNamespaceType::Time, path: None }];
        let text = time_offsets(&spec(serde_json::json!({"monotonic": {"secs": -5}, "boottime": {"secs": 7, "nanosecs": 9}})), &new_time);
        assert_eq!(text.unwrap(), "boottime 7 9\nmonotonic -5 0\n");
        let e = time_offsets(&spec(serde_json::json!({"realtime": {"secs": 1}})), &new_time).unwrap_err().to_string();
        assert!(e.starts_with("linux.timeOffsets[\"realtime\"]"), "{e}");
        let e = time_offsets(&spec(serde_json::json!({"boottime": {"nanosecs": 1_000_000_000u32}})), &new_time).unwrap_err().to_string();
        assert!(e.starts_with("linux.timeOffsets[\"boottime\"].nanosecs"), "{e}");
        assert!(time_offsets(&spec(serde_json::json!({"boottime": {"secs": 1}})), &[]).is_err());
        let joined = [NamespacePlan { kind: LinuxNamespaceType::Time, path: Some("/proc/self/ns/time".into()) }];
        assert!(time_offsets(&spec(serde_json::json!({"boottime": {"secs": 1}})), &joined).is_err());
        assert_eq!(time_offsets(&spec(serde_json::json!({})), &[]).unwrap(), "");
    }

    #[test]
    fn cpu_affinity_rules() {
        let a: oci_spec::runtime::ExecCPUAffinity = serde_json::from_value(serde_json::json!({"initial": "0-1", "final": "1"})).unwrap();
        let c = cpu_affinity("process.execCPUAffinity", Some(&a)).unwrap();
        assert_eq!((c.initial, c.last), (Some(vec![0b11]), Some(vec![0b10])));
        let a: oci_spec::runtime::ExecCPUAffinity = serde_json::from_value(serde_json::json!({"final": "2-1"})).unwrap();
        let e = cpu_affinity("process.execCPUAffinity", Some(&a)).unwrap_err().to_string();
        assert!(e.starts_with("process.execCPUAffinity.final"), "{e}");
    }
}
