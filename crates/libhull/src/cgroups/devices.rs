//! `linux.resources.devices`: the device access policy, for cgroup v1 (devices.allow/deny) and
//! cgroup v2 (an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup).
//!
//! The config's rules are read as runc reads them: in order, starting from "deny everything",
//! each rule changes the policy (the last rule that matches a device and access wins), and
//! runc's default allowed devices (`DEFAULT_ALLOWED`) are appended after the config's rules, so
//! they always hold. What the rules add up to is computed as the v1 kernel (and runc's emulator
//! of it) would: a default (allow or deny) plus exceptions, each a (type, major, minor) with the
//! access bits that differ from the default. On v1 the kernel does that itself from the rules
//! written one by one; on v2 `program` turns the exceptions into eBPF instructions.
//!
//! The instructions are generated here rather than with an eBPF crate: the program is a fixed
//! prologue and one short block a rule, about thirty lines of emitter, while the crates (aya,
//! libbpf-rs) pull in an ELF loader or a C library for what is a single `bpf(BPF_PROG_LOAD)`.

use std::collections::BTreeMap;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceType, LinuxResources};

use super::CgroupError;
use crate::sys::{self, BpfInsn};

/// The access bits, as the kernel's `struct bpf_cgroup_dev_ctx` reports them
/// (BPF_DEVCG_ACC_*); v1 spells them m, r, w.
pub(crate) const ACC_MKNOD: u8 = 1;
pub(crate) const ACC_READ: u8 = 2;
pub(crate) const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Device types (BPF_DEVCG_DEV_*).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// What a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DevType {
    /// Every device: the rule resets the whole policy (major, minor and access are ignored,
    /// as in runc and the v1 kernel).
    All,
    Block,
    Char,
}

impl DevType {
    fn letter(self) -> char {
        match self {
            DevType::All => 'a',
            DevType::Block => 'b',
            DevType::Char => 'c',
        }
    }
}

/// One rule of `linux.resources.devices` (or of runc's defaults). `None` is the wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    pub typ: DevType,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    const fn allow(typ: DevType, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule { allow: true, typ, major, minor, access }
    }

    /// The v1 devices.allow/devices.deny line ("c 1:3 rwm", "a").
    pub fn v1_line(&self) -> String {
        if self.typ == DevType::All {
            return "a".into();
        }
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!("{} {}:{} {}", self.typ.letter(), num(self.major), num(self.minor), access_str(self.access))
    }
}

