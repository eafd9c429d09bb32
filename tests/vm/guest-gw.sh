#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Run in the test VM by tests/integration/0863-gw-vm.sh: two ietd gateways
# serve one RBD image, gateway A (VM_PORT, holder of the image's exclusive
# lock, active/optimized) and gateway B (VM_PORT2, standby). The kernel
# initiator logs in through both, scsi_dh_alua sees the ALUA states, and a
# dm-multipath device with the alua hardware handler puts A's path in the
# first priority group and B's in the second. Data is written, the guest
# prints IETD-GW-KILL so the host SIGKILLs gateway A, and the rest is
# written: dm-multipath fails A's path, activates B's (scsi_dh_alua sends
# SET TARGET PORT GROUPS, gateway B fences A and takes the lock), and all
# of it reads back through B. With VM_GW_MODE=stop the host SIGSTOPs A
# instead and SIGCONTs it once B has taken over and new data is written:
# what reads back must be that data (A's stale writes landed nowhere).
# ok / not ok lines as guest-test.sh prints.
H=${VM_HOST:-10.0.2.2}
PA=$H:${VM_PORT:?VM_PORT not set}
PB=$H:${VM_PORT2:?VM_PORT2 not set}
IQN=${VM_IQN:?VM_IQN not set}
MB=${VM_MPATH_MB:-4}

npass=0
nfail=0
ok() {
	npass=$((npass + 1))
	echo "ok - $1"
}
not_ok() {
	nfail=$((nfail + 1))
	echo "not ok - $1${2:+ -- $2}"
}
note() { echo "# $*"; }
adm() { timeout 60 iscsiadm "$@"; }
done_() {
	note "guest-gw: $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
	exit $?
}

for m in scsi_dh_alua dm_mod dm_multipath dm_round_robin; do
	modprobe "$m" || {
		not_ok "modprobe $m"
		done_
	}
done
for p in "$PA" "$PB"; do
	adm -m node -o new -T "$IQN" -p "$p" >/dev/null &&
		adm -m node -T "$IQN" -p "$p" -o update \
			-n node.session.timeo.replacement_timeout -v 5 >/dev/null &&
		adm -m node -T "$IQN" -p "$p" -l >/tmp/login.out 2>&1
	if [ $? -eq 0 ]; then
		ok "login through $p"
	else
		not_ok "login through $p" "$(tail -n 2 /tmp/login.out | tr '\n' ' ')"
		done_
	fi
done
# The two disks: one per session.
disks=""
i=0
while [ $i -lt 200 ]; do
	disks=$(for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:0/block/*; do
		[ -e "$b" ] && basename "$b"
	done | sort | tr '\n' ' ')
	set -- $disks
	[ $# -eq 2 ] && [ -b "/dev/$1" ] && [ -b "/dev/$2" ] && break
	sleep 0.1
	i=$((i + 1))
done
set -- $disks
if [ $# -ne 2 ]; then
	not_ok "two disks, one per portal" "found: $disks"
	done_
fi
port_of() { # sdX: the target port its session's connection is on
	sess=$(readlink -f "/sys/block/$1/device" | sed -n 's,.*/\(session[0-9]*\)/.*,\1,p')
	cat /sys/class/iscsi_session/"$sess"/device/connection*/iscsi_connection/connection*/persistent_port 2>/dev/null
}
if [ "$(port_of "$1")" = "${VM_PORT}" ]; then
	a=$1
	b=$2
else
	a=$2
	b=$1
fi
ok "two disks, one per gateway: A $a, B $b"
wa=$(cat "/sys/block/$a/device/wwid" 2>/dev/null)
wb=$(cat "/sys/block/$b/device/wwid" 2>/dev/null)
if [ -n "$wa" ] && [ "$wa" = "$wb" ]; then
	ok "both disks name the same logical unit ($wa)"
else
	not_ok "both disks name the same logical unit" "'$wa' '$wb'"
fi
sa=$(cat "/sys/block/$a/device/access_state" 2>/dev/null)
sb=$(cat "/sys/block/$b/device/access_state" 2>/dev/null)
note "dh_state: $(cat /sys/block/$a/device/dh_state 2>/dev/null) $(cat /sys/block/$b/device/dh_state 2>/dev/null)"
if [ "$sa" = "active/optimized" ] && [ "$sb" = "standby" ]; then
	ok "scsi_dh_alua: A's path active/optimized, B's standby"
else
	not_ok "scsi_dh_alua: A's path active/optimized, B's standby" "A '$sa' B '$sb'"
fi
sectors=$(blockdev --getsz "/dev/$a")
sb_sectors=$(blockdev --getsz "/dev/$b")
[ "$sectors" = "$sb_sectors" ] && ok "the standby path's disk has the size ($sectors sectors)" ||
	not_ok "the standby path's disk has the size" "$sectors vs $sb_sectors"
# Two priority groups, A's first; the alua handler activates a group.
table="0 $sectors multipath 0 1 alua 2 1 round-robin 0 1 1 $(cat /sys/block/$a/dev) 1000 round-robin 0 1 1 $(cat /sys/block/$b/dev) 1000"
if dmsetup create mp --table "$table" >/tmp/dm.out 2>&1 && dmsetup mknodes mp >/dev/null 2>&1 &&
	[ -b /dev/mapper/mp ]; then
	ok "dm-multipath device, A's path group first"
else
	not_ok "dm-multipath device, A's path group first" "$(tr '\n' ' ' </tmp/dm.out)"
	done_
fi
note "dm status: $(dmsetup status mp)"

