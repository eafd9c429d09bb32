#!/bin/bash
# SPDX-License-Identifier: ISC
# What one initiator can pin is bounded (0780-command-bounds.py): a WRITE
# whose R2T goes unanswered, or one held for a CmdSN that never comes,
# ends its connection after 30 seconds (one whose data trickles in is
# not cut); held commands never exceed the command window; an LU takes
# at most 1024 persistent reservation registrations. About 40 seconds.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:bounds
	Lun 0 Path=$img,Type=fileio
CONF
ietd_start || { not_ok start; finish; exit 1; }
timeout 150 python3 "$(dirname "$0")/0780-command-bounds.py" "$PORT" \
	"$IQN_BASE:bounds" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "the unanswered R2T is logged" \
	grep -q "WRITE ITT 0x[0-9a-f]*: no Data-Out for 30 seconds (0 of 65536 bytes came): closing" \
	"$IETD_LOG"
check "the missing CmdSN is logged" \
	grep -q "held 30 seconds for CmdSN [0-9]*, which never came: closing" \
	"$IETD_LOG"
check "the registration cap is logged" \
	grep -q "persistent reservation registrations at their cap of 1024" \
	"$IETD_LOG"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
