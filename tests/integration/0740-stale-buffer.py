#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Data-Out CDBs sent without the W bit never write stale bytes.

Usage: 0740-stale-buffer.py PORT VICTIM-IQN ATTACKER-IQN

A victim session writes a recognisable secret to its own target; right
after each of its writes, an attacker on another target sends a command
that takes Data-Out (WRITE 10/16, WRITE AND VERIFY, WRITE SAME,
COMPARE AND WRITE, ORWRITE, UNMAP, MODE SELECT, PERSISTENT RESERVE OUT)
with the W bit clear and no data, so any buffer the target hands that
command is a recycled one (ietd runs with one event thread: the victim's
buffer is the one that comes back). Each must answer without touching
anything: the attacker's LUN keeps its own bytes, no registration or mode
page changes, and a command that describes data answers with the whole
of it as residual overflow (RFC 7143 11.4.5.1), never a plain GOOD that
claims it was written.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
VICTIM = sys.argv[2]
ATTACKER = sys.argv[3]
BLOCK = 512
SECRET = b"TENANT-A-SECRET!" * (4096 // 16)
MINE = b"\xa1" * 4096
RSP_OVERFLOW = 0x04             # SCSI Response flags, RFC 7143 11.4.1
RSP_UNDERFLOW = 0x02

result = pt.Results()


def session(target, name):
    c = pt.Connection(port=PORT, timeout=10.0,
                      isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-11.org.example:" + name, target,
            immediate_data=True)
    pt.clear_unit_attention(c)
    return c


def no_w(c, cdb, edtl, read=False):
    """Send cdb with W clear (R as given) and no data; returns
    (status, response flags, residual, sense)."""
    itt = c.next_itt()
    c.send(pt.scsi_command(0, itt, cdb, edtl, c.cmdsn, c.exp_statsn,
                           read=read, write=False))
    c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    while True:
        p = c.recv()
        if p.opcode == pt.OP_DATA_IN and not p.flags & pt.DATA_IN_STATUS:
            continue
        if p.opcode in (pt.OP_SCSI_RSP, pt.OP_DATA_IN) and p.itt == itt:
            return p.status, p.flags, p.residual, p.sense()
        raise RuntimeError("unexpected answer %r" % p)


def w10(lba, n):
    return pt.cdb_write10(lba, n)


def w16(lba, n):
    return struct.pack(">BBQIBB", 0x8A, 0, lba, n, 0, 0)


def wv10(lba, n):
    return struct.pack(">BBIBHB", 0x2E, 0, lba, 0, n, 0)


def ws10(lba, n):
    return struct.pack(">BBIBHB", 0x41, 0, lba, 0, n, 0)


def caw(lba, n):
    return struct.pack(">BBQ3xBBB", 0x89, 0, lba, n, 0, 0)


def orwrite(lba, n):
    return struct.pack(">BBQIBB", 0x8B, 0, lba, n, 0, 0)


def unmap_cdb(plen):
    return struct.pack(">BBIBHB", 0x42, 0, 0, 0, plen, 0)


def victim_write(v):
    st, _, p = v.scsi(pt.cdb_write10(0, 8), write_data=SECRET)
    if st != 0:
        raise RuntimeError("victim WRITE status %r" % st)


def attacker_blocks(a):
    st, data, _ = a.scsi(pt.cdb_read10(0, 8), read_len=4096)
    if st != 0:
        raise RuntimeError("attacker READ status %r" % st)
    return data


def check_medium(a, what):
    data = attacker_blocks(a)
    if b"TENANT-A" in data:
        return "%s: the victim's bytes reached the attacker's LUN" % what
    if data != MINE:
        return "%s: the attacker's LUN changed" % what
    return None


run = result.run


def family_case(cdb, edtl, xfer, read):
    def case():
        victim_write(v)
        st, flags, resid, sense = no_w(a, cdb, edtl, read)
        why = check_medium(a, "medium")
        if why:
            return why
        if st == 0:
            if not flags & RSP_OVERFLOW or resid != xfer:
                return ("GOOD without the residual overflow of %d bytes "
                        "(flags 0x%02x residual %d)" % (xfer, flags, resid))
            return None
        if st != 2 or len(sense) < 3 or sense[2] & 0x0F != 0x05:
            return "status %r sense %s" % (st, sense.hex())
        return None
    return case


v = session(VICTIM, "victim")
a = session(ATTACKER, "attacker")
st, _, _ = a.scsi(pt.cdb_write10(0, 8), write_data=MINE)
if st != 0:
    print("not ok - attacker's own WRITE: status %r" % st)
    sys.exit(1)

families = [
    ("WRITE 10", w10(0, 8), 4096, 4096),
    ("WRITE 16", w16(0, 8), 4096, 4096),
    ("WRITE AND VERIFY 10", wv10(0, 8), 4096, 4096),
    ("WRITE SAME 10", ws10(0, 8), 4096, BLOCK),
    ("COMPARE AND WRITE", caw(0, 1), 4096, 2 * BLOCK),
    ("ORWRITE 16", orwrite(0, 8), 4096, 4096),
]
for name, cdb, edtl, xfer in families:
    for read in (False, True):
        run("%s without W%s" % (name, " (R set)" if read else ""),
            family_case(cdb, edtl, xfer, read))


def case_unmap():
    victim_write(v)
    st, flags, resid, sense = no_w(a, unmap_cdb(24), 4096)
    # Nothing unmapped: the attacker's blocks still hold its own bytes.
    why = check_medium(a, "UNMAP")
    if why:
        return why
    if st == 0 and (not flags & RSP_OVERFLOW or resid != 24):
        return "GOOD without the overflow of its 24-byte list"
    return None


def caching_page(c):
    st, data, _ = c.scsi(struct.pack(">BBBBBB", 0x1A, 0x08, 0x08, 0, 64,
                                     0), read_len=64)
    if st != 0:
        raise RuntimeError("MODE SENSE status %r" % st)
    return data


# Buffers come in size classes (4 KiB, 8 KiB, ...) and a freed one is the
# next one handed out of its class. A parameter list the attacker sends
# with W and an 8 KiB EDTL is left in an 8 KiB buffer; undoing it with a
# short EDTL uses a 4 KiB one. The same command without W and an 8 KiB
# EDTL then gets the buffer holding the first list: were it read, the
# change would come back.
PRIMED = 8192


def with_w(c, cdb, plist, edtl):
    st, _, _ = c.scsi(cdb, write_data=plist + bytes(edtl - len(plist)))
    return st


def case_mode_select():
    before = caching_page(a)
    page = bytearray(before[4:4 + 2 + before[5]])
    flipped = bytearray(4) + page
    flipped[4] &= 0x3F                  # PS is reserved in MODE SELECT
    flipped[6] ^= 0x04                  # WCE
    restored = bytearray(flipped)
    restored[6] ^= 0x04
    msel = struct.pack(">BBBBBB", 0x15, 0x10, 0, 0, len(flipped), 0)
    if with_w(a, msel, bytes(flipped), PRIMED) != 0:
        return "MODE SELECT with W and its list was refused"
    if caching_page(a) == before:
        return "MODE SELECT with W changed nothing: the test is blind"
    if with_w(a, msel, bytes(restored), len(restored)) != 0:
        return "MODE SELECT back was refused"
    st, _, _, _ = no_w(a, msel, PRIMED)
    if st == 0:
        return "MODE SELECT without its parameter list answered GOOD"
    if caching_page(a) != before:
        return "the Caching mode page changed"
    return None


def pr_keys(c):
    st, data, _ = c.scsi(struct.pack(">BBIBHB", 0x5E, 0, 0, 0, 256, 0),
                         read_len=256)
    if st != 0:
        raise RuntimeError("PERSISTENT RESERVE IN status %r" % st)
    n = struct.unpack(">I", data[4:8])[0]
    return [struct.unpack(">Q", data[8 + 8 * i:16 + 8 * i])[0]
            for i in range(n // 8)]


def case_prout():
    # REGISTER AND IGNORE EXISTING KEY (SPC-4 6.15.2): a list whose
    # SERVICE ACTION RESERVATION KEY is 0x77, then one whose key is 0.
    prout = struct.pack(">BBB2xIB", 0x5F, 0x06, 0, 24, 0)
    if with_w(a, prout, struct.pack(">QQ8x", 0, 0x77), PRIMED) != 0:
        return "REGISTER with W was refused"
    if pr_keys(a) != [0x77]:
        return "REGISTER with W did not register: the test is blind"
    if with_w(a, prout, struct.pack(">QQ8x", 0, 0), 24) != 0:
        return "unregistering was refused"
    st, _, _, _ = no_w(a, prout, PRIMED)
    if st == 0:
        return "PERSISTENT RESERVE OUT without its list answered GOOD"
    keys = pr_keys(a)
    if keys:
        return "a registration appeared: %s" % keys
    return None


def case_victim_intact():
    st, data, _ = v.scsi(pt.cdb_read10(0, 8), read_len=4096)
    if st != 0 or data != SECRET:
        return "the victim's own data changed (status %r)" % st
    return None


run("UNMAP without W", case_unmap)
run("MODE SELECT without W", case_mode_select)
run("PERSISTENT RESERVE OUT without W", case_prout)
run("victim's data intact", case_victim_intact)
sys.exit(1 if result.failures else 0)
