#!/bin/bash
# SPDX-License-Identifier: ISC
# Reads sent from a tmpfs file's page cache against concurrent writes to
# the same blocks (0620-mapped-reads.py): no READ may see a WRITE
# half-done. Also checks that the reads were in fact sent from the
# file's mapping. About 10 s.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-test-$$.img
trap 'rm -f "$SHM"; _cleanup' EXIT
truncate -s 16M "$SHM"
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:mapped
	Lun 0 Path=$SHM,Type=fileio,IOMode=wb
CONF
ietd_start || { not_ok start; finish; exit 1; }
timeout 120 python3 "$(dirname "$0")/0620-mapped-reads.py" "$PORT" \
	"$IQN_BASE:mapped" "${MAPPED_SECONDS:-8}" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "reads were sent from the file's mapping" \
	grep -q "$SHM" /proc/"$IETD_PID"/maps
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
