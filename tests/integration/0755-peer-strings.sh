#!/bin/bash
# SPDX-License-Identifier: ISC
# Peer strings (0755-peer-strings.py): InitiatorName and TargetName must
# be iSCSI names, refused with 0x0207 otherwise; nothing an initiator
# sends can forge a line of the session status file, of ietadm's output
# or of the log. A few seconds.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
img=$(make_image disk.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:strings
	Lun 0 Path=$img
CONF
ietd_start || { not_ok start; finish; exit 1; }
timeout 120 python3 "$(dirname "$0")/0755-peer-strings.py" "$PORT" \
	"$IQN_BASE:strings" "$T/status" "$IETADM" "$T/ctl.sock" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"

check "no forged line in the session file" bash -c \
	"! grep -q 'forged' '$T/status/session'"
# With -f every log line starts with its ISO 8601 time; a raw newline
# from a peer would start a line of its own.
check "every log line is a whole line" bash -c \
	"! grep -Ev '^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}: ' '$IETD_LOG'"
check "the refusal is logged with the name escaped" grep -q \
	'login by 127\.0\.0\.1:[0-9]* failed: InitiatorName "iqn\.2026-11\.org\.example:peer-strings\\x0asid:1 initiator:forged\\x0atid:9 .* is not a valid iSCSI name: only letters, digits' \
	"$IETD_LOG"
check "libiscsi's own initiator name still logs in" iscsi-inq "$(url strings 0)"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
