//! CVE-2019-5736: a container overwriting the runtime's binary on the host through
//! `/proc/<pid>/exe` of a process that runs it.
//!
//! hull's container init is a clone of hull itself, so until it execs the user's program its exe
//! is hull's binary; and an entrypoint `#!/proc/self/exe` makes the container's first process
//! run that binary again, inside the container. hull re-executes itself once from a read-only
//! bind mount of its binary before `create`/`run` (libhull's exeseal), so every container
//! process's exe is on a read-only mount. The tests check, from the host and from inside
//! containers, that the binary cannot be opened for writing through any of those paths, and that
//! it is byte for byte the same afterwards. Should a write get through, the binary is restored
//! before the test fails, so one failure does not break every later test.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{hull_bin, pid_ended, poll, require_root, unique, Bundle, Runtime, TempDir};
use serde_json::json;

const T: Duration = Duration::from_secs(10);

/// The runtime binary's bytes and mode at the start of a test; checks it is unchanged, and puts
/// it back on drop if it was changed.
struct BinaryGuard {
    path: PathBuf,
    bytes: Vec<u8>,
    mode: u32,
}

impl BinaryGuard {
    fn new() -> BinaryGuard {
        let path = hull_bin();
        let bytes = std::fs::read(&path).expect("read the runtime binary");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        BinaryGuard { path, bytes, mode }
    }

    fn unchanged(&self) -> bool {
        std::fs::read(&self.path).map(|b| b == self.bytes).unwrap_or(false)
    }

    /// (device, inode) of the binary, to tell whether a process's exe is this very file.
    fn identity(&self) -> (u64, u64) {
        let m = std::fs::metadata(&self.path).unwrap();
        (m.dev(), m.ino())
    }
}

impl Drop for BinaryGuard {
    fn drop(&mut self) {
        if !self.unchanged() {
            // Write a fresh copy next to it and rename it over (allowed while it is executing).
            let tmp = self.path.with_extension("restore");
            if std::fs::write(&tmp, &self.bytes).is_ok() {
                let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(self.mode));
                let _ = std::fs::rename(&tmp, &self.path);
            }
            eprintln!("the runtime binary {} was modified; restored it", self.path.display());
        }
    }
}

/// Tries to append one byte to `path` (a /proc/<pid>/exe or /proc/self/fd/N): `Err(what
/// stopped it)` if the open or the write failed, `Ok(())` if a byte was written.
fn try_append(path: &Path) -> Result<(), std::io::Error> {
    let mut f = OpenOptions::new().append(true).custom_flags(libc::O_CLOEXEC).open(path)?;
    f.write_all(b"x")?;
    f.flush()
}

/// Asserts that the exe of host process `pid` cannot be written, and, if it is the runtime's
/// binary file itself (not a copy, as runc's memfd), that it sits on a read-only mount.
fn check_exe_sealed(pid: i64, guard: &BinaryGuard) {
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    match try_append(&exe) {
        Ok(()) => panic!("{} of a container process was opened for writing and written", exe.display()),
        Err(e) => {
            let errno = e.raw_os_error();
            assert!(
                matches!(errno, Some(libc::EROFS) | Some(libc::ETXTBSY) | Some(libc::EPERM) | Some(libc::EACCES)),
                "writing {} failed, but not as expected: {e}",
                exe.display()
            );
        }
    }
    let meta = std::fs::metadata(&exe).expect("stat the exe");
    if (meta.dev(), meta.ino()) == guard.identity() {
        let f = std::fs::File::open(&exe).expect("open the exe for reading");
        let vfs = nix::sys::statvfs::fstatvfs(&f).expect("fstatvfs");
        assert!(
            vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
            "{} is the runtime's binary on a writable mount: only ETXTBSY protects it, and only while it runs",
            exe.display()
        );
    }
}

/// CVE-2019-5736 proper: hold a read-only descriptor on the exe while the process runs, wait for
/// it to end, then reopen the descriptor for writing through /proc/self/fd. The tests of this
/// file run one at a time, so then nothing executes the binary and ETXTBSY no longer protects
/// it: if the exe is the runtime's binary file itself, only a read-only mount (EROFS) does.
struct HeldExe {
    file: std::fs::File,
    is_the_binary: bool,
}

impl HeldExe {
    fn open(pid: i64, guard: &BinaryGuard) -> HeldExe {
        let file = std::fs::File::open(format!("/proc/{pid}/exe")).expect("open the exe for reading");
        let m = file.metadata().unwrap();
        HeldExe { file, is_the_binary: (m.dev(), m.ino()) == guard.identity() }
    }

    fn check_reopen_for_write_fails(&self) {
        let path = PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()));
        match try_append(&path) {
            Ok(()) => panic!("the exe of an ended container process was reopened for writing through {} and written", path.display()),
            Err(e) if self.is_the_binary => {
                assert_eq!(e.raw_os_error(), Some(libc::EROFS), "reopening the runtime's binary for writing: {e}; want EROFS")
            }
            // A copy (runc's sealed memfd): any refusal will do.
            Err(_) => {}
        }
    }
}

/// One test of this file at a time: while one checks that a write is refused, no other test
/// may be running the runtime (which would make the kernel refuse it with ETXTBSY, whatever
/// the runtime did).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn cve_2019_5736_created_init_exe_is_sealed_and_the_binary_unchanged() {
    if !require_root() {
        return;
    }
    let _serial = serial();
    let guard = BinaryGuard::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique("exe-created");
    rt.create(&b, &id);
    // The init is waiting for `start`: it has not exec'd the user's program, its exe is the runtime.
    let pid = rt.pid(&id);
    check_exe_sealed(pid, &guard);
    let held = HeldExe::open(pid, &guard);
    rt.ok(&["delete", "-f", &id]);
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "init {pid} did not end");
    held.check_reopen_for_write_fails();
    assert!(guard.unchanged(), "the runtime binary {} changed", guard.path.display());
}

