#!/bin/bash
# SPDX-License-Identifier: ISC
# SIGHUP: a target added to ietd.conf appears in discovery while a session
# on another target keeps reading and writing; an invalid file is refused
# as a whole, and so is one whose LUN cannot be opened; a removed target
# asks its initiator to log out and goes once that session has ended.
. "$(dirname "$0")/lib.sh"

img1=$(make_image one.img 64M)
img2=$(make_image two.img 64M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:one
	Lun 0 Path=$img1
CONF
cp "$T/ietd.conf" "$T/one.conf"
ietd_start || { not_ok start; finish; exit 1; }

# A long-lived session: qemu-io reading commands from a fifo.
mkfifo "$T/qio.in"
qemu-io -f raw "$(url one 0)" <"$T/qio.in" >"$T/qio.out" 2>&1 &
qio=$!
track_pid $qio
exec 7>"$T/qio.in"
# qio_run CMD EXPECT: send a command, wait for EXPECT in the output.
qio_run() {
	echo "$1" >&7
	for i in $(seq 100); do
		grep -q "$2" "$T/qio.out" && return 0
		sleep 0.1
	done
	return 1
}
check "session: write before reload" qio_run "write -P 0x5a 0 64k" "wrote 65536"

cat >> "$T/ietd.conf" <<CONF
Target $IQN_BASE:two
	Lun 0 Path=$img2
CONF
kill -HUP "$IETD_PID"
for i in $(seq 50); do grep -q "reload: configuration applied" "$IETD_LOG" && break; sleep 0.1; done
check "SIGHUP: new target in discovery" bash -c "iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '$IQN_BASE:two'"
check "SIGHUP: new target serves I/O" iscsi-readcapacity16 "$(url two 0)"
check "session survives the reload: read back" qio_run "read -P 0x5a 0 64k" "read 65536"
grep -q "Pattern verification failed" "$T/qio.out" &&
	not_ok "session data intact" "$(cat "$T/qio.out")" || ok "session data intact"
check "session: write after reload" qio_run "write -P 0x33 64k 64k" "wrote 65536/65536 bytes at offset 65536"

# An invalid file is refused whole; what runs stays.
cp "$T/ietd.conf" "$T/good.conf"
printf 'Target %s:three\n\tLun 0 Path=/no/such/file\n\tBogusKey 1\n' "$IQN_BASE" >> "$T/ietd.conf"
kill -HUP "$IETD_PID"
for i in $(seq 50); do grep -q "the running configuration stays" "$IETD_LOG" && break; sleep 0.1; done
check "invalid reload: refused with file:line" grep -q "ietd.conf:[0-9]*: " "$IETD_LOG"
check "invalid reload: running config stays" bash -c "iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '$IQN_BASE:two'"
check "invalid reload: nothing of it applied" bash -c "! iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '$IQN_BASE:three'"

# All or nothing: a reload whose LUN cannot be opened (its Path now a
# directory) changes nothing, not even the parts that could be applied,
# and says why with the -c file and line. Before, LUN 0 of target two
# went, target three came, "configuration applied" was logged and the
# volume file listed a phantom "lun:0" without "blocks:".
mkdir "$T/adir"
img3=$(make_image three.img 16M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:one
	Lun 0 Path=$img1
Target $IQN_BASE:two
	Lun 0 Path=$T/adir
Target $IQN_BASE:three
	Lun 0 Path=$img3
CONF
applied=$(grep -c "reload: configuration applied" "$IETD_LOG")
kill -HUP "$IETD_PID"
for i in $(seq 50); do grep -q "nothing was changed" "$IETD_LOG" && break; sleep 0.1; done
check "unopenable LUN: reload refused, logged with the -c file and line" grep -q \
	"$T/ietd.conf:4: target $IQN_BASE:two lun 0: cannot open $T/adir: Is a directory" "$IETD_LOG"
check "unopenable LUN: nothing was changed" grep -q \
	"reload: .*; nothing was changed, the running configuration stays" "$IETD_LOG"
[ "$(grep -c "reload: configuration applied" "$IETD_LOG")" = "$applied" ] &&
	ok "unopenable LUN: \"configuration applied\" not logged" ||
	not_ok "unopenable LUN: \"configuration applied\" not logged" "$(tail -n 5 "$IETD_LOG")"
check "unopenable LUN: the running LUN 0 stays" iscsi-readcapacity16 "$(url two 0)"
check "unopenable LUN: the valid new target is not added either" bash -c \
	"! iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '$IQN_BASE:three'"
sleep 0.5
if grep -q "lun:0" "$T/status/volume" && ! grep "lun:" "$T/status/volume" | grep -qv "blocks:"; then
	ok "unopenable LUN: the volume file lists no LUN without blocks"
else
	not_ok "unopenable LUN: the volume file lists no LUN without blocks" "$(cat "$T/status/volume")"
fi
check "session survives the refused reload" qio_run "read -P 0x33 64k 64k" "read 65536/65536 bytes at offset 65536"

# Remove target one while its session runs: its initiator is asked to log
# out (Async Message), and the target goes with that last session.
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:two
	Lun 0 Path=$img2
CONF
kill -HUP "$IETD_PID"
for i in $(seq 50); do grep -q "need to shutdown target $IQN_BASE:one" "$IETD_LOG" && break; sleep 0.1; done
check "removed target: logged as waiting for its session" grep -q "need to shutdown target $IQN_BASE:one" "$IETD_LOG"
check "removed target: its session asked to log out" grep -q "target 1 removed: asked 1 session(s) to log out" "$IETD_LOG"
for i in $(seq 100); do grep -q "($IQN_BASE:one) removed" "$IETD_LOG" && break; sleep 0.1; done
check "removed target: gone once the initiator logged out" grep -q "($IQN_BASE:one) removed" "$IETD_LOG"
check "removed target: hidden from discovery" bash -c "! iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '$IQN_BASE:one'"
check "the other target still serves" iscsi-readcapacity16 "$(url two 0)"
# The initiator keeps trying to log in again to the target that is gone;
# stop it by pid.
exec 7>&-
kill -TERM $qio 2>/dev/null
wait $qio 2>/dev/null
check "removed target: login refused" bash -c "! iscsi-inq '$(url one 0)'"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0 after reloads" || not_ok "exit 0 after reloads" "$rc"
finish
