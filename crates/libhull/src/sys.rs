//! The raw syscall layer: every `unsafe` call of the library that is not a plain libc
//! convenience lives here, each with what it does and why.
//!
//! Everything above this module is safe Rust working on `OwnedFd`s. The wrappers return
//! `std::io::Error` (errno); callers wrap it into their module's error with the path or field.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cstr(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

pub fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string contains a NUL byte"))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = check(ret)?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// openat2(2): open `path` relative to `dir` with `resolve` restrictions
/// (RESOLVE_IN_ROOT keeps every symlink and `..` inside `dir`).
pub fn openat2(dir: BorrowedFd<'_>, path: &Path, flags: i32, mode: u32, resolve: u64) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    let mut how: libc::open_how = unsafe_zeroed_open_how();
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 { mode as u64 } else { 0 };
    how.resolve = resolve;
    loop {
        // SAFETY: `c` is a valid NUL-terminated string and `how` a valid open_how of the
        // size we pass; the kernel only reads them.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match check_fd(ret) {
            // openat2 returns EAGAIN when a concurrent rename may have raced the lookup.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            r => return r,
        }
    }
}

fn unsafe_zeroed_open_how() -> libc::open_how {
    // SAFETY: open_how is a plain C struct of integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// CLONE_INTO_CGROUP (libc's constant is deprecated for overflowing a c_int).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The arguments of clone3(2) that hull uses.
pub struct Clone3 {
    pub flags: u64,
    /// A cgroup v2 directory fd for CLONE_INTO_CGROUP.
    pub cgroup: Option<RawFd>,
    /// Where the kernel stores a pidfd of the child (CLONE_PIDFD).
    pub want_pidfd: bool,
}

/// clone3(2) without a new stack: like fork(), the child continues on a copy of the caller's
/// stack. Returns `(0, None)` in the child and `(pid, pidfd)` in the parent.
///
/// The caller must be single-threaded (hull's CLI is, by design), so the child's copy of the
/// heap and of libc's locks is consistent.
pub fn clone3(args: &Clone3) -> io::Result<(i32, Option<OwnedFd>)> {
    let mut pidfd: RawFd = -1;
    let mut ca: libc::clone_args = {
        // SAFETY: clone_args is plain integers; zero is the documented "unused" value.
        unsafe { std::mem::zeroed() }
    };
    let mut flags = args.flags;
    if args.want_pidfd {
        flags |= libc::CLONE_PIDFD as u64;
        ca.pidfd = &mut pidfd as *mut RawFd as u64;
    }
    if let Some(cg) = args.cgroup {
        flags |= CLONE_INTO_CGROUP;
        ca.cgroup = cg as u64;
    }
    ca.flags = flags;
    // With CLONE_PARENT the child inherits our exit signal; clone3 wants 0 here.
    ca.exit_signal = if flags & libc::CLONE_PARENT as u64 != 0 { 0 } else { libc::SIGCHLD as u64 };
    // SAFETY: no stack is given, so the child runs on a copy-on-write copy of our stack,
    // exactly like fork(); `ca` outlives the call and `pidfd` is written by the kernel.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut ca as *mut libc::clone_args, std::mem::size_of::<libc::clone_args>()) };
    let pid = check(ret)? as i32;
    if pid == 0 {
        return Ok((0, None));
    }
    let fd = if args.want_pidfd && pidfd >= 0 {
        // SAFETY: CLONE_PIDFD made the kernel store a fresh descriptor that we now own.
        Some(unsafe { OwnedFd::from_raw_fd(pidfd) })
    } else {
        None
    };
    Ok((pid, fd))
}

/// fork(2) for the cases that need a plain second process (a hook, a PID-namespace init).
pub fn fork() -> io::Result<i32> {
    // SAFETY: hull is single-threaded wherever it forks, so the child is consistent.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}

/// open_tree(2): a detached copy (OPEN_TREE_CLONE) of the mount at `path` under `dir`.
pub fn open_tree(dir: BorrowedFd<'_>, path: &Path, flags: u32) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    // SAFETY: valid fd and C string; the kernel returns a new descriptor.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), c.as_ptr(), flags | libc::OPEN_TREE_CLOEXEC) };
    check_fd(ret)
}

/// move_mount(2) from the detached mount `from` onto the directory or file `to` (both fds).
pub fn move_mount_fd(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    let empty = c"";
    // SAFETY: both fds are valid for the call; empty paths with *_EMPTY_PATH mean "the fd itself".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check(ret).map(|_| ())
}

/// mount_setattr(2) on the mount that `fd` refers to.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, set: u64, clr: u64, propagation: u64) -> io::Result<()> {
    let mut attr: libc::mount_attr = {
        // SAFETY: plain integers.
        unsafe { std::mem::zeroed() }
    };
    attr.attr_set = set;
    attr.attr_clr = clr;
    attr.propagation = propagation;
    mount_setattr_raw(fd, recursive, &mut attr)
}

/// The mount_setattr(2) call itself, on `fd` (AT_EMPTY_PATH), optionally recursive.
fn mount_setattr_raw(fd: BorrowedFd<'_>, recursive: bool, attr: &mut libc::mount_attr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let empty = c"";
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, `attr` is valid for its size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    check(ret).map(|_| ())
}

/// fsopen(2): a new filesystem context of type `fstype`.
pub fn fsopen(fstype: &str) -> io::Result<OwnedFd> {
    let c = cstring(fstype)?;
    // SAFETY: valid C string.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, c.as_ptr(), libc::FSOPEN_CLOEXEC) };
    check_fd(ret)
}

/// fsconfig(2) with FSCONFIG_SET_FLAG (`value == None`) or FSCONFIG_SET_STRING.
pub fn fsconfig_set(fs: BorrowedFd<'_>, key: &str, value: Option<&str>) -> io::Result<()> {
    let k = cstring(key)?;
    let v = value.map(cstring).transpose()?;
    let (cmd, vptr) = match &v {
        Some(v) => (libc::FSCONFIG_SET_STRING, v.as_ptr()),
        None => (libc::FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: valid fd and C strings that outlive the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, k.as_ptr(), vptr, 0) };
    check(ret).map(|_| ())
}

/// fsconfig(FSCONFIG_CMD_CREATE) then fsmount(2): a detached mount of the configured filesystem.
pub fn fsmount(fs: BorrowedFd<'_>, attr_flags: u64) -> io::Result<OwnedFd> {
    // SAFETY: valid fd; CMD_CREATE takes no key or value.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    check(ret)?;
    // SAFETY: valid fd; the kernel returns a new mount fd.
    let ret = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), libc::FSMOUNT_CLOEXEC, attr_flags) };
    check_fd(ret)
}

