#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# SANITIZE (issue 19): OVERWRITE with a pattern read back, BLOCK ERASE,
# a second session seeing NOT READY, SANITIZE IN PROGRESS with progress
# while one runs, the IMMED 0 command answered at the end or at once when
# aborted (the sanitize goes on), refusal on a read-only LU and under a
# reservation (0845-sanitize.py). A few seconds.
. "$(dirname "$0")/lib.sh"

rw=$(make_image rw.img 64M)
ro=$(make_image ro.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:sanitize
	Lun 0 Path=$rw,Type=fileio,IOMode=wb
	Lun 1 Path=$ro,Type=fileio,IOMode=ro
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 120 python3 "$(dirname "$0")/0845-sanitize.py" "$PORT" \
	"$IQN_BASE:sanitize" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "daemon alive" kill -0 "$IETD_PID"
check "a sanitize logged" grep -q "SANITIZE OVERWRITE of [0-9]* bytes done" "$IETD_LOG"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
