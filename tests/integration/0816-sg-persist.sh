#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# sg_persist (sg3-utils) through the Linux kernel initiator in the test
# VM (tests/vm/guest-pr.sh): two sessions to one LU register, reserve
# with APTPL, read keys, reservation and full status, and the second
# preempts the first (ietd issue 19). The state file is on the host
# afterwards. Skips (exit 0) only if the VM image cannot be built.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm.sh"

vm_build

img=$(make_image pr.img 64M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:sg-persist
	Lun 0 Path=$img,Type=fileio
CONF
ietd_start --state-dir="$T/state" || {
	not_ok "ietd starts"
	finish
	exit 1
}
VM_IQN=$IQN_BASE:sg-persist VM_LUN=0 \
	VM_INITIATOR=iqn.2026-11.org.ietd.test:linux-vm \
	"$VM/run.sh" "$PORT" "$VM/guest-pr.sh" >"$T/vm.out" 2>&1
rc=$?
vm_results "sg_persist" "$T/vm.out"
echo "# VM run: run.sh exit $rc"
if [ "$VM_STEPS" -eq 0 ]; then
	not_ok "sg_persist: guest ran its steps" "exit $rc"
	tail -n 30 "$T/vm.out" | sed 's/^/    /'
fi
check "APTPL state file on the host" bash -c "ls '$T'/state/pr-*.state"
check "ietd still running after the VM" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" ||
	not_ok "ietd exits 0 on SIGTERM" "exit $rc"
finish
