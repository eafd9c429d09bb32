#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# SANITIZE (issue 19): OVERWRITE with a pattern read back, BLOCK ERASE,
# a second session seeing NOT READY, SANITIZE IN PROGRESS with progress
# while one runs, the IMMED 0 command answered at the end or at once when
# aborted (the sanitize goes on), refusal on a read-only LU and under a
# reservation (0845-sanitize.py); and a shutdown stops a long sanitize at
# once, saying so. A few seconds.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm/ietd-sanitize-$$.img
trap 'rm -f "$SHM"; _cleanup' EXIT
truncate -s 256M "$SHM"
rw=$(make_image rw.img 64M)
ro=$(make_image ro.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:sanitize
	Lun 0 Path=$rw,Type=fileio,IOMode=wb
	Lun 1 Path=$ro,Type=fileio,IOMode=ro
	Lun 2 Path=$SHM,Type=fileio,IOMode=wb
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 120 python3 "$(dirname "$0")/0845-sanitize.py" "$PORT" \
	"$IQN_BASE:sanitize" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "tester finished"
check "daemon alive" kill -0 "$IETD_PID"
check "a sanitize logged" grep -q "SANITIZE OVERWRITE of [0-9]* bytes done" "$IETD_LOG"
# 31 passes over 256 MiB (8 GiB of writes, seconds): the stop comes first.
TESTDIR=$(dirname "$0") python3 - "$PORT" "$IQN_BASE:sanitize" <<'PY' >"$T/long.out" 2>&1
import os, struct, sys
sys.path.insert(0, os.environ["TESTDIR"])
import protocol_tester as pt
c = pt.Connection(port=int(sys.argv[1]), timeout=10.0)
c.login("iqn.2026-11.org.ietd.test:sanitize-long", sys.argv[2])
pt.clear_unit_attention(c, lun=2)
params = bytes([31, 0, 0, 1, 0x77])
st, _, _ = c.scsi(struct.pack(">BBBBBBBHB", 0x48, 0x81, 0, 0, 0, 0, 0,
                              len(params), 0), lun=2, write_data=params)
print("SANITIZE IMMED status %r" % st)
c.close()
PY
check "long sanitize started" grep -q "status 0$" "$T/long.out"
start=$(date +%s%N)
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 5000 ] && ok "shutdown does not wait for the sanitize" ||
	not_ok "shutdown does not wait for the sanitize" "${ms} ms"
check "stopped sanitize logged" grep -q "stopped by the shutdown" "$IETD_LOG"
finish
