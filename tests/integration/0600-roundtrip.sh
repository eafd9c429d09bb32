#!/bin/bash
# SPDX-License-Identifier: ISC
# Data round trip through every backend I/O path: QEMU's iscsi driver
# writes a 256 MiB random image onto a LUN and reads it back, compared
# byte for byte, for BlockSize 512 and 4096, fileio and blockio (on a loop
# device when one can be had, else O_DIRECT on a file), and both I/O
# engines (--io-engine=io_uring and threads): 8 combinations. fileio on a
# loop device too (a block device served through its page cache) when
# there is one. A file on tmpfs twice per engine, its large reads sent
# from its mapping: first into holes, then into pages already there.
. "$(dirname "$0")/lib.sh"

SIZE_MB=256
SIZE=$((SIZE_MB * 1024 * 1024))
LOOPS=()
SHM=

# Detach only the loop devices this script attached, then lib.sh's cleanup.
_roundtrip_cleanup() {
	local d
	for d in "${LOOPS[@]}"; do
		losetup -d "$d" 2>/dev/null
	done
	rm -f "$SHM"
	_cleanup
}
trap _roundtrip_cleanup EXIT

# The source, one read-back copy and five LUNs, all filled.
need_kb=$(((SIZE_MB * 7 + 64) * 1024))
avail_kb=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt "$need_kb" ]; then
	echo "not enough space in $T: ${avail_kb} KiB free, $need_kb needed"
	not_ok "free space" "${avail_kb} KiB < $need_kb KiB"
	finish
	exit 1
fi

head -c $SIZE /dev/urandom >"$T/src.bin"

