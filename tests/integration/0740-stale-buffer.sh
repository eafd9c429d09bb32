#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# A SCSI Command whose CDB takes Data-Out but whose W bit is clear must
# not run on a recycled buffer (ietd issue 17, defect 1): a victim on one
# target writes a secret, an attacker on another sends each Data-Out
# command family without W right after (0740-stale-buffer.py). One event
# thread, so the victim's freed buffer is the one the attacker would get.
. "$(dirname "$0")/lib.sh"

victim=$(make_image victim.img 16M)
attacker=$(make_image attacker.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:victim
	Lun 0 Path=$victim,Type=fileio
Target $IQN_BASE:attacker
	Lun 0 Path=$attacker,Type=fileio
CONF
ietd_start -T 1 || {
	not_ok "ietd starts"
	finish
	exit 1
}
python3 "$(dirname "$0")/0740-stale-buffer.py" "$PORT" "$IQN_BASE:victim" \
	"$IQN_BASE:attacker" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "stale-buffer tester"
check "the attacker's image holds no byte of the victim's" \
	bash -c "! grep -q TENANT-A '$attacker'"
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
finish
