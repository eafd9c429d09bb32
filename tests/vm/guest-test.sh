#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Runs inside the test VM (busybox sh): drive the Linux kernel iSCSI
# initiator through open-iscsi against the target at VM_HOST:VM_PORT.
# Phase "plain": discovery, login without authentication, direct and
# buffered I/O verified by checksum, parallel I/O, a cache flush, logout.
# Phase "chap": refused logins (no credentials, wrong secret, wrong target
# secret for mutual CHAP), a one-way CHAP session, then CHAP + mutual CHAP
# with CRC32C header and data digests, the same I/O, logout. One "ok - NAME" / "not ok - NAME" line per
# step ("not ok - NAME -- WHY"); exit status 0 only if every step passed.
#
# Settings (environment, set on the host as VM_* for tests/vm/run.sh):
#   VM_HOST (10.0.2.2)  VM_PORT        target portal
#   VM_IQN              target for the plain phase (default: first found)
#   VM_CHAP_IQN         target for the chap phase (default VM_IQN)
#   VM_LUN (0)          logical unit to test on both targets
#   VM_CHAP_USER, VM_CHAP_SECRET       initiator's CHAP account; no user:
#                                      the chap phase is skipped
#   VM_MUTUAL_USER, VM_MUTUAL_SECRET   target's account (mutual CHAP)
#   VM_DIGEST (CRC32C)  HeaderDigest and DataDigest in the chap phase
#   VM_SIZE_MB (16)     size of the sequential pattern (at least 8)
#   VM_PHASES ("plain chap")  VM_INITIATOR  initiator name
#   VM_DISK_MB          expected capacity in MiB (checked if set)

H=${VM_HOST:-10.0.2.2}
DMESG_MARK=0
P=${VM_PORT:?VM_PORT not set}
PORTAL=$H:$P
LUN=${VM_LUN:-0}
SIZE_MB=${VM_SIZE_MB:-16}
DIGEST=${VM_DIGEST:-CRC32C}
PHASES=${VM_PHASES:-plain chap}
# Parallel step: this many writers of PAR_MB MiB each, after the pattern,
# and two readers of RD_MB MiB each inside it. Under TCG the guest moves
# only a few MB/s through slirp, so the amounts stay small.
PAR_JOBS=6
PAR_MB=1
RD_MB=4
# Buffered step: MiB written through the page cache.
BUF_MB=4
# Seconds any one iscsiadm call may take before it counts as hung.
ADM_TIMEOUT=60

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
# The last lines iscsid wrote: why a login failed, as the initiator saw it.
iscsid_log() { tail -n 8 /tmp/iscsid.log | sed 's/^/#   iscsid: /'; }

# run NAME CMD...: ok when CMD succeeds; its last output lines otherwise.
run() {
	name=$1
	shift
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$@" >/tmp/step.out 2>&1
	rc=$?
	[ -n "${VM_TIMING:-}" ] && note "took $(echo "$(cut -d' ' -f1 /proc/uptime) $t0" | awk '{ printf "%.1f", $1 - $2 }')s"
	if [ $rc -eq 0 ]; then
		ok "$name"
		return 0
	fi
	not_ok "$name" "exit $rc: $(tail -n 3 /tmp/step.out | tr '\n' ' ')"
	return 1
}

adm() { timeout "$ADM_TIMEOUT" iscsiadm "$@"; }
node_set() { # IQN NAME VALUE
	adm -m node -T "$1" -p "$PORTAL" -o update -n "$2" -v "$3" >/dev/null
}
login() { adm -m node -T "$1" -p "$PORTAL" -l; }
logout() { adm -m node -T "$1" -p "$PORTAL" -u; }
no_session() { ! adm -m session >/dev/null 2>&1; }

