#!/bin/bash
# SPDX-License-Identifier: ISC
# Large WRITEs cut off halfway through their data by ABORT TASK, LOGICAL
# UNIT RESET (own and another session's), a dropped connection and a file
# cut short (0630-cut-writes.py). A few seconds.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-test-$$.img
trap 'rm -f "$SHM"; _cleanup' EXIT
head -c 16M /dev/zero >"$SHM"
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:direct
	Lun 0 Path=$SHM,Type=fileio,IOMode=wb
	MaxBurstLength 1048576
CONF
ietd_start -d 2 || { not_ok start; finish; exit 1; }
timeout 120 python3 "$(dirname "$0")/0630-cut-writes.py" "$PORT" \
	"$IQN_BASE:direct" "$SHM" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
