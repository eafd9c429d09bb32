#!/bin/bash
# SPDX-License-Identifier: ISC
# IET habits checked against IET 1.4.20's sources: a '#' inside a CHAP
# secret is taken from ietadm as from ietd.conf, and ietadm's dump keeps
# every global key (iSNSServer and iSNSAccessControl included).
. "$(dirname "$0")/lib.sh"

IETADM=$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm
adm() { "$IETADM" --control="$T/ctl.sock" "$@"; }
img=$(make_image h.img 16M)
A=$IQN_BASE:habits
cat >"$T/ietd.conf" <<CONF
iSNSServer 192.0.2.10
iSNSAccessControl Yes
IncomingUser disc disc#secret123
Target $A
	Lun 0 Path=$img
	IncomingUser conf pass#word12345
CONF
ietd_start || {
	not_ok start
	finish
	exit 1
}

# chap_login USER SECRET: a CHAP login with the raw tester (a '#' cannot
# go into an iscsi:// URL).
chap_login() {
	python3 - "$(dirname "$0")" "$PORT" "$A" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import protocol_tester as pt
c = pt.Connection(port=int(sys.argv[2]))
c.login("iqn.2026-11.org.example:h", sys.argv[3],
        chap=(sys.argv[4], sys.argv[5]))
c.logout()
c.close()
PY
}

# ---- '#' in secrets -----------------------------------------------------
check "ietd.conf: secret with # logs in" chap_login conf 'pass#word12345'
check "ietadm: secret with # accepted" \
	adm --op new --tid=1 --user --params='IncomingUser=adm,Password=sec#ret12345'
check "ietadm: that secret logs in" chap_login adm 'sec#ret12345'
check "ietadm: a wrong one does not" bash -c "! chap_login adm 'sec#ret12346'" 2>/dev/null
adm --op new --tid=1 --user --params='IncomingUser=lead,Password=#secret12345' \
	>"$T/out" 2>&1
check "ietadm: a secret starting with # refused (ietd.conf reads a comment)" \
	grep -q "may not start with #" "$T/out"
check "ietadm: blanks still refused" bash -c \
	"! '$IETADM' --control='$T/ctl.sock' --op new --tid=1 --user \
	--params='IncomingUser=x,Password=a b c d e f g h' 2>/dev/null"

# ---- dump keeps every global key ------------------------------------------
adm --op show --dump >"$T/dump.conf"
check "dump keeps iSNSServer" grep -qx "iSNSServer 192.0.2.10" "$T/dump.conf"
check "dump keeps iSNSAccessControl" grep -qx "iSNSAccessControl Yes" "$T/dump.conf"
check "dump keeps the discovery account" grep -qx "IncomingUser disc disc#secret123" "$T/dump.conf"
check "dump keeps the ietadm account with its #" \
	grep -q "IncomingUser adm sec#ret12345" "$T/dump.conf"
check "the dump is a valid ietd.conf" "$IETD" -t -c "$T/dump.conf"
# A reload without the keys drops them from the dump too.
sed -i '/^iSNS/d' "$T/ietd.conf"
kill -HUP "$IETD_PID"
for i in $(seq 50); do
	grep -q "reload: configuration applied" "$IETD_LOG" && break
	sleep 0.1
done
adm --op show --dump >"$T/dump2.conf"
check "reload: keys removed from the file leave the dump" \
	bash -c "! grep -q iSNS '$T/dump2.conf'"
ietd_stop
check "ietd exits 0" test $? -eq 0
finish
