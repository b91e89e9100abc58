#!/usr/bin/env bash
# Runs hull's pure cgroup v2 + systemd test lane in a QEMU guest and reports the result:
#   1. guest/build.sh: the cached guest image (built on first use);
#   2. cargo builds hull and the integration test binaries of crates/hull (the same Debian 12
#      glibc as the guest, so they run there unchanged) and stages them with guest/in-guest.sh;
#   3. boots the guest (KVM where /proc/cpuinfo shows vmx or svm, else TCG emulation) with the
#      repository (read-only), the stage (read-only) and a results directory (writable) shared
#      over virtio-9p; the guest runs the staged script at boot and powers off;
#   4. prints the guest's output as it comes, then the summary, and exits non-zero if the guest
#      did not finish in time, or a check failed that guest/known-failures.txt does not list, or
#      one it lists passed (strict: remove the line when the fix lands).
#
# Environment:
#   HULL_GUEST_ACCEL=kvm|tcg        override the choice of accelerator
#   HULL_GUEST_TIMEOUT=SECONDS      the whole boot (default 3000; the full lane takes 10-20 min under TCG, more on a loaded machine)
#   HULL_GUEST_TESTS="a b"          test targets of crates/hull to run (default: all of them)
#   HULL_GUEST_TEST_ARGS="..."      extra libtest arguments for every binary (e.g. a filter)
#   HULL_GUEST_TEST_THREADS=N       libtest threads in the guest (default 2)
#   HULL_GUEST_PROFILE=dev|release  cargo profile of the binaries (default dev, what test.sh built)
#   HULL_GUEST_CPUS, HULL_GUEST_MEM guest size (default 2, 2G)
#   HULL_GUEST_KEEP=1               keep the run directory (stage, results, console log)
#   HULL_GUEST_SCRIPT=FILE          run FILE in the guest instead of guest/in-guest.sh (same
#                                   arguments: STAGE RESULTS; e.g. benchmarks, experiments)
#   HULL_GUEST_SCRIPT_ARGS="..."    words for that script, as SCRIPT_ARGS in STAGE/settings
#   HULL_GUEST_HULL=PATH            stage this hull binary instead of the one cargo builds
#   HULL_GUEST_OUT=DIR              copy the guest's results directory to DIR at the end
#   HULL_GUEST_CACHE, HULL_GUEST_MIRROR, HULL_GUEST_REBUILD: see guest/build.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
timeout_s=${HULL_GUEST_TIMEOUT:-3000}
profile=${HULL_GUEST_PROFILE:-dev}

log() { echo "guest/run: $*" >&2; }

t_start=$SECONDS
image=$(bash "$here/build.sh")
t_image=$((SECONDS - t_start))

# ---- binaries ---------------------------------------------------------------------------------
cd "$repo"
t0=$SECONDS
cargo_args=(--profile "$profile" -p hull --message-format=json-render-diagnostics)
hull_bin=$(cargo build "${cargo_args[@]}" --bin hull |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "hull" and (.target.kind | index("bin")) and .executable != null) | .executable')
built=$(cargo test "${cargo_args[@]}" --tests --no-run)
declare -A test_bins=()
while read -r name exe; do
    test_bins[$name]=$exe
