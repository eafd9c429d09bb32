#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two initiators race COMPARE AND WRITE on one block (ietd issue 19):
# read-compare-increment of a counter from two sessions, many rounds;
# the final count equals the successful CAWs, no update lost
# (0810-caw-race.py). A few seconds; CAW_ROUNDS sets the rounds.
. "$(dirname "$0")/lib.sh"

img=$(make_image caw.img 1M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:caw
	Lun 0 Path=$img,Type=fileio
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 120 python3 "$(dirname "$0")/0810-caw-race.py" "$PORT" \
	"$IQN_BASE:caw" "$img" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "caw race tester"
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
finish
