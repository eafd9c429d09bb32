#!/bin/bash
# SPDX-License-Identifier: ISC
# Target-initiated NOP-In (NOPInterval / NOPTimeout): an idle session that
# answers is pinged and kept, one that never answers is dropped within
# the timeout. Task management: ABORT TASK of an unknown task answers
# "task does not exist"; LOGICAL UNIT RESET completes and the other
# session sees the unit attention on its next command.
. "$(dirname "$0")/lib.sh"

img1=$(make_image nop.img 16M)
img2=$(make_image quiet.img 16M)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:nop
	NOPInterval 1
	NOPTimeout 2
	Lun 0 Path=$img1
Target $IQN_BASE:quiet
	Lun 0 Path=$img2
CONF
ietd_start || { not_ok start; finish; exit 1; }

cat > "$T/tmf.py" <<'PY'
import os, struct, sys, time
sys.path.insert(0, sys.argv[3])
import protocol_tester as pt

PORT, BASE = int(sys.argv[1]), sys.argv[2]
fails = 0


def result(name, why):
    global fails
    if why is None:
        print("ok - " + name, flush=True)
    else:
        fails += 1
        print("not ok - %s: %s" % (name, why), flush=True)


def run(name, fn):
    try:
        why = fn()
    except Exception as e:
        why = "%s: %s" % (type(e).__name__, e)
    result(name, why)


def session(target, name="iqn.2026-11.org.example:tmf"):
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    c.login(name, BASE + ":" + target)
    return c


def sense_key_asc(sense):
    """(key, ASC, ASCQ) of fixed (0x70/71) or descriptor (0x72/73) sense."""
    if len(sense) >= 14 and sense[0] & 0x7F in (0x70, 0x71):
        return sense[2] & 0x0F, sense[12], sense[13]
    if len(sense) >= 4 and sense[0] & 0x7F in (0x72, 0x73):
        return sense[1] & 0x0F, sense[2], sense[3]
    return None


def tur(c):
    st, _, p = c.scsi(bytes(6))
    return st, sense_key_asc(p.sense()) if st == 2 else None


def clear_ua(c):
    for _ in range(4):
        st, ks = tur(c)
        if st == 0:
            return
        if ks is None or ks[0] != 6:
            raise RuntimeError("TEST UNIT READY %r %r" % (st, ks))
    raise RuntimeError("unit attention does not clear")


def tmf(c, function, lun=0, rtt=pt.RESERVED_TAG, refcmdsn=0):
    return c.tmf(function, lun, rtt, refcmdsn)


def case_nop_answered():
    c = session("nop")
    try:
        pings, end = 0, time.time() + 4.5
        c.sock.settimeout(3)
        while time.time() < end:
            p = c.recv()
            if p.opcode != pt.OP_NOP_IN:
                return "unexpected opcode 0x%02x" % p.opcode
            if p.itt != pt.RESERVED_TAG or p.ttt == pt.RESERVED_TAG:
                return "ITT 0x%08x TTT 0x%08x" % (p.itt, p.ttt)
            # RFC 7143 11.19.4: an unsolicited NOP-In carries the next
            # StatSN but does not use it.
            if p.statsn != c.exp_statsn:
                return "StatSN %u, want %u" % (p.statsn, c.exp_statsn)
            pings += 1
            c.send(pt.nop_out(pt.RESERVED_TAG, c.cmdsn, c.exp_statsn,
                              ttt=p.ttt, lun=p.lun))
        if pings < 3:
            return "only %d pings in 4.5 s with NOPInterval 1" % pings
        p = c.nop(b"still here")
        while p.opcode == pt.OP_NOP_IN and p.itt == pt.RESERVED_TAG:
            c.send(pt.nop_out(pt.RESERVED_TAG, c.cmdsn, c.exp_statsn,
                              ttt=p.ttt))
            p = c.recv()
        if p.data != b"still here":
            return "session did not survive: %r" % p
        return None
    finally:
        c.close()


def case_nop_silent():
    c = session("nop")
    try:
        start = time.time()
        c.sock.settimeout(6)
        p = c.recv()
        if p.opcode != pt.OP_NOP_IN or p.ttt == pt.RESERVED_TAG:
            return "first PDU %r is no ping" % p
        try:
            p = c.recv()
            return "got %r instead of a close" % p
        except (EOFError, ConnectionResetError):
            pass
        took = time.time() - start
        # Ping after 1 s, dropped 1 s later (NOPTimeout 2 > NOPInterval
        # 1 counts as 1, ietd.conf(5)); allow scheduling slack.
        if not 1.5 <= took <= 3.5:
            return "dropped after %.1f s, want about 2" % took
        return None
    finally:
        c.close()


