#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Persistent reservations of one RBD LU through two ietd gateways.

Gateway A (portal group 1) and gateway B (portal group 2) are two ietd
processes exporting the same target and RBD image. Run by
0870-pr-gateways.sh once per phase:

  spc2     c's SPC-2 RESERVE through A holds off b's WRITE and RESERVE
           through B; c's logout from A ends it for B too.
  two      a registers through A; b registers and reserves WRITE
           EXCLUSIVE through B; through A, c (unregistered) and a
           (registered, not the holder) get RESERVATION CONFLICT for a
           WRITE, b writes through B; READ KEYS, READ RESERVATION and
           READ FULL STATUS are the same bytes through A and B. Then b
           makes it REGISTRANTS ONLY, a starts a WRITE through A (waits
           for its data), and b PREEMPT AND ABORTs a's key through B:
           a's WRITE ends TASK ABORTED, its data never lands, a meets
           REGISTRATIONS PREEMPTED on A and its key is gone there.
  check    after both gateways were killed and started again: the same
           keys and reservation through both (APTPL in RADOS).
  corrupt  the RADOS object was overwritten with junk: no reservation
           through either gateway, and a REGISTER fails (HARDWARE ERROR)
           instead of overwriting what an administrator must look at.

0871-pr-gateways-hung.sh: pair (a registers through A, b through B);
race (eight initiators register at once through both gateways: every
key is kept, and no notification waits for its timeout);
hung-peer (B stopped: a RESERVE through A answers GOOD within a bound);
woken-peer (B continued: it reloads the reservation it missed);
hung-cluster (the OSD stopped: a RELEASE through A fails with HARDWARE
ERROR within a bound, PR IN answers from the gateway's copy);
cluster-back (the OSD continued: RELEASE works, B sees it).

    0870-pr-gateways.py PHASE PORT_A PORT_B TARGET SAVED
"""

import json
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PHASE, PORT_A, PORT_B, TARGET, SAVED = sys.argv[1:6]
PORTS = {"A": int(PORT_A), "B": int(PORT_B)}
LUN = 0
BS = 512
RESERVATION_CONFLICT = 0x18
TASK_ABORTED = 0x40
NODE = "iqn.2026-11.org.example:"
ISID = {"a": b"\x80\x00\x00\x00\x00\x0a", "b": b"\x80\x00\x00\x00\x00\x0b",
        "c": b"\x80\x00\x00\x00\x00\x0c"}
KEY = {"a": 0xA1, "b": 0xB2}

result = pt.Results()


def session(who, gw):
    c = pt.Connection(port=PORTS[gw], timeout=20.0, isid=ISID[who])
    c.login(NODE + who, TARGET, immediate_data=True, initial_r2t=True)
    pt.clear_unit_attention(c, lun=LUN)
    return c


def prout(c, sa, key=0, sakey=0, ptype=0, flags=0):
    data = struct.pack(">QQ4xB3x", key, sakey, flags)
    cdb = struct.pack(">BBB2xIB", 0x5F, sa, ptype, len(data), 0)
    st, _, p = c.scsi(cdb, lun=LUN, write_data=data)
    return st, p.sense()


def prin(c, sa, alloc=8192):
    st, data, p = c.scsi(struct.pack(">BB5xHB", 0x5E, sa, alloc, 0),
                         lun=LUN, read_len=alloc)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("PR IN %d: status %r %s" % (sa, st,
                                                      p.sense().hex()))
    return data


def keys_of(c):
    d = prin(c, 0)
    _, n = struct.unpack(">II", d[:8])
    return sorted(struct.unpack(">Q", d[8 + i:16 + i])[0]
                  for i in range(0, n, 8))


def reservation_of(c):
    d = prin(c, 1)
    _, n = struct.unpack(">II", d[:8])
    if n == 0:
        return None
    return struct.unpack(">Q", d[8:16])[0], d[21] & 0x0F


def write(c, lba, fill):
    st, _, p = c.scsi(pt.cdb_write10(lba, 1), lun=LUN,
                      write_data=bytes([fill]) * BS)
    return st


def read(c, lba):
    st, data, _ = c.scsi(pt.cdb_read10(lba, 1), lun=LUN, read_len=BS)
    return data if st == pt.SCSI_GOOD else None


def ok_status(name, st, sense):
    return result(name, st == pt.SCSI_GOOD,
                  "status %r sense %s" % (st, sense.hex()))


def phase_two():
    a, b = session("a", "A"), session("b", "B")
    c = session("c", "A")
    st, sense = prout(a, 0, 0, KEY["a"], flags=0x01)
    ok_status("a registers through A (APTPL)", st, sense)
    st, sense = prout(b, 0, 0, KEY["b"], flags=0x01)
    ok_status("b registers through B", st, sense)
    st, sense = prout(b, 1, KEY["b"], ptype=1)
    ok_status("b reserves WRITE EXCLUSIVE through B", st, sense)
    result("A sees both keys", keys_of(a) == [KEY["a"], KEY["b"]],
           repr(keys_of(a)))
    result("A sees b's reservation", reservation_of(a) == (KEY["b"], 1),
           repr(reservation_of(a)))
    st = write(c, 8, 0xCC)
    result("an unregistered initiator's WRITE through A conflicts",
           st == RESERVATION_CONFLICT, "status %r" % st)
    st = write(a, 8, 0xAA)
    result("a registered non-holder's WRITE through A conflicts",
           st == RESERVATION_CONFLICT, "status %r" % st)
    st = write(b, 8, 0xBB)
    result("the holder writes through B", st == pt.SCSI_GOOD,
           "status %r" % st)
    result("reads through A are not held back (WRITE EXCLUSIVE)",
           read(c, 8) == b"\xBB" * BS)
    for sa, what in ((0, "READ KEYS"), (1, "READ RESERVATION"),
                     (3, "READ FULL STATUS")):
        da, db = prin(a, sa), prin(b, sa)
        result("%s is the same through A and B" % what, da == db,
               "A %s B %s" % (da[:64].hex(), db[:64].hex()))
    # PREEMPT AND ABORT through B ends a's command on A.
    st, sense = prout(b, 2, KEY["b"], ptype=1)
    if st == pt.SCSI_GOOD:
        st, sense = prout(b, 1, KEY["b"], ptype=5)
    if not ok_status("b holds REGISTRANTS ONLY instead", st, sense):
        return
    # Releasing WRITE EXCLUSIVE tells nobody (SPC-4 5.13.11.2.2).
    pt.clear_unit_attention(a, lun=LUN)
    lba = 20
    before = read(c, lba)
    itt = a.next_itt()
    a.send(pt.scsi_command(LUN, itt, pt.cdb_write10(lba, 1), BS, a.cmdsn,
                           a.exp_statsn, write=True))
    a.cmdsn += 1
    r2t = a.recv()
    if not result("a's WRITE through A waits for its data",
                  r2t.opcode == pt.OP_R2T, repr(r2t)):
        return
    st, sense = prout(b, 5, KEY["b"], KEY["a"], ptype=5)
    ok_status("b PREEMPT AND ABORTs a's key through B", st, sense)
    a.send(pt.data_out(LUN, itt, r2t.ttt, a.exp_statsn, 0, 0, BS),
           b"\xAA" * BS)
    rsp = a.recv()
    result("a's waiting WRITE on A ends TASK ABORTED",
           rsp.opcode == pt.OP_SCSI_RSP and rsp.status == TASK_ABORTED,
           "%r status %r" % (rsp, getattr(rsp, "status", None)))
    uas = []
    for _ in range(3):
        st, _, p = a.scsi(bytes(6), lun=LUN)
        if st != pt.SCSI_CHECK_CONDITION:
            break
        uas.append(p.sense()[12:14].hex())
    result("a meets REGISTRATIONS PREEMPTED on A", uas == ["2a05"],
           repr(uas))
    result("a's data never reached the image", read(b, lba) == before)
    result("a's key is gone through A", keys_of(a) == [KEY["b"]],
           repr(keys_of(a)))
    st = write(a, 9, 0xAA)
    result("a's WRITE through A now conflicts",
           st == RESERVATION_CONFLICT, "status %r" % st)
    with open(SAVED, "w") as fh:
        json.dump({"keys": keys_of(b), "res": reservation_of(b),
                   "full": prin(b, 3).hex()}, fh)
    for x in (a, b, c):
        x.close()


def phase_check():
    with open(SAVED) as fh:
        saved = json.load(fh)
    a, b = session("a", "A"), session("b", "B")
    for name, c in (("A", a), ("B", b)):
        result("after both restarts, the keys through %s" % name,
               keys_of(c) == saved["keys"], repr(keys_of(c)))
        res = reservation_of(c)
        result("after both restarts, the reservation through %s" % name,
               list(res or []) == saved["res"], repr(res))
        result("after both restarts, READ FULL STATUS through %s" % name,
               prin(c, 3).hex() == saved["full"])
    result("PTPL_A through A", prin(a, 2)[3] & 1 == 1)
    st = write(a, 9, 0xAA)
    result("a's WRITE through A still conflicts",
           st == RESERVATION_CONFLICT, "status %r" % st)
    st = write(b, 9, 0xBB)
    result("b still writes through B", st == pt.SCSI_GOOD, "status %r" % st)
    a.close()
    b.close()


def phase_corrupt():
    a, b = session("a", "A"), session("b", "B")
    for name, c in (("A", a), ("B", b)):
        result("a corrupted state is not trusted through %s" % name,
               keys_of(c) == [] and reservation_of(c) is None,
               repr((keys_of(c), reservation_of(c))))
    st, sense = prout(a, 0, 0, KEY["a"])
    result("a REGISTER through A fails with HARDWARE ERROR",
           st == pt.SCSI_CHECK_CONDITION and len(sense) > 13 and
           sense[2] & 0x0F == 0x4 and sense[12] == 0x44,
           "status %r sense %s" % (st, sense.hex()))
    a.close()
    b.close()


def phase_spc2():
    c, b = session("c", "A"), session("b", "B")
    st, _, p = c.scsi(bytes([0x16, 0, 0, 0, 0, 0]), lun=LUN)
    ok_status("c RESERVE (6) through A", st, p.sense())
    st = write(b, 8, 0xBB)
    result("b's WRITE through B conflicts with c's RESERVE",
           st == RESERVATION_CONFLICT, "status %r" % st)
    st, _, _ = b.scsi(bytes([0x16, 0, 0, 0, 0, 0]), lun=LUN)
    result("b's RESERVE (6) through B conflicts",
           st == RESERVATION_CONFLICT, "status %r" % st)
    st = write(c, 8, 0xCC)
    result("c writes through A", st == pt.SCSI_GOOD, "status %r" % st)
    c.logout()
    c.close()
    for _ in range(50):
        st = write(b, 8, 0xBB)
        if st == pt.SCSI_GOOD:
            break
        time.sleep(0.1)
    result("c's logout from A ends its reservation for B too",
           st == pt.SCSI_GOOD, "status %r" % st)
    b.close()


def phase_pair():
    a, b = session("a", "A"), session("b", "B")
    st, sense = prout(a, 0, 0, KEY["a"])
    ok_status("a registers through A", st, sense)
    st, sense = prout(b, 0, 0, KEY["b"])
    ok_status("b registers through B", st, sense)
    a.close()
    b.close()


def phase_race():
    """Eight initiators register at once, half through each gateway:
    compare-and-set loses none, and two gateways writing at once each
    acknowledge the other's notification (no notify timeout)."""
    n = 8
    conns = []
    for i in range(n):
        c = pt.Connection(port=PORTS["AB"[i % 2]], timeout=30.0,
                          isid=bytes([0x80, 0, 0, 0, 1, i]))
        c.login(NODE + "r%d" % i, TARGET, immediate_data=True,
                initial_r2t=True)
        pt.clear_unit_attention(c, lun=LUN)
        conns.append(c)
    go = threading.Barrier(n)
    got = [None] * n

    def reg(i):
        go.wait()
        got[i] = prout(conns[i], 0, 0, 0x100 + i)[0]

    t0 = time.monotonic()
    ts = [threading.Thread(target=reg, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.monotonic() - t0
    print("# %d concurrent REGISTERs took %.1f s" % (n, took))
    result("%d REGISTERs at once through both gateways are GOOD" % n,
           got == [pt.SCSI_GOOD] * n, repr(got))
    result("they do not wait for a notify timeout", took < 8,
           "%.1f s" % took)
    want = sorted([KEY["a"], KEY["b"]] + [0x100 + i for i in range(n)])
    for gw, c in (("A", conns[0]), ("B", conns[1])):
        result("every key through %s" % gw, keys_of(c) == want,
               repr([hex(k) for k in keys_of(c)]))
    for i, c in enumerate(conns):
        prout(c, 0, 0x100 + i, 0)
        c.close()


def timed_prout(who, gw, sa, key, ptype, name, bound, want_good):
    c = session(who, gw)
    t0 = time.monotonic()
    st, sense = prout(c, sa, key, ptype=ptype)
    took = time.monotonic() - t0
    print("# %s took %.1f s" % (name, took))
    if want_good:
        ok_status(name, st, sense)
    else:
        result(name, st == pt.SCSI_CHECK_CONDITION and len(sense) > 13 and
               sense[2] & 0x0F == 0x4 and sense[12] == 0x44,
               "status %r sense %s" % (st, sense.hex()))
    result("%s within %d s" % (name, bound), took < bound, "%.1f s" % took)
    return c


def phase_hung_peer():
    """B is stopped: a RESERVE through A still answers, in bounded time."""
    c = timed_prout("a", "A", 1, KEY["a"], 1,
                    "a reserves through A while B is stopped", 15, True)
    c.close()


def phase_woken_peer():
    """B woke up: it reloads the state it missed."""
    b = session("b", "B")
    res = None
    for _ in range(100):
        res = reservation_of(b)
        if res == (KEY["a"], 1):
            break
        time.sleep(0.2)
    result("B, woken, sees the reservation made while it was stopped",
           res == (KEY["a"], 1), repr(res))
    st = write(b, 9, 0xBB)
    result("b's WRITE through B conflicts", st == RESERVATION_CONFLICT,
           "status %r" % st)
    b.close()


def phase_hung_cluster():
    """The OSD is stopped: PR OUT fails in bounded time, PR IN answers."""
    c = timed_prout("a", "A", 2, KEY["a"], 1,
                    "a RELEASE through A with the OSD stopped fails", 15,
                    False)
    t0 = time.monotonic()
    res = reservation_of(c)
    result("READ RESERVATION answers from the gateway's copy",
           res == (KEY["a"], 1) and time.monotonic() - t0 < 2, repr(res))
    c.close()


def phase_cluster_back():
    c = session("a", "A")
    st, sense = prout(c, 2, KEY["a"], ptype=1)
    ok_status("a RELEASE through A once the OSD is back", st, sense)
    b = session("b", "B")
    result("B sees the reservation released", reservation_of(b) is None,
           repr(reservation_of(b)))
    b.close()
    c.close()


{"spc2": phase_spc2, "two": phase_two, "check": phase_check, "corrupt": phase_corrupt,
 "pair": phase_pair, "race": phase_race, "hung-peer": phase_hung_peer,
 "woken-peer": phase_woken_peer, "hung-cluster": phase_hung_cluster,
 "cluster-back": phase_cluster_back}[PHASE]()
sys.exit(1 if result.failures else 0)
