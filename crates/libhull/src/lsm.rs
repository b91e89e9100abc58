//! lsm: AppArmor profiles and SELinux labels (`process.apparmorProfile`,
//! `process.selinuxLabel`, `linux.mountLabel`; runtime-spec config.md#process and
//! config-linux.md#mount-label).
//!
//! Two halves:
//! - the checks, run while the config is validated (before anything touches the host): a label
//!   asked for on a host whose LSM is not enabled is refused, naming the field. Whether an LSM is
//!   enabled is read below a sysfs root given as a parameter, so the decision is tested against
//!   fake trees;
//! - the writes, run in the container's process before execve: `exec <profile>` to
//!   `/proc/self/attr/apparmor/exec` (`attr/exec` on kernels before 5.8, which have no per-LSM
//!   directory), the SELinux label to `attr/exec`, and the SELinux label to `attr/keycreate`
//!   before the session keyring is made, as runc does. Every write goes through the verified
//!   procfs handle (`procfs::ProcFs`), never through the container's /proc: a volume or symlink
//!   over /proc in the rootfs cannot turn a label write into a write to a fake file and leave
//!   the container unconfined (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561, CVE-2025-52881).
//!
//! The exec attributes name what the next execve() becomes; the kernel clears them at that
//! execve, so nothing needs resetting afterwards.

use std::io;
use std::path::Path;

use oci_spec::runtime::{Process, Spec};

use crate::procfs::ProcFs;
use crate::spec::{invalid, SpecError};

/// The host's sysfs, where the enabled LSMs are seen.
pub const SYSFS: &str = "/sys";

/// A kernel attribute write is one page at most.
const MAX_LABEL: usize = 4095;

/// AppArmor is enabled when its securityfs directory exists and the module says `Y` (as runc's
/// `apparmor.IsEnabled`).
pub fn apparmor_enabled(sysfs: &Path) -> bool {
    sysfs.join("kernel/security/apparmor").is_dir()
        && std::fs::read(sysfs.join("module/apparmor/parameters/enabled")).is_ok_and(|v| v.first() == Some(&b'Y'))
}

/// SELinux is enabled when selinuxfs is mounted at `fs/selinux` and shows an enforcing mode
/// (`enforce` is `0` or `1`). Without SELinux, /sys/fs/selinux is an empty directory or absent.
pub fn selinux_enabled(sysfs: &Path) -> bool {
    std::fs::read_to_string(sysfs.join("fs/selinux/enforce")).is_ok_and(|v| matches!(v.trim(), "0" | "1"))
}

/// A label must fit one attribute write and be one line of text: a newline or NUL would end it
/// early in the kernel's parser and confine the process to something else than asked.
fn check_label(field: &str, label: &str) -> Result<(), SpecError> {
    if label.len() > MAX_LABEL {
        return Err(invalid(field, format!("is {} bytes long; at most {MAX_LABEL}", label.len())));
    }
    if label.bytes().any(|b| b == 0 || b == b'\n') {
        return Err(invalid(field, "contains a NUL byte or a newline"));
    }
    if label.trim() != label {
        return Err(invalid(field, format!("{label:?} has leading or trailing white space")));
    }
    Ok(())
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Checks a process's labels (the config's, or one given to `exec`) against the host under
/// `sysfs`.
pub fn check_process(p: &Process, sysfs: &Path) -> Result<(), SpecError> {
    if let Some(profile) = set(p.apparmor_profile()) {
        check_label("process.apparmorProfile", profile)?;
        if !apparmor_enabled(sysfs) {
            return Err(invalid(
                "process.apparmorProfile",
                format!(
                    "AppArmor is not enabled on this host ({} is not Y), so profile {profile:?} cannot be applied",
                    sysfs.join("module/apparmor/parameters/enabled").display()
                ),
            ));
        }
    }
    if let Some(label) = set(p.selinux_label()) {
        check_label("process.selinuxLabel", label)?;
        if !selinux_enabled(sysfs) {
            return Err(invalid(
                "process.selinuxLabel",
                format!("SELinux is not enabled on this host (no selinuxfs at {})", sysfs.join("fs/selinux").display()),
            ));
        }
    }
    Ok(())
}

