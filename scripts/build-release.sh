#!/usr/bin/env bash
# Builds hull's release binary as a static PIE and prints its path on stdout.
#
# Why static: a dynamically linked hull spends ~14% of a create's CPU in ld.so and maps glibc's
# and libseccomp's pages into every runtime process (2 a create, 1 a start, 1 a delete); a static
# PIE starts in about half the time and keeps ASLR. Why opt-level "s": the runtime's peak RSS is
# mostly the code it touches (the kernel maps text around each fault), so a smaller text means a
# smaller footprint; the CPU hull spends is a few milliseconds either way. bench/README.md has the
# numbers.
#
# The static binary has its own target directory (target/static): rustflags that make a static
# binary cannot apply to proc-macro crates, so they are given to the final crate only
# (`cargo rustc`), and keeping them apart from `cargo build --release` avoids rebuilding the
# whole tree each time one or the other runs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export CARGO_TARGET_DIR=$repo/target/static
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
# libseccomp-sys links libseccomp.a (Debian's libseccomp-dev ships it) instead of the .so.
export LIBSECCOMP_LINK_TYPE=static
export LIBSECCOMP_LIB_PATH=${LIBSECCOMP_LIB_PATH:-/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)}
# RELR (-z pack-relative-relocs, binutils >= 2.38, glibc >= 2.36): the static PIE's ~10000
# relative relocations packed into ~3 KB instead of 240 KB of RELA that every start reads:
# -320 KB peak RSS of a create, ~0.1 ms less a process start.
# Hot text (scripts/hot-text/): the functions hull's commands execute are linked together
# before the rest of .text, so a process's page faults map that stretch and not the whole
# binary (the kernel maps 64 KiB around each fault). The list is a linker script made by
# single-stepping the commands; names it no longer matches are ignored. The script is passed
# under a name made of its checksum: cargo relinks when the arguments change, not when a file
# they name does.
hot=()
if [[ -s scripts/hot-text/hot-text.ld && ${HULL_HOT_TEXT:-1} != 0 ]]; then
    sum=$(sha256sum scripts/hot-text/hot-text.ld | cut -c1-16)
    mkdir -p "$CARGO_TARGET_DIR"
    cp scripts/hot-text/hot-text.ld "$CARGO_TARGET_DIR/hot-text-$sum.ld"
    hot=(-C "link-arg=-Wl,-T,$CARGO_TARGET_DIR/hot-text-$sum.ld")
fi
cargo rustc --release --quiet -p hull --bin hull -- -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs "${hot[@]}" >&2
bin=$CARGO_TARGET_DIR/release/hull
# A static PIE: position-independent (ELF type DYN, so ASLR applies) and no program interpreter.
if ! readelf -h "$bin" | grep -q 'Type:.*DYN' || readelf -lW "$bin" | grep -q INTERP; then
    echo "build-release: $bin is not a static PIE" >&2
    exit 1
fi
echo "$bin"
