#!/bin/bash
# SPDX-License-Identifier: ISC
# Proxmox VE's IET LUN provider (pve-storage, PVE/Storage/LunCmd/Iet.pm,
# "ZFS over iSCSI" with iscsiprovider iet) replayed against ietd: the same
# files read and written, the same ietadm command lines, the same parsing
# of what comes back.  Facts about the provider (read, not copied):
#  - it reads ietd.conf with `cat`, keeps every other target's text, and
#    writes its own target back as two blank lines, "Target NAME", one
#    "\tKey\t\t\tValue" line per target option and one
#    "\tLun N Path=P,Type=blockio" line per LU, then copies the file over
#    ietd.conf (scp) without telling ietd: the live change is made by ietadm;
#  - it finds the tid with `cat /proc/net/iet/volume`, taking the first
#    line that is exactly "tid:N name:IQN" (nothing else on the line);
#  - create_lu: rewrite ietd.conf with the new LU, then
#      ietadm --op new --tid=N --lun=L --params Path=P,Type=blockio
#    (--params as a separate word, Path first, no trailing comma); the
#    LU number is the lowest free one, starting at 0; on a non-zero exit it
#    drops the LU from ietd.conf again and reports ietadm's stderr;
#  - modify_lu (after a zvol resize): ietadm --op delete --tid=N --lun=L,
#    then the same --op new line again, so the LU is reopened at its new
#    size; ietd.conf is not touched;
#  - delete_lu: ietadm --op delete --tid=N --lun=L, then rewrite ietd.conf
#    without the LU.  It only ever looks at exit statuses, never parses
#    ietadm's output.
# The provider's paths differ from ietd's in one place: /proc/net/iet/volume
# is ietd's status directory (the README gives the one-line change).
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$IETD")" && pwd)
[ -x "$BUILD/ietadm" ] || BUILD=$(cd "$(dirname "$0")/../../build" && pwd)
IETADM=$BUILD/ietadm
export IETD_CONTROL=$T/ctl.sock

TGT=iqn.2001-04.com.example:tank
OTHER=$IQN_BASE:Other
# The zvols: files here (ietd's blockio takes a regular file too).
zv1=$(make_image vm-100-disk-0 16M)
zv2=$(make_image vm-101-disk-0 8M)
oth=$(make_image other.img 4M)

# ietd.conf as the provider's set-up notes have it, plus a target the
# provider must leave alone.
cat >"$T/ietd.conf" <<EOF
Target $OTHER
	Lun 0 Path=$oth,Type=fileio
Target $TGT
	Alias tank
EOF
ietd_start || {
	not_ok start
	finish
	exit 1
}

# tid_of: the provider's reading of the volume file.
tid_of() {
	sed -nE "s/^[[:space:]]*tid:([0-9]+)[[:space:]]+name:([[:alnum:]_:.-]+)[[:space:]]*$/\\1 \\2/p" \
		"$T/status/volume" | awk -v t="$TGT" '$2 == t { print $1; exit }'
}
# write_conf LUN-LINE...: the provider's rewrite of ietd.conf: the other
# targets' text (trimmed), then its own target, options and LUs.
write_conf() {
	local l
	{
		printf 'Target %s\n\tLun 0 Path=%s,Type=fileio' "$OTHER" "$oth"
		printf '\n\nTarget %s\n\tAlias\t\t\ttank\n' "$TGT"
		for l in "$@"; do printf '\tLun %s\n' "$l"; done
	} >"$T/ietd.conf.new"
	mv "$T/ietd.conf.new" "$T/ietd.conf"
}
# lu_line L: the provider's LU line in the volume file (lun, blocks, path).
lu_line() {
	awk -v t="$TGT" -v l="lun:$1" '
		/^tid:/ { in_t = ($2 == "name:" t) ; next }
		in_t && $1 == l { print $1, $5, $7 }' "$T/status/volume"
}
# Each provider command: runs it, logs it, keeps stderr for the message.
run() {
	echo "== $*" >>"$T/pve.log"
	"$@" >>"$T/pve.log" 2>"$T/pve.err"
}

tid=$(tid_of)
check "the volume file gives the target's tid as the provider parses it" \
	test -n "$tid"
check "ietd.conf is readable as the provider reads it" \
	grep -qE "^[[:space:]]*Target[[:space:]]*$TGT[[:space:]]*$" "$T/ietd.conf"

# create_lu vm-100-disk-0: lowest free LU number is 0.
write_conf "0 Path=$zv1,Type=blockio"
check "create_lu: ietadm --op new --lun=0 --params Path=..,Type=blockio" \
	run "$IETADM" --op new --tid="$tid" --lun=0 --params \
	"Path=$zv1,Type=blockio"
check "create_lu: LU 0 in the volume file, 16 MiB, its path" \
	test "$(lu_line 0)" = "lun:0 blocks:32768 path:$zv1"
check "create_lu: iotype is blockio as asked" \
	grep -q "lun:0 .*iotype:blockio .*path:$zv1\$" "$T/status/volume"

# create_lu vm-101-disk-0: LU 1.
write_conf "0 Path=$zv1,Type=blockio" "1 Path=$zv2,Type=blockio"
check "create_lu: second LU at --lun=1" \
	run "$IETADM" --op new --tid="$tid" --lun=1 --params \
	"Path=$zv2,Type=blockio"
check "create_lu: LU 1 in the volume file, 8 MiB" \
	test "$(lu_line 1)" = "lun:1 blocks:16384 path:$zv2"
check "an initiator sees LU 1 at 8 MiB" bash -c \
	"iscsi-readcapacity16 'iscsi://127.0.0.1:$PORT/$TGT/1' | grep -q 'Total size:8388608'"

