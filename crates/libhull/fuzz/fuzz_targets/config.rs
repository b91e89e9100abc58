#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

/// A bundle directory with an empty rootfs, made once, so that checking gets past `root.path`.
fn bundle() -> &'static PathBuf {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        let b = std::env::temp_dir().join(format!("hull-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(b.join("rootfs")).expect("make the fuzz bundle");
        b
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| libhull::fuzz::config(data, bundle()));