/// Reads the error log of a filesystem context after a failed fsconfig, if the kernel left one.
pub fn fs_context_message(fs: BorrowedFd<'_>) -> Option<String> {
    let mut buf = [0u8; 512];
    // SAFETY: reading into a buffer we own, of the length we pass.
    let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return None;
    }
    let s = String::from_utf8_lossy(&buf[..n as usize]).trim().to_string();
    Some(s.strip_prefix("e ").unwrap_or(&s).to_string())
}

/// Classic mount(2), used only where the new mount API has no equivalent
/// (changing the propagation of an existing tree by path during setup).
pub fn mount(src: Option<&Path>, target: &Path, fstype: Option<&str>, flags: u64, data: Option<&str>) -> io::Result<()> {
    let s = src.map(cstr).transpose()?;
    let t = cstr(target)?;
    let f = fstype.map(cstring).transpose()?;
    let d = data.map(cstring).transpose()?;
    // SAFETY: all pointers are NULL or valid C strings that outlive the call.
    let ret = unsafe {
        libc::mount(
            s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            t.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags as libc::c_ulong,
            d.as_ref().map_or(std::ptr::null(), |c| c.as_ptr().cast()),
        )
    };
    check(ret as libc::c_long).map(|_| ())
}

/// umount2(2).
pub fn umount2(target: &Path, flags: i32) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid C string.
    let ret = unsafe { libc::umount2(t.as_ptr(), flags) };
    check(ret as libc::c_long).map(|_| ())
}

