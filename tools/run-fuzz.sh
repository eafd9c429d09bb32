#!/bin/bash
# SPDX-License-Identifier: ISC
# Run each libFuzzer binary for SECONDS on its checked-in corpus
# (fuzz/corpus/<name without fuzz_>/). New inputs are written to a scratch
# folder; crashes land in build/fuzz/crashes/. Exit 1 if any target fails.
#   tools/run-fuzz.sh SECONDS BINARY...
set -u
secs=$1
shift
cd "$(dirname "$0")/.."
mkdir -p build/fuzz/crashes
rc=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus=fuzz/corpus/${name#fuzz_}
	scratch=$(mktemp -d)
	mkdir -p "$corpus"
	echo "== $name: $secs s"
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix=build/fuzz/crashes/"$name"- \
		"$scratch" "$corpus" >"$scratch.log" 2>&1; then
		echo "FAIL: $name (see build/fuzz/crashes/)"
		tail -n 40 "$scratch.log"
		rc=1
	else
		grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$scratch.log" | tail -n 2
	fi
	rm -rf "$scratch" "$scratch.log"
done
exit $rc
