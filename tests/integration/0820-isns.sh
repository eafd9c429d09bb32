#!/bin/bash
# SPDX-License-Identifier: ISC
# iSNS (RFC 4171) against the real open-isns server (Debian's
# open-isns-server and open-isns-utils): isnsd runs on 127.0.0.1 on a free
# port with its database in $T; isnsadm, as an observer node sharing a
# discovery domain with the targets, sees what ietd registered. Checked:
# both targets and the portal registered; ESIs answered (the server
# drops an entity that does not answer); a target added and deleted
# through ietadm appears and goes; with iSNSAccessControl the discovery
# domains decide what initiator A and B see and may log in to, a DD
# change reaches ietd through an SCN; a dead server blocks no login,
# changes no verdict and is logged once; a restarted server that lost its database gets
# everything registered again; ietd's exit deregisters the entity.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
adm() { "$IETADM" --control="$T/ctl.sock" "$@"; }

for tool in isnsd isnsadm iscsi-ls iscsi-inq; do
	if ! command -v "$tool" >/dev/null; then
		[ "${CI:-}" = true ] && { echo "$tool missing in CI" >&2; exit 1; }
		echo "SKIP: $tool not installed (tools/ensure-deps.sh)"
		exit 0
	fi
done

ISNS_DIR=$T/isns
mkdir -p "$ISNS_DIR/db"
IPORT=$(free_port)
PORT=$(free_port)
T1=$IQN_BASE:isns1
T2=$IQN_BASE:isns2
T3=$IQN_BASE:isns3
INI_A=$IQN_BASE:ini-a
INI_B=$IQN_BASE:ini-b
OBS=$IQN_BASE:observer
ISNSD_PID=

# Short ESI intervals: a client that does not answer is dropped within
# seconds (ESIMaxInterval 2, 2 retries).
cat >"$ISNS_DIR/isnsd.conf" <<EOF
BindAddress = 127.0.0.1:$IPORT
Database = $ISNS_DIR/db
ControlSocket = $ISNS_DIR/isnsctl
PIDFile = $ISNS_DIR/isnsd.pid
Security = 0
SourceName = $IQN_BASE:isnsd
ESIMinInterval = 1
ESIMaxInterval = 2
ESIRetries = 2
SCNTimeout = 2
SCNRetries = 2
EOF
# A client configuration per node name isnsadm speaks for.
client_conf() {
	cat >"$ISNS_DIR/$1.conf" <<EOF
ServerAddress = 127.0.0.1:$IPORT
Security = 0
SourceName = $2
EOF
}
client_conf obs "$OBS"
client_conf a "$INI_A"
client_conf b "$INI_B"
client_conf admin "$IQN_BASE:isnsd"
isa() { isnsadm -c "$ISNS_DIR/$1.conf" "${@:2}"; }

isnsd_start() {
	isnsd -f -c "$ISNS_DIR/isnsd.conf" >>"$T/isnsd.log" 2>&1 &
	ISNSD_PID=$!
	track_pid "$ISNSD_PID"
	wait_port 127.0.0.1 "$IPORT"
}
isnsd_kill() {
	kill -TERM "$ISNSD_PID"
	wait "$ISNSD_PID" 2>/dev/null
	ISNSD_PID=
}
# The initiators and the observer register as nodes of their own (as an
# initiator's iscsid would); the observer shares a DD with every target.
isns_populate() {
	isa obs --register entity=ent-obs "initiator,iscsi-name=$OBS" &&
		isa a --register entity=ent-a "initiator,iscsi-name=$INI_A" &&
		isa b --register entity=ent-b "initiator,iscsi-name=$INI_B" &&
		isa admin --dd-register dd-name=watch "dd-member-name=$OBS" \
			"dd-member-name=$T1" "dd-member-name=$T2" \
			"dd-member-name=$T3"
}
# What the observer sees of the targets (names, portals, ESI ports).
seen() { isa obs --query iscsi-node-type=Target 2>&1; }
# wait_until SECONDS COMMAND...: poll until the command succeeds.
wait_until() {
	local n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}