/// pivot_root(".", "."): used after fchdir() into the new root; the old root ends up on top of
/// the new one and is detached right after by the caller.
pub fn pivot_root_dot() -> io::Result<()> {
    let dot = c".";
    // SAFETY: both arguments are the valid C string ".".
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    check(ret).map(|_| ())
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: every fd from `first` up is closed at execve.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: only changes descriptor flags of this process.
    let ret = unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    check(ret as libc::c_long).map(|_| ())
}

/// Closes every fd from `first` up now.
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: closes descriptors of this process; no Rust object may own them afterwards,
    // which callers guarantee by calling this only right before execve.
    let ret = unsafe { libc::close_range(first, u32::MAX, 0) };
    check(ret as libc::c_long).map(|_| ())
}

/// Clears FD_CLOEXEC so `fd` survives execve (preserved and LISTEN_FDS descriptors).
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD only touch descriptor flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) };
    check(ret as libc::c_long).map(|_| ())
}

/// The length of the next datagram or packet queued on `fd` (SOCK_SEQPACKET, SOCK_DGRAM,
/// netlink), left in the queue: `recv(MSG_PEEK | MSG_TRUNC)` with no buffer returns the whole
/// length. 0 means end of file on a connected socket. Lets a reader allocate exactly what the
/// packet needs instead of zeroing a buffer for the largest possible one on every message.
pub fn next_packet_len(fd: RawFd) -> io::Result<usize> {
    loop {
        // SAFETY: a zero-length buffer is never written to; the flags only peek.
        let n = unsafe { libc::recv(fd, std::ptr::null_mut(), 0, libc::MSG_PEEK | libc::MSG_TRUNC) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Whether `fd` is an open descriptor of this process (fcntl F_GETFD).
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads descriptor flags; an unused number fails with EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: no pointers.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check_fd(ret)
}

/// pidfd_send_signal(2): signal the process behind the pidfd, immune to pid reuse.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: valid fd; NULL siginfo means "as kill(2) would".
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0) };
    check(ret).map(|_| ())
}

/// execve(2) of `path` with `argv` and `envp`; returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// execveat(fd, "", AT_EMPTY_PATH): execute the file an fd refers to (used to run hull from a
/// read-only view of its own binary).
pub fn execveat_fd(fd: BorrowedFd<'_>, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    let empty = c"";
    // SAFETY: NULL-terminated arrays of valid C strings; the fd is valid.
    unsafe { libc::syscall(libc::SYS_execveat, fd.as_raw_fd(), empty.as_ptr(), a.as_ptr(), e.as_ptr(), libc::AT_EMPTY_PATH) };
    io::Error::last_os_error()
}

/// mknodat(2).
pub fn mknodat(dir: BorrowedFd<'_>, name: &Path, mode: u32, dev: u64) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid fd and C string.
    let ret = unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t, dev as libc::dev_t) };
    check(ret as libc::c_long).map(|_| ())
}

/// fchownat(fd, "", AT_EMPTY_PATH): chown what the fd refers to (an O_PATH fd works).
pub fn fchown_fd(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    let empty = c"";
    // SAFETY: valid fd and empty path with AT_EMPTY_PATH.
    let ret = unsafe { libc::fchownat(fd.as_raw_fd(), empty.as_ptr(), uid, gid, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) };
    check(ret as libc::c_long).map(|_| ())
}

/// fstat(2) on any fd, including O_PATH ones.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let empty = c"";
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, `st` is writable.
    let ret = unsafe { libc::fstatat(fd.as_raw_fd(), empty.as_ptr(), &mut st, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) };
    check(ret as libc::c_long).map(|_| st)
}

