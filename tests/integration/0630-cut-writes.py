#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Large WRITEs cut off midway through their Data-Out.

A 1 MiB WRITE on R2T takes its first 256 KiB, then each case stops it
there, while it waits for the rest (announced to its LU):

- ABORT TASK: answered, the task set slot is freed (an overlapping READ
  runs at once), and Data-Out sent after the abort never lands;
- LOGICAL UNIT RESET: the same, and the unit attention follows;
- LOGICAL UNIT RESET from another session: the WRITE ends at once with
  TASK ABORTED, the reset is answered after that, and the data sent
  afterwards never lands;
- the connection dropped: another session reads and writes the blocks;
- the file cut short under it: the WRITE is still answered, the daemon
  and the other sessions go on.

Until session 10 large WRITEs to tmpfs were received straight into the
file's mapping; that path is gone, these cases stay as the contract.

    0630-cut-writes.py PORT TARGET_IQN IMAGE_PATH
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

port, iqn, image = int(sys.argv[1]), sys.argv[2], sys.argv[3]
result = pt.Results()

BS = 512
MIB = 1024 * 1024
NBLOCKS = MIB // BS              # one 1 MiB WRITE
PIECE = 256 * 1024               # Data-Out sent before the cut
TMF_ABORT_TASK = 1
TMF_LUN_RESET = 5
TASK_ABORTED = 0x40


def session(n):
    c = pt.Connection(port=port, timeout=10.0,
                      isid=bytes([0x80, 0, 0, 0x63, 0, n]))
    # No immediate data: the whole WRITE comes on R2T, under our control.
    c.login("iqn.2026-11.org.ietd.test:direct-%d" % n, iqn,
            immediate_data=False, initial_r2t=True,
            extra_keys=[("MaxBurstLength", str(MIB)),
                        ("FirstBurstLength", str(PIECE))])
    pt.clear_unit_attention(c)
    return c


def write_all(c, lba, value):
    st, _, p = c.scsi(pt.cdb_write10(lba, NBLOCKS),
                      write_data=bytes([value]) * MIB)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("WRITE at %d: status %r %r" % (lba, st, p))


def read_all(c, lba):
    st, data, p = c.scsi(pt.cdb_read10(lba, NBLOCKS), read_len=MIB)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("READ at %d: status %r %r" % (lba, st, p))
    return data


def send_data(c, itt, ttt, offset, length, value, datasn):
    """Solicited Data-Out of length bytes of value from offset, in PDUs
    the target takes (its MaxRecvDataSegmentLength); F on none of them.
    Returns the next DataSN."""
    mrdsl = int(c.params.get("MaxRecvDataSegmentLength", 8192))
    end = offset + length
    while offset < end:
        n = min(mrdsl, end - offset)
        c.send(pt.data_out(0, itt, ttt, c.exp_statsn, datasn, offset, n,
                           final=False), bytes([value]) * n)
        offset += n
        datasn += 1
    return datasn


def start_write(c, lba, value):
    """Send a 1 MiB WRITE and its first PIECE of data; returns (itt,
    cmdsn, r2t)."""
    itt, cmdsn = c.next_itt(), c.cmdsn
    c.send(pt.scsi_command(0, itt, pt.cdb_write10(lba, NBLOCKS), MIB,
                           cmdsn, c.exp_statsn, write=True))
    c.cmdsn += 1
    r2t = c.recv()
    if r2t.opcode != pt.OP_R2T or r2t.desired_length < 2 * PIECE:
        raise RuntimeError("no R2T for the whole write but %r" % r2t)
    r2t.next_datasn = send_data(c, itt, r2t.ttt, 0, PIECE, value, 0)
    return itt, cmdsn, r2t


def late_data(c, itt, r2t, value):
    """The next piece of data for a task that no longer exists, then a
    NOP to know ietd has read it."""
    r2t.next_datasn = send_data(c, itt, r2t.ttt, PIECE, PIECE, value,
                                r2t.next_datasn)
    p = c.nop(b"sync")
    if p.opcode != pt.OP_NOP_IN or p.data != b"sync":
        raise RuntimeError("after the late data got %r" % p)


def check_cut(name, data, first, late, old):
    """The first piece (value first) may have landed, the late one
    (value late) must not have, the rest is the old data (SBC-4: an
    aborted WRITE leaves its blocks old or new, nothing else)."""
    head, mid, tail = data[:PIECE], data[PIECE:2 * PIECE], data[2 * PIECE:]
    good = head in (bytes([first]) * PIECE, bytes([old]) * PIECE)
    result("%s: the first piece is old or new data" % name, good,
           "values %r" % sorted(set(head)))
    result("%s: data sent after it did not land" % name,
           mid == bytes([old]) * PIECE,
           "values %r, the late data was %d" % (sorted(set(mid)), late))
    result("%s: the blocks after it are untouched" % name,
           tail == bytes([old]) * len(tail),
           "values %r" % sorted(set(tail)))


def case_abort(c):
    write_all(c, 0, 0x11)
    itt, cmdsn, r2t = start_write(c, 0, 0x22)
    p = c.tmf(TMF_ABORT_TASK, rtt=itt, refcmdsn=cmdsn)
    result("ABORT TASK mid-data: function complete", p.response == 0,
           "response %d" % p.response)
    late_data(c, itt, r2t, 0x33)
    # The slot in the task set is free: an overlapping READ runs now.
    check_cut("ABORT TASK", read_all(c, 0), 0x22, 0x33, 0x11)
    write_all(c, 0, 0x44)
    result("ABORT TASK: the blocks take a new WRITE",
           read_all(c, 0) == b"\x44" * MIB, "read back differs")


