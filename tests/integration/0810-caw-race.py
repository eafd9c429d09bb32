#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Two initiators race COMPARE AND WRITE on one block: no lost update.

Usage: 0810-caw-race.py PORT TARGET IMAGE

Each initiator, on its own session, does ROUNDS increments of a counter
kept in block 7: READ the block, then COMPARE AND WRITE it from what it
read to the next value, and on MISCOMPARE read again and retry (what
VMware's ATS locking does). Checked: every CAW ends GOOD or MISCOMPARE;
the values the two wrote are disjoint and together exactly 1..N, where N
is the number of successful CAWs, and the block (over iSCSI and in the
image file) holds N: no increment was lost or applied twice.
"""

import os
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
TARGET = sys.argv[2]
IMAGE = sys.argv[3]
ROUNDS = int(os.environ.get("CAW_ROUNDS", "300"))
BS = 512
LBA = 7
SK_MISCOMPARE = 0x0E

result = pt.Results()


def block(value, who):
    head = b"CAW-COUNTER %012d by %s\n" % (value, who)
    return (head * (BS // len(head) + 1))[:BS]


def value_of(data):
    return int(data[12:24])


def cdb_caw(lba):
    return struct.pack(">BBQ3xBBB", 0x89, 0, lba, 1, 0, 0)


def racer(name, wrote, errors, stats):
    c = pt.Connection(port=PORT, timeout=30.0, isid=b"\x80" + os.urandom(5))
    c.login(name, TARGET)
    pt.clear_unit_attention(c)
    done = misses = 0
    while done < ROUNDS:
        st, cur, _ = c.scsi(pt.cdb_read10(LBA, 1), read_len=BS)
        if st != pt.SCSI_GOOD:
            errors.append("%s: READ status %r" % (name, st))
            return
        v = value_of(cur) + 1
        st, _, p = c.scsi(cdb_caw(LBA),
                          write_data=cur + block(v, name[-1:].encode()))
        if st == pt.SCSI_GOOD:
            wrote.append(v)
            done += 1
            continue
        s = p.sense()
        if st == pt.SCSI_CHECK_CONDITION and len(s) > 13 and \
                s[2] & 0x0F == SK_MISCOMPARE and s[12] == 0x1D:
            misses += 1
            continue
        errors.append("%s: CAW status %r sense %s" % (name, st, s.hex()))
        return
    stats[name] = misses
    c.logout()
    c.close()


def main():
    c = pt.Connection(port=PORT, timeout=10.0)
    c.login("iqn.2026-12.org.example:caw-setup", TARGET)
    pt.clear_unit_attention(c)
    st, _, _ = c.scsi(pt.cdb_write10(LBA, 1), write_data=block(0, b"-"))
    result("counter block starts at 0", st == pt.SCSI_GOOD, "status %r" % st)
    wrote = {"a": [], "b": []}
    errors, stats = [], {}
    threads = [threading.Thread(target=racer, args=(
        "iqn.2026-12.org.example:caw-" + k, wrote[k], errors, stats))
        for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result("every CAW ends GOOD or MISCOMPARE", not errors, "; ".join(errors))
    n = len(wrote["a"]) + len(wrote["b"])
    print("# %d successful CAWs, %s miscompares" % (n, stats), flush=True)
    result("both initiators raced (some CAWs miscompared)",
           sum(stats.values()) > 0, "no miscompare: they never overlapped")
    result("the values written are disjoint and exactly 1..N",
           sorted(wrote["a"] + wrote["b"]) == list(range(1, n + 1)),
           "an increment was lost or applied twice")
    st, d, _ = c.scsi(pt.cdb_read10(LBA, 1), read_len=BS)
    result("the counter over iSCSI equals the successful CAWs",
           st == pt.SCSI_GOOD and value_of(d) == n,
           "status %r value %r, want %d" % (st, d[:24], n))
    st, _, _ = c.scsi(pt.cdb_sync_cache10())
    with open(IMAGE, "rb") as f:
        f.seek(LBA * BS)
        img = f.read(BS)
    result("the counter in the image equals the successful CAWs",
           value_of(img) == n, "image holds %r" % img[:24])
    c.logout()
    c.close()
    return 1 if result.failures else 0


sys.exit(main())
