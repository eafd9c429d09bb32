#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
#
# bench/run.sh: measure ietd against the userspace peers tgtd and istgt on
# this machine, over loopback, with the same LUNs and the same initiators
# (iscsi-perf, qemu-img bench), runs interleaved between the targets, and
# write a Markdown table plus the raw CSV to bench/results/. See
# bench/README.md for the knobs (BENCH_*) and what every column means.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

runs=${BENCH_RUNS:-3}
secs=${BENCH_SECONDS:-3}
loop_gib=${BENCH_LOOPBACK_GIB:-4}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	runs=1
	secs=${BENCH_SECONDS:-1}
	loop_gib=${BENCH_LOOPBACK_GIB:-1}
fi
targets=${BENCH_TARGETS:-"ietd tgtd istgt"}
luns=${BENCH_LUNS:-"null tmpfs disk digest"}
filter=${BENCH_FILTER:-.}
fill=${BENCH_FILL:-1}
ietd_bin=${BENCH_IETD:-$top/build/ietd}
base_bin=${BENCH_IETD_BASE:-}
outdir=${BENCH_OUT:-$here/results}

# With a base build of ietd, a second ietd joins the alternation right
# after ietd: a change and its base commit then meet the same phases of a
# shared machine, which two reports taken an hour apart do not.
if [ -n "$base_bin" ] && [[ " $targets " != *" ietd-base "* ]]; then
	with_base=
	for t in $targets; do
		with_base="$with_base $t"
		[ "$t" = ietd ] && with_base="$with_base ietd-base"
	done
	[[ " $with_base " == *" ietd-base "* ]] || with_base="$with_base ietd-base"
	targets=${with_base# }
fi

iqn=iqn.2026-11.org.ietd:bench
lun_bytes=1073741824 # 1 GiB, created sparse, then filled (BENCH_FILL)
lun_sectors=$((lun_bytes / 512))
queue=128 # command window of every target: the deepest workload is 128
tick=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/ietd-bench.XXXXXX)
shm=/dev/shm/ietd-bench.$$
disk=/var/tmp/ietd-bench.$$
stamp=$(date -u +%Y-%m-%d-%H%M)
host=$(hostname -s)
mkdir -p "$outdir"
csv=$outdir/$stamp-$host.csv
md=$outdir/$stamp-$host.md

declare -A tpid   # target -> pid of its daemon
declare -A tport  # target -> iSCSI port
declare -A tstate # target -> ok | failed: reason
declare -A rate   # target/lun/workload -> calibrated I/Os per second
declare -A kstate # target/lun -> why that target has no such LUN (unset: it has)
declare -A store  # target/lun -> its backing file or device
declare -A lunidx # target/lun -> its place among the target's LUNs, from 0
loops=()          # loop devices we attached, detached by name at the end
holders=()        # pids of the processes that hold the blk devices open
notes=()          # lines for the report about the stores
child=

# The rbd kind: its cluster, image, clients and the pseudo-target librbd.
# shellcheck source=bench/rbd.sh
. "$here/rbd.sh"

log() { printf '%s\n' "$*" >&2; }

# Every port is asked of the kernel, so parallel runs and other engineers'
# daemons on this machine never collide with ours.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

alive() { [ -n "${tpid[$1]:-}" ] && kill -0 "${tpid[$1]}" 2>/dev/null; }

# utime + stime of the whole process (all threads), fields 14 and 15 of
# /proc/PID/stat, counted after the ") " that ends the command name.
cpu_ticks() {
	local rest f
	rest=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	read -r -a f <<<"${rest##*) }"
	echo $((f[11] + f[12]))
}

# Busy and total ticks of the whole machine (all CPUs), from /proc/stat:
# busy = user + nice + system + irq + softirq + steal; total adds idle and
# iowait. With the target's own ticks they show who used the CPUs.
machine_ticks() {
	local f
	read -r -a f </proc/stat
	echo "$((f[1] + f[2] + f[3] + f[6] + f[7] + f[8])) $((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7] + f[8]))"
}

