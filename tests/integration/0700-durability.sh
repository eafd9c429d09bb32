#!/bin/bash
# SPDX-License-Identifier: ISC
# Acknowledged writes survive SIGKILL of ietd, and dropped connections
# never leave a GOOD write missing (0700-durability.py does the I/O).
#
# Two fileio LUNs on files in $T (a real file system): IOMode=wt and
# IOMode=wb. Each round: connections are cut with writes in flight (reset
# with commands outstanding; Data-Out cut mid-data and mid-header), then
# one writer per LUN keeps 32 writes in flight (FUA writes, plain writes,
# SYNCHRONIZE CACHE) and at a random moment the test SIGKILLs ietd by
# pid, restarts it on the same files and checks every sector, read
# through iSCSI and straight from the file: it holds the newest write
# acknowledged as durable or a later one that was sent (never a cut-off
# write, never torn data). Durable means: wt, any GOOD write; wb, a FUA
# write's GOOD, or a plain write's GOOD followed by a SYNCHRONIZE CACHE
# sent after it that returned GOOD.
#
# SIGKILL ends the process, not the machine: the page cache survives, so
# the kill checks ietd's own ordering (no GOOD before the data reached the
# kernel), not the disk's. Whether a durable GOOD waited for its data
# flush the writer sees in the page flags (run as root): the pages of a
# write acknowledged as durable must be clean when its GOOD arrives (see
# 0700-durability.py). A power cut needs a VM or dm-log-writes; not done
# here.
#
# DURABILITY_ROUNDS (default 3, about 15 s) sets the number of kill
# rounds; the long variant is DURABILITY_ROUNDS=50 (a few minutes).
. "$(dirname "$0")/lib.sh"

ROUNDS=${DURABILITY_ROUNDS:-3}
PY="$(dirname "$0")/0700-durability.py"
wt=$(make_image wt.img 4M)
wb=$(make_image wb.img 4M)
# The region written, 4 KiB at a time: small folios the page check can
# judge one by one (a write into a hole may make a large one).
for f in "$wt" "$wb"; do
	dd if=/dev/zero of="$f" bs=4k count=256 conv=notrunc,fsync status=none
done
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:dur-wt
	Lun 0 Path=$wt,Type=fileio,IOMode=wt
Target $IQN_BASE:dur-wb
	Lun 0 Path=$wb,Type=fileio,IOMode=wb
CONF
SPECS=("$IQN_BASE:dur-wt,$wt,$T/wt.json,wt"
	"$IQN_BASE:dur-wb,$wb,$T/wb.json,wb")

# Turn the helper's "ok - " / "not ok - " lines into ours.
run_py() {
	python3 "$PY" "$@" >"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "$1 helper"
}

ietd_start || { not_ok start; finish; exit 1; }
start=$SECONDS
for r in $(seq 1 "$ROUNDS"); do
	run_py drop "$PORT" "${SPECS[@]}"
	check "round $r: daemon alive after dropped connections" \
		kill -0 "$IETD_PID"
	pid=$IETD_PID
	# Braces: bash's "Killed" job notice goes to /dev/null, not the log.
	{
		run_py write "$PORT" "$pid" "$r" "${SPECS[@]}"
		wait "$pid"
		echo $? >"$T/rc"
	} 2>/dev/null
	rc=$(cat "$T/rc")
	IETD_PID=
	[ $rc -eq 137 ] && ok "round $r: ietd died of SIGKILL" ||
		not_ok "round $r: ietd died of SIGKILL" "exit status $rc"
	ietd_start || { not_ok "round $r: restart"; break; }
	run_py verify "$PORT" "${SPECS[@]}"
done
echo "# $ROUNDS rounds in $((SECONDS - start)) s"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
