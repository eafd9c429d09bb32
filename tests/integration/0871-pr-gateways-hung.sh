#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Shared persistent reservations (ietd issue 21, item 4) when something
# stops answering (pr_gateways.sh, 0870-pr-gateways.py's phases): eight
# initiators registering at once through both gateways all stay (lost
# compare-and-set races applied again) without waiting for a notify
# timeout; with
# gateway B stopped (SIGSTOP), a RESERVE through A still answers GOOD
# within a bound (the notification times out); B, continued, reloads the
# reservation it missed and enforces it; with the OSD stopped, a RELEASE
# through A fails with HARDWARE ERROR within a bound (the LU's RADOS op
# timeout, 3 s here) while PR IN answers from the gateway's copy, and
# works again once the OSD continues. About 45 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph.sh"
. "$(dirname "$0")/pr_gateways.sh"

ceph_up
check "rbd create rbd/lu0" ceph_image lu0 16M
short=$T/ceph-short.conf
sed -e "s/^rados osd op timeout = .*/rados osd op timeout = 3/" \
	-e "s/^rados mon op timeout = .*/rados mon op timeout = 3/" \
	"$CEPH_CONF" >"$short"
gw_setup "$short"
gw_start
gw_phase pair
gw_phase race

kill -STOP "$B_PID"
gw_phase hung-peer
kill -CONT "$B_PID"
gw_phase woken-peer
check "B logs that it reloaded the state" \
	grep -q "watching the shared state again; reloading it" "$B_LOG"

kill -STOP "$CEPH_OSD_PID"
gw_phase hung-cluster
kill -CONT "$CEPH_OSD_PID"
gw_phase cluster-back
gw_stop
ceph_stop
finish
