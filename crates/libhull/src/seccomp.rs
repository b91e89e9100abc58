//! seccomp: `linux.seccomp` (runtime-spec config-linux.md#seccomp) turned into a BPF program and
//! loaded into the container's process.
//!
//! Three steps, each on its side of the clone:
//! - `validate` (part of the plan, before any side effect): every field that can be wrong is
//!   checked and named by its JSON path. Names of actions, operators, architectures and flags
//!   are already checked by the typed parse of config.json (an unknown one fails there, with its
//!   path, e.g. `linux.seccomp.syscalls[3].action`).
//! - `compile` (in hull, before the clone): libseccomp builds the filter and exports it as BPF.
//!   Syscall names libseccomp does not know are skipped, as runc skips them (a profile lists
//!   syscalls newer than this libseccomp, and an unknown one cannot be called anyway).
//! - `Filter::load` (in the container's process, as late as possible before execve): one
//!   seccomp(2) call, no libseccomp and no allocation in the child.
//!
//! Cost: compiling podman's default profile (437 syscall names, 3 architectures, 1144 BPF
//! instructions) takes 10 to 15 ms in a release build on this project's 2-core machine (the
//! `compile_cost_of_podman_profile` test prints it), so compiled programs are cached, keyed by
//! the section, the libseccomp version and the kernel; a hit costs about 20 us. See
//! `seccomp_cache`.

use std::io::{Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall};

use crate::spec::{invalid, SpecError};

/// Errors of compiling or loading a filter (validation errors are `SpecError`s).
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("{field}: {reason}")]
    Compile { field: String, reason: String },
    #[error("linux.seccomp: exporting the BPF program: {0}")]
    Export(std::io::Error),
    #[error("linux.seccomp: loading the filter (seccomp(2), flags {flags:#x}): {source}")]
    Load { flags: libc::c_ulong, source: std::io::Error },
}

/// Linux system calls have at most 6 arguments.
const MAX_ARGS: usize = 6;

/// The longest program the kernel loads (BPF_MAXINSNS).
const BPF_MAXINSNS: usize = 4096;

/// An errno or trace value lives in the 16 bits of SECCOMP_RET_DATA.
const MAX_RET_DATA: u32 = 0xffff;

/// Hull's parent/child channel sends the notify fd with sendmsg(2), right after the filter is
/// loaded: if that call waited for the seccomp agent, the agent could never get the fd. (runc
/// refuses `write` for the same reason, its channel being a pipe.)
const NOTIFY_FORBIDDEN: [&str; 1] = ["sendmsg"];

/// Every action name, sorted (for `hull features`).
pub const ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Every operator name, sorted (for `hull features`).
pub const OPERATORS: [&str; 7] =
    ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"];

/// Every filter flag hull knows, in runc's order. TSYNC is accepted and ignored, as runc does: the
/// process loading the filter has one thread.
pub const KNOWN_FLAGS: [&str; 4] =
    ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"];

