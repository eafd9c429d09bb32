#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Failover in the VM (ietd issue 21 parts 2 and 3): two ietd gateways
# serve one RBD image of a throwaway Ceph cluster (ceph.sh), A holding the
# image's exclusive lock (active/optimized), B standby. The Linux kernel
# initiator in the test VM (tests/vm/guest-gw.sh) logs in through both,
# builds a dm-multipath device with the alua hardware handler, writes
# half its data through A; the host SIGKILLs A; the rest goes through B
# once Linux's SET TARGET PORT GROUPS made B fence A and take the lock;
# everything reads back in the guest, and rbd export on the host holds
# exactly the guest's data. A few minutes (QEMU without KVM).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm.sh"
. "$(dirname "$0")/ceph.sh"

# Under the sanitizers: 0860-0862 run the same ietd paths (ALUA from the
# lock, fencing takeover, SIGKILL and SIGSTOP failover) with libiscsi.
vm_plain_build_only "the gateway failover VM scenarios (see 0860-0862)"
vm_build

MB=4
# kill (this script) or stop (0864-gw-vm-stop.sh)
MODE=${GW_VM_MODE:-kill}
ceph_up
ceph_image gw 64M || not_ok "rbd create rbd/gw"
PA=$(free_port)
PB=$(free_port)
while [ "$PB" = "$PA" ]; do PB=$(free_port); done
gw_pid_A=
gw_pid_B=
# gw_start NAME TAG PORT OTHER-TAG OTHER-PORT
gw_start() {
	local lo hi pid
	lo=$(($2 < $4 ? $2 : $4))
	hi=$(($2 < $4 ? $4 : $2))
	cat >"$T/$1.conf" <<CONF
PortalGroup $2 127.0.0.1:$3
PortalGroup $4 Remote 127.0.0.1:$5
Target $IQN_BASE:gw
	Lun 0 Type=rbd,Path=rbd/gw,CephConf=$CEPH_CONF
	PortalGroup $lo auto
	PortalGroup $hi auto
CONF
	"$IETD" -f -c "$T/$1.conf" -a 127.0.0.1 -p "$(free_port)" \
		--pid-file "$T/$1.pid" --control="$T/$1.sock" \
		--status-dir="$T/$1.st" --state-dir="$T/$1.pr" \
		>"$T/$1.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	eval "gw_pid_$1=$pid"
	wait_port 127.0.0.1 "$3"
}
gw_start A 2 "$PA" 3 "$PB" || not_ok "gateway A starts" "$(tail -5 "$T/A.log")"
for _ in $(seq 100); do
	grep -q "this gateway holds the exclusive lock" "$T/A.log" && break
	sleep 0.1
done
check "gateway A holds the lock" grep -q "this gateway holds the exclusive lock" "$T/A.log"
gw_start B 3 "$PB" 2 "$PA" || not_ok "gateway B starts" "$(tail -5 "$T/B.log")"
for _ in $(seq 100); do
	grep -q "the exclusive lock is held by another gateway" "$T/B.log" && break
	sleep 0.1
done
check "gateway B sees A hold it" grep -q "held by another gateway" "$T/B.log"

VM_IQN=$IQN_BASE:gw VM_PORT2=$PB VM_MPATH_MB=$MB VM_GW_MODE=$MODE \
	"$VM/run.sh" "$PA" "$VM/guest-gw.sh" >"$T/vm.out" 2>&1 &
vm_pid=$!
track_pid "$vm_pid"
killed=0
stopped=0
woken=0
while kill -0 "$vm_pid" 2>/dev/null; do
	if [ $killed -eq 0 ] && grep -q "^IETD-GW-KILL" "$T/vm.out"; then
		kill -9 "$gw_pid_A"
		killed=1
	fi
	if [ $stopped -eq 0 ] && grep -q "^IETD-GW-STOP" "$T/vm.out"; then
		kill -STOP "$gw_pid_A"
		stopped=1
	fi
	if [ $woken -eq 0 ] && grep -q "^IETD-GW-CONT" "$T/vm.out"; then
		kill -CONT "$gw_pid_A"
		woken=1
	fi
	sleep 0.2
done
wait "$vm_pid"
rc=$?
if [ "$MODE" = stop ]; then
	[ $stopped -eq 1 ] && [ $woken -eq 1 ] && ok "gateway A SIGSTOPped and SIGCONTed mid-run" ||
		not_ok "gateway A SIGSTOPped and SIGCONTed mid-run" "the guest never asked"
else
	[ $killed -eq 1 ] && ok "gateway A SIGKILLed mid-run" ||
		not_ok "gateway A SIGKILLed mid-run" "the guest never asked"
fi
vm_results "linux gw" "$T/vm.out"
[ $rc -eq 0 ] && ok "guest exits 0" || {
	not_ok "guest exits 0" "exit $rc"
	grep -E '^#|dm|alua|iscsi|connection' "$T/vm.out" | tail -n 40
}
# B takes over on Linux's SET TARGET PORT GROUPS, or by itself when it
# finds A's watch gone first (a killed process's goes at once).
grep -E "exclusive lock|SET TARGET PORT GROUPS|fencing" "$T/B.log" |
	sed 's/^/# B: /'
check "B took the lock" grep -q "this gateway holds the exclusive lock" "$T/B.log"
check "B fenced A first" grep -q "fencing the lock holder" "$T/B.log"
# The image holds exactly what the guest wrote.
if [ "$MODE" = stop ]; then
	awk -v n=$((MB * 2048)) 'BEGIN { for (i = 0; i < n; i++) printf "ietd-gw P3 block %08d %-485s\n", i, "x" }' >"$T/pat"
	check "the woken A found itself fenced" grep -q "this gateway is fenced" "$T/A.log"
	grep -E "exclusive lock|fenced" "$T/A.log" | sed 's/^/# A: /'
else
	awk -v n=$((MB * 2048)) 'BEGIN { for (i = 0; i < n; i++) printf "ietd-gw block %08d %-488s\n", i, "x" }' >"$T/pat"
fi
if timeout 60 rbd export rbd/gw "$T/export.img" >/dev/null 2>&1 &&
	cmp -s -n $((MB * 1048576)) "$T/pat" "$T/export.img"; then
	ok "rbd export holds the guest's $MB MiB"
else
	not_ok "rbd export holds the guest's $MB MiB" "$(cmp -n $((MB * 1048576)) "$T/pat" "$T/export.img" 2>&1)"
fi
check "gateway B still running" kill -0 "$gw_pid_B"
kill -TERM "$gw_pid_B"
wait "$gw_pid_B"
rc=$?
[ $rc -eq 0 ] && ok "gateway B exits 0 on SIGTERM" || not_ok "gateway B exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$T/A.log" "$T/B.log" &&
	not_ok "no sanitizer report" "see above"
ceph_stop
finish
