#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""The in-flight data cap (ietd --max-data-memory) against the live daemon.

ietd runs with a 24 MiB cap and QueuedCommands=32 on target "cap" and
QueuedCommands=4 on target "share". A WRITE of 16 MiB that never gets its
Data-Out holds 16 MiB; then:
  - another command on that session gets TASK SET FULL (SAM-5 5.3: the
    nexus has a task whose end frees room);
  - a command on a second, idle session gets BUSY (no task of its own);
  - a new session is refused with 0x0302 "out of resources";
  - once the holder's connection drops, all of it works again by itself.
The per-session share (QueuedCommands x 1 MiB, at least 16 MiB) is checked
on "share": a second command while 16 MiB are held gets TASK SET FULL even
though the global cap has room.

    0720-memory-cap.py PORT IQN_BASE
"""

import struct
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
import protocol_tester as pt  # noqa: E402

BUSY = 0x08
TASK_SET_FULL = 0x28
BLOCK = 512
MIB = 1024 * 1024

port = int(sys.argv[1])
iqn = sys.argv[2]
result = pt.Results()



def session(target, n):
    c = pt.Connection(port=port, timeout=10.0,
                      isid=bytes([0x80, 0, 0, 0x72, 0, n]))
    c.login("iqn.2026-11.org.ietd.test:cap-%d" % n, "%s:%s" % (iqn, target),
            immediate_data=False)
    pt.clear_unit_attention(c)
    return c


def send_cmd(c, cdb, edtl, read=False, write=False):
    itt = c.next_itt()
    c.send(pt.scsi_command(0, itt, cdb, edtl, c.cmdsn, c.exp_statsn,
                           read=read, write=write))
    c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    return itt


def hold(c, nbytes):
    """A WRITE whose data never comes: its buffer stays reserved."""
    cdb = struct.pack(">BBIBHB", 0x2A, 0, 0, 0, nbytes // BLOCK, 0)
    itt = send_cmd(c, cdb, nbytes, write=True)
    pdu = c.recv()
    return pdu.opcode == pt.OP_R2T and pdu.itt == itt, pdu


def read_status(c, nbytes):
    """Status of a READ(10) of nbytes (data, if any, is read and dropped)."""
    cdb = struct.pack(">BBIBHB", 0x28, 0, 0, 0, nbytes // BLOCK, 0)
    itt = send_cmd(c, cdb, nbytes, read=True)
    while True:
        pdu = c.recv()
        if pdu.itt != itt:
            continue
        if pdu.opcode == pt.OP_SCSI_RSP:
            return pdu.status
        if pdu.opcode == pt.OP_DATA_IN and pdu.flags & pt.DATA_IN_STATUS:
            return pdu.status


def login_refused(target, n):
    try:
        c = session(target, n)
    except pt.LoginError as e:
        return (e.pdu.status_class, e.pdu.status_detail)
    c.close()
    return None


# Global cap.
idle = session("cap", 1)
holder = session("cap", 2)
ok, pdu = hold(holder, 16 * MIB)
result("16 MiB WRITE held waiting for Data-Out", ok, repr(pdu))
st = read_status(holder, 9 * MIB)
result("same session over the cap: TASK SET FULL", st == TASK_SET_FULL,
       "status %r" % st)
st = read_status(idle, 9 * MIB)
result("idle session over the cap: BUSY", st == BUSY, "status %r" % st)
st = read_status(idle, 64 * 1024)
result("a command that fits still runs", st == pt.SCSI_GOOD,
       "status %r" % st)
got = login_refused("cap", 3)
result("new session refused with out of resources (0x0302)",
       got == (3, 2), "got %r" % (got,))
holder.close()
# The target frees the held buffer once it notices the closed socket.
deadline = time.time() + 5
while True:
    st = read_status(idle, 9 * MIB)
    if st == pt.SCSI_GOOD or time.time() > deadline:
        break
    time.sleep(0.1)
result("after the holder left, the idle session's 9 MiB READ runs",
       st == pt.SCSI_GOOD, "status %r" % st)
# The READ's buffer goes back to the budget once its last Data-In has
# left ietd, which may be a moment after the initiator read its status:
# a login refused (0x0302) in that moment is retried, as initiators do.
deadline = time.time() + 2
while True:
    got = login_refused("cap", 4)
    if got is None or got != (3, 2) or time.time() > deadline:
        break
    time.sleep(0.05)
result("and a new session logs in", got is None, "still refused: %r" % (got,))
idle.close()

# Per-session share: QueuedCommands=4 -> 16 MiB for the session. Both
# sessions log in first: with 16 of 24 MiB held, no new one could.
c = session("share", 5)
other = session("share", 6)
ok, pdu = hold(c, 16 * MIB)
result("share: 16 MiB held", ok, repr(pdu))
st = read_status(c, 64 * 1024)
result("share: next command gets TASK SET FULL", st == TASK_SET_FULL,
       "status %r" % st)
st = read_status(other, 64 * 1024)
result("share: another session is not affected", st == pt.SCSI_GOOD,
       "status %r" % st)
c.close()
other.close()
sys.exit(1 if result.failures else 0)