/// Every architecture the config format names; `supported_archs` says which work here.
const ALL_ARCHS: [Arch; 24] = [
    Arch::ScmpArchNative,
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

/// The libseccomp token of an architecture.
fn scmp_arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Why a filter built here cannot cover `a`, if it cannot: libseccomp 2.5.4 lacks loongarch64,
/// m68k and SuperH (2.6 added them), and one filter cannot mix byte orders, so a little-endian
/// host cannot take the big-endian MIPS, PowerPC, s390 and PA-RISC variants (runc fails on both).
fn arch_error(a: Arch) -> Option<String> {
    let arch = scmp_arch(a);
    let mut ctx = match ScmpFilterContext::new(ScmpAction::Allow) {
        Ok(c) => c,
        Err(e) => return Some(e.to_string()),
    };
    if matches!(ctx.is_arch_present(arch), Ok(true)) {
        return None;
    }
    match ctx.add_arch(arch) {
        Ok(_) => None,
        Err(e) if e.errno() == Some(libseccomp::error::SeccompErrno::EDOM) => {
            Some(format!("{a} cannot be filtered on this host (its byte order differs from {:?})", ScmpArch::native()))
        }
        Err(_) => Some(format!("{a} is not supported by libseccomp {}", library_version())),
    }
}

/// The architecture names hull accepts here, sorted.
pub fn supported_archs() -> Vec<String> {
    let mut v: Vec<String> =
        ALL_ARCHS.iter().filter(|a| **a != Arch::ScmpArchNative && arch_error(**a).is_none()).map(|a| a.to_string()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The SECCOMP_FILTER_FLAG_* bit of a config flag; `None` for TSYNC (ignored).
fn flag_bit(f: LinuxSeccompFilterFlag) -> Option<libc::c_ulong> {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => None,
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => Some(libc::SECCOMP_FILTER_FLAG_LOG),
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => Some(libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW),
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => Some(libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
    }
}

/// Whether this kernel knows a filter flag: seccomp(2) with the flag and no program fails with
/// EFAULT (reading the program) once the flags passed the kernel's checks, and with EINVAL for
/// an unknown flag. Nothing is loaded either way. WAIT_KILLABLE_RECV is only valid together with
/// NEW_LISTENER, so it is probed with it.
pub fn flag_supported(f: LinuxSeccompFilterFlag) -> bool {
    let Some(mut bit) = flag_bit(f) else { return true };
    if bit == libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
        bit |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    // SAFETY: a NULL program pointer makes the kernel fail with EFAULT before it does anything.
    let ret = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, bit, std::ptr::null::<libc::sock_fprog>()) };
    ret == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// The flags this kernel supports, of `KNOWN_FLAGS`.
pub fn supported_flags() -> Vec<String> {
    KNOWN_FLAGS.iter().filter(|n| n.parse::<LinuxSeccompFilterFlag>().is_ok_and(flag_supported)).map(|n| n.to_string()).collect()
}

/// The version of the libseccomp hull runs with, `major.minor.micro`.
pub fn library_version() -> String {
    libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro)).unwrap_or_else(|_| "unknown".into())
}

/// The `linux.seccomp` object of `hull features`, in runc's key order.
pub(crate) fn features() -> crate::spec::example::Json {
    use crate::spec::example::{obj, strs, Json};
    let list = |v: Vec<String>| Json::Arr(v.into_iter().map(Json::Str).collect());
    obj(vec![
        ("enabled", Json::Bool(true)),
        ("actions", strs(&ACTIONS)),
        ("operators", strs(&OPERATORS)),
        ("archs", list(supported_archs())),
        ("knownFlags", strs(&KNOWN_FLAGS)),
        ("supportedFlags", list(supported_flags())),
    ])
}

fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.syscalls().iter().flatten().any(|c| c.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Checks what the typed parse could not: values in range, argument indexes, the notify
/// listener, and architectures and flags this host supports.
pub fn validate(s: &LinuxSeccomp) -> Result<(), SpecError> {
    const F: &str = "linux.seccomp";
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        // As runc: the process could not even hand the notify fd over.
        return Err(invalid(format!("{F}.defaultAction"), "SCMP_ACT_NOTIFY cannot be the default action"));
    }
    if let Some(e) = s.default_errno_ret() {
        if e > MAX_RET_DATA {
            return Err(invalid(format!("{F}.defaultErrnoRet"), format!("{e} does not fit in 16 bits")));
        }
    }
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        if let Some(reason) = arch_error(*a) {
            return Err(invalid(format!("{F}.architectures[{i}]"), reason));
        }
    }
    for (i, f) in s.flags().iter().flatten().enumerate() {
        if !flag_supported(*f) {
            return Err(invalid(format!("{F}.flags[{i}]"), format!("{f} is not supported by this kernel")));
        }
    }
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let at = format!("{F}.syscalls[{i}]");
        if call.names().is_empty() {
            return Err(invalid(format!("{at}.names"), "must list at least one syscall"));
        }
        for (j, n) in call.names().iter().enumerate() {
            if n.is_empty() || n.contains('\0') {
                return Err(invalid(format!("{at}.names[{j}]"), format!("{n:?} is not a syscall name")));
            }
            if call.action() == LinuxSeccompAction::ScmpActNotify && NOTIFY_FORBIDDEN.contains(&n.as_str()) {
                return Err(invalid(
                    format!("{at}.names[{j}]"),
                    format!("SCMP_ACT_NOTIFY cannot be used for {n:?}: hull hands the notify fd over with it"),
                ));
            }
        }
        if let Some(e) = call.errno_ret() {
            if e > MAX_RET_DATA {
                return Err(invalid(format!("{at}.errnoRet"), format!("{e} does not fit in 16 bits")));
            }
        }
        let args = call.args().as_deref().unwrap_or(&[]);
        if args.len() > MAX_ARGS {
            return Err(invalid(format!("{at}.args"), format!("{} conditions: a syscall has at most {MAX_ARGS} arguments", args.len())));
        }
        for (j, a) in args.iter().enumerate() {
            if a.index() >= MAX_ARGS {
                return Err(invalid(format!("{at}.args[{j}].index"), format!("{} is not an argument index (0 to 5)", a.index())));
            }
        }
    }
    if uses_notify(s) {
        match s.listener_path() {
            None => return Err(invalid(format!("{F}.listenerPath"), "must be set: a rule uses SCMP_ACT_NOTIFY")),
            Some(p) if p.as_os_str().is_empty() => {
                return Err(invalid(format!("{F}.listenerPath"), "must be set: a rule uses SCMP_ACT_NOTIFY"))
            }
            // sun_path holds 108 bytes with the terminating NUL.
            Some(p) if p.as_os_str().len() > 107 => {
                return Err(invalid(format!("{F}.listenerPath"), format!("{} is too long for a unix socket address", p.display())))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The libseccomp action of a config action; errno and trace default to EPERM, as runc.
fn scmp_action(a: LinuxSeccompAction, errno_ret: Option<u32>) -> ScmpAction {
    let ret = errno_ret.unwrap_or(libc::EPERM as u32);
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret as u16 as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    }
}

fn scmp_compare(a: &oci_spec::runtime::LinuxSeccompArg) -> ScmpArgCompare {
    let idx = a.index() as u32;
    let v = a.value();
    match a.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpArgCompare::new(idx, ScmpCompareOp::NotEqual, v),
        LinuxSeccompOperator::ScmpCmpLt => ScmpArgCompare::new(idx, ScmpCompareOp::Less, v),
        LinuxSeccompOperator::ScmpCmpLe => ScmpArgCompare::new(idx, ScmpCompareOp::LessOrEqual, v),
        LinuxSeccompOperator::ScmpCmpEq => ScmpArgCompare::new(idx, ScmpCompareOp::Equal, v),
        LinuxSeccompOperator::ScmpCmpGe => ScmpArgCompare::new(idx, ScmpCompareOp::GreaterEqual, v),
        LinuxSeccompOperator::ScmpCmpGt => ScmpArgCompare::new(idx, ScmpCompareOp::Greater, v),
        // `value` is the mask, `valueTwo` what the masked argument must equal (libseccomp's
        // datum_a and datum_b, as runc passes them).
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpArgCompare::new(idx, ScmpCompareOp::MaskedEqual(v), a.value_two().unwrap_or(0)),
    }
}

/// A compiled filter, ready for seccomp(2).
#[derive(Debug, Clone)]
pub struct Filter {
    /// The BPF program, in the kernel's `struct sock_filter` layout.
    program: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* bits for seccomp(2), NEW_LISTENER included when a rule notifies.
    flags: libc::c_ulong,
    /// Syscall names this libseccomp does not know, skipped.
    pub skipped: Vec<String>,
}

impl Filter {
    /// Whether loading returns a notify fd (a rule uses SCMP_ACT_NOTIFY).
    pub fn notifies(&self) -> bool {
        self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The program as bytes, for the cache.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.program.len() * 8);
        out.extend_from_slice(&self.flags.to_le_bytes());
        for i in &self.program {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// The inverse of `to_bytes`; `None` when `b` is not one.
    pub(crate) fn from_bytes(b: &[u8], skipped: Vec<String>) -> Option<Filter> {
        let (flags, rest) = b.split_first_chunk::<{ std::mem::size_of::<libc::c_ulong>() }>()?;
        if rest.is_empty() || rest.len() % 8 != 0 || rest.len() / 8 > BPF_MAXINSNS {
            return None;
        }
        let program = rest
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Filter { program, flags: libc::c_ulong::from_le_bytes(*flags), skipped })
    }

    /// Loads the filter into the calling thread (the container's process, single-threaded).
    /// Returns the notify fd when the filter has SCMP_ACT_NOTIFY rules.
    ///
    /// Without no_new_privs this needs CAP_SYS_ADMIN (in the process's user namespace).
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = libc::sock_fprog { len: self.program.len() as libc::c_ushort, filter: self.program.as_ptr() as *mut libc::sock_filter };
        // SAFETY: `prog` points at `len` instructions that live as long as `self`; the kernel
        // copies them before returning.
        let ret = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, self.flags, &prog as *const libc::sock_fprog) };
        if ret < 0 {
            return Err(SeccompError::Load { flags: self.flags, source: std::io::Error::last_os_error() });
        }
        if self.notifies() {
            // SAFETY: with NEW_LISTENER, seccomp(2) returns a new fd (close-on-exec) that we own.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }));
        }
        Ok(None)
    }
}

