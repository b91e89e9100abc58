//! procfs: a verified handle on /proc, through which every write to /proc goes.
//!
//! A container can mount or bind things over its own /proc, or race symlinks under it
//! (CVE-2019-16884, CVE-2019-19921, CVE-2025-52881). hull never writes to /proc by path
//! string: it uses a private procfs instance made with fsopen()/fsmount() (not reachable from
//! any mount namespace, so nothing can be mounted over it), or, where that is not allowed,
//! the host's /proc checked with fstatfs. Lookups below the handle refuse symlinks (except
//! `self`) and mount crossings.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::sys;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// A handle on a procfs whose identity has been checked.
#[derive(Debug)]
pub struct ProcFs {
    root: OwnedFd,
}

impl ProcFs {
    /// Opens a private procfs instance, or the host's /proc if a new instance can't be made
    /// (e.g. in a user namespace without its own PID namespace).
    pub fn open() -> io::Result<ProcFs> {
        let root = match Self::private() {
            Ok(fd) => fd,
            Err(_) => {
                let f = std::fs::File::open("/proc")?;
                OwnedFd::from(f)
            }
        };
        Self::from_fd(root)
    }

    /// A handle on the directory `root`, if it is the root of a procfs (anything else, such as
    /// a tmpfs with fake files mounted over /proc, is refused).
    pub fn from_fd(root: OwnedFd) -> io::Result<ProcFs> {
        if sys::fstatfs_magic(root.as_fd())? != PROC_SUPER_MAGIC {
            return Err(io::Error::other("/proc is not a procfs"));
        }
        Ok(ProcFs { root })
    }

    fn private() -> io::Result<OwnedFd> {
        let fs = sys::fsopen("proc")?;
        // A private instance only needs to show what hull looks at; hidepid/subset are not set
        // so /proc/<pid>/ of other processes (the container's init) stays visible.
        let mnt = sys::fsmount(fs.as_fd(), libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC)?;
        Ok(mnt)
    }

    /// The directory of this process (`self`), as seen by this procfs.
    fn self_dir(&self) -> io::Result<OwnedFd> {
        // `self` is the one symlink we follow: it is the kernel's own and stays below the handle.
        sys::openat2(
            self.root.as_fd(),
            Path::new("self"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV | libc::RESOLVE_NO_MAGICLINKS,
        )
    }

    /// Opens `rel` (e.g. `1234/uid_map`, `sys/net/ipv4/ip_forward`) below the handle.
    pub fn open_at(&self, rel: &Path, flags: i32) -> io::Result<std::fs::File> {
        let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        let fd = if let Ok(rest) = rel.strip_prefix("self") {
            let dir = self.self_dir()?;
            sys::openat2(dir.as_fd(), rest, flags, 0, resolve)?
        } else {
            sys::openat2(self.root.as_fd(), rel, flags, 0, resolve)?
        };
        Ok(std::fs::File::from(fd))
    }

    /// Writes `data` to a /proc file in one write(2), as procfs files expect.
    pub fn write(&self, rel: &str, data: &[u8]) -> io::Result<()> {
        let mut f = self.open_at(Path::new(rel), libc::O_WRONLY)?;
        f.write_all(data)
    }

    /// Reads a /proc file.
    pub fn read(&self, rel: &str) -> io::Result<String> {
        let mut f = self.open_at(Path::new(rel), libc::O_RDONLY)?;
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        Ok(s)
    }

    /// Re-opens an fd of this process through `self/fd/N` (the exec fifo, held as O_PATH).
    pub fn reopen_fd(&self, fd: BorrowedFd<'_>, flags: i32) -> io::Result<std::fs::File> {
        use std::os::fd::AsRawFd;
        let dir = self.self_dir()?;
        let fds = sys::openat2(
            dir.as_fd(),
            Path::new("fd"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV | libc::RESOLVE_NO_SYMLINKS,
        )?;
        // fd/N is a magic link by design: following it is what reopening means.
        let f = sys::openat2(fds.as_fd(), Path::new(&fd.as_raw_fd().to_string()), flags, 0, 0)?;
        Ok(std::fs::File::from(f))
    }

    /// Opens the namespace file `ns/<kind>` (`net`, `user`, ...) of `pid`, or of this process
    /// for `None`, and checks that it is one (nsfs).
    pub fn open_ns(&self, pid: Option<i32>, kind: &str) -> io::Result<OwnedFd> {
        const NSFS_MAGIC: i64 = 0x6e73_6673;
        let dir = match pid {
            Some(p) => sys::openat2(
                self.root.as_fd(),
                &Path::new(&p.to_string()).join("ns"),
                libc::O_PATH | libc::O_DIRECTORY,
                0,
                libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV | libc::RESOLVE_NO_SYMLINKS,
            )?,
            None => {
                let me = self.self_dir()?;
                sys::openat2(
                    me.as_fd(),
                    Path::new("ns"),
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
                )?
            }
        };
        // ns/<kind> is a magic link by design: following it is what opening a namespace means.
        // (It leads to the nsfs mount, so no RESOLVE_* restriction can apply; nsfs is checked.)
        if kind.contains('/') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a namespace name"));
        }
        let f = sys::openat2(dir.as_fd(), Path::new(kind), libc::O_RDONLY, 0, 0)?;
        if sys::fstatfs_magic(f.as_fd())? != NSFS_MAGIC {
            return Err(io::Error::other(format!("ns/{kind} is not a namespace file")));
        }
        Ok(f)
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_status_and_refuses_symlinks() {
        let p = ProcFs::open().unwrap();
        assert!(p.read("self/status").unwrap().contains("Pid:"));
        // /proc/mounts is a symlink to self/mounts: refused below the handle.
        assert!(p.open_at(Path::new("mounts"), libc::O_RDONLY).is_err());
        assert!(p.read("sys/kernel/ostype").unwrap().starts_with("Linux"));
    }
}
