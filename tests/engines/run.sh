#!/usr/bin/env bash
# The engine suite: podman, containerd (ctr) and docker run their containers on the hull binary
# just built, and each workflow's effect is checked inside the container or on the host.
#
#   bash tests/engines/run.sh [podman|containerd|docker ...]     (as root; default: all three)
#
# It installs the engines from Debian, builds an offline busybox image (busybox-static), starts
# containerd and dockerd with its own config files under a temporary directory (state, storage
# and sockets all there; /etc is not touched but for the rootless tests' user, made once and
# kept as crates/hull/tests/rootless.rs does), records their pids and stops exactly those at the
# end. One PASS/FAIL line a check, then a summary; exits non-zero on any failure. Last it checks
# that nothing of the suite is left: no container, mount, cgroup, process or daemon.
#
# HULL_BIN=/path/to/hull uses that binary instead of building one (cargo build -p hull).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
source "$repo/tests/engines/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "engines: must run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

engines=("$@")
((${#engines[@]})) || engines=(podman containerd docker)
want() { [[ " ${engines[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Packages (as reference: podman 4.3, containerd 1.6, dockerd 20.10 on Debian 12)
PACKAGES=(podman conmon containerd runc docker.io busybox-static util-linux uidmap catatonit slirp4netns jq procps)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "engines: installing ${missing[*]}"
    # The packages' scripts must not start their daemons: this suite starts its own.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rc=$?
    ((made_policy)) && rm -f "$policy"
    if ((rc)); then
        echo "engines: apt-get install failed" >&2
        exit 1
    fi
fi

# ---------------------------------------------------------------------------------------------
# The hull binary
if [[ -n ${HULL_BIN:-} ]]; then
    HULL=$(realpath "$HULL_BIN")
else
    (cd "$repo" && cargo build -q -p hull) || {
        echo "engines: cargo build failed" >&2
        exit 1
    }
    HULL="${CARGO_TARGET_DIR:-$repo/target}/debug/hull"
    HULL=$(realpath "$HULL")
fi
[[ -x $HULL ]] || {
    echo "engines: no hull binary at $HULL" >&2
    exit 1
}
echo "engines: runtime $HULL ($("$HULL" --version | sed -n 1p))"

# Rootless podman runs as the rootless tests' user (crates/hull/tests/rootless.rs makes it the
# same way and keeps it): a system user with subordinate ids 300000:65536.
RL_USER=hullrootless
if want podman; then
    id -u "$RL_USER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$RL_USER"
    for f in /etc/subuid /etc/subgid; do
        grep -q "^$RL_USER:" "$f" 2>/dev/null || echo "$RL_USER:300000:65536" >>"$f"
    done
fi

declare -A existed
T=$(mktemp -d /tmp/hull-engines.XXXXXX)
chmod 711 "$T" # the rootless user reaches its own directory below
mkdir -p "$T/logs"
snap_etc >"$T/etc.before"
[[ -e /etc/docker/key.json ]] && existed[/etc/docker/key.json]=1
snap_mounts >"$T/mounts.before"
snap_cgroups >"$T/cgroups.before"
# Directories of the host the engines or hull make whatever their configuration says: hull's
# default root (podman passes no --root), the shims' sockets (/run/containerd/s); the suite
# removes those it made. Anything else new there is a leak.
RUN_DIRS=(/run/hull /run/containerd/s /run/containerd /run/docker /run/libpod /run/containers /run/runc
    /var/lib/containers /var/lib/containerd /var/lib/docker /etc/containerd /etc/docker /etc/containers)
for d in "${RUN_DIRS[@]}"; do
    [[ -e $d ]] && existed[$d]=1
done
daemon_pids=()
all_daemon_pids=()

# Stops exactly the daemons this suite started, the last started first (dockerd before its
# containerd): TERM, then KILL after 10 s.
stop_daemons() {
    local i pid
    for ((i = ${#daemon_pids[@]} - 1; i >= 0; i--)); do
        pid=${daemon_pids[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null && echo "engines: daemon $pid needed SIGKILL"
        wait "$pid" 2>/dev/null
    done
    daemon_pids=()
}
cleanup() {
    # Interrupted (or a check failed before an engine's own cleanup): the engines remove their
    # containers while their daemons still run.
    if ((!suite_done)); then
        declare -F p_cleanup >/dev/null && [[ -d $T/podman/storage ]] &&
            CONTAINERS_CONF=$T/podman/containers.conf CONTAINERS_STORAGE_CONF=$T/podman/storage.conf p_cleanup >/dev/null 2>&1
        [[ -d $T/rootless ]] && r_cleanup >/dev/null 2>&1
        if ((${#daemon_pids[@]})); then
            d_cleanup >/dev/null 2>&1
            c_cleanup >/dev/null 2>&1
        fi
    fi
    stop_daemons
    # Mounts the engines left below the suite's directory (only if a check failed midway).
    grep -F " $T/" /proc/self/mountinfo | awk '{ print $5 }' | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    rm -rf "$T"
}
suite_done=0
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The offline busybox image: a rootfs tar, imported by each engine.
build_image() {
    local R=$T/rootfs
    mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,root}
    cp /bin/busybox "$R/bin/"
    chroot "$R" /bin/busybox --install -s /bin
    echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
    echo 'root:x:0:' >"$R/etc/group"
    tar -C "$R" -cf "$T/busybox-rootfs.tar" .
}
build_image

IMG=localhost/busybox:latest

# ---------------------------------------------------------------------------------------------
# podman: its own containers.conf/storage.conf (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), hull
# as the default runtime through [engine.runtimes].
setup_podman() {
    local P=$T/podman
    mkdir -p "$P"/{storage,run,tmp,networks,volumes}
    cat >"$P/containers.conf" <<EOF
[containers]
# podman asks nofile=1048576 by default; without CAP_SYS_RESOURCE no rlimit can be raised
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "hull"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
volume_path = "$P/volumes"
# podman passes --log and --log-format json only to the runtimes named here, and then shows
# the error of a failed call cleanly
runtime_supports_json = ["crun", "runc", "hull"]
[engine.runtimes]
hull = ["$HULL"]
[network]
network_config_dir = "$P/networks"
EOF
    cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$P/run"
graphroot = "$P/storage"
EOF
    export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf
    podman import -q "$T/busybox-rootfs.tar" localhost/busybox >/dev/null
}
pm() { podman "$@"; }
pm_run() { podman run --network none "$@"; }

p_run_output() {
    local out
    out=$(pm_run --rm $IMG sh -c 'echo hello from $(hostname); echo to-stderr >&2') || return 1
    expect_has "output" "$out" "hello from"
}

p_detached_exec_logs() {
    local id out
    id=$(pm_run -d --name p-d $IMG sh -c 'echo started; exec sleep 1000') || return 1
    # hull runs it: its state is in hull's default root (podman passes no --root)
    expect_eq "hull state" "$("$HULL" state "$id" | jq -r .status)" running || return 1
    out=$(pm exec p-d sh -c 'echo exec $((6*7)); cat /proc/1/cmdline | tr "\0" " "') || return 1
    expect_has "exec output" "$out" "exec 42" || return 1
    expect_has "exec sees the init" "$out" "sleep 1000" || return 1
    out=$(pm logs p-d) || return 1
    expect_has "logs" "$out" "started" || return 1
    out=$(pm top p-d) || return 1
    expect_has "podman top" "$out" "sleep 1000" || return 1
    pm rm -f -t 0 p-d >/dev/null
}

p_run_it() {
    local out
    out=$( (sleep 1; echo 'echo val-$((6*7))'; sleep 0.5; echo 'tty'; sleep 0.5; echo exit) | tty_run "podman run -it --rm --network none $IMG sh") || return 1
    expect_has "prompt" "$out" "/ # " || return 1
    expect_has "command output" "$out" "val-42" || return 1
    expect_has "a pty inside" "$out" "/dev/pts/0"
}

p_exec_it() {
    pm_run -d --name p-it $IMG sleep 1000 >/dev/null || return 1
    local out
    out=$( (sleep 1; echo 'echo in-exec-$((5*5)); tty'; sleep 0.5; echo exit) | tty_run "podman exec -it p-it sh") || return 1
    pm rm -f -t 0 p-it >/dev/null
    expect_has "prompt" "$out" "/ # " || return 1
    expect_has "command output" "$out" "in-exec-25" || return 1
    expect_has "a pty inside" "$out" "/dev/pts/"
}

p_stop() {
    # sh as PID 1 with a TERM trap: stop delivers TERM, exit 7.
    pm_run -d --name p-term $IMG sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' >/dev/null || return 1
    pm stop -t 10 p-term >/dev/null || return 1
    expect_eq "exit code after TERM" "$(pm inspect -f '{{.State.ExitCode}}' p-term)" 7 || return 1
    pm rm p-term >/dev/null
    # PID 1 without a handler ignores TERM: KILL after the 2 s timeout.
    pm_run -d --name p-kill $IMG sleep 1000 >/dev/null || return 1
    local t0=$SECONDS
    pm stop -t 2 p-kill >/dev/null || return 1
    local took=$((SECONDS - t0))
    ((took >= 2)) || fail "stop returned after ${took}s, before the 2 s timeout" || return 1
    expect_eq "exit code after KILL" "$(pm inspect -f '{{.State.ExitCode}}' p-kill)" 137 || return 1
    expect_eq "status" "$(pm inspect -f '{{.State.Status}}' p-kill)" exited || return 1
    # start again after stop
    pm start p-kill >/dev/null || return 1
    expect_eq "status after start" "$(pm inspect -f '{{.State.Status}}' p-kill)" running || return 1
    pm rm -f -t 0 p-kill >/dev/null
}

p_kill_signal() {
    pm_run -d --name p-sig $IMG sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.1; done' >/dev/null || return 1
    pm kill -s USR1 p-sig >/dev/null || return 1
    wait_for 10 sh -c "podman logs p-sig | grep -q got-usr1" || fail "no got-usr1 in the logs" || return 1
    pm kill -s KILL p-sig >/dev/null || return 1
    wait_for 10 sh -c "[ \"\$(podman inspect -f '{{.State.Status}}' p-sig)\" = exited ]" || fail "not exited after KILL" || return 1
    expect_eq "exit code" "$(pm inspect -f '{{.State.ExitCode}}' p-sig)" 137 || return 1
    pm rm p-sig >/dev/null
}

p_rm_force() {
    local id pid
    id=$(pm_run -d --name p-rm $IMG sleep 1000) || return 1
    pid=$(pm inspect -f '{{.State.Pid}}' p-rm)
    pm rm -f -t 1 p-rm >/dev/null || return 1
    [[ ! -e /proc/$pid ]] || fail "process $pid still there" || return 1
    expect_lacks "podman ps -a" "$(pm ps -a --format '{{.Names}}')" p-rm || return 1
    expect_lacks "hull list" "$("$HULL" list -q)" "$id"
}

p_pause() {
    pm_run -d --name p-pause $IMG sleep 1000 >/dev/null || return 1
    local pid
    pid=$(pm inspect -f '{{.State.Pid}}' p-pause)
    pm pause p-pause >/dev/null || return 1
    expect_eq "status" "$(pm inspect -f '{{.State.Status}}' p-pause)" paused || return 1
    expect_eq "freezer" "$(freezer_state "$pid")" FROZEN || return 1
    pm unpause p-pause >/dev/null || return 1
    expect_eq "status" "$(pm inspect -f '{{.State.Status}}' p-pause)" running || return 1
    expect_eq "freezer" "$(freezer_state "$pid")" THAWED || return 1
    pm rm -f -t 0 p-pause >/dev/null
}

p_limits() {
    local out
    out=$(pm_run --rm --memory 64m --pids-limit 77 $IMG sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max') || return 1
    expect_eq "memory.limit_in_bytes, pids.max" "$(echo $out)" "67108864 77"
}

p_user() {
    local out
    out=$(pm_run --rm --user 1000:1001 $IMG sh -c 'echo $(id -u):$(id -g); touch /root/x 2>&1; true') || return 1
    expect_has "id" "$out" "1000:1001" || return 1
    expect_has "no root rights" "$out" "Permission denied"
}

p_cap_drop() {
    local out
    out=$(pm_run --rm --cap-drop ALL $IMG grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status) || return 1
    expect_has "CapEff" "$out" "CapEff:	0000000000000000" || return 1
    expect_has "CapBnd" "$out" "CapBnd:	0000000000000000" || return 1
    out=$(pm_run --rm $IMG grep CapEff /proc/self/status) || return 1
    expect_lacks "default CapEff" "$out" "0000000000000000"
}

p_read_only() {
    local out
    out=$(pm_run --rm --read-only $IMG sh -c 'touch /x 2>&1; touch /tmp/y && echo tmp-writable') || return 1
    expect_has "touch /x" "$out" "Read-only file system" || return 1
    expect_has "/tmp" "$out" "tmp-writable"
}

p_seccomp() {
    local out
    out=$(pm_run --rm $IMG grep Seccomp: /proc/self/status) || return 1
    expect_has "Seccomp" "$out" "Seccomp:	2" || return 1
    out=$(pm_run --rm --security-opt seccomp=unconfined $IMG grep Seccomp: /proc/self/status) || return 1
    expect_has "Seccomp when unconfined" "$out" "Seccomp:	0"
}

# What else `run` asks of the runtime: bind and tmpfs mounts, the workdir (docker: a missing one
# made), the init (catatonit, docker-init) as PID 1, env, hostname, rlimits, a device node.
p_options() {
    mkdir -p "$T/vol" && echo from-host >"$T/vol/f"
    local out
    # (podman itself refuses a workdir the image lacks; with --ulimit its default_ulimits go, so
    # nproc is given too: the host cannot raise podman's default for it)
    out=$(pm_run --rm --init -v "$T/vol:/v:ro" --tmpfs /scratch:size=1m -w /v -e A=b -h box \
        --ulimit nofile=500:600 --ulimit nproc=1000:2000 --device /dev/fuse:/dev/myfuse $IMG sh -c \
        'cat /v/f; touch /v/x 2>&1; grep " /scratch " /proc/mounts | cut -d" " -f3; pwd; echo A=$A; hostname;
         ulimit -n; ulimit -Hn; ls -l /dev/myfuse | cut -c1; cat /proc/1/comm') || return 1
    local want
    for want in from-host "Read-only file system" tmpfs /v A=b box 500 600 c; do
        expect_has "$want" "$out" "$want" || return 1
    done
    expect_eq "PID 1 (catatonit, mounted as podman-init)" "$(echo "$out" | tail -1)" podman-init
}

# podman reads hull's error words: a missing program is 127, one that cannot run 126.
p_exit_codes() {
    local rc
    local err
    err=$(pm_run --rm $IMG /nosuch 2>&1)
    expect_eq "run /nosuch" $? 127 || return 1
    # with runtime_supports_json podman shows the message of hull's JSON log, nothing else
    expect_has "error" "$err" 'exec: "/nosuch": stat /nosuch: no such file or directory' || return 1
    expect_lacks "error" "$err" "level=" || return 1
    pm_run --rm $IMG /etc 2>/dev/null
    expect_eq "run /etc" $? 126 || return 1
    pm_run -d --name p-codes $IMG sleep 1000 >/dev/null || return 1
    pm exec p-codes nosuch 2>/dev/null
    rc=$?
    pm exec p-codes sh -c 'exit 3'
    expect_eq "exec sh -c 'exit 3'" $? 3 || return 1
    pm rm -f -t 0 p-codes >/dev/null
    expect_eq "exec nosuch" $rc 127
}

# A counter container for checkpoint/restore: one number a second.
COUNTER='i=0; while :; do echo $i; i=$((i+1)); sleep 1; done'

# last_number TEXT: the last line of TEXT that is a number.
last_number() { printf '%s\n' "$1" | grep -E '^[0-9]+$' | tail -n 1; }

# p_counter_grew NAME BEFORE: the counter in NAME's logs goes past BEFORE (and was not
# restarted at 0: its output continues from the checkpoint).
p_counter_grew() {
    local name=$1 before=$2 deadline=$((SECONDS + 15)) now
    while ((SECONDS < deadline)); do
        now=$(last_number "$(pm logs "$name" 2>/dev/null)")
        if [[ -n $now ]] && ((now > before + 1)); then
            echo "ok: counter went from $before to $now after restore"
            expect_eq "zeros in the logs (no restart)" "$(pm logs "$name" | grep -cx 0)" 1
            return
        fi
        sleep 0.5
    done
    fail "counter did not continue after $before (last: '${now:-}')"
}

p_checkpoint_restore() {
    pm_run -d --name p-cr $IMG sh -c "$COUNTER" >/dev/null || return 1
    wait_for 10 sh -c "podman logs p-cr | grep -qx 2" || fail "counter did not start" || return 1
    pm container checkpoint p-cr || return 1
    expect_eq "status after checkpoint" "$(pm inspect -f '{{.State.Status}}' p-cr)" exited || return 1
    local before
    before=$(last_number "$(pm logs p-cr)")
    sleep 2
    pm container restore p-cr || return 1
    expect_eq "status after restore" "$(pm inspect -f '{{.State.Status}}' p-cr)" running || return 1
    p_counter_grew p-cr "$before" || return 1
    pm rm -f -t 0 p-cr >/dev/null
}

p_checkpoint_export_import() {
    local tarball=$T/p-cr-export.tar.gz before
    pm_run -d --name p-cre $IMG sh -c "$COUNTER" >/dev/null || return 1
    wait_for 10 sh -c "podman logs p-cre | grep -qx 2" || fail "counter did not start" || return 1
    pm container checkpoint --export "$tarball" p-cre || return 1
    before=$(last_number "$(pm logs p-cre)")
    pm rm -f -t 0 p-cre >/dev/null || return 1
    expect_lacks "podman ps -a" "$(pm ps -a --format '{{.Names}}')" p-cre || return 1
    pm container restore --import "$tarball" || return 1
    expect_eq "status after restore --import" "$(pm inspect -f '{{.State.Status}}' p-cre)" running || return 1
    p_counter_grew p-cre "$before" || return 1
    pm rm -f -t 0 p-cre >/dev/null
    rm -f "$tarball"
}

p_cleanup() {
    pm rm -af -t 0 >/dev/null 2>&1
    pm rmi -af >/dev/null 2>&1
    expect_eq "podman ps -a" "$(pm ps -aq)" ""
}

# Rootless podman: the user's own storage, config and XDG_RUNTIME_DIR below $T; podman makes its
# user namespace and runs hull in it as root (hull's state then goes to $XDG_RUNTIME_DIR/hull).
setup_rootless() {
    local R=$T/rootless
    mkdir -p "$R"/{home,xdg,storage,run}
    chmod 700 "$R/xdg"
    cp "$T/busybox-rootfs.tar" "$R/"
    RL_HULL=$HULL
    if ! runuser -u "$RL_USER" -- test -x "$HULL"; then
        # the build's directory is closed to the user: a copy it can run
        mkdir -p "$R/bin" && cp "$HULL" "$R/bin/hull" && RL_HULL=$R/bin/hull
    fi
    cat >"$R/containers.conf" <<END
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "hull"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$R/events.log"
runtime_supports_json = ["crun", "runc", "hull"]
[engine.runtimes]
hull = ["$RL_HULL"]
END
    cat >"$R/storage.conf" <<END
[storage]
driver = "overlay"
runroot = "$R/run"
graphroot = "$R/storage"
END
    chown -R "$RL_USER:$RL_USER" "$R"
    PR import -q "$R/busybox-rootfs.tar" localhost/busybox >/dev/null
}
PR() {
    local R=$T/rootless
    (cd "$R" && runuser -u "$RL_USER" -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME="$R/home" XDG_RUNTIME_DIR="$R/xdg" XDG_CONFIG_HOME="$R/home/.config" \
        CONTAINERS_CONF="$R/containers.conf" CONTAINERS_STORAGE_CONF="$R/storage.conf" podman "$@")
}

r_run() {
    local out uid
    uid=$(id -u "$RL_USER")
    out=$(PR run --rm --network none $IMG sh -c 'id -u; cat /proc/self/uid_map; grep Seccomp: /proc/self/status') || return 1
    expect_eq "uid inside" "$(echo "$out" | head -1)" 0 || return 1
    expect_has "uid_map: the user's uid" "$(echo $out)" "0 $uid 1" || return 1
    expect_has "uid_map: its subordinate ids" "$(echo $out)" "1 300000 65536" || return 1
    expect_has "seccomp" "$out" "Seccomp:	2"
}

r_detached() {
    local id out pid
    id=$(PR run -d --network none --name r-d $IMG sh -c 'echo started; exec sleep 1000') || return 1
    [[ -f $T/rootless/xdg/hull/$id/state.json ]] || fail "no state under \$XDG_RUNTIME_DIR/hull" || return 1
    pid=$(PR inspect -f '{{.State.Pid}}' r-d)
    expect_eq "init's owner on the host" "$(stat -c %U "/proc/$pid")" "$RL_USER" || return 1
    out=$(PR exec r-d sh -c 'echo exec $((6*7))') || return 1
    expect_has "exec" "$out" "exec 42" || return 1
    expect_has "logs" "$(PR logs r-d)" started || return 1
    PR kill -s KILL r-d >/dev/null || return 1
    wait_for 10 test ! -e "/proc/$pid" || fail "init $pid still runs" || return 1
    PR rm r-d >/dev/null || return 1
    [[ ! -e $T/rootless/xdg/hull/$id ]] || fail "state left under \$XDG_RUNTIME_DIR/hull" || return 1
    PR run -d --network none --name r-stop $IMG sleep 1000 >/dev/null || return 1
    PR stop -t 1 r-stop >/dev/null || return 1
    expect_eq "exit code after stop" "$(PR inspect -f '{{.State.ExitCode}}' r-stop)" 137 || return 1
    PR rm -f r-stop >/dev/null
}

r_cleanup() {
    [[ -d $T/rootless ]] || return 0
    PR rm -af -t 0 >/dev/null 2>&1
    PR rmi -af >/dev/null 2>&1
    # podman keeps its user namespace open with a pause process (catatonit -P): stop it by its
    # recorded pid, after checking that pid is still that process of the user's.
    local f pid
    for f in $(find "$T/rootless/xdg" -name pause.pid 2>/dev/null); do
        pid=$(cat "$f")
        if [[ $(stat -c %U "/proc/$pid" 2>/dev/null) == "$RL_USER" && $(cat "/proc/$pid/comm" 2>/dev/null) == catatonit ]]; then
            kill -KILL "$pid"
        fi
    done
    wait_for 10 sh -c "! pgrep -u $RL_USER >/dev/null" || fail "processes of $RL_USER left: $(pgrep -u "$RL_USER" -a)"
}

run_podman() {
    check "podman: setup (config, import image)" setup_podman || return
    export CONTAINERS_CONF=$T/podman/containers.conf CONTAINERS_STORAGE_CONF=$T/podman/storage.conf
    check "podman: run prints output" p_run_output
    check "podman: run -d, exec, logs, top" p_detached_exec_logs
    check "podman: run -it (prompt, output, pty)" p_run_it
    check "podman: exec -it (prompt, output, pty)" p_exec_it
    check "podman: stop (TERM; KILL after -t), start" p_stop
    check "podman: kill -s USR1, kill -s KILL" p_kill_signal
    check "podman: rm -f of a running container" p_rm_force
    check "podman: pause/unpause (status, freezer)" p_pause
    check "podman: --memory 64m --pids-limit 77 inside" p_limits
    check "podman: --user 1000:1001" p_user
    check "podman: --cap-drop ALL (CapEff 0)" p_cap_drop
    check "podman: --read-only" p_read_only
    check "podman: default seccomp profile (Seccomp: 2)" p_seccomp
    check "podman: exit codes 127/126 for missing/non-executable programs" p_exit_codes
    check "podman: --init, -v ro, --tmpfs, -w, -e, -h, --ulimit, --device" p_options
    check "podman: container checkpoint + restore (counter continues)" p_checkpoint_restore
    check "podman: checkpoint --export, rm, restore --import (counter continues)" p_checkpoint_export_import
    # The image for containerd, saved before podman's storage goes.
    podman save -q -o "$T/busybox-docker.tar" localhost/busybox >/dev/null
    check "podman: everything removed" p_cleanup
    if check "podman rootless: setup (user $RL_USER, config, import image)" setup_rootless; then
        check "podman rootless: run (user namespace, seccomp)" r_run
        check "podman rootless: run -d, state under XDG_RUNTIME_DIR, exec, logs, kill, stop, rm" r_detached
    fi
    check "podman rootless: everything removed (pause process stopped)" r_cleanup
    # containers/storage keeps its overlay mount of the graph root until told
    umount "$T/podman/storage/overlay" 2>/dev/null
    unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
}

# ---------------------------------------------------------------------------------------------
# containerd: started here with its own config (root, state and socket under $T, no CRI plugin).
start_containerd() {
    local C=$T/containerd
    mkdir -p "$C"
    cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
EOF
    containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
    daemon_pids+=($!)
    all_daemon_pids+=($!)
    echo "engines: containerd pid $!"
    wait_for 30 ctr --address "$C/containerd.sock" version || {
        tail -20 "$C/containerd.log"
        return 1
    }
}
CT() { ctr --address "$T/containerd/containerd.sock" "$@"; }
# --fifo-dir: ctr's default is /run/containerd/fifo
CT_RUN() { CT run --runc-binary "$HULL" --runc-root "$T/containerd/runc" --fifo-dir "$T/containerd/fifo" "$@"; }
CT_EXEC() { CT task exec --fifo-dir "$T/containerd/fifo" "$@"; }

c_import() {
    if [[ ! -f $T/busybox-docker.tar ]]; then
        # podman did not run: its save is the simplest way to a docker archive
        local S=$T/podman-save
        mkdir -p "$S"
        export CONTAINERS_STORAGE_CONF=$S/storage.conf CONTAINERS_CONF=$S/containers.conf
        printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/graph"\n' "$S" "$S" >"$CONTAINERS_STORAGE_CONF"
        printf '[engine]\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\ntmp_dir = "%s/tmp"\n[network]\nnetwork_config_dir = "%s/networks"\n' "$S" "$S" "$S" >"$CONTAINERS_CONF"
        podman import -q "$T/busybox-rootfs.tar" localhost/busybox >/dev/null || return 1
        podman save -q -o "$T/busybox-docker.tar" localhost/busybox || return 1
        podman rmi -af >/dev/null
        umount "$S/graph/overlay" 2>/dev/null
        unset CONTAINERS_STORAGE_CONF CONTAINERS_CONF
    fi
    CT images import --base-name localhost/busybox "$T/busybox-docker.tar" || return 1
    expect_has "ctr images ls" "$(CT images ls -q)" "$IMG"
}

c_run() {
    local out
    out=$(CT_RUN --rm $IMG c-run sh -c 'echo hello from ctr') || return 1
    expect_has "output" "$out" "hello from ctr"
}

c_run_t() {
    local out
    out=$( (sleep 1; echo 'echo val-$((6*7)); tty'; sleep 0.5; echo exit) | tty_run "ctr --address $T/containerd/containerd.sock run --runc-binary $HULL --runc-root $T/containerd/runc --fifo-dir $T/containerd/fifo --rm -t $IMG c-tty sh") || return 1
    expect_has "prompt" "$out" "/ # " || return 1
    expect_has "output" "$out" "val-42" || return 1
    expect_has "pty" "$out" "/dev/pts/0"
}

c_detached() {
    CT_RUN -d --memory-limit 67108864 $IMG c-d sh -c 'trap "" TERM; exec sleep 1000' >/dev/null || return 1
    wait_for 10 sh -c "ctr --address $T/containerd/containerd.sock task ls | grep -q 'c-d .*RUNNING'" || fail "c-d not RUNNING" || return 1
    local pid out
    pid=$(CT task ls | awk '$1 == "c-d" { print $2 }')
    expect_eq "hull state pid" "$("$HULL" --root "$T/containerd/runc/default" state c-d | jq -r .pid)" "$pid" || return 1
    expect_eq "memory limit (host cgroup)" "$(cgroup_file memory "$pid" memory.limit_in_bytes)" 67108864 || return 1
    # task exec
    out=$(CT_EXEC --exec-id e1 c-d sh -c 'echo exec $((6*7)); cat /proc/1/cmdline | tr "\0" " "') || return 1
    expect_has "exec output" "$out" "exec 42" || return 1
    expect_has "exec sees the init" "$out" "sleep 1000" || return 1
    # task exec -t
    out=$( (sleep 1; echo 'echo in-exec-$((5*5)); tty'; sleep 0.5; echo exit) | tty_run "ctr --address $T/containerd/containerd.sock task exec --fifo-dir $T/containerd/fifo -t --exec-id e2 c-d sh") || return 1
    expect_has "exec -t output" "$out" "in-exec-25" || return 1
    # task ps (runtime ps --format json)
    out=$(CT task ps c-d) || return 1
    expect_has "task ps" "$out" "$pid" || return 1
    # metrics (from the cgroup)
    out=$(CT task metrics c-d) || return 1
    expect_has "metrics" "$out" "67108864" || return 1
    # pause/resume
    CT task pause c-d || return 1
    expect_has "task ls" "$(CT task ls)" PAUSED || return 1
    expect_eq "freezer" "$(freezer_state "$pid")" FROZEN || return 1
    CT task resume c-d || return 1
    expect_has "task ls" "$(CT task ls)" RUNNING || return 1
    expect_eq "freezer" "$(freezer_state "$pid")" THAWED || return 1
    # kill: TERM is ignored, KILL is not
    CT task kill -s TERM c-d || return 1
    sleep 0.5
    expect_has "after TERM" "$(CT task ls)" RUNNING || return 1
    CT task kill -s KILL c-d || return 1
    wait_for 10 sh -c "ctr --address $T/containerd/containerd.sock task ls | grep -q 'c-d .*STOPPED'" || fail "not STOPPED after KILL" || return 1
    [[ ! -e /proc/$pid ]] || fail "process $pid still there" || return 1
    CT task rm c-d || return 1
    CT container rm c-d || return 1
    expect_lacks "hull list" "$("$HULL" --root "$T/containerd/runc/default" list -q)" c-d
}

c_error() {
    # The shim reads the error from hull's --log (JSON lines) and ctr shows it.
    local out
    out=$(CT_RUN --rm $IMG c-err /no/such/program 2>&1) && fail "ran" && return 1
    CT container rm c-err >/dev/null 2>&1
    expect_has "error" "$out" 'exec: "/no/such/program": stat /no/such/program: no such file or directory'
}

# ctr c checkpoint --task --rw (the shim's checkpoint --leave-running), the container removed, then
# ctr c restore --live --rw (the shim's restore --detach -no-subreaper): the counter, written to a
# bind-mounted host file, continues from where it was instead of starting again at 0.
c_checkpoint_restore() {
    local out=$T/c-cr before now deadline
    mkdir -p "$out" && : >"$out/count"
    CT_RUN -d --mount "type=bind,src=$out,dst=/out,options=rbind:rw" $IMG c-cr \
        sh -c 'i=0; while :; do echo $i >>/out/count; i=$((i+1)); sleep 1; done' >/dev/null || return 1
    wait_for 10 grep -qx 2 "$out/count" || fail "counter did not start" || return 1
    CT c checkpoint --task --rw c-cr localhost/c-cr-checkpoint:1 || return 1
    CT task kill -s KILL c-cr || return 1
    wait_for 10 sh -c "ctr --address $T/containerd/containerd.sock task ls | grep -q 'c-cr .*STOPPED'" || fail "c-cr not STOPPED" || return 1
    CT task rm c-cr >/dev/null || return 1
    CT c rm c-cr || return 1
    before=$(tail -n 1 "$out/count")
    sleep 2
    expect_eq "counter stopped with the task" "$(tail -n 1 "$out/count")" "$before" || return 1
    CT c restore --live --rw c-cr localhost/c-cr-checkpoint:1 </dev/null >"$out/restore.log" 2>&1 || {
        cat "$out/restore.log"
        fail "ctr c restore"
        return 1
    }
    deadline=$((SECONDS + 15))
    while ((SECONDS < deadline)); do
        now=$(tail -n 1 "$out/count")
        ((now > before + 1)) && break
        sleep 0.5
    done
    ((now > before + 1)) || fail "counter did not continue after $before (last: $now)" || return 1
    echo "ok: counter went from $before to $now after restore"
    expect_eq "zeros in the output (no restart)" "$(grep -cx 0 "$out/count")" 1 || return 1
    expect_has "ctr task ls" "$(CT task ls)" "c-cr" || return 1
    CT task kill -s KILL c-cr
    wait_for 10 sh -c "ctr --address $T/containerd/containerd.sock task ls | grep -q 'c-cr .*STOPPED'"
    CT task rm c-cr >/dev/null
    CT c rm c-cr
    CT images rm localhost/c-cr-checkpoint:1 >/dev/null
    rm -rf "$out"
}

c_cleanup() {
    local c
    for c in $(CT task ls -q); do CT task kill -s KILL "$c"; sleep 0.5; CT task rm -f "$c"; done
    for c in $(CT container ls -q); do CT container rm "$c"; done
    CT images rm localhost/c-cr-checkpoint:1 >/dev/null 2>&1
    expect_eq "containers" "$(CT container ls -q)" "" || return 1
    expect_eq "hull list" "$("$HULL" --root "$T/containerd/runc/default" list -q 2>/dev/null)" ""
}

run_containerd() {
    check "containerd: run -t (prompt, output, pty)" c_run_t
    check "containerd: run prints output" c_run
    check "containerd: run -d --memory-limit, task exec/ps/metrics/pause/resume/kill/rm" c_detached
    check "containerd: a failing create shows hull's error" c_error
    check "containerd: c checkpoint --task --rw, c restore --live --rw (counter continues)" c_checkpoint_restore
    check "containerd: everything removed" c_cleanup
}

# ---------------------------------------------------------------------------------------------
# docker: dockerd with its own daemon.json (hull the default runtime, the suite's containerd,
# data and exec roots and socket under $T).
start_dockerd() {
    local D=$T/docker
    mkdir -p "$D"
    cat >"$D/daemon.json" <<EOF
{
  "runtimes": {"hull": {"path": "$HULL"}},
  "default-runtime": "hull",
  "containerd": "$T/containerd/containerd.sock",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "storage-driver": "overlay2",
  "bridge": "none",
  "iptables": false,
  "ip-masq": false,
  "ip-forward": false,
  "data-root": "$D/data",
  "exec-root": "$D/exec",
  "pidfile": "$D/docker.pid",
  "hosts": ["unix://$D/docker.sock"]
}
EOF
    dockerd --config-file "$D/daemon.json" >"$D/dockerd.log" 2>&1 &
    daemon_pids+=($!)
    all_daemon_pids+=($!)
    echo "engines: dockerd pid $!"
    wait_for 60 docker -H "unix://$D/docker.sock" version || {
        tail -20 "$D/dockerd.log"
        return 1
    }
    docker -H "unix://$D/docker.sock" import -c 'CMD ["/bin/sh"]' "$T/busybox-rootfs.tar" localhost/busybox >/dev/null
}
DK() { docker -H "unix://$T/docker/docker.sock" "$@"; }
DK_RUN() { DK run --network none "$@"; }

d_run() {
    local out
    out=$(DK_RUN --rm $IMG sh -c 'echo hello from docker') || return 1
    expect_has "output" "$out" "hello from docker" || return 1
    expect_eq "runtime" "$(DK info -f '{{.DefaultRuntime}}')" hull
}

d_run_it() {
    local out
    out=$( (sleep 1; echo 'echo val-$((6*7)); tty'; sleep 0.5; echo exit) | tty_run "docker -H unix://$T/docker/docker.sock run -it --rm --network none $IMG sh") || return 1
    expect_has "prompt" "$out" "/ # " || return 1
    expect_has "output" "$out" "val-42" || return 1
    expect_has "pty" "$out" "/dev/pts/0"
}

d_detached() {
    local id pid out
    id=$(DK_RUN -d -m 64m --name d-d $IMG sh -c 'echo started; exec sleep 1000') || return 1
    pid=$(DK inspect -f '{{.State.Pid}}' d-d)
    expect_eq "hull state pid" "$("$HULL" --root "$T/docker/exec/runtime-runc/moby" state "$id" | jq -r .pid)" "$pid" || return 1
    expect_eq "memory limit (host cgroup)" "$(cgroup_file memory "$pid" memory.limit_in_bytes)" 67108864 || return 1
    out=$(DK exec d-d sh -c 'echo exec $((6*7)); cat /sys/fs/cgroup/memory/memory.limit_in_bytes') || return 1
    expect_has "exec output" "$out" "exec 42" || return 1
    expect_has "memory limit inside" "$out" "67108864" || return 1
    out=$( (sleep 1; echo 'echo in-exec-$((5*5)); tty'; sleep 0.5; echo exit) | tty_run "docker -H unix://$T/docker/docker.sock exec -it d-d sh") || return 1
    expect_has "exec -it output" "$out" "in-exec-25" || return 1
    expect_has "logs" "$(DK logs d-d)" started || return 1
    # top (runtime ps --format json)
    out=$(DK top d-d) || return 1
    expect_has "top" "$out" "sleep 1000" || return 1
    # stats (from the cgroup)
    out=$(DK stats --no-stream --format '{{.MemUsage}}' d-d) || return 1
    expect_has "stats" "$out" "64MiB" || return 1
    # update -m (runtime update --resources -)
    DK update -m 32m --memory-swap 64m d-d >/dev/null || return 1
    expect_eq "memory limit after update" "$(cgroup_file memory "$pid" memory.limit_in_bytes)" 33554432 || return 1
    # memory + swap, where the kernel accounts swap
    if [[ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]]; then
        expect_eq "memsw limit after update" "$(cgroup_file memory "$pid" memory.memsw.limit_in_bytes)" 67108864 || return 1
    fi
    out=$(DK stats --no-stream --format '{{.MemUsage}}' d-d) || return 1
    expect_has "stats after update" "$out" "32MiB" || return 1
    # pause/unpause
    DK pause d-d >/dev/null || return 1
    expect_eq "status" "$(DK inspect -f '{{.State.Status}}' d-d)" paused || return 1
    expect_eq "freezer" "$(freezer_state "$pid")" FROZEN || return 1
    DK unpause d-d >/dev/null || return 1
    expect_eq "status" "$(DK inspect -f '{{.State.Status}}' d-d)" running || return 1
    expect_eq "freezer" "$(freezer_state "$pid")" THAWED || return 1
    # stop: sh -c exec'd sleep as PID 1 ignores TERM -> KILL after 1 s
    DK stop -t 1 d-d >/dev/null || return 1
    expect_eq "status after stop" "$(DK inspect -f '{{.State.Status}}' d-d)" exited || return 1
    expect_eq "exit code after stop" "$(DK inspect -f '{{.State.ExitCode}}' d-d)" 137 || return 1
    [[ ! -e /proc/$pid ]] || fail "process $pid still there" || return 1
    # start again, kill, rm
    DK start d-d >/dev/null || return 1
    expect_eq "status after start" "$(DK inspect -f '{{.State.Status}}' d-d)" running || return 1
    pid=$(DK inspect -f '{{.State.Pid}}' d-d)
    DK kill -s USR1 d-d >/dev/null || return 1
    DK kill d-d >/dev/null || return 1
    wait_for 10 sh -c "[ \"\$(docker -H unix://$T/docker/docker.sock inspect -f '{{.State.Status}}' d-d)\" = exited ]" || fail "not exited after kill" || return 1
    [[ ! -e /proc/$pid ]] || fail "process $pid still there" || return 1
    DK rm d-d >/dev/null || return 1
    expect_lacks "docker ps -a" "$(DK ps -a --format '{{.Names}}')" d-d
}

d_rm_force() {
    local pid
    DK_RUN -d --name d-rm $IMG sleep 1000 >/dev/null || return 1
    pid=$(DK inspect -f '{{.State.Pid}}' d-rm)
    DK rm -f d-rm >/dev/null || return 1
    [[ ! -e /proc/$pid ]] || fail "process $pid still there" || return 1
    expect_lacks "docker ps -a" "$(DK ps -a --format '{{.Names}}')" d-rm
}

d_options() {
    mkdir -p "$T/vol" && echo from-host >"$T/vol/f"
    local out
    out=$(DK_RUN --rm --init -v "$T/vol:/v:ro" --tmpfs /scratch:size=1m -w /no/such/dir -e A=b -h box \
        --ulimit nofile=500:600 --device /dev/fuse:/dev/myfuse -u 65534:65534 --group-add 10 $IMG sh -c \
        'cat /v/f; grep " /scratch " /proc/mounts | cut -d" " -f3; pwd; echo A=$A; hostname;
         ulimit -n; ulimit -Hn; ls -l /dev/myfuse | cut -c1; id -u; id -G; cat /proc/1/comm') || return 1
    local want
    for want in from-host tmpfs /no/such/dir A=b box 500 600 c 65534 "65534 10"; do
        expect_has "$want" "$out" "$want" || return 1
    done
    expect_eq "PID 1" "$(echo "$out" | tail -1)" docker-init
}

d_exit_codes() {
    local rc
    DK_RUN --rm $IMG /nosuch 2>/dev/null
    expect_eq "run /nosuch" $? 127 || return 1
    DK_RUN --rm $IMG /etc 2>/dev/null
    expect_eq "run /etc" $? 126 || return 1
    DK_RUN --rm $IMG sh -c 'exit 3'
    expect_eq "run sh -c 'exit 3'" $? 3 || return 1
    DK_RUN -d --name d-codes $IMG sleep 1000 >/dev/null || return 1
    DK exec d-codes nosuch 2>/dev/null
    rc=$?
    DK rm -f d-codes >/dev/null
    # docker exec gives 126 for any error of the runtime's exec (so with runc too)
    expect_eq "exec nosuch" $rc 126
}

d_cleanup() {
    local ids
    ids=$(DK ps -aq)
    [[ -z $ids ]] || DK rm -f $ids >/dev/null
    DK rmi -f $IMG >/dev/null 2>&1
    expect_eq "docker ps -a" "$(DK ps -aq)" "" || return 1
    expect_eq "hull list (moby)" "$("$HULL" --root "$T/docker/exec/runtime-runc/moby" list -q 2>/dev/null)" ""
}

run_docker() {
    check "docker: run prints output (hull the default runtime)" d_run
    check "docker: run -it (prompt, output, pty)" d_run_it
    check "docker: run -d -m, exec, exec -it, logs, top, stats, update -m, pause/unpause, stop/start/kill/rm" d_detached
    check "docker: rm -f of a running container" d_rm_force
    check "docker: exit codes 127/126 for missing/non-executable programs" d_exit_codes
    check "docker: --init, -v ro, --tmpfs, -w, -e, -h, --ulimit, --device, -u, --group-add" d_options
    check "docker: everything removed" d_cleanup
}

# ---------------------------------------------------------------------------------------------
started=$SECONDS
if want podman; then
    run_podman
fi
if want containerd || want docker; then
    if check "containerd: start the daemon" start_containerd; then
        check "containerd: import the image" c_import
        want containerd && run_containerd
        if want docker; then
            check "docker: start dockerd (--containerd the suite's)" start_dockerd && run_docker
        fi
    fi
fi

# ---------------------------------------------------------------------------------------------
# Nothing of the suite may be left.
leaks() {
    stop_daemons
    local bad=0 p
    for p in "${all_daemon_pids[@]}"; do
        [[ -e /proc/$p ]] && echo "daemon $p still runs" && bad=1
    done
    # processes: shims, conmon, containers started from the suite's directory or image
    local procs
    procs=$(procs_naming "$T" | grep -v " leaks" | grep -v "^$$ ")
    [[ -z $procs ]] || {
        echo "processes naming $T:"
        echo "$procs"
        bad=1
    }
    # mounts: new mount points (only ours: below $T or under the engines' run directories)
    local m
    m=$(snap_mounts | comm -13 "$T/mounts.before" - | grep -E "^$T/|/run/containerd|/run/docker|/run/libpod|/run/hull" || true)
    [[ -z $m ]] || {
        echo "mounts left:"
        echo "$m"
        bad=1
    }
    # cgroups: the engines' parents (libpod_parent, default, moby's docker) are made by hull on
    # the way to a container's cgroup; empty ones the suite made go, a container's must be gone.
    local new
    new=$(snap_cgroups | comm -13 "$T/cgroups.before" - | grep -E '/(libpod_parent|default|docker|moby)(/|$)' || true)
    for p in $(echo "$new" | sort -r); do
        rmdir "$p" 2>/dev/null
    done
    new=$(snap_cgroups | comm -13 "$T/cgroups.before" - | grep -E '/(libpod_parent|default|docker|moby)(/|$)' || true)
    [[ -z $new ]] || {
        echo "cgroups left:"
        echo "$new"
        bad=1
    }
    # hull's default root: podman passes no --root
    if [[ -d /run/hull ]]; then
        local l
        l=$("$HULL" list -q)
        [[ -z $l ]] || {
            echo "containers in /run/hull: $l"
            bad=1
        }
        # only the seccomp cache may be left, then the directory goes if the suite made it
        [[ -n ${existed[/run/hull]:-} || -n $l ]] || rm -rf /run/hull
    fi
    # /etc as it was: dockerd 20.10 writes its trust key /etc/docker/key.json whatever its
    # configuration says; it goes if the suite's dockerd made it.
    [[ -n ${existed[/etc/docker/key.json]:-} ]] || rm -f /etc/docker/key.json
    # Empty directories the engines made on the way (the shims' socket directory, ...) go;
    # anything with a file in it is a leak.
    local d
    for d in "${RUN_DIRS[@]}"; do
        if [[ -d $d && -z ${existed[$d]:-} ]]; then
            find "$d" -depth -type d -empty -delete 2>/dev/null
        fi
    done
    for d in "${RUN_DIRS[@]}"; do
        if [[ -e $d && -z ${existed[$d]:-} ]]; then
            echo "left on the host: $d"
            ls -la "$d"
            bad=1
        fi
    done
    local etc
    etc=$(snap_etc | diff "$T/etc.before" - | grep '^[<>]')
    [[ -z $etc ]] || {
        echo "changed in /etc (< before, > after):"
        echo "$etc"
        bad=1
    }
    return $bad
}
suite_done=1
check "nothing left: daemons, processes, mounts, cgroups, containers, /etc" leaks

echo
echo "engines: $passed passed, $failed failed ($((SECONDS - started)) s)"
for n in "${failed_names[@]}"; do
    echo "  FAILED  $n"
done
((failed == 0))
