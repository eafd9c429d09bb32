#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Build (once, then cached) a Debian kernel and an initramfs in which the
# Linux kernel iSCSI initiator runs: busybox, open-iscsi's iscsid and
# iscsiadm with their libraries, and the modules iscsi_tcp, sd_mod, the
# CRC32C digest code and a virtio NIC need. The host's kernel has no
# iscsi_tcp, so tests/vm/run.sh boots this image in QEMU instead.
#
#   tests/vm/build.sh          prints the cache directory on stdout
#
# The cache directory (${IETD_VM_CACHE:-/var/cache/ietd-vm}/<key>) holds
# vmlinuz, initrd.cpio and manifest; the key covers the versions of the
# packages used and this directory's build inputs, so an upgrade rebuilds.
# Exit status: 0 built or cached, 77 the packages cannot be obtained (the
# caller should skip), anything else a build failure.
set -eu
set -o pipefail
# Under pipefail a reader that stops early (awk's exit, head, grep -q) kills
# the writer with SIGPIPE and fails the whole pipeline with status 141: every
# pipeline here reads its input to the end. Should any step still fail, it
# names itself (line, command, status) so the test that called us can say
# which one.
trap 'rc=$?; echo "vm-build: failed at line $LINENO (status $rc): $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${IETD_VM_CACHE:-/var/cache/ietd-vm}
SKIP=77

log() { echo "vm-build: $*" >&2; }
skip() { log "SKIP: $*"; exit $SKIP; }

# Host packages: QEMU runs the VM, cpio and xz-utils pack and unpack. The
# raw material of the image (the kernel, busybox-static, open-iscsi and the
# libraries only it uses) is downloaded with apt-get download and unpacked
# with dpkg-deb -x, never installed: installing open-iscsi on a host with
# systemd would enable iscsid there, and busybox-static replaces busybox.
need_pkgs="qemu-system-x86 cpio xz-utils"
# Libraries open-iscsi needs that every Debian host has: copied from the
# host (and part of the cache key).
host_libs="libc6 libssl3 libkmod2 libmount1 libsystemd0"
# dm-multipath's table tool (tests/vm/guest-mpath.sh), copied from the host
# with its libraries.
host_libs="$host_libs dmsetup"
# Libraries open-iscsi needs that a Debian host usually lacks; sg3-utils
# for sg_persist (persistent reservations through the kernel initiator).
raw_pkgs="busybox-static open-iscsi libopeniscsiusr libisns0 sg3-utils"

pkg_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		awk '$3 == "installed" { print $4 }'
}
candidate() {
	apt-cache policy "$1" 2>/dev/null |
		awk '!found && $1 == "Candidate:" && $2 != "(none)" { print $2; found = 1 }'
}

# Into the current directory, as the caller (not the _apt sandbox user, who
# could not write to a root-owned build directory).
apt_download() { apt-get -q -o APT::Sandbox::User="$(id -un)" download "$@" >&2; }

ensure_packages() {
	local p missing=""
	for p in $need_pkgs $host_libs; do
		[ -n "$(pkg_version "$p")" ] || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		skip "missing packages:$missing (as root: apt-get install$missing)"
	fi
	log "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing >&2 ||
		skip "apt-get install$missing failed"
}

command -v apt-cache >/dev/null || skip "no apt-cache: not a Debian host"
ensure_packages

# linux-image-amd64 is a metapackage; the kernel is its linux-image-6.x
# dependency.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '!found && $1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; found = 1 }')
[ -n "$kpkg" ] || skip "apt-cache knows no linux-image-amd64 (apt-get update?)"
kver_pkg=$(candidate "$kpkg")
[ -n "$kver_pkg" ] || skip "no version for $kpkg"
versions="$kpkg=$kver_pkg"
for p in $host_libs; do
	versions="$versions $p=$(pkg_version "$p")"
done
# sg3-utils' library package is named after its soname.
sglib=$(apt-cache depends sg3-utils 2>/dev/null |
	awk '!found && $1 == "Depends:" && $2 ~ /^libsgutils2/ { print $2; found = 1 }')
[ -n "$sglib" ] || skip "apt-cache knows no library of sg3-utils"
raw_pkgs="$raw_pkgs $sglib"
for p in $raw_pkgs; do
	v=$(candidate "$p")
	[ -n "$v" ] || skip "apt-cache knows no $p"
	versions="$versions $p=$v"
done

inputs=$(cat "$HERE/build.sh" "$HERE/init.sh")
key=$(printf '%s\n' $versions "$inputs" | sha256sum | cut -c1-16)
out=$CACHE/$key

