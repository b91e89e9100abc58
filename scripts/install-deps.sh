#!/usr/bin/env bash
# Installs what building and testing hull needs on a Debian 12 machine that has only Rust, cargo,
# gcc, git and python3. Idempotent: does nothing (and needs no network) when all is installed.
set -euo pipefail

PACKAGES=(
    busybox-static # the static busybox every test bundle is made of
    libseccomp-dev # libseccomp, which compiles seccomp profiles (linked by the libseccomp crate)
    runc           # the reference runtime, for side-by-side checks
    jq             # editing config.json in scripts
    uidmap         # newuidmap/newgidmap, for rootless tests
    iproute2       # ip, for network namespace checks
    procps         # ps, pgrep
    util-linux     # nsenter, unshare, setpriv, mount
    libcap2-bin    # setcap, for the file-capability test of CVE-2022-29162
    iptables       # iptables-restore, with which CRIU locks a container's network during a dump
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing ${missing[*]}; run this script as root" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo fmt and cargo clippy come as rustup components; add them if this toolchain lacks them.
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null; then
            echo "install-deps: adding the $c component"
            rustup component add "$c" >/dev/null
        else
            echo "install-deps: cargo $c is missing and there is no rustup to add it" >&2
            exit 1
        fi
    fi
done

# CRIU 4.x for checkpoint/restore (Debian 12's 3.17 cannot dump on this kernel): built once
# from trixie's source and cached, so a rerun only checks the installed version.
bash "$(dirname "${BASH_SOURCE[0]}")/build-criu.sh"

echo "install-deps: ok"
