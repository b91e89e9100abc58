#!/usr/bin/env bash
# Runs every cargo-fuzz target of crates/libhull/fuzz (README.md there) with libFuzzer for SECONDS
# each (default 10), starting from the inputs in regressions/<target>/. Fails when a target
# crashes (libFuzzer leaves the input in crates/libhull/fuzz/artifacts/<target>/).
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 makes the
# stable toolchain accept them. cargo-fuzz itself is installed with cargo if missing.
set -euo pipefail

secs=${1:-10}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir=$repo/crates/libhull/fuzz

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install --locked --quiet cargo-fuzz
fi

cd "$fuzz_dir"
export RUSTC_BOOTSTRAP=1
# Its own target dir: the sanitizer build shares nothing with the normal one.
export CARGO_TARGET_DIR=${HULL_FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$repo/target}/fuzz}
corpora=$(mktemp -d /tmp/hull-fuzz-corpus.XXXXXX)
trap 'rm -rf "$corpora"' EXIT

status=0
for t in config seccomp mountinfo id_map sync_msg; do
    mkdir -p "$corpora/$t"
    dirs=("$corpora/$t")
    [[ -d regressions/$t ]] && dirs+=("regressions/$t")
    echo "==> fuzz $t (${secs}s)"
    # The first corpus directory takes what libFuzzer finds; the regressions are only read.
    log=$corpora/$t.log
    rc=0
    cargo fuzz run "$t" "${dirs[@]}" -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 >"$log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" || true
    if ((rc != 0)); then
        tail -n 60 "$log"
        echo "fuzz.sh: $t failed (status $rc): fix the crash and keep its input in crates/libhull/fuzz/regressions/$t/"
        status=1
    fi
done
exit "$status"
