#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two ietd gateways, one RBD image (ietd issue 21 part 2): scenario "caw"
# of gateways.py against a throwaway Ceph cluster (ceph.sh). Both
# gateways' portal groups in fixed states, both optimized (Remote groups
# reported alike on both); READ + COMPARE AND WRITE increments of one
# counter race through the two gateways: every CAW GOOD or MISCOMPARE,
# none lost or applied twice, the image holds the count. CAW_ROUNDS per
# gateway (150). Under a minute.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
# Two ietd write one image: no lock break of a slow live holder.
CEPH_WATCH_TIMEOUT=30
ceph_up
ceph_image gw 64M || not_ok "rbd create rbd/gw"
timeout 240 python3 "$(dirname "$0")/gateways.py" caw "$IETD" "$IETADM" \
	"$T" "$IQN_BASE:gw" gw >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "gateways caw"
ceph_stop
finish
