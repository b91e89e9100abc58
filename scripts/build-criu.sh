#!/usr/bin/env bash
# Builds CRIU 4.x and installs it as /usr/local/sbin/criu (found on PATH before /usr/sbin/criu).
#
# Why: Debian 12's criu 3.17 cannot run on kernel 6.18 ("Unexpected rt vDSO area bounds"); no
# backport exists and trixie's binary package needs glibc >= 2.38. So build trixie's source
# (the orig tarball only: its .dsc/.debian.tar are not needed) with a throwaway apt
# configuration, leaving the system's apt sources unchanged.
#
# The built binary is cached under $HULL_CRIU_CACHE (default /var/cache/hull-criu): a rerun that
# finds it only installs it (no network, no build). Needs root.
set -euo pipefail

VERSION=${HULL_CRIU_VERSION:-4.1.1} # the measured one; another 4.x of trixie's index is taken if it moved on
CACHE=${HULL_CRIU_CACHE:-/var/cache/hull-criu}
DEST=/usr/local/sbin/criu
MIRROR=${HULL_CRIU_MIRROR:-http://deb.debian.org/debian}

# "Version: 4.1.1" from `criu --version`, or nothing.
version_of() {
    "$1" --version 2>/dev/null | sed -n 's/^Version: *//p'
}
# CRIU 4 or newer (what hull needs).
usable() {
    local v
    [[ -x $1 ]] || return 1
    v=$(version_of "$1")
    [[ -n $v && ${v%%.*} -ge 4 ]]
}

if usable "$DEST"; then
    echo "build-criu: $DEST is CRIU $(version_of "$DEST")"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "build-criu: CRIU 4 is not installed at $DEST; run this script as root" >&2
    exit 1
fi

CACHED=$(find "$CACHE" -mindepth 2 -maxdepth 2 -path "$CACHE/criu-*/criu" 2>/dev/null | sort -V | tail -n 1)
if [[ -z $CACHED ]] || ! usable "$CACHED"; then
    echo "build-criu: building CRIU 4 from trixie's source (about 2 minutes)"
    export DEBIAN_FRONTEND=noninteractive
    BUILD_DEPS=(build-essential libbsd-dev libcap-dev libgnutls28-dev libnet1-dev libnftables-dev
        libnl-3-dev libprotobuf-c-dev libprotobuf-dev pkgconf protobuf-c-compiler protobuf-compiler
        uuid-dev python3-protobuf xz-utils)
    missing=()
    for p in "${BUILD_DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi

    work=$(mktemp -d /var/tmp/hull-criu-build.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    # apt's unprivileged downloader (_apt) must be able to write the lists directory.
    chmod 755 "$work"
    # A throwaway apt configuration: one deb-src line for trixie, its own lists directory.
    mkdir -p "$work/lists/partial" "$work/src"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" >"$work/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$work/lists")
    apt-get "${apt_opts[@]}" update -qq
    # Only the orig tarball is needed (the packaging is not used): take its URI and checksum
    # from the signed index, fetch it and check it.
    line=$(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only --print-uris criu 2>/dev/null |
        grep -E "criu_[0-9.]+\.orig\.tar\.xz" || true)
    uri=$(echo "$line" | sed -n "s/^'\\([^']*\\)'.*/\\1/p")
    sum=$(echo "$line" | sed -n 's/.*SHA256:\([0-9a-f]*\).*/\1/p')
    found=$(echo "$uri" | sed -n 's/.*criu_\([0-9.]*\)\.orig\.tar\.xz$/\1/p')
    if [[ -z "$uri" || -z "$sum" || ${found%%.*} -lt 4 ]]; then
        echo "build-criu: trixie's source index has no criu 4.x orig tarball (${line:-none})" >&2
        exit 1
    fi
    if [[ $found != "$VERSION" ]]; then
        echo "build-criu: trixie now has criu $found (measured: $VERSION); building $found"
        VERSION=$found
    fi
    python3 - "$uri" "$work/src/criu.orig.tar.xz" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=300) as r, open(sys.argv[2], "wb") as f:
    f.write(r.read())
PY
    echo "$sum  $work/src/criu.orig.tar.xz" | sha256sum -c --quiet -
    tar -C "$work/src" -xf "$work/src/criu.orig.tar.xz"
    srcdir=$(find "$work/src" -maxdepth 1 -type d -name 'criu-*' | head -n1)
    make -C "$srcdir" -j"$(($(nproc) + 1))" criu >"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        echo "build-criu: make failed" >&2
        exit 1
    }
    CACHED="$CACHE/criu-$VERSION/criu"
    mkdir -p "$CACHE/criu-$VERSION"
    install -m755 "$srcdir/criu/criu" "$CACHED.tmp"
    mv "$CACHED.tmp" "$CACHED"
    # rpc.proto travels with the binary: it is the protocol this CRIU speaks.
    install -m644 "$srcdir/images/rpc.proto" "$CACHE/criu-$VERSION/rpc.proto"
fi

install -D -m755 "$CACHED" "$DEST"
usable "$DEST"
echo "build-criu: installed CRIU $(version_of "$DEST") at $DEST"