stop_tgtd() {
	[ -n "${tpid[tgtd]:-}" ] || return 0
	local tid
	for tid in 1 2; do
		TGT_IPC_SOCKET=$work/tgt.sock timeout 5 tgtadm --lld iscsi \
		    --op delete --force --mode target --tid $tid >/dev/null 2>&1
	done
	TGT_IPC_SOCKET=$work/tgt.sock timeout 5 tgtadm --op delete \
	    --mode system >/dev/null 2>&1
}

# Detach the loop devices of the blk kinds, by the names losetup gave us,
# plus any still bound to one of our files (an attach that Ctrl-C cut
# short before its name was recorded). The targets are stopped by then.
detach_loops() {
	local f dev
	for f in "$disk".*-blk "$disk".*-blk-direct; do
		[ -e "$f" ] || continue
		for dev in $(losetup -n -O NAME -j "$f" 2>/dev/null); do
			loops+=("$dev")
		done
	done
	for dev in $(printf '%s\n' "${loops[@]}" | sort -u); do
		losetup -d "$dev" 2>/dev/null ||
		    log "bench: cannot detach $dev (losetup -d $dev)"
	done
}

# Stop what we started, by pid only: tgtd through its own control socket
# (it ignores SIGTERM), the others with SIGTERM, then SIGKILL for stragglers.
cleanup() {
	local t busy
	trap - EXIT INT TERM
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	stop_tgtd
	for t in "${!tpid[@]}"; do
		[ "$t" = tgtd ] || kill -TERM "${tpid[$t]}" 2>/dev/null
	done
	for _ in $(seq 50); do
		busy=
		for t in "${!tpid[@]}"; do
			alive "$t" && busy=$t
		done
		[ -z "$busy" ] && break
		sleep 0.1
	done
	for t in "${!tpid[@]}"; do
		if alive "$t"; then
			log "bench: $t (pid ${tpid[$t]}) did not stop, killing it"
			kill -KILL "${tpid[$t]}" 2>/dev/null
		fi
		wait "${tpid[$t]}" 2>/dev/null
	done
	rbd_cleanup
	for t in "${holders[@]}"; do
		kill "$t" 2>/dev/null
		wait "$t" 2>/dev/null
	done
	detach_loops
	rm -f "$shm".* "$disk".*
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "bench: logs and configs kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A target counts as up once its port listens and an INQUIRY through a
# full login to its first LUN answers (iscsi-ls hangs against istgt).
wait_ready() {
	local t=$1 limit=$2
	for _ in $(seq "$limit"); do
		if ! alive "$t"; then
			wait "${tpid[$t]}"
			tstate[$t]="failed: exited at start (status $?)"
			log "bench: end of $t's log:"
			tail -n 20 "$work/$t.log" >&2
			return 1
		fi
		if [ -n "$(ss -Hltn "sport = :${tport[$t]}" 2>/dev/null)" ] &&
		    timeout -k 2 10 iscsi-inq "$(url_of "$t" null)" >/dev/null 2>&1; then
			tstate[$t]=ok
			return 0
		fi
		sleep 1
	done
	tstate[$t]="failed: not serving after ${limit}s"
	log "bench: end of $t's log:"
	tail -n 20 "$work/$t.log" >&2
	return 1
}

# The LUNs every target gets on its first iSCSI target, in LUN order: the
# null LUN always (wait_ready logs in to it), then the kinds asked for.
# The digest kind is a target of its own.
main_kinds() {
	local k out=null
	for k in $luns; do
		case $k in
		null | digest) ;;
		*) [[ " $out " == *" $k "* ]] || out="$out $k" ;;
		esac
	done
	echo "$out"
}

# A LUN kind that target t serves: set up, and not refused by the target.
has_lun() { [ -z "${kstate[$1/$2]+set}" ]; }

