#!/usr/bin/env bash
# Builds (once) the guest for hull's pure cgroup v2 + systemd test lane: a Debian 12 root made by
# debootstrap (minbase plus systemd, Debian's kernel, busybox-static, runc and crun), packed into a
# raw ext4 image, with the kernel and initrd beside it. The guest mounts three virtio-9p shares
# (repo, stage: read-only; results: writable) and at boot runs /mnt/stage/run through
# hull-guest.service, which writes the exit status to /mnt/results/rc and powers off.
#
# The image is cached under $HULL_GUEST_CACHE (default /var/tmp/hull-guest) in a directory named
# for a hash of this recipe (this script and guest/image/*); a cached image is reused as long as
# the recipe is unchanged. Prints the image directory on stdout (all else goes to stderr).
#
# Environment: HULL_GUEST_CACHE, HULL_GUEST_MIRROR (default: the Debian mirror in the host's apt
# sources), HULL_GUEST_REBUILD=1 (ignore the cache). Needs root (debootstrap).
# Reference: ../shared/reference/guest.md (the measured recipe and its pitfalls).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${HULL_GUEST_CACHE:-/var/tmp/hull-guest}
suite=bookworm

# Packages added to the minbase root. initramfs-tools comes with the kernel (its postinst makes
# the initrd); its default MODULES=most has virtio_blk, virtio_pci and ext4 for the root disk.
GUEST_PACKAGES=(
    systemd systemd-sysv udev dbus # systemd as PID 1, and the D-Bus the systemd cgroup driver needs
    linux-image-amd64 kmod          # Debian's kernel and modprobe (9p modules load from the root)
    busybox-static                  # every test bundle is made of it
    runc crun                       # the reference runtimes, run side by side with hull
    jq procps time                  # editing config.json, ps, /usr/bin/time for benchmarks
    python3                         # bench/report.py, for bench/run.sh --guest
    uidmap                          # newuidmap/newgidmap for the rootless tests
    dbus-user-session               # a user's session bus at /run/user/UID/bus (rootless --systemd-cgroup)
    libcap2-bin iproute2            # setcap (CVE-2022-29162 test), ip
    apparmor                        # apparmor_parser: guest_lsm loads a profile (the kernel enables AppArmor)
    # The libraries of the host's CRIU 4 (scripts/build-criu.sh), which run.sh stages, and the
    # iptables-restore it locks a container's network with during a dump.
    libbsd0 libnftables1 libprotobuf-c1 libnl-3-200 libnet1 libgnutls30 libuuid1 iptables
)
# What the host needs to build and boot the guest.
HOST_PACKAGES=(debootstrap qemu-system-x86 e2fsprogs jq)

log() { echo "guest/build: $*" >&2; }

