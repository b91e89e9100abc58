//! fuzz: the entry points through which untrusted bytes reach hull's parsers, for fuzzing. Each
//! takes any bytes and must return without panicking (an error is a fine answer). The cargo-fuzz
//! targets in `fuzz/` and the time-bounded stable run in `tests/fuzz.rs` (CI) call these.
//!
//! - `config`: config.json bytes -> `Spec` -> the checked `Plan` (what `create` does first);
//! - `seccomp`: a `linux.seccomp` section -> validation -> the BPF compiler (libseccomp);
//! - `mountinfo`: /proc/self/mountinfo and /proc/self/cgroup text and a cgroupsPath -> the
//!   cgroup layout and the container's cgroup paths; mountinfo's octal unescaping;
//! - `id_map`: uid_map/gid_map text, and `linux.uidMappings`-style JSON;
//! - `sync_msg`: a message of the parent/init sync channel.

use std::path::Path;

/// config.json bytes, checked as `create` checks them, relative to the bundle `bundle` (which
/// should hold a `rootfs` directory so that checking goes past `root.path`). Reads the host
/// (paths the config names) but changes nothing.
pub fn config(data: &[u8], bundle: &Path) {
    if let Ok(spec) = crate::spec::parse_config(data, &bundle.join("config.json")) {
        let _ = crate::spec::Plan::from_spec(spec, bundle);
    }
}

/// A `linux.seccomp` JSON section: validated, and compiled when valid.
pub fn seccomp(data: &[u8]) {
    let Ok(s) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else { return };
    if crate::seccomp::validate(&s).is_ok() {
        let _ = crate::seccomp::compile(&s);
    }
}

/// Three texts separated by NUL bytes: mountinfo, /proc/self/cgroup, a cgroupsPath.
pub fn mountinfo(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let (mi, own, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let _ = crate::rootfs::unescape_mountinfo(mi);
    if let Ok(layout) = crate::cgroups::layout::parse_mountinfo(mi) {
        let own = crate::cgroups::layout::parse_proc_cgroup(own);
        let _ = crate::cgroups::layout::container_paths(&layout, &own, Some(Path::new(path)), "fuzz");
        let _ = crate::cgroups::layout::container_paths(&layout, &own, None, path);
    }
}

/// uid_map/gid_map text, or a JSON list of `{containerID, hostID, size}`.
pub fn id_map(data: &[u8]) {
    let _ = crate::rootless::parse_id_map(&String::from_utf8_lossy(data));
    if let Ok(maps) = serde_json::from_slice::<Vec<oci_spec::runtime::LinuxIdMapping>>(data) {
        let _ = crate::rootless::own_id_only(&maps, 1000);
    }
}

/// One packet of the parent/init sync channel.
pub fn sync_msg(data: &[u8]) {
    let _ = crate::process::sync::decode(data);
}
