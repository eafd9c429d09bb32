#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Copy offload: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS.

Usage: 0800-xcopy.py PORT TARGET-A TARGET-B SRC-IMG DST-IMG B-IMG

Target A has LUN 0 (SRC-IMG, 64 MiB), LUN 1 (DST-IMG, 64 MiB), LUN 2
(read-only) and LUN 3 (4096-byte blocks); target B, another tenant's,
has LUN 0 (B-IMG), which only B's initiator may log in to. Checked, by
sha256 of the image files: a copy from LUN 0 to LUN 1, and within LUN 1
without overlap and with overlap both ways (the result is that of
reading the source first); a 1 GiB copy aborted by ABORT TASK once it
has started, and another by a LOGICAL UNIT RESET from a second session,
stop between two 1 MiB chunks (COPY STATUS says how far, the image
holds exactly that many whole chunks), one whose connection drops
stops too, as does one whose destination another nexus reserves
midway, and the daemon serves on; hostile
parameter lists are refused with the sense SPC-4 gives them; a CSCD
naming B's LU, whose NAA designator B's own session reads, is refused as
an unknown one would be, and B's image stays untouched.
"""

import hashlib
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
TARGET_A, TARGET_B = sys.argv[2], sys.argv[3]
SRC_IMG, DST_IMG, B_IMG = sys.argv[4], sys.argv[5], sys.argv[6]
NAME_A = "iqn.2026-12.org.example:tenant-a"
NAME_B = "iqn.2026-12.org.example:tenant-b"
BS = 512
MIB = 1024 * 1024
CHUNK = MIB                      # xcopy.c's XC_CHUNK
ABORT_SEG_BLOCKS = 16 * MIB // BS
ABORT_SEGS = 64

SK_ILLEGAL, SK_DATA_PROTECT, SK_COPY_ABORTED = 0x5, 0x7, 0xA
TMF_ABORT_TASK, TMF_LU_RESET = 1, 5
STATUS_TASK_ABORTED = 0x40
STATUS_RESERVATION_CONFLICT = 0x18

result = pt.Results()


def note(msg):
    print("# " + msg, flush=True)


def session(target=TARGET_A, name=NAME_A, isid=None):
    c = pt.Connection(port=PORT, timeout=20.0,
                      isid=isid or b"\x80" + os.urandom(5))
    c.login(name, target)
    for lun in (0, 1, 2, 3) if target == TARGET_A else (0,):
        pt.clear_unit_attention(c, lun=lun)
    return c


def naa_of(c, lun):
    """The LU's NAA designator from VPD 0x83 (what a CSCD names)."""
    st, d, _ = c.scsi(bytes([0x12, 1, 0x83, 1, 0, 0]), lun=lun,
                      read_len=256)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("INQUIRY VPD 0x83 status %r" % st)
    off, end = 4, 4 + struct.unpack(">H", d[2:4])[0]
    while off + 4 <= end:
        ln = d[off + 3]
        if d[off + 1] & 0x3F == 0x03 and ln == 8:
            return d[off + 4:off + 12]
        off += 4 + ln
    raise RuntimeError("no NAA designator")


def cscd(naa, bs=BS):
    """Identification CSCD descriptor (E4h), block device."""
    return (bytes([0xE4, 0, 0, 0, 0x01, 0x03, 0, len(naa)]) + naa +
            bytes(16 - len(naa)) + bytes(5) + bs.to_bytes(3, "big"))


def seg(src, dst, nblocks, slba, dlba):
    """Block -> block segment descriptor (02h)."""
    return struct.pack(">BBHHHHHQQ", 0x02, 0, 0x18, src, dst, 0, nblocks,
                       slba, dlba)


def plist(cscds, segs, list_id=0, usage=3, cscd_len=None, seg_len=None):
    c, s = b"".join(cscds), b"".join(segs)
    return struct.pack(">BBH4xII", list_id, usage << 3,
                       len(c) if cscd_len is None else cscd_len,
                       len(s) if seg_len is None else seg_len, 0) + c + s


def cdb_xcopy(plen):
    return bytes([0x83, 0]) + bytes(8) + plen.to_bytes(4, "big") + bytes(2)


