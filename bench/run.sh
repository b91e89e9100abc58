#!/usr/bin/env bash
# bench/run.sh: hull against runc (and crun, in the cgroup v2 guest) side by side, in one run.
#
# Builds hull (release), installs the reference runtimes and tools from Debian, makes a busybox
# bundle (args /bin/true, terminal false) and measures every runtime INTERLEAVED (A, B, A, B, ...,
# the order rotated each iteration), so that the machine's noise hits all of them alike. Prints a
# table (median, min, max), the ratios hull/runc (hull/crun) and hull/floor, and writes every
# sample to bench/results/<date>.json. See bench/README.md.
#
#   bench/run.sh                     the full run (as root): 100 x run, phases, exec, 20 and 100
#                                    in parallel, memory, instruction counts
#   bench/run.sh --quick             a smoke run: 10 iterations, 20 in parallel, 1 round
#   bench/run.sh --guest             the same measurements inside the cgroup v2 guest (with crun),
#                                    when guest/run.sh exists
#
# Options:
#   --runs N            sequential iterations of run, create/start/delete and exec (default 100)
#   --parallel "A B"    parallel sizes (default "20 100"; "A,B" works too)
#   --rounds N          rounds of each parallel size (default 3)
#   --mem-samples N     samples of the memory and CPU measures of create (default 10)
#   --runtimes LIST     comma-separated among hull, hull-ro, runc, crun (default hull,runc; hull-ro
#                       is hull run from a read-only bind mount of its binary, which skips its
#                       one-time re-exec that protects against CVE-2019-5736)
#   --hull PATH         use this hull binary, do not build
#   --no-install        do not apt-get install anything (everything must be present)
#   --state-dir DIR     keep the runtimes' state roots under DIR (default: a tmpfs the bench mounts,
#                       as /run is on most hosts; on this VM /run is on the ext4 root disk)
#   --out FILE          the JSON file (default bench/results/<date>.json)
#   --gap SEC           sleep SEC before each timed run, create and exec (default 0.1). The first
#                       cgroup v1 migration after a quiet moment waits for an RCU grace period
#                       and the ones soon after do not, so without a gap a command rides on the
#                       wait its predecessor (the other runtime) paid; --gap 0 measures
#                       back-to-back anyway (see bench/README.md, "The RCU grace period")
#   --keep-work         keep the work directory (bundles, logs, raw samples)
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

RUNS=100
PAR_SIZES="20 100"
PAR_ROUNDS=3
MEM_SAMPLES=10
RUNTIMES=hull,runc
HULL=
INSTALL=1
STATE_DIR=
OUT=
KEEP_WORK=0
GAP=0.1
GUEST=0
guest_args=()
while (($#)); do
    case $1 in
    --runs) RUNS=$2; guest_args+=("$1" "$2"); shift ;;
    --parallel) PAR_SIZES=${2//,/ }; guest_args+=("$1" "${2// /,}"); shift ;;
    --rounds) PAR_ROUNDS=$2; guest_args+=("$1" "$2"); shift ;;
    --mem-samples) MEM_SAMPLES=$2; guest_args+=("$1" "$2"); shift ;;
    --runtimes) RUNTIMES=$2; shift ;;
    --hull) HULL=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --state-dir) STATE_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --keep-work) KEEP_WORK=1 ;;
    --gap) GAP=$2; guest_args+=("$1" "$2"); shift ;;
    --quick) RUNS=10 PAR_SIZES=20 PAR_ROUNDS=1 MEM_SAMPLES=3; guest_args+=(--quick) ;;
    --guest) GUEST=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ $(id -u) -ne 0 ]]; then
    echo "bench: run me as root (containers, cgroups, mounts)" >&2
    exit 1
fi

log() { echo "bench: $*" >&2; }

build_hull() {
    if [[ -z $HULL ]]; then
        log "scripts/build-release.sh (static PIE)"
        HULL=$(bash "$repo/scripts/build-release.sh")
    fi
    HULL=$(realpath "$HULL")
    [[ -x $HULL ]] || { log "no hull binary at $HULL"; exit 1; }
}

