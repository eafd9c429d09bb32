#!/bin/bash
# SPDX-License-Identifier: ISC
# The conformance ratchet: run libiscsi's iscsi-test-cu against a fresh
# ietd and compare with expected-pass.txt, the tests that must pass.
# Fails when a listed test does not pass; prints the tests that pass but
# are not listed yet, so they can be added. The list only grows.
#   tests/conformance/run.sh [--update]   (--update appends new passes)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
expected=$here/expected-pass.txt

# Scratch LUNs stay small: WRITE SAME with 0 blocks writes the whole LUN.
rw=$(make_image rw.img 256M)
ro=$(make_image ro.img 64M)
# 512e: 512-byte blocks on 4 KiB physical ones, for the tests that need
# more than one logical block per physical block (README.md).
pbs=$(make_image pbs.img 64M)
# The MultipathIO family's second path is a second target port: portal
# group 2 (ietd.conf's ALUA extension) on its own port, both groups
# active/optimized, as a multipath host sees a two-port array.
PORT=$(free_port)
PORT2=$(free_port)
while [ "$PORT2" = "$PORT" ]; do PORT2=$(free_port); done
cat > "$T/ietd.conf" <<CONF
PortalGroup 2 127.0.0.1:$PORT2
Target $IQN_BASE:cu
	Lun 0 Path=$rw,Type=fileio,IOMode=wb
Target $IQN_BASE:curo
	Lun 0 Path=$ro,Type=fileio,IOMode=ro
Target $IQN_BASE:cu512e
	Lun 0 Path=$pbs,Type=fileio,IOMode=wb,PhysicalBlockSize=4096
CONF
ietd_start || { echo "conformance: ietd did not start"; exit 1; }

results=$T/results.txt
# Everything but ReadOnly on the writable LUN, with a second nexus
# through portal group 2 for the multipath and two-initiator tests.
suites=$(iscsi-test-cu -l 2>/dev/null | grep -E '^ALL\.[A-Za-z0-9]+$' | grep -v '^ALL.ReadOnly$')
CU_SUITES="$suites" "$here/cu-run.sh" "$results" "$(url cu 0)" \
	"iscsi://127.0.0.1:$PORT2/$IQN_BASE:cu/0"
CU_SUITES=ALL.ReadOnly "$here/cu-run.sh" "$T/ro.txt" "$(url curo 0)"
cat "$T/ro.txt" >>"$results"
# These five skip on the plain LUN (LBPPBE 0) and run on the 512e one;
# their verdicts come from there. GetLBAStatus.UnmapSingle stays on the
# plain LUN, where it passes (it assumes one block per physical block).
pbs_tests="ALL.CompareAndWrite.InvalidDataOutSize ALL.WriteSame10.UnmapUnaligned
ALL.WriteSame10.InvalidDataOutSize ALL.WriteSame16.UnmapUnaligned
ALL.WriteSame16.InvalidDataOutSize"
CU_SUITES="$pbs_tests" "$here/cu-run.sh" "$T/pbs.txt" "$(url cu512e 0)"
awk 'NR == FNR {t[$1] = 1; next} !($1 in t)' "$T/pbs.txt" "$results" \
	>"$T/merged.txt"
cat "$T/pbs.txt" >>"$T/merged.txt"
mv "$T/merged.txt" "$results"
cp "$results" "${IETD_BUILD:-$here/../../build}/conformance-results.txt" 2>/dev/null

if ! kill -0 "$IETD_PID" 2>/dev/null; then
	echo "conformance: ietd died during the run"
	tail -n 30 "$IETD_LOG"
	exit 1
fi

fail=0
while read -r name; do
	case $name in ''|'#'*) continue ;; esac
	verdict=$(awk -v n="$name" '$1 == n {print $2}' "$results")
	if [ "$verdict" != PASS ]; then
		echo "REGRESSION: $name ${verdict:-not run}"
		fail=$((fail + 1))
	fi
done < <(cat "$expected" 2>/dev/null)

new=$(awk '$2 == "PASS" {print $1}' "$results" | sort |
	comm -23 - <(grep -v '^#' "$expected" 2>/dev/null | sort))
if [ -n "$new" ]; then
	echo "Passing but not in expected-pass.txt yet:"
	sed 's/^/  /' <<<"$new"
	if [ "${1:-}" = --update ]; then
		echo "$new" >>"$expected"
		echo "(appended)"
	fi
fi
echo "conformance: $(grep -c ' PASS$' "$results") pass, $(grep -c ' FAIL$' "$results") fail, $(grep -c ' SKIP$' "$results") skip of $(wc -l <"$results"); $fail regression(s)"
ietd_stop || { echo "conformance: ietd did not exit cleanly"; fail=$((fail + 1)); }
[ "$fail" -eq 0 ]
