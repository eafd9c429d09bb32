#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
#
# bench/scale.sh: how ietd's throughput holds up from 8 to 256 sessions and
# what 1000 idle sessions cost it in resident memory (issue 7, item 4).
# Builds the load generator bench/scale_load.c into a temporary directory,
# lifts the descriptor limit, and hands over to bench/scale.py, which writes
# bench/results/<date>-scale.md. Knobs (SCALE_*): see bench/README.md.

set -u

here=$(cd "$(dirname "$0")" && pwd)

for tool in cc python3 tgtadm iscsi-perf; do
	command -v "$tool" >/dev/null ||
	    echo "scale: $tool not found; its part is skipped or fails" >&2
done
if [ ! -e /usr/include/iscsi/iscsi.h ]; then
	echo "scale: needs libiscsi-dev for bench/scale_load.c" >&2
	exit 1
fi

bin=$(mktemp -d /tmp/ietd-scale-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
if ! cc -O2 -Wall -Wextra -o "$bin/scale_load" "$here/scale_load.c" \
    -liscsi; then
	echo "scale: cannot build scale_load" >&2
	exit 1
fi

# 1000 sessions are 1000 sockets in ietd and in the load generator; ietd
# inherits this limit (it does not raise its own).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] &&
    [ "$(ulimit -n)" -lt $((${SCALE_IDLE:-1000} + 100)) ]; then
	echo "scale: descriptor limit $(ulimit -n) is below" \
	    "${SCALE_IDLE:-1000} sessions; idle rows will show refusals" >&2
fi

python3 "$here/scale.py" "$bin/scale_load"
