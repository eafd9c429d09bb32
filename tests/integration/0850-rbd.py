#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""The data path of a Type=rbd LU (LUN 0) beside a file LU (LUN 1).

Usage: 0850-rbd.py PORT TARGET PHASE ARGS...

  data EXPECT     every data command on LUN 0 against a model of the
                  image, written to EXPECT for the shell to compare with
                  `rbd export` (the bytes really are in Ceph)
  resize IMAGE NEWSIZE   `rbd resize` while logged in: UNIT ATTENTION
                  CAPACITY DATA HAS CHANGED, then READ CAPACITY the new size
  race PORT2 ROUNDS     two ietd processes serve the image (PORT and
                  PORT2): an initiator on each increments a counter block
                  with READ then COMPARE AND WRITE, retrying on
                  MISCOMPARE; no increment is lost, which holds only if
                  the compare and the write are one step in Ceph (each
                  ietd's own task set orders only its own commands)
  stall OSDPID BOUND    SIGSTOP the OSD: a READ of LUN 0 ends in a CHECK
                  CONDITION within BOUND seconds while LUN 1 answers at
                  once; then SIGCONT and LUN 0 answers again
"""

import os
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
TARGET = sys.argv[2]
PHASE = sys.argv[3]
ARGS = sys.argv[4:]
BS = 512
SIZE = 16 << 20  # the image, 16 MiB (4 objects of 4 MiB)
OBJ_BLOCKS = (4 << 20) // BS
SK_MISCOMPARE = 0x0E

result = pt.Results()


def pattern(lba, n, tag):
    out = bytearray()
    for i in range(n):
        head = b"%s lba %08d " % (tag, lba + i)
        out += (head * (BS // len(head) + 1))[:BS]
    return bytes(out)


def connect(name):
    c = pt.Connection(port=PORT, timeout=60.0, isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-12.org.example:rbd-" + name, TARGET)
    pt.clear_unit_attention(c, lun=0)
    pt.clear_unit_attention(c, lun=1)
    return c


def sense_of(st, p):
    if st != pt.SCSI_CHECK_CONDITION:
        return None
    s = p.sense()
    return (s[2] & 0x0F, s[12], s[13]) if len(s) > 13 else None


def read_capacity16(c):
    cdb = struct.pack(">BBQIBB", 0x9E, 0x10, 0, 32, 0, 0)
    st, d, p = c.scsi(cdb, lun=0, read_len=32)
    if st != pt.SCSI_GOOD:
        return st, None, p
    return st, struct.unpack(">Q", d[:8])[0] + 1, p


def phase_data(expect_path):
    c = connect("data")
    model = bytearray(SIZE)

    def write(lba, data, fua=False, what="WRITE"):
        n = len(data) // BS
        st, _, _ = c.scsi(pt.cdb_write10(lba, n, fua=fua), write_data=data)
        result("%s of %d blocks at %d" % (what, n, lba), st == pt.SCSI_GOOD,
               "status %r" % st)
        model[lba * BS:(lba + n) * BS] = data

    def read_check(lba, n, what):
        st, d, _ = c.scsi(pt.cdb_read10(lba, n), read_len=n * BS)
        good = st == pt.SCSI_GOOD and d == model[lba * BS:(lba + n) * BS]
        result(what, good, "status %r, data %s" % (
            st, "differs" if st == pt.SCSI_GOOD else "-"))

    st, blocks, _ = read_capacity16(c)
    result("READ CAPACITY(16) is the image's 16 MiB",
           st == pt.SCSI_GOOD and blocks == SIZE // BS,
           "status %r blocks %r" % (st, blocks))
    # Writes and reads of several sizes, one across an object boundary.
    write(100, pattern(100, 128, b"A"))
    read_check(100, 128, "64 KiB read back byte for byte")
    write(OBJ_BLOCKS - 8, pattern(OBJ_BLOCKS - 8, 16, b"B"))
    read_check(OBJ_BLOCKS - 16, 32, "a read across an object boundary")
    write(3000, pattern(3000, 2048, b"C"))  # 1 MiB
    read_check(3000, 2048, "1 MiB read back byte for byte")
    write(400, pattern(400, 4, b"F"), fua=True, what="WRITE FUA")
    read_check(400, 4, "FUA write read back")
    st, _, _ = c.scsi(pt.cdb_sync_cache10())
    result("SYNCHRONIZE CACHE is GOOD", st == pt.SCSI_GOOD, "status %r" % st)
    # Unmapped blocks read as zeros, also in partial objects.
    lba, n = OBJ_BLOCKS - 6, 10
    params = struct.pack(">HH4x", 22, 16) + struct.pack(">QI4x", lba, n)
    cdb = struct.pack(">BB4xBHB", 0x42, 0, 0, len(params), 0)
    st, _, p = c.scsi(cdb, write_data=params)
    result("UNMAP across an object boundary is GOOD", st == pt.SCSI_GOOD,
           "status %r sense %r" % (st, sense_of(st, p)))
    if st == pt.SCSI_GOOD:
        model[lba * BS:(lba + n) * BS] = bytes(n * BS)
    read_check(OBJ_BLOCKS - 16, 32, "unmapped blocks read back as zeros")
    # WRITE SAME(10): one block repeated; WRITE SAME(16) of zeros, UNMAP.
    blk = pattern(7, 1, b"S")
    cdb = struct.pack(">BBIBHB", 0x41, 0, 600, 0, 20, 0)
    st, _, p = c.scsi(cdb, write_data=blk)
    result("WRITE SAME(10) of 20 blocks is GOOD", st == pt.SCSI_GOOD,
           "status %r sense %r" % (st, sense_of(st, p)))
    model[600 * BS:620 * BS] = blk * 20
    read_check(600, 20, "WRITE SAME's blocks read back")
    cdb = struct.pack(">BBQIBB", 0x93, 0x08, 3100, 100, 0, 0)
    st, _, p = c.scsi(cdb, write_data=bytes(BS))
    result("WRITE SAME(16) UNMAP of zeros is GOOD", st == pt.SCSI_GOOD,
           "status %r sense %r" % (st, sense_of(st, p)))
    model[3100 * BS:3200 * BS] = bytes(100 * BS)
    read_check(3000, 300, "WRITE SAME UNMAP's blocks read back as zeros")
    # COMPARE AND WRITE (SBC-4 5.3): a match writes, a miscompare says
    # where (INFORMATION: the offset of the first differing byte).
    old = bytes(model[700 * BS:701 * BS])
    new = pattern(700, 1, b"W")
    cdb = struct.pack(">BBQ3xBBB", 0x89, 0, 700, 1, 0, 0)
    st, _, p = c.scsi(cdb, write_data=old + new)
    result("COMPARE AND WRITE that matches is GOOD", st == pt.SCSI_GOOD,
           "status %r sense %r" % (st, sense_of(st, p)))
    model[700 * BS:701 * BS] = new
    bad = bytearray(new)
    bad[77] ^= 0xFF
    st, _, p = c.scsi(cdb, write_data=bytes(bad) + pattern(700, 1, b"X"))
    s = p.sense() if st == pt.SCSI_CHECK_CONDITION else b""
    info = struct.unpack(">I", s[3:7])[0] if len(s) > 13 else None
    result("COMPARE AND WRITE that differs is MISCOMPARE at byte 77",
           len(s) > 13 and s[2] & 0x0F == SK_MISCOMPARE and s[12] == 0x1D
           and s[0] & 0x80 and info == 77,
           "status %r sense %s" % (st, s.hex()))
    read_check(700, 1, "a miscompared CAW wrote nothing")
    # In the second object, the last byte: INFORMATION stays relative.
    lba = OBJ_BLOCKS + 5
    cdb = struct.pack(">BBQ3xBBB", 0x89, 0, lba, 1, 0, 0)
    bad = bytearray(model[lba * BS:(lba + 1) * BS])
    bad[511] ^= 0x01
    st, _, p = c.scsi(cdb, write_data=bytes(bad) + pattern(lba, 1, b"Y"))
    s = p.sense() if st == pt.SCSI_CHECK_CONDITION else b""
    info = struct.unpack(">I", s[3:7])[0] if len(s) > 13 else None
    result("a miscompare in the second object says byte 511",
           len(s) > 13 and s[2] & 0x0F == SK_MISCOMPARE and info == 511,
           "status %r sense %s" % (st, s.hex()))
    # The file LU beside it is untouched by all this.
    st, d, _ = c.scsi(pt.cdb_read10(100, 8), lun=1, read_len=8 * BS)
    result("the file LU reads its own (zero) blocks",
           st == pt.SCSI_GOOD and d == bytes(8 * BS), "status %r" % st)
    with open(expect_path, "wb") as f:
        f.write(model)
    c.logout()
    c.close()


def phase_resize(image, new_size):
    c = connect("resize")
    st, before, _ = read_capacity16(c)
    result("READ CAPACITY before the resize", st == pt.SCSI_GOOD,
           "status %r" % st)
    r = subprocess.run(["timeout", "30", "rbd", "resize", "--size", new_size,
                        image], capture_output=True)
    result("rbd resize %s %s" % (image, new_size), r.returncode == 0,
           r.stderr.decode(errors="replace").strip())
    seen, t0 = None, time.monotonic()
    while time.monotonic() - t0 < 20:
        st, _, p = c.scsi(bytes(6), lun=0)
        if st == pt.SCSI_CHECK_CONDITION:
            seen = sense_of(st, p)
            break
        time.sleep(0.2)
    result("UNIT ATTENTION CAPACITY DATA HAS CHANGED after the resize",
           seen == (pt.SENSE_UNIT_ATTENTION, 0x2A, 0x09),
           "sense %r after %.1f s" % (seen, time.monotonic() - t0))
    print("# UA after %.1f s" % (time.monotonic() - t0), flush=True)
    st, after, _ = read_capacity16(c)
    want = int(new_size[:-1]) << 20
    result("READ CAPACITY(16) then says the new size",
           st == pt.SCSI_GOOD and after is not None and after * BS == want,
           "blocks %r before %r, want %d bytes" % (after, before, want))
    c.logout()
    c.close()


def counter_block(value, who):
    head = b"CAW-COUNTER %012d by %s\n" % (value, who)
    return (head * (BS // len(head) + 1))[:BS]


def racer(port, name, rounds, wrote, errors, stats):
    c = pt.Connection(port=port, timeout=60.0, isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-12.org.example:race-" + name, TARGET)
    pt.clear_unit_attention(c)
    cdb = struct.pack(">BBQ3xBBB", 0x89, 0, 9, 1, 0, 0)
    done = misses = 0
    while done < rounds:
        st, cur, _ = c.scsi(pt.cdb_read10(9, 1), read_len=BS)
        if st != pt.SCSI_GOOD:
            errors.append("%s: READ status %r" % (name, st))
            return
        v = int(cur[12:24]) + 1
        st, _, p = c.scsi(cdb, write_data=cur + counter_block(
            v, name.encode()))
        if st == pt.SCSI_GOOD:
            wrote.append(v)
            done += 1
        elif sense_of(st, p) == (SK_MISCOMPARE, 0x1D, 0x00):
            misses += 1
        else:
            errors.append("%s: CAW status %r sense %r" %
                          (name, st, sense_of(st, p)))
            return
    stats[name] = misses
    c.logout()
    c.close()


def phase_race(port2, rounds):
    c = connect("race")
    st, _, _ = c.scsi(pt.cdb_write10(9, 1), write_data=counter_block(0, b"-"))
    result("the counter block starts at 0", st == pt.SCSI_GOOD,
           "status %r" % st)
    wrote = {"a": [], "b": []}
    errors, stats = [], {}
    threads = [threading.Thread(target=racer, args=(
        port, k, rounds, wrote[k], errors, stats))
        for port, k in ((PORT, "a"), (port2, "b"))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n = len(wrote["a"]) + len(wrote["b"])
    print("# %d CAWs through two ietd in %.1f s, miscompares %r" %
          (n, time.monotonic() - t0, stats), flush=True)
    result("every CAW through either ietd ends GOOD or MISCOMPARE",
           not errors, "; ".join(errors))
    result("the two gateways raced (some CAWs miscompared)",
           sum(stats.values()) > 0, "never overlapped")
    result("no increment lost or doubled across the two gateways",
           sorted(wrote["a"] + wrote["b"]) == list(range(1, n + 1)),
           "values %r" % sorted(wrote["a"] + wrote["b"])[:20])
    st, d, _ = c.scsi(pt.cdb_read10(9, 1), read_len=BS)
    result("the counter equals the successful CAWs",
           st == pt.SCSI_GOOD and int(d[12:24]) == n,
           "status %r value %r, want %d" % (st, d[:24], n))
    c.logout()
    c.close()


def phase_stall(osd_pid, bound):
    c = connect("stall")
    w = connect("stall-write")
    other = connect("file")
    os.kill(osd_pid, signal.SIGSTOP)
    try:
        out = {}

        def slow():
            t0 = time.monotonic()
            st, _, p = c.scsi(pt.cdb_read10(5000, 8), read_len=8 * BS)
            out["rbd"] = (st, sense_of(st, p), time.monotonic() - t0)

        def slow_write():
            t0 = time.monotonic()
            st, _, p = w.scsi(pt.cdb_write10(5100, 8),
                              write_data=pattern(5100, 8, b"T"))
            out["write"] = (st, sense_of(st, p), time.monotonic() - t0)

        t = threading.Thread(target=slow)
        t.start()
        tw = threading.Thread(target=slow_write)
        tw.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        st, _, _ = other.scsi(pt.cdb_read10(0, 8), lun=1, read_len=8 * BS)
        dt = time.monotonic() - t0
        result("the file LU answers while the OSD is stopped",
               st == pt.SCSI_GOOD and dt < 2, "status %r in %.1f s" % (st, dt))
        st, _, _ = other.scsi(bytes(6), lun=0)
        result("TEST UNIT READY of the RBD LU answers meanwhile",
               st == pt.SCSI_GOOD, "status %r" % st)
        t.join(bound + 30)
        st, sense, dt = out.get("rbd", (None, None, -1))
        print("# RBD READ with the OSD stopped: status %r sense %r after "
              "%.1f s" % (st, sense, dt), flush=True)
        result("an RBD READ with the OSD stopped ends in CHECK CONDITION",
               st == pt.SCSI_CHECK_CONDITION and sense is not None and
               sense[0] in (0x03, 0x04, 0x0B),
               "status %r sense %r" % (st, sense))
        result("... within %d s" % bound, 0 <= dt <= bound, "%.1f s" % dt)
        tw.join(bound + 30)
        st, sense, dt = out.get("write", (None, None, -1))
        print("# RBD WRITE with the OSD stopped: status %r sense %r after "
              "%.1f s" % (st, sense, dt), flush=True)
        result("an RBD WRITE with the OSD stopped ends in CHECK CONDITION "
               "within %d s" % bound,
               st == pt.SCSI_CHECK_CONDITION and sense is not None and
               0 <= dt <= bound, "status %r sense %r after %.1f s" %
               (st, sense, dt))
    finally:
        os.kill(osd_pid, signal.SIGCONT)
    ok, t0 = False, time.monotonic()
    while not ok and time.monotonic() - t0 < 60:
        st, _, p = c.scsi(pt.cdb_read10(5000, 8), read_len=8 * BS)
        ok = st == pt.SCSI_GOOD
        if not ok:
            time.sleep(0.5)
    result("after SIGCONT the RBD LU reads again", ok,
           "status %r sense %r" % (st, sense_of(st, p)))
    for x in (c, w, other):
        x.logout()
        x.close()


if PHASE == "data":
    phase_data(ARGS[0])
elif PHASE == "resize":
    phase_resize(ARGS[0], ARGS[1])
elif PHASE == "race":
    phase_race(int(ARGS[0]), int(ARGS[1]))
elif PHASE == "stall":
    phase_stall(int(ARGS[0]), int(ARGS[1]))
else:
    sys.exit("unknown phase %s" % PHASE)
sys.exit(1 if result.failures else 0)