/// The SECCOMP_FILTER_FLAG_* bits a config asks for. No `flags` at all means SPEC_ALLOW when
/// the kernel has it, as runc does (the Speculative Store Bypass mitigation costs every process
/// of the container a lot and protects little a container boundary does not); an explicit list,
/// even empty, is taken as it is.
fn filter_flags(s: &LinuxSeccomp) -> libc::c_ulong {
    let mut bits = 0;
    match s.flags() {
        None => {
            if flag_supported(LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow) {
                bits |= libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
            }
        }
        Some(list) => {
            for f in list {
                bits |= flag_bit(*f).unwrap_or(0);
            }
        }
    }
    if uses_notify(s) {
        bits |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    } else {
        // Only meaningful with a listener; the kernel refuses it without one.
        bits &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    bits
}

/// Builds the BPF program of a validated `linux.seccomp`.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    const F: &str = "linux.seccomp";
    let err = |field: String| move |e: libseccomp::error::SeccompError| SeccompError::Compile { field, reason: e.to_string() };
    let default = scmp_action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(err(format!("{F}.defaultAction")))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let arch = scmp_arch(*a);
        if arch == ScmpArch::Native || ctx.is_arch_present(arch).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(arch).map_err(err(format!("{F}.architectures[{i}]")))?;
    }
    let calls = s.syscalls().as_deref().unwrap_or(&[]);
    // A binary tree of syscalls instead of a linear list, for long profiles (runc's threshold:
    // libseccomp 2.5 misbehaves with the tree and no rules).
    if calls.len() > 32 {
        ctx.set_ctl_optimize(2).map_err(err(F.to_string()))?;
    }
    let mut skipped = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        add_rules(&mut ctx, call, default, &format!("{F}.syscalls[{i}]"), &mut skipped)?;
    }
    let program = export(&ctx)?;
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::Compile {
            field: F.to_string(),
            reason: format!("the filter is {} BPF instructions, more than the kernel's {BPF_MAXINSNS}", program.len()),
        });
    }
    Ok(Filter { program, flags: filter_flags(s), skipped })
}

