#!/bin/bash
# SPDX-License-Identifier: ISC
# Run ietd's test suites and print one closing line "N passed, N failed".
#   tools/run-checks.sh BUILD_DIR [unit|integration|conformance|docs|fuzz|all]
# Each unit test binary, integration script, conformance suite and the
# documentation lint counts as one test; details go to the terminal.
set -u
B=${1:-build}
what=${2:-all}
cd "$(dirname "$0")/.." || exit 1
export IETD="$PWD/$B/ietd" IETADM="$PWD/$B/ietadm" IETD_BUILD="$PWD/$B"

pass=0
fail=0
failed=()

# Pass the status in a variable, never as "$?" next to a "$(...)" in the
# same command: the substitution runs first and resets $?.
record() { # name status
	if [ "$2" -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS: $1"
	else
		fail=$((fail + 1))
		failed+=("$1")
		echo "FAIL: $1 (exit $2)"
	fi
}

run_unit() {
	local t
	for t in "$B"/tests/test_*; do
		[ -x "$t" ] || continue
		timeout 300 "$t"
		rc=$?	# before anything else resets $?
		record "unit/$(basename "$t")" $rc
	done
}

run_integration() {
	local t
	for t in tests/integration/[0-9]*.sh; do
		[ -f "$t" ] || continue
		echo "=== $t"
		timeout 600 bash "$t"
		rc=$?
		record "integration/$(basename "$t" .sh)" $rc
	done
}

run_conformance() {
	if [ -x tests/conformance/run.sh ]; then
		tests/conformance/run.sh
		record "conformance" $?
	fi
}

run_fuzz() {
	local bins
	bins=$(ls build/fuzz/bin/fuzz_* 2>/dev/null)
	[ -n "$bins" ] || return 0
	FUZZ_SEED=${FUZZ_SEED-1} tools/run-fuzz.sh "${FUZZ_SECONDS:-10}" $bins
	record "fuzz-smoke" $?
}

run_docs() {
	local out
	out=$(mandoc -Tlint -W warning doc/*.[0-9] 2>&1)
	[ -z "$out" ] || echo "$out"
	[ -z "$out" ]
	record "docs/mandoc-lint" $?
}

case $what in
unit) run_unit ;;
integration) run_integration ;;
conformance) run_conformance ;;
docs) run_docs ;;
fuzz) run_fuzz ;;
all)
	run_unit
	run_docs
	run_fuzz
	run_integration
	run_conformance
	;;
*) echo "usage: $0 BUILD_DIR [unit|integration|conformance|docs|fuzz|all]" >&2; exit 2 ;;
esac

echo
if [ "$fail" -gt 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