/// fstatfs(2): the filesystem magic of what `fd` refers to.
pub fn fstatfs_magic(fd: BorrowedFd<'_>) -> io::Result<i64> {
    // SAFETY: zeroed statfs is a valid out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and writable buffer.
    let ret = unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) };
    check(ret as libc::c_long).map(|_| st.f_type as i64)
}

/// fsetxattr(2): sets the extended attribute `name` of what `fd` refers to (not an O_PATH fd).
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let n = cstring(name)?;
    // SAFETY: valid fd, C string and buffer of the length we pass; the kernel only reads them.
    let ret = unsafe { libc::fsetxattr(fd.as_raw_fd(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    check(ret as libc::c_long).map(|_| ())
}

/// fstatvfs(2) flags (ST_RDONLY, ...).
pub fn fstatvfs_flags(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: zeroed statvfs is a valid out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and writable buffer.
    let ret = unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) };
    check(ret as libc::c_long).map(|_| st.f_flag as u64)
}

/// setns(2).
pub fn setns(fd: BorrowedFd<'_>, nstype: i32) -> io::Result<()> {
    // SAFETY: valid fd.
    let ret = unsafe { libc::setns(fd.as_raw_fd(), nstype) };
    check(ret as libc::c_long).map(|_| ())
}

/// unshare(2).
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: no pointers.
    let ret = unsafe { libc::unshare(flags) };
    check(ret as libc::c_long).map(|_| ())
}

/// prctl(2) with integer arguments.
pub fn prctl(option: i32, arg2: u64, arg3: u64) -> io::Result<i32> {
    // SAFETY: every option hull uses takes integer arguments only.
    let ret = unsafe { libc::prctl(option, arg2 as libc::c_ulong, arg3 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    check(ret as libc::c_long).map(|r| r as i32)
}

/// ioprio_set(2) for the calling process.
pub fn ioprio_set_self(value: i32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    check(ret).map(|_| ())
}

/// personality(2).
pub fn personality(persona: u64) -> io::Result<()> {
    // SAFETY: integer argument only.
    let ret = unsafe { libc::personality(persona as libc::c_ulong) };
    check(ret as libc::c_long).map(|_| ())
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr_self(policy: u32, flags: u64, nice: i32, priority: u32, runtime: u64, deadline: u64, period: u64) -> io::Result<()> {
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority,
        sched_runtime: runtime,
        sched_deadline: deadline,
        sched_period: period,
    };
    // SAFETY: `attr` is a valid sched_attr (VER0 layout) whose size field says so.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    check(ret).map(|_| ())
}

/// ioctl(TIOCGPTPEER): open the peer (slave) of a pty master without a path lookup.
pub fn tiocgptpeer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags as an integer argument and returns a new fd.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    check_fd(ret as libc::c_long)
}

/// unlockpt(3) on a pty master.
pub fn unlockpt(master: BorrowedFd<'_>) -> io::Result<()> {
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer we pass.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) };
    check(ret as libc::c_long).map(|_| ())
}

/// ioctl(TIOCSCTTY): make `fd` our controlling terminal.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: integer argument.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    check(ret as libc::c_long).map(|_| ())
}

/// ioctl(TIOCSWINSZ).
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    check(ret as libc::c_long).map(|_| ())
}

/// ioctl(TIOCGWINSZ).
pub fn get_winsize(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    // SAFETY: zeroed winsize is a valid out-parameter.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize to the pointer.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    check(ret as libc::c_long).map(|_| (ws.ws_row, ws.ws_col))
}

/// dup2(2) without touching Rust ownership (used for stdio right before execve).
pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: only changes the descriptor table; `to` is a stdio number no Rust object owns.
    let ret = unsafe { libc::dup2(from, to) };
    check(ret as libc::c_long).map(|_| ())
}

/// _exit(2): leave a forked child without running the parent's destructors or atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: always safe; ends the process.
    unsafe { libc::_exit(code) }
}