# ---------------------------------------------------------------------------------------------
# --guest: the crun comparison. crun refuses this host's hybrid cgroups, so it runs inside the
# pure cgroup v2 guest (another branch builds guest/). The contract expected of guest/run.sh:
# `guest/run.sh CMD...` boots the guest with this tree shared at the same path, runs CMD in it
# as root and exits with its status. Only the ratios of one guest run mean anything (TCG).
if ((GUEST)); then
    build_hull
    out=${OUT:-$repo/bench/results/guest-$(date -u +%Y%m%dT%H%M%SZ).json}
    guest_out=$(mktemp -d)
    rc=0
    HULL_GUEST_SCRIPT=$repo/bench/in-guest.sh HULL_GUEST_HULL=$HULL HULL_GUEST_OUT=$guest_out \
        HULL_GUEST_SCRIPT_ARGS="${guest_args[*]}" HULL_GUEST_TIMEOUT=${HULL_GUEST_TIMEOUT:-3600} \
        bash "$repo/guest/run.sh" || rc=$?
    if [[ -s $guest_out/bench.json ]]; then
        mkdir -p "$(dirname "$out")"
        cp "$guest_out/bench.json" "$out"
        log "results: $out"
    fi
    rm -rf "$guest_out"
    exit "$rc"
fi

# ---------------------------------------------------------------------------------------------
# Setup: packages, build, work directory, bundles.
if ((INSTALL)); then
    pkgs=(runc busybox-static jq time util-linux valgrind python3)
    [[ ,$RUNTIMES, == *,crun,* ]] && pkgs+=(crun)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    # perf only where the CPU counters work (not on this VM: "instructions <not supported>").
    if ! command -v perf >/dev/null; then missing+=(linux-perf); fi
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
build_hull

IFS=, read -r -a RTS <<<"$RUNTIMES"
for rt in "${RTS[@]}"; do
    case $rt in
    hull | hull-ro) ;;
    runc | crun) command -v "$rt" >/dev/null || { log "$rt is not installed"; exit 1; } ;;
    *) log "unknown runtime $rt"; exit 2 ;;
    esac
done

W=$(mktemp -d /tmp/hull-bench.XXXXXX)
S=$W/samples
mkdir -p "$S" "$W/logs"
PFX=hb$$
CG_MEAS=()      # measuring cgroups this script made (removed at exit)
MOUNTS=()       # mounts this script made (unmounted at exit, last first)
BG_PIDS=()      # background processes this script started
if [[ -z $STATE_DIR ]]; then
    mkdir -p "$W/state"
    mount -t tmpfs -o size=256m,mode=0700 "hull-bench-$PFX" "$W/state"
    MOUNTS+=("$W/state")
    STATE_DIR=$W/state
fi
STATE_DIR=$(realpath "$STATE_DIR")

# The argv of a runtime command: rt_argv RT sets A=(binary --root DIR).
rt_argv() {
    case $1 in
    hull) A=("$HULL" --root "$STATE_DIR/hull") ;;
    hull-ro) A=("$W/ro/hull" --root "$STATE_DIR/hull-ro") ;;
    runc) A=(runc --root "$STATE_DIR/runc") ;;
    crun) A=(crun --root "$STATE_DIR/crun") ;;
    esac
}

cleanup() {
    local rc=$? rt id p
    set +e
    for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for rt in "${RTS[@]}"; do
        rt_argv "$rt"
        for id in $("${A[@]}" list -q 2>/dev/null | grep "^$PFX-"); do
            "${A[@]}" delete -f "$id" >/dev/null 2>&1 || log "cleanup: $rt delete -f $id failed"
        done
    done
    for p in "${CG_MEAS[@]}"; do [[ -d $p ]] && rmdir "$p"; done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}"; done
    if ((KEEP_WORK)); then log "work directory kept: $W"; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ,$RUNTIMES, == *,hull-ro,* ]]; then
    mkdir -p "$W/ro"
    cp "$HULL" "$W/ro/hull"
    mount --bind "$W/ro/hull" "$W/ro/hull"
    MOUNTS+=("$W/ro/hull")
    mount -o remount,bind,ro "$W/ro/hull"
