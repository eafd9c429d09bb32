#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""SANITIZE (SBC-4 5.30, 4.11).

- OVERWRITE with a 4-byte pattern, two passes with INVERT: every block
  reads back as the pattern (the last pass writes it as sent);
- BLOCK ERASE: the blocks read as zeros and GET LBA STATUS calls them
  deallocated until the next write;
- CRYPTOGRAPHIC ERASE and unknown service actions: INVALID FIELD IN CDB;
- while a long OVERWRITE (IMMED) runs, a second session gets NOT READY,
  SANITIZE IN PROGRESS with a progress indication on TEST UNIT READY and
  READ, REQUEST SENSE answers GOOD with that sense, INQUIRY still works,
  and the progress never goes back;
- IMMED 0: answered when the operation ends; ABORT TASK of it is answered
  at once and the sanitize goes on;
- the connection of an IMMED 0 SANITIZE drops: the sanitize still ends;
- a read-only LU: DATA PROTECT; another session's RESERVE: RESERVATION
  CONFLICT.

    0845-sanitize.py PORT TARGET_IQN
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
NOT_READY, MEDIUM_ERROR, ILLEGAL_REQUEST, DATA_PROTECT = 2, 3, 5, 7
RESERVATION_CONFLICT = 0x18
OVERWRITE, BLOCK_ERASE, CRYPTO_ERASE = 1, 2, 3
TMF_ABORT_TASK = 1


def session(n):
    c = pt.Connection(port=port, timeout=30.0,
                      isid=bytes([0x80, 0, 0, 0x84, 5, n]))
    c.login("iqn.2026-11.org.ietd.test:sanitize-%d" % n, iqn)
    for lun in (0, 1):
        pt.clear_unit_attention(c, lun=lun)
    return c


def cdb_sanitize(sa, plen=0, immed=False, ause=False):
    return struct.pack(">BBBBBBBHB", 0x48, sa | (0x80 if immed else 0) |
                       (0x20 if ause else 0), 0, 0, 0, 0, 0, plen, 0)


def overwrite_params(pattern, count, invert=False):
    return bytes([count | (0x80 if invert else 0), 0]) + \
        struct.pack(">H", len(pattern)) + pattern


def cdb_read16(lba, n):
    return struct.pack(">BBQIBB", 0x88, 0, lba, n, 0, 0)


def cdb_write16(lba, n):
    return struct.pack(">BBQIBB", 0x8A, 0, lba, n, 0, 0)


def sense_of(st, p):
    s = p.sense() if st == pt.SCSI_CHECK_CONDITION else b""
    if len(s) < 18:
        return None
    return (s[2] & 0x0F, s[12], s[13])


def progress_of(sense):
    """The sense-key specific progress indication, or None."""
    if len(sense) < 18 or not sense[15] & 0x80:
        return None
    return struct.unpack(">H", sense[16:18])[0]


def capacity(c, lun=0):
    st, data, _ = c.scsi(bytes([0x9E, 0x10]) + bytes(8) +
                         struct.pack(">I", 32) + bytes(2), lun=lun,
                         read_len=32)
    return struct.unpack(">Q", data[:8])[0] + 1


