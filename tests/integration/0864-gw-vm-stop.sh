#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Failover in the VM, SIGSTOP/SIGCONT variant (ietd issue 21 part 3): as
# 0863-gw-vm.sh, but gateway A is stopped while the guest writes, B takes
# over (fencing A), the guest writes new data through B, and then A is
# woken: its stale writes must land nowhere, what the guest reads back
# and what rbd export shows is the new data. A few minutes.
GW_VM_MODE=stop exec bash "$(dirname "$0")/0863-gw-vm.sh"