def case_lun_reset(c, other):
    write_all(c, 4096, 0x55)
    itt, _, r2t = start_write(c, 4096, 0x66)
    p = c.tmf(TMF_LUN_RESET)
    result("LOGICAL UNIT RESET mid-data: function complete",
           p.response == 0, "response %d" % p.response)
    late_data(c, itt, r2t, 0x77)
    pt.clear_unit_attention(c)
    check_cut("LOGICAL UNIT RESET", read_all(c, 4096), 0x66, 0x77, 0x55)
    pt.clear_unit_attention(other)


def case_reset_other(a, b):
    """b's WRITE is still receiving data when a resets the LU: the WRITE
    is stopped on b's own thread, at once, and ends with TASK ABORTED
    (TAS=1); a's answer follows that (SAM-5 7.7), without waiting for
    data b may never send; what b sends afterwards never lands, and both
    sessions then see the unit attention."""
    lba = 12288
    write_all(b, lba, 0x12)
    itt, _, r2t = start_write(b, lba, 0x34)
    p = a.tmf(TMF_LUN_RESET)
    result("LU RESET from another session: function complete, at once",
           p.response == 0, "response %d" % p.response)
    p = b.recv()
    result("LU RESET from another session: the WRITE ends TASK ABORTED",
           p.opcode == pt.OP_SCSI_RSP and p.itt == itt and
           p.status == TASK_ABORTED, "got %r" % p)
    late_data(b, itt, r2t, 0x56)
    pt.clear_unit_attention(a)
    pt.clear_unit_attention(b)
    check_cut("LU RESET from another session", read_all(a, lba), 0x34,
              0x56, 0x12)
    write_all(b, lba, 0x78)
    result("LU RESET from another session: the blocks take a new WRITE",
           read_all(a, lba) == b"\x78" * MIB, "read back differs")


def case_dropped(other):
    c = session(3)
    write_all(c, 8192, 0x88)
    start_write(c, 8192, 0x99)
    c.close()
    # The dropped connection's WRITE leaves the task set: another
    # session reads and writes the blocks (within its 10 s timeout).
    data = read_all(other, 8192)
    result("connection dropped mid-data: another session reads the blocks",
           data[2 * PIECE:] == b"\x88" * (MIB - 2 * PIECE),
           "values %r" % sorted(set(data[2 * PIECE:])))
    write_all(other, 8192, 0xaa)
    result("connection dropped mid-data: another session writes them",
           read_all(other, 8192) == b"\xaa" * MIB, "read back differs")


def case_truncated(other):
    c = session(4)
    size = os.path.getsize(image)
    lba = 16384
    write_all(c, lba, 0xbb)
    itt, _, r2t = start_write(c, lba, 0xcc)
    # Cut the file under the WRITE: when its data is all in, it writes
    # past the new end (the file grows again) or fails; either way it is
    # answered and nothing else is disturbed.
    os.truncate(image, lba * BS)
    p = None
    try:
        send_data(c, itt, r2t.ttt, PIECE, MIB - PIECE, 0xdd,
                  r2t.next_datasn)
        p = c.recv()
    except (EOFError, ConnectionError, OSError):
        p = None
    finally:
        c.close()
        os.truncate(image, size)
    result("file cut short mid-data: the WRITE is answered",
           p is not None and p.opcode == pt.OP_SCSI_RSP and p.itt == itt,
           "got %r" % p)
    p = other.nop(b"still")
    result("file cut short mid-data: another session is still served",
           p.opcode == pt.OP_NOP_IN and p.data == b"still", "got %r" % p)
    # Regrown as a hole: reads as zeros, takes writes (the usual way).
    # The daemon polls the size now and then, and a poll inside the cut
    # may have shrunk the LUN: READ CAPACITY (10) looks again at once
    # (once no unit attention stands in its way), and the capacity unit
    # attention it may raise is taken too.
    for _ in range(3):
        pt.clear_unit_attention(other)
        st, data, _ = other.scsi(bytes([0x25]) + bytes(9), read_len=8)
        if st == pt.SCSI_GOOD and \
                int.from_bytes(data[:4], "big") + 1 == size // BS:
            break
    pt.clear_unit_attention(other)
    write_all(other, lba, 0xee)
    result("file cut short mid-data: the blocks work again once it is back",
           read_all(other, lba) == b"\xee" * MIB, "read back differs")


def main():
    a, b = session(1), session(2)
    try:
        for name, fn in (("ABORT TASK", lambda: case_abort(a)),
                         ("LU RESET", lambda: case_lun_reset(a, b)),
                         ("LU RESET elsewhere",
                          lambda: case_reset_other(a, b)),
                         ("dropped", lambda: case_dropped(b)),
                         ("truncated", lambda: case_truncated(b))):
            try:
                fn()
            except Exception as e:  # one broken case, not the whole run
                result(name, False, "%s: %s" % (type(e).__name__, e))
    finally:
        a.close()
        b.close()
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
