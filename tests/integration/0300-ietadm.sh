#!/bin/bash
# SPDX-License-Identifier: ISC
# ietadm against a running ietd over the real control socket: targets,
# LUNs, parameters and accounts changed live and checked with libiscsi's
# tools; the status files in IET's /proc format; callers refused; bad
# frames answered while the daemon keeps serving; a dump that restarts
# into the same target set; and "--op delete" stopping the daemon.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
SOCK=$T/ctl.sock
STATUS=$T/status
adm() { "$IETADM" --control="$SOCK" "$@"; }
# expect_fail NAME EXIT-CODE SENTENCE COMMAND...: fails with that status
# and that exact stderr line.
expect_fail() {
	local name=$1 code=$2 msg=$3 rc
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$code" ] && [ "$(cat "$T/err")" = "$msg" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stderr: $(cat "$T/err")"
	fi
}
# same NAME EXPECTED-FILE ACTUAL-FILE: byte-for-byte.
same() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1" "$(diff "$2" "$3" | head -n 10)"
	fi
}

img1=$(make_image one.img 64M)
img2=$(make_image two.img 32M)
chmod 755 "$T"
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:one
	Lun 0 Path=$img1,Type=fileio
CONF

# ---- before ietd runs --------------------------------------------------
expect_fail "no daemon: exit 3 and a sentence" 3 \
	"ietadm: ietd is not running (no control socket at $SOCK)" \
	adm --op show
expect_fail "usage: no --op" 2 \
	"ietadm: no operation given: use --op new|delete|show|update (see ietadm --help)" \
	"$IETADM" --control="$SOCK"
expect_fail "usage: bad --op" 2 \
	'ietadm: unknown operation "frob" (new, delete, show or update)' \
	adm --op frob
check "--help exits 0" "$IETADM" --help
check "--version" bash -c "'$IETADM' --version | grep -q '^ietadm '"

ietd_start --control="$SOCK" --status-dir="$STATUS" ||
	{ not_ok start "$(cat "$IETD_LOG")"; finish; exit 1; }

# ---- the socket ---------------------------------------------------------
check "socket is mode 0600" test "$(stat -c %a "$SOCK")" = 600

# ---- targets --------------------------------------------------------------
check "show lists the targets" bash -c \
	"[ \"\$('$IETADM' --control='$SOCK' --op show)\" = 'tid:1 name:$IQN_BASE:one' ]"
check "new target, tid 0 = lowest free" bash -c \
	"[ \"\$('$IETADM' --control='$SOCK' --op new --tid=0 --params Name=$IQN_BASE:two)\" = 'tid=2' ]"
expect_fail "new target: duplicate name refused" 1 \
	"$(adm --op new --tid=0 --params Name=$IQN_BASE:two 2>&1 >/dev/null)" \
	adm --op new --tid=0 --params Name=$IQN_BASE:two
grep -q "^ietadm: " "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	ok "duplicate name: one ietadm: sentence" ||
	not_ok "duplicate name: one ietadm: sentence" "$(cat "$T/err")"
check "new target appears in discovery" bash -c \
	"iscsi-ls iscsi://127.0.0.1:$PORT | grep -q '$IQN_BASE:two'"
expect_fail "show: unknown tid" 1 "ietadm: no target with tid 9" \
	adm --op show --tid=9
expect_fail "show: unknown name" 1 "ietadm: no target named iqn.nope:x" \
	adm --op show --tid=iqn.nope:x
check "show by name = show by tid" bash -c \
	"diff <('$IETADM' --control='$SOCK' --op show --tid=2) <('$IETADM' --control='$SOCK' --op show --tid=$IQN_BASE:two)"
check "show: defaults" bash -c \
	"'$IETADM' --control='$SOCK' --op show --tid=2 | grep -qx 'MaxRecvDataSegmentLength=8192'"

# ---- LUNs -----------------------------------------------------------------
check "new LUN (fileio)" adm --op new --tid=2 --lun=0 \
	--params "Path=$img2,Type=fileio,ScsiSN=sn2,IOMode=wb"
check "new LUN (nullio)" adm --op new --tid=2 --lun=3 --params Sectors=2048,Type=nullio
# Pacemaker's iSCSILogicalUnit (implementation=iet) always leaves a
# trailing comma, and IET skipped empty list elements.
check "new LUN: empty list elements skipped, as IET did" adm --op new \
	--tid=2 --lun=6 --params ",Sectors=2048,,Type=nullio,ScsiSN=pcmk6,"
check "that LUN answers" bash -c \
	"iscsi-readcapacity16 '$(url two 6)' | grep -q 'Total size:1048576'"
check "delete it" adm --op delete --tid=2 --lun=6
check "added LUN answers READ CAPACITY(16)" bash -c \
	"iscsi-readcapacity16 '$(url two 0)' | grep -q 'Total size:33554432'"
