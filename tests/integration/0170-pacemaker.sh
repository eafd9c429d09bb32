#!/bin/bash
# SPDX-License-Identifier: ISC
# Pacemaker's resource agents from Debian's resource-agents package,
# ocf:heartbeat:iSCSITarget and ocf:heartbeat:iSCSILogicalUnit with
# implementation=iet, drive ietd through ietadm exactly as they drove IET.
# The agents are copied unmodified except for their paths: /proc/net/iet
# becomes ietd's status directory and /etc/initiators.{allow,deny} the
# test's scratch files (the README gives cluster users the same sed).
# ietadm on PATH is ours and finds the test's ietd through IETD_CONTROL.
. "$(dirname "$0")/lib.sh"

RA_DIR=/usr/lib/ocf/resource.d/heartbeat
if [ ! -x "$RA_DIR/iSCSITarget" ] || [ ! -x "$RA_DIR/iSCSILogicalUnit" ]; then
	if [ "${CI:-}" = true ]; then
		not_ok "resource-agents installed" "run tools/ensure-deps.sh"
		finish
		exit 1
	fi
	echo "SKIP: resource-agents is not installed (tools/ensure-deps.sh)"
	exit 0
fi
BUILD=$(cd "$(dirname "$IETD")" && pwd)
# The SAN build lives in build/san/; ietadm is the same in both.
[ -x "$BUILD/ietadm" ] || BUILD=$(cd "$(dirname "$0")/../../build" && pwd)

# Agents: the documented one-line change, pointed at this test's files.
mkdir -p "$T/ra" "$T/rsctmp"
for a in iSCSITarget iSCSILogicalUnit; do
	sed -e "s|/proc/net/iet|$T/status|g" \
		-e "s|/etc/initiators\\.|$T/initiators.|g" \
		"$RA_DIR/$a" >"$T/ra/$a"
	chmod 755 "$T/ra/$a"
done
# Only the paths changed: no other line differs from the package's agent.
for a in iSCSITarget iSCSILogicalUnit; do
	n=$(diff "$RA_DIR/$a" "$T/ra/$a" | grep -c '^>')
	m=$(grep -c '/proc/net/iet\|/etc/initiators\.' "$RA_DIR/$a")
	check "$a copy differs only in its $m path lines" test "$n" -eq "$m"
done

: >"$T/ietd.conf" # no targets: the agents create everything
ietd_start || {
	not_ok start
	finish
	exit 1
}

IQN=$IQN_BASE:Pcmk.Disk
INI=iqn.2026-11.org.example:node1
OTHER=iqn.2026-11.org.example:intruder
USER_=pcmkuser
PASS=pcmksecret12
img1=$(make_image lu1.img 16M)
img2=$(make_image lu2.img 8M)

export OCF_ROOT=/usr/lib/ocf HA_RSCTMP=$T/rsctmp
export PATH="$BUILD:$PATH" IETD_CONTROL=$T/ctl.sock
export OCF_RESKEY_implementation=iet
check "ietadm on PATH is this build's" test "$(command -v ietadm)" = "$BUILD/ietadm"

# ra AGENT ACTION [VAR=VALUE...]: run one action; prints its exit status
# (124: still running after 20 s, as iSCSITarget's stop loops on a
# target delete that keeps failing).
ra() {
	local agent=$1 action=$2
	shift 2
	echo "== $agent $action" >>"$T/ra.log"
	timeout 20 env "$@" OCF_RESOURCE_INSTANCE="$agent" \
		"$T/ra/$agent" "$action" >>"$T/ra.log" 2>&1
	echo $?
}
TGT=(OCF_RESKEY_iqn="$IQN" OCF_RESKEY_incoming_username=$USER_
	OCF_RESKEY_incoming_password=$PASS
	OCF_RESKEY_allowed_initiators="$INI"
	OCF_RESKEY_additional_parameters="ImmediateData=No MaxRecvDataSegmentLength=65536")
