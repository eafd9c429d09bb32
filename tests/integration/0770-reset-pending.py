#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Task management against commands not yet in the SCSI layer.

A command that has arrived but waits, for its Data-Out after an R2T or
for a CmdSN before it, is in the logical unit's task set all the same
(SAM-5): a LOGICAL UNIT RESET, CLEAR TASK SET or TARGET WARM RESET of
another session must abort it before it is answered, the command ends
with TASK ABORTED (the Control mode page says TAS=1), and data sent for
it afterwards must never reach the medium. Cases:

- X has two WRITEs waiting for the data of their R2Ts; Y resets (each of
  the three functions in turn); X then sends the data; both WRITEs end
  TASK ABORTED, never GOOD, and neither's data is in the file;
- X's WRITE with immediate data is held for a missing CmdSN; Y resets;
  X then sends the missing command: the WRITE ends TASK ABORTED, and its
  data is not in the file;
- X's large WRITE to a tmpfs file has half its data in: ABORT TASK
  and LOGICAL UNIT RESET sent together are answered in that order (the
  reset may not claim the medium settled while the WRITE still runs),
  and the data sent afterwards is not in the file; the same order when
  the WRITE is in the store's hands (a write-through LUN, the thread
  pool), and the file does not change after the answers;
- Y's TARGET COLD RESET: answered, then Y's and X's connections are
  closed (RFC 7143 11.5.1); X's waiting WRITE never lands; a session on
  another target goes on.

    0770-reset-pending.py PORT TARGET OTHER_TARGET IMAGE SHM_IMAGE
