#!/bin/bash
# SPDX-License-Identifier: ISC
# Listening: -a with an IPv4 or IPv6 address, and every address of both
# families by default; -u/-g drop privileges after binding.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 64M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:disk
	Lun 0 Path=$img
CONF
common=("${CTL_OPTS[@]}" -f -c "$T/ietd.conf" --initiators-allow "$T/none"
	--initiators-deny "$T/none" --targets-allow "$T/none")

ietd_start
check "-a 127.0.0.1: discovery over IPv4" iscsi-ls "iscsi://127.0.0.1:$PORT"
check "-a 127.0.0.1: not on ::1" bash -c "! iscsi-ls 'iscsi://[::1]:$PORT'"
ietd_stop

if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	PORT=$(free_port)
	"${IETD_RUN[@]}" "$IETD" "${common[@]}" -a ::1 -p "$PORT" --pid-file "$T/6.pid" >"$IETD_LOG" 2>&1 &
	IETD_PID=$!
	wait_port ::1 "$PORT"
	check "-a ::1: discovery over IPv6" iscsi-ls "iscsi://[::1]:$PORT"
	check "-a ::1: inquiry over IPv6" iscsi-inq "iscsi://[::1]:$PORT/$IQN_BASE:disk/0"
	ietd_stop

	PORT=$(free_port)
	"${IETD_RUN[@]}" "$IETD" "${common[@]}" -p "$PORT" --pid-file "$T/any.pid" >"$IETD_LOG" 2>&1 &
	IETD_PID=$!
	wait_port 127.0.0.1 "$PORT"
	check "default: listens on IPv4" iscsi-ls "iscsi://127.0.0.1:$PORT"
	check "default: listens on IPv6" iscsi-ls "iscsi://[::1]:$PORT"
	ietd_stop
else
	echo "# no IPv6 loopback here: IPv6 cases not run"
fi

# Privileges: bind as root, then run as nobody:nogroup. The allow files
# are read at every login, so they must be readable by that user: here
# they are absent from a folder nobody can search (a path in $T, mode
# 0700, would refuse every login: ietd fails closed on unreadable files).
if [ "$(id -u)" -eq 0 ]; then
	PORT=$(free_port)
	"${IETD_RUN[@]}" "$IETD" "${CTL_OPTS[@]}" -f -c "$T/ietd.conf" --initiators-allow /nonexistent/ietd/ia \
		--initiators-deny /nonexistent/ietd/id --targets-allow /nonexistent/ietd/ta \
		-a 127.0.0.1 -p "$PORT" -u nobody -g nogroup \
		--pid-file "$T/priv.pid" >"$IETD_LOG" 2>&1 &
	IETD_PID=$!
	wait_port 127.0.0.1 "$PORT"
	# The listener is up before the privileges go: give it a moment.
	for i in $(seq $((20 * VG_SLOW))); do
		uid=$(awk '/^Uid:/ {print $2}' /proc/$IETD_PID/status)
		[ "$uid" = "$(id -u nobody)" ] && break
		sleep 0.1
	done
	uid=$(awk '/^Uid:/ {print $2}' /proc/$IETD_PID/status)
	gid=$(awk '/^Gid:/ {print $2}' /proc/$IETD_PID/status)
	[ "$uid" = "$(id -u nobody)" ] && [ "$gid" = "$(getent group nogroup | cut -d: -f3)" ] &&
		ok "-u/-g: runs as nobody:nogroup" || not_ok "-u/-g" "uid $uid gid $gid"
	check "-u/-g: still serves the LUN opened as root" \
		iscsi-readcapacity16 "iscsi://127.0.0.1:$PORT/$IQN_BASE:disk/0"
	ietd_stop
fi
finish
