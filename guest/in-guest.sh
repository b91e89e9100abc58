#!/usr/bin/env bash
# Runs INSIDE the guest, as /mnt/stage/run STAGE RESULTS (guest/run.sh stages it; the guest's
# hull-guest.service runs it at boot and powers off after). Steps:
#   1. checks that the guest is what the lane is for: systemd as PID 1, pure cgroup v2;
#   2. installs the staged hull and test binaries on the guest's ext4 disk (running them from 9p
#      is slow, and hull's read-only re-exec wants a normal install);
#   3. smoke-tests hull, runc and crun on one busybox bundle, with the cgroupfs and the systemd
#      cgroup drivers: the container prints, sits in a cgroup of its own, and none is left after;
#   4. runs every staged integration test binary with HULL_TEST_BIN set to the installed hull.
# Every check becomes one line "ok|FAILED|ignored NAME" in RESULTS/results.txt (NAME is
# guest::CHECK, smoke::RUNTIME-DRIVER or BINARY::TEST); everything else goes to stdout, which
# the guest keeps in RESULTS/output.txt. STAGE/settings may set TEST_THREADS, BINARY_TIMEOUT,
# TEST_ARGS (extra libtest arguments, e.g. a filter).
set -euo pipefail

stage=$1
results=$2
TEST_THREADS=2
BINARY_TIMEOUT=1800
TEST_ARGS=""
if [[ -r $stage/settings ]]; then
    # shellcheck source=/dev/null
    . "$stage/settings"
fi

# The test binaries were built on the host and find their fixtures under the host's path of
# the repository (CARGO_MANIFEST_DIR): make that path lead to the shared repository.
if [[ -n ${HOST_REPO:-} && ! -e $HOST_REPO ]]; then
    mkdir -p "$(dirname "$HOST_REPO")"
    ln -s /mnt/repo "$HOST_REPO"
fi

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() { echo "[guest $(uptime_s)s] $*"; }
record() { echo "$1 $2" >>"$results/results.txt"; }
# check NAME COMMAND...: records ok or FAILED for the command's status.
check() {
    local name=$1
    shift
    if "$@"; then record ok "$name"; else
        record FAILED "$name"
        say "FAILED $name"
    fi
}

: >"$results/results.txt"
say "hull-guest-run started (the time since the kernel started: the boot)"
echo "boot_seconds $(uptime_s)" >"$results/timings.txt"

# ---- 1. the guest --------------------------------------------------------------------------
say "kernel $(uname -r); $(systemd --version | head -n 1); $(ldd --version | sed -n 1p); $(nproc) cpus; $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
pid1=$(cat /proc/1/comm)
cgfs=$(stat -f -c %T /sys/fs/cgroup)
v1=$(awk 'NR > 1 && $2 != 0' /proc/cgroups | wc -l)
say "PID 1: $pid1; /sys/fs/cgroup: $cgfs; root controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"
say "v1 hierarchies in /proc/cgroups: $v1; mounts: $(awk '$3 ~ /^cgroup/ {printf "%s %s; ", $2, $3}' /proc/self/mounts)"
say "this script's cgroup: $(cat /proc/self/cgroup)"
check guest::systemd_is_pid1 test "$pid1" = systemd
check guest::pure_cgroup_v2 test "$cgfs" = cgroup2fs -a "$v1" -eq 0
check guest::memory_and_pids_controllers grep -qw memory /sys/fs/cgroup/cgroup.controllers
check guest::system_bus test -S /run/dbus/system_bus_socket

# ---- 2. install ----------------------------------------------------------------------------
hull=/usr/local/bin/hull
tests=/usr/local/lib/hull-tests
install -D -m 0755 "$stage/bin/hull" "$hull"
if [[ -x $stage/bin/criu ]]; then
    install -D -m 0755 "$stage/bin/criu" /usr/local/sbin/criu