/// Adds one `syscalls[]` entry: a rule for each name.
fn add_rules(
    ctx: &mut ScmpFilterContext,
    call: &LinuxSyscall,
    default: ScmpAction,
    at: &str,
    skipped: &mut Vec<String>,
) -> Result<(), SeccompError> {
    let action = scmp_action(call.action(), call.errno_ret());
    // libseccomp refuses a rule whose action is the default one; it would change nothing.
    if action == default {
        return Ok(());
    }
    let conds: Vec<ScmpArgCompare> = call.args().iter().flatten().map(scmp_compare).collect();
    // Conditions on distinct arguments are ANDed in one rule. libseccomp cannot compare the
    // same argument twice in one rule: then, as runc does, each condition is a rule of its own
    // (so they are ORed).
    let mut uses = [0usize; MAX_ARGS];
    for (j, a) in call.args().iter().flatten().enumerate() {
        let n = uses.get_mut(a.index()).ok_or_else(|| SeccompError::Compile {
            field: format!("{at}.args[{j}].index"),
            reason: format!("{} is not an argument index (0 to 5)", a.index()),
        })?;
        *n += 1;
    }
    let repeated = uses.iter().any(|n| *n > 1);
    for (j, name) in call.names().iter().enumerate() {
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            skipped.push(name.clone());
            continue;
        };
        let field = format!("{at}.names[{j}]");
        let add = |ctx: &mut ScmpFilterContext, c: &[ScmpArgCompare]| {
            ctx.add_rule_conditional(action, nr, c)
                .map(|_| ())
                .map_err(|e| SeccompError::Compile { field: field.clone(), reason: format!("adding the rule for {name:?}: {e}") })
        };
        if repeated {
            for c in &conds {
                add(ctx, std::slice::from_ref(c))?;
            }
        } else {
            add(ctx, &conds)?;
        }
    }
    Ok(())
}