LU1=(OCF_RESKEY_target_iqn="$IQN" OCF_RESKEY_lun=1 OCF_RESKEY_path="$img1"
	OCF_RESKEY_scsi_sn=pcmksn0001 OCF_RESKEY_scsi_id=pcmkid0001)
LU2=(OCF_RESKEY_target_iqn="$IQN" OCF_RESKEY_lun=2 OCF_RESKEY_path="$img2"
	OCF_RESKEY_scsi_sn=pcmksn0002 OCF_RESKEY_additional_parameters=IOMode=wb)
# expect NAME WANT GOT: OCF_SUCCESS is 0, OCF_NOT_RUNNING 7.
expect() {
	if [ "$3" -eq "$2" ]; then
		ok "$1"
	else
		not_ok "$1" "exit $3, want $2; agent log: $(tail -n 8 "$T/ra.log")"
	fi
}

expect "target validate-all" 0 "$(ra iSCSITarget validate-all "${TGT[@]}")"
expect "lun 1 validate-all" 0 "$(ra iSCSILogicalUnit validate-all "${LU1[@]}")"
expect "target monitor before start: not running" 7 \
	"$(ra iSCSITarget monitor "${TGT[@]}")"
expect "lun 1 monitor before start: not running" 7 \
	"$(ra iSCSILogicalUnit monitor "${LU1[@]}")"
expect "target start" 0 "$(ra iSCSITarget start "${TGT[@]}")"
expect "lun 1 start" 0 "$(ra iSCSILogicalUnit start "${LU1[@]}")"
expect "lun 2 start" 0 "$(ra iSCSILogicalUnit start "${LU2[@]}")"
expect "target monitor" 0 "$(ra iSCSITarget monitor "${TGT[@]}")"
expect "lun 1 monitor" 0 "$(ra iSCSILogicalUnit monitor "${LU1[@]}")"
expect "lun 2 monitor" 0 "$(ra iSCSILogicalUnit monitor "${LU2[@]}")"
expect "start again is a no-op" 0 "$(ra iSCSITarget start "${TGT[@]}")"

# The initiator sees both LUs, with CHAP, and LUN 1's ScsiSN in VPD 0x80.
u="iscsi://$USER_%$PASS@127.0.0.1:$PORT/$IQN"
check "allowed initiator with CHAP reads LUN 1's unit serial number" \
	bash -c "iscsi-inq -i '$INI' -e 1 -c 128 '$u/1' | grep -qF '[pcmksn0001]'"
check "LUN 2's unit serial number" \
	bash -c "iscsi-inq -i '$INI' -e 1 -c 128 '$u/2' | grep -qF '[pcmksn0002]'"
check "LUN 1's ScsiId in VPD 0x83" \
	bash -c "iscsi-inq -i '$INI' -e 1 -c 131 '$u/1' | grep -q 'pcmkid0001'"
check "LUN 1 is 16 MiB" \
	bash -c "iscsi-readcapacity16 -i '$INI' '$u/1' | grep -q 'Total size:16777216'"
check "CHAP required: no credentials refused" \
	bash -c "! iscsi-inq -i '$INI' 'iscsi://127.0.0.1:$PORT/$IQN/1'"
check "CHAP: wrong secret refused" \
	bash -c "! iscsi-inq -i '$INI' 'iscsi://$USER_%wrongsecret12@127.0.0.1:$PORT/$IQN/1'"
check "allowed_initiators: another initiator refused" \
	bash -c "! iscsi-inq -i '$OTHER' '$u/1'"
check "target's additional_parameters applied" \
	bash -c "ietadm --op show --tid=1 | grep -qx 'MaxRecvDataSegmentLength=65536' &&
		ietadm --op show --tid=1 | grep -qx 'ImmediateData=No'"
check "LU's additional_parameters applied (iomode:wb)" \
	grep -q "lun:2 .*iomode:wb .*path:$img2\$" "$T/status/volume"
