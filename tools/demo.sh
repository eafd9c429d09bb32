#!/bin/bash
# SPDX-License-Identifier: ISC
# `make run`: a demo target on 127.0.0.1:3260 backed by a sparse 1 GiB
# image under state/ (ignored by git), ietd in the foreground.
set -eu
IETD=${1:-build/ietd}
cd "$(dirname "$0")/.."
mkdir -p state
[ -e state/demo.img ] || truncate -s 1G state/demo.img
IQN=iqn.2026-11.org.ietd:demo
cat > state/ietd.conf <<CONF
# Demo configuration written by 'make run'. Edit it and send SIGHUP
# (kill -HUP \$(cat state/ietd.pid)) to apply changes without a restart.
Target $IQN
	Alias demo
	Lun 0 Path=$PWD/state/demo.img,Type=fileio,IOMode=wb
CONF
cat <<MSG
ietd demo: target $IQN, LUN 0 = state/demo.img (1 GiB, sparse)
Try, from another terminal:
  iscsi-ls -s iscsi://127.0.0.1:3260
  iscsi-inq iscsi://127.0.0.1:3260/$IQN/0
  qemu-img info iscsi://127.0.0.1:3260/$IQN/0
  build/ietadm --control state/ietd.sock --op show --status=volume
Stop with Ctrl-C.
MSG
# No allow files in state/: everyone on loopback may log in.
exec "$IETD" -f -c state/ietd.conf -a 127.0.0.1 -p 3260 \
	--pid-file state/ietd.pid \
	--initiators-allow state/initiators.allow \
	--initiators-deny state/initiators.deny \
	--targets-allow state/targets.allow \
	--control state/ietd.sock --status-dir state/status
