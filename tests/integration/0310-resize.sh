#!/bin/bash
# SPDX-License-Identifier: ISC
# Online resize: a backing file grown or shrunk under a logged-in session
# raises CAPACITY DATA HAS CHANGED (2a/09) within seconds, unasked;
# READ CAPACITY(16) then says the new size and LBAs past a new end get
# LBA OUT OF RANGE. "ietadm --op update --lun" rescans a store at once,
# sets a nullio LUN's Sectors and grows a fileio file (Size=); its
# refusals are one sentence each. LUNs added or removed (ietadm, SIGHUP)
# give REPORTED LUNS DATA HAS CHANGED (3f/0e). The volume status file
# follows every resize.
. "$(dirname "$0")/lib.sh"

IETADM=${IETADM:-$(cd "$(dirname "$0")/../.." && pwd)/build/ietadm}
SOCK=$T/ctl.sock
STATUS=$T/status
adm() { "$IETADM" --control="$SOCK" "$@"; }
# expect_fail NAME EXIT-CODE SENTENCE COMMAND...: that status, that stderr.
expect_fail() {
	local name=$1 code=$2 msg=$3 rc
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$code" ] && [ "$(cat "$T/err")" = "$msg" ] &&
		[ ! -s "$T/out" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stderr: $(cat "$T/err")"
	fi
}
# expect_out NAME EXPECTED COMMAND...: succeeds and prints exactly that.
expect_out() {
	local name=$1 want=$2 got rc
	shift 2
	got=$("$@" 2>"$T/err")
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, output: $got, stderr: $(cat "$T/err")"
	fi
}

MB=$((1024 * 1024))
img=$(make_image disk.img 64M)
roimg=$(make_image ro.img 8M)
write_conf() { # write_conf [extra Lun lines for target 1]
	cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:resize
	Lun 0 Path=$img,Type=fileio
	Lun 1 Sectors=2048,Type=nullio
$1
Target $IQN_BASE:ro
	Lun 0 Path=$roimg,Type=fileio,IOMode=ro
CONF
}
write_conf ""
ietd_start --control="$SOCK" --status-dir="$STATUS" ||
	{ not_ok start "$(cat "$IETD_LOG")"; finish; exit 1; }

# ---- ietadm refusals: one sentence, exit 1, nothing changed ---------------
expect_fail "update: no such LUN" 1 "ietadm: target 1 has no lun 7" \
	adm --op update --tid=1 --lun=7
expect_fail "update: no such target" 1 "ietadm: no target with tid 9" \
	adm --op update --tid=9 --lun=0
expect_fail "update: bad --lun" 1 'ietadm: invalid --lun "x"' \
	adm --op update --tid=1 --lun=x
expect_fail "update: Sectors on fileio" 1 \
	"ietadm: lun 0 of target 1 is not nullio: Sectors= resizes nullio LUNs only (use Size=BYTES, or grow the store and run --op update without --params)" \
	adm --op update --tid=1 --lun=0 --params Sectors=4096
expect_fail "update: Size on nullio" 1 \
	"ietadm: lun 1 of target 1 is nullio: resize it with Sectors=N" \
	adm --op update --tid=1 --lun=1 --params Size=1M
expect_fail "update: Sectors not a number" 1 \
	"ietadm: Lun 1: Sectors abc is not a block count from 1 to 4503599627370495" \
	adm --op update --tid=1 --lun=1 --params Sectors=abc
expect_fail "update: Sectors 0" 1 \
	"ietadm: Lun 1: Sectors 0 is not a block count from 1 to 4503599627370495" \
	adm --op update --tid=1 --lun=1 --params Sectors=0
expect_fail "update: unknown LUN parameter" 1 \
	"ietadm: unknown LUN parameter Path (Sectors=N for nullio, Size=BYTES for fileio)" \
	adm --op update --tid=1 --lun=0 --params Path=/x
expect_fail "update: two parameters" 1 \
	"ietadm: a LUN update takes one of Sectors=N (nullio) or Size=BYTES (fileio)" \
	adm --op update --tid=1 --lun=1 --params Sectors=8,Size=4096
expect_fail "update: Size not a byte count" 1 \
	"ietadm: Size 12Q is not a byte count (a number, optionally with K, M, G or T)" \
	adm --op update --tid=1 --lun=0 --params Size=12Q
expect_fail "update: Size not a block multiple" 1 \
	"ietadm: size 1000 is not a non-zero multiple of the block size 512" \
	adm --op update --tid=1 --lun=0 --params Size=1000
expect_fail "update: Size never shrinks a file" 1 \
	"ietadm: refusing to shrink $img from $((64 * MB)) to $MB bytes: that would cut off data (truncate it yourself, then run --op update without --params)" \
	adm --op update --tid=1 --lun=0 --params Size=1M
expect_fail "update: read-only LUN not grown" 1 \
	"ietadm: $roimg is exported read-only (IOMode=ro); not resized" \
	adm --op update --tid=2 --lun=0 --params Size=16M
check "refusals changed no file" test "$(stat -c %s "$img"):$(stat -c %s "$roimg")" = "$((64 * MB)):$((8 * MB))"
expect_out "update: rescan of an unchanged store" \
	"$(printf 'Sectors=131072\nBlockSize=512\nSize=%s' $((64 * MB)))" \
	adm --op update --tid=1 --lun=0
check "update --json is one object" bash -c \
	"'$IETADM' --control='$SOCK' --op update --tid=1 --lun=1 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d == {\"Sectors\": 2048, \"BlockSize\": 512, \"Size\": 1048576}, d'"

# ---- a logged-in session sees every change ---------------------------------
TESTDIR="$(cd "$(dirname "$0")" && pwd)" python3 - "$PORT" "$IQN_BASE" "$img" "$IETADM" "$SOCK" "$T/ietd.conf" \
	"$IETD_PID" >"$T/py.out" 2>&1 <<'PY'
import os, signal, struct, subprocess, sys, time
sys.path.insert(0, os.environ["TESTDIR"])
import protocol_tester as pt

port, base, img, ietadm, sock, conf, pid = sys.argv[1:8]
MB = 1 << 20
failures = 0


def result(name, why):
    global failures
    if why is None:
        print("ok - %s" % name, flush=True)
    else:
        failures += 1
        print("not ok - %s: %s" % (name, why), flush=True)


def run(name, fn):
    try:
        why = fn()
    except Exception as e:
        why = "%s: %s" % (type(e).__name__, e)
    result(name, why)


def sense_of(p):
    s = p.sense()
    if len(s) >= 4 and s[0] & 0x7F in (0x72, 0x73):
        return s[1] & 0x0F, s[2], s[3]
    if len(s) >= 14:
        return s[2] & 0x0F, s[12], s[13]
    return None


def tur(lun):
    st, _, p = c.scsi(bytes(6), lun=lun)
    return st, (sense_of(p) if st == 2 else None)


def clear_ua(lun):
    for _ in range(8):
        st, _ = tur(lun)
        if st == 0:
            return
    raise RuntimeError("unit attentions on lun %d do not clear" % lun)


def wait_ua(lun, asc, ascq, secs=5.0):
    """TEST UNIT READY until a CHECK CONDITION; it must be the UA asked
    for, within secs (the target polls sizes once a second)."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        st, sense = tur(lun)
        if st == 2:
            if sense != (6, asc, ascq):
                return "sense %r, want (6, 0x%02x, 0x%02x)" % (
                    sense, asc, ascq)
            st, sense = tur(lun)
            if st != 0:
                return "a second TUR still fails: %r" % (sense,)
            return None
        if st != 0:
            return "TEST UNIT READY status %r" % st
        time.sleep(0.1)
    return "no unit attention within %.0f s" % secs


def capacity(lun):
    cdb = bytes([0x9E, 0x10]) + bytes(8) + struct.pack(">I", 32) + bytes(2)
    st, data, p = c.scsi(cdb, lun=lun, read_len=32)
    if st != 0:
        raise RuntimeError("READ CAPACITY(16) status %r sense %r" %
                           (st, sense_of(p)))
    last, bs = struct.unpack(">QI", data[:12])
    return (last + 1) * bs


def want_capacity(lun, size):
    got = capacity(lun)
    return None if got == size else "capacity %d, want %d" % (got, size)


def update(*args):
    r = subprocess.run([ietadm, "--control=" + sock, "--op", "update",
                        "--tid=1"] + list(args), capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("ietadm: %s" % r.stderr.strip())
    return r.stdout


c = pt.Connection(port=int(port), timeout=10.0, isid=b"\x80" + os.urandom(5))
c.login("iqn.2026-11.org.example:resize", base + ":resize")
clear_ua(0)
clear_ua(1)
run("capacity at start", lambda: want_capacity(0, 64 * MB))


def grow():
    os.truncate(img, 96 * MB)
    return wait_ua(0, 0x2A, 0x09) or want_capacity(0, 96 * MB)


run("file grown: UA 2a/09 unasked, new capacity", grow)


def shrink():
    os.truncate(img, 32 * MB)
    why = wait_ua(0, 0x2A, 0x09) or want_capacity(0, 32 * MB)
    if why:
        return why
    # READ(16) of the first block past the new end.
    cdb = bytes([0x88, 0]) + struct.pack(">QI", 32 * MB // 512, 1) + bytes(2)
    st, _, p = c.scsi(cdb, read_len=512)
    if st != 2 or sense_of(p) != (5, 0x21, 0x00):
        return "READ past the end: status %r sense %r" % (st, sense_of(p))
    # The last block still reads.
    cdb = bytes([0x88, 0]) + struct.pack(">QI", 32 * MB // 512 - 1, 1) \
        + bytes(2)
    st, _, p = c.scsi(cdb, read_len=512)
    return None if st == 0 else "READ of the last block: %r" % st


run("file shrunk: UA 2a/09, LBA OUT OF RANGE past the end", shrink)


def rescan():
    os.truncate(img, 48 * MB)
    out = update("--lun=0")
    want = "Sectors=%d\nBlockSize=512\nSize=%d\n" % (48 * MB // 512, 48 * MB)
    if out != want:
        return "ietadm printed %r" % out
    # The rescan raised the UA already: no waiting for the poll.
    st, sense = tur(0)
    if st != 2 or sense != (6, 0x2A, 0x09):
        return "TUR right after the rescan: %r %r" % (st, sense)
    return want_capacity(0, 48 * MB)


run("ietadm rescan: new size at once, UA", rescan)


def nullio():
    out = update("--lun=1", "--params", "Sectors=4096")
    if out != "Sectors=4096\nBlockSize=512\nSize=2097152\n":
        return "ietadm printed %r" % out
    st, sense = tur(1)
    if st != 2 or sense != (6, 0x2A, 0x09):
        return "TUR after Sectors=4096: %r %r" % (st, sense)
    why = want_capacity(1, 4096 * 512)
    if why:
        return why
    # The new blocks read (zeros); the old LUN 0 saw nothing.
    cdb = bytes([0x88, 0]) + struct.pack(">QI", 4095, 1) + bytes(2)
    st, data, _ = c.scsi(cdb, lun=1, read_len=512)
    if st != 0 or data != bytes(512):
        return "READ of the last new block: %r" % st
    st, sense = tur(0)
    return None if st == 0 else "LUN 0 got %r" % (sense,)


run("nullio Sectors= resize: UA, capacity, new blocks read", nullio)


def nullio_shrink():
    update("--lun=1", "--params", "Sectors=1024")
    why = wait_ua(1, 0x2A, 0x09, 0.5) or want_capacity(1, 1024 * 512)
    if why:
        return why
    cdb = bytes([0x88, 0]) + struct.pack(">QI", 1024, 1) + bytes(2)
    st, _, p = c.scsi(cdb, lun=1, read_len=512)
    if st != 2 or sense_of(p) != (5, 0x21, 0x00):
        return "READ past the end: status %r sense %r" % (st, sense_of(p))
    return None


run("nullio shrunk: LBA OUT OF RANGE past the end", nullio_shrink)


def size_grow():
    out = update("--lun=0", "--params", "Size=64M")
    if out != "Sectors=131072\nBlockSize=512\nSize=%d\n" % (64 * MB):
        return "ietadm printed %r" % out
    if os.path.getsize(img) != 64 * MB:
        return "file is %d bytes" % os.path.getsize(img)
    return wait_ua(0, 0x2A, 0x09, 0.5) or want_capacity(0, 64 * MB)


run("fileio Size= grows the file: UA, capacity", size_grow)


def luns_changed(action, lun_expect):
    action()
    why = wait_ua(0, 0x3F, 0x0E)
    if why:
        return why
    cdb = bytes([0xA0, 0, 0, 0, 0, 0]) + struct.pack(">I", 256) + bytes(2)
    st, data, _ = c.scsi(cdb, read_len=256)
    n = struct.unpack(">I", data[:4])[0] // 8
    luns = sorted(pt.decode_lun(data[8 + 8 * i:16 + 8 * i])
                  for i in range(n))
    return None if luns == lun_expect else "REPORT LUNS %r" % luns


def adm_new():
    r = subprocess.run([ietadm, "--control=" + sock, "--op", "new",
                        "--tid=1", "--lun=2", "--params",
                        "Sectors=100,Type=nullio"], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


def adm_del():
    r = subprocess.run([ietadm, "--control=" + sock, "--op", "delete",
                        "--tid=1", "--lun=2"], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


def reload_add():
    with open(conf) as f:
        text = f.read()
    text = text.replace("Type=nullio\n", "Type=nullio\n"
                        "\tLun 3 Sectors=100,Type=nullio\n", 1)
    with open(conf, "w") as f:
        f.write(text)
    os.kill(int(pid), signal.SIGHUP)


run("ietadm LUN added: UA 3f/0e on LUN 0",
    lambda: luns_changed(adm_new, [0, 1, 2]))
run("ietadm LUN deleted: UA 3f/0e on LUN 0",
    lambda: luns_changed(adm_del, [0, 1]))
run("SIGHUP LUN added: UA 3f/0e on LUN 0",
    lambda: luns_changed(reload_add, [0, 1, 3]))
c.logout()
c.close()
sys.exit(1 if failures else 0)
PY
tap_import "$T/py.out"

# ---- the status file and libiscsi agree ------------------------------------
for i in $(seq 30); do
	grep -q "lun:1 state:0 iotype:nullio iomode:wt blocks:100 " \
		"$STATUS/volume" 2>/dev/null && break
	sleep 0.1
done
printf 'tid:1 name:%s\n\tlun:0 state:0 iotype:fileio iomode:wt blocks:131072 blocksize:512 path:%s\n\tlun:1 state:0 iotype:nullio iomode:wt blocks:2048 blocksize:512\n\tlun:3 state:0 iotype:nullio iomode:wt blocks:100 blocksize:512\ntid:2 name:%s\n\tlun:0 state:0 iotype:fileio iomode:ro blocks:16384 blocksize:512 path:%s\n' \
	"$IQN_BASE:resize" "$img" "$IQN_BASE:ro" "$roimg" >"$T/volume.want"
if cmp -s "$T/volume.want" "$STATUS/volume"; then
	ok "volume status file (SIGHUP restored Sectors=2048 from ietd.conf)"
else
	not_ok "volume status file" "$(diff "$T/volume.want" "$STATUS/volume")"
fi
# A resize shows in the file without any other change.
adm --op update --tid=1 --lun=1 --params Sectors=3000 >/dev/null
check "volume status file follows a resize" \
	grep -q "lun:1 state:0 iotype:nullio iomode:wt blocks:3000 blocksize:512$" \
	"$STATUS/volume"
check "--status=volume shows it too" bash -c \
	"'$IETADM' --control='$SOCK' --op show --status=volume --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0][\"luns\"][1][\"blocks\"]==3000, d'"
check "--dump keeps the new Sectors" bash -c \
	"'$IETADM' --control='$SOCK' --op show --dump | grep -q 'Lun 1 Sectors=3000'"
truncate -s 80M "$img"
for i in $(seq 30); do
	grep -q "blocks:163840 blocksize:512 path:$img" "$STATUS/volume" && break
	sleep 0.1
done
check "volume status file follows a grown file (poll)" \
	grep -q "lun:0 state:0 iotype:fileio iomode:wt blocks:163840 blocksize:512 path:$img$" \
	"$STATUS/volume"
check "iscsi-readcapacity16 sees the grown file" bash -c \
	"iscsi-readcapacity16 '$(url resize 0)' | grep -q 'Total size:$((80 * MB))'"
check "log names the change" grep -q \
	"target $IQN_BASE:resize lun 0: capacity changed from 131072 to 163840 blocks of 512 bytes" \
	"$IETD_LOG"
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
