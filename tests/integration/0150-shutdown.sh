#!/bin/bash
# SPDX-License-Identifier: ISC
# SIGTERM is an orderly shutdown: a connected initiator is asked to log
# out, and a write-back LU's acknowledged writes are flushed to the
# medium (fdatasync seen by strace) before ietd exits 0.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "# strace missing"; not_ok "strace present"; finish; exit 1; }

img=$(make_image wb.img 64M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:wb
	Lun 0 Path=$img,Type=fileio,IOMode=wb
CONF
PORT=$(free_port)
# LeakSanitizer cannot work under ptrace: in a SAN=1 build it would fail
# the exit status; leaks are checked by every other test.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
strace -f -qq -e trace=fdatasync,fsync -o "$T/strace.out" \
	"${IETD_RUN[@]}" "$IETD" -f -c "$T/ietd.conf" -a 127.0.0.1 -p "$PORT" --pid-file "$T/ietd.pid" \
	--initiators-allow "$T/none" --initiators-deny "$T/none" \
	--targets-allow "$T/none" "${CTL_OPTS[@]}" -d 1 >"$IETD_LOG" 2>&1 &
spid=$!
track_pid $spid
wait_port 127.0.0.1 "$PORT" || { not_ok start "$(cat "$IETD_LOG")"; finish; exit 1; }
# The port can answer before the pid file is written (slowly, valgrind).
for i in $(seq $((50 * VG_SLOW))); do
	ipid=$(cat "$T/ietd.pid" 2>/dev/null)
	[ -n "$ipid" ] && break
	sleep 0.1
done

# A session that stays connected, and writes that are not FUA.
mkfifo "$T/qio.in"
qemu-io -f raw "$(url wb 0)" <"$T/qio.in" >"$T/qio.out" 2>&1 &
qio=$!
track_pid $qio
exec 7>"$T/qio.in"
echo "write -P 0x6b 0 1M" >&7
for i in $(seq 100); do grep -q "wrote 1048576" "$T/qio.out" && break; sleep 0.1; done
check "write acknowledged" grep -q "wrote 1048576" "$T/qio.out"
: >"$T/strace.mark"
nsync_before=$(grep -c "fdatasync\|fsync" "$T/strace.out")

kill -TERM "$ipid"
wait $spid; rc=$?
[ $rc -eq 0 ] && ok "SIGTERM with a session: exit 0" || not_ok "SIGTERM with a session: exit 0" "$rc"
nsync_after=$(grep -c "fdatasync\|fsync" "$T/strace.out")
[ "$nsync_after" -gt "$nsync_before" ] && ok "write-back data flushed on shutdown" ||
	not_ok "write-back data flushed on shutdown" "$(cat "$T/strace.out")"
# The initiator answered the Async logout request with a Logout (reason
# 0: close the session), which ietd traces at debug level 1.
check "the initiator was asked to log out and did" grep -q "logout reason 0 response 0" "$IETD_LOG"
check "data on disk after shutdown" python3 -c "
import sys
d = open(sys.argv[1], 'rb').read(1048576)
sys.exit(d != b'\\x6b' * 1048576)" "$img"
exec 7>&-
finish