def cdb_rcr(sa, list_id, alloc=1024):
    return (bytes([0x84, sa, list_id]) + bytes(7) + alloc.to_bytes(4, "big")
            + bytes(2))


def xcopy(c, data, lun=0):
    return c.scsi(cdb_xcopy(len(data)), lun=lun, write_data=data)


def sense_of(p):
    s = p.sense()
    if len(s) < 18:
        return None
    return s[2] & 0x0F, s[12], s[13], s[15:18]


def expect_sense(st, p, key, asc, ascq, ptr=None):
    """None when CHECK CONDITION carries key/asc/ascq (and the field
    pointer ptr, when given), else why not."""
    if st != pt.SCSI_CHECK_CONDITION:
        return "status %r, not CHECK CONDITION" % st
    s = sense_of(p)
    if s is None or s[:3] != (key, asc, ascq):
        return "sense %s, want %x/%02x/%02x" % (p.sense().hex(), key, asc,
                                                ascq)
    if ptr is not None and (not s[3][0] & 0x80 or
                            struct.unpack(">H", s[3][1:])[0] != ptr):
        return "sense-key specific %s, want pointer %d" % (s[3].hex(), ptr)
    return None


def read_img(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def sha(b):
    return hashlib.sha256(b).hexdigest()


A = session()
NAA = [naa_of(A, lun) for lun in range(4)]
B = session(TARGET_B, NAME_B)
NAA_B = naa_of(B, 0)


def case_between_lus():
    before = read_img(SRC_IMG, 0, 8 * MIB)
    data = plist([cscd(NAA[0]), cscd(NAA[1])],
                 [seg(0, 1, 8192, 0, 70000), seg(0, 1, 8192, 8192, 78192)])
    st, _, p = xcopy(A, data)
    if st != pt.SCSI_GOOD:
        return "status %r sense %s" % (st, p.sense().hex())
    if sha(read_img(DST_IMG, 70000 * BS, 8 * MIB)) != sha(before):
        return "LUN 1 blocks 70000.. differ from LUN 0 blocks 0.."
    return None


def case_within_lu(src, dst, n):
    old = read_img(DST_IMG, 0, 64 * MIB)
    data = plist([cscd(NAA[1])], [seg(0, 0, n, src, dst)])
    st, _, p = xcopy(A, data, lun=1)
    if st != pt.SCSI_GOOD:
        return "status %r sense %s" % (st, p.sense().hex())
    want = bytearray(old)
    want[dst * BS:(dst + n) * BS] = old[src * BS:(src + n) * BS]
    if sha(read_img(DST_IMG, 0, 64 * MIB)) != sha(bytes(want)):
        return "image differs from a copy that read its source first"
    return None


def abort_list(list_id):
    """64 segments of 16 MiB into LUN 1's first 16 MiB, alternately from
    LUN 0's first and second 16 MiB: each chunk of the destination tells
    which segment wrote it."""
    segs = [seg(0, 1, ABORT_SEG_BLOCKS, (i % 2) * ABORT_SEG_BLOCKS, 0)
            for i in range(ABORT_SEGS)]
    return plist([cscd(NAA[0]), cscd(NAA[1])], segs, list_id=list_id,
                 usage=0)


def send_nowait(c, cdb, data, lun=0):
    itt = c.next_itt()
    c.send(pt.scsi_command(lun, itt, cdb, len(data), c.cmdsn, c.exp_statsn,
                           write=True, dsl=len(data)), data)
    cmdsn = c.cmdsn
    c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    return itt, cmdsn


def copy_status(c, list_id, pending):
    """COPY STATUS on c while other commands of c may answer first (their
    PDUs are kept in pending by ITT). (status, segments, bytes) or None."""
    itt = c.next_itt()
    c.send(pt.scsi_command(0, itt, cdb_rcr(0, list_id), 1024, c.cmdsn,
                           c.exp_statsn, read=True))
    c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    data = b""
    while True:
        p = c.recv()
        if p.itt != itt:
            pending.setdefault(p.itt, []).append(p)
            continue
        if p.opcode == pt.OP_DATA_IN:
            data += p.data
            if not p.flags & pt.DATA_IN_STATUS:
                continue
        if p.status != pt.SCSI_GOOD or len(data) < 12:
            return None
        units = data[7]
        n = struct.unpack(">I", data[8:12])[0] << (10 * units)
        return data[4], struct.unpack(">H", data[5:7])[0], n


def wait_started(c, list_id, pending):
    """Poll COPY STATUS until the copy is under way (2 MiB at least)."""
    for _ in range(2000):
        s = copy_status(c, list_id, pending)
        if s is not None and s[2] >= 2 * MIB:
            return s
        time.sleep(0.002)
    return None


def check_whole_chunks(src, old, segments, nbytes):
    """The destination holds the chunks of segment `segments` copied so
    far, then what the segment before it (or nothing) left."""
    if nbytes % CHUNK:
        return "%d bytes copied: not whole 1 MiB chunks" % nbytes
    if segments >= ABORT_SEGS:
        return "all %d segments ran: not stopped half-way" % segments
    seg_bytes = ABORT_SEG_BLOCKS * BS
    j = nbytes - segments * seg_bytes
    if not 0 <= j <= seg_bytes:
        return "%d bytes do not fit segment %d" % (nbytes, segments)

    def pattern(i):
        return src[(i % 2) * seg_bytes:(i % 2 + 1) * seg_bytes]
    prev = old if segments == 0 else pattern(segments - 1)
    want = pattern(segments)[:j] + prev[j:]
    got = read_img(DST_IMG, 0, seg_bytes)
    if sha(got) != sha(want):
        for k in range(0, seg_bytes, CHUNK):
            if got[k:k + CHUNK] != want[k:k + CHUNK]:
                return ("chunk at %d MiB is not what %d segments and %d "
                        "chunks leave" % (k // MIB, segments, j // CHUNK))
    note("stopped in segment %d after %d chunks of it" %
         (segments, j // CHUNK))
    return None


def case_abort_task():
    src = read_img(SRC_IMG, 0, 64 * MIB)
    old = read_img(DST_IMG, 0, ABORT_SEG_BLOCKS * BS)
    pending = {}
    itt, cmdsn = send_nowait(A, cdb_xcopy(len(abort_list(7))),
                             abort_list(7))
    if wait_started(A, 7, pending) is None:
        return "the copy never showed progress"
    titt = A.tmf_send(TMF_ABORT_TASK, lun=0, rtt=itt, refcmdsn=cmdsn)
    t0 = time.time()
    while True:
        p = A.recv()
        if p.itt == titt:
            break
        pending.setdefault(p.itt, []).append(p)
    if p.opcode != pt.OP_TMF_RSP or p.response != 0:
        return "ABORT TASK response %r" % (p.response,)
    if itt in pending:
        return "the aborted copy got a response: %r" % pending[itt]
    note("ABORT TASK answered in %.3f s" % (time.time() - t0))
    s = copy_status(A, 7, pending)
    if s is None:
        return "no COPY STATUS for the aborted copy"
    if s[0] != 0x02:
        return "COPY MANAGER STATUS %d, want 2 (completed with errors)" % \
            s[0]
    return check_whole_chunks(src, old, s[1], s[2])


def case_lu_reset():
    src = read_img(SRC_IMG, 0, 64 * MIB)
    old = read_img(DST_IMG, 0, ABORT_SEG_BLOCKS * BS)
    other = session()
    pending = {}
    itt, _ = send_nowait(A, cdb_xcopy(len(abort_list(8))), abort_list(8))
    if wait_started(A, 8, pending) is None:
        return "the copy never showed progress"
    r = other.tmf(TMF_LU_RESET, lun=0)
    if r.response != 0:
        return "LOGICAL UNIT RESET response %r" % r.response
    other.close()
    p = pending[itt][0] if itt in pending else A.recv()
    if p.itt != itt or p.opcode != pt.OP_SCSI_RSP:
        return "not the copy's response: %r" % p
    if p.status != STATUS_TASK_ABORTED:
        return "copy status 0x%02x, want TASK ABORTED" % p.status
    # The reset's unit attention first, then the record of the copy.
    pt.clear_unit_attention(A, lun=0)
    s = copy_status(A, 8, {})
    if s is None:
        return "no COPY STATUS for the aborted copy"
    return check_whole_chunks(src, old, s[1], s[2])


def case_reserved_midway():
    """Another nexus reserves the destination while the copy runs: the
    copy stops at the next chunk, as its next WRITE would be refused (a
    fenced initiator's copy must not write on)."""
    src = read_img(SRC_IMG, 0, 64 * MIB)
    old = read_img(DST_IMG, 0, ABORT_SEG_BLOCKS * BS)
    other = session()
    pending = {}
    itt, _ = send_nowait(A, cdb_xcopy(len(abort_list(10))), abort_list(10))
    try:
        if wait_started(A, 10, pending) is None:
            return "the copy never showed progress"
        st, _, _ = other.scsi(bytes([0x16, 0, 0, 0, 0, 0]), lun=1)
        if st != pt.SCSI_GOOD:
            return "RESERVE(6) of the destination: status %r" % st
        p = pending[itt][0] if itt in pending else A.recv()
        if p.itt != itt or p.opcode != pt.OP_SCSI_RSP:
            return "not the copy's response: %r" % p
        if p.status != STATUS_RESERVATION_CONFLICT:
            return "copy status 0x%02x, want RESERVATION CONFLICT" % \
                p.status
        s = copy_status(A, 10, {})
        if s is None or s[0] != 0x02:
            return "COPY STATUS %r, want completed with errors" % (s,)
        return check_whole_chunks(src, old, s[1], s[2])
    finally:
        other.scsi(bytes([0x17, 0, 0, 0, 0, 0]), lun=1)  # RELEASE
        other.close()


def case_dropped_session():
    c = session()
    pending = {}
    send_nowait(c, cdb_xcopy(len(abort_list(9))), abort_list(9))
    if wait_started(c, 9, pending) is None:
        return "the copy never showed progress"
    c.sock.close()
    # The copy ends with its session: the image stops changing (a copy
    # running on moves a 16 MiB segment in well under a second).
    seg_bytes = ABORT_SEG_BLOCKS * BS
    for _ in range(5):
        time.sleep(0.3)
        before = sha(read_img(DST_IMG, 0, seg_bytes))
        time.sleep(1.0)
        now = sha(read_img(DST_IMG, 0, seg_bytes))
        if now == before:
            break
    else:
        return "the destination still changes 6 s after its session went"
    last = (ABORT_SEGS - 1) % 2
    if now == sha(read_img(SRC_IMG, last * seg_bytes, seg_bytes)):
        return "the copy ran to its end after its session went"
    return None


def case_still_serving():
    st, d, _ = A.scsi(pt.cdb_read10(70000, 8), lun=1, read_len=8 * BS)
    if st != pt.SCSI_GOOD or d != read_img(DST_IMG, 70000 * BS, 8 * BS):
        return "READ after the aborts: status %r" % st
    return None


def case_hostile(data, key, asc, ascq, ptr=None, edtl=None, lun=0):
    def run():
        if edtl is None:
            st, _, p = xcopy(A, data, lun=lun)
        else:
            # The CDB claims more than the Data-Out holds.
            st, _, p = A.scsi(cdb_xcopy(edtl), lun=lun, write_data=data)
        return expect_sense(st, p, key, asc, ascq, ptr)
    return run


def case_other_tenant(src_is_b):
    def run():
        b_before = sha(read_img(B_IMG, 0, 1 * MIB))
        # B's own session copies within its LU: the NAA is right.
        ok = plist([cscd(NAA_B)], [seg(0, 0, 8, 0, 1024)])
        st, _, p = xcopy(B, ok)
        if st != pt.SCSI_GOOD:
            return "tenant B's own copy: status %r sense %s" % (
                st, p.sense().hex())
        b_before = sha(read_img(B_IMG, 0, 1 * MIB))
        cs = [cscd(NAA_B), cscd(NAA[1])]
        data = plist(cs, [seg(0, 1, 64, 0, 120000)] if src_is_b else
                     [seg(1, 0, 64, 120000, 0)])
        st, _, p = xcopy(A, data)
        why = expect_sense(st, p, SK_COPY_ABORTED, 0x08, 0x04, 16 + 8)
        if why:
            return why
        if sha(read_img(B_IMG, 0, 1 * MIB)) != b_before:
            return "tenant B's image changed"
        if b"TENANT-B-SECRET" in read_img(DST_IMG, 120000 * BS, 64 * BS):
            return "tenant B's bytes reached tenant A's LU"
        return None
    return run


def case_reservation():
    other = session()
    st, _, _ = other.scsi(bytes([0x16, 0, 0, 0, 0, 0]), lun=1)  # RESERVE
    if st != pt.SCSI_GOOD:
        return "RESERVE(6) on LUN 1: status %r" % st
    try:
        data = plist([cscd(NAA[0]), cscd(NAA[1])],
                     [seg(0, 1, 8, 0, 120000)])
        st, _, _ = xcopy(A, data)
        if st != STATUS_RESERVATION_CONFLICT:
            return "copy into a LU reserved by another nexus: %r" % st
        # The same LU as the source conflicts too (SPC-2: every command).
        data = plist([cscd(NAA[1]), cscd(NAA[0])],
                     [seg(0, 1, 8, 120000, 120000)])
        st, _, _ = xcopy(A, data)
        if st != STATUS_RESERVATION_CONFLICT:
            return "copy from a LU reserved by another nexus: %r" % st
    finally:
        other.scsi(bytes([0x17, 0, 0, 0, 0, 0]), lun=1)  # RELEASE
        other.close()
    return None


def long_copy_then(list_id, act):
    """Start the 1 GiB copy into LUN 1 from LUN 0; once it is under way,
    act(other) from a second session; the copy's response PDU."""
    other = session()
    pending = {}
    try:
        itt, _ = send_nowait(A, cdb_xcopy(len(abort_list(list_id))),
                             abort_list(list_id))
        if wait_started(A, list_id, pending) is None:
            return None, "the copy never showed progress"
        why = act(other)
        p = pending[itt][0] if itt in pending else A.recv()
        if why is None and (p.itt != itt or p.opcode != pt.OP_SCSI_RSP):
            why = "not the copy's response: %r" % p
        return p, why
    finally:
        other.close()


def case_fenced_mid_copy():
    """A reservation another nexus takes on the destination stops a copy
    issued through another LU (a cluster fencing this initiator off)."""
    def reserve(other):
        st, _, _ = other.scsi(bytes([0x16, 0, 0, 0, 0, 0]), lun=1)
        return None if st == pt.SCSI_GOOD else "RESERVE(6): %r" % st
    held = session()
    try:
        p, why = long_copy_then(9, lambda o: reserve(held))
        if why:
            return why
        if p.status != STATUS_RESERVATION_CONFLICT:
            return ("copy ended with status 0x%02x after another nexus "
                    "reserved its destination" % p.status)
        before = sha(read_img(DST_IMG, 0, ABORT_SEG_BLOCKS * BS))
        time.sleep(0.3)
        if sha(read_img(DST_IMG, 0, ABORT_SEG_BLOCKS * BS)) != before:
            return "the reserved LU is still being written"
        return None
    finally:
        held.scsi(bytes([0x17, 0, 0, 0, 0, 0]), lun=1)  # RELEASE
        held.close()


def case_sanitize_mid_copy():
    """A SANITIZE of the destination stops a copy issued through another
    LU, and nothing of the copy is left in the sanitized LU."""
    pattern = bytes([0xA5]) * BS
    params = bytes([1, 0]) + struct.pack(">H", BS) + pattern

    def sanitize(other):
        cdb = struct.pack(">BBBBBBBHB", 0x48, 0x81, 0, 0, 0, 0, 0,
                          len(params), 0)
        st, _, p = other.scsi(cdb, lun=1, write_data=params)
        return None if st == pt.SCSI_GOOD else \
            "SANITIZE OVERWRITE IMMED: %r %s" % (st, p.sense().hex())
    p, why = long_copy_then(10, sanitize)
    if why:
        return why
    s = sense_of(p) if p.status == pt.SCSI_CHECK_CONDITION else None
    if s is None or s[:3] != (0x2, 0x04, 0x1B):
        return ("copy ended with status 0x%02x sense %s, want NOT READY, "
                "SANITIZE IN PROGRESS" % (p.status, p.sense().hex()))
    for _ in range(3000):
        st, _, _ = A.scsi(bytes(6), lun=1)  # TEST UNIT READY
        if st == pt.SCSI_GOOD:
            break
        time.sleep(0.01)
    else:
        return "the sanitize never ended"
    if read_img(DST_IMG, 0, ABORT_SEG_BLOCKS * BS) != \
            pattern * ABORT_SEG_BLOCKS:
        return "bytes of the copy survived the sanitize of LUN 1"
    return None


result.run("copy between two LUs of the target (sha256)", case_between_lus)
result.run("copy within one LU, no overlap",
           lambda: case_within_lu(70000, 110000, 4096))
result.run("copy within one LU, destination above an overlapping source",
           lambda: case_within_lu(90000, 91000, 6144))
result.run("copy within one LU, destination below an overlapping source",
           lambda: case_within_lu(101000, 100000, 6144))
result.run("ABORT TASK stops a 1 GiB copy between whole chunks",
           case_abort_task)
result.run("another session's LU RESET ends a copy TASK ABORTED, whole "
           "chunks", case_lu_reset)
result.run("a reservation taken midway stops the copy at a chunk",
           case_reserved_midway)
result.run("a copy whose connection drops stops", case_dropped_session)
result.run("the daemon serves on after the aborts", case_still_serving)

two = [cscd(NAA[0]), cscd(NAA[1])]
one_seg = [seg(0, 1, 8, 0, 120000)]
result.run("parameter list longer than the Data-Out: refused",
           case_hostile(plist(two, one_seg), SK_ILLEGAL, 0x0E, 0x03,
                        edtl=4096))
result.run("descriptor lengths past the list: PARAMETER LIST LENGTH ERROR",
           case_hostile(plist(two, one_seg, cscd_len=0xFFE0,
                              seg_len=0xFFFFFF00), SK_ILLEGAL, 0x1A, 0))
result.run("33 CSCD descriptors: TOO MANY TARGET DESCRIPTORS",
           case_hostile(plist([cscd(NAA[0])] * 33, one_seg), SK_ILLEGAL,
                        0x26, 0x06, ptr=2))
result.run("65 segment descriptors: TOO MANY SEGMENT DESCRIPTORS",
           case_hostile(plist(two, one_seg * 65), SK_ILLEGAL, 0x26, 0x08,
                        ptr=8))
result.run("CSCD naming no LU: COPY ABORTED, UNREACHABLE COPY TARGET",
           case_hostile(plist([cscd(NAA[0]), cscd(bytes([0x3F]) +
                                                  os.urandom(7))],
                              one_seg), SK_COPY_ABORTED, 0x08, 0x04,
                        ptr=16 + 32 + 8))
result.run("segment naming a CSCD index not given: COPY ABORTED",
           case_hostile(plist(two, [seg(0, 2, 8, 0, 0)]), SK_COPY_ABORTED,
                        0x0D, 0x02, ptr=16 + 64 + 6))
result.run("segment past the destination's end: COPY ABORTED",
           case_hostile(plist(two, [seg(0, 1, 8, 0, 131070)]),
                        SK_COPY_ABORTED, 0, 0, ptr=16 + 64 + 20))
result.run("segment over MAXIMUM SEGMENT LENGTH: INVALID FIELD",
           case_hostile(plist([cscd(NAA[3], 4096)],
                              [seg(0, 0, 65535, 0, 0)]), SK_ILLEGAL, 0x26,
                        0x00, ptr=16 + 32 + 10, lun=3))
result.run("read-only destination LU: DATA PROTECT",
           case_hostile(plist([cscd(NAA[0]), cscd(NAA[2])],
                              [seg(0, 1, 8, 0, 0)]), SK_DATA_PROTECT, 0x27,
                        0))
result.run("tenant B's LU as the source: refused as unknown, nothing read",
           case_other_tenant(True))
result.run("tenant B's LU as the destination: refused, B untouched",
           case_other_tenant(False))
result.run("reservations of another nexus hold for source and destination",
           case_reservation)
result.run("the daemon serves on after the hostile lists",
           case_still_serving)
result.run("a reservation taken on the destination mid-copy stops it",
           case_fenced_mid_copy)
result.run("a SANITIZE of the destination mid-copy stops it, nothing "
           "of the copy survives", case_sanitize_mid_copy)
A.close()
B.close()
sys.exit(1 if result.failures else 0)
