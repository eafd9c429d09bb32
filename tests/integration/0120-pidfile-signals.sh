#!/bin/bash
# SPDX-License-Identifier: ISC
# The pid file is locked against a second instance; SIGTERM and SIGINT
# exit 0 and remove it; without -f ietd goes to the background.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 64M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:disk
	Lun 0 Path=$img
CONF
ietd_start || { not_ok "start" "see log"; finish; exit 1; }
ok "ietd starts in the foreground"
[ "$(cat "$T/ietd.pid")" = "$IETD_PID" ] && ok "pid file holds the pid" ||
	not_ok "pid file holds the pid" "$(cat "$T/ietd.pid")"

out=$(timeout $((10 * VG_SLOW)) "${IETD_RUN[@]}" "$IETD" "${CTL_OPTS[@]}" -f -c "$T/ietd.conf" -a 127.0.0.1 -p "$(free_port)" \
	--pid-file "$T/ietd.pid" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "unable to lock pid file" <<<"$out" &&
	ok "second instance refused: unable to lock pid file" ||
	not_ok "second instance refused" "$rc $out"
kill -0 "$IETD_PID" && ok "first instance still runs" || not_ok "first instance still runs"

check "serves discovery" iscsi-ls "iscsi://127.0.0.1:$PORT"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit 0" "exit $rc"
[ ! -e "$T/ietd.pid" ] && ok "SIGTERM: pid file removed" || not_ok "SIGTERM: pid file removed"

ietd_start
kill -INT "$IETD_PID"; wait "$IETD_PID"; rc=$?; IETD_PID=
[ $rc -eq 0 ] && ok "SIGINT: exit 0" || not_ok "SIGINT: exit 0" "exit $rc"

# Without -f: the command returns once the daemon serves.
PORT=$(free_port)
"${IETD_RUN[@]}" "$IETD" "${CTL_OPTS[@]}" -c "$T/ietd.conf" -a 127.0.0.1 -p "$PORT" --pid-file "$T/d.pid" \
	--initiators-allow "$T/none" --initiators-deny "$T/none" \
	--targets-allow "$T/none" >"$T/d.out" 2>&1; rc=$?
dpid=$(cat "$T/d.pid" 2>/dev/null)
[ -n "$dpid" ] && track_pid "$dpid"
[ $rc -eq 0 ] && [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null &&
	ok "daemonizes: parent exits 0, daemon runs" ||
	not_ok "daemonizes" "rc $rc pid '$dpid' $(cat "$T/d.out")"
check "daemon serves discovery" iscsi-ls "iscsi://127.0.0.1:$PORT"
if [ -n "$dpid" ]; then
	[ "$(ps -o sid= -p "$dpid" | tr -d ' ')" = "$dpid" ] &&
		ok "daemon leads its own session" || not_ok "daemon leads its own session"
	kill -TERM "$dpid"
	for i in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$dpid" 2>/dev/null && [ ! -e "$T/d.pid" ] &&
		ok "daemon stops on SIGTERM and removes its pid file" ||
		not_ok "daemon stops on SIGTERM"
fi
finish