# The sdX of LUN in the (only) session, waiting for the SCSI scan.
find_disk() {
	i=0
	while [ $i -lt 200 ]; do
		for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:"$LUN"/block/*; do
			if [ -e "$b" ] && [ -b "/dev/$(basename "$b")" ]; then
				basename "$b"
				return 0
			fi
		done
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# md5 of COUNT MiB of FILE from MiB offset SKIP, read with O_DIRECT.
md5_direct() { # FILE SKIP COUNT
	dd if="$1" bs=1M skip="$2" count="$3" iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1
}
md5_file() { # FILE SKIP COUNT
	dd if="$1" bs=1M skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1
}
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches; }

# Write pattern bytes [SRC_MB, +COUNT_MB) to the disk at DST_MB with block
# size BS and O_DIRECT, so every block becomes its own WRITE command.
write_direct() { # DEV SRC_MB DST_MB COUNT_MB BS
	dd if=/tmp/pat of="$1" bs="$5" skip=$(($2 * 1048576)) \
		seek=$(($3 * 1048576)) count=$(($4 * 1048576)) \
		iflag=skip_bytes,count_bytes oflag=seek_bytes,direct conv=notrunc 2>/tmp/dd.err
}
same() { # DEV DST_MB SRC_MB COUNT_MB: disk region equals pattern region
	a=$(md5_direct "$1" "$2" "$4")
	b=$(md5_file /tmp/pat "$3" "$4")
	if [ -z "$a" ] || [ "$a" != "$b" ]; then
		echo "disk md5 $a at ${2}M, pattern md5 $b at ${3}M (${4}M)"
		return 1
	fi
}

seq_write_verify() { # DEV
	write_direct "$1" 0 0 "$SIZE_MB" 1M || { cat /tmp/dd.err; return 1; }
	drop_caches
	same "$1" 0 0 "$SIZE_MB"
}

# Short writes at odd places: one 512-byte block, 4 KiB blocks on a
# 512-byte (not 4 KiB) boundary, and a 64 KiB write straddling a MiB
# boundary. Offsets are in bytes (seek_bytes/skip_bytes).
small_write_verify() { # DEV BASE_MB
	dev=$1
	base=$(($2 * 1048576))
	one=$((base + 1536))
	four=$((base + 8192 + 512))
	cross=$((base + 1048576 - 32768))
	put() { # SRC_BYTES DST_BYTES BS COUNT
		dd if=/tmp/pat of="$dev" bs="$3" count="$4" skip="$1" seek="$2" \
			iflag=skip_bytes oflag=seek_bytes,direct conv=notrunc 2>/tmp/dd.err ||
			{ cat /tmp/dd.err; return 1; }
	}
	cmp_region() { # SRC_BYTES DST_BYTES LEN WHAT
		a=$(dd if="$dev" bs=512 skip=$(($2 / 512)) count=$(($3 / 512)) iflag=direct 2>/dev/null | md5sum)
		b=$(dd if=/tmp/pat bs=512 skip=$(($1 / 512)) count=$(($3 / 512)) 2>/dev/null | md5sum)
		[ "$a" = "$b" ] || { echo "$4 differs"; return 1; }
	}
	put 3584 "$one" 512 1 || return 1
	put 409600 "$four" 4096 64 || return 1
	put 65536 "$cross" 65536 1 || return 1
	drop_caches
	cmp_region 3584 "$one" 512 "512-byte block" &&
		cmp_region 409600 "$four" 262144 "4 KiB writes on a 512-byte boundary" &&
		cmp_region 65536 "$cross" 65536 "64 KiB write across a MiB boundary"
}

# Writers with different block sizes at different offsets, and readers of
# the sequential region, all at once; then every region is checked.
parallel_verify() { # DEV BASE_MB
	dev=$1
	base=$2
	pids=""
	j=0
	for bs in 4k 16k 64k 256k 1M 128k; do
		[ $j -lt $PAR_JOBS ] || break
		write_direct "$dev" $((j * PAR_MB)) $((base + j * PAR_MB)) "$PAR_MB" "$bs" &
		pids="$pids $!"
		j=$((j + 1))
	done
	r=0
	for bs in 128k 1M; do
		from=$((r * (SIZE_MB - RD_MB)))
		(
			want=$(md5_file /tmp/pat "$from" "$RD_MB")
			got=$(dd if="$dev" bs="$bs" skip=$((from * 1048576)) \
				count=$((RD_MB * 1048576)) \
				iflag=direct,skip_bytes,count_bytes 2>/dev/null | md5sum | cut -d' ' -f1)
			[ "$got" = "$want" ] || {
				echo "concurrent reader bs=$bs at ${from}M: $got, want $want"
				exit 1
			}
		) &
		pids="$pids $!"
		r=$((r + 1))
	done
	bad=0
	for p in $pids; do
		wait "$p" || bad=1
	done
	[ $bad -eq 0 ] || return 1
	drop_caches
	j=0
	while [ $j -lt $PAR_JOBS ]; do
		same "$dev" $((base + j * PAR_MB)) $((j * PAR_MB)) "$PAR_MB" || return 1
		j=$((j + 1))
	done
}

# Through the page cache: writeback builds large requests on its own; an
# fsync on the block device then sends SYNCHRONIZE CACHE when the disk says
# its write cache is on.
buffered_verify() { # DEV BASE_MB
	dd if=/tmp/pat of="$1" bs=64k count=$((BUF_MB * 16)) seek=$(($2 * 16)) \
		conv=notrunc,fsync 2>/tmp/dd.err || { cat /tmp/dd.err; return 1; }
	drop_caches
	same "$1" "$2" 0 "$BUF_MB"
}

flush() { # DEV
	dd if=/tmp/pat of="$1" bs=4096 count=1 seek=1 oflag=direct conv=notrunc,fsync 2>/tmp/dd.err ||
		{ cat /tmp/dd.err; return 1; }
}

# Last 4 KiB of the disk: the upper edge of the capacity READ CAPACITY gave.
last_block_verify() { # DEV
	bytes=$(blockdev --getsize64 "$1")
	last=$((bytes / 4096 - 1))
	dd if=/tmp/pat of="$1" bs=4096 skip=3 seek=$last count=1 oflag=direct conv=notrunc 2>/tmp/dd.err ||
		{ cat /tmp/dd.err; return 1; }
	a=$(dd if="$1" bs=4096 skip=$last count=1 iflag=direct 2>/dev/null | md5sum)
	b=$(dd if=/tmp/pat bs=4096 skip=3 count=1 2>/dev/null | md5sum)
	[ "$a" = "$b" ]
}

gone() { # SDX: the disk left after logout
	i=0
	while [ -e "/sys/block/$1" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ ! -e "/sys/block/$1" ]
}

# Print what the kernel learned about the disk and the session.
describe() { # SDX
	d=/sys/block/$1
	# One line each; "|" separates the kernel's lines.
	note "sd: $(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E "sd [0-9:]+: \[$1\]|scsi [0-9:]+: Direct-Access" | sed 's/^\[[ 0-9.]*\] //' | tr '\n' '|')"
	q=$d/queue
	note "queue: logical_block_size=$(cat "$q/logical_block_size") max_sectors_kb=$(cat "$q/max_sectors_kb") max_hw_sectors_kb=$(cat "$q/max_hw_sectors_kb") optimal_io_size=$(cat "$q/optimal_io_size") write_cache=$(cat "$q/write_cache") fua=$(cat "$q/fua" 2>/dev/null) discard_max_bytes=$(cat "$q/discard_max_bytes") rotational=$(cat "$q/rotational")"
	note "device: vendor=$(cat "$d/device/vendor") model=$(cat "$d/device/model") rev=$(cat "$d/device/rev") queue_depth=$(cat "$d/device/queue_depth")"
	adm -m session -P 2 2>/dev/null | grep -E '^\s+(HeaderDigest|DataDigest|MaxRecvDataSegmentLength|MaxXmitDataSegmentLength|FirstBurstLength|MaxBurstLength|ImmediateData|InitialR2T|MaxOutstandingR2T|username)' |
		sed 's/^[[:space:]]*//' | tr '\n' ';' | sed 's/^/# negotiated: /'
	echo
}

