#!/bin/bash
# SPDX-License-Identifier: ISC
# Malformed and out-of-sequence PDUs (0420-protocol.py) while a good
# session reads and writes; afterwards ietd still serves discovery.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 64M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:proto
	HeaderDigest None,CRC32C
	DataDigest None,CRC32C
	# Loads, but Yes is what ietd answers (case_in_order_only).
	DataPDUInOrder No
	DataSequenceInOrder No
	Lun 0 Path=$img
CONF
# Twelve more targets make a SendTargets answer longer than 512 bytes.
for i in $(seq -w 1 12); do
	printf 'Target %s:extra-target-with-a-long-name-%s\n\tLun 0 Sectors=2048,Type=nullio\n' \
		"$IQN_BASE" "$i" >> "$T/ietd.conf"
done
ietd_start || { not_ok start; finish; exit 1; }
python3 "$(dirname "$0")/0420-protocol.py" "$PORT" "$IQN_BASE:proto" \
	>"$T/py.out" 2>&1
tap_import "$T/py.out"
check "daemon alive" kill -0 "$IETD_PID"
check "iscsi-ls still lists the target" bash -c \
	"iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '^Target:$IQN_BASE:proto '"
check "iscsi-inq still works" iscsi-inq "$(url proto 0)"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
