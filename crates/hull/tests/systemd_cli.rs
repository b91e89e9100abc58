//! `--systemd-cgroup` input checks that hold on any host: a cgroupsPath without the
//! `slice:prefix:name` form, a bad `org.systemd.property.*` annotation, and a host whose systemd
//! cannot be reached are refused with a clear error, before anything is made. (The driver
//! itself is tested in the guest: guest_systemd.rs.)

mod common;

use common::{require_root, unique, Bundle, Runtime};
use serde_json::json;

/// Runs `--systemd-cgroup run` and returns stderr; asserts it failed and left no state.
fn refused(rt: &Runtime, b: &Bundle, id: &str, bus: Option<&str>) -> String {
    let mut c = rt.cmd();
    if let Some(addr) = bus {
        c.env("DBUS_SYSTEM_BUS_ADDRESS", addr);
    }
    let out = c.args(["--systemd-cgroup", "run", "--bundle", b.arg(), id]).stdin(std::process::Stdio::null()).output().expect("spawn hull");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "run succeeded: {err}");
    assert!(!rt.run(&["state", id]).status.success(), "a state was left behind");
    // Nothing named for the container in any hierarchy.
    let mut left = std::collections::BTreeSet::new();
    common::find_named(std::path::Path::new("/sys/fs/cgroup"), id, 0, &mut left);
    common::find_named(std::path::Path::new("/sys/fs/cgroup"), &format!("hull-{id}.scope"), 0, &mut left);
    assert!(left.is_empty(), "cgroups left: {left:?}");
    err
}

#[test]
fn a_systemd_cgroups_path_without_the_slice_form_is_refused() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    for bad in ["/hull/not-a-slice", "system.slice:only-two", "a--b.slice:p:n", "system.slice:p:"] {
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["cgroupsPath"] = json!(bad);
        b.save();
        let err = refused(&rt, &b, &unique("sdbad"), None);
        assert!(err.contains("linux.cgroupsPath"), "{bad}: the error does not name linux.cgroupsPath: {err}");
    }
}

#[test]
fn a_bad_systemd_property_annotation_is_refused() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["annotations"] = json!({"org.systemd.property.Time0ut": "true"});
    b.save();
    let err = refused(&rt, &b, &unique("sdann"), None);
    // The text log format escapes the quotes of `annotations["..."]`.
    assert!(
        err.contains("annotations[") && err.contains("org.systemd.property.Time0ut") && err.contains("not a systemd property name"),
        "{err}"
    );
}

#[test]
fn systemd_that_cannot_be_reached_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    // On a host without systemd (this machine) the check of /run/systemd/system says so; on a
    // systemd host (the guest) the bus at a path that does not exist does.
    let err = refused(&rt, &b, &unique("sdnobus"), Some("unix:path=/nonexistent/hull-test-bus"));
    assert!(err.contains("--systemd-cgroup:"), "{err}");
    assert!(
        err.contains("systemd is not running on this host") || err.contains("/nonexistent/hull-test-bus"),
        "the error does not say why systemd cannot be used: {err}"
    );
}