# A real block device for the blk kinds: a loop device over a file in
# /var/tmp. With direct I/O on, the loop device reads and writes its file
# with O_DIRECT, so the device's own page cache is the only one and its
# writeback goes to the disk below; without it every block would be cached
# a second time in the file's page cache, and "writeback" would only move
# pages from one cache to the other.
attach_loop() {
	local t=$1 kind=$2 f=$3 dev dio
	if ! command -v losetup >/dev/null; then
		log "bench: losetup not found: no $kind LUN for $t"
		kstate[$t/$kind]="failed: no loop device"
		return 1
	fi
	dev=$(losetup --find --show --direct-io=on "$f" 2>"$work/losetup.err")
	if [ -z "$dev" ]; then
		log "bench: no $kind LUN for $t: $(head -c 300 "$work/losetup.err")"
		kstate[$t/$kind]="failed: no loop device"
		return 1
	fi
	loops+=("$dev")
	store[$t/$kind]=$dev
	dio=$(losetup -n -O DIO "$dev" 2>/dev/null | tr -d ' ')
	[ "$dio" = 1 ] || log "bench: $dev: direct I/O is off; the $kind LUN is cached twice"
	notes+=("$t $kind: $dev over $f, direct I/O ${dio:-?} (1 = on)")
	# The kernel drops a block device's page cache when its last opener
	# closes it: without a holder the fill below would leave the blk
	# device cold, and its first workloads would read from the disk.
	if [ "$kind" = blk ]; then
		# shellcheck disable=SC2217 # the open descriptor is the point
		sleep infinity <"$dev" &
		holders+=($!)
	fi
}

# The backing store of one LUN kind of target t; on failure kstate says why.
# Every image is written through once (BENCH_FILL=1, the default), so that
# each LUN is one with data on it:
# - the holes of a sparse file read as the zero page, which no LUN with data
#   on it does;
# - a write into a hole of the disk image also allocates a block and a page
#   cache page, which an overwrite does not. Without the fill, how much of a
#   write workload lands on holes depends on which workloads ran before it.
# The disk images are synced after their fill, so that their writeback is
# over before the first workload starts. The blk devices are filled through
# the device, so that the device's page cache holds them as the page cache
# holds the disk image (blk-direct's fill goes straight to the file).
make_store() {
	local t=$1 kind=$2 f dd_out=()
	case $kind in
	null) return 0 ;;
	rbd)
		rbd_store "$t"
		return
		;;
	tmpfs) f=$shm.$t ;;
	digest) f=$shm.$t-digest ;;
	disk) f=$disk.$t ;;
	*) f=$disk.$t-$kind ;;
	esac
	truncate -s $lun_bytes "$f" || return 1
	store[$t/$kind]=$f
	case $kind in
	blk) attach_loop "$t" "$kind" "$f" || return 1 ;;
	blk-direct)
		attach_loop "$t" "$kind" "$f" || return 1
		dd_out=(oflag=direct)
		;;
	esac
	[ "$fill" = 1 ] || return 0
	dd if=/dev/zero of="${store[$t/$kind]}" bs=1M count=$((lun_bytes >> 20)) \
	    conv=notrunc,fsync "${dd_out[@]}" status=none
}

make_stores() {
	local t=$1 kind n=0
	for kind in $(main_kinds) digest; do
		if [ "$kind" = digest ] && [[ " $luns " != *" digest "* ]]; then
			continue
		fi
		if [ "$t" = istgt ] && [ "$kind" = blk-direct ]; then
			kstate[$t/$kind]="not offered: istgt has no O_DIRECT store"
			continue
		fi
		[ "$t" = librbd ] && continue
		if ! make_store "$t" "$kind"; then
			[ -n "${kstate[$t/$kind]:-}" ] ||
			    kstate[$t/$kind]="failed: cannot create the backing store"
			continue
		fi
		if [ "$kind" != digest ]; then
			lunidx[$t/$kind]=$n
			n=$((n + 1))
		fi
	done
}

# Negotiation keys the same on all three targets, so a figure compares
# implementations and not defaults.
common_keys="MaxRecvDataSegmentLength=262144 MaxXmitDataSegmentLength=262144
MaxBurstLength=1048576 FirstBurstLength=262144 InitialR2T=Yes
ImmediateData=Yes"

