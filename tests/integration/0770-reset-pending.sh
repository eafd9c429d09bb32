#!/bin/bash
# SPDX-License-Identifier: ISC
# Task management against commands that have not reached the SCSI layer
# yet (0770-reset-pending.py): WRITEs waiting for their Data-Out after an
# R2T and a WRITE held for a missing CmdSN, on another session, are ended
# by LOGICAL UNIT RESET, CLEAR TASK SET and TARGET WARM RESET with TASK
# ABORTED, and their data sent afterwards never reaches the file; ABORT
# TASK then LOGICAL UNIT RESET are answered in that order; TARGET COLD
# RESET closes every connection of the target. A few seconds.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-test-reset-$$.img
trap 'rm -f "$SHM"; _cleanup' EXIT
img=$(make_image disk.img 16M)
# In memory and written, not sparse: its large WRITEs go straight in.
head -c 16M /dev/zero >"$SHM"
other=$(make_image other.img 1M)
# Write-through on a disk, with the thread pool: a large WRITE stays in
# the store's hands long enough for the TMFs sent behind it.
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:reset
	Lun 0 Path=$img,Type=fileio,IOMode=wt
	Lun 1 Path=$SHM,Type=fileio,IOMode=wb
	MaxBurstLength 1048576
Target $IQN_BASE:bystander
	Lun 0 Path=$other,Type=fileio
CONF
ietd_start -d 2 --io-engine=threads || { not_ok start; finish; exit 1; }
timeout 120 python3 "$(dirname "$0")/0770-reset-pending.py" "$PORT" \
	"$IQN_BASE:reset" "$IQN_BASE:bystander" "$img" "$SHM" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
