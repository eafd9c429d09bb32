#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# /init of the test VM (tests/vm/build.sh installs it): mount the kernel
# file systems, load the NIC and iSCSI modules, give eth0 a static address
# on slirp's network with no default route, run every /test/*.sh that
# tests/vm/run.sh appended, print IETD-VM-RESULT=<status> and power off.
PATH=/sbin:/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mount -t tmpfs tmpfs /run
mkdir -p /run/lock/iscsi
mount -t tmpfs tmpfs /tmp
# Only our own lines on the console from here on; the kernel log stays
# readable with dmesg.
dmesg -n 1

result=1
say() { echo "$*"; }
finish() {
	sync
	say "IETD-VM-RESULT=$result"
	poweroff -f
	sleep 5
	# Not reached unless poweroff failed: let the kernel panic (panic=-1
	# reboots, and QEMU's -no-reboot turns that into an exit).
	exit "$result"
}

[ -f /test/env ] && . /test/env

kver=$(uname -r)
# crc32c_intel needs SSE4.2 (QEMU's -cpu max has it) and is faster than
# crc32c_generic under TCG; either one serves the CRC32C digests.
for m in virtio_pci virtio_net e1000 crc32c_intel crc32c_generic \
	crct10dif_generic crc64_rocksoft_generic sd_mod scsi_transport_iscsi \
	libiscsi libiscsi_tcp iscsi_tcp; do
	modprobe "$m" 2>/tmp/modprobe.err && continue
	case $m in
	e1000 | virtio_net | crc32c_intel) ;;
	*)
		say "# modprobe $m failed: $(cat /tmp/modprobe.err)"
		finish
		;;
	esac
done

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! ip link set eth0 up || ! ip addr add "${VM_ADDR:-10.0.2.15/24}" dev eth0; then
	say "# no eth0; interfaces: $(ls /sys/class/net)"
	finish
fi
# slirp hands the guest segments far larger than the MSS; with the default
# receive buffer the window reaches zero, a segment is dropped and slirp
# only resends it seconds later. A larger buffer avoids those stalls.
echo "4096 4194304 16777216" >/proc/sys/net/ipv4/tcp_rmem
echo 16777216 >/proc/sys/net/core/rmem_max
say "# guest up: kernel $kver, eth0 ${VM_ADDR:-10.0.2.15/24}, no default route"

result=0
for t in /test/*.sh; do
	[ -f "$t" ] || continue
	sh "$t"
	rc=$?
	[ $rc -eq 0 ] || result=$rc
	say "# $(basename "$t") exited with $rc"
done
finish
