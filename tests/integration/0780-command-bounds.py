#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""What one initiator can pin, bounded (0780-command-bounds.sh).

At the same time:

- a WRITE whose R2T is never answered ends its connection about 30
  seconds later (the session pings meanwhile, so nothing else is idle);
- so does a WRITE held for a CmdSN that never comes;
- a WRITE whose Data-Out comes one PDU every 8 seconds, 32 seconds in
  all, is not cut: the 30 seconds count from its last progress;
- a WRITE whose immediate data stops half-way for 4 seconds is not cut;
- commands held for their CmdSN never exceed the window: one past
  MaxCmdSN is dropped unanswered, those inside it run once the gap is
  filled;
- 1024 initiator ports register a persistent reservation key on the LU;
  the 1025th gets CHECK CONDITION, ILLEGAL REQUEST, INSUFFICIENT
  REGISTRATION RESOURCES (SPC-4 5.13.7), and one that leaves makes room.

    0780-command-bounds.py PORT TARGET
"""

import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

port, iqn = int(sys.argv[1]), sys.argv[2]
result = pt.Results()

BS = 512
TIMEOUT = 30                    # ietd's Data-Out / held CmdSN timeout
SLACK = 6                       # its once-a-second sweep, a busy machine
PING = 5


def session(tag, isid, **kw):
    c = pt.Connection(port=port, timeout=10.0, isid=isid)
    c.login("iqn.2026-11.org.ietd.test:bounds-%s" % tag, iqn, **kw)
    pt.clear_unit_attention(c)
    return c


def pings_until_closed(c, limit):
    """Ping every PING seconds until the target closes c or limit
    seconds pass; returns the seconds it took, or None."""
    t0 = time.time()
    while time.time() - t0 < limit:
        try:
            itt = c.next_itt()
            c.send(pt.nop_out(itt, c.cmdsn, c.exp_statsn))
            while True:
                p = c.recv()
                if p.opcode == pt.OP_NOP_IN and p.itt == itt:
                    break
        except (EOFError, OSError):
            return time.time() - t0
        time.sleep(PING)
    return None


def stalled_r2t():
    name = "WRITE with its R2T unanswered"
    c = session("r2t", b"\x80\x00\x00\x78\x00\x01", immediate_data=False,
                initial_r2t=True)
    try:
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, pt.cdb_write10(0, 128), 65536,
                               c.cmdsn, c.exp_statsn, write=True))
        c.cmdsn += 1
        p = c.recv()
        if p.opcode != pt.OP_R2T:
            raise RuntimeError("no R2T but %r" % p)
        took = pings_until_closed(c, TIMEOUT + SLACK + PING)
        result("%s: the connection is closed after %d seconds" %
               (name, TIMEOUT), took is not None and
               TIMEOUT - 1 <= took <= TIMEOUT + SLACK,
               "after %r seconds" % took)
    finally:
        c.close()


def held():
    name = "WRITE held for a CmdSN that never comes"
    c = session("held", b"\x80\x00\x00\x78\x00\x02")
    try:
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, pt.cdb_write10(256, 16), 8192,
                               c.cmdsn + 1, c.exp_statsn, write=True,
                               dsl=8192), b"\x5a" * 8192)
        took = pings_until_closed(c, TIMEOUT + SLACK + PING)
        result("%s: the connection is closed after %d seconds" %
               (name, TIMEOUT), took is not None and
               TIMEOUT - 1 <= took <= TIMEOUT + SLACK,
               "after %r seconds" % took)
    finally:
        c.close()


def trickle():
    name = "WRITE whose Data-Out trickles in"
    c = session("trickle", b"\x80\x00\x00\x78\x00\x03", immediate_data=False,
                initial_r2t=True)
    try:
        piece = min(8192, int(c.params.get("MaxRecvDataSegmentLength",
                                           8192)))
        total = 4 * piece
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, pt.cdb_write10(512, total // BS),
                               total, c.cmdsn, c.exp_statsn, write=True))
        c.cmdsn += 1
        r2t = c.recv()
        if r2t.opcode != pt.OP_R2T or r2t.desired_length != total:
            raise RuntimeError("no R2T for it all but %r" % r2t)
        t0 = time.time()
        for i in range(4):
            time.sleep(8)
            c.send(pt.data_out(0, itt, r2t.ttt, c.exp_statsn, i, i * piece,
                               piece, final=i == 3), b"\x6b" * piece)
        p = c.recv()
        result("%s: not cut, GOOD after %d seconds" %
               (name, int(time.time() - t0)),
               p.opcode == pt.OP_SCSI_RSP and p.status == pt.SCSI_GOOD,
               "got %r" % p)
    finally:
        c.close()


def slow_immediate():
    """A SCSI Command whose immediate data is still arriving is not a
    command waiting for its Data-Out: several sweeps pass mid-PDU and
    the WRITE must still end GOOD (the 30 s count from the command's
    arrival, and the PDU being received is the PDU stall's business)."""
    name = "WRITE whose immediate data is half sent for 4 seconds"
    c = session("slowimm", b"\x80\x00\x00\x78\x00\x05",
                immediate_data=True, initial_r2t=True)
    try:
        data = b"\x3c" * 4096
        itt = c.next_itt()
        frame = pt.frame_pdu(pt.scsi_command(0, itt, pt.cdb_write10(640, 8),
                                             len(data), c.cmdsn, c.exp_statsn,
                                             write=True, dsl=len(data)), data)
        c.cmdsn += 1
        c.sock.sendall(frame[:pt.BHS_LEN + 100])
        time.sleep(4)
        c.sock.sendall(frame[pt.BHS_LEN + 100:])
        p = c.recv()
        result("%s: not cut, GOOD" % name,
               p.opcode == pt.OP_SCSI_RSP and p.status == pt.SCSI_GOOD,
               "got %r" % p)
    finally:
        c.close()


def window():
    name = "commands held for their CmdSN"
    c = session("window", b"\x80\x00\x00\x78\x00\x04")
    try:
        n, top = c.cmdsn, c.max_cmdsn
        inside = []
        for sn in range(n + 1, top + 1):
            itt = c.next_itt()
            inside.append(itt)
            c.send(pt.scsi_command(0, itt, bytes(6), 0, sn, c.exp_statsn))
        out_itt = c.next_itt()
        c.send(pt.scsi_command(0, out_itt, bytes(6), 0, top + 1,
                               c.exp_statsn))
        first = c.next_itt()
        c.send(pt.scsi_command(0, first, bytes(6), 0, n, c.exp_statsn))
        c.cmdsn = top + 1
        got = {}
        ping = c.next_itt()
        c.send(pt.nop_out(ping, c.cmdsn, c.exp_statsn))
        while True:
            p = c.recv()
            if p.opcode == pt.OP_NOP_IN and p.itt == ping:
                break
            if p.opcode == pt.OP_SCSI_RSP:
                got[p.itt] = p.status
        result("%s: the %d inside the window run once the gap is filled" %
               (name, len(inside) + 1),
               all(got.get(i) == pt.SCSI_GOOD for i in inside + [first]),
               "answers %r" % got)
        result("%s: the one past MaxCmdSN %d is dropped" % (name, top),
               out_itt not in got, "it was answered")
    finally:
        c.close()


def register(n, key):
    """Log in as initiator port n, REGISTER key; returns (status,
    sense) and leaves the session (the registration outlives it)."""
    c = session("pr", bytes([0x80, 0, 0x79, 0, n >> 8, n & 0xFF]))
    try:
        data = struct.pack(">QQ8x", 0, key)
        cdb = bytes([0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0])
        st, _, p = c.scsi(cdb, write_data=data)
        return st, p.sense()
    finally:
        c.close()


def registrations():
    name = "persistent reservation registrations"
    for n in range(1024):
        st, sense = register(n, 0x1000 + n)
        if st != pt.SCSI_GOOD:
            result("%s: registration %d taken" % (name, n + 1), False,
                   "status %r sense %s" % (st, sense.hex()))
            return
    result("%s: 1024 taken" % name, True)
    st, sense = register(1024, 0x1000 + 1024)
    key = (sense[2] & 0x0F, sense[12], sense[13]) if len(sense) >= 14 \
        else None
    result("%s: the 1025th gets INSUFFICIENT REGISTRATION RESOURCES" %
           name, st == pt.SCSI_CHECK_CONDITION and key == (0x05, 0x55, 0x04),
           "status %r sense %s" % (st, sense.hex()))
    # Port 7 unregisters (service action key 0): room for one more.
    c = session("pr", bytes([0x80, 0, 0x79, 0, 0, 7]))
    try:
        data = struct.pack(">QQ8x", 0x1000 + 7, 0)
        st, _, _ = c.scsi(bytes([0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0]),
                          write_data=data)
    finally:
        c.close()
    st2, sense = register(1024, 0x1000 + 1024)
    result("%s: one unregistered makes room" % name,
           st == pt.SCSI_GOOD and st2 == pt.SCSI_GOOD,
           "status %r then %r sense %s" % (st, st2, sense.hex()))


def run(fn):
    try:
        fn()
    except Exception as e:      # one broken case, not the whole run
        result(fn.__name__, False, "%s: %s" % (type(e).__name__, e))


def main():
    threads = [threading.Thread(target=run, args=(fn,))
               for fn in (stalled_r2t, held, trickle)]
    for t in threads:
        t.start()
    run(slow_immediate)
    run(window)
    run(registrations)
    for t in threads:
        t.join()
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
