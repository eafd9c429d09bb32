#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# sg_persist (sg3-utils) through the Linux kernel initiator in the test
# VM (tests/vm/guest-pr.sh with VM_PORT2) across two ietd gateways of one
# RBD LU (ietd issue 21, item 4; pr_gateways.sh): one session through
# gateway A and one through B register, the first reserves, keys and
# reservation read back through the other, the second is refused a
# RESERVE and preempts the first, which meets REGISTRATIONS PREEMPTED.
# The state is in the RADOS object afterwards. Skips (exit 0) only if the
# VM image cannot be built.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm.sh"
. "$(dirname "$0")/ceph.sh"
# Under the sanitizers: 0870 and 0871 run the same shared-reservation
# paths through both gateways with libiscsi.
vm_plain_build_only "sg_persist across gateways in the VM (see 0870, 0871)"
. "$(dirname "$0")/pr_gateways.sh"

vm_build
ceph_up
check "rbd create rbd/lu0" ceph_image lu0 64M
gw_setup
gw_start
VM_IQN=$TGT VM_LUN=0 VM_PORT2=$PORT_B \
	VM_INITIATOR=iqn.2026-11.org.ietd.test:linux-vm \
	"$VM/run.sh" "$PORT" "$VM/guest-pr.sh" >"$T/vm.out" 2>&1
rc=$?
vm_results "sg_persist" "$T/vm.out"
echo "# VM run: run.sh exit $rc"
if [ "$VM_STEPS" -eq 0 ]; then
	not_ok "sg_persist: guest ran its steps" "exit $rc"
	tail -n 30 "$T/vm.out" | sed 's/^/    /'
fi
for g in "A:$IETD_LOG" "B:$B_LOG"; do
	grep -q "login by iqn.2026-11.org.ietd.test:linux-vm" "${g#*:}" &&
		ok "the VM logged in through gateway ${g%%:*}" ||
		not_ok "the VM logged in through gateway ${g%%:*}" \
			"$(tail -n 3 "${g#*:}")"
done
size=$(timeout 30 rados -p rbd stat "$OID" 2>/dev/null |
	sed -n 's/.* size \([0-9]*\)$/\1/p')
[ "${size:-0}" -gt 0 ] && ok "the state is in RADOS object $OID" ||
	not_ok "the state is in RADOS object $OID" "size '${size:-}'"
gw_stop
ceph_stop
finish