fi

# Bundles: one rootfs, several configs. The config is hull's `spec` (runc's example config),
# the same file for every runtime.
ROOTFS=$W/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$ROOTFS/bin/busybox"
for a in sh true sleep cat; do ln -sf busybox "$ROOTFS/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
echo 'root:x:0:' >"$ROOTFS/etc/group"
mkdir -p "$W/spec"
(cd "$W/spec" && "$HULL" spec)
# make_bundle NAME JQ-FILTER: a bundle directory whose config is the spec passed through the filter.
make_bundle() {
    mkdir -p "$W/$1"
    ln -sfn "$ROOTFS" "$W/$1/rootfs"
    # ociVersion 1.0.2: the config uses nothing newer, and Debian 12's crun 1.8 refuses "1.3.0"
    # ("unknown version specified").
    jq --arg root "$ROOTFS" '.ociVersion = "1.0.2" | .root.path = $root | .process.terminal = false | '"$2" \
        "$W/spec/config.json" >"$W/$1/config.json"
}
make_bundle b-true '.process.args = ["/bin/true"]'
make_bundle b-sleep '.process.args = ["/bin/sleep", "100000"]'
make_bundle b-mem '.process.args = ["/bin/true"] | .linux.cgroupsPath = "/'"$PFX"'-mem"'
B_TRUE=$W/b-true B_SLEEP=$W/b-sleep B_MEM=$W/b-mem