# Login, then every I/O step on the LUN, then logout.
session_suite() { # PHASE IQN [DIGEST]
	ph=$1
	iqn=$2
	# Kernel log lines from here on belong to this session's disk.
	DMESG_MARK=$(dmesg | wc -l)
	if ! run "$ph: login to $iqn" login "$iqn"; then
		iscsid_log
		return 1
	fi
	if [ -n "${3:-}" ]; then
		s=$(adm -m session -P 2 2>&1)
		for k in HeaderDigest DataDigest; do
			v=$(echo "$s" | sed -n "s/^[[:space:]]*$k: //p" | head -n 1)
			if [ "$v" = "$3" ]; then
				ok "$ph: $k=$v negotiated"
			else
				not_ok "$ph: $k=$3 negotiated" "got '$v'"
			fi
		done
	fi
	if ! sd=$(find_disk); then
		not_ok "$ph: LUN $LUN appears as a disk" "no sd device; sessions: $(adm -m session 2>&1)"
		logout "$iqn" >/dev/null 2>&1
		return 1
	fi
	ok "$ph: LUN $LUN appears as /dev/$sd"
	dev=/dev/$sd
	describe "$sd"
	bytes=$(blockdev --getsize64 "$dev")
	mb=$((bytes / 1048576))
	if [ -n "${VM_DISK_MB:-}" ]; then
		run "$ph: capacity is ${VM_DISK_MB} MiB" [ "$mb" -eq "$VM_DISK_MB" ] ||
			note "capacity: $bytes bytes"
	fi
	need=$((SIZE_MB + 4 + BUF_MB + PAR_JOBS * PAR_MB))
	if [ "$mb" -lt "$need" ]; then
		not_ok "$ph: disk large enough" "$mb MiB, need $need MiB"
	else
		run "$ph: ${SIZE_MB} MiB direct write + direct read back" seq_write_verify "$dev"
		run "$ph: 512 B and unaligned 4 KiB direct writes" small_write_verify "$dev" "$SIZE_MB"
		run "$ph: $PAR_JOBS parallel writers + 2 readers" parallel_verify "$dev" $((SIZE_MB + 4))
		run "$ph: $BUF_MB MiB buffered write + fsync" buffered_verify "$dev" $((SIZE_MB + 4 + PAR_JOBS * PAR_MB))
		run "$ph: last block of the capacity" last_block_verify "$dev"
		run "$ph: cache flush (fsync on the block device)" flush "$dev"
		if [ "$(cat "/sys/block/$sd/queue/discard_max_bytes")" != 0 ]; then
			run "$ph: discard (UNMAP/WRITE SAME) 1 MiB" blkdiscard -o $((SIZE_MB * 1048576)) -l 1048576 "$dev"
		fi
	fi
	run "$ph: logout" logout "$iqn"
	run "$ph: disk gone after logout" gone "$sd"
	run "$ph: no session left" no_session
}

