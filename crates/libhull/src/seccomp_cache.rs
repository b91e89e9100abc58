//! A cache of compiled seccomp programs under `<root>/.cache/seccomp/`, as crun keeps one.
//!
//! Why: libseccomp takes 10 to 15 ms (release build) to compile podman's default profile here
//! (the `compile_cost_of_podman_profile` test in `seccomp` prints it); a cache hit takes about
//! 20 us (`cache_hit_cost_and_result` below prints it).
//!
//! The key is everything the program depends on: the `linux.seccomp` section (serialized from
//! the parsed config, so formatting does not matter), hull's version and cache format, the
//! libseccomp version and the kernel (release and build, which decide the default flags). An
//! entry holds its whole key and is used only when the key matches byte for byte: the file
//! name is a short hash, and a collision costs a compile, never a wrong filter. Entries are
//! written atomically (rename) and only by the user owning the root; a damaged entry is
//! recompiled and replaced. Failing to write the cache is not an error.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;

use crate::seccomp::{compile, Filter, SeccompError};

/// Bumped whenever the compiled program or the entry layout changes for the same key.
const FORMAT: &str = "hull-seccomp-cache-1";

/// An entry's layout: [key length u64 LE][key][skipped names JSON length u64 LE][JSON][program].
fn entry(key: &[u8], f: &Filter) -> Vec<u8> {
    let skipped = serde_json::to_vec(&f.skipped).unwrap_or_else(|_| b"[]".to_vec());
    let mut out = Vec::new();
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(skipped.len() as u64).to_le_bytes());
    out.extend_from_slice(&skipped);
    out.extend_from_slice(&f.to_bytes());
    out
}

/// The filter in `data` if it is an entry for `key`.
fn parse_entry(data: &[u8], key: &[u8]) -> Option<Filter> {
    let take = |d: &[u8]| -> Option<(usize, usize)> {
        let (len, _) = d.split_first_chunk::<8>()?;
        let n = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        let end = n.checked_add(8)?;
        (d.len() >= end).then_some((8, end))
    };
    let (a, b) = take(data)?;
    if &data[a..b] != key {
        return None;
    }
    let rest = &data[b..];
    let (c, d) = take(rest)?;
    let skipped: Vec<String> = serde_json::from_slice(&rest[c..d]).ok()?;
    Filter::from_bytes(&rest[d..], skipped)
}

/// The kernel's release and build strings.
fn kernel() -> String {
    // SAFETY: utsname is plain data; uname fills it and NUL-terminates every field.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let field = |f: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = f.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {}", field(&u.release), field(&u.version))
}

/// Everything the compiled program depends on.
fn key(s: &LinuxSeccomp) -> Vec<u8> {
    let section = serde_json::to_string(s).unwrap_or_default();
    format!(
        "{FORMAT}\nhull {}\nlibseccomp {}\nkernel {}\n{section}\n",
        env!("CARGO_PKG_VERSION"),
        crate::seccomp::library_version(),
        kernel()
    )
    .into_bytes()
}

/// FNV-1a, 64 bits: a file name, not a proof of identity (the entry holds the key).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The cache directory of a root.
pub fn dir(root: &Path) -> PathBuf {
    root.join(".cache").join("seccomp")
}

/// The compiled filter of a validated `linux.seccomp` (none without one): from the cache under
/// `root` when there, else compiled (and stored).
pub fn filter_for(root: &Path, s: Option<&LinuxSeccomp>) -> Result<Option<Filter>, SeccompError> {
    s.map(|s| cached(root, s)).transpose()
}

fn cached(root: &Path, s: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let key = key(s);
    let path = dir(root).join(format!("{:016x}.bpf", fnv1a(&key)));
    if let Some(f) = std::fs::read(&path).ok().and_then(|d| parse_entry(&d, &key)) {
        return Ok(f);
    }
    let f = compile(s)?;
    let _ = store(&path, &entry(&key, &f));
    Ok(f)
}

/// Writes an entry atomically: a private temporary file renamed over the name.
fn store(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().ok_or_else(|| std::io::Error::other("no parent"))?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent)?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = parent.join(format!(".tmp-{}-{nanos}", std::process::id()));
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(&tmp)?;
    // No fsync: an entry lost or torn by a crash fails its key or length check and is rebuilt.
    let written = f.write_all(data);
    drop(f);
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn podman() -> LinuxSeccomp {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../hull/tests/fixtures/podman-seccomp.json"));
        serde_json::from_str(text).unwrap()
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hull-seccomp-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn entry_roundtrip_and_key_check() {
        let s = podman();
        let f = compile(&s).unwrap();
        let k = key(&s);
        let e = entry(&k, &f);
        let back = parse_entry(&e, &k).unwrap();
        assert_eq!(back.to_bytes(), f.to_bytes());
        assert_eq!(back.skipped, f.skipped);
        // Another key, a truncated or an empty entry: a miss, never a wrong filter.
        let mut other = k.clone();
        other.push(b'x');
        assert!(parse_entry(&e, &other).is_none());
        assert!(parse_entry(&e[..e.len() - 3], &k).is_none());
        assert!(parse_entry(&[], &k).is_none());
        assert!(parse_entry(&[0xff; 16], &k).is_none());
    }

    #[test]
    fn key_depends_on_the_section_not_its_formatting() {
        let a: LinuxSeccomp =
            serde_json::from_str(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#)
                .unwrap();
        let b: LinuxSeccomp = serde_json::from_str(
            "{ \"syscalls\" : [ {\"action\":\"SCMP_ACT_ERRNO\", \"names\":[\"mkdir\"]}], \"defaultAction\":\"SCMP_ACT_ALLOW\" }",
        )
        .unwrap();
        let c: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":2}]}"#,
        )
        .unwrap();
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn cache_hit_cost_and_result() {
        let root = tempdir("hit");
        let s = podman();
        let t = std::time::Instant::now();
        let first = cached(&root, &s).unwrap();
        let miss = t.elapsed();
        let files: Vec<_> = std::fs::read_dir(dir(&root)).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "one entry, no temporary file left");
        let n = 50;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let again = cached(&root, &s).unwrap();
            assert_eq!(again.to_bytes(), first.to_bytes());
        }
        println!("podman profile: {miss:?} compiled and stored, {:?} per cache hit", t.elapsed() / n);
        // A damaged entry is recompiled and replaced.
        std::fs::write(files[0].path(), b"garbage").unwrap();
        assert_eq!(cached(&root, &s).unwrap().to_bytes(), first.to_bytes());
        assert!(std::fs::read(files[0].path()).unwrap().len() > 1000);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn unwritable_cache_still_compiles() {
        let root = tempdir("ro");
        std::fs::create_dir_all(&root).unwrap();
        // A file where the cache directory would be.
        std::fs::write(root.join(".cache"), b"").unwrap();
        let s = podman();
        assert!(cached(&root, &s).unwrap().len() > 100);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
