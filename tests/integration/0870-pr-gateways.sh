#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# One persistent reservation state for two gateways (ietd issue 21, item
# 4): two ietd processes export the same target and RBD image of a
# throwaway Ceph cluster, A through portal group 1 and B through portal
# group 2. Checked (0870-pr-gateways.py): a registration through A and a
# reservation through B give the same conflicts as on one box, the PR IN
# data is the same through both, PREEMPT AND ABORT through B ends a
# command on A; the state lives in one RADOS object (no state file) and
# is there after both gateways are killed and started again; a corrupted
# object is named in the log, not trusted and not overwritten. About 30 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"
py=$(dirname "$0")/0870-pr-gateways.py
TGT=$IQN_BASE:shared

ceph_start || {
	not_ok "the Ceph cluster starts"
	finish
	exit 1
}
ok "the Ceph cluster starts"
check "rbd create rbd/lu0" ceph_image lu0 16M
oid=ietd.state.$(timeout 30 rbd info rbd/lu0 --format json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
lun="Lun 0 Type=rbd,Path=rbd/lu0,CephConf=$CEPH_CONF,CephKeyring=$CEPH_KEYRING"

PORT=$(free_port)
PORT_B=$(free_port)
PORT_B0=$(free_port)
while [ "$PORT_B" = "$PORT" ] || [ "$PORT_B0" = "$PORT" ] ||
	[ "$PORT_B0" = "$PORT_B" ]; do
	PORT_B=$(free_port)
	PORT_B0=$(free_port)
done
printf 'Target %s\n\t%s\n' "$TGT" "$lun" >"$T/ietd.conf"
mkdir -p "$T/b"
printf 'PortalGroup 2 127.0.0.1:%s\nTarget %s\n\t%s\n\tPortalGroup 2\n' \
	"$PORT_B" "$TGT" "$lun" >"$T/b/ietd.conf"
B_PID=
B_LOG=$T/b/ietd.log

# Gateway A is lib.sh's ietd; B a second one with its own sockets.
start_both() {
	ietd_start || {
		not_ok "gateway A starts" "$(tail -n 5 "$IETD_LOG")"
		finish
		exit 1
	}
	"$IETD" -f -c "$T/b/ietd.conf" -a 127.0.0.1 -p "$PORT_B0" \
		--pid-file "$T/b/ietd.pid" --control="$T/b/ctl.sock" \
		--status-dir="$T/b/status" --state-dir="$T/b/state" \
		>>"$B_LOG" 2>&1 &
	B_PID=$!
	track_pid "$B_PID"
	wait_port 127.0.0.1 "$PORT_B" || {
		not_ok "gateway B starts" "$(tail -n 5 "$B_LOG")"
		finish
		exit 1
	}
}
kill_both() {
	kill -9 "$IETD_PID" "$B_PID"
	wait "$IETD_PID" "$B_PID" 2>/dev/null
	IETD_PID=
	B_PID=
}
phase() {
	timeout 90 python3 "$py" "$1" "$PORT" "$PORT_B" "$TGT" "$T/saved.json" \
		>"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "$1 phase"
}

start_both
phase two
size=$(timeout 30 rados -p rbd stat "$oid" 2>/dev/null | sed -n 's/.* size \([0-9]*\)$/\1/p')
[ "${size:-0}" -gt 0 ] && ok "the state is in RADOS object $oid" ||
	not_ok "the state is in RADOS object $oid" "size '${size:-}'"
ls "$T/state" "$T/b/state" 2>/dev/null | grep -q '^pr-' &&
	not_ok "no local state file for the RBD LU" "$(ls "$T/state" "$T/b/state")" ||
	ok "no local state file for the RBD LU"

# Both gateways die: the state is the object's (APTPL in RADOS).
kill_both
start_both
grep -q "registration(s) and the reservation in the shared state" \
	"$IETD_LOG" && ok "gateway A logs the state it found" ||
	not_ok "gateway A logs the state it found" "$(tail -n 5 "$IETD_LOG")"
phase check

# A corrupted object (a flipped byte) is reported and not trusted.
kill_both
timeout 30 rados -p rbd get "$oid" "$T/obj" &&
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 0x40; open(sys.argv[1], "wb").write(b)' "$T/obj" &&
	timeout 30 rados -p rbd put "$oid" "$T/obj"
check "the object is corrupted" test $? -eq 0
start_both
check "gateway A names the corruption" grep -q \
	"shared state at start: checksum mismatch (torn or corrupted); not used" \
	"$IETD_LOG"
phase corrupt
timeout 30 rados -p rbd get "$oid" "$T/obj2"
check "the corrupted object is left for the administrator" \
	cmp "$T/obj" "$T/obj2"

check "gateway A still running" kill -0 "$IETD_PID"
check "gateway B still running" kill -0 "$B_PID"
kill -TERM "$B_PID"
wait "$B_PID"
rc=$?
B_PID=
[ $rc -eq 0 ] && ok "gateway B exits 0 on SIGTERM" ||
	not_ok "gateway B exits 0 on SIGTERM" "exit $rc"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "gateway A exits 0 on SIGTERM" ||
	not_ok "gateway A exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" "$B_LOG" &&
	not_ok "no sanitizer report" "see above"
ceph_stop
finish