def wait_done(c, limit=60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        st, _, p = c.scsi(bytes(6))
        if st == pt.SCSI_GOOD:
            return True
        time.sleep(0.02)
    return False


c1 = session(1)
c2 = session(2)
blocks = capacity(c1)
invalid = (ILLEGAL_REQUEST, 0x24, 0)


def read_blocks(c, lba, n):
    st, data, p = c.scsi(cdb_read16(lba, n), read_len=n * BS)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("READ at %d: %r %r" % (lba, st, sense_of(st, p)))
    return data


def overwrite():
    pat = b"\xde\xad\xbe\xef"
    params = overwrite_params(pat, 2, invert=True)
    st, _, p = c1.scsi(cdb_sanitize(OVERWRITE, len(params)),
                       write_data=params)
    if st != pt.SCSI_GOOD:
        return "SANITIZE OVERWRITE: %r %r" % (st, sense_of(st, p))
    want = pat * (8 * BS // len(pat))
    for lba in (0, blocks // 2, blocks - 8):
        if read_blocks(c1, lba, 8) != want:
            return "blocks at %d do not hold the pattern" % lba
    return None


result.run("OVERWRITE writes the pattern over every block", overwrite)


def get_lba_status():
    st, data, _ = c1.scsi(bytes([0x9E, 0x12]) + bytes(8) +
                          struct.pack(">I", 24) + bytes(2), read_len=24)
    return data[20] & 0x0F if st == pt.SCSI_GOOD else None


def block_erase():
    st, _, p = c1.scsi(cdb_sanitize(BLOCK_ERASE))
    if st != pt.SCSI_GOOD:
        return "SANITIZE BLOCK ERASE: %r %r" % (st, sense_of(st, p))
    if read_blocks(c1, 0, 8) != bytes(8 * BS) or \
            read_blocks(c1, blocks - 8, 8) != bytes(8 * BS):
        return "erased blocks do not read as zeros"
    if get_lba_status() != 1:
        return "GET LBA STATUS after BLOCK ERASE: %r" % get_lba_status()
    st, _, _ = c1.scsi(cdb_write16(0, 1), write_data=b"x" * BS)
    if st != pt.SCSI_GOOD or get_lba_status() != 0:
        return "after a write GET LBA STATUS says %r" % get_lba_status()
    return None


result.run("BLOCK ERASE zeroes and deallocates", block_erase)


def refused_cdb():
    for sa in (0, CRYPTO_ERASE, 4, 0x1e):
        st, _, p = c1.scsi(cdb_sanitize(sa))
        if sense_of(st, p) != invalid:
            return "service action %d: %r" % (sa, sense_of(st, p))
    params = overwrite_params(b"\x01", 0)
    st, _, p = c1.scsi(cdb_sanitize(OVERWRITE, len(params)),
                       write_data=params)
    if st != pt.SCSI_CHECK_CONDITION or sense_of(st, p)[0] != ILLEGAL_REQUEST:
        return "OVERWRITE COUNT 0: %r" % (sense_of(st, p),)
    return None


result.run("CRYPTO ERASE, unknown actions, bad lists: ILLEGAL REQUEST",
           refused_cdb)


def in_progress():
    params = overwrite_params(bytes(range(64)), 31)
    st, _, p = c1.scsi(cdb_sanitize(OVERWRITE, len(params), immed=True),
                       write_data=params)
    if st != pt.SCSI_GOOD:
        return "SANITIZE IMMED: %r %r" % (st, sense_of(st, p))
    seen, last = 0, -1
    why = None
    while True:
        st, _, p = c2.scsi(bytes(6))
        if st == pt.SCSI_GOOD:
            break
        sense = p.sense()
        if sense_of(st, p) != (NOT_READY, 0x04, 0x1B):
            why = "TEST UNIT READY: %r" % (sense_of(st, p),)
            break
        prog = progress_of(sense)
        if prog is None or prog < last:
            why = "progress %r after %r" % (prog, last)
            break
        last = prog
        if seen == 0:
            st, _, p = c2.scsi(cdb_read16(0, 1), read_len=BS)
            if sense_of(st, p) != (NOT_READY, 0x04, 0x1B):
                why = "READ during sanitize: %r" % (sense_of(st, p),)
                break
            st, data, _ = c2.scsi(bytes([0x03, 0, 0, 0, 18, 0]), read_len=18)
            if st != pt.SCSI_GOOD or (data[2] & 0x0F, data[12], data[13]) \
                    != (NOT_READY, 0x04, 0x1B) or progress_of(data) is None:
                why = "REQUEST SENSE during sanitize: %r %s" % (st,
                                                                data.hex())
                break
            st, _, _ = c2.scsi(bytes([0x12, 0, 0, 0, 96, 0]), read_len=96)
            if st != pt.SCSI_GOOD:
                why = "INQUIRY during sanitize: %r" % st
                break
        seen += 1
    if why is None and seen < 2:
        why = "the sanitize was over before it was seen running (%d)" % seen
    if not wait_done(c2):
        why = why or "sanitize never ended"
    print("# in progress seen %d times, last progress %d" % (seen, last))
    return why


result.run("a second session sees SANITIZE IN PROGRESS with progress",
           in_progress)


def immed0_and_abort():
    params = overwrite_params(b"\x5a", 31)
    # Answered at the end.
    t0 = time.monotonic()
    st, _, p = c1.scsi(cdb_sanitize(OVERWRITE, len(params)),
                       write_data=params)
    if st != pt.SCSI_GOOD:
        return "SANITIZE IMMED 0: %r %r" % (st, sense_of(st, p))
    st2, _, _ = c2.scsi(bytes(6))
    if st2 != pt.SCSI_GOOD:
        return "still running after its GOOD (%.1f s)" % (
            time.monotonic() - t0)
    # Aborted: answered at once, the sanitize goes on.
    itt = c1.next_itt()
    c1.send(pt.scsi_command(0, itt, cdb_sanitize(OVERWRITE, len(params)),
                            len(params), c1.cmdsn, c1.exp_statsn,
                            write=True, dsl=len(params)), params)
    c1.cmdsn = (c1.cmdsn + 1) & 0xFFFFFFFF
    time.sleep(0.05)
    st, _, p = c2.scsi(bytes(6))
    if sense_of(st, p) != (NOT_READY, 0x04, 0x1B):
        return "sanitize not running: %r" % (sense_of(st, p),)
    rsp = c1.tmf(TMF_ABORT_TASK, rtt=itt,
                 refcmdsn=(c1.cmdsn - 1) & 0xFFFFFFFF)
    if rsp.response != 0:
        return "ABORT TASK response %d" % rsp.response
    st, _, p = c2.scsi(bytes(6))
    if sense_of(st, p) != (NOT_READY, 0x04, 0x1B):
        return "after the abort the sanitize stopped: %r" % (
            sense_of(st, p),)
    if not wait_done(c2):
        return "sanitize never ended"
    return None


result.run("IMMED 0 answered at the end; its ABORT TASK at once",
           immed0_and_abort)


def dropped_waiter():
    """The connection of a SANITIZE waiting for its end (IMMED 0) drops:
    the sanitize goes on to its end, and the daemon with it."""
    c3 = session(3)
    params = overwrite_params(b"\x3c", 31)
    itt = c3.next_itt()
    c3.send(pt.scsi_command(0, itt, cdb_sanitize(OVERWRITE, len(params)),
                            len(params), c3.cmdsn, c3.exp_statsn,
                            write=True, dsl=len(params)), params)
    time.sleep(0.05)
    st, _, p = c2.scsi(bytes(6))
    c3.close()
    if sense_of(st, p) != (NOT_READY, 0x04, 0x1B):
        return "sanitize not running: %r" % (sense_of(st, p),)
    if not wait_done(c2):
        return "sanitize never ended"
    if read_blocks(c2, blocks - 1, 1) != b"\x3c" * BS:
        return "the sanitize did not finish its work"
    return None


result.run("a dropped connection leaves its sanitize running to the end",
           dropped_waiter)


def read_only():
    params = overwrite_params(b"\x00", 1)
    st, _, p = c1.scsi(cdb_sanitize(OVERWRITE, len(params)), lun=1,
                       write_data=params)
    if sense_of(st, p) != (DATA_PROTECT, 0x27, 0):
        return "OVERWRITE on ro: %r %r" % (st, sense_of(st, p))
    return None


result.run("read-only LU: DATA PROTECT", read_only)


def reserved():
    st, _, _ = c2.scsi(bytes([0x16, 0, 0, 0, 0, 0]))
    if st != pt.SCSI_GOOD:
        return "RESERVE(6): %r" % st
    try:
        params = overwrite_params(b"\x00", 1)
        st, _, p = c1.scsi(cdb_sanitize(OVERWRITE, len(params)),
                           write_data=params)
        if st != RESERVATION_CONFLICT:
            return "OVERWRITE under reservation: %r %r" % (st,
                                                           sense_of(st, p))
        st, _, _ = c1.scsi(cdb_sanitize(BLOCK_ERASE))
        if st != RESERVATION_CONFLICT:
            return "BLOCK ERASE under reservation: %r" % st
    finally:
        c2.scsi(bytes([0x17, 0, 0, 0, 0, 0]))
    return None


result.run("another session's reservation: RESERVATION CONFLICT", reserved)
c1.close()
c2.close()
sys.exit(1 if result.failures else 0)
