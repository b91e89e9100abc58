//! cgroup v2 behaviour beyond the limits themselves, on a pure cgroup v2 host with systemd as
//! PID 1 (the QEMU guest of guest/run.sh): the controllers a config needs are enabled in every
//! ancestor (as runc and crun do), a cgroup with processes is refused, `kill --all` uses
//! cgroup.kill, and delete waits for the kernel to drain the cgroup. Every test is `#[ignore]`d
//! on other hosts (this machine is cgroup v1 hybrid); the guest runs them with
//! `--include-ignored`.

mod common;

use common::{poll, require_root, unique, Bundle, Runtime};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// Panics unless /sys/fs/cgroup is a cgroup2 mount (the tests are meant for the guest).
fn assert_pure_v2() {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    assert_eq!(
        st.filesystem_type(),
        nix::sys::statfs::CGROUP2_SUPER_MAGIC,
        "/sys/fs/cgroup is not cgroup2: these tests need a pure cgroup v2 host (bash guest/run.sh)"
    );
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| format!("<{e}>")).trim().to_owned()
}

fn words(dir: &Path, file: &str) -> Vec<String> {
    read(dir, file).split_whitespace().map(str::to_owned).collect()
}

/// A cgroup the test makes itself directly below the root, with a sub-cgroup `mid`; removed
/// (with the processes the test put in it killed) on drop.
struct Parent {
    dir: PathBuf,
    procs: Vec<Child>,
}

