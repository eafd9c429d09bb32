#!/bin/bash
# SPDX-License-Identifier: ISC
# Run each libFuzzer binary: first replay every saved reproducer in
# fuzz/regress/<name without fuzz_>/ (each must now pass), then fuzz for
# SECONDS on its checked-in corpus (fuzz/corpus/<name without fuzz_>/).
# New inputs are written to a scratch folder; crashes land in
# build/fuzz/crashes/. Exit 1 if any target fails. See fuzz/README.md.
# With FUZZ_RUNS=N in the environment each target runs N executions
# instead of SECONDS (the issue's long-run record). With FUZZ_SEED=N the
# mutations follow seed N (make check sets 1, so a commit's CI run walks
# the inputs it walked here: a new finding then comes from the change,
# not from the luck of the draw); without it libFuzzer picks a seed.
#   tools/run-fuzz.sh SECONDS BINARY...
set -u
secs=$1
shift
if [ -n "${FUZZ_RUNS:-}" ]; then
	limit="-runs=$FUZZ_RUNS"
	what="$FUZZ_RUNS runs"
else
	limit="-max_total_time=$secs"
	what="$secs s"
fi
seed=()
[ -n "${FUZZ_SEED:-}" ] && seed=("-seed=$FUZZ_SEED") && what="$what, seed $FUZZ_SEED"
cd "$(dirname "$0")/.."
mkdir -p build/fuzz/crashes
rc=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus=fuzz/corpus/${name#fuzz_}
	regress=fuzz/regress/${name#fuzz_}
	scratch=$(mktemp -d)
	mkdir -p "$corpus"
	# Reproducers of fixed bugs: run once each, no fuzzing.
	if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
		echo "== $name: replaying $(ls -A "$regress" | wc -l) reproducer(s)"
		if ! "$bin" -runs=1 -timeout=10 -rss_limit_mb=2048 \
			"$regress"/* >"$scratch.log" 2>&1; then
			echo "FAIL: $name regression (see $regress)"
			tail -n 40 "$scratch.log"
			rc=1
		fi
	fi
	echo "== $name: $what"
	if ! "$bin" "$limit" "${seed[@]}" -timeout=10 -rss_limit_mb=2048 \
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
