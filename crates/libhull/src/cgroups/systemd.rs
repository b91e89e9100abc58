//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope
//! unit that systemd makes over D-Bus (`StartTransientUnit`), as runc's and crun's systemd
//! drivers do, so that systemd knows the cgroup is taken and does not fight over it.
//!
//! `linux.cgroupsPath` is `slice:prefix:name` (runc's format): the unit is `<prefix>-<name>.scope`
//! in `slice` (a `name` ending in `.slice` asks for a slice unit of that name instead). An empty
//! path means `system.slice:hull:<id>`, an empty slice `system.slice`.
//!
//! Rootless (as runc and crun): the unit is made by the user's own systemd manager
//! (`user@UID.service`) over the user's session bus (`$DBUS_SESSION_BUS_ADDRESS`, else
//! `$XDG_RUNTIME_DIR/bus`), the default slice is `user.slice` of that manager, and the unit's
//! cgroup lies below the manager's own (`/user.slice/user-UID.slice/user@UID.service/user.slice/
//! hull-<id>.scope`), which systemd delegates to the user. Only on cgroup v2: systemd delegates
//! nothing to a user on v1 (runc refuses it there too). No device program is attached (an
//! unprivileged process cannot load one; a rootless container cannot make device nodes).
//!
//! The order, as in runc: the init is cloned first and waits on the sync channel; then the scope
//! is made with the init's pid in `PIDs` (systemd refuses an empty scope, and the CLI must stay
//! single-threaded until the clone), the job is waited for, and the limits systemd knows are
//! unit properties (so a daemon-reload re-applies the same values); then every limit is also
//! written through the cgroupfs files of the scope's cgroup, for what systemd has no property
//! for. `Delegate=yes` hands the scope's subtree to the container. `org.systemd.property.*`
//! annotations become more properties. `delete` stops the unit.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::dbus::{property, Bus, DbusError, Value};
use super::{v2, CgroupError};

const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a systemd call or job may take (generous: under emulation systemd is slow).
const LIMIT: Duration = Duration::from_secs(90);
/// The annotation prefix runc reads unit properties from.
pub(crate) const PROPERTY_PREFIX: &str = "org.systemd.property.";

/// The unit a container's cgroup is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// `hull-<id>.scope`, or a slice's name.
    pub name: String,
    /// The slice a scope goes in (`system.slice`).
    pub slice: String,
    /// Rootless: the cgroup of the user's systemd manager that made the unit (its
    /// `ControlGroup`, `/user.slice/user-1000.slice/user@1000.service`); the unit's slice is
    /// below it, and the unit is reached over the user's session bus. None: the system manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_manager: Option<String>,
}

