#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""WRITE ATOMIC (16) (SBC-4 5.49, 4.29).

- Block Limits VPD: MAXIMUM ATOMIC TRANSFER LENGTH set and within
  MAXIMUM TRANSFER LENGTH, no alignment or granularity, no boundary;
- a write and its read-back; 0 blocks; past the end; longer than the
  maximum; WRPROTECT; ATOMIC BOUNDARY; a read-only LU (DATA PROTECT);
- the race: a writer session sends WRITE ATOMIC of a whole range, each
  time filled with one byte value, alternating, with several commands in
  flight, while reader sessions read the range in a loop (SIMPLE and
  HEAD OF QUEUE): every read must hold one value only.

    0840-write-atomic.py PORT TARGET_IQN
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
SECONDS = float(os.environ.get("ATOMIC_SECONDS", "4"))
BS = 512
KIB = 1024
RANGE_LBA = 4096
RANGE_BLOCKS = 1024             # 512 KiB, several backend pieces
ILLEGAL_REQUEST = 0x5
DATA_PROTECT = 0x7


def session(n):
    c = pt.Connection(port=port, timeout=20.0,
                      isid=bytes([0x80, 0, 0, 0x84, 0, n]))
    c.login("iqn.2026-11.org.ietd.test:atomic-%d" % n, iqn,
            extra_keys=[("MaxBurstLength", str(1024 * KIB)),
                        ("FirstBurstLength", str(256 * KIB))])
    for lun in (0, 1):
        pt.clear_unit_attention(c, lun=lun)
    return c


def cdb_wa16(lba, n, wrprotect=0, boundary=0, fua=False):
    return struct.pack(">BBQHHBB", 0x9C, (wrprotect << 5) |
                       (pt.CDB_FUA if fua else 0), lba, boundary, n, 0, 0)


def cdb_read16(lba, n):
    return struct.pack(">BBQIBB", 0x88, 0, lba, n, 0, 0)


def sense_of(st, p):
    s = p.sense() if st == pt.SCSI_CHECK_CONDITION else b""
    if len(s) < 14:
        return None
    return (s[2] & 0x0F, s[12], s[13])


def inquiry_bl(c):
    st, data, p = c.scsi(bytes([0x12, 1, 0xB0, 0, 255, 0]), read_len=255)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("INQUIRY 0xB0: %r" % (st,))
    return data


def capacity(c, lun=0):
    st, data, _ = c.scsi(bytes([0x9E, 0x10]) + bytes(8) +
                         struct.pack(">I", 32) + bytes(2), lun=lun,
                         read_len=32)
    return struct.unpack(">Q", data[:8])[0] + 1


c = session(1)
bl = inquiry_bl(c)
max_xfer = struct.unpack(">I", bl[8:12])[0]
max_atomic, align, gran, max_bound, bound = struct.unpack(">IIIII",
                                                          bl[44:64])


def vpd():
    if max_atomic == 0:
        return "MAXIMUM ATOMIC TRANSFER LENGTH is 0"
    if max_atomic > max_xfer:
        return "atomic max %d over max transfer %d" % (max_atomic, max_xfer)
    if (align, gran, max_bound, bound) != (0, 0, 0, 0):
        return "align/gran/boundary %r" % ((align, gran, max_bound, bound),)
    if max_atomic < RANGE_BLOCKS:
        return "atomic max %d below the %d the race uses" % (
            max_atomic, RANGE_BLOCKS)
    return None


result.run("Block Limits VPD advertises atomic writes", vpd)


def expect(cdb, want, data=b"", lun=0, what=""):
    st, _, p = c.scsi(cdb, lun=lun, write_data=data)
    got = pt.SCSI_GOOD if st == pt.SCSI_GOOD else sense_of(st, p)
    if want == pt.SCSI_GOOD:
        return None if st == pt.SCSI_GOOD else "%s: %r" % (what, got)
    if got is None or got[:2] != want[:2]:
        return "%s: got %r, want %r" % (what, got, want)
    return None