mkdir -p "$CACHE" 2>/dev/null || skip "cannot create $CACHE (set IETD_VM_CACHE)"
if [ -s "$out/initrd.cpio" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/manifest" ]; then
	echo "$out"
	exit 0
fi

# One builder at a time per cache; a second one waits and reuses.
exec 9>"$CACHE/.lock"
flock 9
if [ -s "$out/initrd.cpio" ] && [ -s "$out/vmlinuz" ]; then
	echo "$out"
	exit 0
fi

work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building $out ($versions)"

# Fetch the kernel package (kept in the cache: 70 MB, one download per
# kernel version) and unpack it without installing it.
debdir=$CACHE/debs
mkdir -p "$debdir"
deb=$debdir/${kpkg}_${kver_pkg}_amd64.deb
if [ ! -s "$deb" ]; then
	(cd "$work" && apt_download "$kpkg=$kver_pkg") ||
		skip "apt-get download $kpkg failed (no network to the Debian mirror?)"
	mv "$work/${kpkg}_${kver_pkg}_amd64.deb" "$deb"
fi
dpkg-deb -x "$deb" "$work/k"

# The small packages: fetched for every build, unpacked side by side.
mkdir -p "$work/dl" "$work/raw"
for p in $raw_pkgs; do
	(cd "$work/dl" && apt_download "$p=$(candidate "$p")") ||
		skip "apt-get download $p failed"
done
for d in "$work"/dl/*.deb; do
	dpkg-deb -x "$d" "$work/raw"
done
BB=$work/raw/bin/busybox
[ -x "$BB" ] || {
	log "no busybox in busybox-static"
	exit 1
}
kdirs=("$work"/k/lib/modules/*)
kver=$(basename "${kdirs[0]}")
[ -d "${kdirs[0]}" ] && [ -f "$work/k/boot/vmlinuz-$kver" ] || {
	log "no kernel in $deb"
	exit 1
}
kmods=$work/k/lib/modules/$kver

# The package ships no modules.dep (depmod runs at install time); busybox's
# depmod reads the .ko.xz files and writes one.
"$BB" depmod -b "$work/k" "$kver"

# Modules the initiator needs. crc32c-intel (SSE4.2: run.sh uses -cpu max)
# or else crc32c_generic provides "crc32c" for header and data digests;
# the crct10dif/crc64 providers keep sd_mod's t10-pi from asking for
# modules that are not there.
wanted="virtio_pci virtio_net e1000 scsi_transport_iscsi libiscsi
libiscsi_tcp iscsi_tcp sd_mod crc32c-intel crc32c_generic libcrc32c
crct10dif_generic crc64_rocksoft_generic dm_mod dm_multipath dm_round_robin
scsi_dh_alua"

# modules.dep lines are "path.ko: dep.ko dep.ko"; the name in a path may use
# '-' where the module name has '_'.
mod_path() {
	local n=$1 alt
	alt=$(echo "$n" | tr '_' '-')
	awk -F: -v a="/$n.ko" -v b="/$alt.ko" '
		{ p = $1; i = length(p) - length(a) + 1; j = length(p) - length(b) + 1 }
		(i > 0 && substr(p, i) == a) || (j > 0 && substr(p, j) == b) { print p; exit }' \
		"$kmods/modules.dep"
}
paths=""
for m in $wanted; do
	p=$(mod_path "$m")
	[ -n "$p" ] || { log "module $m not in $kver"; exit 1; }
	deps=$(awk -F': *' -v p="$p" '$1 == p { print $2; exit }' "$kmods/modules.dep")
	paths="$paths $p $deps"
done

root=$work/root
mkdir -p "$root"/{bin,sbin,etc/iscsi,lib,lib64,proc,sys,dev,run,tmp,test,var}
ln -s /run/lock "$root/var/lock"

# Modules decompressed, so that busybox modprobe/insmod need no xz support.
for p in $(printf '%s\n' $paths | sort -u); do
	src=$kmods/$p
	[ -f "$src" ] || src=$kmods/$p.xz
	[ -f "$src" ] || { log "missing $p"; exit 1; }
	mkdir -p "$root/lib/modules/$kver/$(dirname "$p")"
	case $src in
	*.xz) xz -dc "$src" >"$root/lib/modules/$kver/$p" ;;
	*) cp "$src" "$root/lib/modules/$kver/$p" ;;
	esac
done
cp "$kmods/modules.builtin" "$kmods/modules.order" "$root/lib/modules/$kver/"
# modules.dep and modules.alias for the guest, so that the kernel's own
# request_module() (through /sbin/modprobe) finds e.g. crypto-crc32c.
"$BB" depmod -b "$root" "$kver"

# busybox: one static binary, applets as links in /bin.
cp "$BB" "$root/bin/busybox"
for a in $("$BB" --list); do
	case $a in busybox) continue ;; esac
	ln -sf busybox "$root/bin/$a"
done
ln -sf ../bin/busybox "$root/sbin/modprobe"

# open-iscsi's daemon and administration tool, and sg_persist, with every
# shared library ldd names (the unpacked ones first) and the loader.
# Libraries go to /lib/x86_64-linux-gnu in the image whichever tree they
# came from.
rawlibs=$work/raw/lib/x86_64-linux-gnu:$work/raw/usr/lib/x86_64-linux-gnu
mkdir -p "$root/lib/x86_64-linux-gnu"
for b in sbin/iscsid sbin/iscsiadm usr/bin/sg_persist; do
	n=$(basename "$b")
	cp "$work/raw/$b" "$root/sbin/"
	LD_LIBRARY_PATH=$rawlibs ldd "$work/raw/$b" >"$work/ldd.$n"
	if grep -q 'not found' "$work/ldd.$n"; then
		log "$n: $(grep 'not found' "$work/ldd.$n" | tr '\n' ' ')"
		exit 1
	fi
	awk '/=> \// { print $3 }' "$work/ldd.$n"
done | sort -u | while read -r lib; do
	cp -L "$lib" "$root/lib/x86_64-linux-gnu/$(basename "$lib")"
done
# dmsetup (dm-multipath tables), from the host, with its libraries.
cp -L /usr/sbin/dmsetup "$root/sbin/"
ldd /usr/sbin/dmsetup | awk '/=> \// { print $3 }' | while read -r lib; do
	cp -L "$lib" "$root/lib/x86_64-linux-gnu/$(basename "$lib")"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || {
	log "loader not copied"
	exit 1
}

# Configuration: node defaults tuned for a test (short timeouts so a
# misbehaving target fails the run instead of hanging it; no automatic
# start of iscsid by iscsiadm: /init starts it).
echo "InitiatorName=iqn.2026-11.org.ietd.test:linux-vm" >"$root/etc/iscsi/initiatorname.iscsi"
cat >"$root/etc/iscsi/iscsid.conf" <<'CONF'
iscsid.startup = /sbin/iscsid
node.startup = manual
node.leading_login = No
node.session.timeo.replacement_timeout = 20
node.conn[0].timeo.login_timeout = 15
node.conn[0].timeo.logout_timeout = 15
node.conn[0].timeo.noop_out_interval = 5
node.conn[0].timeo.noop_out_timeout = 10
node.session.err_timeo.abort_timeout = 15
node.session.err_timeo.lu_reset_timeout = 30
node.session.err_timeo.tgt_reset_timeout = 30
node.session.err_timeo.host_reset_timeout = 60
node.session.initial_login_retry_max = 2
node.session.cmds_max = 128
node.session.queue_depth = 32
node.session.xmit_thread_priority = -20
node.session.iscsi.InitialR2T = No
node.session.iscsi.ImmediateData = Yes
node.session.iscsi.FirstBurstLength = 262144
node.session.iscsi.MaxBurstLength = 16776192
node.conn[0].iscsi.MaxRecvDataSegmentLength = 262144
node.conn[0].iscsi.MaxXmitDataSegmentLength = 0
discovery.sendtargets.iscsi.MaxRecvDataSegmentLength = 32768
node.session.nr_sessions = 1
node.session.reopen_max = 0
node.session.iscsi.FastAbort = Yes
node.session.scan = auto
CONF
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
install -m 0755 "$HERE/init.sh" "$root/init"

# An uncompressed newc archive: nothing to inflate at boot, which under TCG
# is faster than reading a smaller file.
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$work/initrd.cpio"

mkdir -p "$work/out"
cp "$work/k/boot/vmlinuz-$kver" "$work/out/vmlinuz"
mv "$work/initrd.cpio" "$work/out/initrd.cpio"
{
	echo "kernel $kpkg $kver_pkg ($kver)"
	printf '%s\n' $versions
	echo "modules:"
	printf '%s\n' $paths | sort -u | sed 's/^/  /'
} >"$work/out/manifest"
rm -rf "$out"
mv "$work/out" "$out"
# Images of older inputs: gone after a day (a concurrent run of another
# checkout may still be booting one).
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9a-f]\{16\}' \
	! -name "$key" -mtime +1 -exec rm -rf {} + 2>/dev/null || true
log "done: $(du -sh "$out" | cut -f1) in $out"
echo "$out"
