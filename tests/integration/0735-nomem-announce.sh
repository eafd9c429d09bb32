#!/bin/bash
# SPDX-License-Identifier: ISC
# A WRITE waiting for its Data-Out with each allocation of ietd failed in
# turn (0735-nomem-announce.py): it is answered or its connection closes
# at once, never left without a response; ietd serves on. A few seconds.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 16M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:nomem
	Lun 0 Path=$img,Type=fileio
CONF
ietd_start || { not_ok start; finish; exit 1; }
timeout 300 python3 "$(dirname "$0")/0735-nomem-announce.py" \
	"$PORT" "$IQN_BASE:nomem" "$T/ctl.sock" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0 (no leak under SAN=1)" || not_ok "exit 0" "$rc"
finish
