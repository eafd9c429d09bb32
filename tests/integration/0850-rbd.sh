#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Type=rbd (ietd issue 21, item 1): an RBD image of a throwaway Ceph
# cluster as LUN 0 beside a file as LUN 1. Checked: bad Type=rbd keys are
# refused by ietd -t; every data command against a model of the image,
# whose bytes `rbd export` then shows are in Ceph (0850-rbd.py data);
# `rbd resize` seen by a logged-in initiator as CAPACITY DATA HAS CHANGED
# and the new READ CAPACITY; a stopped OSD turns an RBD READ into a CHECK
# CONDITION within a bound while the file LU answers. About 40 s, most
# of it the cluster's start and the stalled read.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"
py=$(dirname "$0")/0850-rbd.py

# The rados timeouts of the LU's own conf (3 s) win over ietd's default.
STALL_TIMEOUT=3
STALL_BOUND=15

# Two ietd write one image: no lock break of a slow live holder.
CEPH_WATCH_TIMEOUT=30
ceph_up
check "rbd create rbd/lu0" ceph_image lu0 16M
short=$T/ceph-short.conf
sed -e "s/^rados osd op timeout = .*/rados osd op timeout = $STALL_TIMEOUT/" \
	-e "s/^rados mon op timeout = .*/rados mon op timeout = $STALL_TIMEOUT/" \
	"$CEPH_CONF" >"$short"
img=$(make_image file.img 4M)

# ietd -t refuses what it cannot use, with the reason.
bad() { # bad NAME EXPECTED-TEXT LUN-PARAMS
	printf 'Target %s:bad\n\tLun 0 %s\n' "$IQN_BASE" "$3" >"$T/bad.conf"
	if timeout 60 "$IETD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1; then
		not_ok "ietd -t refuses $1" "accepted: $3"
	elif grep -qF -- "$2" "$T/bad.out"; then
		ok "ietd -t refuses $1"
	else
		not_ok "ietd -t refuses $1" "$(cat "$T/bad.out")"
	fi
}
bad "a Path without a pool" "is not POOL/IMAGE or POOL/NAMESPACE/IMAGE" \
	"Type=rbd,Path=lu0"
bad "a Path with four parts" "is not POOL/IMAGE" "Type=rbd,Path=a/b/c/d"
bad "an empty pool" "is not POOL/IMAGE" "Type=rbd,Path=/lu0"
bad "a snapshot" "is not POOL/IMAGE" "Type=rbd,Path=rbd/lu0@snap"
bad "a missing CephConf" "cannot use CephConf $T/nope.conf" \
	"Type=rbd,Path=rbd/lu0,CephConf=$T/nope.conf"
bad "a missing CephKeyring" "cannot use CephKeyring $T/nope" \
	"Type=rbd,Path=rbd/lu0,CephKeyring=$T/nope"
bad "CephConf on a file LU" "CephConf is only valid with Type=rbd" \
	"Type=fileio,Path=$img,CephConf=$CEPH_CONF"
bad "a missing image" "cannot open RBD image rbd/nope" \
	"Type=rbd,Path=rbd/nope,CephConf=$CEPH_CONF"
bad "a missing pool" "cannot use pool nopool" \
	"Type=rbd,Path=nopool/lu0,CephConf=$CEPH_CONF"
check "rbd create rbd/cached with conf_rbd_cache true" bash -c \
	"timeout 30 rbd create --size 8M rbd/cached &&
	 timeout 30 rbd image-meta set rbd/cached conf_rbd_cache true"
bad "an image whose metadata turns the cache on" \
	"turns the librbd cache on in its metadata" \
	"Type=rbd,Path=rbd/cached,CephConf=$CEPH_CONF"
bad "an unknown client" "cannot connect to the Ceph cluster" \
	"Type=rbd,Path=rbd/lu0,CephConf=$CEPH_CONF,CephUser=nobody"

cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:rbd
	Lun 0 Type=rbd,Path=rbd/lu0,CephConf=$short,CephUser=admin,CephKeyring=$CEPH_KEYRING
	Lun 1 Path=$img,Type=fileio
CONF
check "ietd -t accepts the RBD LU" timeout 60 "$IETD" -t -c "$T/ietd.conf"
cp "$T/check.out" "$T/t.out"
# Timeouts: the conf file's win; without them ietd's 30 s default holds.
check "the LU's CephConf sets a ${STALL_TIMEOUT} s OSD timeout" \
	grep -q "(OSD timeout $STALL_TIMEOUT s, monitor timeout $STALL_TIMEOUT s)" \
	"$T/t.out"
