#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Persistent reservations through restarts (ietd issue 19): register and
# reserve with APTPL, SPEC_I_PT and ALL_TG_PT registrations, kill -9,
# start again on the same --state-dir: the same keys, reservation and
# full status; again with the LU renumbered (another tid, another LUN,
# the same ScsiId) and once more by a SIGHUP reload; REGISTER AND MOVE and PREEMPT AND ABORT; then the
# state file flipped, cut short, replaced by junk and by a FIFO: each
# named in the log with what is wrong, and the LU starts empty; 30
# pipelined APTPL changes are saved by one writer thread. About 15 s.
. "$(dirname "$0")/lib.sh"

py="$(dirname "$0")/0815-pr-aptpl.py"
img=$(make_image pr.img 16M)
other=$(make_image other.img 4M)
state=$T/state
saved=$T/saved.json
conf1() {
	cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:pr
	Lun 0 Path=$img,Type=fileio,ScsiId=pr-lu-1
CONF
}
# Renumbered: another target first (so another tid), another LUN.
conf2() {
	cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:other
	Lun 0 Path=$other,Type=fileio
Target $IQN_BASE:pr
	Lun 3 Path=$img,Type=fileio,ScsiId=pr-lu-1
CONF
}
# Reloaded (SIGHUP) with the LUN renumbered once more.
conf3() {
	sed -i "s/Lun 3 /Lun 5 /" "$T/ietd.conf"
}
start() {
	ietd_start --state-dir="$state" "$@" || {
		not_ok "ietd starts" "$(tail -n 5 "$IETD_LOG")"
		finish
		exit 1
	}
}
crash() {
	kill -9 "$IETD_PID"
	wait "$IETD_PID" 2>/dev/null
	IETD_PID=
}
phase() { # phase NAME LUN
	timeout 60 python3 "$py" "$1" "$PORT" "$IQN_BASE:pr" "$2" "$saved" \
		"$img" >"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "$1 phase"
}

conf1
start
phase setup 0
files=$(ls "$state" 2>/dev/null)
if [[ $files =~ ^pr-[0-9a-f]{16}\.state$ ]]; then
	ok "one state file, named by hex of the LU's NAA designator"
else
	not_ok "one state file, named by hex of the LU's NAA designator" "$files"
fi
mode=$(stat -c %a "$state")
[ "$mode" = 700 ] && ok "state dir made with mode 0700" ||
	not_ok "state dir made with mode 0700" "$mode"
file=$state/$files

crash
start
phase check 0
check "restore is logged" grep -q "restored from $file" "$IETD_LOG"

crash
conf2
start
phase check 3
conf3
kill -HUP "$IETD_PID"
for i in $(seq 100); do
	grep -q "reload: configuration applied" "$IETD_LOG" && break
	sleep 0.1
done
check "reload applied" grep -q "reload: configuration applied" "$IETD_LOG"
phase check 5
phase move 5
phase abort 5
crash

# Corruptions: each refused with its reason, and the LU starts empty.
cp "$file" "$T/good.state"
corrupt() { # corrupt NAME LOG-REGEX COMMAND...
	local name=$1 re=$2
	shift 2
	cp "$T/good.state" "$file"
	"$@"
	start
	if grep -qE "state file $file: $re; the LU starts with no reservations" \
		"$IETD_LOG"; then
		ok "$name: logged"
	else
		not_ok "$name: logged" "$(grep -i 'state file' "$IETD_LOG")"
	fi
	phase empty 5
	check "$name: ietd still serves" kill -0 "$IETD_PID"
	crash
}
flip() {
	python3 - "$file" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(b)
PY
}
corrupt "a flipped byte" "checksum mismatch \\(torn or corrupted\\)" flip
corrupt "a truncated file" "truncated: shorter than its header says" \
	truncate -s -7 "$file"
corrupt "a torn header" "truncated: shorter than its header" \
	truncate -s 9 "$file"
corrupt "junk" "not an ietd state file \\(bad magic\\)" \
	dd if=/dev/urandom of="$file" bs=64 count=2 status=none
fifo() { rm -f "$file" && mkfifo "$file"; }
corrupt "a FIFO in its place (no hang)" "not a regular file" fifo
rm -f "$file"

# APTPL cleared: the file goes (SPC-4 5.13.5).
rm -rf "$state"
conf1
start
timeout 60 python3 "$py" aptpl-off "$PORT" "$IQN_BASE:pr" 0 "$state" \
	"$img" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "aptpl-off phase"
phase table 0
# Pipelined APTPL changes: one writer thread, not one per command.
timeout 60 python3 "$py" burst "$PORT" "$IQN_BASE:pr" 0 "$IETD_PID" \
	"$img" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "burst phase"
ietd_stop

# With -u the state dir is made at start (still root) for that user,
# whose ietd then saves and removes the file in it.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	state=$T/userstate
	start -u nobody
	check "-u: state dir made for the user" \
		test "$(stat -c %U:%a "$state")" = nobody:700
	timeout 60 python3 "$py" aptpl-off "$PORT" "$IQN_BASE:pr" 0 "$state" \
		"$img" >"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "-u aptpl-off phase"
	ietd_stop
fi

# A state dir that cannot be made: the write fails, said in the log and
# to the initiator; ietd serves on.
state=$T/not-a-dir
: >"$state"
start
phase unwritable 0
check "failed save is logged" grep -q "persistent reservations: cannot save $state/pr-" "$IETD_LOG"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
finish
