#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Persistent reservations: every service action, TransportIDs, APTPL.

Run by 0815-pr-aptpl.sh once per phase, with ietd killed (-9) and
started again between phases on the same --state-dir:

  setup   A and B register (APTPL), A reserves WRITE EXCLUSIVE; C
          registers D (name-only TransportID) and E (with ISID) by
          SPEC_I_PT; hostile TransportIDs are refused with the field
          they got wrong and register nobody; F registers with
          ALL_TG_PT; REPORT CAPABILITIES; the state is saved to SAVED.
  check   after a restart (or a renumbered config): READ KEYS, READ
          RESERVATION and READ FULL STATUS are what setup saved; A still
          writes, B gets RESERVATION CONFLICT; D and E are registered.
  empty   the state file was corrupted: no keys, no reservation.
  move    REGISTER AND MOVE from A to a new nexus G (with UNREG): G holds
          with the service action key, A is gone; moves that must fail.
  abort   B's WRITE waits for its data; A preempts B with PREEMPT AND
          ABORT: B's WRITE ends TASK ABORTED and its data never lands, B
          meets REGISTRATIONS PREEMPTED.

    0815-pr-aptpl.py PHASE PORT TARGET LUN SAVED IMAGE
"""

import json
import os
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PHASE, PORT, TARGET, LUN, SAVED, IMAGE = sys.argv[1:7]
PORT = int(PORT)
LUN = int(LUN)
BS = 512
RESERVATION_CONFLICT = 0x18
TASK_ABORTED = 0x40
WE = 1
NODE = "iqn.2026-11.org.example:"
ISID = {"a": b"\x80\x00\x00\x00\x00\x0a", "b": b"\x80\x00\x00\x00\x00\x0b",
        "c": b"\x80\x00\x00\x00\x00\x0c", "d": b"\x80\x00\x00\x00\x00\x0d",
        "e": b"\x80\x00\x00\x00\x00\x0e", "f": b"\x80\x00\x00\x00\x00\x0f",
        "g": b"\x80\x00\x00\x00\x00\x10"}
KEY = {"a": 0xA1, "b": 0xB2, "c": 0xC3, "f": 0xF6}

result = pt.Results()


def session(who, isid=None):
    c = pt.Connection(port=PORT, timeout=10.0, isid=isid or ISID[who])
    c.login(NODE + who, TARGET, immediate_data=True, initial_r2t=True)
    pt.clear_unit_attention(c, lun=LUN)
    return c


def port_name(who, isid=None):
    return "%s,i,0x%s" % (NODE + who, (isid or ISID[who]).hex())


def tid(name, fmt=0x40, proto=0x05, pad=None):
    """An iSCSI TransportID (SPC-4 7.6.4.6)."""
    body = name.encode() + b"\0"
    if pad is None:
        pad = max(20, (len(body) + 3) // 4 * 4)
    body = body.ljust(pad, b"\0")
    return bytes([fmt | proto, 0]) + struct.pack(">H", pad) + body


def prout(c, sa, key=0, sakey=0, ptype=0, flags=0, tail=b"",
          plen=None):
    """PERSISTENT RESERVE OUT; tail follows the 24-byte list."""
    data = struct.pack(">QQ4xB3x", key, sakey, flags) + tail
    if sa == 7:  # REGISTER AND MOVE has its own layout
        data = tail
    n = len(data) if plen is None else plen
    cdb = struct.pack(">BBB2xIB", 0x5F, sa, ptype, n, 0)
    st, _, p = c.scsi(cdb, lun=LUN, write_data=data)
    return st, p.sense()


def move_list(key, sakey, rel, t, unreg=False, aptpl=True):
    return struct.pack(">QQBBHI", key, sakey, 0,
                       (2 if unreg else 0) | (1 if aptpl else 0), rel,
                       len(t)) + t


def prin(c, sa, alloc=8192):
    st, data, p = c.scsi(struct.pack(">BB5xHB", 0x5E, sa, alloc, 0),
                         lun=LUN, read_len=alloc)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("PR IN %d: status %r %s" % (sa, st,
                                                      p.sense().hex()))
    return data


def read_keys(c):
    d = prin(c, 0)
    gen, n = struct.unpack(">II", d[:8])
    return gen, sorted(struct.unpack(">Q", d[8 + i:16 + i])[0]
                       for i in range(0, n, 8))


def read_reservation(c):
    d = prin(c, 1)
    gen, n = struct.unpack(">II", d[:8])
    if n == 0:
        return gen, None
    return gen, (struct.unpack(">Q", d[8:16])[0], d[21] & 0x0F)


def full_status(c):
    """[(key, all_tg_pt, holder, type, rel port, TransportID hex)]."""
    d = prin(c, 3)
    gen, n = struct.unpack(">II", d[:8])
    out, off = [], 8
    while off < 8 + n:
        key = struct.unpack(">Q", d[off:off + 8])[0]
        flags, st = d[off + 12], d[off + 13]
        rel = struct.unpack(">H", d[off + 18:off + 20])[0]
        tl = struct.unpack(">I", d[off + 20:off + 24])[0]
        t = d[off + 24:off + 24 + tl]
        out.append([key, bool(flags & 2), bool(flags & 1), st & 0x0F, rel,
                    t.hex()])
        off += 24 + tl
    return gen, sorted(out)


def sense_is(sense, key, asc, ascq=None, field=None):
    """Fixed-format sense: key, ASC/ASCQ and the sense-key-specific
    field pointer (byte) when asked."""
    if len(sense) < 18 or sense[2] & 0x0F != key or sense[12] != asc:
        return False
    if ascq is not None and sense[13] != ascq:
        return False
    if field is not None:
        if not sense[15] & 0x80:
            return False
        if struct.unpack(">H", sense[16:18])[0] != field:
            return False
    return True


def write(c, lba, value):
    return c.scsi(pt.cdb_write10(lba, 1), lun=LUN,
                  write_data=bytes([value]) * BS)[0]


def snapshot(c):
    return {"keys": read_keys(c), "resv": read_reservation(c),
            "full": full_status(c)}


def phase_setup():
    a, b, c, f = session("a"), session("b"), session("c"), session("f")

    def reg_ab():
        for who, s in (("a", a), ("b", b)):
            st, sense = prout(s, 0, 0, KEY[who], flags=0x01)  # APTPL
            if st != pt.SCSI_GOOD:
                return "REGISTER %s: %r %s" % (who, st, sense.hex())
        st, sense = prout(a, 1, KEY["a"], ptype=WE)
        if st != pt.SCSI_GOOD:
            return "RESERVE: %r %s" % (st, sense.hex())
        if write(b, 10, 0xBB) != RESERVATION_CONFLICT:
            return "B's WRITE under A's WRITE EXCLUSIVE not refused"
        if write(a, 10, 0xAA) != pt.SCSI_GOOD:
            return "A's own WRITE refused"
        return None
    result.run("two nexuses register with APTPL, one reserves", reg_ab)

    def caps():
        d = prin(a, 2)
        # SIP_C, ATP_C, PTPL_C, CRH; PTPL_A now that APTPL is on.
        if d[2] & 0x1D != 0x1D:
            return "capability byte 2 is 0x%02x" % d[2]
        if not d[3] & 0x01 or not d[3] & 0x80:
            return "byte 3 is 0x%02x (PTPL_A, TMV)" % d[3]
        if d[4] != 0xEA or d[5] != 0x01:
            return "type mask %02x%02x" % (d[4], d[5])
        return None
    result.run("REPORT CAPABILITIES says SPEC_I_PT, ALL_TG_PT, APTPL",
               caps)

    before = read_keys(a)

    def hostile(name, tail, field, asc=0x26):
        def case():
            st, sense = prout(c, 0, 0, KEY["c"], flags=0x08, tail=tail)
            if st != pt.SCSI_CHECK_CONDITION or \
                    not sense_is(sense, 5, asc, field=field):
                return "status %r sense %s" % (st, sense.hex())
            if read_keys(a) != before:
                return "registrations changed: %r" % (read_keys(a),)
            return None
        result.run("SPEC_I_PT refuses %s" % name, case)

    good = tid(port_name("e"))

    def spec(*tids):
        body = b"".join(tids)
        return struct.pack(">I", len(body)) + body
    hostile("a Fibre Channel TransportID", spec(tid(NODE + "d", 0, 0)), 28)
    hostile("format 10b", spec(tid(NODE + "d", 0x80)), 28)
    hostile("a length not a multiple of four",
            spec(b"\x45\x00\x00\x15" + good[4:] + b"\0\0\0"), 30)
    hostile("a name without its NUL",
            spec(b"\x05\x00\x00\x14" + b"iqn.2026-11.org.exam"), 32)
    hostile("junk in the padding",
            spec(tid(NODE + "d")[:-1] + b"x"), 28 + len(tid(NODE + "d")) - 1)
    hostile("an ISID that is not hex",
            spec(tid(NODE + "e,i,0x80000000000z")),
            32 + len(NODE + "e,i,0x80000000000"))
    hostile("a name-only TransportID with ISID",
            spec(tid(NODE + "d,i,0x800000000001", 0x00)),
            32 + len(NODE + "d"))
    hostile("a comma in a name",
            spec(tid("iqn.x,y", 0x00)), 32 + 5)
    hostile("a TransportID named twice", spec(good, good), 28 + len(good))
    hostile("a nexus already registered", spec(tid(port_name("b"))), 28)
    hostile("a list longer than its length",
            struct.pack(">I", len(good) + 4) + good, None, asc=0x1A)
    hostile("a TransportID past the list",
            spec(good[:4]) + good[4:], None, asc=0x1A)

    def spec_far():
        # A bad TransportID past 64 KiB: no field pointer can name it.
        many = b"".join(tid(NODE + "big-%04d" % i, 0x00, pad=256)
                        for i in range(253))
        st, sense = prout(c, 0, 0, KEY["c"], flags=0x08,
                          tail=spec(many + tid(NODE + "d", 0, 0)))
        if st != pt.SCSI_CHECK_CONDITION or \
                not sense_is(sense, 5, 0x26) or sense[15] & 0x80:
            return "status %r sense %s" % (st, sense.hex())
        if read_keys(a) != before:
            return "registrations changed"
        return None
    result.run("SPEC_I_PT refuses a TransportID past 64 KiB, no pointer",
               spec_far)

    def spec_ok():
        st, sense = prout(c, 0, 0, KEY["c"], flags=0x09,
                          tail=spec(tid(NODE + "d", 0x00), good))
        if st != pt.SCSI_GOOD:
            return "status %r %s" % (st, sense.hex())
        _, full = full_status(a)
        tids = {bytes.fromhex(x[5]) for x in full if x[0] == KEY["c"]}
        want = {tid(NODE + "d", 0x00), good, tid(port_name("c"))}
        if tids != want:
            return "READ FULL STATUS TransportIDs %r" % tids
        # D, with any ISID, and E are registered: a key change needs it.
        for who, isid in (("d", b"\x80\x12\x34\x56\x78\x9a"), ("e", None)):
            s = session(who, isid)
            st, sense = prout(s, 0, KEY["c"], KEY["c"], flags=0x01)
            s.logout()
            if st != pt.SCSI_GOOD:
                return "%s not registered: %r %s" % (who, st, sense.hex())
        return None
    result.run("SPEC_I_PT registers a name-only and an ISID TransportID",
               spec_ok)

    def spec_registered():
        st, sense = prout(c, 0, KEY["c"], KEY["c"], flags=0x09,
                          tail=spec(tid(NODE + "h", 0x00)))
        if st != pt.SCSI_CHECK_CONDITION or \
                not sense_is(sense, 5, 0x26, field=20):
            return "status %r sense %s" % (st, sense.hex())
        return None
    result.run("SPEC_I_PT from a registered nexus is refused",
               spec_registered)

    def all_tg():
        st, sense = prout(f, 0, 0, KEY["f"], flags=0x05)
        if st != pt.SCSI_GOOD:
            return "status %r %s" % (st, sense.hex())
        _, full = full_status(a)
        mine = [x for x in full if x[0] == KEY["f"]]
        if len(mine) != 1 or not mine[0][1] or mine[0][4] != 0:
            return "descriptor %r" % mine
        # Registered, so a key change from F (through any port) works.
        st, _ = prout(f, 0, KEY["f"], KEY["f"], flags=0x01)
        return None if st == pt.SCSI_GOOD else "re-register %r" % st
    result.run("ALL_TG_PT registration reported with ALL_TG_PT", all_tg)

    snap = snapshot(a)
    with open(SAVED, "w") as fh:
        json.dump(snap, fh)
    note = "saved: %d keys, reservation %r" % (len(snap["keys"][1]),
                                              snap["resv"][1])
    print("# " + note)
    for s in (a, b, c, f):
        s.close()


def phase_check():
    with open(SAVED) as fh:
        want = json.load(fh)
    a, b = session("a"), session("b")
    got = json.loads(json.dumps(snapshot(a)))
    for what in ("keys", "resv", "full"):
        result(what + " as before the restart", got[what] == want[what],
               "%r, was %r" % (got[what], want[what]))
    result("A (same name and ISID) still writes",
           write(a, 11, 0xA1) == pt.SCSI_GOOD)
    result("B still meets RESERVATION CONFLICT",
           write(b, 11, 0xB1) == RESERVATION_CONFLICT)
    d = prin(a, 2)
    result("PTPL_A still on", bool(d[3] & 1), "byte 3 0x%02x" % d[3])
    a.close()
    b.close()


def phase_empty():
    a = session("a")
    gen, keys = read_keys(a)
    result("no keys after a bad state file", keys == [], repr(keys))
    result("no reservation after a bad state file",
           read_reservation(a)[1] is None)
    result("B writes again (no reservation)",
           write(session("b"), 12, 0xB2) == pt.SCSI_GOOD)
    a.close()


def phase_move():
    a, b = session("a"), session("b")
    g_port = port_name("g")

    def bad(name, fn, want):
        def case():
            st, sense = fn()
            if want == RESERVATION_CONFLICT:
                ok = st == RESERVATION_CONFLICT
            else:
                ok = st == pt.SCSI_CHECK_CONDITION and \
                    sense_is(sense, 5, want[0], field=want[1])
            return None if ok else "status %r sense %s" % (st, sense.hex())
        result.run("REGISTER AND MOVE refuses " + name, case)
    bad("a mover that does not hold",
        lambda: prout(b, 7, tail=move_list(KEY["b"], 0x77, 1,
                                           tid(g_port))),
        RESERVATION_CONFLICT)
    bad("a move to itself",
        lambda: prout(a, 7, tail=move_list(KEY["a"], 0x77, 1,
                                           tid(port_name("a")))),
        (0x26, 24))
    bad("an unknown relative target port",
        lambda: prout(a, 7, tail=move_list(KEY["a"], 0x77, 9,
                                           tid(g_port))),
        (0x26, 18))
    bad("service action key 0",
        lambda: prout(a, 7, tail=move_list(KEY["a"], 0, 1, tid(g_port))),
        (0x26, 8))

    def move():
        st, sense = prout(a, 7, tail=move_list(KEY["a"], 0x77, 1,
                                               tid(g_port), unreg=True))
        if st != pt.SCSI_GOOD:
            return "status %r %s" % (st, sense.hex())
        _, resv = read_reservation(b)
        if resv != (0x77, WE):
            return "reservation %r" % (resv,)
        _, keys = read_keys(b)
        if KEY["a"] in keys or 0x77 not in keys:
            return "keys %r" % keys
        g = session("g")
        if write(g, 13, 0x77) != pt.SCSI_GOOD:
            return "G cannot write"
        if write(session("a"), 13, 0xA1) != RESERVATION_CONFLICT:
            return "A (unregistered) still writes"
        g.close()
        return None
    result.run("REGISTER AND MOVE with UNREG hands the reservation to G",
               move)
    a.close()
    b.close()


def phase_abort():
    a, b = session("a"), session("b")
    # After the move G holds WRITE EXCLUSIVE with 0x77 and B is
    # registered. A registers and preempts G into REGISTRANTS ONLY, so
    # B (registered) may write.
    st, sense = prout(a, 6, 0, KEY["a"], flags=0x01)
    if st == pt.SCSI_GOOD:
        st, sense = prout(a, 4, KEY["a"], 0x77, ptype=5)
    if not result("A registers and preempts G", st == pt.SCSI_GOOD,
                  "status %r %s" % (st, sense.hex())):
        return
    lba = 20
    with open(IMAGE, "rb") as fh:
        fh.seek(lba * BS)
        old = fh.read(BS)
    itt = b.next_itt()
    b.send(pt.scsi_command(LUN, itt, pt.cdb_write10(lba, 1), BS, b.cmdsn,
                           b.exp_statsn, write=True))
    b.cmdsn += 1
    r2t = b.recv()
    if not result("B's WRITE waits for its data", r2t.opcode == pt.OP_R2T,
                  repr(r2t)):
        return
    st, sense = prout(a, 5, KEY["a"], KEY["b"], ptype=5)
    result("PREEMPT AND ABORT of B's key", st == pt.SCSI_GOOD,
           "status %r %s" % (st, sense.hex()))
    b.send(pt.data_out(LUN, itt, r2t.ttt, b.exp_statsn, 0, 0, BS),
           b"\xBB" * BS)
    rsp = b.recv()
    result("B's waiting WRITE ends TASK ABORTED",
           rsp.opcode == pt.OP_SCSI_RSP and rsp.status == TASK_ABORTED,
           "%r status %r" % (rsp, getattr(rsp, "status", None)))
    # Before it, RESERVATIONS RELEASED of A's preempt changing the type.
    uas = []
    for _ in range(4):
        st, _, p = b.scsi(bytes(6), lun=LUN)
        if st != pt.SCSI_CHECK_CONDITION:
            break
        uas.append(p.sense()[12:14].hex())
    result("B meets RESERVATIONS RELEASED, REGISTRATIONS PREEMPTED",
           uas == ["2a04", "2a05"], repr(uas))
    with open(IMAGE, "rb") as fh:
        fh.seek(lba * BS)
        result("B's data never reached the medium", fh.read(BS) == old)
    _, keys = read_keys(a)
    result("B's key is gone", KEY["b"] not in keys, repr(keys))
    a.close()
    b.close()


def phase_aptpl_off():
    a = session("a")
    st, _ = prout(a, 0, 0, KEY["a"], flags=0x01)
    result("REGISTER with APTPL", st == pt.SCSI_GOOD)
    print("# state files with APTPL: %s" % sorted(os.listdir(SAVED)))
    result("a state file is written", len(os.listdir(SAVED)) == 1)
    st, _ = prout(a, 0, KEY["a"], KEY["a"], flags=0x00)
    result("REGISTER with APTPL 0", st == pt.SCSI_GOOD)
    result("APTPL cleared removes the state file",
           os.listdir(SAVED) == [], repr(os.listdir(SAVED)))
    result("PTPL_A off", not prin(a, 2)[3] & 1)
    a.close()


def phase_burst():
    """PR OUTs with APTPL pipelined: each is saved before it is answered,
    by one writer thread per LU (SAVED is ietd's pid here), not a thread
    and a snapshot per command in flight."""
    pid, n = int(SAVED), 30

    def threads():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0
    a = session("g")
    st, _ = prout(a, 6, 0, 0x1000, flags=0x01)
    result("REGISTER AND IGNORE EXISTING KEY with APTPL", st == pt.SCSI_GOOD)
    base = threads()
    peak, stop = [base], [False]

    def sample():
        while not stop[0]:
            peak[0] = max(peak[0], threads())
    th = threading.Thread(target=sample)
    th.start()
    try:
        for i in range(n):
            data = struct.pack(">QQ4xB3x", 0, 0x1001 + i, 0x01)
            cdb = struct.pack(">BBB2xIB", 0x5F, 6, 0, len(data), 0)
            a.send(pt.scsi_command(LUN, a.next_itt(), cdb, len(data),
                                   a.cmdsn, a.exp_statsn, write=True,
                                   dsl=len(data)), data)
            a.cmdsn = (a.cmdsn + 1) & 0xFFFFFFFF
        got = []
        while len(got) < n:
            p = a.recv()
            if p.opcode == pt.OP_SCSI_RSP:
                got.append(p.status)
    finally:
        stop[0] = True
        th.join()
    result("%d pipelined PR OUTs with APTPL all GOOD" % n,
           got == [pt.SCSI_GOOD] * n, repr(got))
    result("one writer thread for them, not one each",
           peak[0] - base <= 1, "%d threads, %d before" % (peak[0], base))
    keys = read_keys(a)[1]
    result("the last key is the one kept",
           0x1000 + n in keys and not set(range(0x1000, 0x1000 + n)) &
           set(keys), repr(keys))
    a.close()


def phase_unwritable():
    a, b = session("a"), session("b")
    st, sense = prout(a, 0, 0, KEY["a"], flags=0x01)
    result("REGISTER with APTPL and no state dir: INTERNAL TARGET FAILURE",
           st == pt.SCSI_CHECK_CONDITION and sense_is(sense, 4, 0x44),
           "status %r %s" % (st, sense.hex()))
    # Other sessions are served meanwhile, and later.
    result("another session still served",
           write(b, 30, 0xB3) == pt.SCSI_GOOD)
    a.close()
    b.close()


# SPC-4 5.13.1 table 49 and SBC-4's: which class each command is in.
CMDS = [("READ(10)", "r", lambda c: c.scsi(pt.cdb_read10(0, 1), lun=LUN,
                                            read_len=BS)),
        ("WRITE(10)", "w", lambda c: c.scsi(pt.cdb_write10(40, 1), lun=LUN,
                                             write_data=b"\0" * BS)),
        ("MODE SENSE(6)", "r",
         lambda c: c.scsi(bytes([0x1A, 0, 0x3F, 0, 255, 0]), lun=LUN,
                          read_len=255)),
        ("GET LBA STATUS", "r",
         lambda c: c.scsi(bytes([0x9E, 0x12]) + bytes(8) +
                          struct.pack(">I", 64) + bytes(2), lun=LUN,
                          read_len=64)),
        ("SYNCHRONIZE CACHE(10)", "w",
         lambda c: c.scsi(pt.cdb_sync_cache10(), lun=LUN)),
        ("TEST UNIT READY", "-", lambda c: c.scsi(bytes(6), lun=LUN)),
        ("READ CAPACITY(10)", "-",
         lambda c: c.scsi(bytes([0x25]) + bytes(9), lun=LUN, read_len=8)),
        ("INQUIRY", "-", lambda c: c.scsi(bytes([0x12, 0, 0, 0, 96, 0]),
                                          lun=LUN, read_len=96)),
        ("PERSISTENT RESERVE IN", "-",
         lambda c: c.scsi(struct.pack(">BB5xHB", 0x5E, 0, 64, 0), lun=LUN,
                          read_len=64)),
        ("RESERVE(6)", "x", lambda c: c.scsi(bytes([0x16]) + bytes(5),
                                             lun=LUN))]


def conflicts(ptype, cls, registered):
    if cls == "-":
        return False
    if cls == "x":
        return True
    if ptype == 1:
        return cls == "w"
    if ptype == 3:
        return True
    if registered:
        return False
    return cls == "w" if ptype in (5, 7) else True


def phase_table():
    a, b, c = session("a"), session("b"), session("c")
    prout(a, 6, 0, KEY["a"])
    prout(b, 6, 0, KEY["b"])
    prout(c, 6, 0, 0)
    bad = []
    for ptype in (1, 3, 5, 6, 7, 8):
        st, sense = prout(a, 1, KEY["a"], ptype=ptype)
        if st != pt.SCSI_GOOD:
            bad.append("RESERVE type %d: %r %s" % (ptype, st, sense.hex()))
            continue
        for who, s, registered in (("B", b, True), ("C", c, False)):
            pt.clear_unit_attention(s, lun=LUN)
            for name, cls, fn in CMDS:
                st = fn(s)[0]
                want = conflicts(ptype, cls, registered)
                if (st == RESERVATION_CONFLICT) != want:
                    bad.append("type %d, %s %s: status %r" %
                               (ptype, who, name, st))
        # The holder itself is never in conflict (but RESERVE(6)).
        for name, cls, fn in CMDS:
            st = fn(a)[0]
            if (st == RESERVATION_CONFLICT) != (cls == "x"):
                bad.append("type %d, holder %s: status %r" %
                           (ptype, name, st))
        prout(a, 2, KEY["a"], ptype=ptype)
    result("every command against every reservation type", not bad,
           "; ".join(bad[:6]))
    for s in (a, b, c):
        s.close()


PHASES = {"burst": phase_burst, "table": phase_table, "aptpl-off": phase_aptpl_off, "unwritable": phase_unwritable, "setup": phase_setup, "check": phase_check, "empty": phase_empty,
          "move": phase_move, "abort": phase_abort}
PHASES[PHASE]()
sys.exit(1 if result.failures else 0)