/// if_nametoindex(3): the ifindex of a network device in our network namespace.
pub fn if_nametoindex(name: &str) -> io::Result<i32> {
    let c = cstring(name)?;
    // SAFETY: `c` is a valid C string; the call only reads it.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx as i32)
    }
}

/// A CPU or NUMA node mask as the kernel reads it: 64-bit words, bit N = CPU/node N.
pub type BitMask = Vec<u64>;

/// sched_setaffinity(2) for `pid` (0: the calling thread).
pub fn sched_setaffinity(pid: i32, mask: &BitMask) -> io::Result<()> {
    // SAFETY: the kernel reads `len` bytes of `mask`, which is exactly its size.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setaffinity, pid, std::mem::size_of_val(mask.as_slice()), mask.as_ptr()) };
    check(ret).map(|_| ())
}

/// sched_getaffinity(2) for `pid` (0: the calling thread).
pub fn sched_getaffinity(pid: i32) -> io::Result<BitMask> {
    // 8192 CPUs, more than any kernel's NR_CPUS default.
    let mut mask: BitMask = vec![0; 128];
    // SAFETY: the kernel writes at most `len` bytes into `mask`, which has that size.
    let ret = unsafe { libc::syscall(libc::SYS_sched_getaffinity, pid, std::mem::size_of_val(mask.as_slice()), mask.as_mut_ptr()) };
    check(ret).map(|_| mask)
}

/// set_mempolicy(2) for the calling thread: `mode` with its MPOL_F_* flags, and a node mask
/// (empty for the modes that take none).
pub fn set_mempolicy(mode: i32, nodes: &BitMask) -> io::Result<()> {
    // The kernel reads one bit fewer than `maxnode` says (see set_mempolicy(2), BUGS-like note
    // in get_nodes()): one more than the mask's bits makes it read exactly the mask.
    let (ptr, maxnode) = if nodes.is_empty() { (std::ptr::null(), 0) } else { (nodes.as_ptr(), nodes.len() * 64 + 1) };
    // SAFETY: the kernel reads `maxnode` bits from `ptr`, which `nodes` holds (or none).
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode as libc::c_ulong) };
    check(ret).map(|_| ())
}

/// mount_setattr(2) with MOUNT_ATTR_IDMAP: the detached mount `fd` shows its ids through the
/// mappings of the user namespace `userns`.
pub fn mount_setattr_idmap(fd: BorrowedFd<'_>, recursive: bool, userns: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr: libc::mount_attr = {
        // SAFETY: plain integers.
        unsafe { std::mem::zeroed() }
    };
    attr.attr_set = libc::MOUNT_ATTR_IDMAP;
    attr.userns_fd = userns.as_raw_fd() as u64;
    mount_setattr_raw(fd, recursive, &mut attr)
}

