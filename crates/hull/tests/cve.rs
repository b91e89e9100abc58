//! One test per attack in runc's and crun's CVE history (reference/runc-crun.md, section 4),
//! each made of an attacker-controlled image or config and asserting that the host is
//! untouched: canary files and directories under /tmp/hull-cve-<unique> (a vulnerable runtime's
//! writes land there, never on a real host path), the host's mount table, and the host's
//! `kernel.core_pattern` and `kernel.sysrq`, read before and after (never written by an attack).
//!
//! Tests in this file, by CVE:
//!
//! | CVE | test |
//! |---|---|
//! | CVE-2016-3697 | `cve_2016_3697_numeric_user_is_never_a_name` |
//! | CVE-2016-9962 | `cve_2016_9962_exec_never_exposes_the_joining_process` |
//! | CVE-2019-16884 | `cve_2019_16884_volume_over_proc_is_refused`, `cve_2019_16884_cve_2023_27561_lsm_label_with_a_fake_proc_never_runs_unlabelled` |
//! | CVE-2019-19921 | `cve_2019_19921_mount_through_a_symlink_to_proc_is_refused`, `cve_2019_19921_shared_volume_race_onto_proc` |
//! | CVE-2021-30465, CVE-2024-45310 | `cve_2021_30465_cve_2024_45310_shared_volume_symlink_race` |
//! | CVE-2021-43784 | `cve_2021_43784_oversized_config_fields_never_drop_namespaces`, `cve_2021_43784_oversized_init_error_reaches_the_user` |
//! | CVE-2022-29162 (and CVE-2022-24769) | `cve_2022_29162_file_capability_binary_gains_nothing` |
//! | CVE-2023-27561 | `cve_2023_27561_mounts_below_proc_are_refused` |
//! | CVE-2023-28642 | `cve_2023_28642_proc_symlink_in_image_is_refused` |
//! | CVE-2025-31133 | `cve_2025_31133_dev_null_symlink_never_masks` |
//! | CVE-2025-52565 | `cve_2025_52565_console_and_pts_symlinks` |
//! | CVE-2025-52881 | `cve_2025_52881_sysctl_with_mounts_over_proc_sys` |
//! | CVE-2025-24965 (the symlink-write family) | `cve_2025_24965_files_hull_creates_never_follow_image_symlinks` |
//! | CVE-2026-41579 / CVE-2026-47766 (`/dev` a symlink) | `cve_2026_41579_dev_symlink_in_image` |
//!
//! Covered by tests in other files (not repeated here):
//!
//! | CVE | file: test |
//! |---|---|
//! | CVE-2019-5736 | attacks_exe.rs: `cve_2019_5736_created_init_exe_is_sealed_and_the_binary_unchanged`, `cve_2019_5736_shebang_proc_self_exe_entrypoint_changes_nothing`, `cve_2019_5736_container_processes_cannot_write_the_runtime_through_proc_exe` |
//! | CVE-2019-18837 | attacks.rs: `cve_2019_18837_mount_destination_symlinks_resolve_inside_the_rootfs` |
//! | CVE-2023-25809 | rootless.rs: `cgroupfs_is_not_writable_inside_cve_2023_25809` |
//! | CVE-2024-21626 | attacks.rs: `cve_2024_21626_cwd_through_proc_self_fd_stays_inside` (run), `cve_2024_21626_exec_cwd_through_proc_self_fd_stays_inside` (exec), `cve_2024_21626_args0_through_proc_self_fd_cannot_reach_the_host`, `cve_2024_21626_no_descriptor_leaks_into_the_container` |
//! | CVE-2022-29162 / CVE-2022-24769, `CapInh` 0 | config.rs: `capabilities_of_the_default_spec`; exec.rs: `cve_2022_29162_cap_flag_adds_to_effective_permitted_bounding_never_inheritable_or_ambient` |
//! | CVE-2026-30892 (`exec -u` parsing) | exec.rs: `user_uid_and_gid`, `cve_2026_30892_bad_user_values_are_refused_and_change_nothing` |
//!
//! Deliberate limits, so that a vulnerable runtime cannot damage the host: no symlink in an
//! image points at the host's `/` or at a real host file (they point at canaries instead; the
//! `dev -> /` case is `dev -> <canary dir>` and `dev -> .`), and no image symlink leads to a
//! procfs file that is not the container's own. In particular the CVE-2025-31133 case whose
//! `/dev/null` leads to procfs uses `/proc/sys/kernel/domainname` (in the container's UTS
//! namespace) as the stand-in for `/proc/sys/kernel/core_pattern`: with the real one, runc 1.1.5
//! opens the container's `/dev/null` read-write before /proc/sys is read-only and, since a
//! regular file's st_rdev (0) matches, dup()s it over the container's stdio, so the container's
//! first `echo` rewrote the host's core_pattern when this test was written (`Host` put it back).
//!
//! Against runc: `HULL_TEST_BIN=/usr/sbin/runc HULL_TEST_MESSAGES=0 cargo test --test cve --
//! --include-ignored`. runc 1.1.5 passes the CVE-2016-3697, 2016-9962, 2019-16884, 2019-19921,
//! 2021-43784, 2022-29162, 2023-28642, 2025-24965 and 2025-52881 tests and fails, as expected
//! from its version: CVE-2023-27561 (it allows a tmpfs at /proc/self/attr and /proc/sys/kernel),
//! CVE-2024-45310 (it makes `a` in the host canary dir), CVE-2025-31133 (it dup()s the symlinked
//! /dev/null over the container's stdio), CVE-2025-52565 (it truncates the console symlink's
//! target and leaves /dev/console a symlink), CVE-2026-41579 (it makes /dev/{fd,stdin,stdout,
//! stderr,ptmx} in the host canary dir).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{check_messages, mount_points, poll, require_root, unique, Bundle, Outcome, Runtime, TempDir};
use serde_json::{json, Value};

/// The longest one runtime command may take before the test kills it and fails.
const T: Duration = Duration::from_secs(20);

/// Enough `../` to climb from anywhere a bundle lives to the host's `/` (inside a container
/// they stop at the container's root).
fn climb() -> String {
    "../".repeat(32)
}

// ---------------------------------------------------------------------------------------------
// The host: canaries, mount table, core_pattern
// ---------------------------------------------------------------------------------------------

/// A host directory /tmp/hull-cve-<unique> holding one file, `canary`. Image symlinks point here
/// (absolute, or relative climbing out of the rootfs), so a runtime that resolves them on the
/// host writes here and nowhere else. Anything mounted below it is detached and it is removed on
/// drop.
struct Canary {
    dir: PathBuf,
    content: String,
    meta: (u32, u32, u32, i64, i64, u64),
}

fn file_meta(p: &Path) -> (u32, u32, u32, i64, i64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.mode(), m.uid(), m.gid(), m.mtime(), m.mtime_nsec(), m.size())
}

