#!/bin/bash
# SPDX-License-Identifier: ISC
# Run libiscsi's iscsi-test-cu one suite per process against a target and
# write one line per test: "ALL.Suite.Test PASS|FAIL|SKIP".
#   cu-run.sh OUT URL [MULTIPATH-URL]
# Env: CU_SUITES (glob list, default every ALL.* suite), CU_TIMEOUT
# (seconds per suite, default 300), CU_INITIATOR/CU_INITIATOR2 names.
# A suite that hangs or crashes the client marks its unfinished tests
# FAIL (cu-parse.py explains how verdicts are read).
set -u
out=$1
url=$2
url2=${3:-}
timeout_s=${CU_TIMEOUT:-300}
init1=${CU_INITIATOR:-iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test}
init2=${CU_INITIATOR2:-iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2}
: >"$out"
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${CU_SUITES:-}" ]; then
	suites=$CU_SUITES
else
	suites=$(iscsi-test-cu -l 2>/dev/null | grep -E '^ALL\.[A-Za-z0-9]+$')
fi
for s in $suites; do
	log=$(mktemp)
	# -d: tests that write/reset; -S: sanitize tests.
	timeout "$timeout_s" stdbuf -o0 iscsi-test-cu -d -S -i "$init1" \
		-I "$init2" -t "$s" "$url" ${url2:+"$url2"} >"$log" 2>&1
	"$here/cu-parse.py" "$s" <"$log" >>"$out"
	if [ -n "${CU_KEEP_LOGS:-}" ]; then
		cp "$log" "$CU_KEEP_LOGS/$s.log"
	fi
	rm -f "$log"
done
