#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Run in the test VM by tests/integration/0806-dm-multipath.sh: the kernel
# initiator logs in to one target through two portals (two ALUA portal
# groups of ietd), dm-multipath joins the two disks, data is written, the
# guest prints IETD-MPATH-KILL so the host kills the first portal's
# listener (and its connection), and the rest of the data is written and
# everything read back through the multipath device: I/O goes on through
# the second portal. ok / not ok lines as guest-test.sh prints them.
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
	note "guest-mpath: $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
	exit $?
}

for m in dm_mod dm_multipath dm_round_robin; do
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
a=$1
b=$2
ok "two disks, one per portal: $a $b"
wa=$(cat "/sys/block/$a/device/wwid" 2>/dev/null)
wb=$(cat "/sys/block/$b/device/wwid" 2>/dev/null)
if [ -n "$wa" ] && [ "$wa" = "$wb" ]; then
	ok "both disks name the same logical unit ($wa)"
else
	not_ok "both disks name the same logical unit" "'$wa' '$wb'"
fi
note "access_state: $a $(cat "/sys/block/$a/device/access_state" 2>/dev/null) $b $(cat "/sys/block/$b/device/access_state" 2>/dev/null)"
sectors=$(blockdev --getsz "/dev/$a")
table="0 $sectors multipath 0 0 1 1 round-robin 0 2 1 $(cat /sys/block/$a/dev) 1000 $(cat /sys/block/$b/dev) 1000"
if dmsetup create mp --table "$table" >/tmp/dm.out 2>&1 && dmsetup mknodes mp >/dev/null 2>&1 &&
	[ -b /dev/mapper/mp ]; then
	ok "dm-multipath device over both paths"
else
	not_ok "dm-multipath device over both paths" "$(tr '\n' ' ' </tmp/dm.out)"
	done_
fi
note "dm status: $(dmsetup status mp)"

# The pattern: MB MiB of numbered 512-byte records.
awk -v n=$((MB * 2048)) 'BEGIN { for (i = 0; i < n; i++) printf "ietd-mpath block %08d %-485s\n", i, "x" }' >/tmp/pat
half=$((MB / 2))
if dd if=/tmp/pat of=/dev/mapper/mp bs=64k count=$((half * 16)) oflag=direct conv=notrunc 2>/tmp/dd.err; then
	ok "first $half MiB written through both paths"
else
	not_ok "first $half MiB written" "$(tr '\n' ' ' </tmp/dd.err)"
fi
# The host kills the first portal's listener and connection now.
echo "IETD-MPATH-KILL"
# The host watches the console every 0.2 s; give it time to act.
sleep 3
t0=$(cut -d' ' -f1 /proc/uptime)
if dd if=/tmp/pat of=/dev/mapper/mp bs=64k skip=$((half * 16)) seek=$((half * 16)) \
	count=$(((MB - half) * 16)) oflag=direct conv=notrunc 2>/tmp/dd.err; then
	ok "the other $((MB - half)) MiB written after the first portal died"
else
	not_ok "the other $((MB - half)) MiB written after the first portal died" "$(tr '\n' ' ' </tmp/dd.err)"
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
# The path that failed must be the first portal's disk, the other active.
port_of() { # sdX: the target port its session's connection is on
	sess=$(readlink -f "/sys/block/$1/device" | sed -n 's,.*/\(session[0-9]*\)/.*,\1,p')
	cat /sys/class/iscsi_session/"$sess"/device/connection*/iscsi_connection/connection*/persistent_port 2>/dev/null
}
if [ "$(port_of "$a")" = "${VM_PORT}" ]; then
	dead=$a
	live=$b
else
	dead=$b
	live=$a
fi
case $st in
*" $(cat /sys/block/$dead/dev) F "*) ok "dm-multipath: the first portal's path ($dead) failed" ;;
*) not_ok "dm-multipath: the first portal's path ($dead) failed" "$st" ;;
esac
case $st in
*" $(cat /sys/block/$live/dev) A "*) ok "dm-multipath: the second portal's path ($live) active" ;;
*) not_ok "dm-multipath: the second portal's path ($live) active" "$st" ;;
esac
dmsetup remove mp >/dev/null 2>&1
adm -m node -T "$IQN" -p "$PB" -u >/dev/null 2>&1
adm -m node -T "$IQN" -p "$PA" -u >/dev/null 2>&1
done_