# A store on a block device: a loop device over a sparse file if losetup
# works here (root, loop driver), else the sparse file itself (blockio on
# a regular file is O_DIRECT too).
loop_store() { # loop_store NAME: sets STORE to the path to use
	local f dev
	f=$(make_image "$1.img" $SIZE)
	STORE=$f
	if dev=$(losetup -f --show "$f" 2>/dev/null) && [ -n "$dev" ]; then
		LOOPS+=("$dev")
		[ -b "$dev" ] && STORE=$dev
	fi
}
fio512=$(make_image fio512.img $SIZE)
fio4k=$(make_image fio4k.img $SIZE)
# A file on tmpfs: large reads are sent from its mapping (backend_map).
SHM=/dev/shm/ietd-test-$$.img
truncate -s $SIZE "$SHM"
loop_store bio512
bio512=$STORE
loop_store bio4k
bio4k=$STORE
loop_store fiodev
fiodev=$STORE
if [ ${#LOOPS[@]} -eq 3 ]; then
	echo "# blockio and fileio-dev on loop devices ${LOOPS[*]}"
else
	echo "# blockio and fileio-dev on regular files (no loop device here)"
fi

cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:fileio-512
	Lun 0 Path=$fio512,Type=fileio,BlockSize=512
Target $IQN_BASE:fileio-4096
	Lun 0 Path=$fio4k,Type=fileio,BlockSize=4096
Target $IQN_BASE:blockio-512
	Lun 0 Path=$bio512,Type=blockio,BlockSize=512
Target $IQN_BASE:blockio-4096
	Lun 0 Path=$bio4k,Type=blockio,BlockSize=4096
Target $IQN_BASE:tmpfs-512
	Lun 0 Path=$SHM,Type=fileio,BlockSize=512
Target $IQN_BASE:fileio-dev-512
	Lun 0 Path=$fiodev,Type=fileio,BlockSize=512,IOMode=wb
CONF

# Empty every LUN again so a later engine cannot pass on earlier data.
wipe_luns() {
	local f
	for f in fio512 fio4k bio512 bio4k fiodev; do
		fallocate -p -o 0 -l $SIZE "$T/$f.img"
	done
	fallocate -p -o 0 -l $SIZE "$SHM"
	# Loop devices may hold the old data in their page cache.
	for f in "${LOOPS[@]}"; do
		blockdev --flushbufs "$f" 2>/dev/null
	done
}

# Bytes ietd passed to write calls so far (sockets and files alike).
# roundtrip ENGINE TYPE BS [WHAT]: image onto the LUN, back into a file,
# compare.
roundtrip() {
	local name="$2 BlockSize=$3 --io-engine=$1${4:+ $4}" lun back=$T/back.bin
	lun=$(url "$2-$3" 0)
	rm -f "$back"
	if ! qemu-img convert -n -f raw -O raw -t none "$T/src.bin" "$lun" \
		>"$T/qemu.out" 2>&1; then
		not_ok "$name" "write: $(tail -n 3 "$T/qemu.out")"
		return
	fi
	if ! qemu-img convert -f raw -O raw -T none "$lun" "$back" \
		>"$T/qemu.out" 2>&1; then
		not_ok "$name" "read back: $(tail -n 3 "$T/qemu.out")"
		return
	fi
	if cmp "$T/src.bin" "$back" >"$T/cmp.out" 2>&1; then
		ok "$name"
	else
		not_ok "$name" "data differs: $(head -n 1 "$T/cmp.out")"
	fi
	rm -f "$back"
}

# Completions ietd's io_uring rings have reaped so far (their fdinfo's
# CqHead, summed), and how many rings it has; "0 0" with none.
ring_stats() {
	local f n=0 sum=0 h
	for f in /proc/"$IETD_PID"/fdinfo/*; do
		h=$(awk '$1 == "CqHead:" { print $2 }' "$f" 2>/dev/null)
		[ -n "$h" ] || continue
		n=$((n + 1))
		sum=$((sum + h))
	done
	echo "$n $sum"
}

start=$(date +%s)
engines="io_uring threads"
# memcheck does not see io_uring fill read buffers: threads only.
[ "$VALGRIND" = 1 ] && engines=threads &&
	echo "SKIP: --io-engine=io_uring under valgrind"
for engine in $engines; do
	wipe_luns
	if ! ietd_start --io-engine=$engine; then
		not_ok "start with --io-engine=$engine"
		continue
	fi
	[ "$VALGRIND" = 1 ] && sleep 3
	if [ $engine = io_uring ]; then
		check "log names io_uring" grep -q "backend I/O: io_uring$" \
			"$IETD_LOG"
	else
		check "log names the thread pool" grep -q \
			"backend I/O: thread pool (io_uring not requested)" \
			"$IETD_LOG"
	fi
	for type in fileio blockio; do
		for bs in 512 4096; do
			roundtrip $engine $type $bs
		done
	done
	roundtrip $engine fileio-dev 512
	# Stores with a disk under them are read, not mapped (map.c).
	[ -b "$fiodev" ] &&
		check "fileio-dev: the device is not mapped" \
			bash -c "! grep -q '$fiodev' /proc/$IETD_PID/maps"
	roundtrip $engine tmpfs 512
	check "tmpfs: reads were sent from the file's mapping" \
		grep -q "$SHM" /proc/"$IETD_PID"/maps
	# Again, over a file now all in memory and rewritten with a pattern
	# first (no holes): the data must still come back whole.
	head -c $SIZE /dev/zero | tr '\0' Z |
		dd of="$SHM" bs=1M conv=notrunc status=none
	roundtrip $engine tmpfs 512 "(all in memory)"
	read -r nrings ncqes <<<"$(ring_stats)"
	if [ $engine = io_uring ]; then
		check "io_uring: rings did the I/O ($nrings rings, $ncqes CQEs)" \
			test "$nrings" -gt 0 -a "$ncqes" -ge 8
	else
		check "threads: no io_uring ring in ietd" test "$nrings" -eq 0
	fi
	check "no I/O errors logged (--io-engine=$engine)" bash -c \
		"! grep -qi 'error' '$IETD_LOG'"
	ietd_stop
	rc=$?
	[ $rc -eq 0 ] && ok "exit 0 (--io-engine=$engine)" ||
		not_ok "exit 0 (--io-engine=$engine)" "$rc"
	IETD_PID=
done
echo "# round trips took $(($(date +%s) - start)) s"

# No io_uring (strace makes io_uring_setup fail, as the sysctl
# kernel.io_uring_disabled=2 would): --io-engine=io_uring refuses to
# start, auto says why it uses the pool.
[ "$VALGRIND" = 1 ] && echo "SKIP: strace on top of valgrind"
if [ "$VALGRIND" != 1 ] && command -v strace >/dev/null; then
	NOURING=(strace -f -o /dev/null -e trace=io_uring_setup
		-e inject=io_uring_setup:error=EPERM)
	IETD_REAL=$IETD
	timeout 20 "${NOURING[@]}" "$IETD_REAL" -f -c "$T/ietd.conf" \
		-a 127.0.0.1 -p "$PORT" --pid-file "$T/ietd.pid" \
		--io-engine=io_uring "${CTL_OPTS[@]}" >"$IETD_LOG" 2>&1
	rc=$?
	check "no io_uring: --io-engine=io_uring exits 1" test $rc -eq 1
	check "no io_uring: --io-engine=io_uring says why" grep -q \
		"io-engine=io_uring: io_uring unavailable: io_uring_setup: Operation not permitted" \
		"$IETD_LOG"
	# ietd_start runs $IETD: a wrapper that runs it under strace.
	printf '#!/bin/sh\nexec %s "$@"\n' "${NOURING[*]} $IETD_REAL" \
		>"$T/ietd-nouring"
	chmod +x "$T/ietd-nouring"
	IETD=$T/ietd-nouring
	if ietd_start; then
		check "no io_uring: auto falls back to the pool and says why" \
			grep -q "backend I/O: thread pool (io_uring unavailable: io_uring_setup: Operation not permitted)" \
			"$IETD_LOG"
		check "no io_uring: auto serves I/O" qemu-img convert -f raw \
			-O raw "$(url fileio-512 0)" "$T/back.bin"
		# IETD_PID is strace's; stop ietd itself, strace follows.
		for p in $(pgrep -P "$IETD_PID"); do
			kill -TERM "$p"
		done
		wait "$IETD_PID"
		IETD_PID=
	else
		not_ok "no io_uring: auto starts"
	fi
	IETD=$IETD_REAL
	rm -f "$T/back.bin"
elif [ "$VALGRIND" != 1 ]; then
	echo "# strace not installed: the no-io_uring cases are skipped"
fi
finish