/// "rwm" order, as the kernel prints devices.list.
pub(crate) fn access_str(a: u8) -> String {
    [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')].iter().filter(|(b, _)| a & b != 0).map(|(_, c)| *c).collect()
}

const C: DevType = DevType::Char;
const B: DevType = DevType::Block;

/// The rules runc appends to every container's list (its `AllowedDevices`): mknod of any
/// node, the standard character devices, /dev/pts/*, /dev/ptmx and /dev/net/tun. Kept so a
/// config that starts with "deny all" behaves as under runc.
pub(crate) const DEFAULT_ALLOWED: &[Rule] = &[
    Rule::allow(C, None, None, ACC_MKNOD),
    Rule::allow(B, None, None, ACC_MKNOD),
    Rule::allow(C, Some(1), Some(3), ACC_ALL),    // /dev/null
    Rule::allow(C, Some(1), Some(8), ACC_ALL),    // /dev/random
    Rule::allow(C, Some(1), Some(7), ACC_ALL),    // /dev/full
    Rule::allow(C, Some(5), Some(0), ACC_ALL),    // /dev/tty
    Rule::allow(C, Some(1), Some(5), ACC_ALL),    // /dev/zero
    Rule::allow(C, Some(1), Some(9), ACC_ALL),    // /dev/urandom
    Rule::allow(C, Some(136), None, ACC_ALL),     // /dev/pts/*
    Rule::allow(C, Some(5), Some(2), ACC_ALL),    // /dev/ptmx
    Rule::allow(C, Some(10), Some(200), ACC_ALL), // /dev/net/tun
];

/// The JSON path of the config's rules.
const FIELD: &str = "linux.resources.devices";

fn invalid(field: String, reason: String) -> CgroupError {
    CgroupError::Invalid { field, reason }
}

/// The config's rules, checked, followed by `DEFAULT_ALLOWED`; each with the JSON path it
/// comes from (for errors).
pub(crate) fn rules(r: &LinuxResources) -> Result<Vec<(Rule, String)>, CgroupError> {
    let mut out = Vec::new();
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let typ = match d.typ() {
            None | Some(LinuxDeviceType::A) => DevType::All,
            Some(LinuxDeviceType::B) => DevType::Block,
            Some(LinuxDeviceType::C) => DevType::Char,
            Some(t @ (LinuxDeviceType::U | LinuxDeviceType::P)) => {
                return Err(invalid(format!("{FIELD}[{i}].type"), format!("{:?} is not a cgroup device type (a, b or c)", t.as_str())));
            }
        };
        // -1 (and any negative number) is the wildcard, as runc reads it.
        let num = |n: Option<i64>, name: &str| -> Result<Option<u32>, CgroupError> {
            match n {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| invalid(format!("{FIELD}[{i}].{name}"), format!("{n} is not a device number (at most {})", u32::MAX))),
            }
        };
        let (major, minor) = (num(d.major(), "major")?, num(d.minor(), "minor")?);
        let a = d.access().as_deref().unwrap_or("");
        if a.is_empty() {
            return Err(invalid(format!("{FIELD}[{i}].access"), "must not be empty".into()));
        }
        let mut access = 0;
        for c in a.chars() {
            access |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => return Err(invalid(format!("{FIELD}[{i}].access"), format!("{a:?} may only contain r, w and m"))),
            };
        }
        out.push((Rule { allow: d.allow(), typ, major, minor, access }, format!("{FIELD}[{i}]")));
    }
    out.extend(DEFAULT_ALLOWED.iter().map(|r| (*r, format!("{FIELD} (runc's default allowed devices)"))));
    Ok(out)
}

/// What a list of rules adds up to: a default and the exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub default_allow: bool,
    /// (major, minor, type) -> the access bits for which the opposite of the default holds.
    /// Ordered by major, minor, type (the wildcard first), as runc orders its rules.
    pub exceptions: BTreeMap<(Option<u32>, Option<u32>, DevType), u8>,
}

impl Policy {
    /// Replays `rules` in order from "deny everything", as the v1 kernel does.
    ///
    /// A rule that takes access away from a device while a wildcard exception of the same type
    /// still grants it (e.g. "allow c *:* rwm" then "deny c 1:3 rwm" on an allow-list) cannot
    /// be expressed as exceptions (the kernel would silently keep the wildcard): refused, as
    /// runc refuses it, naming the rule.
    pub fn from_rules(rules: &[(Rule, String)]) -> Result<Policy, CgroupError> {
        let mut p = Policy { default_allow: false, exceptions: BTreeMap::new() };
        for (r, field) in rules {
            if r.typ == DevType::All {
                p = Policy { default_allow: r.allow, exceptions: BTreeMap::new() };
                continue;
            }
            let key = (r.major, r.minor, r.typ);
            if r.allow != p.default_allow {
                // An exception to the default: add its access.
                *p.exceptions.entry(key).or_insert(0) |= r.access;
                continue;
            }
            // Same action as the default: take access away from an exception.
            for partial in [(None, r.minor, r.typ), (r.major, None, r.typ), (None, None, r.typ)] {
                if partial == key {
                    continue;
                }
                if let Some(&a) = p.exceptions.get(&partial) {
                    if a & r.access != 0 {
                        let wild = Rule { allow: !r.allow, typ: r.typ, major: partial.0, minor: partial.1, access: a };
                        return Err(invalid(
                            field.clone(),
                            format!(
                                "{} {:?} cannot punch a hole in the earlier wildcard rule {} {:?} (cgroup devices rules do not support it)",
                                if r.allow { "allow" } else { "deny" },
                                r.v1_line(),
                                if wild.allow { "allow" } else { "deny" },
                                wild.v1_line()
                            ),
                        ));
                    }
                }
            }
            if let Some(a) = p.exceptions.get_mut(&key) {
                *a &= !r.access;
                if *a == 0 {
                    p.exceptions.remove(&key);
                }
            }
        }
        Ok(p)
    }

