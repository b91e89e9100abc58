//! security: the privilege drop of the container's init, in one readable sequence:
//! rlimits, no_new_privs, the bounding set, groups and ids, then the capability sets.
//!
//! Inheritable capabilities are only ever what the config lists (CVE-2022-24769): never set
//! implicitly; ambient ones need to be listed in inheritable and permitted, as the kernel demands.

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, PosixRlimitType, Process};

/// Errors of the privilege drop; each names the config field.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{field}: {reason}")]
    Failed { field: String, reason: String },
}

fn fail(field: &str, reason: impl std::fmt::Display) -> SecurityError {
    SecurityError::Failed { field: field.to_string(), reason: reason.to_string() }
}

fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Sets `process.rlimits`.
pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<(), SecurityError> {
    for (i, r) in limits.iter().enumerate() {
        let lim = libc::rlimit { rlim_cur: r.soft(), rlim_max: r.hard() };
        // SAFETY: setrlimit reads a valid rlimit struct.
        let ret = unsafe { libc::setrlimit(rlimit_resource(r.typ()), &lim) };
        if ret != 0 {
            let e = std::io::Error::last_os_error();
            let hint = if e.raw_os_error() == Some(libc::EPERM) { " (raising a hard limit needs CAP_SYS_RESOURCE)" } else { "" };
            return Err(fail(&format!("process.rlimits[{i}]"), format!("{:?} soft={} hard={}: {e}{hint}", r.typ(), r.soft(), r.hard())));
        }
    }
    Ok(())
}

fn parse_caps(field: &str, names: &Option<oci_spec::runtime::Capabilities>) -> Result<CapsHashSet, SecurityError> {
    let mut out = HashSet::new();
    for c in names.iter().flatten() {
        let name = c.to_string();
        let name = if name.starts_with("CAP_") { name } else { format!("CAP_{name}") };
        match Capability::from_str(&name) {
            Ok(cap) => {
                out.insert(cap);
            }
            Err(_) => return Err(fail(field, format!("unknown capability {name:?}"))),
        }
    }
    Ok(out)
}

/// The capability sets of a config, parsed (unknown to this kernel = dropped, as runc warns).
pub struct CapPlan {
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

impl CapPlan {
    pub fn from_config(c: Option<&LinuxCapabilities>) -> Result<CapPlan, SecurityError> {
        let Some(c) = c else {
            let empty = HashSet::new();
            return Ok(CapPlan {
                bounding: empty.clone(),
                effective: empty.clone(),
                permitted: empty.clone(),
                inheritable: empty.clone(),
                ambient: empty,
            });
        };
        Ok(CapPlan {
            bounding: parse_caps("process.capabilities.bounding", c.bounding())?,
            effective: parse_caps("process.capabilities.effective", c.effective())?,
            permitted: parse_caps("process.capabilities.permitted", c.permitted())?,
            inheritable: parse_caps("process.capabilities.inheritable", c.inheritable())?,
            ambient: parse_caps("process.capabilities.ambient", c.ambient())?,
        })
    }
}

/// Drops from the bounding set what the config does not list. Needs CAP_SETPCAP, so it runs
/// before the uid changes.
pub fn apply_bounding(plan: &CapPlan) -> Result<(), SecurityError> {
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    for cap in known {
        if !plan.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| fail("process.capabilities.bounding", e))?;
        }
    }
    Ok(())
}

/// Switches to `process.user` (groups, gid, uid) keeping the permitted set, then sets the
/// capability sets exactly as configured.
pub fn switch_user(p: &Process, plan: &CapPlan, setgroups_allowed: bool) -> Result<(), SecurityError> {
    let u = p.user();
    crate::sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).map_err(|e| fail("process.user", e))?;
    if setgroups_allowed {
        let gids: Vec<nix::unistd::Gid> = u.additional_gids().iter().flatten().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
        nix::unistd::setgroups(&gids).map_err(|e| fail("process.user.additionalGids", e))?;
    } else if u.additional_gids().as_ref().is_some_and(|g| !g.is_empty()) {
        return Err(fail("process.user.additionalGids", "cannot set any additional groups in a rootless container"));
    }
    let gid = nix::unistd::Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| fail("process.user.gid", format!("{}: {e}", u.gid())))?;
    let uid = nix::unistd::Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| fail("process.user.uid", format!("{}: {e}", u.uid())))?;
    crate::sys::prctl(libc::PR_SET_KEEPCAPS, 0, 0).map_err(|e| fail("process.user", e))?;

    // Effective and inheritable first (both within the still-full permitted set), then
    // shrink permitted, then raise ambient.
    caps::set(None, CapSet::Effective, &plan.effective).map_err(|e| fail("process.capabilities.effective", e))?;
    caps::set(None, CapSet::Inheritable, &plan.inheritable).map_err(|e| fail("process.capabilities.inheritable", e))?;
    caps::set(None, CapSet::Permitted, &plan.permitted)
        .map_err(|e| fail("process.capabilities.permitted", format!("{e} (effective must be a subset of permitted)")))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| fail("process.capabilities.ambient", e))?;
    for cap in &plan.ambient {
        if plan.inheritable.contains(cap) && plan.permitted.contains(cap) {
            caps::raise(None, CapSet::Ambient, *cap).map_err(|e| fail("process.capabilities.ambient", e))?;
        }
    }
    Ok(())
}

/// `process.noNewPrivileges`.
pub fn set_no_new_privs() -> Result<(), SecurityError> {
    crate::sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).map(drop).map_err(|e| fail("process.noNewPrivileges", e))
}

/// `process.ioPriority`: class and priority packed as the kernel's ioprio value.
pub fn set_io_priority(p: &oci_spec::runtime::LinuxIOPriority) -> Result<(), SecurityError> {
    use oci_spec::runtime::IOPriorityClass;
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let prio = p.priority();
    if !(0..=7).contains(&prio) {
        return Err(fail("process.ioPriority.priority", format!("{prio} is not in 0..7")));
    }
    crate::sys::ioprio_set_self((class << 13) | prio as i32).map_err(|e| fail("process.ioPriority", e))
}

/// `process.scheduler`.
pub fn set_scheduler(s: &oci_spec::runtime::Scheduler) -> Result<(), SecurityError> {
    use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy};
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    crate::sys::sched_setattr_self(
        policy,
        flags,
        s.nice().unwrap_or(0),
        s.priority().unwrap_or(0) as u32,
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    )
    .map_err(|e| fail("process.scheduler", e))
}

/// `linux.personality`.
pub fn set_personality(p: &oci_spec::runtime::LinuxPersonality) -> Result<(), SecurityError> {
    use oci_spec::runtime::LinuxPersonalityDomain;
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(fail("linux.personality.flags", "personality flags are not supported"));
    }
    crate::sys::personality(persona).map_err(|e| fail("linux.personality", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_parse() {
        let c: LinuxCapabilities =
            serde_json::from_value(serde_json::json!({"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"]})).unwrap();
        let p = CapPlan::from_config(Some(&c)).unwrap();
        assert!(p.bounding.contains(&Capability::CAP_CHOWN));
        assert_eq!(p.effective.len(), 1);
        assert!(p.inheritable.is_empty());
    }
}