# ietd and ietd-base: the same config, each with its own files, port,
# control socket and status directory.
start_ietd() {
	local t=$1 bin=$2 conf=$work/$1.conf kv rc kind
	if [ ! -x "$bin" ]; then
		tstate[$t]="failed: $bin not built"
		return 1
	fi
	{
		echo "Target $iqn"
		for kind in $(main_kinds); do
			has_lun "$t" "$kind" || continue
			printf '    Lun %s ' "${lunidx[$t/$kind]}"
			case $kind in
			null) echo "Sectors=$lun_sectors,Type=nullio" ;;
			wt) echo "Path=${store[$t/$kind]},Type=fileio,IOMode=wt" ;;
			blk-direct) echo "Path=${store[$t/$kind]},Type=blockio,IOMode=wb" ;;
			rbd) echo "Path=${store[$t/$kind]},Type=rbd,CephConf=$CEPH_CONF" ;;
			*) echo "Path=${store[$t/$kind]},Type=fileio,IOMode=wb" ;;
			esac
		done
		for kv in $common_keys; do echo "    ${kv%%=*} ${kv#*=}"; done
		echo "    QueuedCommands $queue"
		if [ -n "${store[$t/digest]:-}" ] && has_lun "$t" digest; then
			echo "Target $iqn-digest"
			echo "    Lun 0 Path=${store[$t/digest]},Type=fileio,IOMode=wb"
			for kv in $common_keys; do echo "    ${kv%%=*} ${kv#*=}"; done
			echo "    QueuedCommands $queue"
			echo "    HeaderDigest CRC32C"
			echo "    DataDigest CRC32C,None"
		fi
	} >"$conf"
	local args=(-c "$conf" -a 127.0.0.1 -p "${tport[$t]}"
	    --pid-file "$work/$t.pid" --initiators-allow "$work/none"
	    --initiators-deny "$work/none" --targets-allow "$work/none"
	    --control="$work/$t-ctl.sock" --status-dir="$work/$t-status")
	"$bin" -t "${args[@]}" >"$work/$t-check.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		tstate[$t]="failed: ietd -t rejects the config (exit $rc)"
		tail -n 20 "$work/$t-check.log" >&2
		return 1
	fi
	"$bin" -f "${args[@]}" >"$work/$t.log" 2>&1 &
	tpid[$t]=$!
	wait_ready "$t" 10
}

tgtadm_w() {
	echo "tgtadm $*" >>"$work/tgtadm.log"
	TGT_IPC_SOCKET=$work/tgt.sock tgtadm --lld iscsi "$@" >>"$work/tgtadm.log" 2>&1
}

start_tgtd() {
	local kv tid
	TGT_IPC_SOCKET=$work/tgt.sock tgtd -f \
	    --iscsi "portal=127.0.0.1:${tport[tgtd]}" >"$work/tgtd.log" 2>&1 &
	tpid[tgtd]=$!
	for _ in $(seq 50); do
		tgtadm_w --op show --mode target && break
		sleep 0.1
	done
	# LUN 0 of a tgtd target is its controller: the disks start at LUN 1.
	# Its null store has a fixed size (1 TiB) and discards writes.
	if ! tgtadm_w --op new --mode target --tid 1 -T "$iqn" ||
	    ! tgtadm_w --op new --mode logicalunit --tid 1 --lun 1 \
		--bstype null -b null; then
		tstate[tgtd]="failed: tgtadm set-up (see tgtadm.log)"
		return 1
	fi
	local kind lun bs
	for kind in $(main_kinds); do
		if [ "$kind" = null ] || ! has_lun tgtd "$kind"; then
			continue
		fi
		lun=$((lunidx[tgtd/$kind] + 1))
		bs=(--bstype rdwr)
		# O_DIRECT on the device, as ietd's blockio opens it.
		[ "$kind" = blk-direct ] && bs+=(--bsoflags direct)
		# tgt-rbd takes the cluster's config file and cephx id as
		# bsopts (tgt's doc/README.rbd); the keyring is the conf's.
		[ "$kind" = rbd ] && bs=(--bstype rbd --bsopts "conf=$CEPH_CONF;id=admin")
		if ! tgtadm_w --op new --mode logicalunit --tid 1 --lun $lun \
		    "${bs[@]}" -b "${store[tgtd/$kind]}"; then
			kstate[tgtd/$kind]="failed: tgtadm refused the LUN"
			continue
		fi
		# Write-through: the caching mode page with WCE off (what
		# tgt-admin's "write-cache off" sets); its rdwr store then
		# calls fdatasync after every WRITE, as ietd's IOMode=wt
		# writes with RWF_DSYNC. (--bsoflags sync would open the file
		# O_SYNC, which also syncs the inode's times on every write.)
		if [ "$kind" = wt ] && ! tgtadm_w --op update --mode logicalunit \
		    --tid 1 --lun $lun --params \
		    mode_page=8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0; then
			kstate[tgtd/$kind]="failed: tgtadm refused write-cache off"
		fi
	done
	if has_lun tgtd digest && [ -n "${store[tgtd/digest]:-}" ] && {
		! tgtadm_w --op new --mode target --tid 2 -T "$iqn-digest" ||
		    ! tgtadm_w --op new --mode logicalunit --tid 2 --lun 1 \
			-b "${store[tgtd/digest]}" ||
		    ! tgtadm_w --op update --mode target --tid 2 \
			-n HeaderDigest -v CRC32C ||
		    ! tgtadm_w --op update --mode target --tid 2 -n DataDigest \
			-v CRC32C,None
	}; then
		kstate[tgtd/digest]="failed: tgtadm set-up (see tgtadm.log)"
	fi
	for tid in 1 2; do
		[ $tid = 2 ] && ! { has_lun tgtd digest &&
		    [ -n "${store[tgtd/digest]:-}" ]; } && continue
		# tgtd's name for the command window is MaxQueueCmd.
		for kv in $common_keys MaxQueueCmd=$queue; do
			tgtadm_w --op update --mode target --tid $tid \
			    -n "${kv%%=*}" -v "${kv#*=}" ||
			    log "bench: tgtd refused ${kv} (kept its default)"
		done
		tgtadm_w --op bind --mode target --tid $tid -I ALL || {
			tstate[tgtd]="failed: tgtadm bind"
			return 1
		}
	done
	wait_ready tgtd 10
}

