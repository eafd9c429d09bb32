#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Reads sent from a tmpfs file's page cache never see a write half-done.

A large READ from a tmpfs LUN is sent straight from the file's mapping
(backend/map.c) and stays in the task set until its last byte is in the
socket, so an overlapping WRITE waits for it (and a READ that comes after a
WRITE waits for the WRITE). One session reads the same 8 MiB over and over, slowly (a
Python reader with a small receive buffer, so each READ's data waits in
ietd's send queue), while a second session keeps rewriting it, each time
with one byte value. Every READ must come back as one value only: a mix
would be a write landing in pages that were still being sent.

    0620-mapped-reads.py PORT TARGET_IQN SECONDS
"""

import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

BLOCKS = 16384                 # 8 MiB of 512-byte blocks: more than
                               # ietd's socket buffer, so a READ's data
                               # waits in ietd for the reader
SIZE = BLOCKS * 512

port, iqn, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
result = pt.Results()



def session(n):
    c = pt.Connection(port=port, timeout=20.0,
                      isid=bytes([0x80, 0, 0, 0x62, 0, n]))
    c.login("iqn.2026-11.org.ietd.test:mapped-%d" % n, iqn)
    pt.clear_unit_attention(c)
    return c


# The writer is a process of its own: as a thread it would share the
# interpreter lock with the reader, which could starve it for seconds.
MIN_WRITES = 5


def writer(c, rounds, error, stop):
    v = 2
    try:
        while not stop.is_set():
            status, _, _ = c.scsi(pt.cdb_write10(0, BLOCKS),
                                  write_data=bytes([v]) * SIZE)
            if status != 0:
                error.put("WRITE status %r" % status)
                return
            with rounds.get_lock():
                rounds.value += 1
            v = v % 250 + 2
    except Exception as e:  # noqa: BLE001 - reported by the parent
        error.put("%s: %s" % (type(e).__name__, e))


def main():
    r, w = session(1), session(2)
    r.sock.setsockopt(pt.socket.SOL_SOCKET, pt.socket.SO_RCVBUF, 65536)
    # Every page written once, so the whole range is mapped, not read.
    status, _, _ = w.scsi(pt.cdb_write10(0, BLOCKS), write_data=b"\1" * SIZE)
    result("first write", status == 0, "status %r" % status)
    mp = multiprocessing.get_context("fork")
    rounds, error, stop = mp.Value("i", 0), mp.Queue(), mp.Event()
    child = mp.Process(target=writer, args=(w, rounds, error, stop),
                       daemon=True)
    child.start()
    reads = torn = 0
    values = set()
    first_torn = ""
    # At least SECONDS, and on until the writer has done MIN_WRITES (a
    # busy machine), but never more than a minute past SECONDS.
    start = time.monotonic()
    while time.monotonic() < start + seconds or \
            (rounds.value < MIN_WRITES and
             time.monotonic() < start + seconds + 60 and child.is_alive()):
        status, data, _ = r.scsi(pt.cdb_read10(0, BLOCKS), read_len=SIZE)
        if status != 0:
            result("READ during writes", False, "status %r" % status)
            break
        reads += 1
        kinds = set(data)
        if len(kinds) != 1:
            torn += 1
            if not first_torn:
                first_torn = "read %d holds values %s" % (
                    reads, sorted(kinds)[:8])
        else:
            values |= kinds
    stop.set()
    child.join(30)
    writer_error = None if error.empty() else error.get()
    print("# %d reads, %d writes, %d distinct values read, %d torn" %
          (reads, rounds.value, len(values), torn))
    result("writer ran without error", writer_error is None,
           str(writer_error))
    result("reads and writes interleaved (%d values seen)" % len(values),
           len(values) >= 3, "only %s" % sorted(values))
    result("no READ saw a WRITE half-done (%d reads)" % reads, torn == 0,
           "%d torn; %s" % (torn, first_torn))
    return 1 if result.failures else 0


sys.exit(main())
