#!/usr/bin/env bash
# bench/profile.sh: where hull's create/start time goes, by A/B experiments run interleaved.
#
# Each experiment times the same hull command under two conditions that differ in one thing,
# alternating A, B, A, B, ... and prints the medians and the difference:
#
#   rcu     create right after some other cgroup v1 migration (the kernel's cgroup rwsem still
#           in its fast mode) vs after 150 ms of quiet (a cold migration waits for an RCU
#           grace period inside the first write to cgroup.procs)
#   rcu-runc  the same for runc (`runc create`), for comparison
#   cgwrite the bare cost of moving a sleeping process into a fresh v1 cgroup, cold vs warm
#   reexec  hull run from its build directory (re-executes itself once from a read-only view,
#           CVE-2019-5736) vs from a read-only bind mount of the same binary (no re-exec)
#   fsync   state under /run (this VM: the ext4 root disk, where hull fdatasyncs state.json)
#           vs state on a tmpfs
#   netns   a config with a network namespace vs one without (the kernel's setup_net)
#   startup `hull --version`, the cost of just starting the binary, against /bin/true and,
#           when given with --static, a statically linked build
#
#   bench/profile.sh [--n N] [--hull PATH] [--static PATH] [EXPERIMENT...]
#
# Needs root, busybox-static, jq; uses the release build (cargo build --release) unless --hull.
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=40
HULL=
STATIC=
EXPS=()
while (($#)); do
    case $1 in
    --n) N=$2; shift ;;
    --hull) HULL=$2; shift ;;
    --static) STATIC=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) EXPS+=("$1") ;;
    esac
    shift