grep -v "timeout" "$CEPH_CONF" >"$T/plain.conf"
printf 'Target %s:plain
	Lun 0 Type=rbd,Path=rbd/lu0,CephConf=%s
' \
	"$IQN_BASE" "$T/plain.conf" >"$T/plain-ietd.conf"
timeout 60 "$IETD" -t -c "$T/plain-ietd.conf" >"$T/plain.out" 2>&1
check "without timeouts in CephConf ietd's default is 30 s" \
	grep -q "(OSD timeout 30 s, monitor timeout 30 s)" "$T/plain.out"
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
grep -q "connected to the Ceph cluster" "$IETD_LOG" &&
	ok "ietd connected to the cluster" ||
	not_ok "ietd connected to the cluster" "$(tail -n 5 "$IETD_LOG")"

timeout 120 python3 "$py" "$PORT" "$IQN_BASE:rbd" data "$T/expect.img" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "data path tester"
timeout 60 rbd export rbd/lu0 "$T/export.img" >/dev/null 2>&1
check "rbd export shows exactly the bytes written over iSCSI" \
	cmp "$T/expect.img" "$T/export.img"

timeout 120 python3 "$py" "$PORT" "$IQN_BASE:rbd" resize rbd/lu0 24M \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "resize tester"

# ietadm: Size= grows the image (never shrinks it); a new RBD LUN opens.
IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
adm() { timeout 60 "$IETADM" --control="$T/ctl.sock" "$@"; }
check "ietadm Size=32M grows the image" adm --op update --tid=1 --lun=0 \
	--params Size=32M
rbd_bytes=$(timeout 30 rbd info --format json rbd/lu0 |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
check "rbd info says 32 MiB" test "$rbd_bytes" = $((32 << 20))
if adm --op update --tid=1 --lun=0 --params Size=8M >"$T/adm.out" 2>&1; then
	not_ok "ietadm refuses to shrink the image" "accepted"
else
	grep -q "ietd only grows it" "$T/adm.out" &&
		ok "ietadm refuses to shrink the image" ||
		not_ok "ietadm refuses to shrink the image" "$(cat "$T/adm.out")"
fi
check "rbd create rbd/lu2" ceph_image lu2 8M
check "ietadm adds an RBD LUN" adm --op new --tid=1 --lun=2 \
	--params "Type=rbd,Path=rbd/lu2,CephConf=$short"
for i in $(seq 30); do
	grep -q "lun:2 .*iotype:rbd.*path:rbd/lu2" "$T/status/volume" && break
	sleep 0.1
done
check "the volume status file lists it as rbd" \
	grep -q "lun:2 .*iotype:rbd.*path:rbd/lu2" "$T/status/volume"
check "ietadm deletes it" adm --op delete --tid=1 --lun=2

# A second ietd on the same image: COMPARE AND WRITE is atomic across
# both only because Ceph does the compare and the write in one step.
port2=$(free_port)
mkdir -p "$T/b"
"$IETD" -f -c "$T/ietd.conf" -a 127.0.0.1 -p "$port2" \
	--pid-file "$T/b/ietd.pid" --control="$T/b/ctl.sock" \
	--status-dir="$T/b/status" --state-dir="$T/b/state" \
	>"$T/b/ietd.log" 2>&1 &
pid2=$!
track_pid "$pid2"
if wait_port 127.0.0.1 "$port2"; then
	timeout 300 python3 "$py" "$PORT" "$IQN_BASE:rbd" race "$port2" \
		"${RACE_ROUNDS:-100}" >"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "two-gateway CAW race tester"
else
	not_ok "a second ietd on the same image starts" "$(tail -n 5 "$T/b/ietd.log")"
fi
kill -TERM "$pid2"
wait "$pid2"
check "the second ietd exits 0" test $? -eq 0
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$T/b/ietd.log" &&
	not_ok "no sanitizer report from the second ietd" "see above"

timeout 180 python3 "$py" "$PORT" "$IQN_BASE:rbd" stall "$CEPH_OSD_PID" \
	"$STALL_BOUND" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "stalled cluster tester"

check "ietd still running" kill -0 "$IETD_PID"
timeout 60 bash -c "kill -TERM $IETD_PID; while kill -0 $IETD_PID 2>/dev/null; do sleep 0.1; done"
check "ietd stops within 60 s" test $? -eq 0
wait "$IETD_PID"
rc=$?
IETD_PID=
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
ceph_stop
finish