# ---------------------------------------------------------------------------------------------
# Helpers. Times come from $EPOCHREALTIME (no fork); samples are appended to $S/<metric>@<rt>.
now() { T=${EPOCHREALTIME/./}; }
pause() { [[ $GAP == 0 ]] || sleep "$GAP"; }
sample() { echo "$3" >>"$S/$1@$2"; }
fail() { echo "$1 $2 ${3:-fail}" >>"$S/failures"; echo "$(date +%T) $1 $2 ${3:-fail}" >>"$W/logs/failures.log"; }
# rotated ORDER for iteration $1: RTS rotated by $1 (plus floor where asked)
rotate() {
    local n=$1 list=("${@:2}") k=${#list[@]}
    ORDER=()
    for ((j = 0; j < k; j++)); do ORDER+=("${list[(j + n) % k]}"); done
}
# status RT ID: prints the container's status (or "gone")
status() {
    rt_argv "$1"
    "${A[@]}" state "$2" 2>/dev/null | jq -r .status 2>/dev/null || echo gone
}
# wait_stopped RT ID: untimed wait for a started /bin/true to exit (up to 10 s)
wait_stopped() {
    local k s
    for ((k = 0; k < 1000; k++)); do
        s=$(status "$1" "$2")
        [[ $s == stopped || $s == gone ]] && return 0
        sleep 0.01
    done
    return 1
}
errlog=$W/logs/stderr.log

# Sanity: every runtime runs the bundle.
for rt in "${RTS[@]}"; do
    rt_argv "$rt"
    if ! "${A[@]}" run --bundle "$B_TRUE" "$PFX-check-$rt" </dev/null >/dev/null 2>"$W/logs/check-$rt.log"; then
        log "$rt cannot run the bundle:"; cat "$W/logs/check-$rt.log" >&2; exit 1
    fi
    "${A[@]}" delete -f "$PFX-check-$rt" >/dev/null 2>&1 || true
done
log "runtimes: ${RTS[*]}; hull: $HULL; state: $STATE_DIR; work: $W"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# Warm-up (page cache, dentries): 3 untimed runs each.
for ((i = 0; i < 3; i++)); do
    for rt in "${RTS[@]}"; do
        rt_argv "$rt"
        "${A[@]}" run --bundle "$B_TRUE" "$PFX-warm-$rt-$i" </dev/null >/dev/null 2>>"$errlog" || true
        "${A[@]}" delete -f "$PFX-warm-$rt-$i" >/dev/null 2>&1 || true
    done
    unshare -m -u -i -n -p -f --mount-proc chroot "$ROOTFS" /bin/true
done

# ---------------------------------------------------------------------------------------------
# 1. $RUNS sequential `run` of /bin/true, unique ids, interleaved with the floor.
log "1/6: $RUNS x run /bin/true (+ floor), interleaved"
for ((i = 0; i < RUNS; i++)); do
    rotate "$i" "${RTS[@]}" floor
    for rt in "${ORDER[@]}"; do
        pause
        if [[ $rt == floor ]]; then
            now; t0=$T
            unshare -m -u -i -n -p -f --mount-proc chroot "$ROOTFS" /bin/true || fail run floor
            now; sample run floor $((T - t0))
            continue
        fi
        id=$PFX-run-$rt-$i
        rt_argv "$rt"
        now; t0=$T
        if "${A[@]}" run --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>>"$errlog"; then
            now; sample run "$rt" $((T - t0))
        else
            fail run "$rt"
        fi
        # `run` deletes the container; make sure (untimed).
        [[ $(status "$rt" "$id") == gone ]] || { "${A[@]}" delete -f "$id" >/dev/null 2>&1; fail run-leftover "$rt"; }
    done
done

# ---------------------------------------------------------------------------------------------
# 2. create, start and delete, each timed, per iteration.
log "2/6: $RUNS x create / start / delete, interleaved"
for ((i = 0; i < RUNS; i++)); do
    rotate "$i" "${RTS[@]}"
    for rt in "${ORDER[@]}"; do
        id=$PFX-csd-$rt-$i
        rt_argv "$rt"
        pause
        now; t0=$T
        if ! "${A[@]}" create --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>>"$errlog"; then
            fail create "$rt"; "${A[@]}" delete -f "$id" >/dev/null 2>&1; continue
        fi
        now; t1=$T
        if ! "${A[@]}" start "$id" </dev/null >/dev/null 2>>"$errlog"; then
            fail start "$rt"; "${A[@]}" delete -f "$id" >/dev/null 2>&1; continue
        fi
        now; t2=$T
        sample create "$rt" $((t1 - t0))
        sample start "$rt" $((t2 - t1))
        wait_stopped "$rt" "$id" || fail stop-wait "$rt"
        now; t3=$T
        if "${A[@]}" delete "$id" </dev/null >/dev/null 2>>"$errlog"; then
            now; sample delete "$rt" $((T - t3))
            sample create+start+delete "$rt" $((t2 - t0 + T - t3))
        else
            fail delete "$rt"; "${A[@]}" delete -f "$id" >/dev/null 2>&1
        fi
    done
done

# ---------------------------------------------------------------------------------------------
# 3. exec /bin/true into a running container.
log "3/6: $RUNS x exec /bin/true into a running container, interleaved"
for rt in "${RTS[@]}"; do
    rt_argv "$rt"
    "${A[@]}" create --bundle "$B_SLEEP" "$PFX-exec-$rt" </dev/null >/dev/null 2>>"$errlog" || { log "$rt: cannot create the exec target"; exit 1; }
    "${A[@]}" start "$PFX-exec-$rt" 2>>"$errlog"
done
for ((i = 0; i < RUNS; i++)); do
    rotate "$i" "${RTS[@]}"
    for rt in "${ORDER[@]}"; do
        rt_argv "$rt"
        pause
        now; t0=$T
        if "${A[@]}" exec "$PFX-exec-$rt" /bin/true </dev/null >/dev/null 2>>"$errlog"; then
            now; sample exec "$rt" $((T - t0))
        else
            fail exec "$rt"
        fi
    done
done
for rt in "${RTS[@]}"; do
    rt_argv "$rt"
    "${A[@]}" delete -f "$PFX-exec-$rt" >/dev/null 2>>"$errlog" || fail exec-delete "$rt"
done

# ---------------------------------------------------------------------------------------------
# 4. N containers created in parallel, then started in parallel, then deleted in parallel.
# Every command runs under `timeout 60`: a hang is counted (exit 124) and cannot stall the bench.
# par_phase METRIC RT N CMD-ARGS...: runs N copies (the id substituted for @ID@), records the
# wall time of the phase and the failures.
par_phase() {
    local metric=$1 rt=$2 n=$3 j p rc bad=0 hung=0 t0 pids=()
    shift 3
    rt_argv "$rt"
    now; t0=$T
    for ((j = 0; j < n; j++)); do
        local argv=("${@//@ID@/$PFX-par-$rt-$j}")
        timeout -k 5 60 "${A[@]}" "${argv[@]}" </dev/null >/dev/null 2>>"$errlog" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        rc=0; wait "$p" || rc=$?
        if ((rc == 124 || rc == 137)); then hung=$((hung + 1)); elif ((rc != 0)); then bad=$((bad + 1)); fi
    done
    now
    sample "$metric" "$rt" $((T - t0))
    for ((j = 0; j < bad; j++)); do fail "$metric" "$rt"; done
    for ((j = 0; j < hung; j++)); do fail "$metric" "$rt" hang; done
    PAR_WALL=$((T - t0))
}
log "4/6: parallel create/start/delete of ${PAR_SIZES// /, } containers, $PAR_ROUNDS round(s), interleaved"
for ((r = 0; r < PAR_ROUNDS; r++)); do
    for n in $PAR_SIZES; do
        rotate "$r" "${RTS[@]}"
        for rt in "${ORDER[@]}"; do
            par_phase "par$n-create" "$rt" "$n" create --bundle "$B_TRUE" @ID@; w=$PAR_WALL
            par_phase "par$n-start" "$rt" "$n" start @ID@; w=$((w + PAR_WALL))
            for ((j = 0; j < n; j++)); do wait_stopped "$rt" "$PFX-par-$rt-$j" || true; done
            par_phase "par$n-delete" "$rt" "$n" delete -f @ID@; w=$((w + PAR_WALL))
            sample "par$n-total" "$rt" "$w"
            rt_argv "$rt"
            left=$("${A[@]}" list -q 2>/dev/null | grep -c "^$PFX-par-" || true)
            if ((left)); then
                for ((j = 0; j < left; j++)); do fail "par$n-leftover" "$rt"; done
                for id in $("${A[@]}" list -q | grep "^$PFX-par-"); do "${A[@]}" delete -f "$id" >/dev/null 2>&1; done
            fi
        done
    done
done

# ---------------------------------------------------------------------------------------------
# 5. Memory. (a) /usr/bin/time -f %M of `create`: the peak RSS of the runtime's command (its
# waited-for children included). (b) A memory + cpuacct cgroup made for the measuring: the
# command runs in it, and its peak charge (memory.max_usage_in_bytes) and CPU time
# (cpuacct.usage) are read after; the container's init, once moved to its own cgroup
# (cgroupsPath /$PFX-mem), is charged there: that cgroup's peak and CPU are read right after
# `create`, before `start`, when only runtime code has run in it. (c) The smallest
# linux.resources.memory.limit under which `run` of /bin/true still succeeds, bisected
# between 256 KiB and 64 MiB.
log "5/6: memory (peak RSS of create, cgroup peaks, smallest memory limit)"
MEMCG=/sys/fs/cgroup/memory
CPUCG=/sys/fs/cgroup/cpuacct
cgv1=0
[[ -f $MEMCG/memory.max_usage_in_bytes && -f $CPUCG/cpuacct.usage ]] && cgv1=1
if ((cgv1)); then
    mkdir "$MEMCG/$PFX-meas" "$CPUCG/$PFX-meas"
    CG_MEAS+=("$MEMCG/$PFX-meas" "$CPUCG/$PFX-meas")
fi
for ((i = 0; i < MEM_SAMPLES; i++)); do
    rotate "$i" "${RTS[@]}"
    for rt in "${ORDER[@]}"; do
        rt_argv "$rt"
        id=$PFX-mem-$rt-$i
        if /usr/bin/time -f %M -o "$W/rss" "${A[@]}" create --bundle "$B_MEM" "$id" </dev/null >/dev/null 2>>"$errlog"; then
            sample rss-create "$rt" "$(tail -n1 "$W/rss")"
        else
            fail rss-create "$rt"
        fi
        "${A[@]}" delete -f "$id" >/dev/null 2>>"$errlog" || true
        ((cgv1)) || continue
        echo 0 >"$MEMCG/$PFX-meas/memory.max_usage_in_bytes"
        echo 0 >"$CPUCG/$PFX-meas/cpuacct.usage"
        # The subshell joins the measuring cgroups, then becomes the runtime (exec).
        if (
            echo "$BASHPID" >"$MEMCG/$PFX-meas/cgroup.procs"
            echo "$BASHPID" >"$CPUCG/$PFX-meas/cgroup.procs"
            exec "${A[@]}" create --bundle "$B_MEM" "$id" </dev/null >/dev/null 2>>"$errlog"
        ); then
            sample cg-peak-cli "$rt" $(($(cat "$MEMCG/$PFX-meas/memory.max_usage_in_bytes") / 1024))
            sample cpu-cli "$rt" $(($(cat "$CPUCG/$PFX-meas/cpuacct.usage") / 1000))
            if [[ -f $MEMCG/$PFX-mem/memory.max_usage_in_bytes ]]; then
                sample cg-peak-init "$rt" $(($(cat "$MEMCG/$PFX-mem/memory.max_usage_in_bytes") / 1024))
                sample cpu-init "$rt" $(($(cat "$CPUCG/$PFX-mem/cpuacct.usage") / 1000))
            fi
        else
            fail cg-peak "$rt"
        fi
        "${A[@]}" delete -f "$id" >/dev/null 2>>"$errlog" || true
    done
done

# limit_ok RT KIB: does `run` of /bin/true succeed under a memory limit of KIB KiB? (`run`
# exits with the container's status, 137 when the OOM killer took it; only the clock tells a hang.)
limit_ok() {
    local rt=$1 kib=$2 id=$PFX-lim-$1-$2 rc=0 t0
    jq --argjson l $((kib * 1024)) '.linux.resources.memory.limit = $l' "$B_MEM/config.json" >"$W/b-lim/config.json"
    rt_argv "$rt"
    now; t0=$T
    timeout -k 5 30 "${A[@]}" run --bundle "$W/b-lim" "$id" </dev/null >/dev/null 2>>"$W/logs/limit-$rt.log" || rc=$?
    now
    echo "$kib KiB: exit $rc" >>"$W/logs/limit-$rt.log"
    "${A[@]}" delete -f "$id" >/dev/null 2>&1 || true
    ((T - t0 >= 30000000)) && fail min-limit "$rt" hang
    return $((rc != 0))
}
mkdir -p "$W/b-lim"
ln -sfn "$ROOTFS" "$W/b-lim/rootfs"
for rt in "${RTS[@]}"; do
    ((cgv1)) || [[ -f /sys/fs/cgroup/cgroup.controllers ]] || break
    lo=256 hi=65536  # KiB; invariant: hi works, lo does not
    if limit_ok "$rt" "$lo"; then
        echo "$rt <=256" >>"$S/min-limit"; continue
    elif ! limit_ok "$rt" "$hi"; then
        echo "$rt >65536" >>"$S/min-limit"; continue
    fi
    while ((hi - lo > 16)); do
        mid=$(((lo + hi) / 2 / 4 * 4))
        if limit_ok "$rt" "$mid"; then hi=$mid; else lo=$mid; fi
    done
    # Confirm the edge twice more: a flaky success would make the bisection lie.
    while ! { limit_ok "$rt" "$hi" && limit_ok "$rt" "$hi"; } && ((hi < 65536)); do hi=$((hi + 16)); done
    echo "$rt $hi" >>"$S/min-limit"
done

# ---------------------------------------------------------------------------------------------
# 6. Instructions of one `create`: perf stat where the CPU counters work, else callgrind on the
# runtime's own process only (--trace-children=no: the container's init, a clone or a re-exec,
# is not counted). hull is run from a read-only bind mount here so that its CVE-2019-5736
# re-exec does not hand the work to an untraced process.
log "6/6: instruction counts of one create"
ins_tool=none
if perf stat -x, -e instructions:u true 2>&1 >/dev/null | grep -q '^[0-9]'; then
    ins_tool=perf
elif command -v valgrind >/dev/null; then
    ins_tool=callgrind
fi
echo "$ins_tool" >"$S/instructions-tool"
if [[ $ins_tool != none ]]; then
    if [[ ! -e $W/ro/hull ]]; then
        mkdir -p "$W/ro"
        cp "$HULL" "$W/ro/hull"
        mount --bind "$W/ro/hull" "$W/ro/hull"
        MOUNTS+=("$W/ro/hull")
        mount -o remount,bind,ro "$W/ro/hull"
    fi
    for rt in "${RTS[@]}"; do
        irt=$rt
        [[ $rt == hull ]] && irt=hull-ro
        rt_argv "$irt"
        id=$PFX-ins-$rt
        rc=0
        if [[ $ins_tool == perf ]]; then
            perf stat -x, -e instructions:u -o "$W/ins-$rt" "${A[@]}" create --bundle "$B_TRUE" "$id" \
                </dev/null >/dev/null 2>"$W/logs/ins-$rt.log" || rc=$?
            n=$(grep -m1 instructions "$W/ins-$rt" 2>/dev/null | cut -d, -f1)
        else
            timeout -k 5 300 valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$W/ins-$rt" \
                "${A[@]}" create --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>"$W/logs/ins-$rt.log" || rc=$?
            n=$(awk '/^(summary|totals):/ {print $2; exit}' "$W/ins-$rt" 2>/dev/null || true)
        fi
        "${A[@]}" delete -f "$id" >/dev/null 2>&1 || true
        if ((rc == 0)) && [[ $n =~ ^[0-9]+$ ]]; then
            sample instructions-create "$rt" "$n"
        else
            why=$(grep -v '^==' "$W/logs/ins-$rt.log" | grep -m1 -iE 'unhandled|error|assert|fail' | cut -c1-160 || true)
            echo "$rt exit $rc${why:+: $why}" >>"$S/instructions-failed"
        fi
    done
fi

# ---------------------------------------------------------------------------------------------
# No container, cgroup or state of ours may be left.
for rt in "${RTS[@]}"; do
    rt_argv "$rt"
    n=$("${A[@]}" list -q 2>/dev/null | grep -c "^$PFX-" || true)
    for ((j = 0; j < n; j++)); do fail leftover-containers "$rt"; done
done
for c in /sys/fs/cgroup/*/; do
    n=$(find "$c" -maxdepth 3 -type d -name "$PFX-*" ! -name "$PFX-meas" 2>/dev/null | wc -l)
    ((n == 0)) || { fail leftover-cgroups all; log "leftover cgroups under $c"; }
done

# ---------------------------------------------------------------------------------------------
# Report.
date=$(date -u +%Y-%m-%dT%H%M%SZ)
[[ -n $OUT ]] || OUT=$repo/bench/results/$date.json
mkdir -p "$(dirname "$OUT")"
cgkind=hybrid
[[ -f /sys/fs/cgroup/cgroup.controllers ]] && cgkind=v2
versions=()
for rt in "${RTS[@]}"; do
    rt_argv "$rt"
    # The whole output, then its first line: `| head -n1` would close the pipe early, and hull
    # aborts on EPIPE (println! panics, panic=abort).
    v=$("${A[@]}" --version 2>/dev/null || true)
    versions+=("$rt=${v%%$'\n'*}")
done
python3 "$repo/bench/report.py" "$S" "$OUT" \
    "date=$date" \
    "kernel=$(uname -r)" \
    "cpus=$(nproc)" \
    "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
    "cgroups=$cgkind" \
    "state_fs=$(stat -f -c %T "$STATE_DIR")" \
    "git=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)" \
    "runs=$RUNS" "parallel=$PAR_SIZES" "rounds=$PAR_ROUNDS" "mem_samples=$MEM_SAMPLES" \
    "runtimes=$RUNTIMES" "gap_s=$GAP" \
    "loadavg_start=$LOAD_START" "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" \
    "${versions[@]/#/version_}"
log "results: $OUT"