    /// Whether `typ` `major:minor` may be opened with `access` (what the program decides;
    /// used by the unit tests as the reference).
    #[cfg(test)]
    pub fn allows(&self, typ: DevType, major: u32, minor: u32, access: u8) -> bool {
        let hit = self
            .exceptions
            .iter()
            .any(|(&(ma, mi, t), &a)| t == typ && ma.is_none_or(|m| m == major) && mi.is_none_or(|m| m == minor) && access & !a == 0);
        hit != self.default_allow
    }
}

/// eBPF registers and opcodes used by the program (include/uapi/linux/bpf.h, bpf_common.h).
mod op {
    pub const R0: u8 = 0;
    pub const R1: u8 = 1;
    pub const R2: u8 = 2;
    pub const R3: u8 = 3;
    pub const R4: u8 = 4;
    pub const R5: u8 = 5;
    /// BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
    pub const LDX_MEM_W: u8 = 0x61;
    /// BPF_ALU | BPF_AND | BPF_K: dst &= imm (32 bit)
    pub const AND32_IMM: u8 = 0x54;
    /// BPF_ALU | BPF_RSH | BPF_K: dst >>= imm (32 bit)
    pub const RSH32_IMM: u8 = 0x74;
    /// BPF_ALU | BPF_MOV | BPF_K: dst = imm (32 bit)
    pub const MOV32_IMM: u8 = 0xb4;
    /// BPF_ALU | BPF_MOV | BPF_X: dst = src (32 bit)
    pub const MOV32_REG: u8 = 0xbc;
    /// BPF_JMP | BPF_JNE | BPF_K: if dst != imm, pc += off
    pub const JNE_IMM: u8 = 0x55;
    /// BPF_JMP | BPF_JNE | BPF_X: if dst != src, pc += off
    pub const JNE_REG: u8 = 0x5d;
    /// BPF_JMP | BPF_EXIT: return r0
    pub const EXIT: u8 = 0x95;
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn { code, regs: (src << 4) | dst, off, imm }
}