done
((${#EXPS[@]})) || EXPS=(rcu rcu-runc cgwrite reexec fsync netns startup)
[[ $(id -u) -eq 0 ]] || { echo "profile: run me as root" >&2; exit 1; }
if [[ -z $HULL ]]; then
    HULL=$(bash "$repo/scripts/build-release.sh")
fi
HULL=$(realpath "$HULL")

W=$(mktemp -d /tmp/hull-profile.XXXXXX)
PFX=hp$$
MOUNTS=()
CGS=()
SLEEPER=
cleanup() {
    local rc=$? id r
    set +e
    for r in "$W/st-tmpfs" "/run/$PFX"; do
        [[ -d $r ]] || continue
        for id in $("$HULL" --root "$r" list -q 2>/dev/null); do "$HULL" --root "$r" delete -f "$id" >/dev/null 2>&1; done
    done
    if [[ -d $W/st-tmpfs/runc ]]; then
        for id in $(runc --root "$W/st-tmpfs/runc" list -q 2>/dev/null); do runc --root "$W/st-tmpfs/runc" delete -f "$id" >/dev/null 2>&1; done
    fi
    [[ -n $SLEEPER ]] && { kill "$SLEEPER"; wait "$SLEEPER"; } 2>/dev/null
    for c in "${CGS[@]}"; do rmdir "$c"; done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}"; done
    rm -rf "$W" "/run/$PFX"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bundles (same rootfs), a tmpfs and an on-disk state root, a read-only view of the binary.
mkdir -p "$W/rootfs"/{bin,proc,sys,dev,tmp,etc} "$W/spec" "$W/st-tmpfs" "/run/$PFX" "$W/ro"
cp "$(command -v busybox)" "$W/rootfs/bin/busybox"
ln -sf busybox "$W/rootfs/bin/true"
(cd "$W/spec" && "$HULL" spec)
mk() {
    mkdir -p "$W/$1"
    jq --arg r "$W/rootfs" '.root.path = $r | .process.terminal = false | .process.args = ["/bin/true"] | '"$2" \
        "$W/spec/config.json" >"$W/$1/config.json"
}
mk b-true '.'
mk b-nonet '.linux.namespaces |= map(select(.type != "network"))'
mount -t tmpfs "hull-profile-$PFX" "$W/st-tmpfs"
MOUNTS+=("$W/st-tmpfs")
cp "$HULL" "$W/ro/hull"
mount --bind "$W/ro/hull" "$W/ro/hull"
MOUNTS+=("$W/ro/hull")
mount -o remount,bind,ro "$W/ro/hull"
RO=$W/ro/hull
TMP=$W/st-tmpfs
DISK=/run/$PFX

# A sleeping process of ours and two v1 blkio cgroups of ours to move it between: a move puts the
# kernel's cgroup_threadgroup_rwsem in its writer fast path for about one grace period.
BLKIO=/sys/fs/cgroup/blkio
sleep 100000 &
SLEEPER=$!
if [[ -f $BLKIO/cgroup.procs ]]; then
    mkdir "$BLKIO/$PFX-a" "$BLKIO/$PFX-b"
    CGS+=("$BLKIO/$PFX-a" "$BLKIO/$PFX-b")
fi
WARM_SIDE=a
warm() {
    [[ -f $BLKIO/cgroup.procs ]] || return 0
    WARM_SIDE=$([[ $WARM_SIDE == a ]] && echo b || echo a)
    echo "$SLEEPER" >"$BLKIO/$PFX-$WARM_SIDE/cgroup.procs"
}
cold() { sleep 0.15; }

declare -A SAMPLES
now() { T=${EPOCHREALTIME/./}; }
# timeit KEY CMD...: runs CMD, appends its wall time (us) to SAMPLES[KEY]
timeit() {
    local key=$1 t0
    shift
    now; t0=$T
    "$@" </dev/null >/dev/null 2>>"$W/stderr" || echo "profile: failed: $*" >&2
    now
    SAMPLES[$key]+="$((T - t0)) "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1} END {printf "%.2f", (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2) / 1000}'; }
minimum() { tr ' ' '\n' <<<"$1" | grep . | sort -n | head -n1 | awk '{printf "%.2f", $1/1000}'; }
report() { # report TITLE KEY-A LABEL-A KEY-B LABEL-B
    local ma mb
    ma=$(median "${SAMPLES[$2]}") mb=$(median "${SAMPLES[$4]}")
    printf '%-8s %-46s %8s ms (min %6s)\n' "$1" "$3" "$ma" "$(minimum "${SAMPLES[$2]}")"
    printf '%-8s %-46s %8s ms (min %6s)   difference %s ms\n' "" "$5" "$mb" "$(minimum "${SAMPLES[$4]}")" \
        "$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%+.2f", a - b}')"
}
# cycle ROOT BIN BUNDLE KEY PREP: create (timed, after PREP), start, delete (untimed)
cycle() {
    local root=$1 bin=$2 bundle=$3 key=$4 prep=$5 id=$PFX-$RANDOM$RANDOM
    $prep
    timeit "$key" "$bin" --root "$root" create --bundle "$W/$bundle" "$id"
    "$bin" --root "$root" start "$id" >/dev/null 2>&1 || true
    sleep 0.01
    "$bin" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
}

echo "profile: hull $HULL, N=$N, load $(cut -d' ' -f1-3 /proc/loadavg)"
for e in "${EXPS[@]}"; do
    case $e in
    rcu)
        for ((i = 0; i < N; i++)); do
            cycle "$TMP" "$RO" b-true rcu-cold cold
            cycle "$TMP" "$RO" b-true rcu-warm "eval cold; warm"
        done
        report rcu rcu-cold "create after 150 ms quiet (cold)" rcu-warm "create right after a cgroup move (warm)"
        ;;
    rcu-runc)
        command -v runc >/dev/null || { echo "rcu-runc: runc is not installed"; continue; }
        for ((i = 0; i < N; i++)); do
            cycle "$TMP/runc" runc b-true rr-cold cold
            cycle "$TMP/runc" runc b-true rr-warm "eval cold; warm"
        done
        report rcu-runc rr-cold "runc create after 150 ms quiet (cold)" rr-warm "runc create right after a cgroup move (warm)"
        ;;
    cgwrite)
        [[ -f $BLKIO/cgroup.procs ]] || { echo "cgwrite: no cgroup v1 blkio here"; continue; }
        for ((i = 0; i < N; i++)); do
            cold
            timeit cg-cold warm
            timeit cg-warm warm
        done
        report cgwrite cg-cold "write a pid to v1 cgroup.procs, cold" cg-warm "the same, right after (warm)"
        ;;
    reexec)
        for ((i = 0; i < N; i++)); do
            cycle "$TMP" "$HULL" b-true rx-rw "eval cold; warm"
            cycle "$TMP" "$RO" b-true rx-ro "eval cold; warm"
        done
        report reexec rx-rw "create, binary on a rw fs (re-exec), warm" rx-ro "create, binary on a ro bind mount, warm"
        ;;
    fsync)
        for ((i = 0; i < N; i++)); do
            cycle "$DISK" "$RO" b-true fs-disk "eval cold; warm"
            cycle "$TMP" "$RO" b-true fs-tmp "eval cold; warm"
        done
        report fsync fs-disk "create, state on $(stat -f -c %T /run) (/run), warm" fs-tmp "create, state on tmpfs, warm"
        ;;
    netns)
        for ((i = 0; i < N; i++)); do
            cycle "$TMP" "$RO" b-true net-yes "eval cold; warm"
            cycle "$TMP" "$RO" b-nonet net-no "eval cold; warm"
            timeit floor-net unshare -m -u -i -n -p -f --mount-proc chroot "$W/rootfs" /bin/true
            timeit floor-nonet unshare -m -u -i -p -f --mount-proc chroot "$W/rootfs" /bin/true
        done
        report netns net-yes "create with a network namespace, warm" net-no "create without one, warm"
        report floor floor-net "floor (unshare -muinpf chroot true)" floor-nonet "floor without -n"
        ;;
    startup)
        for ((i = 0; i < N; i++)); do
            timeit su-hull "$RO" --version
            timeit su-true /bin/true
            [[ -n $STATIC ]] && timeit su-static "$STATIC" --version
        done
        report startup su-hull "hull --version (dynamic PIE, ro mount)" su-true "/bin/true"
        [[ -n $STATIC ]] && report "" su-hull "hull --version" su-static "hull --version, static non-PIE build"
        ;;
    *) echo "profile: unknown experiment $e" >&2 ;;
    esac
done
