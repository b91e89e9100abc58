#!/usr/bin/env bash
# Regenerates scripts/hot-text/hot-text.ld: builds hull's release binary, runs the commands
# engines call (run; create, start, exec, state, list, ps, pause, resume, events, update, kill,
# delete; spec, features) under tracer.c, which single-steps every hull process, and lists
# the functions they executed (gen.py). Needs root, gcc and busybox-static; takes ~10 minutes
# (single-stepping). scripts/build-release.sh links with the result; bench/README.md has what
# it buys.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
[[ $(id -u) == 0 ]] || { echo "update.sh: run as root" >&2; exit 1; }
W=$(mktemp -d /tmp/hull-hot-text.XXXXXX)
HULL=$(bash "$repo/scripts/build-release.sh")
cp "$HULL" "$W/hull"  # the traced copy: a rebuild meanwhile does not change it
H=$W/hull
gcc -O2 -Wall -o "$W/tracer" "$here/tracer.c"
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] || { echo "update.sh: busybox-static is needed (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$W/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$BUSYBOX" "$W/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$W/rootfs/bin/$a"; done
(cd "$W" && "$H" spec)
make_bundle() {  # make_bundle NAME JQ-FILTER
    mkdir -p "$W/$1"
    ln -s ../rootfs "$W/$1/rootfs"
    jq --arg root "$W/rootfs" '.root.path = $root | .process.terminal = false | '"$2" "$W/config.json" >"$W/$1/config.json"
}
make_bundle b-true '.process.args = ["/bin/true"]'
make_bundle b-sleep '.process.args = ["/bin/sleep", "100000"] | .linux.cgroupsPath = "/hull-hot-text"'
make_bundle b-sleep2 '.process.args = ["/bin/sleep", "100000"] | .linux.cgroupsPath = "/hull-hot-text-2"'
R=(--root "$W/state")
# engines' globals: containerd passes --log and --log-format json
E=(--root "$W/state" --log "$W/runtime.log" --log-format json)
T() { "$W/tracer" "$H" "$W/bitmap.$1" "$H" "${@:2}"; }
wait_status() {  # wait_status ID STATUS
    for _ in $(seq 600); do
        [[ $("$H" "${R[@]}" state "$1" 2>/dev/null | jq -r .status) == "$2" ]] && return 0
        sleep 0.1
    done
    echo "update.sh: $1 never got to $2" >&2
    return 1
}
cleanup() {
    "$H" "${R[@]}" delete -f hot-a >/dev/null 2>&1 || true
    "$H" "${R[@]}" delete -f hot-b >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

# Stream 1, the commands the benchmark measures (their functions come first): run, create
# (its init traced up to its exec of the container's process, which the traced start lets go),
# exec, kill, delete.
stream1() {
    T run "${R[@]}" run --bundle "$W/b-true" hot-run </dev/null
    T create "${E[@]}" create --bundle "$W/b-sleep" hot-a </dev/null &
    local tr=$!
    wait_status hot-a created
    T start "${E[@]}" start hot-a
    wait "$tr"
    T run "${E[@]}" exec hot-a /bin/true
    T run "${E[@]}" kill hot-a KILL
    wait_status hot-a stopped
    T run "${E[@]}" delete hot-a
}
# Stream 2: the other commands, on a running container of their own.
stream2() {
    "$H" "${R[@]}" run -d --bundle "$W/b-sleep2" hot-b </dev/null
    T other "${E[@]}" state hot-b >/dev/null
    T other "${R[@]}" list >/dev/null
    T other "${R[@]}" ps hot-b >/dev/null
    T other "${E[@]}" pause hot-b
    T other "${E[@]}" resume hot-b
    T other "${R[@]}" events --stats hot-b >/dev/null
    T other "${E[@]}" update --pids-limit 100 hot-b
    T other "${E[@]}" delete -f hot-b
    (cd "$W" && rm -f config.json && T other spec && T other features >/dev/null)
}
stream1 >"$W/stream1.log" 2>&1 &
s1=$!
stream2 >"$W/stream2.log" 2>&1 || { cat "$W/stream2.log" >&2; exit 1; }
wait "$s1" || { cat "$W/stream1.log" >&2; exit 1; }
cat "$W/stream1.log" "$W/stream2.log" | grep '^tracer:' >&2
python3 "$here/gen.py" "$H" "$here/hot-text.ld" "$W/bitmap.run" "$W/bitmap.create" "$W/bitmap.start" -- "$W/bitmap.other"
echo "update.sh: wrote $here/hot-text.ld" >&2
