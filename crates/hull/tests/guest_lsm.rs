//! AppArmor in real containers, on a host that runs it: the QEMU guest of guest/run.sh (Debian's
//! kernel enables AppArmor by default; the image has Debian's `apparmor` for apparmor_parser).
//! The build machines run neither AppArmor nor SELinux, so every test here is `#[ignore]`d; the
//! guest runs this binary with `--include-ignored`. There, a test loads a small profile of its
//! own (allow everything, deny reading `/secret`), runs containers under it and unloads it.
//! SELinux has no such guest (Debian's kernel can boot with it, but a policy is a large
//! install): its logic is tested against fake trees in libhull's lsm.rs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{require_root, unique, Bundle, Runtime, TempDir};
use serde_json::json;

/// What the container runs: its confinement, then whether the profile's deny rule bites.
const SCRIPT: &str = "cat /proc/self/attr/current; echo; cat /secret && echo READ || echo DENIED";

/// Panics unless AppArmor is enabled and apparmor_parser is installed (the tests are meant for
/// the guest).
fn assert_apparmor() {
    assert!(
        libhull::lsm::apparmor_enabled(Path::new("/sys")),
        "AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled): these tests run in the guest (bash guest/run.sh)"
    );
    assert!(Path::new("/sbin/apparmor_parser").exists(), "apparmor_parser is missing: apt-get install apparmor");
}

/// A profile loaded into the kernel for the test's life.
struct Profile {
    name: String,
    file: PathBuf,
    _dir: TempDir,
}

impl Profile {
    fn load() -> Profile {
        let name = unique("hull-test");
        let dir = TempDir::new("apparmor");
        let file = dir.path().join(&name);
        // Everything allowed but reading /secret (a path in the container's own root).
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  network,\n  signal,\n  deny /secret rw,\n}}\n"
        );
        std::fs::write(&file, text).unwrap();
        let o = Command::new("apparmor_parser").arg("-r").arg(&file).output().expect("run apparmor_parser");
        assert!(o.status.success(), "apparmor_parser -r {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
        Profile { name, file, _dir: dir }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser").arg("-R").arg(&self.file).output();
    }
}

fn bundle(args: &[&str], profile: Option<&str>) -> Bundle {
    let mut b = Bundle::new(args);
    std::fs::write(b.rootfs().join("secret"), "s3cret\n").unwrap();
    if let Some(p) = profile {
        b.config["process"]["apparmorProfile"] = json!(p);
    }
    b.save();
    b
}

#[test]
#[ignore = "needs AppArmor and apparmor_parser: runs in the QEMU guest (bash guest/run.sh)"]
fn guest_apparmor_profile_confines_the_init_and_exec() {
    if !require_root() {
        return;
    }
    assert_apparmor();
    let profile = Profile::load();
    let rt = Runtime::new();

    // Without a profile: unconfined, and /secret reads.
    let out = rt.run_ok(&bundle(&["sh", "-c", SCRIPT], None));
    assert!(out.starts_with("unconfined") && out.contains("s3cret") && out.contains("READ"), "no profile: {out}");

    // With it: the process runs under the profile, and its deny rule bites.
    let out = rt.run_ok(&bundle(&["sh", "-c", SCRIPT], Some(&profile.name)));
    assert!(out.starts_with(&format!("{} (enforce)", profile.name)), "init: {out}");
    assert!(out.contains("DENIED") && !out.contains("s3cret"), "init: the deny rule did not bite: {out}");

    // A process exec'd into that container gets the config's profile too.
    let b = bundle(&["sleep", "600"], Some(&profile.name));
    let id = unique("aa-exec");
    rt.create_and_start(&b, &id);
    let o = rt.run(&["exec", &id, "sh", "-c", SCRIPT]);
    let _ = rt.run(&["delete", "--force", &id]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "exec: {out} {}", String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with(&format!("{} (enforce)", profile.name)), "exec: {out}");
    assert!(out.contains("DENIED") && !out.contains("s3cret"), "exec: the deny rule did not bite: {out}");
}

#[test]
#[ignore = "needs AppArmor and apparmor_parser: runs in the QEMU guest (bash guest/run.sh)"]
fn guest_apparmor_profile_not_loaded_fails_create_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    assert_apparmor();
    let rt = Runtime::new();
    let b = bundle(&["sh", "-c", "echo RAN"], Some("hull-test-never-loaded"));
    let id = unique("aa-missing");
    let d = rt.run_detached(&["create", "--bundle", b.arg(), &id]);
    assert!(!d.status.success(), "created under a profile that is not loaded: {}", d.stdout);
    assert!(d.stderr.contains("process.apparmorProfile") && d.stderr.contains("hull-test-never-loaded"), "{}", d.stderr);
    assert!(!d.stdout.contains("RAN"));
    assert!(!rt.root.path().join(&id).exists(), "state directory left behind");
    assert!(rt.ok(&["list", "-q"]).trim().is_empty(), "a container is left");
}