check "added nullio LUN answers" bash -c \
	"iscsi-readcapacity16 '$(url two 3)' | grep -q 'Total size:1048576'"
expect_fail "new LUN: missing file" 1 \
	"$(adm --op new --tid=2 --lun=5 --params Path=/no/such,Type=fileio 2>&1)" \
	adm --op new --tid=2 --lun=5 --params Path=/no/such,Type=fileio
check "new LUN: failure leaves no LUN" bash -c "! iscsi-readcapacity16 '$(url two 5)'"
# PhysicalBlockSize (512e): the exponent in READ CAPACITY (16), kept in the dump.
check "new LUN with PhysicalBlockSize=4096" adm --op new --tid=2 --lun=7 \
	--params Sectors=2048,Type=nullio,PhysicalBlockSize=4096
check "it reports 8 logical blocks per physical block" bash -c \
	"iscsi-readcapacity16 '$(url two 7)' | grep -q 'LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:3'"
expect_fail "new LUN: PhysicalBlockSize not a multiple of BlockSize" 1 \
	"ietadm: Lun 8: PhysicalBlockSize 2048 is not a power of two from BlockSize (4096) to 64 times it, at most 65536" \
	adm --op new --tid=2 --lun=8 --params Sectors=2048,Type=nullio,BlockSize=4096,PhysicalBlockSize=2048
check "delete LUN" adm --op delete --tid=2 --lun=3
check "deleted LUN fails" bash -c "! iscsi-readcapacity16 '$(url two 3)'"

# ---- parameters -------------------------------------------------------------
check "update several keys (a digest list keeps its comma)" \
	adm --op update --tid=2 --params=HeaderDigest=None,CRC32C,MaxSessions=4,Alias=second
check "update: shown" bash -c "'$IETADM' --control='$SOCK' --op show --tid=2 |
	grep -x -e 'HeaderDigest=None,CRC32C' -e 'MaxSessions=4' -e 'Alias=second' | wc -l | grep -qx 3"
expect_fail "update: unknown key changes nothing" 1 \
	"ietadm: unknown target parameter Bogus" \
	adm --op update --tid=2 --params=MaxSessions=7,Bogus=1
check "update: nothing of a refused update applied" bash -c \
	"'$IETADM' --control='$SOCK' --op show --tid=2 | grep -qx 'MaxSessions=4'"
# All or nothing: a bad second value leaves the first unapplied too
# (before, MaxSessions=9 stayed although the update failed).
expect_fail "update: a bad second value applies none of the keys" 1 \
	"ietadm: MaxBurstLength 12 is out of range (512 to 16777215)" \
	adm --op update --tid=2 --params=MaxSessions=9,MaxBurstLength=12
check "update: the first key of a refused update is not applied" bash -c \
	"'$IETADM' --control='$SOCK' --op show --tid=2 | grep -qx 'MaxSessions=4'"
# Checked together: a FirstBurstLength above the running MaxBurstLength
# is fine when the same update raises MaxBurstLength.
check "update: keys that only fit together apply together" bash -c \
	"'$IETADM' --control='$SOCK' --op update --tid=2 --params=FirstBurstLength=524288,MaxBurstLength=524288 &&
	'$IETADM' --control='$SOCK' --op show --tid=2 | grep -x -e MaxBurstLength=524288 -e FirstBurstLength=524288 | wc -l | grep -qx 2"
check "--json show is one JSON object" bash -c \
	"'$IETADM' --control='$SOCK' --op show --tid=2 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"MaxSessions\"]==4'"

# ---- accounts -----------------------------------------------------------------
check "new discovery account" adm --op new --user \
	--params=IncomingUser=joe,Password=secretsecret1
check "discovery now needs CHAP" bash -c "! iscsi-ls iscsi://127.0.0.1:$PORT"
check "iscsi-ls with the new account" bash -c \
	"iscsi-ls 'iscsi://joe%secretsecret1@127.0.0.1:$PORT' | grep -q '$IQN_BASE:two'"
check "show accounts (root sees the secret)" bash -c \
	"[ \"\$('$IETADM' --control='$SOCK' --op show --user)\" = 'IncomingUser=joe secretsecret1' ]"
check "show accounts --json" bash -c \
	"'$IETADM' --control='$SOCK' --op show --user --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"IncomingUser\"]==[{\"user\":\"joe\",\"password\":\"secretsecret1\"}], d'"
check "target account" adm --op new --tid=2 --user \
	--params=IncomingUser=tu,Password=targetsecret1
check "target needs CHAP now" bash -c "! iscsi-inq '$(url two 0)'"
check "target login with the account" \
	iscsi-inq "iscsi://tu%targetsecret1@127.0.0.1:$PORT/$IQN_BASE:two/0"