def simple():
    data = bytes(range(256)) * (8 * BS // 256)
    why = expect(cdb_wa16(10, 8, fua=True), pt.SCSI_GOOD, data, what="write")
    if why:
        return why
    st, back, _ = c.scsi(cdb_read16(10, 8), read_len=8 * BS)
    if st != pt.SCSI_GOOD or back != data:
        return "read back differs (status %r)" % (st,)
    return expect(cdb_wa16(0, 0), pt.SCSI_GOOD, what="0 blocks")


result.run("WRITE ATOMIC writes and reads back", simple)

blocks = capacity(c)
lbaoob = (ILLEGAL_REQUEST, 0x21, 0)
invalid = (ILLEGAL_REQUEST, 0x24, 0)
result.run("past the end: LBA OUT OF RANGE",
           lambda: expect(cdb_wa16(blocks - 1, 2), lbaoob, bytes(2 * BS),
                          what="last+1"))
result.run("longer than the maximum: INVALID FIELD IN CDB",
           lambda: expect(cdb_wa16(0, max_atomic + 1), invalid,
                          bytes((max_atomic + 1) * BS), what="too long"))
result.run("WRPROTECT: INVALID FIELD IN CDB",
           lambda: expect(cdb_wa16(0, 1, wrprotect=1), invalid, bytes(BS),
                          what="wrprotect"))
result.run("ATOMIC BOUNDARY not offered: INVALID FIELD IN CDB",
           lambda: expect(cdb_wa16(0, 2, boundary=1), invalid, bytes(2 * BS),
                          what="boundary"))
result.run("read-only LU: DATA PROTECT",
           lambda: expect(cdb_wa16(0, 1), (DATA_PROTECT, 0x27, 0), bytes(BS),
                          lun=1, what="ro"))

# The race.
LEN = RANGE_BLOCKS * BS
stop = threading.Event()
torn = []
counts = {"writes": 0, "reads": 0, "hoq": 0}
errors = []


def writer():
    w = session(2)
    depth = 4
    itts = {}
    v = 0
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline or itts:
            while time.monotonic() < deadline and len(itts) < depth:
                v = (v + 1) % 255 + 1
                itt = w.next_itt()
                w.send(pt.scsi_command(0, itt, cdb_wa16(RANGE_LBA,
                                                        RANGE_BLOCKS),
                                       LEN, w.cmdsn, w.exp_statsn,
                                       write=True))
                w.cmdsn = (w.cmdsn + 1) & 0xFFFFFFFF
                itts[itt] = bytes([v]) * LEN
            p = w.recv()
            if p.opcode == pt.OP_R2T:
                data = itts[p.itt]
                off, want = p.buffer_offset, p.desired_length
                mrdsl = int(w.params.get("MaxRecvDataSegmentLength", 8192))
                sn = 0
                while want > 0:
                    n = min(want, mrdsl)
                    w.send(pt.data_out(0, p.itt, p.ttt, w.exp_statsn, sn,
                                       off, n, final=(n == want)),
                           data[off:off + n])
                    off += n
                    want -= n
                    sn += 1
            elif p.opcode == pt.OP_SCSI_RSP:
                if p.status != pt.SCSI_GOOD:
                    errors.append("WRITE ATOMIC status %r" % p.status)
                itts.pop(p.itt, None)
                counts["writes"] += 1
            else:
                errors.append("writer got %r" % p)
                break
    except Exception as e:  # noqa: BLE001
        errors.append("writer: %s" % e)
    finally:
        stop.set()
        w.close()


def reader(n, attr):
    r = session(n)
    try:
        while not stop.is_set():
            itt = r.next_itt()
            r.send(pt.scsi_command(0, itt, cdb_read16(RANGE_LBA,
                                                      RANGE_BLOCKS),
                                   LEN, r.cmdsn, r.exp_statsn, read=True,
                                   attr=attr))
            r.cmdsn = (r.cmdsn + 1) & 0xFFFFFFFF
            buf = bytearray(LEN)
            while True:
                p = r.recv()
                if p.opcode == pt.OP_DATA_IN:
                    off = p.buffer_offset
                    buf[off:off + len(p.data)] = p.data
                    if p.flags & pt.DATA_IN_STATUS:
                        break
                elif p.opcode == pt.OP_SCSI_RSP:
                    break
            if bytes(buf).count(buf[0]) != LEN:
                torn.append((attr, sorted(set(buf))[:4]))
            counts["hoq" if attr == pt.ATTR_HEAD_OF_QUEUE else "reads"] += 1
    except Exception as e:  # noqa: BLE001
        errors.append("reader: %s" % e)
    finally:
        r.close()


threads = [threading.Thread(target=writer),
           threading.Thread(target=reader, args=(3, pt.ATTR_SIMPLE)),
           threading.Thread(target=reader, args=(4, pt.ATTR_HEAD_OF_QUEUE))]
for t in threads:
    t.start()
for t in threads:
    t.join(SECONDS + 60)
print("# %r" % counts)
result("race ran without errors", not errors, "; ".join(errors[:3]))
result("race did work", counts["writes"] > 10 and counts["reads"] > 10 and
       counts["hoq"] > 10, repr(counts))
result("no read saw a torn WRITE ATOMIC", not torn,
       "%d torn reads, first %r" % (len(torn), torn[:1]))
c.close()
sys.exit(1 if result.failures else 0)