start_istgt() {
	local conf=$work/istgt.conf kv
	local ctl
	ctl=$(free_port)
	cat >"$work/auth.conf" <<-EOF
		[AuthGroup10000]
		  Comment "control portal only; bench never uses it"
		  Auth "benchctl" "benchctlsecret1" "benchmutual" "benchmutualsec2"
	EOF
	{
		echo "[Global]"
		echo "  NodeBase \"iqn.2026-11.org.ietd\""
		echo "  PidFile $work/istgt.pid"
		echo "  AuthFile $work/auth.conf"
		echo "  MediaDirectory $work"
		echo "  LogFacility \"local7\""
		echo "  Timeout 30"
		echo "  NopInInterval 20"
		echo "  DiscoveryAuthMethod None"
		echo "  MaxSessions 16"
		echo "  MaxConnections 4"
		for kv in $common_keys; do
			# istgt has no MaxXmitDataSegmentLength key.
			[ "${kv%%=*}" = MaxXmitDataSegmentLength ] ||
			    echo "  ${kv%%=*} ${kv#*=}"
		done
		echo "  DataPDUInOrder Yes"
		echo "  DataSequenceInOrder Yes"
		echo "  ErrorRecoveryLevel 0"
		echo "[UnitControl]"
		echo "  AuthMethod CHAP Mutual"
		echo "  AuthGroup AuthGroup10000"
		echo "  Portal UC1 127.0.0.1:$ctl"
		echo "  Netmask 127.0.0.1"
		echo "[PortalGroup1]"
		echo "  Portal DA1 127.0.0.1:${tport[istgt]}"
		echo "[InitiatorGroup1]"
		echo "  InitiatorName \"ALL\""
		echo "  Netmask 127.0.0.0/8"
		# istgt has no null store: /dev/zero with a stated size reads
		# zeros and discards writes, the nearest it offers.
		local n=1 name path digest
		for name in $(main_kinds) digest; do
			has_lun istgt "$name" || continue
			case $name in
			null) path=/dev/zero ;;
			*)
				path=${store[istgt/$name]:-}
				[ -n "$path" ] || continue
				;;
			esac
			digest=Auto
			[ "$name" = digest ] && digest=Header
			echo "[LogicalUnit$n]"
			echo "  TargetName $iqn-$name"
			echo "  Mapping PortalGroup1 InitiatorGroup1"
			echo "  AuthMethod None"
			echo "  UseDigest $digest"
			echo "  UnitType Disk"
			echo "  QueueDepth $queue"
			echo "  LUN0 Storage $path 1GB"
			# Its only write-through knob; on Linux it does not
			# take (bench/README.md, LUN kinds).
			[ "$name" = wt ] && echo "  LUN0 Option WriteCache Disable"
			n=$((n + 1))
		done
	} >"$conf"
	istgt -c "$conf" -D >"$work/istgt.log" 2>&1 &
	tpid[istgt]=$!
	# istgt sleeps about a second per accepted connection.
	wait_ready istgt 20
}

