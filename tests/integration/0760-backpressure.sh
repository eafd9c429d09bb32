#!/bin/bash
# SPDX-License-Identifier: ISC
# Peers that send and never read, and per-PDU bounds (0760-backpressure.py),
# while a good session writes and reads back verified data:
#  - two discovery sessions flood NOP-Outs with 8 KiB of data and
#    SendTargets Text Requests without reading: ietd stops reading them
#    (ietd.8: 1 MiB queued per connection), its VmRSS grows by less than
#    32 MiB (not checked for a sanitizer build), every echo arrives once
#    the NOP flooder reads, and the Text flooder that never reads is
#    dropped within 35 s (ietd.8: 30 s without taking a byte);
#  - data thrown away on two event threads at once (ietd -T 2) with
#    DataDigest: no spurious data digest error;
#  - a 32-byte CDB in an Extended CDB AHS is answered, a malformed AHS
#    rejected;
#  - endless Login PDUs or rounds end the login with 0x0200, and a Text
#    Request continued over 128 PDUs or 64 KiB gets a Reject.
# About 40 seconds (the stall bound).
. "$(dirname "$0")/lib.sh"

PY="$(dirname "$0")/0760-backpressure.py"
vimg=$(make_image verify.img 16M)
{
	cat <<CONF
Target $IQN_BASE:verify
	Lun 0 Path=$vimg,Type=fileio
Target $IQN_BASE:digest
	DataDigest CRC32C,None
	MaxRecvDataSegmentLength 262144
	Lun 0 Sectors=2048,Type=nullio
CONF
	# A SendTargets=All answer of about 8 KiB.
	for i in $(seq -w 1 64); do
		printf 'Target %s:a-target-with-a-rather-long-name-%s\n\tLun 0 Sectors=2048,Type=nullio\n' \
			"$IQN_BASE" "$i"
	done
} >"$T/ietd.conf"

# ASan keeps freed memory in quarantine: no RSS bound for that build.
grep -q __asan_init "$IETD" && export BACKPRESSURE_SANITIZER=1
# Two event threads: the two digest sessions land on one each.
ietd_start -T 2 || { not_ok start; finish; exit 1; }
timeout 120 python3 "$PY" "$PORT" "$IETD_PID" "$IQN_BASE:verify" \
	"$IQN_BASE:digest" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? 0760-backpressure.py
check "daemon alive" kill -0 "$IETD_PID"
check "the send stall timeout is logged" grep -q \
	"peer not reading, nothing sent for 30 seconds: closing" "$IETD_LOG"
check "the Login PDU bound is logged" grep -q \
	"login by .* failed: more than 128 Login PDUs" "$IETD_LOG"
check "the Text Request bounds are logged" bash -c \
	"grep -q 'Text Request continued over more than 128 PDUs' '$IETD_LOG' &&
	 grep -q 'Text Request continued over more than 65536 bytes' '$IETD_LOG'"
check "the malformed AHS is logged" grep -q "malformed AHS" "$IETD_LOG"
check "iscsi-inq still works" iscsi-inq "$(url verify 0)"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
finish