if [ "${VM_GW_MODE:-kill}" = stop ]; then
	# SIGSTOP/SIGCONT: P1 through A; the host stops A; P2 (its first
	# writes wait in the stopped A, the rest go through B once the
	# path failed over); P3 through B; the host wakes A, whose stale P2
	# writes must land nowhere: P3 is what reads back.
	pat() { # pat TAG FILE
		awk -v n=$((MB * 2048)) -v t="$1" 'BEGIN { for (i = 0; i < n; i++) printf "ietd-gw %s block %08d %-485s\n", t, i, "x" }' >"$2"
	}
	pat P1 /tmp/p1
	pat P2 /tmp/p2
	pat P3 /tmp/p3
	wr() { dd if="$1" of=/dev/mapper/mp bs=64k count=$((MB * 16)) oflag=direct conv=notrunc 2>/tmp/dd.err; }
	wr /tmp/p1 && ok "P1 written through A" ||
		not_ok "P1 written through A" "$(tr '\n' ' ' </tmp/dd.err)"
	echo "IETD-GW-STOP"
	sleep 2
	t0=$(cut -d' ' -f1 /proc/uptime)
	wr /tmp/p2 && ok "P2 written while A is stopped (through B in the end)" ||
		not_ok "P2 written while A is stopped" "$(tr '\n' ' ' </tmp/dd.err)"
	note "P2 took $(echo "$(cut -d' ' -f1 /proc/uptime) $t0" | awk '{ printf "%.1f", $1 - $2 }') s"
	wr /tmp/p3 && ok "P3 written through B" ||
		not_ok "P3 written through B" "$(tr '\n' ' ' </tmp/dd.err)"
	echo "IETD-GW-CONT"
	# The host wakes A; give its stale writes time to fail.
	sleep 10
	if [ "$(dd if=/dev/mapper/mp bs=64k count=$((MB * 16)) iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)" = \
		"$(md5sum </tmp/p3 | cut -d' ' -f1)" ]; then
		ok "after A woke up, all $MB MiB read back as P3"
	else
		not_ok "after A woke up, all $MB MiB read back as P3"
	fi
	st=$(dmsetup status mp)
	note "dm status: $st"
	case $st in
	*" $(cat /sys/block/$a/dev) F "*) ok "dm-multipath: A's path ($a) failed" ;;
	*) not_ok "dm-multipath: A's path ($a) failed" "$st" ;;
	esac
	sb=$(cat "/sys/block/$b/device/access_state" 2>/dev/null)
	[ "$sb" = "active/optimized" ] && ok "scsi_dh_alua: B's path now active/optimized" ||
		not_ok "scsi_dh_alua: B's path now active/optimized" "'$sb'"
	dmsetup remove mp >/dev/null 2>&1
	adm -m node -T "$IQN" -p "$PB" -u >/dev/null 2>&1
	done_
fi

# The pattern: MB MiB of numbered 512-byte records.
awk -v n=$((MB * 2048)) 'BEGIN { for (i = 0; i < n; i++) printf "ietd-gw block %08d %-488s\n", i, "x" }' >/tmp/pat
half=$((MB / 2))
if dd if=/tmp/pat of=/dev/mapper/mp bs=64k count=$((half * 16)) oflag=direct conv=notrunc 2>/tmp/dd.err; then
	ok "first $half MiB written through A"
else
	not_ok "first $half MiB written" "$(tr '\n' ' ' </tmp/dd.err)"
fi
# The host SIGKILLs gateway A now.
echo "IETD-GW-KILL"
# The host watches the console every 0.2 s; give it time to act.
sleep 3
t0=$(cut -d' ' -f1 /proc/uptime)
if dd if=/tmp/pat of=/dev/mapper/mp bs=64k skip=$((half * 16)) seek=$((half * 16)) \
	count=$(((MB - half) * 16)) oflag=direct conv=notrunc 2>/tmp/dd.err; then
	ok "the other $((MB - half)) MiB written after gateway A died"
else
	not_ok "the other $((MB - half)) MiB written after gateway A died" "$(tr '\n' ' ' </tmp/dd.err)"
fi
note "second half took $(echo "$(cut -d' ' -f1 /proc/uptime) $t0" | awk '{ printf "%.1f", $1 - $2 }') s"
if [ "$(dd if=/dev/mapper/mp bs=64k count=$((MB * 16)) iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)" = \
	"$(md5sum </tmp/pat | cut -d' ' -f1)" ]; then
	ok "all $MB MiB read back intact through the multipath device"
else
	not_ok "all $MB MiB read back intact through the multipath device"
fi
st=$(dmsetup status mp)
note "dm status: $st"
dead=$a
live=$b
sb=$(cat "/sys/block/$b/device/access_state" 2>/dev/null)
[ "$sb" = "active/optimized" ] && ok "scsi_dh_alua: B's path now active/optimized" ||
	not_ok "scsi_dh_alua: B's path now active/optimized" "'$sb'"
case $st in
*" $(cat /sys/block/$dead/dev) F "*) ok "dm-multipath: A's path ($dead) failed" ;;
*) not_ok "dm-multipath: A's path ($dead) failed" "$st" ;;
esac
case $st in
*" $(cat /sys/block/$live/dev) A "*) ok "dm-multipath: B's path ($live) active" ;;
*) not_ok "dm-multipath: B's path ($live) active" "$st" ;;
esac
dmsetup remove mp >/dev/null 2>&1
adm -m node -T "$IQN" -p "$PB" -u >/dev/null 2>&1
adm -m node -T "$IQN" -p "$PA" -u >/dev/null 2>&1
done_