# Login, read 1 MiB from the disk, logout: a session that only has to work.
brief_session() { # PHASE IQN
	if ! run "$1: login" login "$2"; then
		iscsid_log
		return 1
	fi
	if sd=$(find_disk); then
		run "$1: read 1 MiB from /dev/$sd" dd if="/dev/$sd" of=/dev/null bs=1M count=1 iflag=direct
	else
		not_ok "$1: LUN $LUN appears as a disk"
	fi
	run "$1: logout" logout "$2"
	[ -z "$sd" ] || run "$1: disk gone after logout" gone "$sd"
}

# A login that must be refused with an authentication failure, leaving no
# session behind.
refused() { # NAME IQN [INITIATOR_SIDE]
	login "$2" >/tmp/step.out 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		not_ok "$1" "login succeeded"
		logout "$2" >/dev/null 2>&1
		return 1
	fi
	# 24: the target refused (ISCSI_ERR_LOGIN_AUTH_FAILED); 19: the
	# initiator gave up on the target's CHAP answer (ISCSI_ERR_FATAL_LOGIN).
	if [ $rc -eq 24 ] || { [ $rc -eq 19 ] && [ -n "${3:-}" ]; }; then
		ok "$1"
	else
		not_ok "$1" "iscsiadm exit $rc, not an authentication failure: $(tail -n 2 /tmp/step.out | tr '\n' ' ')"
		iscsid_log
	fi
	no_session || { not_ok "$1: no session left" "$(adm -m session 2>&1)"; }
}

phase_plain() {
	node_set "$IQN" node.session.auth.authmethod None
	session_suite plain "$IQN"
}

