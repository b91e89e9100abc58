//! update: changing the cgroup limits of a container that exists (`update`), and recording
//! them in its state so that later updates and readers of state.json see the new values.

use oci_spec::runtime::{LinuxBlockIo, LinuxPids, LinuxResources, LinuxThrottleDevice};

use crate::cgroups::{CgroupError, CgroupManager};
use crate::state::Status;
use crate::{Error, Runtime};

impl Runtime {
    /// Writes `changes` over the container's current limits (see `merge_resources`) and
    /// records the result as `linux.resources` in its state.
    ///
    /// Device rules are never changed (runc's `SkipDevices`). When the kernel refuses a
    /// value, the previous limits are written back and nothing is recorded, as runc does.
    /// Returns the container's limits after the update.
    pub fn update(&self, id: &str, changes: &LinuxResources) -> Result<LinuxResources, Error> {
        let sd = self.dir(id)?;
        let _lock = crate::container::lock_existing(&sd)?;
        let (_, mut st, status) = self.load(id)?;
        if status == Status::Stopped {
            return Err(Error::Other("container not running".into()));
        }
        validate_changes(changes)?;
        let current = st.config.linux().as_ref().and_then(|l| l.resources().clone()).unwrap_or_default();
        let merged = merge_resources(&current, changes);
        CgroupManager::validate(&merged)?;
        st.cgroup.check_host(&merged)?;
        if let Err(e) = st.cgroup.update(&merged) {
            if let Err(back) = st.cgroup.update(&current) {
                return Err(Error::Other(format!(
                    "{e}; writing back the previous limits failed too ({back}): the cgroup and the recorded limits may disagree"
                )));
            }
            return Err(e.into());
        }
        let mut linux = st.config.linux().clone().unwrap_or_default();
        linux.set_resources(Some(merged.clone()));
        st.config.set_linux(Some(linux));
        sd.save(&st)?;
        Ok(merged)
    }
}

/// Parses a `LinuxResources` JSON document (`update --resources`); an error names `source`
/// (the file, or stdin) and the JSON path where parsing failed.
pub fn parse_resources(data: &[u8], source: &str) -> Result<LinuxResources, Error> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize::<_, LinuxResources>(de).map_err(|e| {
        let field = e.path().to_string();
        let at = if field == "." { String::new() } else { format!(" at {field}") };
        Error::Other(format!("{source}: invalid JSON{at}: {}", e.into_inner()))
    })
}

/// Refuses values no cgroup takes, naming the field, before anything is written.
fn validate_changes(r: &LinuxResources) -> Result<(), CgroupError> {
    let invalid = |field: &str, reason: String| Err(CgroupError::Invalid { field: field.into(), reason });
    if let Some(m) = r.memory() {
        for (name, v) in [("limit", m.limit()), ("reservation", m.reservation()), ("swap", m.swap())] {
            if let Some(v) = v.filter(|&v| v < -1) {
                return invalid(&format!("linux.resources.memory.{name}"), format!("{v} is negative (only -1, unlimited, is allowed)"));
            }
        }
    }
    if let Some(q) = r.cpu().as_ref().and_then(|c| c.quota()).filter(|&q| q < -1) {
        return invalid("linux.resources.cpu.quota", format!("{q} is negative (only -1, unlimited, is allowed)"));
    }
    if let Some(p) = r.pids().filter(|p| p.limit() < -1) {
        return invalid("linux.resources.pids.limit", format!("{} is negative (only -1, unlimited, is allowed)", p.limit()));
    }
    Ok(())
}

