#!/bin/bash
# SPDX-License-Identifier: ISC
# Fail every allocation of login, discovery, SCSI I/O (responses with
# sense, R2T, Data-In, task management responses), an ietadm request
# and a reload in turn (0730-alloc-faults.py): each failure fails one
# operation, ietd keeps running, and the operation works again at once.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(dirname "$IETD")/ietadm}
img=$(make_image disk.img 16M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:faults
	Lun 0 Path=$img,Type=fileio
CONF
ietd_start || { not_ok start; finish; exit 1; }
IETADM=$IETADM timeout 600 python3 "$(dirname "$0")/0730-alloc-faults.py" \
	"$PORT" "$IQN_BASE:faults" "$T/ctl.sock" "$T/ietd.pid" "$T/ietd.conf" \
	"$IETD_LOG" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0 (no leak under SAN=1)" || not_ok "exit 0" "$rc"
finish