impl Canary {
    fn new() -> Canary {
        let dir = Path::new("/tmp").join(unique("hull-cve"));
        std::fs::create_dir(&dir).expect("make canary dir");
        let content = format!("canary {}\n", dir.display());
        let file = dir.join("canary");
        std::fs::write(&file, &content).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let meta = file_meta(&file);
        Canary { dir, content, meta }
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// The canary file, which exists.
    fn file(&self) -> PathBuf {
        self.dir.join("canary")
    }

    /// `name` in the canary dir (which must never appear).
    fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A relative symlink target that reaches `<canary dir>/<name>` when resolved on the host
    /// from anywhere in a bundle, and stays inside the rootfs when resolved in the container.
    fn rel(&self, name: &str) -> String {
        let d = self.dir.strip_prefix("/").unwrap().display().to_string();
        if name.is_empty() {
            format!("{}{d}", climb())
        } else {
            format!("{}{d}/{name}", climb())
        }
    }

    /// Host mount points at or below the canary dir.
    fn mounts(&self) -> Vec<String> {
        mount_points().into_iter().filter(|m| Path::new(m).starts_with(&self.dir)).collect()
    }

    /// Err if anything in the canary dir changed: a new entry, the canary file's content,
    /// mode, owner or mtime, or a mount.
    fn check(&self) -> Result<(), String> {
        let meta = std::fs::symlink_metadata(&self.dir).map_err(|e| format!("canary dir {}: {e}", self.dir.display()))?;
        if !meta.is_dir() {
            return Err(format!("canary dir {} is no longer a directory", self.dir.display()));
        }
        let mut entries: Vec<String> =
            std::fs::read_dir(&self.dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        entries.sort();
        if entries != ["canary"] {
            return Err(format!("the host canary dir {} was written to: {entries:?}", self.dir.display()));
        }
        let file = self.file();
        let now = file_meta(&file);
        let content = std::fs::read_to_string(&file).unwrap_or_default();
        if now != self.meta || content != self.content {
            return Err(format!("the host canary file {} changed: {:?} -> {now:?}, content {:?}", file.display(), self.meta, content));
        }
        let m = self.mounts();
        if !m.is_empty() {
            return Err(format!("host mounts under the canary dir: {m:?}"));
        }
        Ok(())
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        for m in self.mounts().iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What an attack must not change on the host: kernel.core_pattern, kernel.sysrq, the mount
/// table. Should core_pattern have changed, it is put back on drop (and the test fails).
struct Host {
    core_pattern: String,
    /// None when the kernel has no magic SysRq (no /proc/sys/kernel/sysrq).
    sysrq: Option<String>,
    mounts: Vec<String>,
}

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";
const SYSRQ: &str = "/proc/sys/kernel/sysrq";

impl Host {
    fn snapshot() -> Host {
        Host {
            core_pattern: std::fs::read_to_string(CORE_PATTERN).unwrap(),
            sysrq: std::fs::read_to_string(SYSRQ).ok(),
            mounts: mount_points(),
        }
    }

    fn check(&self) -> Result<(), String> {
        let cp = std::fs::read_to_string(CORE_PATTERN).unwrap();
        if cp != self.core_pattern {
            return Err(format!("the host's kernel.core_pattern changed: {:?} -> {cp:?}", self.core_pattern));
        }
        let sysrq = std::fs::read_to_string(SYSRQ).ok();
        if sysrq != self.sysrq {
            return Err(format!("the host's kernel.sysrq changed: {:?} -> {sysrq:?}", self.sysrq));
        }
        let new: Vec<String> = mount_points().into_iter().filter(|m| !self.mounts.contains(m)).collect();
        if !new.is_empty() {
            return Err(format!("new mounts in the host's mount table: {new:?}"));
        }
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if std::fs::read_to_string(CORE_PATTERN).is_ok_and(|cp| cp != self.core_pattern) {
            let _ = std::fs::write(CORE_PATTERN, self.core_pattern.trim_end());
            eprintln!("the host's kernel.core_pattern was changed; restored it");
        }
    }
}

/// `s`, cut to its first 300 characters (an error may quote a 100,000-byte field).
fn short(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}... ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// Fails the test with every problem found, if any.
fn assert_none(problems: &[String]) {
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// Running containers
// ---------------------------------------------------------------------------------------------

/// What a `run` did, and the containers `list -q` showed right after it (before any cleanup).
struct Ran {
    out: Outcome,
    left: String,
}

/// `run` of `b` with a fresh id; then `list -q`; then `delete --force` whatever is left.
fn run(rt: &Runtime, b: &Bundle, io: &Path) -> Ran {
    let id = unique("cve");
    let out = rt.run_logged(&["run", "--bundle", b.arg(), &id], io, T);
    let left = rt.run_logged(&["list", "-q"], io, T).stdout.trim().to_string();
    let _ = rt.run_logged(&["delete", "--force", &id], io, T);
    Ran { out, left }
}

/// Err unless `r` failed, said `field` (when messages are checked), did not run the process
/// (its output has no `RAN`) and left no container.
fn refused(what: &str, r: &Ran, field: &str) -> Result<(), String> {
    if r.out.success() || r.out.stdout.contains("RAN") {
        return Err(format!("{what}: the container ran; it must be refused:\n{}", r.out.describe()));
    }
    if check_messages() && !r.out.text().contains(field) {
        return Err(format!("{what}: the error does not name {field:?}:\n{}", r.out.describe()));
    }
    if !r.left.is_empty() {
        return Err(format!("{what}: containers left after the failed run: {:?}", r.left));
    }
    Ok(())
}

/// Err if a container was left behind by `r` (a failed run must undo what it did).
fn nothing_left(what: &str, r: &Ran) -> Result<(), String> {
    if r.left.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: containers left after the run: {:?}\n{}", r.left, r.out.describe()))
    }
}

/// Appends `m` to the config's mounts; returns its index.
fn push_mount(b: &mut Bundle, m: Value) -> usize {
    let list = b.config["mounts"].as_array_mut().expect("spec has mounts");
    list.push(m);
    list.len() - 1
}

/// Removes the config's mounts at `dest` (e.g. "/dev": the image's own /dev is then used).
fn remove_mount(b: &mut Bundle, dest: &str) {
    b.config["mounts"].as_array_mut().expect("spec has mounts").retain(|m| m["destination"] != dest);
}

/// The index of the config's mount at `dest`.
fn mount_index(b: &Bundle, dest: &str) -> usize {
    b.config["mounts"].as_array().unwrap().iter().position(|m| m["destination"] == dest).unwrap_or_else(|| panic!("no mount at {dest}"))
}

/// Replaces whatever is at `path` in the rootfs by a symlink to `target`.
fn plant(b: &Bundle, path: &str, target: &str) {
    let p = b.rootfs().join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    if let Ok(m) = std::fs::symlink_metadata(&p) {
        if m.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    std::os::unix::fs::symlink(target, &p).unwrap_or_else(|e| panic!("symlink {} -> {target}: {e}", p.display()));
}

/// The `/proc/<pid>/ns/*` links of a process, by name.
fn namespaces(pid: i64) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/ns")).unwrap().flatten() {
        if let Ok(t) = std::fs::read_link(e.path()) {
            m.insert(e.file_name().to_string_lossy().into_owned(), t.to_string_lossy().into_owned());
        }
    }
    m
}

/// The /proc/<pid>/ns names of the config's namespace types.
fn ns_name(ty: &str) -> &str {
    match ty {
        "network" => "net",
        "mount" => "mnt",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// CVE-2016-3697
// ---------------------------------------------------------------------------------------------

/// CVE-2016-3697: the image's /etc/passwd has a user *named* `1234` with uid 0. A numeric user
/// is a uid, never a name: `process.user.uid` 1234 and `exec -u 1234` both run as uid 1234.
#[test]
fn cve_2016_3697_numeric_user_is_never_a_name() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let mut b = Bundle::sh("id -u; id -g");
    std::fs::write(
        b.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n1234:x:0:0:evil:/root:/bin/sh\n1000:x:0:0:evil:/root:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(b.rootfs().join("etc/group"), "root:x:0:\n1234:x:0:\n").unwrap();
    b.config["process"]["user"] = json!({"uid": 1234, "gid": 1234});
    b.save();
    assert_eq!(rt.run_ok(&b), "1234\n1234\n", "process.user.uid 1234 did not run as uid 1234");

    b.config["process"]["user"] = json!({"uid": 0, "gid": 0});
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.save();
    let id = unique("cve-3697");
    rt.create_and_start(&b, &id);
    let out = rt.ok(&["exec", "-u", "1234", &id, "id", "-u"]);
    let out2 = rt.ok(&["exec", "-u", "1234:1234", &id, "sh", "-c", "id -u; id -g"]);
    let out3 = rt.ok(&["exec", "-u", "1000", &id, "id", "-u"]);
    rt.ok(&["delete", "--force", &id]);
    assert_eq!(out, "1234\n", "exec -u 1234");
    assert_eq!(out2, "1234\n1234\n", "exec -u 1234:1234");
    assert_eq!(out3, "1000\n", "exec -u 1000");
    assert_none(&host.check().err().into_iter().collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// CVE-2016-9962
// ---------------------------------------------------------------------------------------------

/// The attacker of CVE-2016-9962, the container's init. Shell builtins only, so it starts no
/// process itself: every new pid whose parent is outside the container (ppid 0) is a process
/// `exec` brought in. For each, it reads the comm, tries to open /proc/<pid>/environ and each
/// /proc/<pid>/fd/N (both need ptrace access), and reads the comm again; it prints one line per
/// pid. An access that succeeded with the comm not yet the exec'd program's (`true`) before and
/// after reached the runtime's process while it held host descriptors (`c2=gone`: the process
/// ended meanwhile, which proves nothing either way).
const PTRACE_PROBE: &str = r#"
seen=" "
echo ready
while :; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case "$seen" in *" $p "*) continue;; esac
    [ "$p" = 1 ] && continue
    [ "$p" = "$$" ] && continue
    read -r st 2>/dev/null < $d/stat || continue
    set -f; set -- $st; set +f
    [ "$4" = 0 ] || continue
    c1=$2
    ok=""
    if true 2>/dev/null < $d/environ; then ok="environ"; fi
    for f in $d/fd/*; do
      if true 2>/dev/null < $f; then ok="$ok,fd${f##*/}"; fi
    done
    c2=gone
    if read -r st 2>/dev/null < $d/stat; then set -f; set -- $st; set +f; c2=$2; fi
    echo "pid=$p c1=$c1 c2=$c2 ok=$ok"
    seen="$seen$p "
  done
done
"#;

/// CVE-2016-9962: while the runtime `exec`s into a container 50 times, the container's init
/// tries to read /proc/<pid>/environ and open /proc/<pid>/fd/* of every process the runtime
/// brings in. The runtime's process must be non-dumpable until it execs: no access may succeed
/// before the comm has become the exec'd program's.
#[test]
fn cve_2016_9962_exec_never_exposes_the_joining_process() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let b = Bundle::sh(PTRACE_PROBE);
    let id = unique("cve-9962");
    let (out_path, err_path) = (io.path().join("attacker.out"), io.path().join("attacker.err"));
    assert!(rt.run_to_files(&["create", "--bundle", b.arg(), &id], &out_path, &err_path).success(), "create the attacker");
    rt.ok(&["start", &id]);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(poll(T, || read(&out_path).contains("ready").then_some(())).is_some(), "the attacker did not start: {}", read(&err_path));
    let mut failed_execs = Vec::new();
    for i in 0..50 {
        let o = rt.run_logged(&["exec", &id, "true"], io.path(), T);
        if !o.success() {
            failed_execs.push(format!("exec {i}: {}", o.describe()));
        }
    }
    // Give the attacker a moment to finish its last round, then stop it.
    std::thread::sleep(Duration::from_millis(200));
    rt.ok(&["delete", "--force", &id]);
    let text = read(&out_path);
    let mut runtime_seen = 0;
    let mut leaks = Vec::new();
    for l in text.lines().filter(|l| l.starts_with("pid=")) {
        let f: BTreeMap<&str, &str> = l.split(' ').filter_map(|kv| kv.split_once('=')).collect();
        let (c1, c2, ok) = (f.get("c1").copied().unwrap_or(""), f.get("c2").copied().unwrap_or(""), f.get("ok").copied().unwrap_or(""));
        if c1 != "(true)" && c2 != "(true)" && c2 != "gone" {
            runtime_seen += 1;
            if !ok.is_empty() {
                leaks.push(l.to_string());
            }
        }
    }
    eprintln!("the attacker saw {runtime_seen} runtime processes before they exec'd, and reached {} of them", leaks.len());
    let mut problems = failed_execs;
    if !leaks.is_empty() {
        problems.push(format!("a container process read the environ or fds of the runtime's exec process:\n{}", leaks.join("\n")));
    }
    problems.extend(host.check().err());
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2019-16884, CVE-2023-27561: mounts over /proc in the config
// ---------------------------------------------------------------------------------------------

/// An edit of a bundle's config adding or changing a mount (which may use the canary); returns
/// the mount's index.
type MountEdit = Box<dyn Fn(&mut Bundle, &Canary) -> usize>;

/// Runs each `(what, edit)` and requires a refusal naming `mounts[i]` (the index the edit
/// returns); the canary and the host unchanged after each.
fn expect_refused(cases: Vec<(&str, MountEdit)>, script: &str) {
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    for (what, edit) in cases {
        let canary = Canary::new();
        let mut b = Bundle::sh(script);
        let i = edit(&mut b, &canary);
        b.save();
        let r = run(&rt, &b, io.path());
        eprintln!("{what}: {}", r.out.describe());
        problems.extend(refused(what, &r, &format!("mounts[{i}]")).err());
        problems.extend(canary.check().map_err(|e| format!("{what}: {e}")).err());
        problems.extend(host.check().map_err(|e| format!("{what}: {e}")).err());
    }
    assert_none(&problems);
}

/// CVE-2019-16884: a volume over /proc (a tmpfs, or a bind of a host directory that could hold
/// fake `self/attr/*` files) would make the runtime's LSM writes land in a fake file. Every
/// non-procfs mount on /proc is refused, naming the mount; the bound host dir stays untouched.
#[test]
fn cve_2019_16884_volume_over_proc_is_refused() {
    if !require_root() {
        return;
    }
    expect_refused(
        vec![
            (
                "a tmpfs over /proc after the procfs",
                Box::new(|b: &mut Bundle, _: &Canary| push_mount(b, json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}))),
            ),
            (
                "a host dir bound over /proc after the procfs",
                Box::new(|b: &mut Bundle, c: &Canary| {
                    push_mount(b, json!({"destination": "/proc", "type": "bind", "source": c.path(), "options": ["rbind", "rw"]}))
                }),
            ),
            (
                "the procfs mount replaced by a tmpfs",
                Box::new(|b: &mut Bundle, _: &Canary| {
                    let i = mount_index(b, "/proc");
                    b.config["mounts"][i] = json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"});
                    i
                }),
            ),
            (
                "the procfs mount replaced by a bind of a host dir",
                Box::new(|b: &mut Bundle, c: &Canary| {
                    let i = mount_index(b, "/proc");
                    b.config["mounts"][i] = json!({"destination": "/proc", "type": "bind", "source": c.path(), "options": ["rbind", "rw"]});
                    i
                }),
            ),
        ],
        "echo RAN",
    );
}

/// CVE-2023-27561 (the regression of CVE-2019-19921's fix): mounts below /proc, at
/// /proc/self/attr, /proc/sys and a file of /proc/sys, are refused naming the mount; an
/// allowed overlay (/proc/cpuinfo, as lxcfs does) still works.
#[test]
fn cve_2023_27561_mounts_below_proc_are_refused() {
    if !require_root() {
        return;
    }
    expect_refused(
        vec![
            (
                "a tmpfs at /proc/self/attr",
                Box::new(|b: &mut Bundle, _: &Canary| {
                    push_mount(b, json!({"destination": "/proc/self/attr", "type": "tmpfs", "source": "tmpfs"}))
                }),
            ),
            (
                "a host dir bound at /proc/self/attr",
                Box::new(|b: &mut Bundle, c: &Canary| {
                    push_mount(b, json!({"destination": "/proc/self/attr", "type": "bind", "source": c.path(), "options": ["rbind"]}))
                }),
            ),
            (
                "a host dir bound at /proc/sys",
                Box::new(|b: &mut Bundle, c: &Canary| {
                    push_mount(b, json!({"destination": "/proc/sys", "type": "bind", "source": c.path(), "options": ["rbind"]}))
                }),
            ),
            (
                "a tmpfs at /proc/sys/kernel",
                Box::new(|b: &mut Bundle, _: &Canary| {
                    push_mount(b, json!({"destination": "/proc/sys/kernel", "type": "tmpfs", "source": "tmpfs"}))
                }),
            ),
            (
                "a host file bound at /proc/sys/kernel/domainname",
                Box::new(|b: &mut Bundle, c: &Canary| {
                    push_mount(
                        b,
                        json!({"destination": "/proc/sys/kernel/domainname", "type": "bind", "source": c.file(), "options": ["bind"]}),
                    )
                }),
            ),
        ],
        "echo RAN",
    );

    // The allowed overlay: a host file bound read-only at /proc/cpuinfo.
    let host = Host::snapshot();
    let canary = Canary::new();
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/cpuinfo; stat -f -c %T /proc");
    push_mount(&mut b, json!({"destination": "/proc/cpuinfo", "type": "bind", "source": canary.file(), "options": ["bind", "ro"]}));
    b.save();
    let out = rt.run_ok(&b);
    assert_eq!(out, format!("{}proc\n", canary.content), "the /proc/cpuinfo overlay");
    assert_none(&[canary.check(), host.check()].into_iter().filter_map(Result::err).collect::<Vec<_>>());
}

/// CVE-2019-16884, CVE-2023-27561 and CVE-2023-28642 with an LSM label asked for: a fake /proc
/// (a tmpfs over /proc, a tmpfs at /proc/self/attr, the image's /proc a symlink to a directory
/// of writable fake `self/attr` files) must never let the container run without its label.
/// hull refuses each, before the process runs: naming the label's field on a host without that
/// LSM (this one), naming the mount where the LSM is enabled (AppArmor in the guest). The fake
/// attribute files are never written: hull writes labels only through its private procfs
/// (lsm.rs's `label_writes_never_reach_a_fake_proc` shows the write itself ignoring a tmpfs
/// over /proc).
#[test]
fn cve_2019_16884_cve_2023_27561_lsm_label_with_a_fake_proc_never_runs_unlabelled() {
    if !require_root() {
        return;
    }
    let sys = Path::new("/sys");
    let labels = [
        ("process.apparmorProfile", "apparmorProfile", "hull-cve-profile", libhull::lsm::apparmor_enabled(sys)),
        ("process.selinuxLabel", "selinuxLabel", "system_u:system_r:container_t:s0:c1,c2", libhull::lsm::selinux_enabled(sys)),
    ];
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    for (field, key, label, enabled) in labels {
        for case in ["a tmpfs over /proc", "a tmpfs at /proc/self/attr", "the image's /proc a symlink to fake attr files"] {
            let what = format!("{key} with {case}");
            let canary = Canary::new();
            let mut b = Bundle::sh("echo RAN; cat /proc/self/attr/current");
            b.config["process"][key] = json!(label);
            let fake = b.rootfs().join("tmp/fakeproc/self/attr");
            std::fs::create_dir_all(fake.join("apparmor")).unwrap();
            for f in ["exec", "current", "keycreate", "apparmor/exec", "apparmor/current"] {
                std::fs::write(fake.join(f), "").unwrap();
            }
            let i = match case {
                "a tmpfs over /proc" => push_mount(&mut b, json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"})),
                "a tmpfs at /proc/self/attr" => {
                    push_mount(&mut b, json!({"destination": "/proc/self/attr", "type": "tmpfs", "source": "tmpfs"}))
                }
                _ => {
                    plant(&b, "/proc", "tmp/fakeproc");
                    mount_index(&b, "/proc")
                }
            };
            b.save();
            let r = run(&rt, &b, io.path());
            eprintln!("{what}: {}", r.out.describe());
            let want = if enabled { format!("mounts[{i}]") } else { field.to_string() };
            problems.extend(refused(&what, &r, &want).err());
            for f in ["exec", "current", "keycreate", "apparmor/exec", "apparmor/current"] {
                let got = std::fs::read_to_string(fake.join(f)).unwrap_or_default();
                if !got.is_empty() {
                    problems.push(format!("{what}: the fake attribute file {f} was written: {got:?}"));
                }
            }
            problems.extend(canary.check().map_err(|e| format!("{what}: {e}")).err());
            problems.extend(host.check().map_err(|e| format!("{what}: {e}")).err());
        }
    }
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2019-19921: a mount reaching /proc through a symlink
// ---------------------------------------------------------------------------------------------

/// CVE-2019-19921, the static form: the image has `/vol/x -> /proc` (and `/vol/y -> ../proc`),
/// and the config bind-mounts a host directory at /vol/x. The destination resolves to /proc:
/// the mount must be refused (as runc does), never put over the container's procfs.
#[test]
fn cve_2019_19921_mount_through_a_symlink_to_proc_is_refused() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    for (what, link, target) in [("absolute", "/vol/x", "/proc".to_string()), ("relative", "/vol/y", "../proc".to_string())] {
        let canary = Canary::new();
        let mut b = Bundle::sh("echo RAN; stat -f -c %T /proc");
        plant(&b, link, &target);
        let i = push_mount(&mut b, json!({"destination": link, "type": "bind", "source": canary.path(), "options": ["rbind"]}));
        b.save();
        let r = run(&rt, &b, io.path());
        eprintln!("{what}: {}", r.out.describe());
        problems.extend(refused(&format!("{link} -> {target}"), &r, &format!("mounts[{i}]")).err());
        problems.extend(canary.check().err());
        problems.extend(host.check().err());
    }
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2021-30465, CVE-2024-45310, CVE-2019-19921: symlink races in a shared volume
// ---------------------------------------------------------------------------------------------

/// The attacker of the race tests, container A: with the shared volume at /vol, it flips
/// /vol/target between a fresh real directory and a symlink to each of `$TARGETS`, as fast as
/// busybox allows, until /vol/stop exists.
const SWAPPER: &str = r#"
cd /vol || exit 1
echo ready
while [ ! -e /vol/stop ]; do
  for t in $TARGETS; do
    ln -sfn "$t" /vol/tl
    mv -T /vol/tl /vol/target 2>/dev/null || { rm -rf /vol/target; mv -T /vol/tl /vol/target; }
    rm -rf /vol/target
    mkdir /vol/target
  done
done
echo stopped
"#;

/// Kinds of filesystem a mountinfo line may show without naming a host path as its root.
const VIRTUAL_FS: &[&str] = &["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"];

/// The mountinfo lines (of a container) for mounts of a real filesystem whose root is not at or
/// below one of `allowed` (host paths): a host path that reached the container.
fn foreign_mounts(mountinfo: &str, allowed: &[&Path]) -> Vec<String> {
    mountinfo
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let Some(dash) = f.iter().position(|x| *x == "-") else { return false };
            let fstype = f.get(dash + 1).copied().unwrap_or("");
            if VIRTUAL_FS.contains(&fstype) {
                return false;
            }
            let root = f.get(3).copied().unwrap_or("").replace("\\040", " ");
            !allowed.iter().any(|a| Path::new(&root).starts_with(a))
        })
        .map(str::to_owned)
        .collect()
}

/// One race: container A flips /vol/target (volume V shared with B) between a directory and
/// symlinks to `targets`, while container B is run `rounds` times with V at /vol and the mounts
/// `b_mounts(source)` going through /vol/target. Each B prints its mountinfo, `---`, then
/// `probe`'s output. Returns the problems found (B's mountinfo showing a host path other than
/// its rootfs, V or the source; `check_b` failing on B's output), and in how many B runs the
/// container's process ran.
fn shared_volume_race(
    targets: &[String],
    rounds: usize,
    b_mounts: &dyn Fn(&Path) -> Vec<Value>,
    source: &Path,
    probe: &str,
    check_b: &dyn Fn(&str) -> Result<(), String>,
) -> (Vec<String>, usize) {
    // A and B under separate roots: `list` after each B shows only what B left.
    let rt_a = Runtime::new();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let vol = TempDir::new("vol");
    let mut a = Bundle::sh(&SWAPPER.replace("$TARGETS", &targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(" ")));
    a.add_applets(&["mv"]);
    push_mount(&mut a, json!({"destination": "/vol", "type": "bind", "source": vol.path(), "options": ["rbind", "rw"]}));
    a.save();
    let aid = unique("cve-swapper");
    let (aout, aerr) = (io.path().join("a.out"), io.path().join("a.err"));
    assert!(rt_a.run_to_files(&["create", "--bundle", a.arg(), &aid], &aout, &aerr).success(), "create the swapper");
    rt_a.ok(&["start", &aid]);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(poll(T, || read(&aout).contains("ready").then_some(())).is_some(), "the swapper did not start: {}", read(&aerr));

    let mut b = Bundle::sh(&format!("cat /proc/self/mountinfo; echo ---; {probe}"));
    push_mount(&mut b, json!({"destination": "/vol", "type": "bind", "source": vol.path(), "options": ["rbind", "rw"]}));
    for m in b_mounts(source) {
        push_mount(&mut b, m);
    }
    b.save();
    let rootfs = b.rootfs();
    let allowed: [&Path; 3] = [&rootfs, vol.path(), source];
    let mut problems = Vec::new();
    let mut ok = 0;
    for i in 0..rounds {
        let r = run(&rt, &b, io.path());
        if let Err(e) = nothing_left(&format!("B run {i}"), &r) {
            problems.push(e);
        }
        // The container's process ran (it may still fail: A removes what B mounted).
        if !r.out.stdout.contains("---\n") {
            continue;
        }
        ok += 1;
        let (mountinfo, rest) = r.out.stdout.split_once("---\n").unwrap_or((&r.out.stdout, ""));
        let foreign = foreign_mounts(mountinfo, &allowed);
        if !foreign.is_empty() {
            problems.push(format!("B run {i}: host paths mounted in the container:\n{}", foreign.join("\n")));
        }
        if let Err(e) = check_b(rest) {
            problems.push(format!("B run {i}: {e}\n{}", r.out.describe()));
        }
    }
    std::fs::write(vol.path().join("stop"), "").unwrap();
    let stopped = poll(T, || read(&aout).contains("stopped").then_some(())).is_some();
    let _ = rt_a.run(&["delete", "--force", &aid]);
    if !stopped {
        problems.push(format!("the swapper did not stop: {}{}", read(&aout), read(&aerr)));
    }
    (problems, ok)
}

/// CVE-2021-30465 and CVE-2024-45310: container A flips a directory of a shared volume
/// (/vol/target) between a real directory and a symlink to a host canary dir (absolute, and
/// relative climbing out of the rootfs) while container B is run 100 times with mounts whose
/// destinations go through it, with missing components B must create (a bind of a host dir at
/// /vol/target/a/b, a tmpfs at /vol/target/c). B never sees a host path other than its own
/// mounts' sources, the canary dir stays empty and no mount reaches the host.
#[test]
fn cve_2021_30465_cve_2024_45310_shared_volume_symlink_race() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let canary = Canary::new();
    let source = TempDir::new("bindsrc");
    std::fs::write(source.path().join("from-source"), "x").unwrap();
    let targets = [canary.path().display().to_string(), canary.rel("")];
    let (mut problems, ok) = shared_volume_race(
        &targets,
        100,
        &|src| {
            vec![
                json!({"destination": "/vol/target/a/b", "type": "bind", "source": src, "options": ["rbind", "rw"]}),
                json!({"destination": "/vol/target/c", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}),
            ]
        },
        source.path(),
        "ls /vol/target/a/b",
        &|_| Ok(()),
    );
    eprintln!("B ran {ok} times of 100");
    problems.extend(canary.check().err());
    problems.extend(host.check().err());
    let src: Vec<_> = std::fs::read_dir(source.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    if src.len() != 1 {
        problems.push(format!("the bind source was written to: {src:?}"));
    }
    assert_none(&problems);
}

/// CVE-2019-19921, the race: A flips /vol/target between a directory and a symlink to /proc
/// (absolute and relative) while B is run 60 times with a host dir bound at /vol/target. B's
/// /proc must always be procfs.
#[test]
fn cve_2019_19921_shared_volume_race_onto_proc() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let canary = Canary::new();
    let targets = ["/proc".to_string(), format!("{}proc", climb())];
    let (mut problems, ok) = shared_volume_race(
        &targets,
        60,
        &|src| vec![json!({"destination": "/vol/target", "type": "bind", "source": src, "options": ["rbind"]})],
        canary.path(),
        "stat -f -c %T /proc",
        &|rest| if rest.trim() == "proc" { Ok(()) } else { Err(format!("/proc is not procfs: {rest:?}")) },
    );
    eprintln!("B ran {ok} times of 60");
    problems.extend(canary.check().err());
    problems.extend(host.check().err());
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2021-43784
// ---------------------------------------------------------------------------------------------

/// CVE-2021-43784: fields over 64 KiB overflowed a 16-bit length in runc's bootstrap message,
/// so config bytes could be parsed as more attributes (such as "no namespaces"). Oversized
/// fields (a 70,000-byte namespace path, a 100,000-byte hostname, a huge environment and
/// argument, 400 uid map entries, a 70,000-byte annotation and mount option): `create` either
/// fails and leaves nothing, or the container's init has exactly the requested namespaces
/// (each differs from the host's; the others are the host's).
#[test]
fn cve_2021_43784_oversized_config_fields_never_drop_namespaces() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let big = |n: usize| "a".repeat(n);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "a 70,000-byte network namespace path",
            Box::new(move |c: &mut Value| {
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.retain(|n| n["type"] != "network");
                ns.push(json!({"type": "network", "path": format!("/{}", big(69_999))}));
            }),
        ),
        ("a 100,000-byte hostname", Box::new(move |c: &mut Value| c["hostname"] = json!(big(100_000)))),
        (
            "2,000 env entries and a 70,000-byte one",
            Box::new(move |c: &mut Value| {
                let env = c["process"]["env"].as_array_mut().unwrap();
                for i in 0..2000 {
                    env.push(json!(format!("HULLCVE_{i}={}", big(100))));
                }
                env.push(json!(format!("HULLCVEBIG={}", big(70_000))));
            }),
        ),
        ("a 70,000-byte argument", Box::new(move |c: &mut Value| c["process"]["args"].as_array_mut().unwrap().push(json!(big(70_000))))),
        ("a 70,000-byte annotation", Box::new(move |c: &mut Value| c["annotations"] = json!({"hull.cve": big(70_000)}))),
        (
            "a 70,000-byte mount option",
            Box::new(move |c: &mut Value| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/mnt/big", "type": "tmpfs", "source": "tmpfs", "options": [big(70_000)]}))
            }),
        ),
        (
            "400 uid and gid map entries",
            Box::new(move |c: &mut Value| {
                c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
                let maps: Vec<Value> = (0..400).map(|i| json!({"containerID": i, "hostID": 100_000 + i, "size": 1})).collect();
                c["linux"]["uidMappings"] = json!(maps);
                c["linux"]["gidMappings"] = json!(maps);
            }),
        ),
        (
            "a 70,000-byte user namespace path",
            Box::new(move |c: &mut Value| {
                c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user", "path": format!("/{}", big(69_999))}));
            }),
        ),
    ];
    let host_ns = namespaces(std::process::id() as i64);
    let mut problems = Vec::new();
    for (what, edit) in cases {
        let mut b = Bundle::new(&["sh", "-c", "echo ran; env | grep -c ^HULLCVE_"]);
        edit(&mut b.config);
        b.save();
        let requested: Vec<String> = b.config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["type"].as_str().map(|t| ns_name(t).to_string()))
            .collect();
        let id = unique("cve-43784");
        let out = rt.run_logged(&["create", "--bundle", b.arg(), &id], io.path(), T);
        if !out.success() {
            eprintln!("{what}: refused: {}", short(out.stderr.trim()));
            let left = rt.run_logged(&["list", "-q"], io.path(), T).stdout;
            if !left.trim().is_empty() {
                problems.push(format!("{what}: a failed create left containers: {left:?}"));
            }
            let _ = rt.run_logged(&["delete", "--force", &id], io.path(), T);
            continue;
        }
        eprintln!("{what}: created");
        let pid = rt.pid(&id);
        let ns = namespaces(pid);
        for (name, link) in &ns {
            // pid_for_children/time_for_children follow pid/time.
            let base = name.trim_end_matches("_for_children");
            let want_new = requested.iter().any(|r| r == base);
            let is_host = host_ns.get(name) == Some(link);
            if want_new && is_host {
                problems.push(format!("{what}: the container's init is in the host's {name} namespace, which the config asks to be new"));
            }
            if !want_new && !is_host {
                problems.push(format!("{what}: the container's init has a {name} namespace of its own, which the config does not ask for"));
            }
        }
        let _ = rt.run_logged(&["delete", "--force", &id], io.path(), T);
    }
    problems.extend(host.check().err());
    assert_none(&problems);
}

