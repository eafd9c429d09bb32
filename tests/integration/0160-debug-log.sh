#!/bin/bash
# SPDX-License-Identifier: ISC
# Debug levels: IET's level-0 events always logged; level-1 traces and
# level-2 PDU dumps only with -d; initiator-supplied text escaped.
. "$(dirname "$0")/lib.sh"

img=$(make_image d.img 16M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:d
	Lun 0 Path=$img
CONF
traces="session_create: 0x|Login request \(operational negotiation\)|exp_cmd_sn: |close conn "

ietd_start
iscsi-inq "$(url d 0)" >/dev/null
ietd_stop
check "level 0: connection request logged without -d" grep -q "connection request from 127.0.0.1" "$IETD_LOG"
check "level 0: login logged without -d" grep -q "succesfull login by iqn" "$IETD_LOG"
check "no traces without -d" bash -c "! grep -Eq '$traces|BHS: ' '$IETD_LOG'"

ietd_start -d 1
iscsi-inq "$(url d 0)" >/dev/null
ietd_stop
for m in "session_create: 0x" "Login request (operational negotiation)" "exp_cmd_sn: " "close conn "; do
	check "-d 1: '$m'" grep -qF "$m" "$IETD_LOG"
done
check "-d 1: no PDU dumps" bash -c "! grep -q 'BHS: ' '$IETD_LOG'"

ietd_start -d 2
iscsi-inq "$(url d 0)" >/dev/null
ietd_stop
check "-d 2: BHS dumps" grep -q "BHS: (" "$IETD_LOG"
check "-d 2: hex lines" grep -Eq '^[0-9T:.+-]+: ([0-9a-f]{2} ){16}' "$IETD_LOG"

# IET took any level: above 2 traces as 2; 0 adds nothing (no level-0
# traces exist: the level-0 events are logged without -d).
ietd_start -d 9
iscsi-inq "$(url d 0)" >/dev/null
ietd_stop
check "-d 9: as -d 2, BHS dumps" grep -q "BHS: (" "$IETD_LOG"
ietd_start -d 0
iscsi-inq "$(url d 0)" >/dev/null
ietd_stop
check "-d 0: no traces" bash -c "! grep -Eq '$traces|BHS: ' '$IETD_LOG'"

# A hostile initiator name with control characters is escaped.
ietd_start
iscsi-inq -i "$(printf 'iqn.2026-11.x:a\033[31mred')" "$(url d 0)" >/dev/null 2>&1
ietd_stop
check "escape characters from the peer are escaped" bash -c "! grep -q \$'\\033' '$IETD_LOG' && grep -q 'x1b' '$IETD_LOG'"
finish
