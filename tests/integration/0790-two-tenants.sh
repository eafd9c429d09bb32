#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Two tenants, two targets, one ietd (ietd issue 17): an honest one with
# CHAP verifies its data throughout while a hostile one, allowed only on
# its own target, tries every raw-PDU trick of that issue
# (0790-two-tenants.py). About 30 s; TENANTS_SECONDS sets the attack time.
. "$(dirname "$0")/lib.sh"

honest=$(make_image honest.img 32M)
hostile=$(make_image hostile.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:honest
	IncomingUser honest honestsecret12
	Lun 0 Path=$honest,Type=fileio
Target $IQN_BASE:hostile
	Lun 0 Path=$hostile,Type=fileio
CONF
# Only the honest initiator may use the honest target.
cat >"$T/initiators.allow" <<ALLOW
$IQN_BASE:honest iqn.2026-11.org.example:honest
$IQN_BASE:hostile ALL
ALLOW
grep -q __asan_init "$IETD" && export TENANTS_SANITIZER=1
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
timeout 300 python3 "$(dirname "$0")/0790-two-tenants.py" "$PORT" \
	"$IETD_PID" "$IQN_BASE:honest" honest honestsecret12 \
	"$IQN_BASE:hostile" "$T/status" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "two-tenants tester"
check "the hostile image holds no honest byte" \
	bash -c "! grep -q HONEST-TENANT '$hostile'"
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$IETD_LOG" &&
	not_ok "no sanitizer report" "see above"
finish