install_host_packages() {
    local p missing=()
    for p in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The Debian mirror the host's apt uses (deb822 "URIs:" or one-line "deb URL" entries), without
# the security archive; deb.debian.org if none is found.
host_mirror() {
    local f url
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        while read -r url; do
            if [[ $url =~ ^https?://.*/debian/?$ ]]; then
                echo "${url%/}"
                return 0
            fi
        done < <(sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f" | tr ' ' '\n')
    done
    echo http://deb.debian.org/debian
}

recipe_hash() {
    cat "$here/build.sh" "$here"/image/* | sha256sum | cut -c1-16
}

# Unmounts whatever is still mounted below $1 (debootstrap mounts proc and sys in its target), so
# that removing the directory can never reach into the host's /proc, /sys or /dev.
unmount_below() {
    local m
    while read -r m; do
        if [[ -n $m ]]; then
            umount -l "$m" 2>/dev/null || true
        fi
    done < <(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

build_image() {
    local out=$1 work=$2 mirror rootfs kver
    mirror=${HULL_GUEST_MIRROR:-$(host_mirror)}
    rootfs=$work/rootfs
    log "debootstrap $suite from $mirror into $rootfs"
    local t0=$SECONDS
    debootstrap --variant=minbase --components=main \
        --include="$(IFS=,; echo "${GUEST_PACKAGES[*]}")" \
        "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
        tail -n 40 "$work/debootstrap.log" >&2
        log "debootstrap failed (log above)"
        return 1
    }
    unmount_below "$rootfs"
    log "debootstrap took $((SECONDS - t0)) s"

    # Configuration: hostname, the shares, the test unit and its runner, no apt timers.
    echo hull-guest >"$rootfs/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 hull-guest\n' >"$rootfs/etc/hosts"
    : >"$rootfs/etc/machine-id"
    install -m 0644 "$here/image/fstab" "$rootfs/etc/fstab"
    install -m 0644 "$here/image/modules-load.conf" "$rootfs/etc/modules-load.d/hull-guest.conf"
    install -m 0644 "$here/image/hull-guest.service" "$rootfs/etc/systemd/system/hull-guest.service"
    install -m 0755 "$here/image/hull-guest-run" "$rootfs/usr/local/sbin/hull-guest-run"
    mkdir -p "$rootfs/mnt/repo" "$rootfs/mnt/stage" "$rootfs/mnt/results" "$rootfs/etc/systemd/system/multi-user.target.wants"
    ln -sf ../hull-guest.service "$rootfs/etc/systemd/system/multi-user.target.wants/hull-guest.service"
    local u
    for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
        ln -sf /dev/null "$rootfs/etc/systemd/system/$u"
    done
    rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages

    kver=$(find "$rootfs/boot" -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
    [[ -n $kver && -f $rootfs/boot/initrd.img-$kver ]] || {
        log "no kernel or initrd in $rootfs/boot"
        return 1
    }
    cp "$rootfs/boot/vmlinuz-$kver" "$out/vmlinuz"
    cp "$rootfs/boot/initrd.img-$kver" "$out/initrd.img"

    t0=$SECONDS
    mkfs.ext4 -q -F -L hull-guest -d "$rootfs" "$out/guest.ext4" 3G
    log "mkfs.ext4 took $((SECONDS - t0)) s"
    {
        echo "recipe $(recipe_hash)"
        echo "suite $suite"
        echo "mirror $mirror"
        echo "kernel $kver"
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
        chroot "$rootfs" dpkg-query -W -f='${Package} ${Version}\n' systemd linux-image-amd64 runc crun busybox-static
    } >"$out/manifest.txt"
}

main() {
    [[ $(id -u) -eq 0 ]] || {
        log "must run as root (debootstrap)"
        exit 1
    }
    # Only the image directory goes to stdout (fd 3); what the tools print goes to stderr.
    exec 3>&1 1>&2
    install_host_packages
    mkdir -p "$cache"
    local hash dir
    hash=$(recipe_hash)
    dir=$cache/image-$hash
    # One build at a time on a machine: other worktrees may run the suite at the same time.
    exec 9>"$cache/.lock"
    flock 9
    if [[ ${HULL_GUEST_REBUILD:-0} == 1 && -d $dir ]]; then
        rm -rf "$dir"
    fi
    if [[ -f $dir/guest.ext4 ]]; then
        log "cached image $dir"
    else
        local t0=$SECONDS work
        work=$(mktemp -d "$cache/build.XXXXXX")
        # shellcheck disable=SC2064 # expand $work now: it is local
        trap "unmount_below '$work'; rm -rf --one-file-system '$work'" EXIT
        mkdir -p "$work/out"
        build_image "$work/out" "$work"
        mv "$work/out" "$dir"
        unmount_below "$work"
        rm -rf --one-file-system "$work"
        trap - EXIT
        log "built $dir in $((SECONDS - t0)) s"
    fi
    touch "$dir"
    # Images of older recipes, unused for a day, go.
    find "$cache" -mindepth 1 -maxdepth 1 -name 'image-*' ! -name "image-$hash" -mtime +0 -exec rm -rf --one-file-system {} + 2>/dev/null || true
    flock -u 9
    echo "$dir" >&3
}

main "$@"