/// CVE-2021-43784's class on hull's own parent/child channel: the init's error for a
/// 70,000-byte tmpfs option quotes the option, so the message is longer than 64 KiB. The channel
/// is SOCK_SEQPACKET, so the rest of the packet is dropped, never read as another message; but
/// the error must still reach the user, naming the mount.
#[test]
fn cve_2021_43784_oversized_init_error_reaches_the_user() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut b = Bundle::sh("echo RAN");
    let i = push_mount(&mut b, json!({"destination": "/mnt/big", "type": "tmpfs", "source": "tmpfs", "options": ["a".repeat(70_000)]}));
    b.save();
    let r = run(&rt, &b, io.path());
    eprintln!("{}", short(&r.out.describe()));
    let mut problems: Vec<String> =
        refused("a 70,000-byte tmpfs option", &r, &format!("mounts[{i}]")).err().map(|e| short(&e)).into_iter().collect();
    problems.extend(host.check().err());
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2022-29162
// ---------------------------------------------------------------------------------------------

const CAP_NET_ADMIN: u64 = 1 << 12;

/// The capability masks (`CapInh`, `CapPrm`, `CapEff`, `CapAmb`) in /proc/self/status text.
fn cap_masks(status: &str) -> BTreeMap<String, u64> {
    status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.starts_with("Cap").then(|| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap_or(u64::MAX)))
        })
        .collect()
}