# URL of one LUN kind on one target; the digest kind is a separate target
# that demands CRC32C header digests.
url_of() {
	local t=$1 kind=$2 p=${tport[$1]}
	case $t/$kind in
	istgt/*) echo "iscsi://127.0.0.1:$p/$iqn-$kind/0" ;;
	tgtd/digest) echo "iscsi://127.0.0.1:$p/$iqn-digest/1" ;;
	tgtd/*) echo "iscsi://127.0.0.1:$p/$iqn/$((lunidx[$t/$kind] + 1))" ;;
	*/digest) echo "iscsi://127.0.0.1:$p/$iqn-digest/0" ;;
	*) echo "iscsi://127.0.0.1:$p/$iqn/${lunidx[$t/$kind]}" ;;
	esac
}

# qemu's block layer takes the header digest only through options.
qemu_image_args() {
	local t=$1 kind=$2 url target lun
	url=$(url_of "$t" "$kind")
	if [ "$kind" != digest ]; then
		echo "-f raw $url"
		return
	fi
	target=${url#iscsi://*/}
	lun=${target##*/}
	target=${target%/*}
	echo "--image-opts driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:${tport[$t]},file.target=$target,file.lun=$lun,file.header-digest=crc32c"
}

# Workloads: name tool mode size depth. iscsi-perf reads only (READ16);
# qemu-img bench is sequential only.
workloads_of() {
	if [ "$1" = rbd ]; then
		rbd_workloads
		return
	fi
	if [ "$1" = digest ]; then
		cat <<-EOF
			perf-rand-4k-q32 perf rand 4096 32
			perf-seq-1m-q32 perf seq 1048576 32
			qemu-write-4k-d32 qemu write 4096 32
			qemu-write-1m-d32 qemu write 1048576 32
		EOF
		return
	fi
	local m s d rw
	for m in seq rand; do
		for d in 1 32 128; do
			echo "perf-$m-4k-q$d perf $m 4096 $d"
		done
	done
	for d in 1 32; do
		echo "perf-seq-1m-q$d perf seq 1048576 $d"
	done
	for rw in read write; do
		for s in 4k:4096 64k:65536 1m:1048576; do
			for d in 1 32; do
				echo "qemu-$rw-${s%%:*}-d$d qemu $rw ${s#*:} $d"
			done
		done
	done
}

# Run one initiator command in the background so the trap can stop it.
# iscsi-perf whose target died keeps trying to reconnect and does not stop
# on SIGTERM: timeout sends SIGKILL 5 s after the SIGTERM, its own or ours.
run_child() {
	local limit=$1
	shift
	timeout -k 5 "$limit" "$@" >"$work/out" 2>&1 &
	child=$!
	wait "$child"
	local rc=$?
	child=
	return $rc
}

# One qemu-img bench run of COUNT requests; prints "ios seconds" or fails.
qemu_once() {
	local t=$1 kind=$2 mode=$3 size=$4 depth=$5 count=$6 w=() secs_run
	[ "$mode" = write ] && w=(-w --pattern=0x5a)
	# shellcheck disable=SC2046
	run_child $((secs * 20 + 60)) qemu-img bench -t none -d "$depth" \
	    -s "$size" -c "$count" "${w[@]}" $(qemu_image_args "$t" "$kind") ||
	    return 1
	secs_run=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' "$work/out")
	[ -n "$secs_run" ] || return 1
	echo "$count $secs_run"
}

# Size qemu-img bench's request count so one run lasts about BENCH_SECONDS
# on this target: grow a probe until it takes a quarter second, then scale.
calibrate() {
	local t=$1 kind=$2 name=$3 mode=$4 size=$5 depth=$6 count r n took
	count=$((1048576 * 16 / size))
	[ $count -lt 32 ] && count=32
	for _ in 1 2 3 4 5; do
		r=$(qemu_once "$t" "$kind" "$mode" "$size" "$depth" $count) || return 1
		read -r n took <<<"$r"
		if awk -v t="$took" 'BEGIN { exit !(t >= 0.25) }'; then
			break
		fi
		count=$((count * 8))
	done
	rate[$t/$kind/$name]=$(awk -v n="$n" -v t="$took" -v s="$secs" \
	    'BEGIN { if (t < 1e-6) t = 1e-6; r = int(n / t * s)
		printf "%d\n", r < 32 ? 32 : r }')
}

# One measured run; appends a CSV row.
measure() {
	local t=$1 kind=$2 name=$3 tool=$4 mode=$5 size=$6 depth=$7 run=$8
	local c0 c1 status=ok ios=0 seconds=0 iops r cpu m0 m1 busy total
	local cpu_s=0 # CPU seconds a client reports itself (librbd: no daemon)
	if [ "${tstate[$t]}" != ok ]; then
		echo "$kind,$name,$t,$run,${tstate[$t]//,/;},0,0,0,0,$size,0,0" >>"$csv"
		return
	fi
	if ! has_lun "$t" "$kind"; then
		echo "$kind,$name,$t,$run,${kstate[$t/$kind]//,/;},0,0,0,0,$size,0,0" >>"$csv"
		return
	fi
	if [ "$t" != librbd ] && ! alive "$t"; then
		tstate[$t]="failed: died during the benchmark"
		echo "$kind,$name,$t,$run,${tstate[$t]},0,0,0,0,$size,0,0" >>"$csv"
		return
	fi
	m0=$(machine_ticks)
	c0=$(cpu_ticks "${tpid[$t]:-0}")
	if [ "$t" = librbd ]; then
		rbd_librbd_once "$tool" "$mode" "$size" "$depth"
	elif [ "$tool" = load ]; then
		rbd_load_once "$t" "$kind" "$mode" "$size" "$depth"
	elif [ "$tool" = perf ]; then
		local rnd=()
		[ "$mode" = rand ] && rnd=(-r)
		if run_child $((secs + 60)) iscsi-perf -t "$secs" -m "$depth" \
		    -b $((size / 512)) "${rnd[@]}" "$(url_of "$t" "$kind")"; then
			iops=$(tr '\r' '\n' <"$work/out" |
			    sed -n 's/^iops average \([0-9]*\).*/\1/p' | tail -n 1)
			if [ -n "$iops" ] && [ "$iops" -gt 0 ]; then
				ios=$((iops * secs))
				seconds=$secs
			else
				status="failed: no figure from iscsi-perf"
			fi
		else
			status="failed: iscsi-perf exit $?"
		fi
	else
		if [ -z "${rate[$t/$kind/$name]:-}" ]; then
			status="failed: calibration"
		elif r=$(qemu_once "$t" "$kind" "$mode" "$size" "$depth" \
		    "${rate[$t/$kind/$name]}"); then
			read -r ios seconds <<<"$r"
		else
			status="failed: qemu-img bench"
		fi
	fi
	c1=$(cpu_ticks "${tpid[$t]:-0}")
	m1=$(machine_ticks)
	# awk, not python3, for the arithmetic here: a python3 that starts
	# through a version manager's shim costs up to a second a call, and
	# this runs a few hundred times.
	read -r cpu busy total < <(awk -v c=$((c1 - c0)) -v m0="$m0" \
	    -v m1="$m1" -v hz="$tick" -v x="$cpu_s" 'BEGIN { split(m0, a, " ")
		split(m1, b, " ")
		print c / hz + x, (b[1] - a[1]) / hz, (b[2] - a[2]) / hz }')
	if [ "$status" != ok ]; then
		log "bench:   $t run $run: $status"
		cp "$work/out" "$work/failed-$t-$kind-$name-$run.out" 2>/dev/null
	fi
	echo "$kind,$name,$t,$run,${status//,/;},$ios,$((ios * size)),$seconds,$cpu,$size,$busy,$total" >>"$csv"
	[ "$status" = ok ] && log "bench:   $t run $run: $(awk -v i="$ios" \
	    -v s="$seconds" -v b="$size" -v c="$cpu" 'BEGIN {
		printf "%.0f IOPS, %.1f MB/s, cpu %.2f s", i / s, i * b / s / 1e6, c }')"
}

# The responder CPU of a depth-1 4 KiB write round trip that does nothing
# but the socket calls (bench/floor.c): the floor under "CPU ms/1k I/O".
measure_floor() {
	local n=$((20000 * secs)) out run cpu ios elapsed
	if ! cc -O2 -Wall -Wextra -o "$work/floor" "$here/floor.c"; then
		log "bench: cannot build bench/floor.c; no floor in the report"
		return
	fi
	for run in $(seq "$runs"); do
		if ! out=$("$work/floor" "$n" 4096); then
			log "bench: floor run $run failed"
			continue
		fi
		read -r cpu ios elapsed <<<"$out"
		echo "floor,rtt-4k-d1,c,$run,ok,$ios,$((ios * 4096)),$elapsed,$cpu,4096,0,0" >>"$csv"
		log "bench: floor run $run: $(awk -v c="$cpu" -v i="$ios" \
		    'BEGIN { printf "%.2f", c * 1e6 / i }') ms responder CPU per 1k requests"
	done
}

main() {
	local t kind name tool mode size depth run lb
	for t in $targets; do
		case $t in
		ietd | tgtd | istgt | librbd) ;;
		ietd-base)
			if [ -z "$base_bin" ]; then
				log "bench: target ietd-base needs BENCH_IETD_BASE=/path/to/ietd"
				exit 2
			fi
			;;
		*)
			log "bench: unknown target $t (ietd, ietd-base, tgtd, istgt, librbd)"
			exit 2
			;;
		esac
	done
	for kind in $luns; do
		case $kind in
		null | tmpfs | disk | wt | blk | blk-direct | digest | rbd) ;;
		*)
			log "bench: unknown LUN kind $kind (null, tmpfs, disk, wt, blk, blk-direct, digest, rbd)"
			exit 2
			;;
		esac
	done
	echo "lun,workload,target,run,status,ios,bytes,seconds,cpu_s,size,machine_busy_s,machine_total_s" >"$csv"

	log "bench: loopback TCP ceiling, ${loop_gib} GiB x $runs"
	lb=$(python3 "$here/loopback.py" "$loop_gib" "$runs")
	run=0
	for t in ${lb#* }; do
		run=$((run + 1))
		echo "loopback,tcp-1stream,python3,$run,ok,0,$(python3 -c "print(int($t * 1e6))"),1,0,0" >>"$csv"
	done
	log "bench: loopback median ${lb%% *} MB/s (runs: ${lb#* })"
	measure_floor

	for t in $targets; do
		tport[$t]=$(free_port)
		make_stores "$t"
		case $t in
		ietd) start_ietd ietd "$ietd_bin" ;;
		ietd-base) start_ietd ietd-base "$base_bin" ;;
		*) "start_$t" ;;
		esac
		log "bench: $t on port ${tport[$t]}: ${tstate[$t]}"
		for kind in $(main_kinds) digest; do
			has_lun "$t" "$kind" ||
			    log "bench: $t has no $kind LUN: ${kstate[$t/$kind]}"
		done
	done

	for kind in $luns; do
		while read -r name tool mode size depth; do
			[[ "$kind/$name" =~ $filter ]] || continue
			log "bench: $kind $name"
			if [ "$tool" = qemu ]; then
				for t in $targets; do
					[ "${tstate[$t]}" = ok ] || continue
					[ "$t" = librbd ] && continue
					has_lun "$t" "$kind" || continue
					calibrate "$t" "$kind" "$name" "$mode" \
					    "$size" "$depth" ||
					    log "bench:   $t: calibration failed"
				done
			fi
			for run in $(seq "$runs"); do
				for t in $targets; do
					measure "$t" "$kind" "$name" "$tool" \
					    "$mode" "$size" "$depth" "$run"
				done
			done
		done < <(workloads_of "$kind")
	done

	python3 "$here/report.py" "$csv" "$md" \
	    "runs=$runs seconds=$secs quick=${BENCH_QUICK:-0} fill=$fill targets=$targets luns=$luns filter=$filter" \
	    "$(for t in $targets; do echo "$t=${tstate[$t]}"; done
	    [ -n "$base_bin" ] && echo "ietd-base binary=$base_bin")" \
	    "$(printf '%s\n' "${notes[@]}")"
	cat "$md"
	log "bench: wrote $md and $csv"
}

main "$@"
