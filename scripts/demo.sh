#!/usr/bin/env bash
# Builds hull and runs one busybox container with it, printing what the container prints.
#
#   scripts/demo.sh             install deps, build, run
#   scripts/demo.sh --dry-run   everything up to the run; prints the run command instead
#   HULL=/usr/sbin/runc scripts/demo.sh   use another runtime binary (no build), e.g. to compare
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dry_run=0
for a in "$@"; do
    case $a in
    --dry-run) dry_run=1 ;;
    *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
    esac
done

bash "$repo/scripts/install-deps.sh"

if [[ -z ${HULL:-} ]]; then
    HULL=$(bash "$repo/scripts/build-release.sh")
fi
echo "demo: runtime $HULL"

work=$(mktemp -d /tmp/hull-demo.XXXXXX)
id=hull-demo-$$-$RANDOM
cleanup() {
    if ((!dry_run)); then
        "$HULL" delete --force "$id" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A busybox bundle: the static binary and its applets, and the runtime's default config.
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" \
    "$bundle/rootfs/tmp" "$bundle/rootfs/etc"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for a in sh echo hostname id cat ls true; do
    ln -sf busybox "$bundle/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$bundle/rootfs/etc/passwd"
echo 'root:x:0:' >"$bundle/rootfs/etc/group"
(cd "$bundle" && "$HULL" spec)
if [[ ! -f $bundle/config.json ]]; then
    echo "demo: '$HULL spec' wrote no config.json" >&2
    exit 1
fi
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from inside a hull container; hostname; id"]' \
    "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

if ((dry_run)); then
    echo "demo: bundle ready at $bundle:"
    jq -c '.process' "$bundle/config.json"
    echo "demo: would run: $HULL run --bundle $bundle $id; $HULL delete --force $id"
    exit 0
fi

echo "demo: $HULL run --bundle $bundle $id"
echo "----- container output -----"
"$HULL" run --bundle "$bundle" "$id" </dev/null
echo "----------------------------"
"$HULL" delete --force "$id" >/dev/null 2>&1 || true
