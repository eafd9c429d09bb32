# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two ietd gateways exporting one RBD image (the 087x tests): source
# after lib.sh and ceph.sh, once ceph_start and ceph_image lu0 succeeded.
#
#   gw_setup [CONF]  write both configurations (CONF: the Ceph conf file
#                    the LU names, default $CEPH_CONF); sets PORT (A,
#                    portal group 1), PORT_B (B, portal group 2), TGT, OID
#                    (the shared state's RADOS object)
#   gw_start         start A (lib.sh's ietd) and B; exit on failure
#   gw_kill          SIGKILL both
#   gw_phase NAME    run 0870-pr-gateways.py's phase NAME
#   gw_stop          SIGTERM both, check exit 0 and no sanitizer report
TGT=$IQN_BASE:shared
B_PID=
B_LOG=$T/b/ietd.log
_gw_py=$(dirname "${BASH_SOURCE[0]}")/0870-pr-gateways.py

gw_setup() {
	local conf=${1:-$CEPH_CONF} lun
	OID=ietd.state.$(timeout 30 rbd info rbd/lu0 --format json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	lun="Lun 0 Type=rbd,Path=rbd/lu0,CephConf=$conf,CephKeyring=$CEPH_KEYRING"
	PORT=$(free_port)
	PORT_B=$(free_port)
	PORT_B0=$(free_port)
	while [ "$PORT_B" = "$PORT" ] || [ "$PORT_B0" = "$PORT" ] ||
		[ "$PORT_B0" = "$PORT_B" ]; do
		PORT_B=$(free_port)
		PORT_B0=$(free_port)
	done
	printf 'Target %s\n\t%s\n' "$TGT" "$lun" >"$T/ietd.conf"
	mkdir -p "$T/b"
	printf 'PortalGroup 2 127.0.0.1:%s\nTarget %s\n\t%s\n\tPortalGroup 2\n' \
		"$PORT_B" "$TGT" "$lun" >"$T/b/ietd.conf"
}

# Gateway A is lib.sh's ietd; B a second one with its own sockets.
gw_start() {
	ietd_start || {
		not_ok "gateway A starts" "$(tail -n 5 "$IETD_LOG")"
		finish
		exit 1
	}
	"$IETD" -f -c "$T/b/ietd.conf" -a 127.0.0.1 -p "$PORT_B0" \
		--pid-file "$T/b/ietd.pid" --control="$T/b/ctl.sock" \
		--status-dir="$T/b/status" --state-dir="$T/b/state" \
		>>"$B_LOG" 2>&1 &
	B_PID=$!
	track_pid "$B_PID"
	wait_port 127.0.0.1 "$PORT_B" || {
		not_ok "gateway B starts" "$(tail -n 5 "$B_LOG")"
		finish
		exit 1
	}
}

gw_kill() {
	kill -9 "$IETD_PID" "$B_PID"
	wait "$IETD_PID" "$B_PID" 2>/dev/null
	IETD_PID=
	B_PID=
}

gw_phase() {
	timeout 120 python3 "$_gw_py" "$1" "$PORT" "$PORT_B" "$TGT" \
		"$T/saved.json" >"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "$1 phase"
}

gw_stop() {
	local rc
	check "gateway A still running" kill -0 "$IETD_PID"
	check "gateway B still running" kill -0 "$B_PID"
	kill -TERM "$B_PID"
	wait "$B_PID"
	rc=$?
	B_PID=
	[ $rc -eq 0 ] && ok "gateway B exits 0 on SIGTERM" ||
		not_ok "gateway B exits 0 on SIGTERM" "exit $rc"
	ietd_stop
	rc=$?
	[ $rc -eq 0 ] && ok "gateway A exits 0 on SIGTERM" ||
		not_ok "gateway A exits 0 on SIGTERM" "exit $rc"
	grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" \
		"$B_LOG" && not_ok "no sanitizer report" "see above"
}
