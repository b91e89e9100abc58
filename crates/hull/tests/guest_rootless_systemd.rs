//! Rootless `--systemd-cgroup` on a pure cgroup v2 host with systemd as PID 1 (the QEMU guest of
//! guest/run.sh): hull, run as an unprivileged user, has the user's own systemd manager
//! (user@UID.service, kept running by `loginctl enable-linger`) make the container's scope over
//! the user's session bus (/run/user/UID/bus, Debian's dbus-user-session), as rootless podman
//! has runc and crun do. This machine has no systemd, so every test here is `#[ignore]`d; the
//! guest runs this binary with `--include-ignored`. The checks look from the host side
//! (`systemctl --user` as the user, /proc/<pid>/cgroup, the cgroup files) and from inside.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::rootless::*;
use common::{poll, require_root, unique, Outcome};
use serde_json::json;

/// systemd under emulation is slow: the user's manager takes a while to come up.
const SLOW: Duration = Duration::from_secs(120);
const WHY: &str = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)";

/// Panics unless this is the host the tests are for.
fn assert_systemd_v2() {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    assert_eq!(st.filesystem_type(), nix::sys::statfs::CGROUP2_SUPER_MAGIC, "/sys/fs/cgroup is not cgroup2: {WHY}");
    assert!(Path::new("/run/systemd/system").is_dir(), "systemd is not PID 1: {WHY}");
}

/// How many tests use the user's session now (see `UserSession`).
static SESSIONS: Mutex<usize> = Mutex::new(0);

/// The main test user's systemd manager and session bus, up while a test holds this: the first
/// holder enables linger (so user@UID.service starts without a login), the last one disables it
/// and stops the user's slice, so the tests leave no cgroup behind.
struct UserSession(TestUser);

fn user_session() -> UserSession {
    let u = users().main.clone();
    let mut n = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    if *n == 0 {
        if let Err(e) = start_session(&u) {
            panic!("{e}");
        }
    }
    *n += 1;
    UserSession(u)
}

fn start_session(u: &TestUser) -> Result<(), String> {
    let out = Command::new("loginctl").args(["enable-linger", &u.name]).output().map_err(|e| format!("loginctl: {e}"))?;
    if !out.status.success() {
        return Err(format!("loginctl enable-linger {}: {}", u.name, String::from_utf8_lossy(&out.stderr)));
    }
    let bus = PathBuf::from(format!("/run/user/{}/bus", u.uid));
    let up = poll(SLOW, || (bus.exists() && systemctl_user(u, &["is-system-running"]).0.is_some()).then_some(()));
    up.ok_or_else(|| {
        let st = Command::new("systemctl").args(["status", &format!("user@{}.service", u.uid)]).output();
        let st = st.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        format!("user@{}.service or {} did not come up within {SLOW:?}: {st}", u.uid, bus.display())
    })
}

impl Drop for UserSession {
    fn drop(&mut self) {
        let mut n = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n > 0 {
            return;
        }
        let u = &self.0;
        let _ = Command::new("loginctl").args(["disable-linger", &u.name]).output();
        let slice = format!("user-{}.slice", u.uid);
        let _ = Command::new("systemctl").args(["stop", &slice]).output();
        let dir = PathBuf::from(format!("/sys/fs/cgroup/user.slice/{slice}"));
        if poll(SLOW, || (!dir.exists()).then_some(())).is_none() {
            eprintln!("{} is still there after systemctl stop {slice}", dir.display());
        }
    }
}

impl std::ops::Deref for UserSession {
    type Target = TestUser;
    fn deref(&self) -> &TestUser {
        &self.0
    }
}

/// `systemctl --user ARGS` as `u` in its session: (stdout when it exited 0, stdout + stderr).
fn systemctl_user(u: &TestUser, args: &[&str]) -> (Option<String>, String) {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .uid(u.uid)
        .gid(u.gid)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("XDG_RUNTIME_DIR", format!("/run/user/{}", u.uid))
        .current_dir("/")
        .output()
        .expect("run systemctl --user");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()), text)
}

/// `systemctl --user show UNIT -p P` as the user: the value.
fn show(u: &TestUser, unit: &str, prop: &str) -> String {
    let (_, text) = systemctl_user(u, &["show", unit, "-p", prop, "--value"]);
    text.trim().to_string()
}