/// CVE-2022-29162 (and CVE-2022-24769): inheritable capabilities set implicitly (by the default
/// spec or `exec --cap`) let a file-capability binary gain them across execve. The image has a
/// copy of busybox with `cap_net_admin+ei`; run as uid 1000 with NET_ADMIN in the bounding,
/// effective and permitted sets (no inheritable), and through `exec --cap CAP_NET_ADMIN -u 1000`,
/// it must not have NET_ADMIN. The control, with NET_ADMIN inheritable in the config, shows the
/// file capability works.
#[test]
fn cve_2022_29162_file_capability_binary_gains_nothing() {
    if !require_root() {
        return;
    }
    if Command::new("setcap").arg("-v").output().is_err() {
        eprintln!("SKIPPED: setcap (libcap2-bin) is not installed");
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let script = "/caps/busybox grep ^Cap /proc/self/status";
    let mut b = Bundle::sh(script);
    let capbox = b.rootfs().join("caps/busybox");
    std::fs::create_dir_all(capbox.parent().unwrap()).unwrap();
    std::fs::copy(common::busybox(), &capbox).unwrap();
    let o = Command::new("setcap").arg("cap_net_admin+ei").arg(&capbox).output().unwrap();
    assert!(o.status.success(), "setcap: {}", String::from_utf8_lossy(&o.stderr));
    let with_admin = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["capabilities"] = json!({"bounding": with_admin, "effective": with_admin, "permitted": with_admin});
    b.save();
    let mut problems = Vec::new();
    let got = cap_masks(&rt.run_ok(&b));
    for k in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        if got.get(k).copied().unwrap_or(u64::MAX) & CAP_NET_ADMIN != 0 {
            problems.push(format!("run as uid 1000 without inheritable: {k} has CAP_NET_ADMIN ({got:x?})"));
        }
    }

    // The control: with NET_ADMIN inheritable, the file capability gives it.
    b.config["process"]["capabilities"]["inheritable"] = json!(["CAP_NET_ADMIN"]);
    b.save();
    let control = cap_masks(&rt.run_ok(&b));
    if control.get("CapEff").copied().unwrap_or(0) & CAP_NET_ADMIN == 0 {
        problems.push(format!(
            "control: with NET_ADMIN inheritable the file capability did not give it ({control:x?}): the test proves nothing"
        ));
    }

    // exec --cap: the container has the default capabilities; the exec adds NET_ADMIN.
    b.config["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    b.config["process"]["user"] = json!({"uid": 0, "gid": 0});
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.save();
    let id = unique("cve-29162");
    rt.create_and_start(&b, &id);
    let root = cap_masks(&rt.ok(&["exec", "--cap", "CAP_NET_ADMIN", &id, "sh", "-c", script]));
    let user = cap_masks(&rt.ok(&["exec", "--cap", "CAP_NET_ADMIN", "-u", "1000:1000", &id, "sh", "-c", script]));
    rt.ok(&["delete", "--force", &id]);
    for k in ["CapInh", "CapAmb"] {
        if root.get(k).copied().unwrap_or(u64::MAX) != 0 {
            problems.push(format!("exec --cap CAP_NET_ADMIN as root: {k} is not 0 ({root:x?})"));
        }
    }
    for k in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        if user.get(k).copied().unwrap_or(u64::MAX) & CAP_NET_ADMIN != 0 {
            problems.push(format!("exec --cap CAP_NET_ADMIN -u 1000: {k} has CAP_NET_ADMIN ({user:x?})"));
        }
    }
    problems.extend(host.check().err());
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2023-28642
// ---------------------------------------------------------------------------------------------

/// CVE-2023-28642: the image's /proc is a symlink (absolute to a host canary dir, relative
/// climbing out of the rootfs to it, and relative to a directory inside the rootfs). procfs
/// would be mounted elsewhere and the LSM label not applied: the runtime refuses, naming the
/// /proc mount, and nothing is mounted or written at the symlink's targets.
#[test]
fn cve_2023_28642_proc_symlink_in_image_is_refused() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    for kind in ["absolute", "relative escaping", "relative inside"] {
        let canary = Canary::new();
        let b = Bundle::sh("echo RAN");
        std::fs::create_dir_all(b.rootfs().join("tmp/fakeproc")).unwrap();
        let target = match kind {
            "absolute" => canary.path().display().to_string(),
            "relative escaping" => canary.rel(""),
            _ => "tmp/fakeproc".to_string(),
        };
        plant(&b, "/proc", &target);
        let i = mount_index(&b, "/proc");
        let r = run(&rt, &b, io.path());
        eprintln!("/proc -> {kind}: {}", r.out.describe());
        problems.extend(refused(&format!("/proc -> {target}"), &r, &format!("mounts[{i}]")).err());
        let fake: Vec<_> = std::fs::read_dir(b.rootfs().join("tmp/fakeproc")).unwrap().flatten().map(|e| e.file_name()).collect();
        if !fake.is_empty() {
            problems.push(format!("/proc -> {target}: written into the rootfs's tmp/fakeproc: {fake:?}"));
        }
        problems.extend(canary.check().map_err(|e| format!("/proc -> {kind}: {e}")).err());
        problems.extend(host.check().err());
    }
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-31133
// ---------------------------------------------------------------------------------------------

/// CVE-2025-31133: masked paths are binds of the container's /dev/null; an image whose
/// /dev/null is a symlink (to a host canary path, to a file of the image, to a procfs file:
/// /proc/sys/kernel/domainname, the container's own, standing for core_pattern) must not make
/// a masked path anything but /dev/null. With the config's /dev tmpfs the image's /dev is
/// hidden; without it the image's /dev is used. Either the runtime refuses, or the container's
/// output reaches its stdout and every masked path inside is the 1:3 device or an empty
/// directory. The container only reads; its script never names /dev/null.
#[test]
fn cve_2025_31133_dev_null_symlink_never_masks() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let canary = Canary::new();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    const PROC_TARGET: &str = "/proc/sys/kernel/domainname";
    let targets = [canary.file().display().to_string(), "/etc/null-canary".to_string(), PROC_TARGET.to_string()];
    for target in &targets {
        for image_dev in [false, true] {
            let what = format!("/dev/null -> {target}, {}", if image_dev { "the image's /dev" } else { "the config's /dev tmpfs" });
            let mut b = Bundle::new(&["true"]);
            // The procfs target is safe only in a UTS namespace of the container's own.
            assert!(b.config["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "uts" && n.get("path").is_none()));
            std::fs::write(b.rootfs().join("etc/null-canary"), "null-canary\n").unwrap();
            plant(&b, "/dev/null", target);
            if image_dev {
                remove_mount(&mut b, "/dev");
            }
            let masked: Vec<String> =
                b.config["linux"]["maskedPaths"].as_array().unwrap().iter().filter_map(|p| p.as_str().map(str::to_owned)).collect();
            // Reads only; stderr is the container's own (an inherited file), never a path.
            let script = format!(
                "for p in {}; do if [ -d $p ]; then echo \"$p dir $(ls -A $p | wc -l)\"; elif [ -e $p ]; then \
                 echo \"$p $(stat -c '%F %t:%T' $p) $(wc -c < $p)\"; else echo \"$p absent\"; fi; done; echo RAN",
                masked.join(" ")
            );
            b.config["process"]["args"] = json!(["sh", "-c", script]);
            b.save();
            let r = run(&rt, &b, io.path());
            eprintln!("{what}: {}", r.out.describe());
            if r.out.success() && !r.out.stdout.contains("RAN") {
                problems.push(format!("{what}: the container's output did not reach its stdout (its stdio replaced by the runtime?)"));
            } else if r.out.success() {
                for l in r.out.stdout.lines().filter(|l| *l != "RAN") {
                    let ok = l.ends_with(" absent") || l.ends_with(" dir 0") || l.ends_with(" character special file 1:3 0");
                    if !ok {
                        problems.push(format!("{what}: a masked path is not /dev/null or an empty dir: {l}"));
                    }
                }
            } else {
                problems.extend(refused(&what, &r, "/dev/null").err());
            }
            let nc = std::fs::read_to_string(b.rootfs().join("etc/null-canary")).unwrap_or_default();
            if nc != "null-canary\n" {
                problems.push(format!("{what}: the image's /etc/null-canary changed: {nc:?}"));
            }
            problems.extend(canary.check().map_err(|e| format!("{what}: {e}")).err());
            problems.extend(host.check().map_err(|e| format!("{what}: {e}")).err());
        }
    }
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-52565
// ---------------------------------------------------------------------------------------------

/// CVE-2025-52565: with `terminal: true`, the image pre-creates /dev/console and /dev/pts/0 as
/// symlinks (to files of the image standing for procfs files, and to a host canary). With the
/// config's /dev tmpfs and devpts, with the image's /dev and the config's devpts, and with
/// neither: the container gets its pty at /dev/console (a pts, major 136) and writes to it
/// reach the terminal, never the symlinks' targets; or the runtime refuses cleanly.
#[test]
fn cve_2025_52565_console_and_pts_symlinks() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let canary = Canary::new();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    let script = "stat -c 'console=%F %t' /dev/console; echo via-console > /dev/console; echo done";
    for console_target in ["/etc/console-canary".to_string(), canary.file().display().to_string()] {
        for (dev_mode, drop) in [
            ("the config's /dev and devpts", &[][..]),
            ("the image's /dev, the config's devpts", &["/dev"][..]),
            ("the image's /dev, no devpts", &["/dev", "/dev/pts"][..]),
        ] {
            let what = format!("/dev/console -> {console_target}, {dev_mode}");
            let mut b = Bundle::sh(script);
            b.config["process"]["terminal"] = json!(true);
            for d in drop {
                remove_mount(&mut b, d);
            }
            b.save();
            std::fs::write(b.rootfs().join("etc/console-canary"), "console-canary\n").unwrap();
            std::fs::write(b.rootfs().join("etc/pts-canary"), "pts-canary\n").unwrap();
            plant(&b, "/dev/console", &console_target);
            plant(&b, "/dev/pts/0", "/etc/pts-canary");
            let sock_dir = TempDir::new("console");
            let sock = sock_dir.path().join("console.sock");
            let listener = UnixListener::bind(&sock).expect("bind the console socket");
            let id = unique("cve-52565");
            let out = rt.run_logged(&["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.arg(), &id], io.path(), T);
            if out.success() {
                match common::try_receive_fd(&listener, T).map(|(fd, _)| fd) {
                    Ok(master) => {
                        let started = rt.run_logged(&["start", &id], io.path(), T);
                        let text = common::read_pty(&master, T).replace('\r', "");
                        eprintln!("{what}: {}", text.trim());
                        if !started.success() {
                            problems.push(format!("{what}: start failed: {}", started.describe()));
                        } else if !text.contains("console=character special file 88")
                            || !text.contains("via-console")
                            || !text.contains("done")
                        {
                            problems.push(format!("{what}: /dev/console is not the container's pty: {text:?}"));
                        }
                    }
                    Err(e) => problems.push(format!("{what}: {e}")),
                }
            } else {
                eprintln!("{what}: refused: {}", out.stderr.trim());
                let left = rt.run_logged(&["list", "-q"], io.path(), T).stdout;
                if !left.trim().is_empty() {
                    problems.push(format!("{what}: a failed create left containers: {left:?}"));
                }
            }
            let _ = rt.run_logged(&["delete", "--force", &id], io.path(), T);
            for (f, want) in [("etc/console-canary", "console-canary\n"), ("etc/pts-canary", "pts-canary\n")] {
                let got = std::fs::read_to_string(b.rootfs().join(f)).unwrap_or_default();
                if got != want {
                    problems.push(format!("{what}: the image's /{f} changed: {got:?}"));
                }
            }
            problems.extend(canary.check().map_err(|e| format!("{what}: {e}")).err());
            problems.extend(host.check().map_err(|e| format!("{what}: {e}")).err());
        }
    }
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-52881
// ---------------------------------------------------------------------------------------------

/// Runs `cat <file>` in namespace `ns` (an nsenter flag) of process `pid`: the value a
/// namespaced sysctl has there.
fn sysctl_in(pid: i64, ns: &str, file: &str) -> String {
    let o = Command::new("nsenter").args(["--target", &pid.to_string(), ns, "cat", file]).output().expect("nsenter (util-linux)");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// CVE-2025-52881: mounts redirecting the runtime's /proc writes (sysctls here; LSM labels are
/// not enabled on this host) to other files. A config with sysctls and a host canary file bound
/// over the very sysctl files (`/proc/sys/kernel/shmmax`, `/proc/sys/net/ipv4/ip_forward`) is
/// refused naming the mount. The same mounts reaching /proc/sys through image symlinks
/// (`/vol/k -> /proc/sys/kernel`, `/vol/n -> ../proc/sys/net/ipv4`) are refused, or the sysctls
/// reach the container's own namespaces and the canary is never written. Host core_pattern,
/// sysrq, shmmax and ip_forward stay unchanged.
#[test]
fn cve_2025_52881_sysctl_with_mounts_over_proc_sys() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let host_shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    // The container's ip_forward is set to what the host's is not, to tell the two apart.
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    let sysctls = json!({"kernel.shmmax": "123456789", "net.ipv4.ip_forward": want_fwd});
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();

    // Straight at the sysctl files.
    for file in ["/proc/sys/kernel/shmmax", "/proc/sys/net/ipv4/ip_forward"] {
        let canary = Canary::new();
        let mut b = Bundle::sh("echo RAN");
        b.config["linux"]["sysctl"] = sysctls.clone();
        let i = push_mount(&mut b, json!({"destination": file, "type": "bind", "source": canary.file(), "options": ["bind"]}));
        b.save();
        let r = run(&rt, &b, io.path());
        problems.extend(refused(&format!("a canary bound over {file}"), &r, &format!("mounts[{i}]")).err());
        problems.extend(canary.check().err());
    }

    // Through image symlinks.
    let canary = Canary::new();
    let canary2 = Canary::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["sysctl"] = sysctls.clone();
    plant(&b, "/vol/k", "/proc/sys/kernel");
    plant(&b, "/vol/n", "../proc/sys/net/ipv4");
    push_mount(&mut b, json!({"destination": "/vol/k/shmmax", "type": "bind", "source": canary.file(), "options": ["bind"]}));
    push_mount(&mut b, json!({"destination": "/vol/n/ip_forward", "type": "bind", "source": canary2.file(), "options": ["bind"]}));
    b.save();
    let id = unique("cve-52881");
    let out = rt.run_logged(&["create", "--bundle", b.arg(), &id], io.path(), T);
    if out.success() {
        let pid = rt.pid(&id);
        let shm = sysctl_in(pid, "--ipc", "/proc/sys/kernel/shmmax");
        let fwd = sysctl_in(pid, "--net", "/proc/sys/net/ipv4/ip_forward");
        eprintln!("through symlinks: created; shmmax {shm}, ip_forward {fwd} in the container's namespaces");
        if shm != "123456789" {
            problems.push(format!("through symlinks: kernel.shmmax in the container's ipc namespace is {shm:?}, not 123456789"));
        }
        if fwd != want_fwd {
            problems.push(format!("through symlinks: net.ipv4.ip_forward in the container's net namespace is {fwd:?}, not {want_fwd}"));
        }
    } else {
        eprintln!("through symlinks: refused: {}", out.stderr.trim());
        let left = rt.run_logged(&["list", "-q"], io.path(), T).stdout;
        if !left.trim().is_empty() {
            problems.push(format!("through symlinks: a failed create left containers: {left:?}"));
        }
    }
    let _ = rt.run_logged(&["delete", "--force", &id], io.path(), T);
    problems.extend(canary.check().map_err(|e| format!("through symlinks: {e}")).err());
    problems.extend(canary2.check().map_err(|e| format!("through symlinks: {e}")).err());
    if std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap() != host_shmmax {
        problems.push("the host's kernel.shmmax changed".into());
    }
    if std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap() != host_fwd {
        problems.push("the host's net.ipv4.ip_forward changed".into());
    }
    problems.extend(host.check().err());
    assert_none(&problems);
}

// ---------------------------------------------------------------------------------------------
// The symlink-write family (CVE-2025-24965) and /dev a symlink (CVE-2026-41579)
// ---------------------------------------------------------------------------------------------

/// CVE-2025-24965 and the family of "the runtime creates a file in the rootfs through an image
/// symlink": every path the runtime creates or writes in the rootfs is planted as a symlink to
/// a host canary path, absolute and relative climbing out of the rootfs: the device nodes and
/// /dev/{fd,stdin,stdout,stderr,ptmx,console} (the config's /dev tmpfs removed, so the image's
/// /dev is used), the mount points of /dev/pts, /dev/shm, /dev/mqueue and of a tmpfs and a file
/// bind of the config, and the cwd. Some point at the existing canary file (whose content, mode,
/// owner and mtime must not change), the rest at names that must not appear in the canary dir.
/// Masking is off (the image's /dev/null is a symlink, which would be refused), so the run gets
/// through every step.
#[test]
fn cve_2025_24965_files_hull_creates_never_follow_image_symlinks() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let src = TempDir::new("filesrc");
    std::fs::write(src.path().join("file"), "bound\n").unwrap();
    let mut problems = Vec::new();
    for relative in [false, true] {
        let canary = Canary::new();
        let target = |name: &str| if relative { canary.rel(name) } else { canary.join(name).display().to_string() };
        let mut b = Bundle::sh("ls -l /dev; pwd; cat /etc/leaf; echo RAN");
        remove_mount(&mut b, "/dev");
        b.config["linux"]["maskedPaths"] = json!([]);
        b.config["process"]["cwd"] = json!("/cwdlink/sub");
        push_mount(&mut b, json!({"destination": "/mnt/new/sub", "type": "tmpfs", "source": "tmpfs"}));
        push_mount(
            &mut b,
            json!({"destination": "/etc/leaf", "type": "bind", "source": src.path().join("file"), "options": ["bind", "ro"]}),
        );
        b.save();
        for n in ["null", "zero", "full", "urandom", "fd", "stdin", "stderr", "ptmx", "console", "shm", "mqueue", "pts"] {
            plant(&b, &format!("/dev/{n}"), &target(n));
        }
        // Existing host files behind a device node and a /dev link.
        for n in ["tty", "random", "stdout"] {
            plant(&b, &format!("/dev/{n}"), &target("canary"));
        }
        plant(&b, "/mnt", &target("mnt"));
        plant(&b, "/etc/leaf", &target("leaf"));
        plant(&b, "/cwdlink", &target("cwd"));
        let what = if relative { "relative symlinks" } else { "absolute symlinks" };
        let r = run(&rt, &b, io.path());
        eprintln!("{what}: {}", r.out.describe());
        problems.extend(nothing_left(what, &r).err());
        problems.extend(canary.check().map_err(|e| format!("{what}: {e}")).err());
        problems.extend(host.check().map_err(|e| format!("{what}: {e}")).err());
    }
    assert_none(&problems);
}

/// CVE-2026-41579 (runc) / CVE-2026-47766 (crun): the image's /dev is itself a symlink, with
/// the config's /dev tmpfs removed. Targets: a host canary dir (absolute, and relative climbing
/// out of the rootfs) and `.` (the container's root: the `dev -> /` case, which would write to
/// the host's `/` if resolved there, is not run). With the default masked paths and without:
/// the host canary stays untouched, and the container either fails cleanly or runs with its
/// devices inside its rootfs (/dev/null inside is the 1:3 device, the host's is not touched).
#[test]
fn cve_2026_41579_dev_symlink_in_image() {
    if !require_root() {
        return;
    }
    let host = Host::snapshot();
    let dev_null = || std::fs::metadata("/dev/null").map(|m| (m.mode(), m.uid(), m.gid(), m.rdev())).unwrap();
    let host_null = dev_null();
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut problems = Vec::new();
    for kind in ["absolute", "relative", "dot"] {
        for masked in [true, false] {
            let canary = Canary::new();
            let what = format!("dev -> {kind}, {}", if masked { "default masked paths" } else { "no masked paths" });
            let mut b = Bundle::sh("stat -c '%n %F %t:%T' /dev/null /dev/zero; echo RAN");
            remove_mount(&mut b, "/dev");
            if !masked {
                b.config["linux"]["maskedPaths"] = json!([]);
            }
            b.save();
            let target = match kind {
                "absolute" => canary.path().display().to_string(),
                "relative" => canary.rel(""),
                _ => ".".to_string(),
            };
            plant(&b, "/dev", &target);
            let r = run(&rt, &b, io.path());
            eprintln!("{what}: {}", r.out.describe());
            if r.out.success() {
                if !r.out.stdout.contains("/dev/null character special file 1:3")
                    || !r.out.stdout.contains("/dev/zero character special file 1:5")
                {
                    problems.push(format!("{what}: the container's /dev/null or /dev/zero is not the device:\n{}", r.out.describe()));
                }
                // Where /dev leads inside the container, in the rootfs on the host.
                let inside = match kind {
                    "dot" => b.rootfs(),
                    _ => b.rootfs().join(canary.path().strip_prefix("/").unwrap()),
                };
                let null = inside.join("null");
                let is_null =
                    std::fs::symlink_metadata(&null).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3));
                if !is_null {
                    problems.push(format!("{what}: {} (the container's /dev/null) is not the 1:3 device", null.display()));
                }
            } else {
                problems.extend(nothing_left(&what, &r).err());
            }
            problems.extend(canary.check().map_err(|e| format!("{what}: {e}")).err());
            problems.extend(host.check().map_err(|e| format!("{what}: {e}")).err());
            if dev_null() != host_null {
                problems.push(format!("{what}: the host's /dev/null changed"));
            }
        }
    }
    assert_none(&problems);
}
