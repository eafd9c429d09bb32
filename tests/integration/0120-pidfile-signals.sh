#!/bin/bash
# SPDX-License-Identifier: ISC
# The pid file is locked against a second instance; SIGTERM and SIGINT
# exit 0 and remove it, also after -u dropped root; -u without -g takes
# the user's groups, never root's; without -f ietd goes to the background.
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
# A start that fails after taking its own pid file (here: the port is
# taken) leaves no file behind.
out=$(timeout $((10 * VG_SLOW)) "${IETD_RUN[@]}" "$IETD" "${CTL_OPTS[@]}" -f -c "$T/ietd.conf" -a 127.0.0.1 -p "$PORT" \
	--control="$T/ctl2.sock" --pid-file "$T/other.pid" 2>&1); rc=$?
[ $rc -eq 1 ] && [ ! -e "$T/other.pid" ] && ok "failed start: its pid file removed" ||
	not_ok "failed start: its pid file removed" "rc $rc, $(ls -l "$T/other.pid" 2>&1) $out"

check "serves discovery" iscsi-ls "iscsi://127.0.0.1:$PORT"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit 0" "exit $rc"
[ ! -e "$T/ietd.pid" ] && ok "SIGTERM: pid file removed" || not_ok "SIGTERM: pid file removed"

ietd_start
kill -INT "$IETD_PID"; wait "$IETD_PID"; rc=$?; IETD_PID=
[ $rc -eq 0 ] && ok "SIGINT: exit 0" || not_ok "SIGINT: exit 0" "exit $rc"

# -u without -g: the user's own group and groups, never root's gid 0 or
# root's supplementary groups; with -g only that group. And the pid file,
# in a directory only root may write (as /run is), still goes at SIGTERM.
# proc_ids PID: the Uid, Gid and Groups lines of /proc/PID/status, once
# the privileges are gone (the port is bound before they go).
proc_ids() {
	local i
	for i in $(seq $((50 * VG_SLOW))); do
		[ "$(awk '/^Uid:/ {print $2}' "/proc/$1/status")" != 0 ] && break
		sleep 0.1
	done
	grep -E '^(Uid|Gid|Groups):' "/proc/$1/status"
}
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	nuid=$(id -u nobody)
	ngid=$(id -g nobody)
	ietd_start -u nobody || not_ok "-u nobody: start" "see log"
	ids=$(proc_ids "$IETD_PID")
	if grep -qx "Uid:	$nuid	$nuid	$nuid	$nuid" <<<"$ids" &&
		grep -qx "Gid:	$ngid	$ngid	$ngid	$ngid" <<<"$ids" &&
		! grep -E '^Groups:' <<<"$ids" | grep -qw 0; then
		ok "-u without -g: the user's uid, primary group and groups, no 0"
	else
		not_ok "-u without -g: the user's uid, primary group and groups, no 0" "$ids"
	fi
	check "-u nobody: serves" iscsi-ls "iscsi://127.0.0.1:$PORT"
	keeper=$(cat "/proc/$IETD_PID/task/$IETD_PID/children" 2>/dev/null)
	ietd_stop; rc=$?
	[ $rc -eq 0 ] && ok "-u nobody: SIGTERM exits 0" || not_ok "-u nobody: SIGTERM exits 0" "exit $rc"
	[ ! -e "$T/ietd.pid" ] && ok "-u nobody: SIGTERM removes the pid file in a root-only directory" ||
		not_ok "-u nobody: SIGTERM removes the pid file in a root-only directory" \
			"$(ls -l "$T/ietd.pid") in $(stat -c '%U %a' "$T")"
	left=
	for p in $keeper; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	[ -z "$left" ] && ok "-u nobody: no helper process outlives ietd" ||
		not_ok "-u nobody: no helper process outlives ietd" "still running:$left"

	# With -g: that group alone (here one the user is not in).
	dgid=$(getent group daemon | cut -d: -f3)
	if [ -n "$dgid" ]; then
		ietd_start -u nobody -g daemon || not_ok "-u nobody -g daemon: start" "see log"
		ids=$(proc_ids "$IETD_PID")
		grep -qx "Gid:	$dgid	$dgid	$dgid	$dgid" <<<"$ids" &&
			[ "$(awk '/^Groups:/ {$1=""; print}' <<<"$ids" | tr -d ' ')" = "$dgid" ] &&
			ok "-u with -g: only that group" || not_ok "-u with -g: only that group" "$ids"
		ietd_stop
		[ ! -e "$T/ietd.pid" ] && ok "-u -g: pid file removed" || not_ok "-u -g: pid file removed"
	fi

	# A pid file the keeper did not create (replaced while ietd ran)
	# is not removed.
	ietd_start -u nobody
	proc_ids "$IETD_PID" >/dev/null
	rm -f "$T/ietd.pid"
	echo other >"$T/ietd.pid"
	ietd_stop
	[ "$(cat "$T/ietd.pid" 2>/dev/null)" = other ] &&
		ok "-u: a replaced pid file is left alone" ||
		not_ok "-u: a replaced pid file is left alone" "$(ls -l "$T/ietd.pid" 2>&1)"
	rm -f "$T/ietd.pid"
else
	echo "# not root or no user nobody: -u cases not run"
fi

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
