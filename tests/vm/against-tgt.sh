#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Run the Linux-initiator guest test against the Debian tgt target (tgtd)
# on a private port and control socket: the reference the VM harness was
# proven against, and a baseline to compare ietd's results with.
#
#   tests/vm/against-tgt.sh [GUEST_SCRIPT]   (default tests/vm/guest-test.sh)
#
# tgt numbers its first usable LUN 1 (LUN 0 is its controller), so the
# guest runs with VM_LUN=1. Exit status: run.sh's (77: skipped).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
script=${1:-$HERE/guest-test.sh}
IQN_BASE=iqn.2026-11.org.ietd.test
PLAIN_IQN=$IQN_BASE:tgt-plain
CHAP_IQN=$IQN_BASE:tgt-chap
CHAP_USER=linux-user
CHAP_SECRET=linux-secret-12345
MUTUAL_USER=tgt-target
MUTUAL_SECRET=target-secret-678
DISK_MB=128

command -v tgtd >/dev/null && command -v tgtadm >/dev/null || {
	echo "SKIP: tgt is not installed (apt-get install tgt)"
	exit 77
}

tmp=$(mktemp -d /tmp/ietd-vm-tgt.XXXXXX)
tgt_pid=
export TGT_IPC_SOCKET=$tmp/tgtd.sock
adm() { tgtadm --lld iscsi "$@"; }
cleanup() {
	if [ -n "$tgt_pid" ] && kill -0 "$tgt_pid" 2>/dev/null; then
		adm --op delete --force --mode target --tid 1 >/dev/null 2>&1
		adm --op delete --force --mode target --tid 2 >/dev/null 2>&1
		adm --op delete --mode system >/dev/null 2>&1
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$tgt_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$tgt_pid" 2>/dev/null
	fi
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 40000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        s.close()')

truncate -s ${DISK_MB}M "$tmp/plain.img" "$tmp/chap.img"
tgtd -f --iscsi "portal=127.0.0.1:$port" >"$tmp/tgtd.log" 2>&1 &
tgt_pid=$!
for _ in $(seq 1 100); do
	adm --op show --mode target >/dev/null 2>&1 && break
	sleep 0.1
done

set -e
adm --op new --mode target --tid 1 -T "$PLAIN_IQN"
adm --op new --mode logicalunit --tid 1 --lun 1 -b "$tmp/plain.img"
adm --op bind --mode target --tid 1 -I ALL
adm --op new --mode target --tid 2 -T "$CHAP_IQN"
adm --op new --mode logicalunit --tid 2 --lun 1 -b "$tmp/chap.img"
adm --op bind --mode target --tid 2 -I ALL
adm --op new --mode account --user "$CHAP_USER" --password "$CHAP_SECRET"
adm --op bind --mode account --tid 2 --user "$CHAP_USER"
adm --op new --mode account --user "$MUTUAL_USER" --password "$MUTUAL_SECRET"
adm --op bind --mode account --tid 2 --user "$MUTUAL_USER" --outgoing
adm --op update --mode target --tid 2 -n HeaderDigest -v CRC32C,None
adm --op update --mode target --tid 2 -n DataDigest -v CRC32C,None
set +e
echo "# tgtd pid $tgt_pid on 127.0.0.1:$port: $PLAIN_IQN (open), $CHAP_IQN (CHAP, mutual, digests)"

start=$(date +%s)
VM_IQN=$PLAIN_IQN VM_CHAP_IQN=$CHAP_IQN VM_LUN=1 VM_DISK_MB=$DISK_MB \
	VM_CHAP_USER=$CHAP_USER VM_CHAP_SECRET=$CHAP_SECRET \
	VM_MUTUAL_USER=$MUTUAL_USER VM_MUTUAL_SECRET=$MUTUAL_SECRET \
	"$HERE/run.sh" "$port" "$script"
rc=$?
echo "# against-tgt: run.sh exit $rc after $(($(date +%s) - start))s"
if [ $rc -ne 0 ] && [ -s "$tmp/tgtd.log" ]; then
	echo "# last lines of the tgtd log:"
	tail -n 20 "$tmp/tgtd.log" | sed 's/^/#   /'
fi
exit $rc