fi
mkdir -p "$tests"
if [[ -d $stage/tests ]]; then
    cp "$stage"/tests/* "$tests/"
fi
# Built on the host (Debian 12 too): the same glibc, so the dynamic binaries run unchanged.
missing_libs=$(ldd "$hull" "$tests"/* /usr/local/sbin/criu 2>&1 | grep 'not found' || true)
check guest::host_binaries_link test -z "$missing_libs"
[[ -z $missing_libs ]] || echo "$missing_libs"
say "hull: $("$hull" --version | head -n 1); runc: $(runc --version | head -n 1); crun: $(crun --version | head -n 1); criu: $(criu --version 2>&1 | head -n 1)"

# ---- 3. smoke: one bundle, three runtimes, two cgroup drivers -----------------------------
bundle=/var/lib/hull-smoke/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" "$bundle/rootfs/tmp"
cp /bin/busybox "$bundle/rootfs/bin/"
for a in sh true echo cat sleep; do ln -sf busybox "$bundle/rootfs/bin/$a"; done
(cd "$bundle" && rm -f config.json && runc spec)
# runc refuses a relative root.path that is a symlink; an absolute one is accepted by all three.
# No cgroup namespace: /proc/self/cgroup then shows the container's cgroup path on the host.
# The limits engines commonly set (docker run -m 64m --pids-limit 64 --cpu-shares 512).
jq --arg root "$bundle/rootfs" \
    '.process.terminal = false | .process.args = ["sh", "-c", "echo hello-from-container; cat /proc/self/cgroup"]
     | .root.path = $root | .linux.namespaces |= map(select(.type != "cgroup"))
     | .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 64}
     | .linux.resources.cpu = {"shares": 512}' \
    "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

# smoke RUNTIME DRIVER: runs the bundle once; the output must show the greeting and a cgroup
# named for the container (a systemd scope with the systemd driver), and nothing may be left.
smoke() {
    local rt=$1 driver=$2 id flags=() out rc=0 problems=()
    id=smoke-$rt-$driver
    case $rt-$driver in
    *-cgroupfs) ;;
    crun-systemd) flags=(--cgroup-manager=systemd) ;;
    *-systemd) flags=(--systemd-cgroup) ;;
    esac
    local bin=$rt
    [[ $rt == hull ]] && bin=$hull
    local t0 t1
    t0=$(date +%s.%N)
    out=$(timeout 300 "$bin" --root "/run/smoke-$rt" "${flags[@]}" run --bundle "$bundle" "$id" </dev/null 2>&1) || rc=$?
    t1=$(date +%s.%N)
    "$bin" --root "/run/smoke-$rt" delete --force "$id" >/dev/null 2>&1 || true
    [[ $rc -eq 0 ]] || problems+=("exit status $rc")
    grep -q hello-from-container <<<"$out" || problems+=("no greeting")
    local cg
    cg=$(grep '^0::' <<<"$out" || true)
    [[ $cg == *"$id"* ]] || problems+=("cgroup not named for the container: ${cg:-none}")
    if [[ $driver == systemd ]]; then
        [[ $cg == *.scope* ]] || problems+=("not in a systemd scope: ${cg:-none}")
    else
        [[ $cg != *.scope* ]] || problems+=("in a systemd scope with the cgroupfs driver: $cg")
    fi
    local left
    left=$(find /sys/fs/cgroup -type d -name "*$id*" 2>/dev/null || true)
    [[ -z $left ]] || problems+=("cgroups left: $left")
    if systemctl list-units --all --no-legend 2>/dev/null | grep -q -- "$id"; then
        problems+=("systemd unit left: $(systemctl list-units --all --no-legend | grep -- "$id")")
    fi
    printf '  %-6s %-9s rc=%s %.2fs  %s\n' "$rt" "$driver" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${cg:-}"
    if ((${#problems[@]})); then
        record FAILED "smoke::$rt-$driver"
        printf '    FAILED smoke::%s-%s: %s\n' "$rt" "$driver" "$(IFS=';'; echo "${problems[*]}")"
        while IFS= read -r line; do echo "    | $line"; done <<<"$out"
    else
        record ok "smoke::$rt-$driver"
    fi
}

say "smoke: $bundle (runc spec; memory, pids, cpu.shares; sh -c 'echo; cat /proc/self/cgroup')"
# hull first: right after the boot the root cgroup delegates only what systemd's units use, the
# state of a systemd host; runc enables every controller there itself, hull those the config
# needs (until systemd's next re-realization of the root takes them back).
say "root cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
for rt in hull runc crun; do
    for driver in cgroupfs systemd; do
        smoke "$rt" "$driver"
    done
done
say "smoke done"
echo "smoke_done_seconds $(uptime_s)" >>"$results/timings.txt"

# ---- 4. the integration test binaries -----------------------------------------------------
cgroups_before=$(find /sys/fs/cgroup -mindepth 1 -type d | sort)
export HULL_TEST_BIN=$hull RUST_BACKTRACE=0
cd /tmp
for t in "$tests"/*; do
    [[ -x $t ]] || continue
    name=$(basename "$t")
    args=(--test-threads="$TEST_THREADS")
    # guest_* tests are #[ignore]d on other hosts; here is where they run.
    [[ $name == guest_* ]] && args+=(--include-ignored)
    # The pre-dump test is ignored where the kernel cannot track dirty memory (the development
    # host); Debian's guest kernel can, so it runs here.
    if [[ $name == checkpoint ]] && criu check --feature mem_dirty_track >/dev/null 2>&1; then
        args+=(--include-ignored)
    fi
    # shellcheck disable=SC2206 # TEST_ARGS is a list of words by design
    args+=($TEST_ARGS)
    say "==> $name ${args[*]}"
    log=$results/test-$name.log
    rc=0
    start=$(uptime_s)
    timeout --kill-after=30 "$BINARY_TIMEOUT" "$t" "${args[@]}" >"$log" 2>&1 || rc=$?
    cat "$log"
    echo "test_seconds $name $(awk -v a="$start" -v b="$(uptime_s)" 'BEGIN { print b - a }')" >>"$results/timings.txt"
    sed -n "s/^test \(.*\) \.\.\. \(ok\|FAILED\|ignored\)\(, .*\)\?$/\2 $name::\1/p" "$log" >>"$results/results.txt"
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        record FAILED "$name::<binary timed out after ${BINARY_TIMEOUT}s>"
    elif [[ $rc -ne 0 ]] && ! grep -q "^FAILED $name::\|^test result: FAILED" "$results/results.txt" "$log"; then
        record FAILED "$name::<binary exited with status $rc>"
    fi
done
cgroups_after=$(find /sys/fs/cgroup -mindepth 1 -type d | sort)
left=$(comm -13 <(echo "$cgroups_before") <(echo "$cgroups_after"))
check guest::no_cgroups_left_by_tests test -z "$left"
[[ -z $left ]] || { echo "cgroups left by the tests:"; echo "$left"; }
echo "tests_done_seconds $(uptime_s)" >>"$results/timings.txt"
say "done: $(grep -c '^ok ' "$results/results.txt") ok, $(grep -c '^FAILED ' "$results/results.txt") FAILED, $(grep -c '^ignored ' "$results/results.txt") ignored"
