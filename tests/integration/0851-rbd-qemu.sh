#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# QEMU round trip on Type=rbd LUs (ietd issue 21): qemu-img's iscsi
# driver writes 64 MiB of random data onto an RBD image served with
# BlockSize 512 and one with 4096, reads it back and compares byte for
# byte; `rbd export` then shows the same bytes in Ceph, and qemu-img
# compare agrees over iSCSI. About 25 s, most of it the cluster's start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"

SIZE_MB=64
for t in qemu-img; do
	command -v $t >/dev/null || {
		not_ok "$t is installed" "tools/ensure-deps.sh installs it"
		finish
		exit 1
	}
done
ceph_up
check "rbd create rbd/q512" ceph_image q512 ${SIZE_MB}M
check "rbd create rbd/q4k" ceph_image q4k ${SIZE_MB}M
head -c $((SIZE_MB << 20)) /dev/urandom >"$T/src.bin"

cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:rbd-512
	Lun 0 Type=rbd,Path=rbd/q512,CephConf=$CEPH_CONF
Target $IQN_BASE:rbd-4096
	Lun 0 Type=rbd,Path=rbd/q4k,CephConf=$CEPH_CONF,BlockSize=4096
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}

for bs in 512 4096; do
	lun=$(url rbd-$bs 0)
	img=q512
	[ $bs = 4096 ] && img=q4k
	t0=$(date +%s.%N)
	if ! timeout 120 qemu-img convert -n -f raw -O raw -t none \
		"$T/src.bin" "$lun" >"$T/qemu.out" 2>&1; then
		not_ok "BlockSize $bs: qemu-img writes the image" "$(tail -n 3 "$T/qemu.out")"
		continue
	fi
	t1=$(date +%s.%N)
	ok "BlockSize $bs: qemu-img writes the image"
	rm -f "$T/back.bin"
	if ! timeout 120 qemu-img convert -f raw -O raw -T none "$lun" \
		"$T/back.bin" >"$T/qemu.out" 2>&1; then
		not_ok "BlockSize $bs: qemu-img reads it back" "$(tail -n 3 "$T/qemu.out")"
		continue
	fi
	t2=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v bs=$bs -v mb=$SIZE_MB \
		'BEGIN { printf "# BlockSize %d: write %.1f s, read %.1f s for %d MiB\n", bs, b - a, c - b, mb }'
	check "BlockSize $bs: read back byte for byte" cmp "$T/src.bin" "$T/back.bin"
	check "BlockSize $bs: qemu-img compare over iSCSI" \
		timeout 120 qemu-img compare -f raw -F raw "$T/src.bin" "$lun"
	rm -f "$T/export.bin"
	timeout 60 rbd export "rbd/$img" "$T/export.bin" >/dev/null 2>&1
	check "BlockSize $bs: rbd export holds the same bytes" \
		cmp "$T/src.bin" "$T/export.bin"
done

check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
ceph_stop
finish
