#!/bin/bash
# SPDX-License-Identifier: ISC
# The conformance ratchet: run libiscsi's iscsi-test-cu against a fresh
# ietd and compare with expected-pass.txt, the tests that must pass.
# Fails when a listed test does not pass; prints the tests that pass but
# are not listed yet, so they can be added. The list only grows.
# The same suites then run on RBD images of a throwaway Ceph cluster
# (Type=rbd) against the same list (README.md, "The RBD targets").
#   tests/conformance/run.sh [--update]   (--update appends new passes)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/../integration/ceph.sh"
expected=$here/expected-pass.txt
update=${1:-}

# Scratch LUNs stay small: WRITE SAME with 0 blocks writes the whole LUN.
rw=$(make_image rw.img 256M)
ro=$(make_image ro.img 64M)
# 512e: 512-byte blocks on 4 KiB physical ones, for the tests that need
# more than one logical block per physical block (README.md).
pbs=$(make_image pbs.img 64M)
# The RBD twins of the three: images of the same sizes.
# Not a failover test: a loaded machine must not expire ietd's watches.
CEPH_WATCH_TIMEOUT=30
ceph_start || { echo "conformance: the Ceph cluster did not start"; exit 1; }
for i in rw:256M ro:64M pbs:64M; do
	ceph_image "cu-${i%%:*}" "${i#*:}" ||
		{ echo "conformance: rbd create rbd/cu-${i%%:*} failed"; exit 1; }
done
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
Target $IQN_BASE:curbd
	Lun 0 Type=rbd,Path=rbd/cu-rw,CephConf=$CEPH_CONF
Target $IQN_BASE:curbdro
	Lun 0 Type=rbd,Path=rbd/cu-ro,CephConf=$CEPH_CONF,IOMode=ro
Target $IQN_BASE:curbd512e
	Lun 0 Type=rbd,Path=rbd/cu-pbs,CephConf=$CEPH_CONF,PhysicalBlockSize=4096
CONF
ietd_start || { echo "conformance: ietd did not start"; exit 1; }

# run_target TARGET RESULTS: every suite against $IQN_BASE:TARGET, its
# read-only twin TARGETro and its 512e twin TARGET512e; verdicts to RESULTS.
run_target() {
	local tgt=$1 results=$2 suites pbs_tests
	# Everything but ReadOnly on the writable LUN, with a second nexus
	# through portal group 2 for the multipath and two-initiator tests.
	suites=$(iscsi-test-cu -l 2>/dev/null | grep -E '^ALL\.[A-Za-z0-9]+$' | grep -v '^ALL.ReadOnly$')
	CU_SUITES="$suites" "$here/cu-run.sh" "$results" "$(url "$tgt" 0)" \
		"iscsi://127.0.0.1:$PORT2/$IQN_BASE:$tgt/0"
	CU_SUITES=ALL.ReadOnly "$here/cu-run.sh" "$T/ro.txt" "$(url "${tgt}ro" 0)"
	cat "$T/ro.txt" >>"$results"
	# These five skip on the plain LUN (LBPPBE 0) and run on the 512e one;
	# their verdicts come from there. GetLBAStatus.UnmapSingle stays on the
	# plain LUN, where it passes (it assumes one block per physical block).
	pbs_tests="ALL.CompareAndWrite.InvalidDataOutSize ALL.WriteSame10.UnmapUnaligned
ALL.WriteSame10.InvalidDataOutSize ALL.WriteSame16.UnmapUnaligned
ALL.WriteSame16.InvalidDataOutSize"
	CU_SUITES="$pbs_tests" "$here/cu-run.sh" "$T/pbs.txt" "$(url "${tgt}512e" 0)"
	awk 'NR == FNR {t[$1] = 1; next} !($1 in t)' "$T/pbs.txt" "$results" \
		>"$T/merged.txt"
	cat "$T/pbs.txt" >>"$T/merged.txt"
	mv "$T/merged.txt" "$results"
}

# check_results WHAT RESULTS: every listed test must pass (adds to fail);
# new passes of the file run are printed (and appended with --update).
check_results() {
	local what=$1 results=$2 name verdict new
	if ! kill -0 "$IETD_PID" 2>/dev/null; then
		echo "conformance: ietd died during the $what run"
		tail -n 30 "$IETD_LOG"
		exit 1
	fi
	while read -r name; do
		case $name in ''|'#'*) continue ;; esac
		verdict=$(awk -v n="$name" '$1 == n {print $2}' "$results")
		if [ "$verdict" != PASS ]; then
			echo "REGRESSION ($what): $name ${verdict:-not run}"
			fail=$((fail + 1))
		fi
	done < <(cat "$expected" 2>/dev/null)
	new=$(awk '$2 == "PASS" {print $1}' "$results" | sort |
		comm -23 - <(grep -v '^#' "$expected" 2>/dev/null | sort))
	if [ -n "$new" ]; then
		echo "Passing on the $what LUN but not in expected-pass.txt yet:"
		sed 's/^/  /' <<<"$new"
		if [ "$update" = --update ] && [ "$what" = file ]; then
			echo "$new" >>"$expected"
			echo "(appended)"
		fi
	fi
	echo "conformance ($what): $(grep -c ' PASS$' "$results") pass, $(grep -c ' FAIL$' "$results") fail, $(grep -c ' SKIP$' "$results") skip of $(wc -l <"$results")"
}

fail=0
build=${IETD_BUILD:-$here/../../build}
t0=$(date +%s)
run_target cu "$T/results.txt"
cp "$T/results.txt" "$build/conformance-results.txt" 2>/dev/null
check_results file "$T/results.txt"
t1=$(date +%s)
run_target curbd "$T/results-rbd.txt"
cp "$T/results-rbd.txt" "$build/conformance-results-rbd.txt" 2>/dev/null
check_results rbd "$T/results-rbd.txt"
t2=$(date +%s)
echo "conformance: the file LUNs took $((t1 - t0)) s, the RBD LUNs $((t2 - t1)) s; $fail regression(s)"
ietd_stop || { echo "conformance: ietd did not exit cleanly"; fail=$((fail + 1)); }
ceph_stop
[ "$fail" -eq 0 ]
