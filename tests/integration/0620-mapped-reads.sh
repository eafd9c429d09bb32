#!/bin/bash
# SPDX-License-Identifier: ISC
# Reads sent from a tmpfs file's page cache against concurrent writes to
# the same blocks (0620-mapped-reads.py): no READ may see a WRITE
# half-done. Also checks that the reads were in fact sent from the
# file's mapping. The same again for fileio on a loop device (a block
# device served through its page cache, read rather than mapped: on such
# stores the mapping measured slower) when one can be had. About 15 s.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-test-$$.img
LOOP=
_mapped_cleanup() {
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	rm -f "$SHM"
	_cleanup
}
trap _mapped_cleanup EXIT
truncate -s 16M "$SHM"
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:mapped
	Lun 0 Path=$SHM,Type=fileio,IOMode=wb
CONF
dev_img=$(make_image dev.img 16M)
if LOOP=$(losetup -f --show "$dev_img" 2>/dev/null) && [ -b "$LOOP" ]; then
	cat >>"$T/ietd.conf" <<CONF
Target $IQN_BASE:mapped-dev
	Lun 0 Path=$LOOP,Type=fileio,IOMode=wb
CONF
else
	LOOP=
	echo "SKIP: fileio on a block device (no loop device here)"
fi
ietd_start || { not_ok start; finish; exit 1; }
timeout 120 python3 "$(dirname "$0")/0620-mapped-reads.py" "$PORT" \
	"$IQN_BASE:mapped" "${MAPPED_SECONDS:-8}" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "reads were sent from the file's mapping" \
	grep -q "$SHM" /proc/"$IETD_PID"/maps
if [ -n "$LOOP" ]; then
	timeout 120 python3 "$(dirname "$0")/0620-mapped-reads.py" "$PORT" \
		"$IQN_BASE:mapped-dev" "${MAPPED_SECONDS:-5}" >"$T/py.out" 2>&1
	tap_import "$T/py.out" $? "tester finished (block device)"
	check "the device is read, not mapped" \
		bash -c "! grep -q '$LOOP' /proc/$IETD_PID/maps"
fi
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