has() { seen | grep -q "$1"; }
hasnt() { ! seen | grep -q "$1"; }
both_registered() { has "\"$T1\"" && has "\"$T2\""; }
lists() { # lists INITIATOR: the target names SendTargets gives it
	iscsi-ls -i "$1" "iscsi://127.0.0.1:$PORT" 2>/dev/null |
		sed -n 's/^Target:\([^ ]*\) .*/\1/p' | sort | tr '\n' ' '
}
login() { # login INITIATOR TARGET: an INQUIRY through a full login
	iscsi-inq -i "$1" "iscsi://127.0.0.1:$PORT/$2/0" >/dev/null 2>&1
}
refused() { ! login "$@"; }

isnsd_start || { not_ok "isnsd starts" "$(cat "$T/isnsd.log")"; finish; exit 1; }
check "observer, initiators and DD registered with isnsadm" isns_populate

cat >"$T/ietd.conf" <<EOF
iSNSServer 127.0.0.1:$IPORT
Target $T1
	Alias first
	Lun 0 Type=nullio,Sectors=2048
Target $T2
	Lun 0 Type=nullio,Sectors=2048
EOF
ietd_start -d 1 || { not_ok "ietd starts" "$(cat "$IETD_LOG")"; finish; exit 1; }

# ---- registration ---------------------------------------------------------
if wait_until 10 both_registered; then
	ok "both targets registered"
else
	not_ok "both targets registered" "$(seen | head -n 20)"
fi
check "alias registered" has 'iSCSI alias = "first"'
check "portal 127.0.0.1:$PORT registered" \
	bash -c "isnsadm -c '$ISNS_DIR/obs.conf' --query iscsi-node-type=Target |
		grep -A1 'Portal IP address = 127.0.0.1' | grep -q 'port = $PORT/tcp'"
check "ESI port registered" has "ESI port = "
check "SCN port registered" has "SCN port = "
check "portal group tag 1 for each target" \
	bash -c "[ \$(isnsadm -c '$ISNS_DIR/obs.conf' --query iscsi-node-type=Target |
		grep -c 'Portal group tag = 1') -ge 2 ]"
# isnsd sends an ESI every 1-2 s and drops an entity after two missed
# ones: still there after 8 s means ietd answered every one.
sleep 8
check "ESIs answered: still registered after 8 s" both_registered
check "ESIs answered (ietd's log)" grep -q "iSNS: ESI answered" "$IETD_LOG"

# ---- ietadm changes -------------------------------------------------------
check "ietadm adds a target" adm --op new --tid=3 --params "Name=$T3"
if wait_until 10 has "\"$T3\""; then
	ok "added target registered"
else
	not_ok "added target registered" "$(seen | grep 'iSCSI name')"
fi
check "ietadm deletes it" adm --op delete --tid=3
if wait_until 10 hasnt "\"$T3\""; then
	ok "deleted target deregistered"
else
	not_ok "deleted target deregistered" "$(seen | grep 'iSCSI name')"
fi
check "the others stay" both_registered

# 60 targets with long names: far more than the 8 KiB isnsd reads in one
# message, so the registration goes in several, one at a time.
LONG=$(printf 'x%.0s' $(seq 180))
many() { isnsd -c "$ISNS_DIR/isnsd.conf" --dump-db 2>/dev/null | grep -c "iSCSI name = \"$IQN_BASE:many"; }
many_is() { [ "$(many)" -eq "$1" ]; }
for i in $(seq 10 69); do
	adm --op new --tid=$i --params "Name=$IQN_BASE:many$LONG$i" || break
done
if wait_until 15 many_is 60; then
	ok "60 long-named targets registered (several messages)"
else
	not_ok "60 long-named targets registered" "$(many) seen; $(grep 'iSNS' "$IETD_LOG" | tail -n 3)"
fi
for i in $(seq 10 69); do adm --op delete --tid=$i || break; done
if wait_until 15 many_is 0; then
	ok "and deregistered"
else
	not_ok "and deregistered" "$(many) left"
fi
check "the first two stay" both_registered

