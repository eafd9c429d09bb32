#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two ietd gateways, one RBD image (ietd issue 21 parts 2 and 3): scenario
# "kill" of gateways.py, against a throwaway Ceph cluster (ceph.sh).
# SIGKILL of the holder while it acknowledges writes: the other gateway
# takes over by itself within the documented bound and every
# acknowledged write reads back; then SIGKILL of the new holder and SET
# TARGET PORT GROUPS through the restarted first one: a takeover in
# about a second. Prints the times measured. About 30 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
ceph_up
ceph_image gw 64M || not_ok "rbd create rbd/gw"
timeout 240 python3 "$(dirname "$0")/gateways.py" kill "$IETD" "$IETADM" \
	"$T" "$IQN_BASE:gw" gw >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "gateways kill"
ceph_stop
finish
