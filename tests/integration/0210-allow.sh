#!/bin/bash
# SPDX-License-Identifier: ISC
# initiators.allow / initiators.deny / targets.allow: read at every login
# (no restart, no signal), filter discovery and refuse logins.
. "$(dirname "$0")/lib.sh"

img1=$(make_image a.img 16M)
img2=$(make_image b.img 16M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:a
	Lun 0 Path=$img1
Target $IQN_BASE:b
	Lun 0 Path=$img2
CONF
ietd_start || { not_ok start; finish; exit 1; }
good=iqn.2026-11.org.example:good
bad=iqn.2026-11.org.example:bad
disc() { iscsi-ls -i "$1" "iscsi://127.0.0.1:$PORT" 2>&1; }
# sendtargets INITIATOR VALUE: the raw SendTargets=VALUE answer of a
# discovery session, one key=value a line (iscsi-ls drops a TargetName
# that comes without an address, so it cannot see such a leak). The
# last line is END, so that a tester that failed never looks like an
# empty answer.
sendtargets() {
	python3 - "$(dirname "$0")" "$PORT" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import protocol_tester as pt
c = pt.Connection(port=int(sys.argv[2]), isid=b"\x80\x21\x00\x00\x00\x01")
c.login(sys.argv[3], session_type="Discovery")
for k, v in c.text([("SendTargets", sys.argv[4])]):
    print("%s=%s" % (k, v))
c.close()
print("END")
PY
}
names() { sendtargets "$1" "$2" | grep '^TargetName=\|^END$'; }
sees() { disc "$1" | grep -q "$IQN_BASE:$2"; }
hidden() { ! disc "$1" | grep -q "$IQN_BASE:$2"; }

check "no files: everyone sees a" sees "$bad" a
check "no files: everyone sees b" sees "$bad" b

# Names as anchored regular expressions; edits apply without a signal.
echo "$IQN_BASE:a iqn\\.2026-11\\.org\\.example:go.*" > "$T/initiators.allow"
check "allow by regex: matching initiator sees a" sees "$good" a
check "allow by regex: other initiator does not see a" hidden "$bad" a
check "allow file present: target without a rule hidden" hidden "$good" b
check "allow by regex: matching initiator logs in" iscsi-inq -i "$good" "$(url a 0)"
check "allow by regex: other initiator refused at login" bash -c "! iscsi-inq -i '$bad' '$(url a 0)'"
check "refusal logged" grep -q "login by\|not authorized\|not allowed" "$IETD_LOG"

# Regex is anchored: a prefix alone must not match.
echo "$IQN_BASE:a iqn.2026-11.org.example" > "$T/initiators.allow"
check "regex anchored at the end" bash -c "! iscsi-inq -i '$good' '$(url a 0)'"

# Addresses and networks; ALL stops processing.
printf '%s\n' "ALL 127.0.0.0/8" "$IQN_BASE:b 10.0.0.0/8" > "$T/initiators.allow"
check "ALL 127.0.0.0/8: a allowed from loopback" iscsi-inq -i "$bad" "$(url a 0)"
check "rule after ALL line ignored: b allowed too" iscsi-inq -i "$bad" "$(url b 0)"
# IET 1.4.20: the first line for the target decides, matched or not.
printf '%s\n' "$IQN_BASE:b 10.0.0.0/8" "ALL ALL" > "$T/initiators.allow"
check "first line for the target decides even without a match" \
	bash -c "! iscsi-inq -i '$bad' '$(url b 0)'"
check "the ALL line decides for the others" iscsi-inq -i "$bad" "$(url a 0)"

# An empty initiators.allow admits nobody.
: > "$T/initiators.allow"
check "empty allow file: nobody logs in" bash -c "! iscsi-inq -i '$good' '$(url a 0)'"
rm -f "$T/initiators.allow"

# initiators.deny without an allow file.
echo "$IQN_BASE:b $bad" > "$T/initiators.deny"
check "deny: listed initiator refused" bash -c "! iscsi-inq -i '$bad' '$(url b 0)'"
check "deny: listed initiator does not see b" hidden "$bad" b
names "$bad" All >"$T/st.out" 2>&1
check "deny: SendTargets=All does not name b to it" bash -c \
	"grep -qx END '$T/st.out' && ! grep -q ':b\$' '$T/st.out'"
check "deny: SendTargets=b answers it nothing" \
	test "$(sendtargets "$bad" "$IQN_BASE:b")" = END
check "deny: others still log in" iscsi-inq -i "$good" "$(url b 0)"
rm -f "$T/initiators.deny"

# targets.allow: a target offered only on another portal address.
printf '%s\n' "$IQN_BASE:a 127.0.0.1" "$IQN_BASE:b 192.0.2.1" > "$T/targets.allow"
check "targets.allow: a offered on 127.0.0.1" sees "$good" a
check "targets.allow: b hidden on 127.0.0.1" hidden "$good" b
check "targets.allow: b login refused on 127.0.0.1" bash -c "! iscsi-inq -i '$good' '$(url b 0)'"
# A target not offered on the portal asked is not named at all, not even
# as a bare TargetName without an address.
names "$good" All >"$T/st.out" 2>&1
check "targets.allow: SendTargets=All names a" grep -qx "TargetName=$IQN_BASE:a" "$T/st.out"
check "targets.allow: SendTargets=All does not name b" bash -c \
	"grep -qx END '$T/st.out' && ! grep -q ':b\$' '$T/st.out'"
check "targets.allow: SendTargets=b answers nothing" \
	test "$(sendtargets "$good" "$IQN_BASE:b")" = END
# iSCSI names compare case-insensitively (RFC 3722 folds case).
sendtargets "$good" "$(tr a-z A-Z <<<"$IQN_BASE:a")" >"$T/st.out" 2>&1
check "SendTargets=NAME in upper case names the target" \
	grep -qx "TargetName=$IQN_BASE:a" "$T/st.out"
check "SendTargets=NAME in upper case gives its address" \
	grep -qx "TargetAddress=127.0.0.1:$PORT,1" "$T/st.out"
rm -f "$T/targets.allow"
check "files removed: b back" sees "$bad" b
finish
