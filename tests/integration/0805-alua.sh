#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# ALUA and multipath (ietd issue 19 part 4): two portal groups on two
# loopback ports, REPORT and SET TARGET PORT GROUPS, the unit attention and
# sense of a state change made by ietadm, SET TARGET PORT GROUPS and a
# reload, one reservation set for two I_T nexuses of one initiator
# (0805-alua.py); then a plain IET file that must answer as before.
# A few seconds.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
img=$(make_image alua.img 16M)
img1=$(make_image only1.img 8M)
PORT=$(free_port)
PORT2=$(free_port)
while [ "$PORT2" = "$PORT" ]; do PORT2=$(free_port); done
cat >"$T/ietd.conf" <<CONF
PortalGroup 2 127.0.0.1:$PORT2
Target $IQN_BASE:alua
	Lun 0 Path=$img,Type=fileio
	PortalGroup 1 optimized
	PortalGroup 2 nonoptimized
Target $IQN_BASE:only1
	Lun 0 Path=$img1,Type=fileio
	PortalGroup 1
CONF
ietd_start || {
	not_ok "ietd starts with two portal groups"
	finish
	exit 1
}
check "portal group 2 listens on its own port" wait_port 127.0.0.1 "$PORT2"
timeout 120 python3 "$(dirname "$0")/0805-alua.py" alua "$PORT" "$PORT2" \
	"$IQN_BASE" "$IETADM" "$T/ctl.sock" "$T/ietd.conf" "$IETD_PID" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "ALUA tester"
check "ietd logs the ietadm change" \
	grep -q "target 1: portal group 2 set standby by ietadm" "$IETD_LOG"

# A reload that moves a portal group's address is refused as a whole.
sed -i "s/^PortalGroup 2 127.0.0.1:$PORT2/PortalGroup 2 127.0.0.1:$PORT/" "$T/ietd.conf"
sed -i "s/^PortalGroup 2 127.0.0.1:$PORT\$/PortalGroup 2 127.0.0.2:$PORT2/" "$T/ietd.conf"
kill -HUP "$IETD_PID"
for _ in $(seq 50); do
	grep -q "PortalGroup addresses changed" "$IETD_LOG" && break
	sleep 0.1
done
check "a reload that changes a portal group's addresses is refused" \
	grep -q "reload: the PortalGroup addresses changed" "$IETD_LOG"
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report (two portal groups)" "see above"

# ALUA only through a target's line, then reloaded away: a plain IET
# file, answered exactly as before ALUA existed.
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:plain
	Lun 0 Path=$img,Type=fileio
	PortalGroup 1 standby
CONF
ietd_start || {
	not_ok "ietd starts with a plain file"
	finish
	exit 1
}
timeout 60 python3 "$(dirname "$0")/0805-alua.py" plain "$PORT" \
	"$IQN_BASE" "$T/ietd.conf" "$IETD_PID" >"$T/py2.out" 2>&1
tap_import "$T/py2.out" $? "plain tester"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd (plain) exits 0" || not_ok "ietd (plain) exits 0" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
finish