/// The filter's BPF program, through a memfd (libseccomp 2.5 exports to an fd only).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    // SAFETY: memfd_create reads a NUL-terminated name and returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"hull-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(SeccompError::Export(std::io::Error::last_os_error()));
    }
    // SAFETY: memfd_create returned a new fd that nothing else owns.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(|e| SeccompError::Export(std::io::Error::other(e.to_string())))?;
    let mut bytes = Vec::new();
    file.rewind().and_then(|_| file.read_to_end(&mut bytes)).map_err(SeccompError::Export)?;
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return Err(SeccompError::Export(std::io::Error::other(format!("{} bytes is not a BPF program", bytes.len()))));
    }
    // libseccomp writes struct sock_filter in the host's byte order.
    Ok(bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn podman() -> LinuxSeccomp {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../hull/tests/fixtures/podman-seccomp.json"));
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn compile_cost_of_podman_profile() {
        let s = podman();
        validate(&s).unwrap();
        let n = 20;
        let t = std::time::Instant::now();
        let mut f = None;
        for _ in 0..n {
            f = Some(compile(&s).unwrap());
        }
        let per = t.elapsed() / n;
        let f = f.unwrap();
        println!(
            "compile of podman's profile: {per:?} each, {} BPF instructions, {} names skipped: {:?}",
            f.len(),
            f.skipped.len(),
            f.skipped
        );
    }

    fn parse(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    fn field_of(v: serde_json::Value) -> String {
        match validate(&parse(v)) {
            Err(SpecError::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_field() {
        use serde_json::json;
        let notify = |names: serde_json::Value| {
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}, {"names": names, "action": "SCMP_ACT_NOTIFY"}]})
        };
        assert_eq!(field_of(notify(json!(["read", "sendmsg"]))), "linux.seccomp.syscalls[1].names[1]");
        assert!(validate(&parse(notify(json!(["read", "write", "openat"])))).is_ok());
        let mut no_listener = notify(json!(["read"]));
        no_listener.as_object_mut().unwrap().remove("listenerPath");
        assert_eq!(field_of(no_listener), "linux.seccomp.listenerPath");
        assert_eq!(field_of(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"})), "linux.seccomp.defaultAction");
        assert_eq!(field_of(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536})), "linux.seccomp.defaultErrnoRet");
        assert_eq!(
            field_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_LOONGARCH64"]})),
            "linux.seccomp.architectures[1]"
        );
        let rule = |extra: serde_json::Value| {
            let mut r = json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"});
            r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r]})
        };
        assert_eq!(field_of(rule(json!({"errnoRet": 70000}))), "linux.seccomp.syscalls[0].errnoRet");
        assert_eq!(field_of(rule(json!({"names": []}))), "linux.seccomp.syscalls[0].names");
        assert_eq!(field_of(rule(json!({"names": ["mkdir", ""]}))), "linux.seccomp.syscalls[0].names[1]");
        assert_eq!(
            field_of(rule(json!({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}))),
            "linux.seccomp.syscalls[0].args[1].index"
        );
        let seven: Vec<_> = (0..7).map(|i| json!({"index": i % 6, "value": 1, "op": "SCMP_CMP_EQ"})).collect();
        assert_eq!(field_of(rule(json!({"args": seven}))), "linux.seccomp.syscalls[0].args");
        // Unknown names are not a validation error: they are skipped when compiling.
        assert!(validate(&parse(rule(json!({"names": ["no_such_syscall"]})))).is_ok());
    }

    #[test]
    fn compile_skips_unknown_names_and_default_actions() {
        let s = parse(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read", "no_such_syscall", "write"], "action": "SCMP_ACT_ALLOW"},
            // The default action itself (ERRNO with EPERM): skipped, libseccomp would refuse it.
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            // The same argument twice: split into two rules, which libseccomp accepts.
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}
        ]}));
        validate(&s).unwrap();
        let f = compile(&s).unwrap();
        assert_eq!(f.skipped, ["no_such_syscall"]);
        assert!(!f.notifies());
        // An out-of-range index that skipped validation is an error, not a panic.
        let bad = parse(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(matches!(compile(&bad), Err(SeccompError::Compile { field, .. }) if field == "linux.seccomp.syscalls[0].args[0].index"));
    }

    #[test]
    fn flags_as_runc_sets_them() {
        let with = |v: serde_json::Value| filter_flags(&parse(v));
        let spec_allow =
            if flag_supported(LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow) { libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW } else { 0 };
        // No `flags`: SPEC_ALLOW (when the kernel has it). An empty list: nothing.
        assert_eq!(with(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"})), spec_allow);
        assert_eq!(with(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": []})), 0);
        // TSYNC is ignored; WAIT_KILLABLE_RECV only goes with a listener.
        let f = serde_json::json!(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]);
        assert_eq!(with(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": f})), libc::SECCOMP_FILTER_FLAG_LOG);
        let notify = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": f, "listenerPath": "/a",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
        assert_eq!(
            with(notify),
            libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        );
    }

    #[test]
    fn features_lists_what_works_here() {
        let archs = supported_archs();
        assert!(archs.contains(&"SCMP_ARCH_X86".to_string()) || !cfg!(target_arch = "x86_64"));
        // Every listed arch is accepted by validation.
        for a in &archs {
            let s = parse(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [a]}));
            assert!(validate(&s).is_ok(), "{a}");
        }
        assert!(!archs.iter().any(|a| a == "SCMP_ARCH_NATIVE"));
        assert!(supported_flags().iter().all(|f| KNOWN_FLAGS.contains(&f.as_str())));
        // The names are the config's: each parses.
        for a in ACTIONS {
            assert!(a.parse::<LinuxSeccompAction>().is_ok(), "{a}");
        }
        for o in OPERATORS {
            assert!(o.parse::<LinuxSeccompOperator>().is_ok(), "{o}");
        }
    }
}
