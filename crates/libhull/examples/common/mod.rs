//! What the examples share: a scratch directory with a busybox root filesystem, bundles made
//! from hull's default config, and a root directory for the containers' state. Dropping the
//! `Scratch` deletes its containers and removes the directory.
//!
//! Each example checks what it did and exits non-zero when something is not as expected, so
//! they double as tests (`crates/libhull/tests/examples.rs` runs them as root).

// Each example uses only some of these.
#![allow(dead_code)]

use std::fmt::Display;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libhull::Runtime;
use serde_json::{json, Value};

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The busybox applets linked into the root filesystem.
const APPLETS: &[&str] = &["sh", "true", "echo", "sleep", "cat", "tail", "dd", "head", "ps", "rm", "sync", "grep"];

pub struct Scratch {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub runtime: Runtime,
    name: String,
}

impl Scratch {
    /// A new scratch directory for the example `name`, with a root filesystem made from the
    /// host's static busybox (Debian's busybox-static).
    pub fn new(name: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("hull-example-{name}-{}", std::process::id()));
        let rootfs = dir.join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d))?;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or("busybox not found: apt-get install busybox-static")?;
        std::fs::copy(busybox, rootfs.join("bin/busybox"))?;
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a))?;
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
        let runtime = Runtime::new(dir.join("state"));
        Ok(Scratch { dir, rootfs, runtime, name: name.to_string() })
    }

    /// A bundle `dir/<bundle>` whose process runs `args` without a terminal, in a cgroup of
    /// its own (`cgroups_path`); `edit` changes anything else in the config first.
    pub fn bundle(&self, bundle: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> Result<PathBuf> {
        let mut config: Value = serde_json::from_str(&libhull::spec::example::example_config(false))?;
        config["root"] = json!({"path": self.rootfs, "readonly": false});
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["linux"]["cgroupsPath"] = json!(self.cgroups_path(bundle));
        edit(&mut config);
        let path = self.dir.join(bundle);
        std::fs::create_dir_all(&path)?;
        std::fs::write(path.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
        Ok(path)
    }

    /// The cgroup path of the bundle `bundle`, unique to this run.
    pub fn cgroups_path(&self, bundle: &str) -> String {
        format!("/hull-example-{}-{bundle}-{}", self.name, std::process::id())
    }

    /// A container id unique to this run.
    pub fn id(&self, what: &str) -> String {
        format!("{}-{what}-{}", self.name, std::process::id())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for c in self.runtime.list().unwrap_or_default() {
            let _ = self.runtime.delete(&c.id, true);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An error saying `what` unless `ok`.
pub fn check(ok: bool, what: impl Display) -> Result {
    if ok {
        println!("ok: {what}");
        Ok(())
    } else {
        Err(format!("FAILED: {what}").into())
    }
}

/// Waits for a child of this process (a container's init, or an exec'd process): its exit
/// code, or 128 + the signal that killed it, as a shell reports it.
pub fn wait_exit(pid: i32) -> Result<i32> {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None)? {
            WaitStatus::Exited(_, code) => return Ok(code),
            WaitStatus::Signaled(_, sig, _) => return Ok(128 + sig as i32),
            _ => continue,
        }
    }
}

/// A pipe: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe()?)
}

/// Everything until EOF on `fd`, as text.
pub fn read_all(fd: OwnedFd) -> Result<String> {
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text)?;
    Ok(text)
}

/// /dev/null, for stdin or an unwanted output.
pub fn dev_null() -> Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?.into())
}