/// Checks every label of a config against the host under `sysfs`.
pub fn check_spec(spec: &Spec, sysfs: &Path) -> Result<(), SpecError> {
    if let Some(p) = spec.process() {
        check_process(p, sysfs)?;
    }
    if let Some(label) = spec.linux().as_ref().and_then(|l| set(l.mount_label())) {
        check_label("linux.mountLabel", label)?;
        if !selinux_enabled(sysfs) {
            return Err(invalid(
                "linux.mountLabel",
                format!("SELinux is not enabled on this host (no selinuxfs at {})", sysfs.join("fs/selinux").display()),
            ));
        }
    }
    Ok(())
}

/// What the label writes need of a procfs: a write to a file of this process. Only `ProcFs`,
/// the verified handle, implements it outside tests.
pub(crate) trait AttrFs {
    /// Writes `data` to `rel` (below the procfs root, e.g. `self/attr/exec`) in one write(2).
    fn write_attr(&self, rel: &str, data: &[u8]) -> io::Result<()>;
    /// True when the file `rel` exists.
    fn has_attr(&self, rel: &str) -> bool;
}

impl AttrFs for ProcFs {
    fn write_attr(&self, rel: &str, data: &[u8]) -> io::Result<()> {
        self.write(rel, data)
    }
    fn has_attr(&self, rel: &str) -> bool {
        self.open_at(Path::new(rel), libc::O_PATH).is_ok()
    }
}

/// Writes the exec labels of `p` for this process: its next execve() runs under them. `self`
/// must be this very task (the callers are single-threaded).
pub(crate) fn set_exec_labels(procfs: &impl AttrFs, p: &Process) -> Result<(), String> {
    if let Some(profile) = set(p.apparmor_profile()) {
        let data = format!("exec {profile}");
        // The per-LSM directory (Linux 5.8+) is right whatever LSM owns the shared files. The
        // choice is made on the file's existence: the write itself answers ENOENT for a
        // profile that is not loaded.
        let file = if procfs.has_attr("self/attr/apparmor/exec") { "self/attr/apparmor/exec" } else { "self/attr/exec" };
        procfs.write_attr(file, data.as_bytes()).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::NotFound { " (is the profile loaded?)" } else { "" };
            format!("process.apparmorProfile: applying profile {profile:?} (/proc/{file}): {e}{hint}")
        })?;
    }
    if let Some(label) = set(p.selinux_label()) {
        procfs
            .write_attr("self/attr/exec", label.as_bytes())
            .map_err(|e| format!("process.selinuxLabel: setting exec label {label:?} (/proc/self/attr/exec): {e}"))?;
    }
    Ok(())
}

/// Before the session keyring is made: it gets the process's SELinux label (runc's
/// `selinux.SetKeyLabel`). Nothing to do without one.
pub(crate) fn set_keyring_label(procfs: &impl AttrFs, p: &Process) -> Result<(), String> {
    if let Some(label) = set(p.selinux_label()) {
        procfs
            .write_attr("self/attr/keycreate", label.as_bytes())
            .map_err(|e| format!("process.selinuxLabel: setting the keyring label {label:?} (/proc/self/attr/keycreate): {e}"))?;
    }
    Ok(())
}

/// How `linux.mountLabel` reaches a filesystem mount of type `fstype` (runc's choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountLabeling {
    /// The `context=` mount option (tmpfs, devpts, overlay, ...).
    ContextOption,
    /// The `security.selinux` xattr on the mount's root after mounting: mqueue's superblock is
    /// shared by every mount of one IPC namespace, where a `context=` differing from the first
    /// mount's is refused.
    RootXattr,
    /// Not labelled: proc, sysfs and cgroup have their own labels; binds keep their source's.
    None,
}

/// How a filesystem mount (not a bind) of `fstype` is labelled.
pub fn mount_labeling(fstype: &str) -> MountLabeling {
    match fstype {
        "proc" | "sysfs" | "cgroup" | "cgroup2" | "bind" | "" => MountLabeling::None,
        "mqueue" => MountLabeling::RootXattr,
        _ => MountLabeling::ContextOption,
    }
}