/// The eBPF program enforcing `p`: returns 1 (allow) or 0 (deny) for the device access the
/// kernel asks about.
///
/// The kernel calls it with r1 = `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }`, where access_type is `type | access << 16`. The prologue loads r2 = type,
/// r3 = access, r4 = major, r5 = minor. Then one block an exception, each ending in "return
/// the opposite of the default" and jumping to the next block at the first test that fails:
/// the type, the access (every bit asked must be in the exception: `(r3 & access) == r3`, as
/// the v1 kernel matches), the major and the minor (a wildcard skips its test). After the last
/// block: return the default. All exceptions have the same action, so their order does not
/// matter.
pub(crate) fn program(p: &Policy) -> Vec<BpfInsn> {
    use op::*;
    let mut prog = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(AND32_IMM, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(RSH32_IMM, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    let verdict = |allow: bool| i32::from(allow);
    for (&(major, minor, typ), &access) in &p.exceptions {
        let dev = match typ {
            DevType::Block => DEV_BLOCK,
            DevType::Char => DEV_CHAR,
            // Never an exception: an "a" rule resets the policy instead.
            DevType::All => continue,
        };
        // The tests, each "jump to the next block if it fails"; the offsets are set below,
        // once the block's length is known.
        let mut block = vec![insn(JNE_IMM, R2, 0, 0, dev)];
        if access != ACC_ALL {
            block.push(insn(MOV32_REG, R1, R3, 0, 0));
            block.push(insn(AND32_IMM, R1, 0, 0, i32::from(access)));
            block.push(insn(JNE_REG, R1, R3, 0, 0));
        }
        // Device numbers are u32 in the context; the immediate is the same 32 bits.
        if let Some(m) = major {
            block.push(insn(JNE_IMM, R4, 0, 0, m as i32));
        }
        if let Some(m) = minor {
            block.push(insn(JNE_IMM, R5, 0, 0, m as i32));
        }
        block.push(insn(MOV32_IMM, R0, 0, 0, verdict(!p.default_allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if matches!(ins.code, JNE_IMM | JNE_REG) {
                // A jump lands at pc + 1 + off: the first instruction after this block.
                ins.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(insn(MOV32_IMM, R0, 0, 0, verdict(p.default_allow)));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

/// The license the program is loaded under (only GPL-only helpers care; it calls none).
const LICENSE: &std::ffi::CStr = c"Apache-2.0";

/// Loads the program for `r`'s device rules and attaches it to the cgroup v2 directory `dir`,
/// replacing the device programs attached to `dir` before (hull's own from an earlier apply):
/// the new one is attached first (BPF_F_ALLOW_MULTI), then the old ones are detached, so
/// there is no moment without a policy (while both are attached, both must allow).
pub(super) fn apply_v2(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let policy = Policy::from_rules(&rules(r)?)?;
    let insns = program(&policy);
    let bpf_err = |what: &str, source: std::io::Error| CgroupError::Bpf { path: dir.to_path_buf(), what: what.to_string(), source };
    let cg: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(|source| CgroupError::Io { path: dir.to_path_buf(), source })?
        .into();
    let old = sys::bpf_prog_query(cg.as_fd(), sys::BPF_CGROUP_DEVICE).map_err(|e| bpf_err("BPF_PROG_QUERY", e))?;
    let prog = sys::bpf_prog_load(sys::BPF_PROG_TYPE_CGROUP_DEVICE, &insns, LICENSE).map_err(|e| bpf_err("BPF_PROG_LOAD", e))?;
    sys::bpf_prog_attach(cg.as_fd(), prog.as_fd(), sys::BPF_CGROUP_DEVICE, sys::BPF_F_ALLOW_MULTI)
        .map_err(|e| bpf_err("BPF_PROG_ATTACH", e))?;
    for id in old {
        let fd = match sys::bpf_prog_get_fd_by_id(id) {
            Ok(fd) => fd,
            // Gone meanwhile, or not ours to see (an LSM label): programs only restrict, so
            // one left attached cannot widen access.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EACCES | libc::EPERM)) => continue,
            Err(e) => return Err(bpf_err("BPF_PROG_GET_FD_BY_ID", e)),
        };
        match sys::bpf_prog_detach(cg.as_fd(), fd.as_fd(), sys::BPF_CGROUP_DEVICE) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(bpf_err("BPF_PROG_DETACH", e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::op::*;
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn policy(json: &str) -> Result<Policy, CgroupError> {
        Policy::from_rules(&rules(&res(json))?)
    }

    /// Runs `prog` the way the kernel would for one access (the subset of eBPF it uses).
    fn run(prog: &[BpfInsn], typ: i32, access: u8, major: u32, minor: u32) -> u32 {
        let ctx = [(typ as u32) | (u32::from(access) << 16), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = u64::from(ctx[i.off as usize / 4]);
                }
                AND32_IMM => r[dst] = u64::from(r[dst] as u32 & i.imm as u32),
                RSH32_IMM => r[dst] = u64::from((r[dst] as u32) >> i.imm),
                MOV32_IMM => r[dst] = u64::from(i.imm as u32),
                MOV32_REG => r[dst] = u64::from(r[src] as u32),
                JNE_IMM if r[dst] != u64::from(i.imm as u32) => pc = (pc as i64 + i64::from(i.off)) as usize,
                JNE_REG if r[dst] != r[src] => pc = (pc as i64 + i64::from(i.off)) as usize,
                JNE_IMM | JNE_REG => {}
                EXIT => return r[0] as u32,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn fmt(prog: &[BpfInsn]) -> Vec<String> {
        prog.iter().map(|i| format!("{:02x} {:02x} {} {}", i.code, i.regs, i.off, i.imm)).collect()
    }

    const PROLOGUE: [&str; 6] = ["61 12 0 0", "54 02 0 65535", "61 13 0 0", "74 03 0 16", "61 14 4 0", "61 15 8 0"];

    #[test]
    fn devices_empty_config_is_runcs_default_allow_list() {
        let p = policy("{}").unwrap();
        assert!(!p.default_allow);
        // The default rules, sorted by major, minor, type: c *:* m, b *:* m, c 1:3, 1:5, ...
        let prog = program(&p);
        let mut want: Vec<String> = PROLOGUE.iter().map(|s| s.to_string()).collect();
        let block = |dev: i32, acc: Option<u8>, major: Option<u32>, minor: Option<u32>| {
            let mut b = vec![format!("55 02 {{}} {dev}")];
            if let Some(a) = acc {
                b.extend(["bc 31 0 0".to_string(), format!("54 01 0 {a}"), "5d 31 {} 0".to_string()]);
            }
            if let Some(m) = major {
                b.push(format!("55 04 {{}} {m}"));
            }
            if let Some(m) = minor {
                b.push(format!("55 05 {{}} {m}"));
            }
            b.extend(["b4 00 0 1".to_string(), "95 00 0 0".to_string()]);
            let n = b.len();
            b.iter().enumerate().map(|(i, s)| s.replace("{}", &(n - i - 1).to_string())).collect::<Vec<_>>()
        };
        want.extend(block(1, Some(1), None, None));
        want.extend(block(2, Some(1), None, None));
        for (ma, mi) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (10, 200)] {
            want.extend(block(2, None, Some(ma), Some(mi)));
        }
        want.extend(block(2, None, Some(136), None));
        want.extend(["b4 00 0 0".to_string(), "95 00 0 0".to_string()]);
        assert_eq!(fmt(&prog), want);
        assert!(!p.allows(DevType::Char, 1, 4, ACC_READ));
    }

    #[test]
    fn devices_one_block_exact_instructions() {
        // Deny-list: everything allowed but reading and writing block 8:*.
        let p = policy(r#"{"devices":[{"allow":true,"access":"rwm"},{"allow":false,"type":"b","major":8,"access":"rw"}]}"#).unwrap();
        assert!(p.default_allow);
        assert_eq!(p.exceptions.len(), 1, "{p:?}: runc's defaults are allows, no-ops on a deny-list");
        let prog = program(&p);
        let mut want: Vec<&str> = PROLOGUE.to_vec();
        want.extend([
            "55 02 6 1", // type != block: next
            "bc 31 0 0", // r1 = access
            "54 01 0 6", // r1 &= rw
            "5d 31 3 0", // r1 != access: next
            "55 04 2 8", // major != 8: next
            "b4 00 0 0", // deny
            "95 00 0 0",
            "b4 00 0 1", // default: allow
            "95 00 0 0",
        ]);
        assert_eq!(fmt(&prog), want);
        for (acc, want) in [(ACC_READ, 0), (ACC_WRITE, 0), (ACC_READ | ACC_WRITE, 0), (ACC_MKNOD, 1)] {
            assert_eq!(run(&prog, DEV_BLOCK, acc, 8, 1), want, "b 8:1 access {acc}");
        }
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 8, 1), 1);
        assert_eq!(run(&prog, DEV_BLOCK, ACC_READ, 9, 0), 1);
    }

    #[test]
    fn devices_last_match_wins_and_the_program_agrees_with_the_policy() {
        let cases = [
            // Allow-list with a partial grant, then a narrowing deny.
            r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":4,"access":"rw"},
                {"allow":false,"type":"c","major":1,"minor":4,"access":"w"}]}"#,
            // A later allow-all wipes what came before; the deny after it holds.
            r#"{"devices":[{"allow":true,"type":"c","major":7,"access":"r"},{"allow":true,"access":"rwm"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#,
            // Wildcards of both kinds and a block device.
            r#"{"devices":[{"allow":true,"type":"b","minor":0,"access":"r"},{"allow":true,"type":"c","major":4,"access":"rw"},
                {"allow":true,"type":"b","major":8,"minor":0,"access":"w"},{"allow":false,"type":"b","major":8,"minor":0,"access":"m"}]}"#,
        ];
        for json in cases {
            let p = policy(json).unwrap();
            let prog = program(&p);
            for typ in [DevType::Block, DevType::Char] {
                let dev = if typ == DevType::Block { DEV_BLOCK } else { DEV_CHAR };
                for (major, minor) in [(1, 3), (1, 4), (4, 1), (7, 0), (8, 0), (8, 1), (9, 0), (136, 2)] {
                    for access in 1..=ACC_ALL {
                        let want = p.allows(typ, major, minor, access);
                        assert_eq!(run(&prog, dev, access, major, minor) == 1, want, "{json}: {typ:?} {major}:{minor} {access}");
                    }
                }
            }
        }
        // The first: 1:4 read-only now.
        let p = policy(cases[0]).unwrap();
        assert!(p.allows(DevType::Char, 1, 4, ACC_READ));
        assert!(!p.allows(DevType::Char, 1, 4, ACC_WRITE));
        assert!(!p.allows(DevType::Char, 1, 4, ACC_READ | ACC_WRITE));
        // The second: default allow, and the deny of 1:3 is undone by runc's default
        // /dev/null rule, which comes after the config's rules.
        let p = policy(cases[1]).unwrap();
        assert!(p.default_allow);
        assert!(p.allows(DevType::Char, 1, 3, ACC_READ));
        assert!(p.allows(DevType::Char, 7, 0, ACC_WRITE));
        // The third: b *:0 readable, 8:0 also writable, and read+write of 8:0 needs one rule
        // granting both (the v1 kernel matches each exception alone).
        let p = policy(cases[2]).unwrap();
        assert!(p.allows(DevType::Block, 3, 0, ACC_READ) && !p.allows(DevType::Block, 3, 0, ACC_WRITE));
        assert!(p.allows(DevType::Block, 8, 0, ACC_WRITE));
        assert!(!p.allows(DevType::Block, 8, 0, ACC_READ | ACC_WRITE));
    }

    #[test]
    fn devices_hole_in_a_wildcard_is_refused_naming_the_rule() {
        let e = policy(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","access":"rwm"},{"allow":false,"type":"c","major":1,"minor":9,"access":"r"}]}"#)
            .unwrap_err();
        match e {
            CgroupError::Invalid { field, reason } => {
                assert_eq!(field, "linux.resources.devices[2]");
                assert!(reason.contains("c *:* rwm"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn devices_bad_rules_name_the_field() {
        for (json, field) in [
            (r#"{"devices":[{"allow":true,"type":"c","access":""}]}"#, "linux.resources.devices[0].access"),
            (
                r#"{"devices":[{"allow":true,"type":"c","access":"rwm"},{"allow":true,"type":"c","access":"x"}]}"#,
                "linux.resources.devices[1].access",
            ),
            (r#"{"devices":[{"allow":true,"type":"p","access":"r"}]}"#, "linux.resources.devices[0].type"),
            (r#"{"devices":[{"allow":true,"type":"c","major":4294967296,"access":"r"}]}"#, "linux.resources.devices[0].major"),
        ] {
            match policy(json) {
                Err(CgroupError::Invalid { field: f, .. }) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn devices_v1_lines() {
        let r = rules(&res(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"b","major":8,"access":"mr"}]}"#)).unwrap();
        assert_eq!(r[0].0.v1_line(), "a");
        assert_eq!(r[1].0.v1_line(), "b 8:* rm");
        assert_eq!(r[1].1, "linux.resources.devices[1]");
        assert_eq!(r.len(), 2 + DEFAULT_ALLOWED.len());
    }
}
