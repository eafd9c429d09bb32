#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# bench/rbd_load.c, the direct librbd client of bench/run.sh's rbd kind
# (issue 21's ceiling): every bad argument is refused with exit 2 and its
# reason before any cluster is touched; against a throwaway cluster, a
# missing image fails with exit 1, a sequential write run that wraps
# around a small image leaves every byte of it 0x5a (rbd export), and a
# random read run reports completions and no errors. About 15 s, most of
# it the cluster's start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
load=$T/rbd_load

check "rbd_load builds warning-free" cc -O2 -Wall -Wextra -Werror \
	-o "$load" "$top/bench/rbd_load.c" -lrbd -lrados

# refused NAME EXPECTED-TEXT ARGS...: exit 2 and the reason on stderr.
refused() {
	local name=$1 want=$2 rc
	shift 2
	timeout 10 "$load" "$@" >"$T/out" 2>&1
	rc=$?
	if [ $rc -ne 2 ]; then
		not_ok "refuses $name" "exit $rc: $(head -c 300 "$T/out")"
	elif ! grep -qF -- "$want" "$T/out"; then
		not_ok "refuses $name" "no '$want' in: $(head -c 300 "$T/out")"
	else
		ok "refuses $name"
	fi
}
c=/nonexistent/ceph.conf # never read: the arguments fail first
refused "too few arguments" "usage:" rbd/i "$c" randread 1
refused "too many arguments" "usage:" rbd/i "$c" randread 1 1 4096 admin x
refused "an unknown workload" "unknown workload" rbd/i "$c" randrw 1 1
refused "depth 0" "DEPTH must be a number from 1 to 1024" rbd/i "$c" randread 0 1
refused "depth 1025" "DEPTH must be" rbd/i "$c" randread 1025 1
refused "depth with a tail" "DEPTH must be" rbd/i "$c" randread 3x 1
refused "a negative depth" "DEPTH must be" rbd/i "$c" randread -1 1
refused "0 seconds" "SECONDS must be above 0" rbd/i "$c" randread 1 0
refused "NaN seconds" "SECONDS must be above 0" rbd/i "$c" randread 1 nan
refused "3601 seconds" "SECONDS must be above 0" rbd/i "$c" randread 1 3601
refused "bytes not a sector multiple" "multiple of 512" rbd/i "$c" randread 1 1 1000
refused "bytes over 16 MiB" "BYTES must be" rbd/i "$c" randread 1 1 16777728
refused "an image without pool" "POOL/IMAGE" img "$c" randread 1 1
refused "an empty pool" "POOL/IMAGE" /img "$c" randread 1 1
refused "an empty namespace" "POOL/IMAGE" rbd//img "$c" randread 1 1
refused "four path parts" "POOL/IMAGE" rbd/a/b/c "$c" randread 1 1
refused "an empty image name" "empty image name" rbd/ns/ "$c" randread 1 1

ceph_up
check "rbd create rbd/load" ceph_image load 8M

timeout 60 "$load" rbd/nope "$CEPH_CONF" randread 1 0.2 >"$T/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "image rbd/nope" "$T/out"; then
	ok "a missing image fails with exit 1"
else
	not_ok "a missing image fails with exit 1" "exit $rc: $(head -c 300 "$T/out")"
fi

# 1 MiB sequential writes for a second wrap around the 8 MiB image many
# times: every byte must then be the pattern.
timeout 60 "$load" rbd/load "$CEPH_CONF" seqwrite 2 1 >"$T/w.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -Eq '^ios [1-9][0-9]* seconds .* errors 0$' "$T/w.out"; then
	ok "a sequential write run reports completions and no errors"
else
	not_ok "a sequential write run reports completions and no errors" \
		"exit $rc: $(head -c 300 "$T/w.out")"
fi
ios=$(sed -n 's/^ios \([0-9]*\) .*/\1/p' "$T/w.out")
if [ "${ios:-0}" -ge 8 ] && timeout 60 rbd export rbd/load "$T/load.img" \
	>/dev/null 2>&1 &&
	[ "$(tr -d '\132' <"$T/load.img" | wc -c)" = 0 ] &&
	[ "$(stat -c %s "$T/load.img")" = 8388608 ]; then
	ok "the writes covered the whole image with 0x5a"
else
	not_ok "the writes covered the whole image with 0x5a" \
		"ios ${ios:-none}; export: $(od -A d -t x1 "$T/load.img" 2>&1 | head -n 3)"
fi

timeout 60 "$load" rbd/load "$CEPH_CONF" randread 8 0.5 >"$T/r.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -Eq '^ios [1-9][0-9]* seconds 0.500 iops [0-9]+ mbps [0-9.]+ cpu [0-9.]+ errors 0$' "$T/r.out"; then
	ok "a random read run prints its one line"
else
	not_ok "a random read run prints its one line" "exit $rc: $(head -c 300 "$T/r.out")"
fi

ceph_stop
finish
