#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two ietd gateways, one RBD image (ietd issue 21 parts 2 and 3): scenario
# "switch" of gateways.py, against a throwaway Ceph cluster (ceph.sh).
# Both report both portal groups alike, the lock holder optimized and the
# other standby (I/O refused 04h/0Bh); ietadm State=standby hands the lock
# over without fencing; SET TARGET PORT GROUPS through the standby takes
# it by fencing the holder (blocklisted, the bytes in the image those of
# the new holder); the fenced gateway rejoins as standby by itself within
# 10 s, takes the lock back the same way (serving what the other wrote),
# and the other rejoins in turn. About 35 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
ceph_up
ceph_image gw 64M || not_ok "rbd create rbd/gw"
timeout 240 python3 "$(dirname "$0")/gateways.py" switch "$IETD" "$IETADM" \
	"$T" "$IQN_BASE:gw" gw >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "gateways switch"
ceph_stop
finish
