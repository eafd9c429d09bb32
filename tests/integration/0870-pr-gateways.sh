#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# One persistent reservation state for two gateways (ietd issue 21, item
# 4): two ietd processes export the same target and RBD image of a
# throwaway Ceph cluster, A through portal group 1 and B through portal
# group 2 (pr_gateways.sh). Checked (0870-pr-gateways.py): an SPC-2
# RESERVE through A holds for B until its nexus logs out; a registration
# through A and a reservation through B give the same conflicts as on one
# box, the PR IN data is the same through both, PREEMPT AND ABORT through
# B ends a command on A; the state lives in one RADOS object (no state
# file) and is there after both gateways are killed and started again; a
# corrupted object is named in the log, not trusted and not overwritten.
# About 30 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"
. "$(dirname "$0")/pr_gateways.sh"

ceph_up
check "rbd create rbd/lu0" ceph_image lu0 16M
gw_setup
gw_start
gw_phase spc2
gw_phase two
size=$(timeout 30 rados -p rbd stat "$OID" 2>/dev/null |
	sed -n 's/.* size \([0-9]*\)$/\1/p')
[ "${size:-0}" -gt 0 ] && ok "the state is in RADOS object $OID" ||
	not_ok "the state is in RADOS object $OID" "size '${size:-}'"
ls "$T/state" "$T/b/state" 2>/dev/null | grep -q '^pr-' &&
	not_ok "no local state file for the RBD LU" "$(ls "$T/state" "$T/b/state")" ||
	ok "no local state file for the RBD LU"

# Both gateways die: the state is the object's (APTPL in RADOS).
gw_kill
gw_start
grep -q "registration(s) and the reservation in the shared state" \
	"$IETD_LOG" && ok "gateway A logs the state it found" ||
	not_ok "gateway A logs the state it found" "$(tail -n 5 "$IETD_LOG")"
gw_phase check

# A corrupted object (a flipped byte) is reported and not trusted.
gw_kill
timeout 30 rados -p rbd get "$OID" "$T/obj" &&
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 0x40; open(sys.argv[1], "wb").write(b)' "$T/obj" &&
	timeout 30 rados -p rbd put "$OID" "$T/obj"
check "the object is corrupted" test $? -eq 0
gw_start
check "gateway A names the corruption" grep -q \
	"shared state at start: checksum mismatch (torn or corrupted); not used" \
	"$IETD_LOG"
gw_phase corrupt
timeout 30 rados -p rbd get "$OID" "$T/obj2"
check "the corrupted object is left for the administrator" \
	cmp "$T/obj" "$T/obj2"
gw_stop
ceph_stop
finish
