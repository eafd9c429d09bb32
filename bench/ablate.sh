#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
#
# bench/ablate.sh: what each backend fast path wins. For each path named
# (default: all four) it builds ietd without it (make ABLATE=<path>, into
# build/no-<path>) and runs bench/run.sh with the full build as "ietd" and
# that one as "ietd-base", on the stores users run (a file on disk and a
# block device), with the workloads the path is for: the ietd/peer column
# of the ietd-base rows is then full / without, what the path wins.
#
#   bench/ablate.sh                 all paths
#   bench/ablate.sh map merge       some
#
# Knobs: ABLATE_LUNS (default "disk blk"), and bench/run.sh's BENCH_*
# (BENCH_RUNS, BENCH_SECONDS, BENCH_OUT, ...). Needs what bench/run.sh
# needs; run it on a quiet machine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
paths=${*:-"map inline-read inline-write merge"}
luns=${ABLATE_LUNS:-"disk blk"}

# The workloads each path is meant to speed up.
workloads_for() {
	case "$1" in
	map) echo 'qemu-read-(64k|1m)-d(1|32)|perf-seq-1m-q32' ;;
	inline-read) echo 'qemu-read-4k-d(1|32)|perf-rand-4k-q32' ;;
	inline-write | merge) echo 'qemu-write-(4k|64k)-d(1|32)' ;;
	*) return 1 ;;
	esac
}

make -C "$top" -s build/ietd || exit 1
rc=0
for path in $paths; do
	if ! w=$(workloads_for "$path"); then
		echo "ablate: unknown path $path (map, inline-read," \
		    "inline-write, merge)" >&2
		rc=1
		continue
	fi
	if ! make -C "$top" -s ABLATE="$path" "build/no-$path/ietd"; then
		echo "ablate: cannot build without $path" >&2
		rc=1
		continue
	fi
	echo "ablate: $path: ietd = full build, ietd-base = without $path" >&2
	BENCH_TARGETS="ietd ietd-base" BENCH_LUNS="$luns" \
	    BENCH_IETD="$top/build/ietd" \
	    BENCH_IETD_BASE="$top/build/no-$path/ietd" \
	    BENCH_FILTER="/($w)\$" "$here/run.sh" || rc=1
done
exit $rc