"""

import os
import select
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

port, iqn, other_iqn = int(sys.argv[1]), sys.argv[2], sys.argv[3]
image, shm_image = sys.argv[4], sys.argv[5]
result = pt.Results()

BS = 512
NBLK = 16                        # 8 KiB: small WRITEs
LEN = NBLK * BS
BIG = 256 * 1024                 # a large WRITE to the tmpfs file
PIECE = 64 * 1024
TMF_ABORT_TASK = 1
TMF_CLEAR_TASK_SET = 4
TMF_LUN_RESET = 5
TMF_WARM_RESET = 6
TMF_COLD_RESET = 7
TASK_ABORTED = 0x40
NAMES = {TMF_CLEAR_TASK_SET: "CLEAR TASK SET",
         TMF_LUN_RESET: "LOGICAL UNIT RESET",
         TMF_WARM_RESET: "TARGET WARM RESET"}


def session(n, target=None):
    c = pt.Connection(port=port, timeout=10.0,
                      isid=bytes([0x80, 0, 0, 0x77, 0, n]))
    # Immediate data allowed, but every other byte on R2T only.
    c.login("iqn.2026-11.org.ietd.test:reset-%d" % n, target or iqn,
            immediate_data=True, initial_r2t=True,
            extra_keys=[("MaxBurstLength", str(1024 * 1024))])
    pt.clear_unit_attention(c)
    return c


def ready(c):
    """Unit attentions of the resets cleared, on each LUN used."""
    pt.clear_unit_attention(c, lun=0)
    pt.clear_unit_attention(c, lun=1)


def write(c, lba, value, lun=0, nblk=NBLK):
    st, _, p = c.scsi(pt.cdb_write10(lba, nblk), lun=lun,
                      write_data=bytes([value]) * (nblk * BS))
    if st != pt.SCSI_GOOD:
        raise RuntimeError("WRITE at %d: status %r %r" % (lba, st, p))


def read(c, lba, lun=0, nblk=NBLK):
    st, data, p = c.scsi(pt.cdb_read10(lba, nblk), lun=lun,
                         read_len=nblk * BS)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("READ at %d: status %r %r" % (lba, st, p))
    return data


def in_file(path, lba, nblk=NBLK):
    with open(path, "rb") as f:
        f.seek(lba * BS)
        return f.read(nblk * BS)


def start_write(c, lba, lun=0, nblk=NBLK):
    """A WRITE without immediate data: returns (itt, its R2T)."""
    itt = c.next_itt()
    c.send(pt.scsi_command(lun, itt, pt.cdb_write10(lba, nblk), nblk * BS,
                           c.cmdsn, c.exp_statsn, write=True))
    c.cmdsn += 1
    r2t = c.recv()
    if r2t.opcode != pt.OP_R2T or r2t.itt != itt:
        raise RuntimeError("no R2T for ITT 0x%x but %r" % (itt, r2t))
    return itt, r2t


def send_data(c, itt, ttt, offset, length, value, datasn=0, lun=0,
              last=True):
    """Data-Out of length bytes from offset in PDUs the target takes; F
    on the last one when last. Returns the next DataSN."""
    mrdsl = int(c.params.get("MaxRecvDataSegmentLength", 8192))
    end = offset + length
    while offset < end:
        n = min(mrdsl, end - offset)
        c.send(pt.data_out(lun, itt, ttt, c.exp_statsn, datasn, offset, n,
                           final=last and offset + n == end),
               bytes([value]) * n)
        offset += n
        datasn += 1
    return datasn


def sync(c, answer_r2t=None):
    """Ping; return the PDUs that came before the NOP-In. answer_r2t:
    value to send as the data of any R2T that comes meanwhile."""
    itt = c.next_itt()
    c.send(pt.nop_out(itt, c.cmdsn, c.exp_statsn, dsl=4), b"sync")
    got = []
    while True:
        p = c.recv()
        if p.opcode == pt.OP_NOP_IN and p.itt == itt:
            return got
        got.append(p)
        if p.opcode == pt.OP_R2T and answer_r2t is not None:
            send_data(c, p.itt, p.ttt, p.buffer_offset, p.desired_length,
                      answer_r2t)


def statuses(pdus):
    return {p.itt: p.status for p in pdus if p.opcode == pt.OP_SCSI_RSP}


def check_untouched(name, r, lba, old, nblk=NBLK, lun=0, path=None):
    path = path or image
    disk = in_file(path, lba, nblk)
    result("%s: the late data is not in the file" % name,
           disk == bytes([old]) * (nblk * BS),
           "values %r" % sorted(set(disk)))
    ready(r)
    back = read(r, lba, lun=lun, nblk=nblk)
    result("%s: a READ returns the old data" % name,
           back == bytes([old]) * (nblk * BS),
           "values %r" % sorted(set(back)))


def case_waiting_data(x, y, r, fn, lba):
    """X's two WRITEs wait for the data of their R2Ts; Y runs fn."""
    name = NAMES[fn] + ", WRITEs waiting for Data-Out"
    ready(x)
    ready(r)
    write(r, lba, 0x11, nblk=2 * NBLK)
    a, ra = start_write(x, lba)
    b, rb = start_write(x, lba + NBLK)
    p = y.tmf(fn)
    result("%s: function complete" % name, p.response == 0,
           "response %d" % p.response)
    # The data now: too late, it must go nowhere.
    send_data(x, a, ra.ttt, 0, LEN, 0x22)
    send_data(x, b, rb.ttt, 0, LEN, 0x33)
    got = statuses(sync(x))
    for itt, which in ((a, "first"), (b, "second")):
        result("%s: X's %s WRITE ends TASK ABORTED" % (name, which),
               got.get(itt) == TASK_ABORTED,
               "status %r" % got.get(itt))
    check_untouched(name, r, lba, 0x11, nblk=2 * NBLK)
    ready(y)


def case_held(x, y, r, fn, lba):
    """X's WRITE (immediate data) held for CmdSN n; Y runs fn; then n."""
    name = NAMES[fn] + ", WRITE held for its CmdSN"
    ready(x)
    ready(r)
    write(r, lba, 0x11)
    n = x.cmdsn
    itt = x.next_itt()
    x.send(pt.scsi_command(0, itt, pt.cdb_write10(lba, NBLK), LEN, n + 1,
                           x.exp_statsn, write=True, dsl=LEN),
           b"\x44" * LEN)
    before = sync(x)
    result("%s: held, not answered" % name, not before,
           "got %r" % before)
    p = y.tmf(fn)
    result("%s: function complete" % name, p.response == 0,
           "response %d" % p.response)
    # The CmdSN it waited for: a TEST UNIT READY.
    titt = x.next_itt()
    x.send(pt.scsi_command(0, titt, bytes(6), 0, n, x.exp_statsn))
    x.cmdsn = n + 2
    pdus = before + sync(x, answer_r2t=0x55)
    got = statuses(pdus)
    result("%s: the held WRITE ends TASK ABORTED" % name,
           got.get(itt) == TASK_ABORTED, "status %r" % got.get(itt))
    result("%s: the missing command is answered" % name, titt in got,
           "no answer")
    check_untouched(name, r, lba, 0x11)
    ready(y)


