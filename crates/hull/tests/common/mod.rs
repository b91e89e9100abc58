//! Shared helpers for hull's integration tests: build a busybox bundle, run the runtime binary
//! with a private `--root`, and read what happened. Each test states only what is special about it.
//!
//! `HULL_TEST_BIN` points the tests at another runtime binary (e.g. /usr/sbin/runc), so a test's
//! expectations can be checked against runc, the reference.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The runtime binary under test.
pub fn hull_bin() -> PathBuf {
    match std::env::var_os("HULL_TEST_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_hull")),
    }
}

/// A unique name for this test process and call: usable as a container id and directory name.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Integration tests start real containers and need root; the caller skips (and says so) otherwise.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("SKIPPED: this test starts real containers and must run as root");
        false
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join("hull-tests").join(unique(prefix));
        std::fs::create_dir_all(&p).expect("make temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The busybox applets linked into every test rootfs.
const APPLETS: &[&str] = &[
    "sh", "true", "false", "echo", "sleep", "cat", "ls", "id", "ps", "mount", "hostname", "env", "pwd", "stat",
    "touch", "mkdir", "rm", "grep", "head", "tail", "wc", "readlink", "ln", "test", "[", "umask", "printf",
    "uname", "kill", "chmod", "dd", "sed", "awk", "tr", "cut", "sort", "seq", "nproc", "date", "realpath",
];

/// A bundle: `rootfs/` with a static busybox, and `config.json` made by the runtime's `spec`
/// command with `terminal: false`. Edit `config` and call `save()`.
pub struct Bundle {
    pub dir: TempDir,
    pub config: serde_json::Value,
}

impl Bundle {
    /// A bundle whose process runs `args`.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("bundle");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
        }
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).expect("copy busybox");
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).expect("symlink applet");
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let out = Command::new(hull_bin()).args(["spec", "--bundle"]).arg(dir.path()).output().expect("run spec");
        assert!(out.status.success(), "spec failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(dir.path().join("config.json")).expect("read config.json");
        let mut config: serde_json::Value = serde_json::from_str(&text).expect("parse config.json");
        config["process"]["terminal"] = serde_json::Value::Bool(false);
        config["process"]["args"] = serde_json::json!(args);
        let b = Bundle { dir, config };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Writes `config` to config.json.
    pub fn save(&self) {
        std::fs::write(self.path().join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).expect("write config.json");
    }
}

/// The static busybox on the host (Debian's busybox-static).
pub fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox not found: apt-get install busybox-static");
}

/// A runtime with its own `--root`, so tests never see each other's containers.
pub struct Runtime {
    pub root: TempDir,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    pub fn new() -> Runtime {
        Runtime { root: TempDir::new("root") }
    }

    /// A command for the runtime with `--root` set; add arguments and run it.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(hull_bin());
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Runs the runtime with `args`, stdin closed, capturing output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().expect("spawn runtime")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed ({:?}):\nstdout: {}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `run --bundle B id`: the container's output and exit status, the container deleted after.
    pub fn run_bundle(&self, b: &Bundle) -> Output {
        let id = unique("run");
        let out = self.cmd().args(["run", "--bundle"]).arg(b.path()).arg(&id).stdin(Stdio::null()).output().expect("spawn run");
        let _ = self.run(&["delete", "--force", &id]);
        out
    }

    /// `run` that must succeed: returns stdout.
    pub fn run_ok(&self, b: &Bundle) -> String {
        let out = self.run_bundle(b);
        assert!(out.status.success(), "run failed ({:?}):\nstdout: {}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `state` JSON of a container.
    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Leave nothing behind even when a test fails half-way.
        if let Ok(rd) = std::fs::read_dir(self.root.path()) {
            for e in rd.flatten() {
                if let Some(id) = e.file_name().to_str() {
                    let _ = Command::new(hull_bin()).arg("--root").arg(self.root.path()).args(["delete", "--force", id]).output();
                }
            }
        }
    }
}
