#!/usr/bin/env bash
# The full check: dependencies, cargo fmt, cargo clippy, then every test of the workspace (unit and
# integration; the integration tests start real containers and need root), the engine suite
# (tests/engines/run.sh) and the cgroup v2 guest lane. Runs every step even
# when one fails, prints a summary, and exits non-zero on any failure.
#
# A test that cannot run prints a line "SKIPPED: <why>" (tests/common: only for not being root).
# As root nothing may skip: CI runs as root, so a skip there is a test silently not run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/install-deps.sh

logs=$(mktemp -d /tmp/hull-test-logs.XXXXXX)
trap 'rm -rf "$logs"' EXIT

steps=()
declare -A result
# step NAME COMMAND...: runs the command, its output shown and kept in $logs/NAME.log.
step() {
    local name=$1
    shift
    steps+=("$name")
    echo
    echo "==> $name: $*"
    if "$@" 2>&1 | tee "$logs/$name.log"; then
        result[$name]=ok
    else
        result[$name]=FAILED
    fi
}

root=0
[[ $(id -u) -eq 0 ]] && root=1
((root)) || echo "test.sh: not root: the integration tests will skip (SKIPPED lines below)"

step fmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
# --show-output: libtest captures what passing tests print; SKIPPED lines must be seen.
step test cargo test --workspace --no-fail-fast -- --show-output
# Real engines (podman, containerd, docker) running their containers on the hull just built:
# tests/engines/run.sh installs them, starts its own daemons and checks each workflow's effect.
if ((root)); then
    step engines bash tests/engines/run.sh
else
    echo "test.sh: not root: the engine suite (tests/engines/run.sh) does not run"
fi
# Coverage-guided fuzzing of the parsers of untrusted input (cargo-fuzz, libFuzzer), 10 s a
# target; the stable mutation run (crates/libhull/tests/fuzz.rs) is part of the tests above.
step fuzz bash scripts/fuzz.sh "${HULL_FUZZ_TARGET_SECONDS:-10}"
# The pure cgroup v2 + systemd lane: the tests again in a QEMU guest (guest/run.sh; root builds
# its image).
if ((root)); then
    step guest bash guest/run.sh
else
    echo "test.sh: not root: the guest step (guest/run.sh) does not run"
fi

# Tally the "test result:" lines of every test binary.
read -r passed failed ignored < <(awk '
    /^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed;?$/) p += $(i - 1)
            if ($(i) ~ /^failed;?$/) f += $(i - 1)
            if ($(i) ~ /^ignored;?$/) g += $(i - 1)
        }
    }
    END { print p + 0, f + 0, g + 0 }' "$logs/test.log")
mapfile -t failed_tests < <(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$logs/test.log" | sort -u)
# Each SKIPPED line with the test it came from (libtest heads captured output "---- NAME stdout ----").
mapfile -t skipped < <(awk '
    /^---- .* stdout ----$/ { name = $2 }
    /^[[:space:]]*SKIPPED:/ { sub(/^[[:space:]]*/, ""); print (name == "" ? "?" : name) ": " $0 }' \
    "$logs/test.log" | sort -u)

echo
echo "==================== summary ===================="
for s in "${steps[@]}"; do
    printf '%-8s %s\n' "$s" "${result[$s]}"
done
echo "tests:   $passed passed, $failed failed, $ignored ignored, ${#skipped[@]} skipped"
for t in "${failed_tests[@]}"; do
    echo "  FAILED  $t"
done
for s in "${skipped[@]}"; do
    echo "  SKIPPED $s"
done

status=0
for s in "${steps[@]}"; do
    [[ ${result[$s]} == ok ]] || status=1
done
if ((root && ${#skipped[@]})); then
    echo "test.sh: ${#skipped[@]} test(s) skipped while running as root: CI must run them" >&2
    status=1
fi
if ((status)); then
    echo "RESULT: FAILED"
else
    echo "RESULT: ok"
fi
exit "$status"