def case_abort_unknown():
    c = session("quiet")
    try:
        clear_ua(c)
        # The TUR used CmdSN cmdsn-1 and completed: a task with that
        # RefCmdSN and an unused tag no longer exists (RFC 7143 11.5.1).
        p = tmf(c, 1, rtt=0x7777, refcmdsn=(c.cmdsn - 1) & 0xFFFFFFFF)
        if p.response != 1:
            return "response %d, want 1 (task does not exist)" % p.response
        return None
    finally:
        c.close()


def case_lun_reset():
    a = session("quiet", "iqn.2026-11.org.example:a")
    b = session("quiet", "iqn.2026-11.org.example:b")
    try:
        clear_ua(a)
        clear_ua(b)
        st, ks = tur(b)
        if st != 0:
            return "b not ready before the reset: %r %r" % (st, ks)
        p = tmf(a, 5)
        if p.response != 0:
            return "LUN RESET response %d, want 0" % p.response
        st, ks = tur(b)
        if st != 2 or ks is None or ks[0] != 6 or ks[1:] not in \
                ((0x29, 0x03), (0x29, 0x00)):
            return "b: status %r sense %r, want 06/29/03" % (st, ks)
        st, ks = tur(b)
        if st != 0:
            return "b: unit attention reported twice: %r %r" % (st, ks)
        p = tmf(a, 5, lun=9)
        if p.response != 2:
            return "LUN RESET of LUN 9: response %d, want 2" % p.response
        return None
    finally:
        a.close()
        b.close()


def case_abort_waiting():
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-11.org.example:abort", BASE + ":quiet",
            immediate_data=False, initial_r2t=True)
    try:
        clear_ua(c)
        itt, cmdsn = c.next_itt(), c.cmdsn
        cdb = struct.pack(">BBIBHB", 0x2A, 0, 300, 0, 8, 0)
        c.send(pt.scsi_command(0, itt, cdb, 8 * 512, cmdsn, c.exp_statsn,
                               write=True))
        c.cmdsn += 1
        r2t = c.recv()
        if r2t.opcode != pt.OP_R2T:
            return "no R2T but %r" % r2t
        # Abort the write that waits for its data: Function complete,
        # and the task itself never answers (RFC 7143 11.5.1).
        p = tmf(c, 1, rtt=itt, refcmdsn=cmdsn)
        if p.response != 0:
            return "response %d, want 0 (function complete)" % p.response
        # Late data for the aborted task is dropped without an answer.
        c.send(pt.data_out(0, itt, r2t.ttt, c.exp_statsn, 0, 0, 8 * 512),
               b"\xee" * (8 * 512))
        p = c.nop(b"after")
        if p.opcode != pt.OP_NOP_IN or p.data != b"after":
            return "after the abort got %r" % p
        st, _ = tur(c)
        if st != 0:
            return "TUR after abort: %r" % st
        # The data sent after the abort never reached the disk.
        st, got, _ = c.scsi(struct.pack(">BBIBHB", 0x28, 0, 300, 0, 8, 0),
                            read_len=8 * 512)
        return None if st == 0 and got == bytes(8 * 512) else \
            "aborted write reached the disk (status %r)" % st
    finally:
        c.close()


def case_abort_task_set():
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-11.org.example:abortset", BASE + ":quiet",
            immediate_data=False, initial_r2t=True)
    try:
        clear_ua(c)
        for n in range(3):
            cdb = struct.pack(">BBIBHB", 0x2A, 0, 400 + n, 0, 1, 0)
            c.send(pt.scsi_command(0, c.next_itt(), cdb, 512, c.cmdsn,
                                   c.exp_statsn, write=True))
            c.cmdsn += 1
            if c.recv().opcode != pt.OP_R2T:
                return "no R2T for write %d" % n
        p = tmf(c, 2)
        if p.response != 0:
            return "ABORT TASK SET response %d, want 0" % p.response
        p = c.nop(b"x")
        if p.opcode != pt.OP_NOP_IN:
            return "an aborted task answered: %r" % p
        st, _ = tur(c)
        return None if st == 0 else "TUR after abort: %r" % st
    finally:
        c.close()


run("NOP-In pings an idle session that answers", case_nop_answered)
run("a session that never answers is dropped within the timeout",
    case_nop_silent)
run("ABORT TASK of an unknown task: task does not exist", case_abort_unknown)
run("ABORT TASK of a write waiting for data: complete, no response",
    case_abort_waiting)
run("ABORT TASK SET of 3 waiting writes", case_abort_task_set)
run("LOGICAL UNIT RESET: complete, unit attention on the other session",
    case_lun_reset)
sys.exit(1 if fails else 0)
PY
python3 "$T/tmf.py" "$PORT" "$IQN_BASE" "$(dirname "$0")" >"$T/py.out" 2>&1
tap_import "$T/py.out"
check "drop logged" grep -q "no answer to NOP-In within 1000 ms, dropping connection" "$IETD_LOG"
check "still serving" iscsi-inq "$(url quiet 0)"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