impl Unit {
    /// The unit named by `linux.cgroupsPath` (`slice:prefix:name`) for container `id`, of the
    /// system manager, or (`user_manager`, its ControlGroup) of the user's manager, where the
    /// default slice is `user.slice`.
    pub fn parse(cgroups_path: Option<&str>, id: &str, user_manager: Option<&str>) -> Result<Unit, CgroupError> {
        let invalid = |reason: String| CgroupError::Invalid { field: "linux.cgroupsPath".into(), reason };
        let (slice, prefix, name) = match cgroups_path.filter(|p| !p.is_empty()) {
            None => ("", "hull", id),
            Some(p) => {
                let parts: Vec<&str> = p.split(':').collect();
                let [slice, prefix, name] = parts[..] else {
                    return Err(invalid(format!("{p:?} is not of the form \"slice:prefix:name\" the systemd cgroup driver needs")));
                };
                if name.is_empty() {
                    return Err(invalid(format!("{p:?} has an empty name (\"slice:prefix:name\")")));
                }
                (slice, prefix, name)
            }
        };
        let slice = match slice {
            "" if user_manager.is_some() => "user.slice",
            "" => "system.slice",
            s => s,
        };
        expand_slice(slice)?;
        let unit = if name.ends_with(".slice") {
            expand_slice(name)?;
            name.to_string()
        } else if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        // systemd's unit name rules (unit_name_is_valid): these characters, at most 255 bytes.
        let ok = |c: char| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c);
        if unit.len() > 255 || !unit.chars().all(ok) || unit.starts_with('.') {
            return Err(invalid(format!("{unit:?} is not a valid systemd unit name")));
        }
        Ok(Unit { name: unit, slice: slice.to_string(), user_manager: user_manager.map(str::to_string) })
    }

    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// The unit's cgroup below a hierarchy's root: `system.slice/hull-x.scope`; rootless below
    /// the user manager's (`user.slice/user-1000.slice/user@1000.service/user.slice/hull-x.scope`).
    pub fn cgroup(&self) -> Result<String, CgroupError> {
        let own = if self.is_slice() {
            expand_slice(&self.name)?
        } else {
            let s = expand_slice(&self.slice)?;
            if s.is_empty() {
                self.name.clone()
            } else {
                format!("{s}/{}", self.name)
            }
        };
        let base = self.user_manager.as_deref().unwrap_or("").trim_matches('/');
        Ok(match (base, own.as_str()) {
            ("", _) => own,
            (b, "") => b.to_string(),
            (b, o) => format!("{b}/{o}"),
        })
    }

    /// Whether the user's manager (rootless) made the unit.
    pub fn is_user(&self) -> bool {
        self.user_manager.is_some()
    }
}

/// systemd's slice naming: `a-b-c.slice` lives at `a.slice/a-b.slice/a-b-c.slice`; `-.slice`
/// is the root. A slash, an empty part (`a--b`, a leading or trailing `-`) is refused.
pub fn expand_slice(slice: &str) -> Result<String, CgroupError> {
    let invalid = |reason: &str| CgroupError::Invalid { field: "linux.cgroupsPath".into(), reason: format!("slice {slice:?} {reason}") };
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err(invalid("does not end in .slice"));
    };
    if slice == "-.slice" {
        return Ok(String::new());
    }
    if base.is_empty() || slice.contains('/') {
        return Err(invalid("is not a slice name"));
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(invalid("has an empty component (a leading, trailing or doubled '-')"));
        }
        if !prefix.is_empty() {
            prefix.push('-');
            path.push('/');
        }
        prefix.push_str(part);
        path.push_str(&prefix);
        path.push_str(".slice");
    }
    Ok(path)
}

/// Refuses early, before any side effect, on a host where systemd is not the init (the test
/// sd_booted(3) makes) or its bus cannot be reached; returns the connection to use: the system
/// manager's, or `rootless` the user's own manager's over the user's session bus (whose
/// ControlGroup the session then holds).
pub(crate) fn connect(rootless: bool) -> Result<Session, CgroupError> {
    if rootless {
        return connect_user();
    }
    if !Path::new("/run/systemd/system").is_dir() {
        return Err(CgroupError::Systemd(
            "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver (without --systemd-cgroup)"
                .into(),
        ));
    }
    let bus = Bus::system().map_err(|e| CgroupError::Systemd(format!("--systemd-cgroup: {e}")))?;
    Ok(Session { bus, user_manager: None })
}

/// The connection that reaches `unit`'s manager (`update`, `delete`).
pub(crate) fn connect_for(unit: &Unit) -> Result<Session, CgroupError> {
    connect(unit.is_user())
}

