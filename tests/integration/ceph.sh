# SPDX-License-Identifier: ISC
# A throwaway Ceph cluster for the tests of Type=rbd: one monitor and one
# OSD on memstore (in memory), no manager, on 127.0.0.1 only, with cephx.
# Source it after lib.sh; then:
#
#   ceph_start      start the cluster under $T/ceph, make pool "rbd";
#                   sets CEPH_CONF (exported: the ceph and rbd commands
#                   and librados read it) and CEPH_KEYRING (client.admin)
#   ceph_up         ceph_start as a test's first check: "ok", or
#                   "not ok" and the test ends there
#   ceph_stop       kill both daemons (by pid) and wait for them
#   ceph_image NAME SIZE   create rbd/NAME of SIZE (rbd's units: 64M, 1G)
#
# Ready in about 8 seconds: the ceph command is Python and each of the
# five mon commands costs most of one. Daemons are tracked with
# track_pid, so lib.sh's EXIT trap ends them on any way out.
#
# Timeouts are small on purpose: a test of a dead or hung gateway waits
# for the OSD to expire its watch (osd_client_watch_timeout) before the
# other gateway may break the lock, and the client side gives up on an
# OSD or monitor that does not answer after rados_osd_op_timeout.

CEPH_DIR=
CEPH_MON_PID=
CEPH_OSD_PID=

# _ceph_cmd ARGS...: the ceph CLI, bounded in time.
_ceph_cmd() {
	timeout 30 ceph --connect-timeout 15 "$@"
}

ceph_start() {
	local d=$T/ceph port fsid i t
	for t in ceph-mon ceph-osd ceph monmaptool ceph-authtool rbd; do
		if ! command -v "$t" >/dev/null; then
			echo "ceph_start: $t is missing (tools/ensure-deps.sh installs ceph-mon ceph-osd ceph-common)" >&2
			return 1
		fi
	done
	mkdir -p "$d/mon" "$d/osd" "$d/run"
	port=$(free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$d/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $d/keyring
run dir = $d/run
admin socket = $d/run/\$name.\$pid.asok
log file = $d/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
auth allow insecure global id reclaim = false
osd objectstore = memstore
memstore device bytes = 2147483648
osd data = $d/osd
mon data = $d/mon
osd max object name len = 256
osd max object namespace len = 64
# A watch of a client that stopped answering expires after 5 s (Ceph's
# default is 30): the failover tests wait for it. Tests where several
# clients write one image without failing any of them over set
# CEPH_WATCH_TIMEOUT=30: librbd breaks (and blocklists) the exclusive
# lock of a holder whose watch expired, which a loaded machine (the
# sanitizer build) can make happen to a live one within 5 s.
osd client watch timeout = ${CEPH_WATCH_TIMEOUT:-5}
rados osd op timeout = 10
rados mon op timeout = 10
client mount timeout = 10
EOF
	ceph-authtool --create-keyring "$d/keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null || return 1
	ceph-authtool "$d/keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' \
		--cap mgr 'allow *' >/dev/null || return 1
	monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" \
		"$d/monmap" >/dev/null || return 1
	ceph-mon -c "$d/ceph.conf" --id a --mkfs --monmap "$d/monmap" \
		--keyring "$d/keyring" >"$d/mkfs-mon.out" 2>&1 || {
		cat "$d/mkfs-mon.out" >&2
		return 1
	}
	ceph-mon -c "$d/ceph.conf" --id a -f >"$d/mon.out" 2>&1 &
	CEPH_MON_PID=$!
	track_pid "$CEPH_MON_PID"
	CEPH_DIR=$d
	export CEPH_CONF=$d/ceph.conf
	CEPH_KEYRING=$d/keyring
	_ceph_cmd osd create >/dev/null || {
		echo "ceph_start: the monitor did not answer (see $d/mon.a.log)" >&2
		return 1
	}
	_ceph_cmd auth get-or-create osd.0 osd 'allow *' \
		mon 'allow profile osd' -o "$d/osd/keyring" || return 1
	ceph-osd -c "$d/ceph.conf" -i 0 --mkfs --keyring "$d/osd/keyring" \
		--osd-uuid "$(cat /proc/sys/kernel/random/uuid)" \
		>"$d/mkfs-osd.out" 2>&1 || {
		cat "$d/mkfs-osd.out" >&2
		return 1
	}
	_ceph_cmd osd crush add osd.0 1 root=default >/dev/null 2>&1 ||
		return 1
	ceph-osd -c "$d/ceph.conf" -i 0 --keyring "$d/osd/keyring" -f \
		>"$d/osd.out" 2>&1 &
	CEPH_OSD_PID=$!
	track_pid "$CEPH_OSD_PID"
	_ceph_cmd osd pool create rbd 8 >/dev/null 2>&1 || return 1
	timeout 30 rbd pool init rbd || return 1
	# The pool is usable once the OSD is up and its PGs active.
	for i in $(seq 1 100); do
		if timeout 10 rbd ls rbd >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	echo "ceph_start: pool rbd not usable (see $d/osd.0.log)" >&2
	return 1
}

ceph_up() {
	if ! ceph_start; then
		not_ok "the Ceph cluster starts"
		finish
		exit 1
	fi
	ok "the Ceph cluster starts"
}

ceph_image() {
	timeout 30 rbd create --size "$2" "rbd/$1"
}

ceph_stop() {
	# memstore keeps nothing worth a clean shutdown, and an OSD whose
	# monitor is gone takes long to stop on SIGTERM.
	local p
	for p in $CEPH_OSD_PID $CEPH_MON_PID; do
		kill -9 "$p" 2>/dev/null
	done
	for p in $CEPH_OSD_PID $CEPH_MON_PID; do
		wait "$p" 2>/dev/null
	done
	CEPH_OSD_PID=
	CEPH_MON_PID=
}
