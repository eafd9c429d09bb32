#!/bin/bash
# SPDX-License-Identifier: ISC
# Discovery and login with a real initiator (libiscsi): SendTargets with no
# authentication, with discovery CHAP (global IncomingUser), with mutual
# CHAP (global OutgoingUser), a wrong secret refused, target-level CHAP
# for a normal login, a target hidden by initiators.allow, and INQUIRY.
. "$(dirname "$0")/lib.sh"

img1=$(make_image open.img 16M)
img2=$(make_image chap.img 16M)
img3=$(make_image hidden.img 16M)
write_conf() { # write_conf [global lines...]
	{
		printf '%s\n' "$@"
		cat <<CONF
Target $IQN_BASE:open
	Lun 0 Path=$img1
Target $IQN_BASE:chap
	IncomingUser joe joesecret1234
	OutgoingUser jack jacksecret1234
	Lun 0 Path=$img2
Target $IQN_BASE:hidden
	Lun 0 Path=$img3
CONF
	} > "$T/ietd.conf"
}
write_conf
ietd_start || { not_ok start; finish; exit 1; }
portal=127.0.0.1:$PORT
# lists URL NAME: iscsi-ls at URL succeeds and shows target NAME.
lists() { local o; o=$(iscsi-ls "$1" 2>&1) && grep -q "^Target:$IQN_BASE:$2 " <<<"$o"; }
# count_targets URL: the number of Target lines iscsi-ls prints.
count_targets() { iscsi-ls "$1" 2>/dev/null | grep -c '^Target:'; }

# 1. No authentication configured: anyone lists all three targets.
check "no auth: open listed" lists "iscsi://$portal" open
check "no auth: chap target listed" lists "iscsi://$portal" chap
check "no auth: exactly 3 targets" test "$(count_targets "iscsi://$portal")" = 3
check "no auth: portal address given" bash -c \
	"iscsi-ls iscsi://$portal | grep -q '^Target:$IQN_BASE:open Portal:$portal,1\$'"

# 2. Discovery CHAP: a global IncomingUser; reload with SIGHUP.
reload() {
	local n
	n=$(grep -c "reload: configuration applied" "$IETD_LOG")
	kill -HUP "$IETD_PID"
	for i in $(seq 50); do
		[ "$(grep -c "reload: configuration applied" "$IETD_LOG")" -gt "$n" ] && return 0
		sleep 0.1
	done
	return 1
}
write_conf "IncomingUser disc discsecret1234"
check "reload with discovery CHAP" reload
check "discovery CHAP: no credentials refused" bash -c "! iscsi-ls iscsi://$portal"
check "discovery CHAP: right secret lists" lists "iscsi://disc%discsecret1234@$portal" open
check "discovery CHAP: right secret, 3 targets" \
	test "$(count_targets "iscsi://disc%discsecret1234@$portal")" = 3
check "discovery CHAP: wrong secret refused" bash -c \
	"! iscsi-ls 'iscsi://disc%wrongsecret123@$portal'"
check "discovery CHAP: unknown user refused" bash -c \
	"! iscsi-ls 'iscsi://nobody%discsecret1234@$portal'"
check "refusal logged" grep -q "login by .* failed" "$IETD_LOG"
# Normal sessions to a target without accounts stay open.
check "discovery CHAP does not guard an open target" iscsi-inq "$(url open 0)"

# 3. Mutual CHAP in discovery: the target proves itself with OutgoingUser;
# libiscsi takes the target's account from its environment.
write_conf "IncomingUser disc discsecret1234" "OutgoingUser tgt tgtsecret12345"
check "reload with discovery mutual CHAP" reload
check "mutual CHAP: target account right" env \
	LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=tgtsecret12345 \
	bash -c "iscsi-ls 'iscsi://disc%discsecret1234@$portal' | grep -q '$IQN_BASE:open'"
check "mutual CHAP: initiator refuses a target with another secret" env \
	LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=othersecret1234 \
	bash -c "! iscsi-ls 'iscsi://disc%discsecret1234@$portal'"
# The same through the raw-socket initiator, which checks the answer
# itself, with MD5 and SHA-256.
PT_DIR=$(dirname "$0")
check "mutual CHAP: protocol_tester (md5, sha256)" python3 - "$PORT" "$PT_DIR" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import protocol_tester as pt
port = int(sys.argv[1])
for algs in ("5", "7"):
    c = pt.Connection(port=port)
    keys = c.login("iqn.2026-11.org.example:mutual", session_type="Discovery",
                   chap=("disc", "discsecret1234"),
                   mutual=("tgt", "tgtsecret12345"), chap_algs=algs)
    got = c.text([("SendTargets", "All")])
    names = [v for k, v in got if k == "TargetName"]
    assert "iqn.2026-11.org.ietd.test:open" in names, names
    c.close()
