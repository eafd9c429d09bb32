#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two ietd gateways, one RBD image (ietd issue 21 parts 2 and 3): scenario
# "stop" of gateways.py, against a throwaway Ceph cluster (ceph.sh).
# SIGSTOP of the holder with a WRITE waiting in its socket: the other
# takes over once the stopped one's watch expires and writes the block;
# SIGCONT: the woken gateway's WRITE fails (its client is blocklisted),
# it is fenced and rejoins as standby, and rbd export shows the new holder's
# block. The conf file turns librbd's rbd_blocklist_on_break_lock off for
# this one, which ietd must override (and it blocklists by itself first).
# About 25 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
ceph_up
ceph_image gw 64M || not_ok "rbd create rbd/gw"
timeout 240 python3 "$(dirname "$0")/gateways.py" stop "$IETD" "$IETADM" \
	"$T" "$IQN_BASE:gw" gw >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "gateways stop"
ceph_stop
finish
