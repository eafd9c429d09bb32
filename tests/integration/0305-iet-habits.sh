#!/bin/bash
# SPDX-License-Identifier: ISC
# IET habits checked against IET 1.4.20's sources: a '#' inside a CHAP
# secret is taken from ietadm as from ietd.conf; ietadm's dump keeps
# every global key (iSNSServer and iSNSAccessControl included); NOP-In
# pings go to idle connections only (IET reset its timer on every send
# and receive); digests follow the initiator's order (RFC 7143 6.2).
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
Target $IQN_BASE:nop
	Lun 0 Path=$img
	NOPInterval 1
	HeaderDigest CRC32C,None
	DataDigest None,CRC32C
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

# ---- NOP-In only on idle connections --------------------------------------
python3 - "$(dirname "$0")" "$PORT" "$IQN_BASE:nop" >"$T/nop.out" 2>&1 <<'PY'
import sys, time, socket
sys.path.insert(0, sys.argv[1])
import protocol_tester as pt
c = pt.Connection(port=int(sys.argv[2]))
c.login("iqn.2026-11.org.example:h", sys.argv[3])
pings = 0
end = time.time() + 3.5
while time.time() < end:        # busy: a ping of ours every 0.25 s
    p = c.nop(b"x")
    while p.opcode == pt.OP_NOP_IN and p.ttt != pt.RESERVED_TAG:
        pings += 1              # the target's: answer it, read ours
        c.send(pt.nop_out(pt.RESERVED_TAG, c.cmdsn, c.exp_statsn,
                          ttt=p.ttt))
        p = c.recv()
    time.sleep(0.25)
print("ok - busy connection: no NOP-In in 3.5 s" if pings == 0 else
      "not ok - busy connection: no NOP-In in 3.5 s: %d pings" % pings)
c.sock.settimeout(3)
try:
    p = c.recv()
    good = p.opcode == pt.OP_NOP_IN and p.ttt != pt.RESERVED_TAG
except socket.timeout:
    good = False
print("ok - idle connection pinged within 3 s" if good else
      "not ok - idle connection pinged within 3 s: nothing")
c.close()
PY
tap_import "$T/nop.out" $? "NOP tester"

# ---- digests: the initiator's order decides (RFC 7143 6.2) -----------------
# The target (CRC32C,None for headers, None,CRC32C for data) accepts both
# either way; the answer is the first of the initiator's list.
python3 - "$(dirname "$0")" "$PORT" "$IQN_BASE:nop" >"$T/dig.out" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import protocol_tester as pt
for offer in ("None,CRC32C", "CRC32C,None"):
    c = pt.Connection(port=int(sys.argv[2]))
    itt = c.next_itt()
    c._login_exchange(itt, pt.STAGE_SECURITY, pt.STAGE_OPERATIONAL,
                      [("InitiatorName", "iqn.2026-11.org.example:h"),
                       ("SessionType", "Normal"),
                       ("TargetName", sys.argv[3]), ("AuthMethod", "None")])
    keys, _ = c._login_exchange(itt, pt.STAGE_OPERATIONAL,
                                pt.STAGE_FULL_FEATURE,
                                [("HeaderDigest", offer),
                                 ("DataDigest", offer)])
    got = dict(keys)
    want = offer.split(",")[0]
    for k in ("HeaderDigest", "DataDigest"):
        print("%s - %s offered %s: %s" % (
            "ok" if got.get(k) == want else "not ok", k, offer,
            want if got.get(k) == want else "got %s" % got.get(k)))
    c.close()
PY
tap_import "$T/dig.out" $? "digest tester"

# ---- Wthreads: one pool, the largest value, grown live ---------------------
iothreads() { grep -lx ietd-io /proc/"$IETD_PID"/task/*/comm 2>/dev/null | wc -l; }
# wait_threads N: until the pool has N threads (3 s at most).
wait_threads() {
	local i
	for i in $(seq 30); do
		[ "$(iothreads)" -eq "$1" ] && return 0
		sleep 0.1
	done
	echo "pool has $(iothreads) threads, want $1"
	return 1
}
check "Wthreads: default pool of 8" wait_threads 8
check "ietadm update Wthreads=12 accepted" \
	adm --op update --tid=1 --params Wthreads=12
check "ietadm: the pool grows to 12 within a second" wait_threads 12
check "growth logged" grep -q "I/O thread pool grown to 12 threads" "$IETD_LOG"
adm --op update --tid=1 --params Wthreads=2
sleep 1.2
check "lowering never shrinks the running pool" test "$(iothreads)" -eq 12

# ---- Blocks= for nullio, IET 1.4.20's name (Sectors= its alias) ----------
check "ietadm: nullio LUN with Blocks=" \
	adm --op new --tid=1 --lun=5 --params Blocks=2048,BlockSize=4096,Type=nullio
check "its size is 2048 blocks of 4096 bytes" \
	grep -q "lun:5 .*iotype:nullio .*blocks:2048 blocksize:4096" "$T/status/volume"

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
printf '\tWthreads 16\n' >>"$T/ietd.conf"
kill -HUP "$IETD_PID"
for i in $(seq 50); do
	grep -q "reload: configuration applied" "$IETD_LOG" && break
	sleep 0.1
done
adm --op show --dump >"$T/dump2.conf"
check "reload: keys removed from the file leave the dump" \
	bash -c "! grep -q iSNS '$T/dump2.conf'"
check "reload: a larger Wthreads grows the pool to 16" wait_threads 16
ietd_stop
check "ietd exits 0" test $? -eq 0
finish