check "allow files hold the agent's lines" \
	bash -c "grep -qx '$IQN ALL' '$T/initiators.deny' &&
		grep -qx '$IQN $INI' '$T/initiators.allow'"

# A session that stays logged in through the stop, pinging; it writes
# "gone" to its result file once ietd drops its connection.
python3 - "$(dirname "$0")" "$PORT" "$INI" "$IQN" "$USER_" "$PASS" \
	"$T/live.out" <<'PY' &
import sys, time
sys.path.insert(0, sys.argv[1])
import protocol_tester as pt
port, ini, iqn, user, pw, out = sys.argv[2:8]
c = pt.Connection(port=int(port), isid=b"\x80\x70\x00\x00\x00\x01")
try:
    c.login(ini, iqn, chap=(user, pw))
    st, data, _ = c.scsi(bytes([0x12, 1, 0x80, 0, 255, 0]), lun=1,
                         read_len=255)
    open(out, "w").write("in %s\n" % data[4:4 + data[3]].decode())
except Exception as e:
    open(out, "w").write("login failed: %r\n" % e)
    sys.exit(1)
end = time.time() + 30
try:
    while time.time() < end:
        c.nop()
        time.sleep(0.2)
    open(out, "a").write("still logged in\n")
except Exception:
    open(out, "a").write("gone\n")
PY
live=$!
track_pid $live
for i in $(seq 50); do
	[ -s "$T/live.out" ] && grep -q "sid:" "$T/status/session" && break
	sleep 0.1
done
check "live session logged in and read ScsiSN" grep -qx "in pcmksn0001" "$T/live.out"
check "live session in the session file" \
	bash -c "sed -n '/^tid:/,\$p' '$T/status/session' | grep -q 'initiator:$INI'"

# Stop in Pacemaker's order: LUs, then the target (drops the session).
expect "lun 2 stop" 0 "$(ra iSCSILogicalUnit stop "${LU2[@]}")"
expect "lun 1 stop" 0 "$(ra iSCSILogicalUnit stop "${LU1[@]}")"
expect "lun 1 monitor after stop: not running" 7 \
	"$(ra iSCSILogicalUnit monitor "${LU1[@]}")"
start=$(date +%s)
expect "target stop with a live session" 0 "$(ra iSCSITarget stop "${TGT[@]}")"
check "target stop took under 10 s" test $(($(date +%s) - start)) -lt 10
wait $live
check "the live session was dropped by the stop" grep -qx gone "$T/live.out"
expect "target monitor after stop: not running" 7 \
	"$(ra iSCSITarget monitor "${TGT[@]}")"
expect "lun 2 monitor after stop: not running" 7 \
	"$(ra iSCSILogicalUnit monitor "${LU2[@]}")"
check "target gone from the volume file" bash -c "! grep -q '$IQN' '$T/status/volume'"
check "CHAP account gone" bash -c "! ietadm --op show --user | grep -q $USER_"
check "agent removed its allow file lines" \
	bash -c "! grep -q '$IQN' '$T/initiators.allow' '$T/initiators.deny'"
check "ietd still serves" kill -0 "$IETD_PID"
# A second start/stop cycle reuses the tid.
expect "target start again" 0 "$(ra iSCSITarget start "${TGT[@]}")"
expect "lun 1 start again" 0 "$(ra iSCSILogicalUnit start "${LU1[@]}")"
expect "lun 1 stop again" 0 "$(ra iSCSILogicalUnit stop "${LU1[@]}")"
expect "target stop again" 0 "$(ra iSCSITarget stop "${TGT[@]}")"
check "ietd logged no refusal of an agent's request" \
	bash -c "! grep -i 'refus\|invalid\|empty parameter' '$T/ra.log'"
echo "# agent log:"
sed 's/^/#   /' "$T/ra.log" | tail -n 40
echo "# ietd log, without the connection lines:"
grep -v 'connection request\|connection closed\|succesfull login' "$IETD_LOG" |
	sed 's/^/#   /'
ietd_stop
check "ietd exits 0" test $? -eq 0
finish
