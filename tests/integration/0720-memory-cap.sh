#!/bin/bash
# SPDX-License-Identifier: ISC
# The in-flight data cap and the per-session share (0720-memory-cap.py):
# TASK SET FULL, BUSY and "out of resources" at the cap, and service
# coming back by itself once data drains.
. "$(dirname "$0")/lib.sh"

cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:cap
	Lun 0 Sectors=131072,Type=nullio
Target $IQN_BASE:share
	QueuedCommands 4
	Lun 0 Sectors=131072,Type=nullio
CONF
ietd_start --max-data-memory=24M || { not_ok start; finish; exit 1; }
timeout 60 python3 "$(dirname "$0")/0720-memory-cap.py" "$PORT" "$IQN_BASE" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "the cap is logged" grep -q "in-flight data at its cap of 24 MiB" "$IETD_LOG"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
