#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Copy offload (ietd issue 19): EXTENDED COPY between two LUs and within
# one, checked by sha256 of the images; a 1 GiB copy stopped half-way by
# ABORT TASK and by another session's LU RESET, leaving whole 1 MiB
# chunks; hostile parameter lists and a CSCD naming another tenant's LU
# refused with the right sense; a copy whose connection drops stops, and
# so does one whose destination another session reserves or sanitizes
# mid-copy (0800-xcopy.py). About 15 s.
. "$(dirname "$0")/lib.sh"

src=$(make_image src.img 64M)
dst=$(make_image dst.img 64M)
ro=$(make_image ro.img 1M)
big=$(make_image big.img 4M)
b=$(make_image b.img 8M)
head -c 64M /dev/urandom >"$src"
head -c 64M /dev/urandom >"$dst"
yes TENANT-B-SECRET | head -c 8M >"$b"
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:tenant-a
	Lun 0 Path=$src,Type=fileio
	Lun 1 Path=$dst,Type=fileio
	Lun 2 Path=$ro,Type=fileio,IOMode=ro
	Lun 3 Path=$big,Type=fileio,BlockSize=4096
Target $IQN_BASE:tenant-b
	Lun 0 Path=$b,Type=fileio
CONF
# Tenant A's initiator may log in to its own target only.
cat >"$T/initiators.allow" <<ALLOW
$IQN_BASE:tenant-a iqn.2026-12.org.example:tenant-a
$IQN_BASE:tenant-b iqn.2026-12.org.example:tenant-b
ALLOW
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 120 python3 "$(dirname "$0")/0800-xcopy.py" "$PORT" \
	"$IQN_BASE:tenant-a" "$IQN_BASE:tenant-b" "$src" "$dst" "$b" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out" $? "xcopy tester"
check "a refused CSCD is logged with its reason" \
	grep -q "EXTENDED COPY from .* refused: CSCD names no LU of this target" "$IETD_LOG"
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
finish