/// True when mount options already choose an SELinux context themselves.
pub fn has_context_option(data: &[String]) -> bool {
    data.iter().any(|o| {
        let k = o.split('=').next().unwrap_or("");
        matches!(k, "context" | "fscontext" | "defcontext" | "rootcontext")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    /// A fake sysfs tree in a temporary directory.
    struct FakeSys(PathBuf);

    impl FakeSys {
        fn new(tag: &str) -> FakeSys {
            let d = std::env::temp_dir().join(format!("hull-lsm-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            FakeSys(d)
        }
        fn file(&self, rel: &str, content: &str) -> &Self {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
            self
        }
        fn dir(&self, rel: &str) -> &Self {
            std::fs::create_dir_all(self.0.join(rel)).unwrap();
            self
        }
    }

    impl Drop for FakeSys {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn process(v: serde_json::Value) -> Process {
        let mut base = serde_json::json!({"cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0}});
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn apparmor_enabled_needs_securityfs_and_y() {
        let s = FakeSys::new("aa");
        assert!(!apparmor_enabled(&s.0), "empty tree");
        s.file("module/apparmor/parameters/enabled", "Y\n");
        assert!(!apparmor_enabled(&s.0), "no kernel/security/apparmor");
        s.dir("kernel/security/apparmor");
        assert!(apparmor_enabled(&s.0));
        s.file("module/apparmor/parameters/enabled", "N\n");
        assert!(!apparmor_enabled(&s.0), "N");
    }

    #[test]
    fn selinux_enabled_needs_selinuxfs() {
        let s = FakeSys::new("se");
        s.dir("fs/selinux");
        assert!(!selinux_enabled(&s.0), "an empty mount point");
        s.file("fs/selinux/enforce", "0");
        assert!(selinux_enabled(&s.0), "permissive");
        s.file("fs/selinux/enforce", "1");
        assert!(selinux_enabled(&s.0), "enforcing");
    }

    #[test]
    fn this_host_has_neither_lsm_so_labels_are_refused_naming_the_field() {
        // The build machines run without AppArmor and SELinux (shared/hosts.md); where one is
        // enabled, the refusal is tested with the fake trees below instead.
        let sys = Path::new(SYSFS);
        if !apparmor_enabled(sys) {
            let e = check_process(&process(serde_json::json!({"apparmorProfile": "p"})), sys).unwrap_err().to_string();
            assert!(e.starts_with("process.apparmorProfile: AppArmor is not enabled on this host"), "{e}");
        }
        if !selinux_enabled(sys) {
            let e = check_process(&process(serde_json::json!({"selinuxLabel": "l"})), sys).unwrap_err().to_string();
            assert!(e.starts_with("process.selinuxLabel: SELinux is not enabled on this host"), "{e}");
        }
    }

    #[test]
    fn checks_against_fake_trees() {
        let none = FakeSys::new("none");
        let aa = FakeSys::new("aaon");
        aa.file("module/apparmor/parameters/enabled", "Y").dir("kernel/security/apparmor");
        let se = FakeSys::new("seon");
        se.file("fs/selinux/enforce", "1");

        let profile = process(serde_json::json!({"apparmorProfile": "hull-test"}));
        let label = process(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"}));
        let empty = process(serde_json::json!({"apparmorProfile": "", "selinuxLabel": ""}));

        let e = check_process(&profile, &none.0).unwrap_err().to_string();
        assert!(e.starts_with("process.apparmorProfile: AppArmor is not enabled"), "{e}");
        assert!(e.contains("module/apparmor/parameters/enabled"), "{e}");
        check_process(&profile, &aa.0).unwrap();
        assert!(check_process(&profile, &se.0).is_err());

        let e = check_process(&label, &none.0).unwrap_err().to_string();
        assert!(e.starts_with("process.selinuxLabel: SELinux is not enabled"), "{e}");
        check_process(&label, &se.0).unwrap();
        assert!(check_process(&label, &aa.0).is_err());

        // Empty labels ask for nothing.
        check_process(&empty, &none.0).unwrap();

        let mount_label =
            spec(serde_json::json!({"ociVersion": "1.2.0", "linux": {"mountLabel": "system_u:object_r:container_file_t:s0"}}));
        let e = check_spec(&mount_label, &aa.0).unwrap_err().to_string();
        assert!(e.starts_with("linux.mountLabel: SELinux is not enabled"), "{e}");
        check_spec(&mount_label, &se.0).unwrap();
        let in_spec = spec(
            serde_json::json!({"ociVersion": "1.2.0", "process": {"cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0}, "apparmorProfile": "x"}}),
        );
        assert!(check_spec(&in_spec, &none.0).unwrap_err().to_string().starts_with("process.apparmorProfile"));
        check_spec(&in_spec, &aa.0).unwrap();
    }

    #[test]
    fn bad_labels_are_refused_even_where_enabled() {
        let aa = FakeSys::new("aabad");
        aa.file("module/apparmor/parameters/enabled", "Y").dir("kernel/security/apparmor");
        for bad in ["a\nexec unconfined", "a\0b", " lead", "trail ", &"x".repeat(5000)] {
            let p = process(serde_json::json!({"apparmorProfile": bad}));
            let e = check_process(&p, &aa.0).unwrap_err().to_string();
            assert!(e.starts_with("process.apparmorProfile: "), "{bad:?}: {e}");
        }
    }

    /// A fake procfs: records writes; `missing` files do not exist, `failing` ones answer
    /// `errno` to a write.
    #[derive(Default)]
    struct FakeAttrs {
        writes: RefCell<Vec<(String, String)>>,
        missing: Vec<&'static str>,
        failing: Vec<&'static str>,
        errno: i32,
    }

    impl AttrFs for FakeAttrs {
        fn has_attr(&self, rel: &str) -> bool {
            !self.missing.contains(&rel)
        }
        fn write_attr(&self, rel: &str, data: &[u8]) -> io::Result<()> {
            if self.missing.contains(&rel) {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            if self.failing.contains(&rel) {
                return Err(io::Error::from_raw_os_error(self.errno));
            }
            self.writes.borrow_mut().push((rel.to_string(), String::from_utf8_lossy(data).into_owned()));
            Ok(())
        }
    }

    #[test]
    fn apparmor_exec_label_goes_to_the_apparmor_directory() {
        let fs = FakeAttrs::default();
        set_exec_labels(&fs, &process(serde_json::json!({"apparmorProfile": "hull-test"}))).unwrap();
        assert_eq!(*fs.writes.borrow(), [("self/attr/apparmor/exec".to_string(), "exec hull-test".to_string())]);
    }

    #[test]
    fn apparmor_falls_back_to_attr_exec_on_old_kernels() {
        let fs = FakeAttrs { missing: vec!["self/attr/apparmor/exec"], ..Default::default() };
        set_exec_labels(&fs, &process(serde_json::json!({"apparmorProfile": "hull-test"}))).unwrap();
        assert_eq!(*fs.writes.borrow(), [("self/attr/exec".to_string(), "exec hull-test".to_string())]);
    }

    #[test]
    fn a_failed_write_is_an_error_naming_the_field_never_ignored() {
        let fs = FakeAttrs { failing: vec!["self/attr/apparmor/exec"], errno: libc::EINVAL, ..Default::default() };
        let e = set_exec_labels(&fs, &process(serde_json::json!({"apparmorProfile": "p"}))).unwrap_err();
        assert!(e.starts_with("process.apparmorProfile: applying profile \"p\" (/proc/self/attr/apparmor/exec): "), "{e}");
        assert!(fs.writes.borrow().is_empty(), "no fallback when the write fails");
        // A profile that is not loaded: the kernel answers ENOENT to the write; no fallback
        // to the shared file either.
        let fs = FakeAttrs { failing: vec!["self/attr/apparmor/exec"], errno: libc::ENOENT, ..Default::default() };
        let e = set_exec_labels(&fs, &process(serde_json::json!({"apparmorProfile": "p"}))).unwrap_err();
        assert!(e.contains("(/proc/self/attr/apparmor/exec)") && e.ends_with("(is the profile loaded?)"), "{e}");
        assert!(fs.writes.borrow().is_empty(), "no fallback when the write fails");
        let fs = FakeAttrs { failing: vec!["self/attr/exec"], errno: libc::EINVAL, ..Default::default() };
        let e = set_exec_labels(&fs, &process(serde_json::json!({"selinuxLabel": "l"}))).unwrap_err();
        assert!(e.starts_with("process.selinuxLabel: "), "{e}");
    }

    #[test]
    fn selinux_labels_go_to_exec_and_keycreate() {
        let fs = FakeAttrs::default();
        let p = process(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"}));
        set_keyring_label(&fs, &p).unwrap();
        set_exec_labels(&fs, &p).unwrap();
        let l = "system_u:system_r:container_t:s0:c1,c2".to_string();
        assert_eq!(*fs.writes.borrow(), [("self/attr/keycreate".to_string(), l.clone()), ("self/attr/exec".to_string(), l)]);
        // Nothing asked, nothing written.
        let fs = FakeAttrs::default();
        let p = process(serde_json::json!({"apparmorProfile": "", "selinuxLabel": ""}));
        set_keyring_label(&fs, &p).unwrap();
        set_exec_labels(&fs, &p).unwrap();
        assert!(fs.writes.borrow().is_empty());
    }

    #[test]
    fn mount_labeling_by_type() {
        for t in ["tmpfs", "devpts", "overlay", "ext4"] {
            assert_eq!(mount_labeling(t), MountLabeling::ContextOption, "{t}");
        }
        assert_eq!(mount_labeling("mqueue"), MountLabeling::RootXattr);
        for t in ["proc", "sysfs", "cgroup", "cgroup2", "bind"] {
            assert_eq!(mount_labeling(t), MountLabeling::None, "{t}");
        }
        assert!(has_context_option(&["mode=755".into(), "rootcontext=x".into()]));
        assert!(!has_context_option(&["mode=755".into()]));
    }

    /// The label writes go through the verified handle only: the real procfs refuses them (see
    /// below), whatever is mounted over this process's /proc (a tmpfs with
    /// writable fake `self/attr` files, as an image's volume over /proc would be,
    /// CVE-2019-16884): the write fails, the fake file is never written, and a handle on the
    /// fake tree cannot even be made.
    #[test]
    fn label_writes_never_reach_a_fake_proc() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test needs root (a private mount namespace with a tmpfs over /proc): run the unit tests as root");
        }
        // In a child: the mount namespace change must not touch the test process. Its error
        // comes back through a pipe.
        let (r, w) = nix::unistd::pipe().unwrap();
        match crate::sys::fork().unwrap() {
            0 => {
                drop(r);
                let code = match fake_proc_child() {
                    Ok(()) => 0,
                    Err(e) => {
                        let _ = nix::unistd::write(&w, e.as_bytes());
                        1
                    }
                };
                crate::sys::exit_now(code)
            }
            pid => {
                drop(w);
                let mut msg = String::new();
                std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut msg).unwrap();
                let st = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
                assert!(msg.is_empty(), "{msg}");
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0));
            }
        }
    }

    fn fake_proc_child() -> Result<(), String> {
        use crate::sys;
        sys::unshare(libc::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
        sys::mount(None, Path::new("/"), None, libc::MS_PRIVATE | libc::MS_REC, None).map_err(|e| format!("private /: {e}"))?;
        sys::mount(Some(Path::new("tmpfs")), Path::new("/proc"), Some("tmpfs"), 0, None).map_err(|e| format!("tmpfs on /proc: {e}"))?;
        for f in ["self/attr/apparmor/exec", "self/attr/exec", "self/attr/keycreate"] {
            let p = Path::new("/proc").join(f);
            std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
            std::fs::write(&p, "").map_err(|e| e.to_string())?;
        }
        // A handle on the fake tree is refused (not a procfs).
        let fake = std::fs::File::open("/proc").map_err(|e| e.to_string())?;
        match ProcFs::from_fd(fake.into()) {
            Err(e) if e.to_string().contains("not a procfs") => {}
            other => return Err(format!("a handle on a tmpfs at /proc: {other:?}")),
        }
        // The verified handle (a private procfs instance) reaches the real attributes, which
        // refuse these labels on any host, whatever /proc shows: without the LSM (EINVAL), or
        // with it (no such profile loaded: ENOENT; no such SELinux context: EINVAL). The fake
        // files would take any write.
        let procfs = ProcFs::open().map_err(|e| format!("ProcFs::open with a tmpfs at /proc: {e}"))?;
        let p = process(serde_json::json!({"apparmorProfile": "hull-fake-never-loaded", "selinuxLabel": "hull_fake_never_defined_t"}));
        if set_exec_labels(&procfs, &p).is_ok() {
            return Err("the label write succeeded: it did not reach the real procfs".into());
        }
        if set_keyring_label(&procfs, &p).is_ok() {
            return Err("the keyring label write succeeded: it did not reach the real procfs".into());
        }
        for f in ["self/attr/apparmor/exec", "self/attr/exec", "self/attr/keycreate"] {
            let got = std::fs::read_to_string(Path::new("/proc").join(f)).map_err(|e| e.to_string())?;
            if !got.is_empty() {
                return Err(format!("the fake /proc/{f} was written: {got:?}"));
            }
        }
        Ok(())
    }
}
