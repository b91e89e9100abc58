//! Attacks from runc's and crun's CVE history (see reference/runc-crun.md, section 4), each
//! asserting that the host is untouched and the container stays inside its root.
//!
//! - CVE-2019-18837 (crun): symlinks in the image redirecting mount destinations to the host.
//! - CVE-2024-21626 (runc, "Leaky Vessels"): `process.cwd` / `exec --cwd` / `args[0]` through
//!   `/proc/self/fd/N`, reaching a descriptor the runtime leaked into the container.
//! - Descriptors leaked into the container process at all.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{mount_points, require_root, unique, Bundle, Outcome, Runtime, TempDir};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The descriptors probed through `/proc/self/fd/N`.
const FDS: std::ops::RangeInclusive<u32> = 3..=20;

/// A file only the container's root has, to tell "inside" from "on the host".
const MARKER: &str = "hull-container-marker";

/// A directory directly under the host's /tmp (not under the tests' temp dir: its absolute path is
/// what an image's symlink names). Anything mounted below it is detached and it is removed on drop,
/// so a vulnerable runtime does not leave the host changed after the test.
struct HostDir(PathBuf);

impl HostDir {
    fn new(prefix: &str) -> HostDir {
        let p = Path::new("/tmp").join(unique(prefix));
        std::fs::create_dir(&p).expect("make host dir");
        HostDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn name(&self) -> String {
        self.0.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// Host mount points at or below this directory.
    fn mounts(&self) -> Vec<String> {
        mount_points().into_iter().filter(|m| Path::new(m).starts_with(&self.0)).collect()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        for m in self.mounts().iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `run` of `b` with a fresh id, output captured; the container is deleted after.
fn run(rt: &Runtime, b: &Bundle, io: &Path) -> Outcome {
    let id = unique("attack");
    let out = rt.run_logged(&["run", "--bundle", b.path().to_str().unwrap(), &id], io, TIMEOUT);
    let _ = rt.run_logged(&["delete", "--force", &id], io, TIMEOUT);
    out
}

/// The value of the first stdout line `key=value`.
fn field<'a>(stdout: &'a str, key: &str) -> Option<&'a str> {
    stdout.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// A created-then-started container running `sleep`, for `exec` tests; deleted on drop.
struct Running<'a> {
    rt: &'a Runtime,
    id: String,
    io: TempDir,
    _bundle: Bundle,
}

impl<'a> Running<'a> {
    fn start(rt: &'a Runtime, bundle: Bundle) -> Running<'a> {
        let io = TempDir::new("io");
        let id = unique("attack-exec");
        let out = rt.run_logged(&["create", "--bundle", bundle.path().to_str().unwrap(), &id], io.path(), TIMEOUT);
        assert!(out.success(), "create failed: {}", out.describe());
        let out = rt.run_logged(&["start", &id], io.path(), TIMEOUT);
        assert!(out.success(), "start failed: {}", out.describe());
        Running { rt, id, io, _bundle: bundle }
    }

    fn exec(&self, args: &[&str]) -> Outcome {
        let mut full = vec!["exec"];
        full.extend_from_slice(args);
        self.rt.run_logged(&full, self.io.path(), TIMEOUT)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.rt.run_logged(&["delete", "--force", &self.id], self.io.path(), TIMEOUT);
    }
}

/// CVE-2019-18837: the image makes mount destinations symlinks to host paths, one absolute
/// (`/mnt/evil -> /tmp/<dir>`) and one relative that climbs out of the rootfs when resolved on the
/// host (`/mnt/evil2 -> ../../(...)/tmp/<dir2>`). A tmpfs goes on /mnt/evil and a host directory is
/// bind-mounted on /mnt/evil2/sub. Both symlinks must resolve inside the container's root: the
/// host directories stay empty and unmounted, and the container sees its mounts at
/// /tmp/<dir> and /tmp/<dir2>/sub of its own root.
#[test]
fn cve_2019_18837_mount_destination_symlinks_resolve_inside_the_rootfs() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let evil = HostDir::new("hull-evil-abs");
    let evil2 = HostDir::new("hull-evil-rel");
    let src = TempDir::new("bindsrc");
    std::fs::write(src.path().join("from-bind-source"), "x").unwrap();
    let (n1, n2) = (evil.name(), evil2.name());
    let script = format!(
        "echo inside > /mnt/evil/marker; grep -c evil /proc/self/mountinfo; \
         awk '{{print \"mp=\" $5}}' /proc/self/mountinfo | grep evil; \
         echo \"marker=$(cat /tmp/{n1}/marker)\"; echo \"bind=$(ls /tmp/{n2}/sub)\""
    );
    let mut b = Bundle::new(&["sh", "-c", &script]);
    let mnt = b.rootfs().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    std::os::unix::fs::symlink(evil.path(), mnt.join("evil")).unwrap();
    // Enough ".." to reach / from anywhere the bundle lives; extra ones stop at / on the host and
    // at the container's root inside.
    std::os::unix::fs::symlink(format!("{}tmp/{n2}", "../".repeat(16)), mnt.join("evil2")).unwrap();
    let m = b.config["mounts"].as_array_mut().unwrap();
    m.push(json!({"destination": "/mnt/evil", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]}));
    m.push(json!({"destination": "/mnt/evil2/sub", "type": "bind", "source": src.path(), "options": ["rbind", "rw"]}));
    b.save();

    let host_before: Vec<String> = mount_points();
    let out = run(&rt, &b, io.path());

    // The host first: nothing written into or mounted on the symlinks' host targets.
    for d in [&evil, &evil2] {
        let meta = std::fs::symlink_metadata(d.path()).expect("host dir still exists");
        assert!(meta.is_dir(), "{} is no longer a directory", d.path().display());
        let entries: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(entries.is_empty(), "host dir {} was written to: {entries:?}\n{}", d.path().display(), out.describe());
        assert!(d.mounts().is_empty(), "host mounts under {}: {:?}\n{}", d.path().display(), d.mounts(), out.describe());
    }
    let new: Vec<String> = mount_points().into_iter().filter(|m| !host_before.contains(m)).collect();
    assert!(new.iter().all(|m| !m.contains("hull-evil")), "new host mounts: {new:?}");
    assert_eq!(std::fs::read_dir(src.path()).unwrap().count(), 1, "the bind source was written to");

    // Then the container: both mounts are there, inside its own root.
    assert!(out.success(), "run failed (the symlinks must be resolved inside the rootfs, not refused):\n{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("2"), "expected 2 mounts named evil inside:\n{}", out.describe());
    assert!(lines.contains(&format!("mp=/tmp/{n1}").as_str()), "tmpfs not at /tmp/{n1} inside:\n{}", out.describe());
    assert!(lines.contains(&format!("mp=/tmp/{n2}/sub").as_str()), "bind not at /tmp/{n2}/sub inside:\n{}", out.describe());
    assert_eq!(field(&out.stdout, "marker"), Some("inside"), "{}", out.describe());
    assert_eq!(field(&out.stdout, "bind"), Some("from-bind-source"), "{}", out.describe());
    // The mount points were made in the rootfs, where the symlinks point from inside.
    assert!(b.rootfs().join("tmp").join(&n1).is_dir(), "no mount point at <rootfs>/tmp/{n1}");
    assert!(b.rootfs().join("tmp").join(&n2).join("sub").is_dir(), "no mount point at <rootfs>/tmp/{n2}/sub");
}

/// The probe every cwd check runs: where am I, and does climbing `..` from here end at the
/// container's root (which has the marker) or at the host's?
const WHERE_AM_I: &str = "echo \"pwd=$(pwd -P)\"; echo \"real=$(realpath .)\"; echo \"rootino=$(stat -c %i /)\"; \
     up=../../../../../../../../../../../../../../../..; echo \"topino=$(stat -c %i $up)\"; \
     if test -e $up/hull-container-marker; then echo marker=yes; else echo marker=no; fi; head -1 /proc/self/status";

/// Checks one run/exec with cwd `/proc/self/fd/N`: it failed, or its cwd is inside the container.
fn check_cwd(what: &str, out: &Outcome, rootfs_ino: u64) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{what}: {why}\n{}", out.describe()));
    if !out.success() {
        // Refused: fine, as long as the probe did not get to run anywhere.
        return if out.stdout.contains("marker=") { bad("failed, but the process ran") } else { Ok(()) };
    }
    let real = field(&out.stdout, "real").unwrap_or("");
    let pwd = field(&out.stdout, "pwd").unwrap_or("");
    for p in [real, pwd] {
        if !p.starts_with('/') || p.contains("unreachable") {
            return bad(&format!("the cwd {p:?} is outside the container's root"));
        }
        for host in ["/sys/fs/cgroup", "/run", "/proc"] {
            if Path::new(p).starts_with(host) {
                return bad(&format!("the cwd {p:?} is under {host}"));
            }
        }
    }
    if field(&out.stdout, "marker") != Some("yes") {
        return bad("climbing .. from the cwd does not end at the container's root");
    }
    let ino = |k| field(&out.stdout, k).and_then(|v| v.parse::<u64>().ok());
    if ino("rootino") != Some(rootfs_ino) || ino("topino") != Some(rootfs_ino) {
        return bad(&format!("/ or the top of .. is not the rootfs (inode {rootfs_ino})"));
    }
    Ok(())
}

fn marked_bundle(args: &[&str]) -> (Bundle, u64) {
    let b = Bundle::new(args);
    std::fs::write(b.rootfs().join(MARKER), "container").unwrap();
    assert!(!Path::new("/").join(MARKER).exists(), "the host has /{MARKER}; remove it");
    let ino = std::fs::metadata(b.rootfs()).unwrap().ino();
    (b, ino)
}

/// CVE-2024-21626: `process.cwd = /proc/self/fd/N` for each N. With a descriptor to a host
/// directory leaked into the container's init (runc leaked /sys/fs/cgroup), the process would start
/// with its cwd on the host. `run` must fail or land inside the container.
#[test]
fn cve_2024_21626_cwd_through_proc_self_fd_stays_inside() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut failures = Vec::new();
    let (mut b, rootfs_ino) = marked_bundle(&["sh", "-c", WHERE_AM_I]);
    for n in FDS {
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.save();
        let out = run(&rt, &b, io.path());
        match check_cwd(&format!("run with cwd /proc/self/fd/{n}"), &out, rootfs_ino) {
            Ok(()) => eprintln!("fd {n}: {}", if out.success() { "inside" } else { "refused" }),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// CVE-2024-21626 through `exec --cwd /proc/self/fd/N` into a running container.
#[test]
fn cve_2024_21626_exec_cwd_through_proc_self_fd_stays_inside() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let (b, rootfs_ino) = marked_bundle(&["sleep", "1000"]);
    let c = Running::start(&rt, b);
    let mut failures = Vec::new();
    for n in FDS {
        let cwd = format!("/proc/self/fd/{n}");
        let out = c.exec(&["--cwd", &cwd, &c.id, "sh", "-c", WHERE_AM_I]);
        match check_cwd(&format!("exec --cwd {cwd}"), &out, rootfs_ino) {
            Ok(()) => eprintln!("fd {n}: {}", if out.success() { "inside" } else { "refused" }),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// CVE-2024-21626, the exec-path variant: `args[0] = /proc/self/fd/N/../../(...)/tmp/<dir>/probe`
/// names a script that exists only on the host. Inside the container the path resolves to nothing
/// (`run` fails); through a leaked host directory it would run the host's script.
#[test]
fn cve_2024_21626_args0_through_proc_self_fd_cannot_reach_the_host() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let host = HostDir::new("hull-hostonly");
    let probe = host.path().join("probe");
    std::fs::write(&probe, "#!/bin/sh\necho HOST-ONLY-PROBE\n").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut b = Bundle::new(&["true"]);
    let mut failures = Vec::new();
    for n in FDS {
        let arg0 = format!("/proc/self/fd/{n}/{}tmp/{}/probe", "../".repeat(16), host.name());
        b.config["process"]["args"] = json!([arg0]);
        b.save();
        let out = run(&rt, &b, io.path());
        if out.text().contains("HOST-ONLY-PROBE") {
            failures.push(format!("args[0] {arg0} ran the host's script:\n{}", out.describe()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Open descriptors listed by `ls -l /proc/self/fd` output: (fd, target).
fn fds(listing: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.to_string()))
        })
        .collect()
}

/// Fails unless the listing shows exactly 0, 1, 2 and at most the directory `ls` itself opened.
fn check_fds(what: &str, out: &Outcome) -> Result<(), String> {
    if !out.success() {
        return Err(format!("{what} failed:\n{}", out.describe()));
    }
    let list = fds(&out.stdout);
    let std: Vec<u32> = list.iter().map(|(fd, _)| *fd).filter(|fd| *fd <= 2).collect();
    if std != [0, 1, 2] {
        return Err(format!("{what}: stdio is not 0, 1, 2:\n{}", out.stdout));
    }
    let extra: Vec<&(u32, String)> = list.iter().filter(|(fd, _)| *fd > 2).collect();
    let ls_dir = |t: &str| t.starts_with("/proc/") && t.ends_with("/fd");
    if extra.len() > 1 || extra.iter().any(|(_, t)| !ls_dir(t)) {
        return Err(format!("{what}: descriptors leaked into the container: {extra:?}\n{}", out.stdout));
    }
    Ok(())
}

/// No descriptor of the runtime reaches the container's process: `ls -l /proc/self/fd` as the
/// container's init and as an `exec`ed process shows 0, 1, 2 and the directory ls is reading.
#[test]
fn cve_2024_21626_no_descriptor_leaks_into_the_container() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let b = Bundle::new(&["ls", "-l", "/proc/self/fd"]);
    let out = run(&rt, &b, io.path());
    let mut failures: Vec<String> = check_fds("run", &out).err().into_iter().collect();

    let c = Running::start(&rt, Bundle::new(&["sleep", "1000"]));
    let out = c.exec(&[&c.id, "ls", "-l", "/proc/self/fd"]);
    failures.extend(check_fds("exec", &out).err());
    // The init process itself (sleep), seen from the host: only 0, 1, 2.
    let pid = rt.state(&c.id)["pid"].as_i64().expect("state has a pid");
    let open: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the init's fds")
        .flatten()
        .map(|e| {
            format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default()
            )
        })
        .collect();
    if open.len() != 3 || !["0 ", "1 ", "2 "].iter().all(|p| open.iter().any(|o| o.starts_with(p))) {
        failures.push(format!("the container's init (pid {pid}) has descriptors other than 0, 1, 2: {open:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