/// The unit as the user's manager lists it (empty when it has forgotten it).
fn listed(u: &TestUser, unit: &str) -> String {
    systemctl_user(u, &["list-units", "--all", "--no-legend", unit]).0.unwrap_or_default().trim().to_string()
}

/// The units `hull-*` the user's manager knows.
fn hull_units(u: &TestUser) -> String {
    systemctl_user(u, &["list-units", "--all", "--no-legend", "hull-*"]).0.unwrap_or_default().trim().to_string()
}

fn cgroup_of(pid: i64) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("").to_string()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| format!("<{e}>")).trim().to_owned()
}

/// hull as the user in its session, with --systemd-cgroup.
fn sd(h: &UserHull, args: &[&str]) -> Outcome {
    let mut a = vec!["--systemd-cgroup"];
    a.extend_from_slice(args);
    h.run(&a)
}

fn sd_ok(h: &UserHull, args: &[&str]) -> String {
    let o = sd(h, args);
    assert!(o.success(), "--systemd-cgroup {args:?} as {} failed: {}", h.user.name, o.describe());
    o.stdout
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_rootless_container_is_a_scope_of_the_users_manager_with_its_limits() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let session = user_session();
    let u: &TestUser = &session;
    let h = UserHull::in_user_session(u);
    let id = unique("rlsd");
    let unit = format!("hull-{id}.scope");
    let mut b = user_bundle(u, &["sleep", "1000"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 32}});
    b.save();
    sd_ok(&h, &["run", "-d", "--bundle", b.arg(), &id]);
    let pid = h.pid(&id);

    // The scope is the user manager's, in its user.slice, delegated to the user.
    let manager = format!("/user.slice/user-{0}.slice/user@{0}.service", u.uid);
    let want = format!("{manager}/user.slice/{unit}");
    assert_eq!(cgroup_of(pid), want, "the init's cgroup");
    assert_eq!(show(u, &unit, "ActiveState"), "active");
    assert_eq!(show(u, &unit, "ControlGroup"), want);
    assert_eq!(show(u, &unit, "Delegate"), "yes");
    assert_eq!(show(u, &unit, "MemoryMax"), (64 * 1024 * 1024).to_string());
    assert_eq!(show(u, &unit, "TasksMax"), "32");
    // The system manager does not have it: it is the user's.
    let sys = Command::new("systemctl").args(["list-units", "--all", "--no-legend", &unit]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&sys.stdout).trim(), "", "the system manager lists the user's scope");
    let dir = PathBuf::from(format!("/sys/fs/cgroup{want}"));
    assert_eq!(std::fs::metadata(&dir).expect("the scope's cgroup").uid(), u.uid, "{} is delegated to the user", dir.display());
    assert_eq!(read(&dir, "memory.max"), (64 * 1024 * 1024).to_string());
    assert_eq!(read(&dir, "pids.max"), "32");
    // Inside, the cgroup namespace is rooted at the scope, whose files /sys/fs/cgroup shows.
    let inside = h.ok(&["exec", &id, "cat", "/proc/self/cgroup", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"]);
    let lines: Vec<&str> = inside.lines().collect();
    assert_eq!(lines, ["0::/", "67108864", "32"], "seen inside: {inside}");

    // pause/resume freeze the scope's cgroup.
    h.ok(&["pause", &id]);
    assert!(h.wait_status(&id, "paused"), "status after pause: {:?}", h.status(&id));
    assert!(read(&dir, "cgroup.events").lines().any(|l| l == "frozen 1"), "cgroup.events: {}", read(&dir, "cgroup.events"));
    h.ok(&["resume", &id]);
    assert!(h.wait_status(&id, "running"), "status after resume: {:?}", h.status(&id));
    assert!(read(&dir, "cgroup.events").lines().any(|l| l == "frozen 0"), "cgroup.events: {}", read(&dir, "cgroup.events"));

    // update: the unit's properties and the files.
    sd_ok(&h, &["update", "--memory", "134217728", "--pids-limit", "48", &id]);
    assert_eq!(read(&dir, "memory.max"), "134217728");
    assert_eq!(read(&dir, "pids.max"), "48");
    assert_eq!(show(u, &unit, "MemoryMax"), "134217728");
    assert_eq!(show(u, &unit, "TasksMax"), "48");

    // events --stats reads the scope's files.
    let stats: serde_json::Value = serde_json::from_str(&h.ok(&["events", "--stats", &id])).expect("events --stats JSON");
    assert_eq!(stats["data"]["pids"]["limit"], 48, "{stats}");

    // delete: the unit and its cgroup are gone.
    sd_ok(&h, &["delete", "--force", &id]);
    assert!(poll(SLOW, || listed(u, &unit).is_empty().then_some(())).is_some(), "unit left after delete: {}", listed(u, &unit));
    assert!(!dir.exists(), "{} left after delete", dir.display());
    assert!(h.ids_on_disk().is_empty(), "state left: {:?}", h.ids_on_disk());
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_rootless_cgroups_path_names_the_slice_of_the_users_manager() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let session = user_session();
    let u: &TestUser = &session;
    let h = UserHull::in_user_session(u);
    let id = unique("rlsd");
    let mut b = user_bundle(u, &["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("app.slice:pod:{id}"));
    b.save();
    sd_ok(&h, &["run", "-d", "--bundle", b.arg(), &id]);
    let pid = h.pid(&id);
    let want = format!("/user.slice/user-{0}.slice/user@{0}.service/app.slice/pod-{id}.scope", u.uid);
    assert_eq!(cgroup_of(pid), want, "the init's cgroup");
    sd_ok(&h, &["delete", "--force", &id]);
    let unit = format!("pod-{id}.scope");
    assert!(poll(SLOW, || listed(u, &unit).is_empty().then_some(())).is_some(), "unit left after delete: {}", listed(u, &unit));
    assert!(!Path::new(&format!("/sys/fs/cgroup{want}")).exists(), "{want} left after delete");
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_bad_cgroups_path_is_refused_naming_the_field_leaving_nothing() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let session = user_session();
    let u: &TestUser = &session;
    let h = UserHull::in_user_session(u);
    let before = hull_units(u);
    for bad in ["a:b:c", "user.slice:x", "a--b.slice:p:n"] {
        let id = unique("rlsd-bad");
        let mut b = user_bundle(u, &["true"]);
        b.config["linux"]["cgroupsPath"] = json!(bad);
        b.save();
        let o = sd(&h, &["run", "--bundle", b.arg(), &id]);
        assert!(!o.success(), "{bad:?} was accepted");
        assert!(o.stderr.contains("linux.cgroupsPath"), "{bad:?}: the error does not name the field: {}", o.stderr);
        h.assert_nothing_left(&id);
    }
    assert_eq!(hull_units(u), before, "units left by refused creates");
}

#[test]
#[ignore = "needs a pure cgroup v2 host with systemd as PID 1: runs in the guest (bash guest/run.sh)"]
fn a_missing_user_bus_is_refused_naming_it_leaving_nothing() {
    if !require_root() {
        return;
    }
    assert_systemd_v2();
    let session = user_session();
    let u: &TestUser = &session;
    // XDG_RUNTIME_DIR is a directory of the user's without a bus (UserHull::new's own).
    let h = UserHull::new(u);
    let before = hull_units(u);
    let id = unique("rlsd-nobus");
    let b = user_bundle(u, &["true"]);
    let o = sd(&h, &["run", "--bundle", b.arg(), &id]);
    assert!(!o.success(), "run without a bus succeeded");
    let want = format!("--systemd-cgroup: no systemd user session bus at {}", h.xdg.path().join("bus").display());
    assert!(o.stderr.contains(&want), "the error does not name the bus ({want}): {}", o.stderr);
    h.assert_nothing_left(&id);
    assert_eq!(hull_units(u), before, "units left by a refused create");
    // An address that is no unix socket path is named too.
    let o = {
        let mut c = h.cmd();
        c.env("DBUS_SESSION_BUS_ADDRESS", "tcp:host=localhost,port=1").args(["--systemd-cgroup", "run", "--bundle", b.arg(), &id]);
        c.output().expect("run hull")
    };
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("DBUS_SESSION_BUS_ADDRESS"), "{err}");
    h.assert_nothing_left(&id);
}
