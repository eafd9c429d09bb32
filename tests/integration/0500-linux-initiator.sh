#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# The Linux kernel initiator (open-iscsi + iscsi_tcp) against ietd: a QEMU
# VM (tests/vm/) logs in over slirp to ietd on 127.0.0.1, plain and with
# CHAP, mutual CHAP and CRC32C digests, moves verified data, flushes and
# logs out; wrong credentials must be refused. Each guest step is one
# result line here. Skips (exit 0) only if the VM image cannot be built.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm.sh"

DISK_MB=128
CHAP_USER=linux-initiator
CHAP_SECRET=linuxsecret12
MUTUAL_USER=ietd-target
MUTUAL_SECRET=targetsecret34

# Build (or find in the cache) the kernel and initramfs first, so that a
# missing package is a clean skip and not a failure, and so that the build
# time is not counted against the VM's timeout.
vm_build

plain=$(make_image plain.img ${DISK_MB}M)
chap=$(make_image chap.img ${DISK_MB}M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:linux-plain
	Lun 0 Path=$plain,Type=fileio
Target $IQN_BASE:linux-chap
	IncomingUser $CHAP_USER $CHAP_SECRET
	OutgoingUser $MUTUAL_USER $MUTUAL_SECRET
	HeaderDigest CRC32C,None
	DataDigest CRC32C,None
	Lun 0 Path=$chap,Type=fileio,IOMode=wb
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}

start=$(date +%s)
VM_IQN=$IQN_BASE:linux-plain VM_CHAP_IQN=$IQN_BASE:linux-chap VM_LUN=0 \
	VM_DISK_MB=$DISK_MB VM_CHAP_USER=$CHAP_USER VM_CHAP_SECRET=$CHAP_SECRET \
	VM_MUTUAL_USER=$MUTUAL_USER VM_MUTUAL_SECRET=$MUTUAL_SECRET \
	VM_INITIATOR=iqn.2026-11.org.ietd.test:linux-vm \
	"$VM/run.sh" "$PORT" "$VM/guest-test.sh" >"$T/vm.out" 2>&1
rc=$?
took=$(($(date +%s) - start))

# Guest lines become our result lines; its comments (what sd found, the
# negotiated parameters, why a step failed) are shown as they are.
vm_results "linux" "$T/vm.out"

echo "# VM run: ${took}s, run.sh exit $rc"
case $rc in
0) ;;
124 | 125)
	not_ok "linux: VM finished with a result (exit $rc)" \
		"$(grep -E '^run.sh:|Kernel panic|BUG|Oops' "$T/vm.out" | tail -n 5)"
	;;
*) [ "$VM_STEPS" -gt 0 ] || not_ok "linux: guest ran its steps" "$(tail -n 10 "$T/vm.out")" ;;
esac
if [ "$VM_STEPS" -eq 0 ]; then
	echo "--- console:"
	tail -n 30 "$T/vm.out" | sed 's/^/    /'
fi
check "ietd still running after the VM" kill -0 "$IETD_PID"
# Not through check: its valgrind report (VALGRIND=1) should be seen.
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" ||
	not_ok "ietd exits 0 on SIGTERM" "exit $rc"
finish