/// The user's session bus (runc's lookup: `$DBUS_SESSION_BUS_ADDRESS`, else
/// `$XDG_RUNTIME_DIR/bus`), and the ControlGroup of the user's systemd manager on it.
fn connect_user() -> Result<Session, CgroupError> {
    let fail = |what: String| CgroupError::Systemd(format!("--systemd-cgroup: {what}"));
    let hint = "rootless, the systemd driver needs the user's systemd manager (user@UID.service: a login session, or \
                `loginctl enable-linger USER`) and its session bus (Debian's dbus-user-session)";
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let path = match (env("DBUS_SESSION_BUS_ADDRESS"), env("XDG_RUNTIME_DIR")) {
        (Some(addr), _) => super::dbus::unix_path(&addr).ok_or_else(|| {
            fail(format!("DBUS_SESSION_BUS_ADDRESS={addr:?} names no unix:path= socket (the only kind hull connects to); {hint}"))
        })?,
        (None, Some(xdg)) => Path::new(&xdg).join("bus"),
        (None, None) => {
            return Err(fail(format!("no systemd user session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set; {hint}")))
        }
    };
    let bus = Bus::session(&path).map_err(|e| {
        let e = match e {
            DbusError::Connect { source, .. } => source.to_string(),
            e => e.to_string(),
        };
        fail(format!("no systemd user session bus at {}: {e}; {hint}", path.display()))
    })?;
    let mut s = Session { bus, user_manager: None };
    let cg = s
        .manager_property("ControlGroup")
        .map_err(|e| fail(format!("the user's systemd manager on the session bus {}: {e}; {hint}", path.display())))?;
    match cg.as_str().filter(|c| c.starts_with('/') && !c.contains("..")) {
        Some(c) => s.user_manager = Some(c.to_string()),
        None => return Err(fail(format!("the user's systemd manager reports no usable ControlGroup ({cg:?})"))),
    }
    Ok(s)
}

/// The `org.systemd.property.NAME` annotations as unit properties, checked as runc does: NAME
/// is ASCII letters only; the value is in GVariant text format (the subset hull reads: `true`,
/// `false`, a typed number such as `uint64 123`, a plain number (int32, as GVariant reads
/// it), a quoted string, a list of quoted strings); a NAME ending in `Sec` (a lowercase letter
/// before it) is a time in seconds, converted to the `USec` property in microseconds.
pub(crate) fn annotation_properties(annotations: Option<&HashMap<String, String>>) -> Result<Vec<Value>, CgroupError> {
    let mut keys: Vec<&String> = annotations.into_iter().flat_map(|a| a.keys()).filter(|k| k.starts_with(PROPERTY_PREFIX)).collect();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let v = &annotations.and_then(|a| a.get(k)).cloned().unwrap_or_default();
        let invalid = |reason: String| CgroupError::Invalid { field: format!("annotations[{k:?}]"), reason };
        let mut name = k[PROPERTY_PREFIX.len()..].to_string();
        if name.len() < 3 || !name.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(invalid(format!("{name:?} is not a systemd property name (ASCII letters only)")));
        }
        let mut value = parse_gvariant(v).ok_or_else(|| {
            invalid(format!(
                "{v:?} is not a GVariant value hull reads (true, false, a typed number such as 'uint64 123', a number, a quoted string or a list of them)"
            ))
        })?;
        if let Some(stem) = name.strip_suffix("Sec").filter(|s| s.ends_with(|c: char| c.is_ascii_lowercase())) {
            let secs = match value {
                Value::Byte(n) => n as f64,
                Value::U32(n) => n as f64,
                Value::U64(n) => n as f64,
                Value::I32(n) if n >= 0 => n as f64,
                Value::I64(n) if n >= 0 => n as f64,
                _ => return Err(invalid(format!("{v:?}: a time in seconds must be a number of at least 0"))),
            };
            value = Value::U64((secs * 1e6) as u64);
            name = format!("{stem}USec");
        }
        out.push(property(&name, value));
    }
    Ok(out)
}

/// A subset of GVariant's text format (what runc's users put in these annotations).
fn parse_gvariant(s: &str) -> Option<Value> {
    let s = s.trim();
    match s {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some((ty, n)) = s.split_once(' ') {
        let n = n.trim();
        return match ty {
            "byte" => n.parse().ok().map(Value::Byte),
            "int32" => n.parse().ok().map(Value::I32),
            "uint32" => n.parse().ok().map(Value::U32),
            "int64" => n.parse().ok().map(Value::I64),
            "uint64" => n.parse().ok().map(Value::U64),
            "boolean" => parse_gvariant(n).filter(|v| matches!(v, Value::Bool(_))),
            "@as" if n == "[]" => Some(Value::Array("s".into(), Vec::new())),
            _ => None,
        };
    }
    if let Ok(n) = s.parse::<i32>() {
        return Some(Value::I32(n));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let items: Option<Vec<Value>> =
            inner.split(',').map(str::trim).filter(|i| !i.is_empty()).map(|i| quoted(i).map(Value::Str)).collect();
        return items.map(|i| Value::Array("s".into(), i));
    }
    quoted(s).map(Value::Str)
}

fn quoted(s: &str) -> Option<String> {
    let inner =
        s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')).or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    (!inner.contains(['\'', '"', '\\'])).then(|| inner.to_string())
}