# ---- status files ---------------------------------------------------------------
printf 'tid:1 name:%s\n\tlun:0 state:0 iotype:fileio iomode:wt blocks:131072 blocksize:512 path:%s\ntid:2 name:%s\n\tlun:0 state:0 iotype:fileio iomode:wb blocks:65536 blocksize:512 path:%s\n\tlun:7 state:0 iotype:nullio iomode:wt blocks:2048 blocksize:512\n' \
	"$IQN_BASE:one" "$img1" "$IQN_BASE:two" "$img2" >"$T/volume.want"
same "status file volume in IET's format" "$T/volume.want" "$STATUS/volume"
adm --op show --status=volume >"$T/volume.got"
same "--status=volume = the file" "$T/volume.want" "$T/volume.got"
printf 'tid:1 name:%s\ntid:2 name:%s\n' "$IQN_BASE:one" "$IQN_BASE:two" >"$T/session.want"
same "status file session (no sessions)" "$T/session.want" "$STATUS/session"
check "status files are 0644" test "$(stat -c %a "$STATUS/volume")" = 644
check "--status --json" bash -c \
	"'$IETADM' --control='$SOCK' --op show --status=volume --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[1][\"luns\"][0][\"iomode\"]==\"wb\", d'"

# ---- sessions (need the iSCSI engine's iscsi_admin_*) -------------------------
mkfifo "$T/qio.in"
qemu-io -f raw "iscsi://tu%targetsecret1@127.0.0.1:$PORT/$IQN_BASE:two/0" \
	<"$T/qio.in" >"$T/qio.out" 2>&1 &
qio=$!
track_pid $qio
exec 7>"$T/qio.in"
echo "read 0 4k" >&7
for i in $(seq 50); do grep -q "read 4096" "$T/qio.out" && break; sleep 0.1; done
expect_fail "delete target with a session refused" 1 \
	"ietadm: target $IQN_BASE:two has 1 session(s); log them out first" \
	adm --op delete --tid=2
for i in $(seq 30); do grep -q "sid:" "$STATUS/session" && break; sleep 0.1; done
check "session file lists the session" bash -c \
	"grep -Eq \$'^\\tsid:[0-9]+ initiator:iqn\\\\.' '$STATUS/session'"
check "session file lists its connection" bash -c \
	"grep -Eq \$'^\\t\\tcid:[0-9]+ ip:127\\\\.0\\\\.0\\\\.1 state:active hd:none dd:none\$' '$STATUS/session'"
sid=$(sed -n 's/^\tsid:\([0-9]*\) .*/\1/p' "$STATUS/session" | head -n 1)
cid=$(sed -n 's/^\t\tcid:\([0-9]*\) .*/\1/p' "$STATUS/session" | head -n 1)
check "show --sid: negotiated parameters" bash -c \
	"'$IETADM' --control='$SOCK' --op show --tid=2 --sid='${sid:-1}' | grep -qx 'HeaderDigest=None'"
check "show --sid=0 = configured parameters" bash -c \
	"diff <('$IETADM' --control='$SOCK' --op show --tid=2 --sid=0) <('$IETADM' --control='$SOCK' --op show --tid=2)"
check "drop the connection" adm --op delete --tid=2 --sid="${sid:-1}" --cid="${cid:-0}"
# QEMU logs in again at once with a new session: the dropped sid must go.
for i in $(seq 30); do grep -q "sid:$sid " "$STATUS/session" || break; sleep 0.1; done
check "dropped session gone from the status file" bash -c "! grep -q 'sid:$sid ' '$STATUS/session'"
echo quit >&7
exec 7>&-
wait $qio 2>/dev/null
expect_fail "show: unknown session" 1 "ietadm: no session with sid 12345 on tid 2" \
	adm --op show --tid=2 --sid=12345

# ---- callers that are not root ------------------------------------------------------
expect_fail "non-root: socket file refuses" 3 \
	"ietadm: permission denied (cannot open $SOCK)" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$IETADM" --control="$SOCK" --op show
chmod 666 "$SOCK"
expect_fail "non-root: SO_PEERCRED refuses" 1 "ietadm: permission denied" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$IETADM" --control="$SOCK" --op delete
chmod 600 "$SOCK"
check "daemon alive after refusals" adm --op show --tid=1

