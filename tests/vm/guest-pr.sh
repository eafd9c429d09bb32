#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Runs inside the test VM (busybox sh): persistent reservations through
# the Linux kernel initiator with sg_persist (sg3-utils). Two sessions to
# VM_IQN (node.session.nr_sessions=2: two ISIDs, two I_T nexuses, two sd
# devices for one LU); each registers, the first reserves (Write
# Exclusive, APTPL), the keys and the reservation read back, the second
# is refused a RESERVE and then preempts the first. One "ok - NAME" /
# "not ok - NAME -- WHY" line per step.
#
# Settings: VM_HOST (10.0.2.2), VM_PORT, VM_IQN, VM_LUN (0); VM_PORT2:
# the second session through that port instead (a second gateway).

H=${VM_HOST:-10.0.2.2}
P=${VM_PORT:?VM_PORT not set}
PORTAL=$H:$P
LUN=${VM_LUN:-0}
IQN=${VM_IQN:?VM_IQN not set}
ADM_TIMEOUT=60

npass=0
nfail=0
ok() {
	npass=$((npass + 1))
	echo "ok - $1"
}
not_ok() {
	nfail=$((nfail + 1))
	echo "not ok - $1${2:+ -- $2}"
}
adm() { timeout "$ADM_TIMEOUT" iscsiadm "$@"; }
# pr NAME WANT-EXIT DEV ARGS...: sg_persist's exit status is WANT-EXIT
# (0, or 24 for RESERVATION CONFLICT); its output in /tmp/pr.out.
pr() {
	name=$1 want=$2 dev=$3
	shift 3
	timeout 30 sg_persist "$@" "/dev/$dev" >/tmp/pr.out 2>&1
	rc=$?
	if [ $rc -eq "$want" ]; then
		ok "$name"
		return 0
	fi
	not_ok "$name" "exit $rc, want $want: $(tail -n 3 /tmp/pr.out | tr '\n' ' ')"
	return 1
}
# has NAME REGEX: the last sg_persist output matches.
has() {
	if grep -qiE "$2" /tmp/pr.out; then
		ok "$1"
	else
		not_ok "$1" "$(tr '\n' ' ' </tmp/pr.out)"
	fi
}
disks() {
	for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:"$LUN"/block/*; do
		[ -e "$b" ] && [ -b "/dev/$(basename "$b")" ] && basename "$b"
	done
}
finish() {
	echo "# $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
	exit $?
}

if [ -n "${VM_PORT2:-}" ]; then
	# Two gateways: one session through each portal (ietd issue 21).
	for p in "$PORTAL" "$H:$VM_PORT2"; do
		adm -m node -o new -T "$IQN" -p "$p" >/dev/null 2>&1
		if ! adm -m node -T "$IQN" -p "$p" -l >/tmp/login.out 2>&1; then
			not_ok "a session logs in through $p" \
				"$(tail -n 3 /tmp/login.out | tr '\n' ' ')"
			finish
		fi
	done
else
	adm -m node -o new -T "$IQN" -p "$PORTAL" >/dev/null 2>&1
	adm -m node -T "$IQN" -p "$PORTAL" -o update -n node.session.nr_sessions -v 2 >/dev/null
	if ! adm -m node -T "$IQN" -p "$PORTAL" -l >/tmp/login.out 2>&1; then
		not_ok "two sessions log in" "$(tail -n 3 /tmp/login.out | tr '\n' ' ')"
		finish
	fi
fi
i=0
while [ "$(disks | wc -l)" -lt 2 ] && [ $i -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
set -- $(disks)
if [ $# -ne 2 ]; then
	not_ok "two sd devices for one LU" "found: $*"
	finish
fi
ok "two sessions log in: /dev/$1 and /dev/$2"
A=$1
B=$2

pr "REPORT CAPABILITIES" 0 "$A" --in --report-capabilities
has "capabilities: SPEC_I_PT and ALL_TG_PT and persist through power loss" \
	"Specify initiator ports capable.*1"
pr "register 0x1111 on the first nexus (APTPL)" 0 "$A" --out --register \
	--param-sark=0x1111 --param-aptpl
pr "register 0x2222 on the second nexus" 0 "$B" --out --register \
	--param-sark=0x2222 --param-aptpl
pr "reserve Write Exclusive from the first" 0 "$A" --out --reserve \
	--param-rk=0x1111 --prout-type=1
pr "read keys" 0 "$B" --in --read-keys
has "both keys listed" "0x1111"
has "both keys listed (second)" "0x2222"
pr "read reservation" 0 "$B" --in --read-reservation
has "the first holds Write Exclusive" "Key=0x1111"
has "type Write Exclusive" "type: Write Exclusive"
pr "read full status" 0 "$A" --in --read-full-status
has "full status names the holder" "reservation holder"
has "full status has iSCSI TransportIDs" "iSCSI"
pr "the second cannot reserve" 24 "$B" --out --reserve \
	--param-rk=0x2222 --prout-type=1
pr "the second preempts the first" 0 "$B" --out --preempt \
	--param-rk=0x2222 --param-sark=0x1111 --prout-type=1
# The preempted nexus learns of it by a unit attention (sg3-utils: 6).
pr "the first meets a unit attention" 6 "$A" --in --read-reservation
has "it is REGISTRATIONS PREEMPTED" "Registrations preempted"
pr "read reservation after preempt" 0 "$A" --in --read-reservation
has "the second holds now" "Key=0x2222"
pr "read keys after preempt" 0 "$A" --in --read-keys
if grep -qi "0x1111" /tmp/pr.out; then
	not_ok "the first's key is gone" "$(tr '\n' ' ' </tmp/pr.out)"
else
	ok "the first's key is gone"
fi
pr "the first, preempted, is no longer registered" 24 "$A" --out \
	--register --param-rk=0x1111 --param-sark=0x3333

adm -m node -T "$IQN" -u >/dev/null 2>&1 ||
	not_ok "logout"
finish