/// "0-2,5" as systemd's AllowedCPUs bitmask bytes (bit n of byte n/8 is CPU n).
fn cpu_mask(list: &str) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?),
            None => {
                let n = part.parse::<usize>().ok()?;
                (n, n)
            }
        };
        if a > b || b >= 1 << 16 {
            return None;
        }
        for n in a..=b {
            if bytes.len() <= n / 8 {
                bytes.resize(n / 8 + 1, 0);
            }
            bytes[n / 8] |= 1 << (n % 8);
        }
    }
    Some(bytes)
}

/// The limits systemd has a unit property for, as runc's systemd driver sets them (cgroup v2
/// names when `unified`, v1 names otherwise). Everything is written through cgroupfs as well.
pub(crate) fn resource_properties(r: &LinuxResources, unified: bool) -> Vec<Value> {
    let mut p = Vec::new();
    let max = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if let Some(m) = r.memory() {
        match m.limit() {
            Some(l) if l != 0 => p.push(property(if unified { "MemoryMax" } else { "MemoryLimit" }, Value::U64(max(l)))),
            _ => {}
        }
        if unified {
            if let Some(low) = m.reservation().filter(|&v| v != 0) {
                p.push(property("MemoryLow", Value::U64(max(low))));
            }
            if let Ok(sw) = v2::swap_max(m.limit().unwrap_or(0), m.swap().unwrap_or(0)) {
                if sw != 0 {
                    p.push(property("MemorySwapMax", Value::U64(max(sw))));
                } else if m.swap().is_some_and(|s| s > 0) {
                    p.push(property("MemorySwapMax", Value::U64(0)));
                }
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|&s| s != 0) {
            if unified {
                p.push(property("CPUWeight", Value::U64(v2::shares_to_weight(s))));
            } else {
                p.push(property("CPUShares", Value::U64(s)));
            }
        }
        let period = c.period().filter(|&p| p != 0);
        if let Some(q) = c.quota().filter(|&q| q != 0) {
            let per_sec = if q < 0 {
                u64::MAX
            } else {
                // systemd keeps CPUQuota in percent: round up to a multiple of 10 ms a second,
                // as runc does, so the kernel gets at least the quota asked for.
                let v = (q as u64) * 1_000_000 / period.unwrap_or(100_000);
                v.div_ceil(10_000) * 10_000
            };
            p.push(property("CPUQuotaPerSecUSec", Value::U64(per_sec)));
        }
        if let Some(per) = period {
            p.push(property("CPUQuotaPeriodUSec", Value::U64(per)));
        }
        if unified {
            for (name, v) in [("AllowedCPUs", c.cpus()), ("AllowedMemoryNodes", c.mems())] {
                if let Some(mask) = v.as_deref().filter(|v| !v.is_empty()).and_then(cpu_mask) {
                    p.push(property(name, Value::Array("y".into(), mask.into_iter().map(Value::Byte).collect())));
                }
            }
        }
    }
    if let Some(pids) = r.pids() {
        p.push(property("TasksMax", Value::U64(if pids.limit() > 0 { pids.limit() as u64 } else { u64::MAX })));
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()).filter(|&w| w != 0) {
        if unified {
            p.push(property("IOWeight", Value::U64(v2::blkio_to_io_weight(w))));
        } else {
            p.push(property("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    p
}

/// A connection to systemd.
pub(crate) struct Session {
    bus: Bus,
    /// The ControlGroup of the user's manager when this is the user's session bus.
    user_manager: Option<String>,
}

fn systemd_error(unit: &str, what: &str, e: DbusError) -> CgroupError {
    CgroupError::Systemd(format!("{what} {unit}: {e}"))
}

impl Session {
    /// The ControlGroup of the user's systemd manager (rootless), None for the system's.
    pub(crate) fn user_manager(&self) -> Option<&str> {
        self.user_manager.as_deref()
    }

    /// A string property of the manager (`org.freedesktop.DBus.Properties.Get`).
    fn manager_property(&mut self, name: &str) -> Result<Value, DbusError> {
        let body = [Value::Str(MANAGER.into()), Value::Str(name.into())];
        let reply = self.bus.call(SYSTEMD, SYSTEMD_PATH, "org.freedesktop.DBus.Properties", "Get", &body, LIMIT)?;
        match reply.into_iter().next() {
            Some(Value::Variant(v)) => Ok(*v),
            other => Err(DbusError::Protocol(format!("Get({name}) returned {other:?}"))),
        }
    }

    fn call(&mut self, member: &str, body: &[Value]) -> Result<Vec<Value>, DbusError> {
        self.bus.call(SYSTEMD, SYSTEMD_PATH, MANAGER, member, body, LIMIT)
    }

    /// Subscribes to JobRemoved (the match rule the bus needs to route it to us).
    fn watch_jobs(&mut self) -> Result<(), DbusError> {
        let rule = format!("type='signal',sender='{SYSTEMD}',path='{SYSTEMD_PATH}',interface='{MANAGER}',member='JobRemoved'");
        self.bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", &[Value::Str(rule)], LIMIT)?;
        Ok(())
    }

    /// Waits for the job a call returned and checks it ended "done".
    fn finish_job(&mut self, unit: &str, what: &str, reply: Vec<Value>) -> Result<(), CgroupError> {
        let job = reply.first().and_then(Value::as_str).map(str::to_string).ok_or_else(|| systemd_error(unit, what, protocol_error()))?;
        let result = self.bus.wait_job(&job, LIMIT).map_err(|e| systemd_error(unit, what, e))?;
        if result != "done" {
            return Err(CgroupError::Systemd(format!("{what} {unit}: the job ended with {result:?} (see journalctl -u {unit})")));
        }
        Ok(())
    }

    /// Makes the transient unit with `pid` in it and waits until systemd has started it.
    pub(crate) fn start(&mut self, unit: &Unit, id: &str, pid: i32, mut extra: Vec<Value>) -> Result<(), CgroupError> {
        let what = "starting the systemd unit";
        self.watch_jobs().map_err(|e| systemd_error(&unit.name, what, e))?;
        let mut props = vec![property("Description", Value::Str(format!("hull container {id}")))];
        if unit.is_slice() {
            // A slice's place comes from its name; its parent must be up first.
            let parent = parent_slice(&unit.name);
            props.push(property("Wants", Value::Array("s".into(), vec![Value::Str(parent)])));
        } else {
            props.push(property("Slice", Value::Str(unit.slice.clone())));
            props.push(property("Delegate", Value::Bool(true)));
        }
        props.push(property("PIDs", Value::Array("u".into(), vec![Value::U32(pid as u32)])));
        // As runc: no implicit ordering on shutdown targets, and accounting for every
        // controller, so that stats and the cgroupfs writes find their files.
        props.push(property("DefaultDependencies", Value::Bool(false)));
        for a in ["MemoryAccounting", "CPUAccounting", "TasksAccounting", "IOAccounting"] {
            props.push(property(a, Value::Bool(true)));
        }
        props.append(&mut extra);
        let body = [
            Value::Str(unit.name.clone()),
            Value::Str("replace".into()),
            Value::Array("(sv)".into(), props),
            Value::Array("(sa(sv))".into(), Vec::new()),
        ];
        let reply = match self.call("StartTransientUnit", &body) {
            Ok(r) => r,
            Err(DbusError::Remote { name, .. }) if name == "org.freedesktop.systemd1.UnitExists" => {
                return Err(CgroupError::Systemd(format!("{what} {}: the unit already exists", unit.name)));
            }
            Err(e) => return Err(systemd_error(&unit.name, what, e)),
        };
        self.finish_job(&unit.name, what, reply)
    }

    /// Moves `pid` into the unit's cgroup (`exec` rootless: see `CgroupManager::add_pid`).
    pub(crate) fn attach(&mut self, unit: &Unit, pid: i32) -> Result<(), CgroupError> {
        let body = [Value::Str(unit.name.clone()), Value::Str(String::new()), Value::Array("u".into(), vec![Value::U32(pid as u32)])];
        self.call("AttachProcessesToUnit", &body).map_err(|e| systemd_error(&unit.name, "moving a process into", e))?;
        Ok(())
    }

    /// Changes properties of a running unit (`update`).
    pub(crate) fn set_properties(&mut self, unit: &Unit, props: Vec<Value>) -> Result<(), CgroupError> {
        if props.is_empty() {
            return Ok(());
        }
        let body = [Value::Str(unit.name.clone()), Value::Bool(true), Value::Array("(sv)".into(), props)];
        self.call("SetUnitProperties", &body).map_err(|e| systemd_error(&unit.name, "setting properties of", e))?;
        Ok(())
    }

    /// Stops the unit and waits for it; a unit already gone is fine. A failed unit (e.g. after
    /// an OOM kill) is reset so that nothing of it stays listed.
    pub(crate) fn stop(&mut self, unit: &Unit) -> Result<(), CgroupError> {
        let what = "stopping the systemd unit";
        self.watch_jobs().map_err(|e| systemd_error(&unit.name, what, e))?;
        let stopped = match self.call("StopUnit", &[Value::Str(unit.name.clone()), Value::Str("replace".into())]) {
            Ok(reply) => self.finish_job(&unit.name, what, reply),
            Err(DbusError::Remote { name, .. }) if name == "org.freedesktop.systemd1.NoSuchUnit" => Ok(()),
            Err(e) => Err(systemd_error(&unit.name, what, e)),
        };
        let _ = self.call("ResetFailedUnit", &[Value::Str(unit.name.clone())]);
        stopped
    }
}

fn protocol_error() -> DbusError {
    DbusError::Protocol("the reply holds no job path".into())
}

/// `a-b-c.slice` -> `a-b.slice`; `a.slice` -> `-.slice`.
fn parent_slice(name: &str) -> String {
    let base = name.trim_end_matches(".slice");
    match base.rsplit_once('-') {
        Some((p, _)) => format!("{p}.slice"),
        None => "-.slice".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_and_slices_as_runc() {
        let u = Unit::parse(None, "abc", None).unwrap();
        assert_eq!((u.name.as_str(), u.slice.as_str()), ("hull-abc.scope", "system.slice"));
        assert_eq!(u.cgroup().unwrap(), "system.slice/hull-abc.scope");
        let u = Unit::parse(Some("machine-a.slice:docker:123"), "x", None).unwrap();
        assert_eq!(u.name, "docker-123.scope");
        assert_eq!(u.cgroup().unwrap(), "machine.slice/machine-a.slice/docker-123.scope");
        let u = Unit::parse(Some(":crio:9"), "x", None).unwrap();
        assert_eq!(u.cgroup().unwrap(), "system.slice/crio-9.scope");
        let u = Unit::parse(Some("-.slice::x"), "x", None).unwrap();
        assert_eq!(u.cgroup().unwrap(), "x.scope");
        let u = Unit::parse(Some("system.slice:p:pod-a.slice"), "x", None).unwrap();
        assert!(u.is_slice());
        assert_eq!(u.cgroup().unwrap(), "pod.slice/pod-a.slice");
        assert_eq!(parent_slice("pod-a.slice"), "pod.slice");
        for bad in ["system.slice:x", "/a/b", "a:b:c:d", "system:p:n", "a--b.slice:p:n", "-a.slice:p:n", "a/b.slice:p:n", "system.slice:p:"]
        {
            let e = Unit::parse(Some(bad), "x", None).unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{bad}: {e}");
        }
        assert!(Unit::parse(Some("system.slice:p:a b"), "x", None).is_err());
    }

    #[test]
    fn rootless_units_live_below_the_user_manager() {
        let m = Some("/user.slice/user-1000.slice/user@1000.service");
        let u = Unit::parse(None, "abc", m).unwrap();
        assert_eq!((u.name.as_str(), u.slice.as_str()), ("hull-abc.scope", "user.slice"));
        assert_eq!(u.cgroup().unwrap(), "user.slice/user-1000.slice/user@1000.service/user.slice/hull-abc.scope");
        let u = Unit::parse(Some("app.slice:podman:1"), "x", m).unwrap();
        assert_eq!(u.cgroup().unwrap(), "user.slice/user-1000.slice/user@1000.service/app.slice/podman-1.scope");
        let u = Unit::parse(Some("-.slice::x"), "x", m).unwrap();
        assert_eq!(u.cgroup().unwrap(), "user.slice/user-1000.slice/user@1000.service/x.scope");
        assert!(u.is_user());
        let e = Unit::parse(Some("a:b:c"), "x", m).unwrap_err().to_string();
        assert!(e.starts_with("linux.cgroupsPath: slice \"a\""), "{e}");
    }

    #[test]
    fn annotations_become_properties_as_runc_reads_them() {
        let a: HashMap<String, String> = [
            ("org.systemd.property.TimeoutStopUSec", "uint64 123456789"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.RuntimeMaxSec", "uint64 5"),
            ("org.systemd.property.CPUAccounting", "false"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = annotation_properties(Some(&a)).unwrap();
        assert_eq!(
            p,
            [
                property("CPUAccounting", Value::Bool(false)),
                property("CollectMode", Value::Str("inactive-or-failed".into())),
                property("RuntimeMaxUSec", Value::U64(5_000_000)),
                property("TimeoutStopUSec", Value::U64(123_456_789)),
            ]
        );
        for (k, v) in [("org.systemd.property.Bad1", "true"), ("org.systemd.property.Foo", "{nope"), ("org.systemd.property.X", "1")] {
            let a: HashMap<String, String> = [(k.to_string(), v.to_string())].into_iter().collect();
            let e = annotation_properties(Some(&a)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("annotations[{k:?}]")), "{e}");
        }
    }

    #[test]
    fn resources_as_unit_properties() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 67108864},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1,9"},
            "pids": {"limit": 64}
        }))
        .unwrap();
        let p = resource_properties(&r, true);
        let get = |n: &str| {
            p.iter().find_map(|v| match v {
                Value::Struct(f) if f[0] == Value::Str(n.into()) => Some(f[1].clone()),
                _ => None,
            })
        };
        let var = |v: Value| Some(Value::Variant(Box::new(v)));
        assert_eq!(get("MemoryMax"), var(Value::U64(67108864)));
        assert_eq!(get("CPUWeight"), var(Value::U64(59)));
        assert_eq!(get("CPUQuotaPerSecUSec"), var(Value::U64(500_000)));
        assert_eq!(get("CPUQuotaPeriodUSec"), var(Value::U64(100_000)));
        assert_eq!(get("TasksMax"), var(Value::U64(64)));
        assert_eq!(get("AllowedCPUs"), var(Value::Array("y".into(), vec![Value::Byte(3), Value::Byte(2)])));
        // 1.5 ms a 100 ms period is 15 ms a second: 20 ms after rounding up to 10 ms.
        let r: LinuxResources = serde_json::from_value(serde_json::json!({"cpu": {"quota": 1500, "period": 100000}})).unwrap();
        assert_eq!(resource_properties(&r, true)[0], property("CPUQuotaPerSecUSec", Value::U64(20_000)));
    }
}
