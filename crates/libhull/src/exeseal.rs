//! exeseal: keep the hull binary unwritable from inside a container (CVE-2019-5736).
//!
//! hull does not re-exec an init binary: the container's init is a clone of the hull process,
//! so until it execs the user's program its /proc/<pid>/exe is hull's own binary, and a
//! `#!/proc/self/exe` entrypoint would run hull inside the container. If a container could
//! open that file for writing, it could replace the host's runtime.
//!
//! The defence costs no copy: before a command that makes container processes, hull checks
//! that the binary it runs from sits on a read-only mount. If not, it makes a detached,
//! read-only bind mount of its own binary (open_tree + mount_setattr, reachable from no mount
//! namespace) and re-executes itself from it once. Every container process then inherits an
//! exe on a read-only mount: opening it for writing fails with EROFS. When hull is installed
//! on a read-only filesystem (or already runs from such a mount) nothing is done.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::sys;

/// Ensures the running binary is on a read-only mount, re-executing from a sealed view if
/// needed. Returns only when the binary is safe (or when sealing is impossible here, e.g.
/// without CAP_SYS_ADMIN, in which case the reason is returned for the debug log).
pub fn ensure_sealed() -> Result<(), String> {
    let Some(tree) = sealed_view()? else { return Ok(()) };
    let argv: Vec<CString> = std::env::args_os().filter_map(|a| CString::new(a.as_bytes()).ok()).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    Err(format!("re-exec from a read-only view of the binary failed: {}", sys::execveat_fd(tree.as_fd(), &argv, &envp)))
}

/// `None` when the running binary already sits on a read-only mount; else a detached,
/// read-only bind mount of it to re-execute from.
fn sealed_view() -> Result<Option<std::os::fd::OwnedFd>, String> {
    let exe =
        sys::openat2(nix::fcntl::AT_FDCWD, Path::new("/proc/self/exe"), libc::O_PATH, 0, 0).map_err(|e| format!("/proc/self/exe: {e}"))?;
    let flags = sys::fstatvfs_flags(exe.as_fd()).map_err(|e| format!("statvfs(/proc/self/exe): {e}"))?;
    if flags & libc::ST_RDONLY != 0 {
        return Ok(None);
    }
    let tree = sys::open_tree(exe.as_fd(), Path::new(""), libc::OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32)
        .map_err(|e| format!("open_tree(/proc/self/exe): {e}"))?;
    sys::mount_setattr(tree.as_fd(), false, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV, 0, 0)
        .map_err(|e| format!("mount_setattr: {e}"))?;
    Ok(Some(tree))
}

/// [`ensure_sealed`] for an ELF constructor (`.init_array`), which runs before the Rust
/// runtime and `main`: the process that is about to be replaced spends nothing on argument
/// parsing, the runtime's set-up or copies of argv and the environment, which are handed to
/// execveat as the kernel gave them. Returns when the binary is already sealed or sealing
/// fails (`ensure_sealed` in `main` then says why, in the debug log).
///
/// # Safety
/// `argv` and `envp` must be the NULL-terminated arrays the process started with (glibc
/// passes them to `.init_array` functions).
pub unsafe fn reexec_sealed_early(argv: *const *const libc::c_char, envp: *const *const libc::c_char) {
    if let Ok(Some(tree)) = sealed_view() {
        // SAFETY: NULL-terminated arrays of C strings from the kernel (the caller's contract);
        // on success this does not return.
        unsafe { libc::syscall(libc::SYS_execveat, tree.as_raw_fd(), c"".as_ptr(), argv, envp, libc::AT_EMPTY_PATH) };
    }
}