done < <(jq -r 'select(.reason == "compiler-artifact" and .target.kind == ["test"] and .executable != null) | "\(.target.name) \(.executable)"' <<<"$built")
t_cargo=$((SECONDS - t0))
[[ -x $hull_bin ]] || {
    log "cargo did not name a hull binary"
    exit 1
}
((${#test_bins[@]})) || {
    log "cargo named no integration test binaries of crates/hull"
    exit 1
}
selected=()
if [[ -n ${HULL_GUEST_TESTS:-} ]]; then
    read -r -a selected <<<"$HULL_GUEST_TESTS"
else
    mapfile -t selected < <(printf '%s\n' "${!test_bins[@]}" | sort)
fi

# ---- stage ------------------------------------------------------------------------------------
run_dir=$(mktemp -d /var/tmp/hull-guest-run.XXXXXX)
stage=$run_dir/stage
results=$run_dir/results
mkdir -p "$stage/bin" "$stage/tests" "$results"
install -m 0755 "${HULL_GUEST_SCRIPT:-$here/in-guest.sh}" "$stage/run"
install -m 0755 "${HULL_GUEST_HULL:-$hull_bin}" "$stage/bin/hull"
# CRIU 4 for the checkpoint tests: the host's build (scripts/build-criu.sh, run by install-deps).
if [[ -x /usr/local/sbin/criu ]]; then
    install -m 0755 /usr/local/sbin/criu "$stage/bin/criu"
fi
for name in "${selected[@]}"; do
    [[ -n ${test_bins[$name]:-} ]] || {
        log "no test target $name in crates/hull (have: ${!test_bins[*]})"
        exit 1
    }
    install -m 0755 "${test_bins[$name]}" "$stage/tests/$name"
done
{
    echo "TEST_THREADS=${HULL_GUEST_TEST_THREADS:-2}"
    printf 'TEST_ARGS=%q\n' "${HULL_GUEST_TEST_ARGS:-}"
    printf 'SCRIPT_ARGS=%q\n' "${HULL_GUEST_SCRIPT_ARGS:-}"
    # Leave time for the boot and the other binaries within the whole timeout.
    echo "BINARY_TIMEOUT=$((timeout_s * 2 / 3))"
    # Test binaries name their fixtures by the host's path of the repository.
    printf 'HOST_REPO=%q\n' "$repo"
} >"$stage/settings"
log "host $(ldd --version | sed -n 1p)"
log "staged hull ($profile) and ${#selected[@]} test binaries (${selected[*]}) in $stage"

# ---- boot -------------------------------------------------------------------------------------
accel=${HULL_GUEST_ACCEL:-}
if [[ -z $accel ]]; then
    # /dev/kvm may be a nested PVM device (kvm-pvm) on which stock kernels hang: only real
    # VMX/SVM hardware virtualization counts.
    if grep -qwE 'vmx|svm' /proc/cpuinfo && [[ -w /dev/kvm ]]; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
*)
    log "HULL_GUEST_ACCEL must be kvm or tcg, not $accel"
    exit 1
    ;;
esac

qemu_pid=
tail_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local p
    for p in $qemu_pid $tail_pid; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [[ -n ${HULL_GUEST_OUT:-} && -d $results ]]; then
        mkdir -p "$HULL_GUEST_OUT" && cp -a "$results/." "$HULL_GUEST_OUT/" || log "could not copy the results to $HULL_GUEST_OUT"
    fi
    if [[ ${HULL_GUEST_KEEP:-0} == 1 ]]; then
        log "kept $run_dir"
    else
        rm -rf "$run_dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cmdline="console=ttyS0 root=/dev/vda rw systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all panic=-1 quiet"
log "booting $image ($accel, ${HULL_GUEST_CPUS:-2} cpus, ${HULL_GUEST_MEM:-2G}, timeout ${timeout_s}s)"
t0=$SECONDS
qemu-system-x86_64 "${accel_args[@]}" -smp "${HULL_GUEST_CPUS:-2}" -m "${HULL_GUEST_MEM:-2G}" \
    -nodefaults -display none -monitor none -no-reboot -nic none -snapshot \
    -serial "file:$run_dir/console.log" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$cmdline" \
    -drive "file=$image/guest.ext4,if=virtio,format=raw" \
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,id=repo" \
    -virtfs "local,path=$stage,mount_tag=stage,security_model=none,readonly=on,id=stage" \
    -virtfs "local,path=$results,mount_tag=results,security_model=none,id=results" \
    </dev/null >"$run_dir/qemu.log" 2>&1 &
qemu_pid=$!
# The guest's output, as it is written.
tail -n +1 -F --pid="$qemu_pid" "$results/output.txt" 2>/dev/null &
tail_pid=$!
timed_out=0
while kill -0 "$qemu_pid" 2>/dev/null; do
    if ((SECONDS - t0 >= timeout_s)); then
        timed_out=1
        log "the guest did not finish within ${timeout_s}s: stopping qemu"
        kill "$qemu_pid" 2>/dev/null || true
        break
    fi
    sleep 2
done
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
t_boot=$((SECONDS - t0))

# ---- verdict ----------------------------------------------------------------------------------
status=0
if [[ ! -s $results/rc ]]; then
    status=1
    ((timed_out)) || log "the guest stopped (qemu status $qemu_rc) without finishing its run"
    log "the last lines of the guest's console:"
    tail -n 60 "$run_dir/console.log" >&2 || true
    [[ -s $run_dir/qemu.log ]] && cat "$run_dir/qemu.log" >&2
    [[ -s $results/output.txt ]] || log "(the guest wrote no output)"
elif [[ $(cat "$results/rc") != 0 ]]; then
    status=1
    log "the guest's script exited with status $(cat "$results/rc")"
fi

known=()
if [[ -r $here/known-failures.txt ]]; then
    mapfile -t known < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$here/known-failures.txt")
fi
declare -A is_known=() got=()
for k in "${known[@]}"; do is_known[$k]=1; done
unexpected=() expected=() fixed=()
n_ok=0 n_failed=0 n_ignored=0
if [[ -r $results/results.txt ]]; then
    while read -r verdict name; do
        got[$name]=$verdict
        case $verdict in
        ok)
            n_ok=$((n_ok + 1))
            [[ -n ${is_known[$name]:-} ]] && fixed+=("$name")
            ;;
        FAILED)
            n_failed=$((n_failed + 1))
            if [[ -n ${is_known[$name]:-} ]]; then expected+=("$name"); else unexpected+=("$name"); fi
            ;;
        ignored) n_ignored=$((n_ignored + 1)) ;;
        esac
    done <"$results/results.txt"
fi

echo
echo "==================== guest summary ===================="
echo "accel: $accel; image: $image"
echo "time: image ${t_image}s, cargo ${t_cargo}s, boot-to-poweroff ${t_boot}s"
[[ -r $results/timings.txt ]] && sed 's/^/  guest /' "$results/timings.txt"
echo "checks: $n_ok ok, $n_failed failed ($((${#expected[@]})) known), $n_ignored ignored"
for n in "${unexpected[@]}"; do echo "  FAILED        $n"; done
for n in "${expected[@]}"; do echo "  known failure $n"; done
for n in "${fixed[@]}"; do echo "  PASSED, listed in guest/known-failures.txt (remove it): $n"; done
if [[ -z ${HULL_GUEST_SCRIPT:-} ]]; then
    for k in "${known[@]}"; do
        [[ -n ${got[$k]:-} ]] || echo "  not run: $k (guest/known-failures.txt)"
    done
fi
# Every staged binary must have reported (a guest script that stopped early did not run them all).
if [[ -z ${HULL_GUEST_SCRIPT:-} ]]; then
    for name in "${selected[@]}"; do
        if ! grep -qE "^(ok|FAILED|ignored) $name::" "$results/results.txt" 2>/dev/null; then
            echo "  no results from $name"
            status=1
        fi
    done
fi
((${#unexpected[@]} == 0 && ${#fixed[@]} == 0)) || status=1
if ((status)); then echo "GUEST: FAILED"; else echo "GUEST: ok"; fi
exit "$status"