/// A rootfs file `/evil` holding `#!/proc/self/exe <arg>`: as the container's entrypoint it makes
/// the kernel run the exe of the process that execs it, i.e. the runtime's binary.
fn shebang_bundle(arg: &str, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    let evil = b.rootfs().join("evil");
    let line = if arg.is_empty() { "#!/proc/self/exe\n".to_string() } else { format!("#!/proc/self/exe {arg}\n") };
    std::fs::write(&evil, line).unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.config["root"]["readonly"] = json!(false);
    b.save();
    b
}

#[test]
fn cve_2019_5736_shebang_proc_self_exe_entrypoint_changes_nothing() {
    if !require_root() {
        return;
    }
    let _serial = serial();
    let guard = BinaryGuard::new();
    let b = shebang_bundle("", &["/evil"]);
    let rt = Runtime::new();
    let out = rt.run_bundle(&b);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Either the kernel refuses the interpreter (ENOENT: the exe of a process about to leave the
    // runtime is not reachable as an interpreter on recent kernels, for runc's memfd as for
    // hull's sealed mount), or the runtime's command line ran inside the container and did not
    // know the command "/evil". Both fail; neither may touch the binary.
    assert!(!out.status.success(), "the entrypoint succeeded: {text}");
    assert!(text.contains("/evil"), "unexpected output: {text}");
    assert!(guard.unchanged(), "the runtime binary {} changed", guard.path.display());
}

#[test]
fn cve_2019_5736_container_processes_cannot_write_the_runtime_through_proc_exe() {
    if !require_root() {
        return;
    }
    let _serial = serial();
    let guard = BinaryGuard::new();
    let rt = Runtime::new();

    // The victim: a created container. Its init waits for `start` and still runs the runtime's
    // binary, inside the container's namespaces.
    let victim = Bundle::new(&["sleep", "1000"]);
    let vid = unique("exe-victim");
    rt.create(&victim, &vid);
    let pid = rt.pid(&vid);
    check_exe_sealed(pid, &guard);
    let held = HeldExe::open(pid, &guard);

    // Attacker 1, in the victim's pid namespace, tries every /proc/N/exe it sees (the victim's
    // init is its pid 1), and to reopen a read-only descriptor of /proc/1/exe for writing.
    let mut attacker = Bundle::sh(
        "for p in /proc/[0-9]*/exe; do echo x 2>/dev/null >> $p && echo WROTE $p; done; \
         ( exec 3</proc/1/exe && echo opened-1 && echo x >> /proc/self/fd/3 && echo WROTE-via-fd ); \
         echo \"exe1=$(readlink /proc/1/exe)\"; echo done",
    );
    attacker.remove_namespace("pid");
    attacker.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "pid", "path": format!("/proc/{pid}/ns/pid")}));
    attacker.save();
    let out = rt.run_bundle(&attacker);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stdout.contains("done"), "attacker 1 did not run ({:?}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.lines().any(|l| l.starts_with("exe1=")), "{stdout}");
    assert!(!stdout.contains("WROTE"), "a container process wrote through a /proc exe link:\n{stdout}\n{stderr}");
    eprintln!("attacker 1:\n{stdout}{stderr}");

    // Attacker 2, the CVE's own sequence: a container process that can see the victim's init
    // (its /proc/<pid> is bound into the attacker at /victim) opens its exe read-only, waits
    // until the victim is gone (so nothing executes the binary and ETXTBSY no longer applies),
    // then reopens the descriptor for writing.
    let mut attacker2 = Bundle::sh(
        "cat /victim/exe >/dev/null 2>&1 || { echo cannot-open; exit 0; }; exec 3</victim/exe; echo opened; \
         while cat /victim/stat >/dev/null 2>&1; do sleep 0.02; done; echo victim-gone; \
         if echo x 2>/dev/null >> /proc/self/fd/3; then echo WROTE-via-fd; fi; \
         if echo x 2>/dev/null >> /victim/exe; then echo WROTE-via-link; fi; echo done",
    );
    attacker2.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/victim", "type": "bind", "source": format!("/proc/{pid}"), "options": ["rbind"]
    }));
    attacker2.save();
    let io = TempDir::new("io");
    let (a2out, a2err) = (io.path().join("out"), io.path().join("err"));
    let a2 = unique("exe-attacker");
    assert!(rt.run_to_files(&["create", "--bundle", attacker2.arg(), &a2], &a2out, &a2err).success(), "create attacker 2");
    rt.ok(&["start", &a2]);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let opened = poll(T, || {
        let o = read(&a2out);
        (o.contains("opened") || o.contains("cannot-open")).then_some(o)
    });
    assert!(opened.is_some(), "attacker 2 did not get going: {}{}", read(&a2out), read(&a2err));

    rt.ok(&["delete", "-f", &vid]);
    assert!(poll(T, || pid_ended(pid).then_some(())).is_some(), "victim {pid} did not end");
    held.check_reopen_for_write_fails();
    let done = poll(T, || {
        let o = read(&a2out);
        (o.contains("done") || o.contains("cannot-open")).then_some(())
    });
    let a2text = format!("{}{}", read(&a2out), read(&a2err));
    let _ = rt.run(&["delete", "-f", &a2]);
    eprintln!("attacker 2:\n{a2text}");
    assert!(done.is_some() || a2text.contains("cannot-open"), "attacker 2 did not finish: {a2text}");
    assert!(!a2text.contains("WROTE"), "the runtime's exe was written after the victim ended:\n{a2text}");
    assert!(guard.unchanged(), "the runtime binary {} changed", guard.path.display());
}