# A failing create (a path that does not exist): the provider relies on a
# non-zero exit and a message on stderr, then rolls ietd.conf back.
write_conf "0 Path=$zv1,Type=blockio" "1 Path=$zv2,Type=blockio" \
	"2 Path=$T/missing,Type=blockio"
check "create_lu of a missing zvol: ietadm exits non-zero" \
	bash -c "! '$IETADM' --op new --tid='$tid' --lun=2 --params 'Path=$T/missing,Type=blockio' 2>'$T/pve.err'"
check "create_lu of a missing zvol: a message on stderr" test -s "$T/pve.err"
check "create_lu of a missing zvol: no LU 2" test -z "$(lu_line 2)"
write_conf "0 Path=$zv1,Type=blockio" "1 Path=$zv2,Type=blockio"

# modify_lu after "zfs set volsize", done while the VM runs: a session
# stays logged in to LU 0 across the delete and the new.
TESTDIR="$(cd "$(dirname "$0")" && pwd)" python3 - "$PORT" "$TGT" "$T" \
	>"$T/py.out" 2>&1 <<'PY' &
import os, struct, sys, time
sys.path.insert(0, os.environ["TESTDIR"])
import protocol_tester as pt

port, tgt, tdir = sys.argv[1:4]


def capacity():
    cdb = bytes([0x9E, 0x10]) + bytes(8) + struct.pack(">I", 32) + bytes(2)
    for _ in range(8):  # unit attentions first, then the answer
        st, data, _ = c.scsi(cdb, lun=0, read_len=32)
        if st == 0:
            last, bs = struct.unpack(">QI", data[:12])
            return (last + 1) * bs
    raise RuntimeError("READ CAPACITY(16) keeps failing")


c = pt.Connection(port=int(port), timeout=10.0, isid=b"\x80" + os.urandom(5))
c.login("iqn.2026-11.org.example:pve-vm100", tgt)
print("before", capacity(), flush=True)
open(os.path.join(tdir, "ready"), "w").close()
for _ in range(200):
    if os.path.exists(os.path.join(tdir, "go")):
        break
    time.sleep(0.05)
print("after", capacity(), flush=True)
st, data, _ = c.scsi(bytes([0x28, 0, 0, 0, 0xFF, 0xF0, 0, 0, 16, 0]), lun=0,
                     read_len=16 * 512)
print("read-end", st, len(data), flush=True)
c.logout()
PY
py=$!
for _ in $(seq 100); do
	[ -e "$T/ready" ] && break
	sleep 0.05
done
truncate -s 32M "$zv1"
check "modify_lu: ietadm --op delete --lun=0" \
	run "$IETADM" --op delete --tid="$tid" --lun=0
check "modify_lu: LU 0 gone in between" test -z "$(lu_line 0)"
check "modify_lu: ietadm --op new --lun=0 again" \
	run "$IETADM" --op new --tid="$tid" --lun=0 --params \
	"Path=$zv1,Type=blockio"
check "modify_lu: LU 0 back at its new size, 32 MiB" \
	test "$(lu_line 0)" = "lun:0 blocks:65536 path:$zv1"
touch "$T/go"
wait "$py"
check "a session logged in across modify_lu: saw 16 MiB before" \
	grep -qx "before 16777216" "$T/py.out"
check "the same session sees 32 MiB after" grep -qx "after 33554432" "$T/py.out"
check "the same session reads the grown end" \
	grep -qx "read-end 0 8192" "$T/py.out"
check "an initiator sees LU 0 at 32 MiB" bash -c \
	"iscsi-readcapacity16 'iscsi://127.0.0.1:$PORT/$TGT/0' | grep -q 'Total size:33554432'"

# delete_lu vm-101-disk-0.
check "delete_lu: ietadm --op delete --lun=1" \
	run "$IETADM" --op delete --tid="$tid" --lun=1
write_conf "0 Path=$zv1,Type=blockio"
check "delete_lu: LU 1 gone, LU 0 kept" \
	test -z "$(lu_line 1)" -a -n "$(lu_line 0)"
check "the other target is untouched" \
	grep -q "lun:0 .*path:$oth\$" "$T/status/volume"

# The file the provider wrote is one ietd reads: -t accepts it, a reload
# changes nothing, a restart brings back the same LUs (the tid may differ:
# the provider reads it again every time).
check "ietd -t accepts the provider's ietd.conf" \
	"$IETD" -t -c "$T/ietd.conf" --initiators-allow "$T/initiators.allow" \
	--initiators-deny "$T/initiators.deny" --targets-allow "$T/targets.allow"
before=$(cat "$T/status/volume")
kill -HUP "$IETD_PID"
for _ in $(seq 50); do
	grep -q "reload: configuration applied" "$IETD_LOG" && break
	sleep 0.1
done
check "reload of the provider's ietd.conf: volume file unchanged" \
	test "$(cat "$T/status/volume")" = "$before"
check "ietd stops cleanly" ietd_stop
ietd_start || not_ok restart
tid=$(tid_of)
check "restart: the volume file gives the tid again" test -n "$tid"
check "restart: LU 0 from the provider's ietd.conf, 32 MiB" \
	test "$(lu_line 0)" = "lun:0 blocks:65536 path:$zv1"
check "restart: no LU 1" test -z "$(lu_line 1)"
check "restart: iotype blockio kept" \
	grep -q "lun:0 .*iotype:blockio .*path:$zv1\$" "$T/status/volume"

# delete_lu of the last LU leaves the target with no LU, as in IET.
check "delete_lu of the last LU" \
	run "$IETADM" --op delete --tid="$tid" --lun=0
write_conf
check "target still listed with no LU" \
	grep -q "^tid:$tid name:$TGT\$" "$T/status/volume"
check "no LU left on the target" test -z "$(lu_line 0)"

ietd_stop
finish
