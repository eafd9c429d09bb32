#!/bin/bash
# SPDX-License-Identifier: ISC
# Session and connection reinstatement (0750-reinstatement.py): an
# initiator allowed on one target cannot close or take over a session of
# another (CHAP) target by sending its InitiatorName, ISID and TSIH; a
# reinstated connection gets a fresh I_T nexus that the old session's
# teardown leaves alone; racing reinstatements leave one session. About
# ten seconds.
. "$(dirname "$0")/lib.sh"

img1=$(make_image chap.img 16M)
img2=$(make_image open.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:chap
	IncomingUser victim victimsecret12
	Lun 0 Path=$img1
Target $IQN_BASE:open
	Lun 0 Path=$img2
CONF
tester() { # tester MODE
	timeout 120 python3 "$(dirname "$0")/0750-reinstatement.py" "$PORT" \
		"$IQN_BASE:chap" "$IQN_BASE:open" victim victimsecret12 \
		"$T/status" "$1" >"$T/py-$1.out" 2>&1
	tap_import "$T/py-$1.out" $? "tester ($1) finished"
}

# One event thread: the old session's teardown runs after the burst
# the new session sent with its last Login Request.
ietd_start -T 1 || { not_ok start; finish; exit 1; }
tester serial
check "the refused takeover is logged" \
	grep -q "failed: session does not exist (0x020a)" "$IETD_LOG"
check "reinstatements are logged" \
	grep -q "connection reinstatement: closing session" "$IETD_LOG"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0 (one event thread)" || not_ok "exit 0 (one event thread)" "$rc"

# Two event threads: logins for one session race each other.
ietd_start -T 2 || { not_ok "start -T 2"; finish; exit 1; }
tester race
check "daemon alive after the race" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0 (two event threads)" || not_ok "exit 0 (two event threads)" "$rc"
finish