phase_chap() {
	if [ -z "${VM_CHAP_USER:-}" ]; then
		note "chap phase skipped: no VM_CHAP_USER"
		return 0
	fi
	iqn=$CHAP_IQN
	node_set "$iqn" node.session.auth.authmethod None
	node_set "$iqn" node.conn[0].iscsi.HeaderDigest None
	node_set "$iqn" node.conn[0].iscsi.DataDigest None
	refused "chap: login without credentials refused" "$iqn"

	node_set "$iqn" node.session.auth.authmethod CHAP
	node_set "$iqn" node.session.auth.username "$VM_CHAP_USER"
	node_set "$iqn" node.session.auth.password "wrong-${VM_CHAP_SECRET}"
	refused "chap: login with a wrong secret refused" "$iqn"
	node_set "$iqn" node.session.auth.password "$VM_CHAP_SECRET"
	brief_session "chap (one-way)" "$iqn"

	if [ -n "${VM_MUTUAL_USER:-}" ]; then
		# The target answers our challenge with a secret we do not
		# expect: the initiator must drop the login.
		node_set "$iqn" node.session.auth.username_in "$VM_MUTUAL_USER"
		node_set "$iqn" node.session.auth.password_in "wrong-${VM_MUTUAL_SECRET}"
		refused "chap: mutual CHAP with a wrong target secret refused" "$iqn" initiator
		node_set "$iqn" node.session.auth.password_in "$VM_MUTUAL_SECRET"
	fi
	node_set "$iqn" node.conn[0].iscsi.HeaderDigest "$DIGEST"
	node_set "$iqn" node.conn[0].iscsi.DataDigest "$DIGEST"
	label="chap${VM_MUTUAL_USER:+ + mutual} + $DIGEST digests"
	session_suite "$label" "$iqn" "$DIGEST"
}

# ---- main
[ -n "${VM_INITIATOR:-}" ] && echo "InitiatorName=$VM_INITIATOR" >/etc/iscsi/initiatorname.iscsi
mkdir -p /run/lock/iscsi /etc/iscsi/nodes /etc/iscsi/send_targets /etc/iscsi/ifaces

# In the foreground so that its messages (no syslog here) land in a file
# we can show when a step fails.
iscsid -f -d "${VM_ISCSID_DEBUG:-0}" >/tmp/iscsid.log 2>&1 &
i=0
while ! [ -e /run/iscsid.pid ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if pidof iscsid >/dev/null; then
	ok "iscsid started"
else
	not_ok "iscsid started" "$(tail -n 3 /tmp/iscsid.log)"
	echo "# $npass passed, $nfail failed"
	exit 1
fi

dd if=/dev/urandom of=/tmp/pat bs=1M count="$SIZE_MB" 2>/dev/null
if ! adm -m discovery -t sendtargets -p "$PORTAL" >/tmp/disc.out 2>&1; then
	not_ok "discovery (SendTargets) at $PORTAL" "$(tail -n 3 /tmp/disc.out | tr '\n' ' ')"
	echo "# $npass passed, $nfail failed"
	exit 1
fi
ok "discovery (SendTargets) at $PORTAL"
sed 's/^/# discovered: /' /tmp/disc.out
IQN=${VM_IQN:-$(awk '{ print $2; exit }' /tmp/disc.out)}
CHAP_IQN=${VM_CHAP_IQN:-$IQN}
# SendTargets answers with the address the target sees itself on, the
# host's 127.0.0.1, which the guest cannot use: the node records for the
# logins are made for the slirp address instead, and the discovered ones
# removed so nothing logs in through them by accident.
for t in $IQN $CHAP_IQN; do
	if grep -q " $t\$" /tmp/disc.out; then
		ok "discovery lists $t"
	else
		not_ok "discovery lists $t"
	fi
done
adm -m node -o delete >/dev/null 2>&1
for t in $IQN $CHAP_IQN; do
	adm -m node -o new -T "$t" -p "$PORTAL" >/dev/null 2>&1 ||
		not_ok "node record for $t at $PORTAL"
done

for ph in $PHASES; do
	case $ph in
	plain) phase_plain ;;
	chap) phase_chap ;;
	*) not_ok "phase $ph" "unknown phase" ;;
	esac
done

adm -m session >/dev/null 2>&1 && { adm -m node -u >/dev/null 2>&1; not_ok "all sessions closed at the end"; }
echo "# $npass passed, $nfail failed"
[ $nfail -eq 0 ] && [ $npass -gt 0 ]