/// One eBPF instruction (`struct bpf_insn`): opcode, dst register (low nibble) and src register
/// (high nibble) of `regs`, a jump offset and an immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// bpf(2) commands, program and attach types, flags (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub const BPF_CGROUP_DEVICE: u32 = 6;
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr` as a zeroed 128-byte buffer with the fields a command uses written at
/// their offsets. Always passing 128 bytes (zeros past the fields) works on every kernel: an
/// older one checks that what it does not know is zero, and a newer one that writes more
/// than the command's fields (BPF_PROG_QUERY's revision since 6.17) writes inside it.
#[repr(C, align(8))]
struct BpfAttr([u8; 128]);

impl BpfAttr {
    fn new() -> Self {
        BpfAttr([0; 128])
    }
    fn u32_at(mut self, off: usize, v: u32) -> Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64_at(mut self, off: usize, v: u64) -> Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes([self.0[off], self.0[off + 1], self.0[off + 2], self.0[off + 3]])
    }
}

/// bpf(2) with `attr`; the pointers inside `attr` must be valid for the call (the callers keep
/// what they point to alive across it).
fn bpf(cmd: libc::c_long, attr: &mut BpfAttr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a writable 128-byte buffer of the size passed; the kernel reads the
    // command's fields (and writes BPF_PROG_QUERY's results) inside it. Every pointer a caller
    // put in it refers to memory that outlives this call, of the length given beside it.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut BpfAttr, std::mem::size_of::<BpfAttr>()) };
    check(ret)
}

/// BPF_PROG_LOAD: loads `insns` as a program of `prog_type`. When the verifier refuses it,
/// loads again with a 64 KiB log and puts the log in the error.
pub fn bpf_prog_load(prog_type: u32, insns: &[BpfInsn], license: &CStr) -> io::Result<OwnedFd> {
    let cnt = u32::try_from(insns.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    // prog_type, insn_cnt, insns, license; log_level, log_size, log_buf at 24, 28, 32.
    let base = || BpfAttr::new().u32_at(0, prog_type).u32_at(4, cnt).u64_at(8, insns.as_ptr() as u64).u64_at(16, license.as_ptr() as u64);
    match bpf(BPF_PROG_LOAD, &mut base()) {
        // SAFETY: BPF_PROG_LOAD returned a new descriptor that nobody else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        Err(first) => {
            let mut log = vec![0u8; 64 * 1024];
            let mut attr = base().u32_at(24, 1).u32_at(28, log.len() as u32).u64_at(32, log.as_mut_ptr() as u64);
            if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut attr) {
                // SAFETY: as above.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
            }
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            if text.is_empty() {
                Err(first)
            } else {
                Err(io::Error::new(first.kind(), format!("{first}; verifier log: {text}")))
            }
        }
    }
}

/// BPF_PROG_ATTACH: attaches `prog` to the cgroup `target` for `attach_type`.
pub fn bpf_prog_attach(target: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32, flags: u32) -> io::Result<()> {
    // target_fd, attach_bpf_fd, attach_type, attach_flags.
    let mut attr =
        BpfAttr::new().u32_at(0, target.as_raw_fd() as u32).u32_at(4, prog.as_raw_fd() as u32).u32_at(8, attach_type).u32_at(12, flags);
    bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
}

/// BPF_PROG_DETACH: detaches `prog` (attached with BPF_F_ALLOW_MULTI) from the cgroup `target`.
pub fn bpf_prog_detach(target: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32) -> io::Result<()> {
    let mut attr = BpfAttr::new().u32_at(0, target.as_raw_fd() as u32).u32_at(4, prog.as_raw_fd() as u32).u32_at(8, attach_type);
    bpf(BPF_PROG_DETACH, &mut attr).map(|_| ())
}

/// BPF_PROG_QUERY: the ids of the programs attached directly to the cgroup `target` for
/// `attach_type` (not the inherited ones).
pub fn bpf_prog_query(target: BorrowedFd<'_>, attach_type: u32) -> io::Result<Vec<u32>> {
    // A cgroup holds at most 64 programs an attach type; ENOSPC would say how many there are.
    let mut ids = vec![0u32; 64];
    loop {
        // target_fd, attach_type, query_flags, attach_flags (out), prog_ids, prog_cnt (in/out).
        let mut attr = BpfAttr::new()
            .u32_at(0, target.as_raw_fd() as u32)
            .u32_at(4, attach_type)
            .u64_at(16, ids.as_mut_ptr() as u64)
            .u32_at(24, ids.len() as u32);
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.get_u32(24) as usize);
                return Ok(ids);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && (attr.get_u32(24) as usize) > ids.len() => {
                ids = vec![0u32; attr.get_u32(24) as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// BPF_PROG_GET_FD_BY_ID: a descriptor of the loaded program `id`.
pub fn bpf_prog_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = BpfAttr::new().u32_at(0, id);
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Reads a /proc (or other pseudo-) file whole. Such files report size 0, so
/// `fs::read_to_string` starts with a 32-byte read and doubles: eight reads for a mountinfo.
/// One 8 KiB buffer takes most in one read (and a second that returns 0).
pub fn read_proc_text(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(8192);
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