def case_abort_then_reset(x, r):
    """X's WRITE to the tmpfs file, half its data in; ABORT
    TASK and LOGICAL UNIT RESET sent together."""
    name = "ABORT TASK then LOGICAL UNIT RESET"
    lba, nblk = 4096, BIG // BS
    ready(x)
    ready(r)
    write(r, lba, 0x11, lun=1, nblk=nblk)
    itt, r2t = start_write(x, lba, lun=1, nblk=nblk)
    datasn = send_data(x, itt, r2t.ttt, 0, PIECE, 0x66, lun=1, last=False)
    a_itt, l_itt = x.next_itt(), x.next_itt()
    tmfs = b""
    for t_itt, fn, rtt in ((a_itt, TMF_ABORT_TASK, itt),
                           (l_itt, TMF_LUN_RESET, pt.RESERVED_TAG)):
        rest = struct.pack(">IIIII8x", rtt, x.cmdsn, x.exp_statsn,
                              x.cmdsn - 1, 0)
        tmfs += pt.frame_pdu(pt._bhs(pt.OP_TMF_REQ, True,
                                     pt.FLAG_FINAL | fn,
                                     lun_or_bytes8=pt.encode_lun(1),
                                     itt=t_itt, rest=rest))
    x.sock.sendall(tmfs)
    order = []
    while len(order) < 2:
        p = x.recv()
        if p.opcode == pt.OP_TMF_RSP:
            order.append((p.itt, p.response))
    result("%s: both function complete" % name,
           [rsp for _, rsp in order] == [0, 0], "got %r" % order)
    result("%s: answered in that order" % name,
           [i for i, _ in order] == [a_itt, l_itt],
           "LU RESET answered before the ABORT TASK it follows")
    send_data(x, itt, r2t.ttt, PIECE, PIECE, 0x77, datasn=datasn, lun=1,
              last=False)
    sync(x)
    disk = in_file(shm_image, lba, nblk)
    head, late = disk[:PIECE], disk[PIECE:2 * PIECE]
    result("%s: the data before the abort is old or new" % name,
           head in (b"\x11" * PIECE, b"\x66" * PIECE),
           "values %r" % sorted(set(head)))
    result("%s: the data after it is not in the file" % name,
           late == b"\x11" * PIECE and
           disk[2 * PIECE:] == b"\x11" * (BIG - 2 * PIECE),
           "values %r" % sorted(set(disk[PIECE:])))


def case_abort_running(x, r):
    """X's 4 MiB WRITE is in the store's hands (write-through, the thread
    pool) when ABORT TASK and LOGICAL UNIT RESET arrive right behind its
    last Data-Out: the reset's answer must wait for the abort's, which
    comes only once the WRITE is over."""
    name = "ABORT TASK then LOGICAL UNIT RESET, WRITE running"
    lba, total = 8192, 4 * 1024 * 1024
    nblk = total // BS
    ready(x)
    ready(r)
    write(r, lba, 0x11, nblk=nblk)
    for attempt in range(3):
        itt = x.next_itt()
        x.send(pt.scsi_command(0, itt, pt.cdb_write10(lba, nblk), total,
                               x.cmdsn, x.exp_statsn, write=True))
        refcmdsn = x.cmdsn
        x.cmdsn += 1
        mrdsl = int(x.params.get("MaxRecvDataSegmentLength", 8192))
        while True:
            p = x.recv()
            if p.opcode != pt.OP_R2T or p.itt != itt:
                raise RuntimeError("no R2T but %r" % p)
            off, end = p.buffer_offset, p.buffer_offset + p.desired_length
            out, datasn = [], 0
            while off < end:
                n = min(mrdsl, end - off)
                out.append(pt.frame_pdu(pt.data_out(
                    0, itt, p.ttt, x.exp_statsn, datasn, off, n,
                    final=off + n == end), bytes([0x99]) * n))
                off, datasn = off + n, datasn + 1
            if end < total:
                x.sock.sendall(b"".join(out))
                continue
            a_itt, l_itt = x.next_itt(), x.next_itt()
            for t_itt, fn, rtt in ((a_itt, TMF_ABORT_TASK, itt),
                                   (l_itt, TMF_LUN_RESET, pt.RESERVED_TAG)):
                rest = struct.pack(">IIIII8x", rtt, x.cmdsn, x.exp_statsn,
                                   refcmdsn, 0)
                out.append(pt.frame_pdu(pt._bhs(
                    pt.OP_TMF_REQ, True, pt.FLAG_FINAL | fn,
                    lun_or_bytes8=pt.encode_lun(0), itt=t_itt,
                    rest=rest)))
            x.sock.sendall(b"".join(out))
            break
        order = []
        while len(order) < 2:
            p = x.recv()
            if p.opcode == pt.OP_TMF_RSP:
                order.append((p.itt, p.response))
        if dict(order).get(a_itt) == 0:
            break
        # The WRITE was over before its abort was read: try again.
        ready(x)
    result("%s: both function complete" % name,
           [rsp for _, rsp in order] == [0, 0], "got %r" % order)
    result("%s: answered in that order" % name,
           [i for i, _ in order] == [a_itt, l_itt],
           "LU RESET answered before the ABORT TASK it follows")
    first = in_file(image, lba, nblk)
    time.sleep(0.3)
    result("%s: nothing changes the file after the answers" % name,
           in_file(image, lba, nblk) == first, "it changed")