PY
# RFC 7143 12.1.3: the target refuses an initiator challenge answered
# with its own secret (incoming and outgoing secrets must differ).
write_conf "IncomingUser disc samesecret1234" "OutgoingUser tgt samesecret1234"
check "reload with equal secrets" reload
check "equal incoming/outgoing secrets: mutual login refused" env \
	LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=samesecret1234 \
	bash -c "! iscsi-ls 'iscsi://disc%samesecret1234@$portal'"
check "equal secrets: the target refused it (0x0201)" grep -q \
	"failed: IncomingUser and OutgoingUser secrets are equal (0x0201)" "$IETD_LOG"
check "equal secrets: one-way CHAP still works" \
	bash -c "iscsi-ls 'iscsi://disc%samesecret1234@$portal' | grep -q '$IQN_BASE:open'"

# 4. Target-level CHAP for the normal login (discovery open again).
write_conf
check "reload without discovery accounts" reload
chap_url() { echo "iscsi://$1@$portal/$IQN_BASE:chap/0"; }
check "target CHAP: no credentials refused" bash -c "! iscsi-inq '$(url chap 0)'"
check "target CHAP: right secret logs in" iscsi-inq "$(chap_url joe%joesecret1234)"
check "target CHAP: wrong secret refused" bash -c "! iscsi-inq '$(chap_url joe%joesecret9999)'"
check "target CHAP: mutual with jack" env \
	LIBISCSI_CHAP_TARGET_USERNAME=jack LIBISCSI_CHAP_TARGET_PASSWORD=jacksecret1234 \
	iscsi-inq "$(chap_url joe%joesecret1234)"
check "target CHAP: mutual, initiator refuses a wrong target secret" env \
	LIBISCSI_CHAP_TARGET_USERNAME=jack LIBISCSI_CHAP_TARGET_PASSWORD=badsecret12345 \
	bash -c "! iscsi-inq '$(chap_url joe%joesecret1234)'"

# 5. initiators.allow hides a target from SendTargets and refuses it.
ini=iqn.2026-11.org.example:someone
echo "$IQN_BASE:hidden iqn\\.2026-11\\.org\\.example:other" > "$T/initiators.allow"
printf '%s\n' "$IQN_BASE:open ALL" "$IQN_BASE:chap ALL" >> "$T/initiators.allow"
check "allow: hidden target not listed" bash -c \
	"! iscsi-ls -i $ini iscsi://$portal | grep -q '$IQN_BASE:hidden'"
check "allow: others still listed (2 targets)" test \
	"$(iscsi-ls -i $ini "iscsi://$portal" 2>/dev/null | grep -c '^Target:')" = 2
check "allow: permitted initiator sees it" bash -c \
	"iscsi-ls -i iqn.2026-11.org.example:other iscsi://$portal | grep -q '$IQN_BASE:hidden'"
check "allow: hidden target login refused" bash -c "! iscsi-inq -i $ini '$(url hidden 0)'"
rm -f "$T/initiators.allow"

# 6. INQUIRY of a LUN: direct-access device, and the LUN list.
inq=$(iscsi-inq "$(url open 0)" 2>&1)
grep -q "Peripheral Device Type:DIRECT_ACCESS\|Peripheral Device Type: *DIRECT_ACCESS\|DIRECT_ACCESS" <<<"$inq" &&
	ok "inq: direct-access device" || not_ok "inq: direct-access device" "$inq"
check "inq: VPD supported pages" bash -c "iscsi-inq -e 1 -c 0 '$(url open 0)' | grep -q 0x80"
# iscsi-ls -s prints LastLBA * BlockSize; read the capacity exactly.
check "iscsi-ls -s shows LUN 0 as a disk" bash -c \
	"iscsi-ls -s iscsi://joe%joesecret1234@$portal | grep -A1 '$IQN_BASE:open' | grep -q '^Lun:0[[:space:]]*Type:DIRECT_ACCESS'"
check "read capacity: 16 MiB" bash -c \
	"iscsi-readcapacity16 '$(url open 0)' | grep -qx 'Total size:16777216'"
finish
