#!/bin/bash
# SPDX-License-Identifier: ISC
# A hostile iSNS server (0825-isns-hostile.py) against ietd with
# iSNSServer and iSNSAccessControl Yes: a wrong protocol version, a TLV
# running past the message, a TLV length not a multiple of 4, a message
# of PDUs past 256 KiB, PDUs out of sequence, a response without a
# status, a refused registration, names no iSCSI name can be in a query
# answer, and on ietd's ESI port malformed inquiries, another function,
# a stalled header and a crowd of connections. Between them the server
# behaves for a while (its answer: initiator good-ini shares a discovery
# domain with every target). ietd must log each fault with its cause,
# not once per retry, keep reconnecting, keep the last good answer in
# force (good-ini logs in, anyone else is refused) and serve logins
# throughout; no sanitizer report.
. "$(dirname "$0")/lib.sh"

PY="$(dirname "$0")/0825-isns-hostile.py"
for tool in iscsi-inq python3; do
	if ! command -v "$tool" >/dev/null; then
		[ "${CI:-}" = true ] && { echo "$tool missing in CI" >&2; exit 1; }
		echo "SKIP: $tool not installed (tools/ensure-deps.sh)"
		exit 0
	fi
done

IPORT=$(free_port)
GOOD=$IQN_BASE:good-ini
OTHER=$IQN_BASE:other-ini
python3 "$PY" "$IPORT" "$T/fake.done" >"$T/fake.out" 2>&1 &
FAKE_PID=$!
track_pid "$FAKE_PID"
wait_port 127.0.0.1 "$IPORT" || { not_ok "fake server starts" "$(cat "$T/fake.out")"; finish; exit 1; }

cat >"$T/ietd.conf" <<EOF
iSNSServer 127.0.0.1:$IPORT
iSNSAccessControl Yes
Target $IQN_BASE:h1
	Lun 0 Type=nullio,Sectors=2048
Target $IQN_BASE:h2
	Lun 0 Type=nullio,Sectors=2048
EOF
ietd_start -d 1 || { not_ok "ietd starts" "$(cat "$IETD_LOG")"; finish; exit 1; }
login() { iscsi-inq -i "$1" "iscsi://127.0.0.1:$PORT/$IQN_BASE:$2/0" >/dev/null 2>&1; }
refused() { ! login "$@"; }

# Logins all along, while the scenarios run.
n=0 bad=0
while [ ! -e "$T/fake.done" ] && [ $n -lt 150 ]; do
	login "$GOOD" h1 || bad=$((bad + 1))
	n=$((n + 1))
	sleep 0.5
	kill -0 "$IETD_PID" 2>/dev/null || break
done
[ -e "$T/fake.done" ] && ok "every scenario ran (ietd kept reconnecting)" ||
	not_ok "every scenario ran" "$(tail -n 5 "$T/fake.out")"
# The very first logins may come before the first answer (the allow
# files alone decide then: good-ini may log in either way).
[ $bad -eq 0 ] && ok "good-ini logged in $n times during the scenarios" ||
	not_ok "good-ini logged in during the scenarios" "$bad of $n failed"
tap_import "$T/fake.out"

for why in "unsupported iSNSP version" "attribute length beyond the message" \
	"not a multiple of 4" "message too large" "PDU out of sequence" \
	"response without a status" "registration refused: source unauthorized" \
	"malformed ESI from the server" "ESI/SCN port: unexpected function"; do
	check "logged: $why" grep -q "$why" "$IETD_LOG"
done
# One warning per cause, not one per retry or per connection.
n=$(grep -c "iSNS server 127.0.0.1:$IPORT: .*retrying" "$IETD_LOG")
[ "$n" -le 12 ] && ok "faults logged once each ($n warnings)" ||
	not_ok "faults logged once each" "$n warnings"
check "hostile names skipped, the good one kept" \
	grep -q "h1: 1 initiator(s) share" "$IETD_LOG"
check "good-ini logs in to h2" login "$GOOD" h2
check "another initiator is refused (last good answer stands)" refused "$OTHER" h1
check "ietd still running" kill -0 "$IETD_PID"
check "ietd exits cleanly" ietd_stop
check "exit: deregistered from the (now behaving) server" \
	grep -q "iSNS: deregistered entity" "$IETD_LOG"
check "no sanitizer report" bash -c "! grep -qE 'ERROR: |runtime error' '$IETD_LOG'"
finish