def closed_within(c, seconds):
    """True when c's connection is closed by the target within seconds
    (whatever it sends before is read and dropped)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        rd, _, _ = select.select([c.sock], [], [], deadline - time.time())
        if not rd:
            break
        try:
            if not c.sock.recv(65536):
                return True
        except OSError:
            return True
    return False


def case_cold(x, y, r, z):
    name = "TARGET COLD RESET"
    lba = 256
    ready(x)
    ready(r)
    write(r, lba, 0x11)
    itt, r2t = start_write(x, lba)
    p = y.tmf(TMF_COLD_RESET)
    result("%s: function complete" % name, p.response == 0,
           "response %d" % p.response)
    result("%s: the issuer's connection is closed" % name,
           closed_within(y, 5), "still open")
    try:
        send_data(x, itt, r2t.ttt, 0, LEN, 0x88)
    except OSError:
        pass                    # already closed: fine
    result("%s: another session's connection is closed" % name,
           closed_within(x, 5), "still open")
    result("%s: the waiting WRITE's data is not in the file" % name,
           in_file(image, lba) == b"\x11" * LEN,
           "values %r" % sorted(set(in_file(image, lba))))
    result("%s: the reader's connection is closed too" % name,
           closed_within(r, 5), "still open")
    p = z.nop(b"alive")
    result("%s: a session on another target goes on" % name,
           p.opcode == pt.OP_NOP_IN and p.data == b"alive", "got %r" % p)


def main():
    y, r = session(2), session(3)
    z = session(4, other_iqn)
    cases = []
    lba = 1024
    for fn in (TMF_LUN_RESET, TMF_CLEAR_TASK_SET, TMF_WARM_RESET):
        cases.append((NAMES[fn] + " waiting",
                      lambda x, fn=fn, lba=lba: case_waiting_data(x, y, r,
                                                                  fn, lba)))
        cases.append((NAMES[fn] + " held",
                      lambda x, fn=fn, lba=lba + 64: case_held(x, y, r, fn,
                                                               lba)))
        lba += 128
    cases.append(("ABORT TASK then LU RESET",
                  lambda x: case_abort_then_reset(x, r)))
    cases.append(("ABORT TASK then LU RESET, running",
                  lambda x: case_abort_running(x, r)))
    cases.append(("TARGET COLD RESET", lambda x: case_cold(x, y, r, z)))
    try:
        # Each case has an X of its own: nothing it leaves behind (what
        # a broken target might still send) reaches the next one.
        for n, (name, fn) in enumerate(cases):
            x = None
            try:
                x = session(10 + n)
                fn(x)
            except Exception as e:  # one broken case, not the whole run
                result(name, False, "%s: %s" % (type(e).__name__, e))
            finally:
                if x is not None:
                    x.close()
    finally:
        for c in (y, r, z):
            c.close()
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
