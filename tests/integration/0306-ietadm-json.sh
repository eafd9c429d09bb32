#!/bin/bash
# SPDX-License-Identifier: ISC
# ietadm --json follows doc/ietadm-json.md: numbers are JSON numbers
# (by member name), everything else strings (0306-ietadm-json.py, with a
# live session). A few seconds.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
img=$(make_image disk.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:json
	Lun 0 Path=$img
CONF
ietd_start || { not_ok start; finish; exit 1; }
timeout 60 python3 "$(dirname "$0")/0306-ietadm-json.py" "$PORT" \
	"$IQN_BASE:json" "$IETADM" "$T/ctl.sock" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