impl Parent {
    fn new(prefix: &str) -> Parent {
        let dir = Path::new("/sys/fs/cgroup").join(unique(prefix));
        std::fs::create_dir(&dir).expect("mkdir the parent cgroup");
        std::fs::create_dir(dir.join("mid")).expect("mkdir the mid cgroup");
        Parent { dir, procs: Vec::new() }
    }
    /// The cgroupsPath of a container below `mid`.
    fn path_for(&self, id: &str) -> String {
        format!("/{}/mid/{id}", self.dir.file_name().unwrap().to_str().unwrap())
    }
    /// A `sleep` moved into the parent cgroup itself.
    fn add_process(&mut self) -> u32 {
        let child = Command::new("sleep").arg("1000").spawn().expect("spawn sleep");
        let pid = child.id();
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).expect("move sleep into the parent cgroup");
        self.procs.push(child);
        pid
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in [self.dir.join("mid"), self.dir.clone()] {
            let _ = poll(Duration::from_secs(5), || std::fs::remove_dir(&d).ok().or_else(|| (!d.exists()).then_some(())));
        }
    }
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn the_controllers_a_config_needs_are_enabled_in_every_ancestor() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let parent = Parent::new("hull-test-ancestors");
    // A controller the parent's owner enabled stays enabled (hull only adds).
    std::fs::write(parent.dir.join("cgroup.subtree_control"), "+pids").expect("enable pids in the parent");
    let id = unique("anc");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.path_for(&id));
    b.config["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000, "cpus": "0"});
    b.save();
    let rt = Runtime::new();
    rt.create_and_start(&b, &id);

    let leaf = parent.dir.join("mid").join(&id);
    for dir in [Path::new("/sys/fs/cgroup"), parent.dir.as_path(), parent.dir.join("mid").as_path()] {
        let on = words(dir, "cgroup.subtree_control");
        for c in ["cpu", "cpuset"] {
            assert!(on.contains(&c.to_string()), "{c} not enabled in {}/cgroup.subtree_control: {on:?}", dir.display());
        }
    }
    assert!(words(&parent.dir, "cgroup.subtree_control").contains(&"pids".to_string()), "pids was taken away from the parent");
    assert_eq!(read(&leaf, "cpu.max"), "50000 100000");
    assert_eq!(read(&leaf, "cpuset.cpus"), "0");
    let pid = rt.pid(&id);
    let inside = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(inside.lines().any(|l| l.split_whitespace().eq(["Cpus_allowed_list:", "0"])), "cpuset not in effect: {inside}");

    rt.ok(&["delete", "--force", &id]);
    assert!(poll(T, || (!leaf.exists()).then_some(())).is_some(), "{} left after delete", leaf.display());
    // Only what hull made goes: the ancestors the test made stay.
    assert!(parent.dir.join("mid").is_dir(), "delete removed a cgroup hull did not create");
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn a_parent_that_cannot_enable_a_controller_is_named_and_nothing_is_left() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let mut parent = Parent::new("hull-test-busy-parent");
    // cgroup v2's "no internal processes": a cgroup with processes of its own cannot enable
    // domain controllers such as memory for its children (EBUSY; threaded ones such as cpu it
    // can).
    parent.add_process();
    let id = unique("busy");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", parent.dir.file_name().unwrap().to_str().unwrap()));
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 * 1024 * 1024});
    b.save();
    let rt = Runtime::new();
    let out = rt.run(&["create", "--bundle", b.arg(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "create succeeded below a cgroup with processes");
    let file = parent.dir.join("cgroup.subtree_control");
    assert!(
        err.contains("linux.resources.memory.limit") && err.contains(file.to_str().unwrap()) && err.contains("memory controller"),
        "the error does not name the field, the controller and {}: {err}",
        file.display()
    );
    assert!(!parent.dir.join(&id).exists(), "the container's cgroup was left behind");
    assert!(!rt.run(&["state", &id]).status.success(), "a state was left behind");
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn create_refuses_a_cgroup_that_has_processes_and_leaves_it_as_it_was() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let mut parent = Parent::new("hull-test-busy");
    let pid = parent.add_process();
    let id = unique("busycg");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{}", parent.dir.file_name().unwrap().to_str().unwrap()));
    b.config["linux"]["resources"]["pids"] = json!({"limit": 10});
    b.save();
    let rt = Runtime::new();
    let out = rt.run(&["create", "--bundle", b.arg(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "create succeeded in a cgroup with processes");
    assert!(err.contains("is not empty") && err.contains(parent.dir.to_str().unwrap()), "{err}");
    assert_eq!(read(&parent.dir, "cgroup.procs"), pid.to_string(), "the cgroup's processes changed");
    assert_eq!(read(&parent.dir, "pids.max"), "max", "the cgroup's limits changed");
    assert!(!rt.run(&["state", &id]).status.success(), "a state was left behind");
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn kill_all_with_sigkill_empties_the_cgroup_of_a_forking_container() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let id = unique("killall");
    let cg = format!("/{}", unique("hull-test-killall"));
    // No PID namespace: killing the init does not take the others with it, only cgroup.kill
    // (or a signal to each pid) does. The loop keeps forking while the kill happens.
    let mut b = Bundle::sh("while :; do sleep 1000 & sleep 0.01; done");
    b.remove_namespace("pid");
    b.config["linux"]["cgroupsPath"] = json!(cg);
    b.save();
    let rt = Runtime::new();
    rt.create_and_start(&b, &id);
    let dir = Path::new("/sys/fs/cgroup").join(cg.trim_start_matches('/'));
    assert!(poll(T, || (words(&dir, "cgroup.procs").len() > 5).then_some(())).is_some(), "the container did not fork");
    rt.ok(&["kill", "--all", &id, "KILL"]);
    assert!(
        poll(T, || (read(&dir, "cgroup.events").lines().any(|l| l == "populated 0")).then_some(())).is_some(),
        "processes left after kill --all: {:?}",
        words(&dir, "cgroup.procs")
    );
    assert!(rt.wait_status(&id, "stopped", T), "the container is not stopped");
    rt.ok(&["delete", &id]);
    assert!(poll(T, || (!dir.exists()).then_some(())).is_some(), "{} left after delete", dir.display());
}

#[test]
#[ignore = "needs a pure cgroup v2 host: runs in the guest (bash guest/run.sh)"]
fn delete_force_waits_for_the_kernel_to_drain_a_crowded_cgroup() {
    if !require_root() {
        return;
    }
    assert_pure_v2();
    let id = unique("drain");
    let cg = format!("/{}", unique("hull-test-drain"));
    // Without a PID namespace the processes do not die with the init: delete --force kills
    // them all (cgroup.kill) and the rmdir waits while they exit.
    let mut b = Bundle::sh("for i in $(seq 150); do sleep 1000 & done; echo started; wait");
    b.remove_namespace("pid");
    b.config["linux"]["cgroupsPath"] = json!(cg);
    b.save();
    let rt = Runtime::new();
    rt.create_and_start(&b, &id);
    let dir = Path::new("/sys/fs/cgroup").join(cg.trim_start_matches('/'));
    assert!(poll(T, || (words(&dir, "cgroup.procs").len() > 150).then_some(())).is_some(), "the container did not fork");
    rt.ok(&["delete", "--force", &id]);
    // No polling: when delete returns, the cgroup is gone.
    assert!(!dir.exists(), "{} left after delete --force", dir.display());
}
