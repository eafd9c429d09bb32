#!/bin/bash
# SPDX-License-Identifier: ISC
# WRITEs received straight into a tmpfs file's pages, cut off halfway
# through their data by ABORT TASK, LOGICAL UNIT RESET, a dropped
# connection and a file cut short (0630-direct-writes.py). A few seconds.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-test-$$.img
trap 'rm -f "$SHM"; _cleanup' EXIT
# All in memory (written, not sparse): large WRITEs go straight in.
head -c 16M /dev/zero >"$SHM"
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:direct
	Lun 0 Path=$SHM,Type=fileio,IOMode=wb
	MaxBurstLength 1048576
CONF
ietd_start -d 2 || { not_ok start; finish; exit 1; }
timeout 120 python3 "$(dirname "$0")/0630-direct-writes.py" "$PORT" \
	"$IQN_BASE:direct" "$SHM" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "the WRITEs went straight into the file's pages" \
	grep -q "straight into the store" "$IETD_LOG"
check "the file cut short is logged" \
	grep -q "backing file shrank under a WRITE's data: closing" "$IETD_LOG"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