# ---- malformed frames straight to the socket ------------------------------------------
cat >"$T/bad.py" <<'PY'
import socket, struct, sys
path = sys.argv[1]
def ask(raw, shut=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(raw)
    except OSError:
        pass
    if shut:
        s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    if len(data) < 4:
        return None
    n = struct.unpack(">I", data[:4])[0]
    return data[4:4 + n].decode()
def frame(text):
    b = text.encode()
    return struct.pack(">I", len(b)) + b
cases = {
    "oversized": struct.pack(">I", 1 << 30) + b"x" * 100,
    "empty frame": struct.pack(">I", 0),
    "just past the limit": struct.pack(">I", 16 * 1024 + 1) + b"a" * (16 * 1024 + 1),
    "no version": frame("op=show\n"),
    "bad version": frame("version=9\nop=show\n"),
    "garbage": frame("\x01\x02\x03 not key value"),
    "unknown key": frame("version=1\nop=show\nrm=-rf\n"),
    "unknown op": frame("version=1\nop=explode\n"),
    "NUL byte": frame("version=1\nop=sh\x00ow\n"),
    "bad tid": frame("version=1\nop=show\ntid=-1\n"),
}
bad = 0
for name, raw in cases.items():
    r = ask(raw)
    if r is None or "status=0\n" in r or "message=" not in r:
        print("FAIL %s: %r" % (name, r)); bad += 1
# A truncated frame: the daemon must simply wait, then time out or close.
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path); s.sendall(struct.pack(">I", 100) + b"version=1\n"); s.close()
# Two requests on one connection.
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)
s.connect(path)
for _ in range(2):
    s.sendall(frame("version=1\nop=show\ntid=1\n"))
    hdr = s.recv(4, socket.MSG_WAITALL)
    body = s.recv(struct.unpack(">I", hdr)[0], socket.MSG_WAITALL).decode()
    if "status=0\n" not in body or "MaxSessions=" not in body:
        print("FAIL pipelined: %r" % body); bad += 1
s.close()
sys.exit(1 if bad else 0)
PY
check "malformed requests answered with an error" python3 "$T/bad.py" "$SOCK"
check "daemon serves ietadm after bad frames" adm --op show --tid=1
check "daemon serves iSCSI after bad frames" bash -c \
	"iscsi-ls 'iscsi://joe%secretsecret1@127.0.0.1:$PORT' | grep -q '$IQN_BASE:one'"

# ---- dump, restart with the dump --------------------------------------------------------
check "dump" bash -c "'$IETADM' --control='$SOCK' --op show --dump >'$T/dump.conf'"
check "dump holds the live changes" bash -c \
	"grep -q 'Target $IQN_BASE:two' '$T/dump.conf' && grep -q 'IncomingUser joe secretsecret1' '$T/dump.conf'"
check "dump keeps PhysicalBlockSize" grep -q 'Lun 7 Sectors=2048,Type=nullio.*,BlockSize=512,PhysicalBlockSize=4096$' "$T/dump.conf"
iscsi-ls "iscsi://joe%secretsecret1@127.0.0.1:$PORT" | sort >"$T/ls.before"
check "dump --json" bash -c \
	"'$IETADM' --control='$SOCK' --op show --dump --json | python3 -c 'import json,sys; assert \"Target\" in json.load(sys.stdin)[\"config\"]'"

# "--op delete" alone stops the daemon like SIGTERM.
check "--op delete stops ietd" adm --op delete
for i in $(seq 100); do kill -0 "$IETD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$IETD_PID"
rc=$?
IETD_PID=
[ $rc -eq 0 ] && ok "ietd exited 0 after --op delete" || not_ok "ietd exited 0 after --op delete" "$rc"
check "control socket removed on exit" test ! -e "$SOCK"

cp "$T/dump.conf" "$T/ietd.conf"
ietd_start --control="$SOCK" --status-dir="$STATUS" ||
	{ not_ok "restart with the dump" "$(cat "$IETD_LOG")"; finish; exit 1; }
ok "restart with the dump"
iscsi-ls "iscsi://joe%secretsecret1@127.0.0.1:$PORT" | sort >"$T/ls.after"
same "same iscsi-ls after restart from the dump" "$T/ls.before" "$T/ls.after"
check "restarted: LUN from ietadm answers" \
	iscsi-readcapacity16 "iscsi://tu%targetsecret1@127.0.0.1:$PORT/$IQN_BASE:two/0"
same "restarted: same volume file" "$T/volume.want" "$STATUS/volume"

# ---- target delete ------------------------------------------------------------------------
check "delete target" adm --op delete --tid=2
check "deleted target gone from discovery" bash -c \
	"! iscsi-ls 'iscsi://joe%secretsecret1@127.0.0.1:$PORT' | grep -q '$IQN_BASE:two'"
expect_fail "delete: unknown tid" 1 "ietadm: no target with tid 2" adm --op delete --tid=2
check "volume file follows" bash -c "! grep -q 'tid:2' '$STATUS/volume'"
check "delete discovery account" adm --op delete --user --params=IncomingUser=joe
check "discovery open again" iscsi-ls "iscsi://127.0.0.1:$PORT"

ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
