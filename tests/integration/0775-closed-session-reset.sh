#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# A LOGICAL UNIT RESET from one session while another session's
# connection dies with write-through WRITEs in the thread pool
# (0775-closed-session-reset.py): the reset reads the dead session's
# tasks, whose session must still be in memory. The real check is the
# sanitizer build's (make SAN=1 check): before the fix ASan reported a
# heap-use-after-free in scsi_task_not_of within 60 rounds. A few seconds.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 64M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:reset
	Lun 0 Path=$img,Type=fileio,IOMode=wt
CONF
ietd_start --io-engine=threads || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 300 python3 "$(dirname "$0")/0775-closed-session-reset.py" "$PORT" \
	"$IQN_BASE:reset" "${CLOSED_RESET_ROUNDS:-60}" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "closed-session-reset tester"
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
if grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" >/dev/null; then
	not_ok "no sanitizer report" "$(grep -A8 -E 'AddressSanitizer|runtime error' "$IETD_LOG" | head -20)"
else
	ok "no sanitizer report"
fi
finish