# ---- access control by discovery domains ---------------------------------
# (isnsd 0.101 drops a member named in a new DD's registration when it
# is in another DD already: T1 is in "watch", so it joins by DD ID.)
DD1=$(isa admin --dd-register dd-name=dd1 "dd-member-name=$INI_A" |
	sed -n 's/.*DD ID = \([0-9]*\).*/\1/p')
check "DD dd1 = {initiator A, target 1}" \
	isa admin --dd-register "dd-id=$DD1" "dd-member-name=$T1"
sed -i "1a iSNSAccessControl Yes" "$T/ietd.conf"
kill -HUP "$IETD_PID"
if wait_until 10 grep -q "isns1: 2 initiator" "$IETD_LOG"; then
	ok "reload: access control on, DD membership asked"
else
	not_ok "reload: access control on, DD membership asked" \
		"$(grep iSNS "$IETD_LOG" | tail -n 5)"
fi
r=$(lists "$INI_A")
[ "$r" = "$T1 " ] && ok "initiator A discovers target 1 only" ||
	not_ok "initiator A discovers target 1 only" "got: $r"
check "initiator A logs in to target 1" login "$INI_A" "$T1"
check "initiator A cannot log in to target 2" refused "$INI_A" "$T2"
r=$(lists "$INI_B")
[ -z "$r" ] && ok "initiator B discovers nothing" ||
	not_ok "initiator B discovers nothing" "got: $r"
check "initiator B cannot log in to target 1" refused "$INI_B" "$T1"
check "the refusal is logged with its reason" \
	grep -q "discovery domain with the target (iSNS)" "$IETD_LOG"

# A DD change reaches ietd through an SCN (the periodic query is 30 s
# away): B joins dd1 and can log in within seconds. (Only one SCN per
# target here: isnsd 0.101 reuses the socket of a finished SCN after
# freeing it and may crash on the next one to the same node.)
check "B added to dd1" isa admin --dd-register "dd-id=$DD1" "dd-member-name=$INI_B"
if wait_until 8 login "$INI_B" "$T1"; then
	ok "SCN: B may log in to target 1 once in its DD"
else
	not_ok "SCN: B may log in to target 1 once in its DD" \
		"$(grep -c 'state change' "$IETD_LOG") SCNs seen"
fi
check "SCN: B still not on target 2" refused "$INI_B" "$T2"

# ---- the server goes away -------------------------------------------------
isnsd_kill
sleep 5
check "server down: A still logs in to target 1" login "$INI_A" "$T1"
r=$(lists "$INI_A")
[ "$r" = "$T1 " ] && ok "server down: A still discovers target 1 only" ||
	not_ok "server down: A still discovers target 1 only" "got: $r"
check "server down: A still refused on target 2 (last answer stands)" \
	refused "$INI_A" "$T2"
n=$(grep -c "iSNS server 127.0.0.1:$IPORT: .*retrying" "$IETD_LOG")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] && ok "server down: logged once, not per retry ($n)" ||
	not_ok "server down: logged once, not per retry" "$n lines: $(grep 'iSNS server' "$IETD_LOG")"

# ---- it comes back with an empty database --------------------------------
regs=$(grep -c "iSNS: registered entity" "$IETD_LOG")
rm -rf "$ISNS_DIR/db"
mkdir -p "$ISNS_DIR/db"
isnsd_start || not_ok "isnsd restarts" "$(tail -n 5 "$T/isnsd.log")"
check "observer and DD registered again" isns_populate
if wait_until 40 both_registered; then
	ok "server restarted empty: ietd registered again"
else
	not_ok "server restarted empty: ietd registered again" \
		"$(grep iSNS "$IETD_LOG" | tail -n 5)"
fi
check "a new 'registered' line" \
	test "$(grep -c "iSNS: registered entity" "$IETD_LOG")" -gt "$regs"

# ---- exit deregisters -----------------------------------------------------
check "ietd exits cleanly" ietd_stop
check "exit: deregistered (log)" grep -q "iSNS: deregistered entity" "$IETD_LOG"
check "exit: no target left at the server" hasnt "$T1"
check "no sanitizer report" bash -c "! grep -qE 'ERROR: |runtime error' '$IETD_LOG'"
finish
