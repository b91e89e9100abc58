//! Runs every example of `crates/libhull/examples` (as root: they start real containers) and
//! checks its exit status: each example checks what it did and exits non-zero otherwise.
//!
//! `cargo test` builds the examples next to the test binaries (`target/<profile>/examples`).
//! An example that hangs is killed after `TIMEOUT`, and the containers it left are deleted
//! through the library.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(180);

/// The examples, each a file in `examples/`.
fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".rs")).map(String::from))
        .collect();
    names.sort();
    names
}

/// `target/<profile>/examples/NAME`, beside this test's `deps/` directory.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// Deletes what an example killed by the timeout left: its containers and scratch directory.
fn clean_up_after(pid: u32) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("hull-example-") && name.ends_with(&format!("-{pid}")) {
            let rt = libhull::Runtime::new(e.path().join("state"));
            for c in rt.list().unwrap_or_default() {
                let _ = rt.delete(&c.id, true);
            }
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[test]
fn every_example_runs_and_checks_what_it_did() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: the examples start containers and need root");
        return;
    }
    let names = examples();
    assert!(names.len() >= 9, "examples found: {names:?}");
    let mut failed = Vec::new();
    for name in &names {
        let bin = binary(name);
        assert!(bin.exists(), "{} is missing: `cargo test --workspace` (or `cargo build --examples`) builds it", bin.display());
        // `cargo test --test examples` alone does not rebuild the examples: never run an old one.
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).expect("example binary mtime");
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for src in [sources.join(format!("{name}.rs")), sources.join("common/mod.rs")] {
            let changed = std::fs::metadata(&src).and_then(|m| m.modified()).expect("example source mtime");
            assert!(built >= changed, "{} is older than {}: run `cargo build -p libhull --examples` first", bin.display(), src.display());
        }
        let start = Instant::now();
        let mut child = Command::new(&bin).stdin(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for the example") {
                break Some(st);
            }
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                clean_up_after(child.id());
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        match status {
            Some(st) if st.success() => eprintln!("example {name}: ok in {:?}", start.elapsed()),
            Some(st) => failed.push(format!("{name}: {st}")),
            None => failed.push(format!("{name}: still running after {TIMEOUT:?}")),
        }
    }
    assert!(failed.is_empty(), "examples failed: {failed:?}");
}