/// The limits after an update: `current` with every value `changes` sets.
///
/// As in runc's `update`, a value of 0 (or an empty cpuset string) means "leave it as it
/// is", -1 means "unlimited", and only these fields are updatable: memory limit,
/// reservation and swap; cpu shares, quota, period, burst, idle, realtime runtime and period,
/// cpus and mems; blockIO (see `merge_blkio`); the pids limit; `unified` keys (added or
/// replaced).
/// Anything else in `changes` (devices, hugepage limits, swappiness, ...) is ignored.
/// Unlike runc 1.1, which records 0 for every limit an update does not name (the cgroup
/// keeps its value, the state forgets it), the values not named are kept.
pub fn merge_resources(current: &LinuxResources, changes: &LinuxResources) -> LinuxResources {
    let mut out = current.clone();
    let set_i64 = |v: Option<i64>| v.filter(|&v| v != 0);
    let set_u64 = |v: Option<u64>| v.filter(|&v| v != 0);
    if let Some(c) = changes.memory() {
        let (limit, reservation, swap) = (set_i64(c.limit()), set_i64(c.reservation()), set_i64(c.swap()));
        if limit.is_some() || reservation.is_some() || swap.is_some() {
            let mut m = out.memory().unwrap_or_default();
            if limit.is_some() {
                m.set_limit(limit);
            }
            if reservation.is_some() {
                m.set_reservation(reservation);
            }
            if swap.is_some() {
                m.set_swap(swap);
            }
            out.set_memory(Some(m));
        }
    }
    if let Some(c) = changes.cpu() {
        let mut cpu = out.cpu().clone().unwrap_or_default();
        let mut changed = false;
        let mut take = |cond: bool| {
            changed |= cond;
            cond
        };
        if take(set_u64(c.shares()).is_some()) {
            cpu.set_shares(c.shares());
        }
        if take(set_i64(c.quota()).is_some()) {
            cpu.set_quota(c.quota());
        }
        if take(set_u64(c.period()).is_some()) {
            cpu.set_period(c.period());
        }
        if take(c.burst().is_some()) {
            cpu.set_burst(c.burst());
        }
        if take(c.idle().is_some()) {
            cpu.set_idle(c.idle());
        }
        if take(set_i64(c.realtime_runtime()).is_some()) {
            cpu.set_realtime_runtime(c.realtime_runtime());
        }
        if take(set_u64(c.realtime_period()).is_some()) {
            cpu.set_realtime_period(c.realtime_period());
        }
        if take(c.cpus().as_ref().is_some_and(|s| !s.is_empty())) {
            cpu.set_cpus(c.cpus().clone());
        }
        if take(c.mems().as_ref().is_some_and(|s| !s.is_empty())) {
            cpu.set_mems(c.mems().clone());
        }
        if changed {
            out.set_cpu(Some(cpu));
        }
    }
    if let Some(c) = changes.block_io() {
        out.set_block_io(Some(merge_blkio(out.block_io().clone().unwrap_or_default(), c)));
    }
    if let Some(p) = changes.pids().filter(|p| p.limit() != 0) {
        let mut pids = LinuxPids::default();
        pids.set_limit(p.limit());
        out.set_pids(Some(pids));
    }
    if let Some(u) = changes.unified().as_ref().filter(|u| !u.is_empty()) {
        let mut merged = out.unified().clone().unwrap_or_default();
        merged.extend(u.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.set_unified(Some(merged));
    }
    out
}

/// blockIO as runc's `update` merges it: the weights when not 0, and each device of the
/// four throttle lists and of weightDevice updated in place (by major:minor) or appended.
fn merge_blkio(mut b: LinuxBlockIo, c: &LinuxBlockIo) -> LinuxBlockIo {
    if let Some(w) = c.weight().filter(|&w| w != 0) {
        b.set_weight(Some(w));
    }
    if let Some(w) = c.leaf_weight().filter(|&w| w != 0) {
        b.set_leaf_weight(Some(w));
    }
    if let Some(new) = c.weight_device().as_ref().filter(|v| !v.is_empty()) {
        let mut list = b.weight_device().clone().unwrap_or_default();
        for wd in new {
            match list.iter_mut().rev().find(|d| d.major() == wd.major() && d.minor() == wd.minor()) {
                Some(d) => {
                    // oci-spec has no setters here: rebuild the entry (through its JSON form).
                    let (w, lw) = (wd.weight().or(d.weight()), wd.leaf_weight().or(d.leaf_weight()));
                    let v = serde_json::json!({"major": d.major(), "minor": d.minor(), "weight": w, "leafWeight": lw});
                    if let Ok(nd) = serde_json::from_value(v) {
                        *d = nd;
                    }
                }
                None => list.push(*wd),
            }
        }
        b.set_weight_device(Some(list));
    }
    let upsert = |cur: &Option<Vec<LinuxThrottleDevice>>, new: &Option<Vec<LinuxThrottleDevice>>| {
        let mut list = cur.clone().unwrap_or_default();
        for td in new.iter().flatten() {
            match list.iter_mut().rev().find(|d| d.major() == td.major() && d.minor() == td.minor()) {
                Some(d) => {
                    let v = serde_json::json!({"major": d.major(), "minor": d.minor(), "rate": td.rate()});
                    if let Ok(nd) = serde_json::from_value(v) {
                        *d = nd;
                    }
                }
                None => list.push(*td),
            }
        }
        (!list.is_empty()).then_some(list)
    };
    b.set_throttle_read_bps_device(upsert(b.throttle_read_bps_device(), c.throttle_read_bps_device()));
    b.set_throttle_write_bps_device(upsert(b.throttle_write_bps_device(), c.throttle_write_bps_device()));
    b.set_throttle_read_iops_device(upsert(b.throttle_read_iops_device(), c.throttle_read_iops_device()));
    b.set_throttle_write_iops_device(upsert(b.throttle_write_iops_device(), c.throttle_write_iops_device()));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn merge_keeps_what_is_not_named() {
        let cur = res(r#"{"memory":{"limit":100,"swap":200},"cpu":{"shares":512,"quota":1000,"period":100000},"pids":{"limit":5},
                "devices":[{"allow":false,"access":"rwm"}]}"#);
        let m = merge_resources(&cur, &res(r#"{"memory":{"limit":150},"pids":{"limit":7}}"#));
        assert_eq!(m.memory().as_ref().unwrap().limit(), Some(150));
        assert_eq!(m.memory().as_ref().unwrap().swap(), Some(200));
        assert_eq!(m.pids().unwrap().limit(), 7);
        assert_eq!(m.cpu().as_ref().unwrap().shares(), Some(512));
        // Devices are carried over as they were, never changed.
        assert_eq!(m.devices(), cur.devices());
        let m = merge_resources(&cur, &res(r#"{"devices":[{"allow":true,"access":"rwm"}],"hugepageLimits":[]}"#));
        assert_eq!(m, cur);
    }

    #[test]
    fn merge_zero_means_unchanged_and_minus_one_unlimited() {
        let cur = res(r#"{"memory":{"limit":100},"cpu":{"quota":5000,"period":100000,"cpus":"0"},"pids":{"limit":5}}"#);
        let m = merge_resources(&cur, &res(r#"{"memory":{"limit":0,"swap":0},"cpu":{"quota":0,"cpus":""},"pids":{"limit":0}}"#));
        assert_eq!(m, cur);
        let m = merge_resources(&cur, &res(r#"{"memory":{"limit":-1},"cpu":{"quota":-1},"pids":{"limit":-1}}"#));
        assert_eq!(m.memory().as_ref().unwrap().limit(), Some(-1));
        assert_eq!(m.cpu().as_ref().unwrap().quota(), Some(-1));
        assert_eq!(m.cpu().as_ref().unwrap().period(), Some(100_000), "the period not named stays");
        assert_eq!(m.pids().unwrap().limit(), -1);
    }

    #[test]
    fn merge_into_nothing_and_unified_keys() {
        let m = merge_resources(&LinuxResources::default(), &res(r#"{"cpu":{"cpus":"0-1"},"blockIO":{"weight":300}}"#));
        assert_eq!(m.cpu().as_ref().unwrap().cpus().as_deref(), Some("0-1"));
        assert_eq!(m.block_io().as_ref().unwrap().weight(), Some(300));
        assert!(m.memory().is_none() && m.pids().is_none());
        let cur = res(r#"{"unified":{"memory.high":"1G","io.weight":"50"}}"#);
        let m = merge_resources(&cur, &res(r#"{"unified":{"memory.high":"2G"}}"#));
        let u = m.unified().as_ref().unwrap();
        assert_eq!((u["memory.high"].as_str(), u["io.weight"].as_str()), ("2G", "50"));
    }

    #[test]
    fn merge_blkio_upserts_devices_as_runc() {
        let cur =
            res(r#"{"blockIO":{"weight":100,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":10},{"major":8,"minor":16,"rate":20}],
                "weightDevice":[{"major":8,"minor":0,"weight":300}]}}"#);
        let m = merge_resources(
            &cur,
            &res(r#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":16,"rate":99},{"major":9,"minor":0,"rate":5}],
                "weightDevice":[{"major":8,"minor":0,"leafWeight":50}]}}"#),
        );
        let b = m.block_io().as_ref().unwrap();
        assert_eq!(b.weight(), Some(100));
        let rates: Vec<(i64, i64, u64)> =
            b.throttle_read_bps_device().as_ref().unwrap().iter().map(|t| (t.major(), t.minor(), t.rate())).collect();
        assert_eq!(rates, vec![(8, 0, 10), (8, 16, 99), (9, 0, 5)]);
        let wd = &b.weight_device().as_ref().unwrap()[0];
        assert_eq!((wd.weight(), wd.leaf_weight()), (Some(300), Some(50)));
        assert!(b.throttle_write_bps_device().is_none());
    }

    #[test]
    fn resources_json_errors_name_the_field() {
        let r = parse_resources(br#"{"memory":{"limit":134217728},"pids":{"limit":7}}"#, "-").unwrap();
        assert_eq!(r.pids().unwrap().limit(), 7);
        let e = parse_resources(br#"{"memory":{"limit":"lots"}}"#, "/tmp/r.json").unwrap_err().to_string();
        assert!(e.starts_with("/tmp/r.json: invalid JSON at memory.limit:"), "{e}");
        let e = parse_resources(b"", "stdin").unwrap_err().to_string();
        assert!(e.starts_with("stdin: invalid JSON"), "{e}");
    }

    #[test]
    fn negative_values_name_the_field() {
        let e = validate_changes(&res(r#"{"memory":{"swap":-2}}"#)).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.memory.swap:"), "{e}");
        let e = validate_changes(&res(r#"{"pids":{"limit":-3}}"#)).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.pids.limit:"), "{e}");
        validate_changes(&res(r#"{"memory":{"limit":-1},"cpu":{"quota":-1},"pids":{"limit":-1}}"#)).unwrap();
    }
}
