#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# WRITE ATOMIC (16) (issue 19): its Block Limits VPD fields, its checks,
# and that it is atomic: one session writes alternating full patterns
# over a range while others read it, plainly and as HEAD OF QUEUE, and
# no read ever sees part of one pattern and part of another
# (0840-write-atomic.py). A few seconds; ATOMIC_SECONDS sets the race.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-atomic-$$.img
trap 'rm -f "$SHM"; _cleanup' EXIT
head -c 64M /dev/zero >"$SHM"
ro=$(make_image ro.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:atomic
	Lun 0 Path=$SHM,Type=fileio,IOMode=wb
	Lun 1 Path=$ro,Type=fileio,IOMode=ro
	MaxBurstLength 1048576
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 120 python3 "$(dirname "$0")/0840-write-atomic.py" "$PORT" \
	"$IQN_BASE:atomic" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
