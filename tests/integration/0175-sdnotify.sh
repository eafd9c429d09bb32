#!/bin/bash
# SPDX-License-Identifier: ISC
# systemd integration: the notify protocol against a fake manager
# (0175-sdnotify.py: READY after the port accepts, WATCHDOG pings at half
# of WATCHDOG_USEC, RELOADING/READY around SIGHUP, STOPPING at SIGTERM),
# and the shipped unit passes systemd-analyze verify. About 10 s.
. "$(dirname "$0")/lib.sh"

img=$(make_image d.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:notify
	Lun 0 Path=$img
CONF
echo "$IQN_BASE:notify" >"$T/target"
PORT=$(free_port)
IETD_LOG=$T/ietd.log
timeout 120 python3 "$(dirname "$0")/0175-sdnotify.py" "$T" "$PORT" \
	"$T/ietd.conf" -- "${IETD_RUN[@]}" "$IETD" -f -c "$T/ietd.conf" \
	-a 127.0.0.1 -p "$PORT" --pid-file "$T/ietd.pid" "${CTL_OPTS[@]}" \
	"${VG_OPTS[@]}" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "notify tester finished"
check "the watchdog period is logged" grep -q \
	"systemd watchdog: a ping every 200 ms" "$IETD_LOG"

# The unit as make install writes it, with this build's ietd.
unit=$(dirname "$0")/../../etc/ietd.service
check "unit: Type=notify, ExecReload sends SIGHUP, a watchdog" bash -c \
	"grep -qx 'Type=notify' '$unit' && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' '$unit' && grep -q '^WatchdogSec=' '$unit'"
if command -v systemd-analyze >/dev/null; then
	sed "s|@SBINDIR@|$(dirname "$IETD")|g" "$unit" >"$T/ietd.service"
	check "systemd-analyze verify: no complaint" bash -c \
		"systemd-analyze verify --man=no '$T/ietd.service' >'$T/verify' 2>&1; rc=\$?; cat '$T/verify'; [ \$rc -eq 0 ] && [ ! -s '$T/verify' ]"
elif [ "${CI:-}" = true ]; then
	not_ok "systemd-analyze" "not installed (package systemd)"
else
	echo "# SKIP systemd-analyze verify: systemd-analyze not installed"
fi
finish
