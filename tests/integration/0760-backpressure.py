#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Peers that send and never read, and the bounds of what one PDU may ask.

Usage: 0760-backpressure.py PORT PID VERIFY-IQN DIGEST-IQN

While a well-behaved session writes and reads back verified data on
VERIFY-IQN (it must see no error and never stall over PROGRESS_GAP s):

  backpressure   two discovery sessions (no authentication) send for
                 FLOOD_SECONDS and never read: one NOP-Outs with 8 KiB of
                 data, one SendTargets=All Text Requests whose answers are
                 each ~8 KiB. ietd must stop reading them (their sends
                 block) and its VmRSS must stay within RSS_BOUND_MIB of
                 the baseline (ietd.8: at most 1 MiB queued per
                 connection). The NOP flooder then reads: every echo
                 must arrive, in order and intact. The Text flooder never
                 reads and must be dropped within STALL_BOUND s (ietd.8:
                 30 s without taking a byte).
  digest race    two sessions on DIGEST-IQN (DataDigest CRC32C), on two
                 event threads (ietd -T 2), send Data-Out PDUs that ietd
                 reads and throws away, each with its own byte pattern
                 and a correct data digest: no Reject for a data digest
                 error may come back.
  ext cdb        a 32-byte CDB in an Extended CDB AHS (RFC 7143 11.2.2.3)
                 reaches the SCSI layer; an AHS that overruns
                 TotalAHSLength, or an Extended CDB AHS for a CDB of 16
                 bytes, is a protocol error (Reject).
  bounds         a login of endless Login PDUs (C bit, or rounds that
                 never transit) fails with 0x0200 after at most
                 LOGIN_PDUS; a Text Request continued (C bit) over more
                 than TEXT_PDUS PDUs or 64 KiB gets a Reject (0x0a).

Prints "ok - NAME" / "not ok - NAME: WHY" and "# " notes.
"""

import os
import select
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
PID = int(sys.argv[2])
VERIFY_IQN, DIGEST_IQN = sys.argv[3:5]
HOST = "127.0.0.1"
INITIATOR = "iqn.2026-11.org.example:backpressure"
VERIFY_LBAS = 8192

# Bounds the test states (0760-backpressure.sh and ietd.8 repeat them).
FLOOD_SECONDS = float(os.environ.get("BACKPRESSURE_SECONDS", "4"))
RSS_BOUND_MIB = 32
SANITIZER = os.environ.get("BACKPRESSURE_SANITIZER") == "1"
STALL_BOUND = float(os.environ.get("BACKPRESSURE_STALL_BOUND", "35"))
PROGRESS_GAP = 5.0
NOP_DATA = 8192                 # a discovery session's MaxRecvDSL
RACE_SECONDS = 3.0
RACE_DSL = 262144               # DIGEST-IQN's MaxRecvDataSegmentLength
LOGIN_PDUS = 128                # ietd.8: Login PDUs one login may take
TEXT_PDUS = 128                 # ...and one continued Text Request
TEXT_IN_MAX = 65536

# RFC 7143 11.17.1 Reject reasons.
R_DATA_DIGEST = 0x02
R_PROTOCOL_ERROR = 0x04
R_OUT_OF_RESOURCES = 0x0a

result = pt.Results()


def note(msg):
    print("# %s" % msg, flush=True)



def rss_kib():
    return pt.rss_kib(PID)



def verifier_session():
    c = pt.Connection(HOST, PORT, timeout=10.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR + ":verifier", VERIFY_IQN)
    pt.clear_unit_attention(c)
    return c


def discovery(max_recv_dsl=262144):
    # The socket buffers keep their size: one shrunk on an open socket
    # clamps the TCP window, and reading later crawls on window probes.
    c = pt.Connection(HOST, PORT, timeout=10.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, session_type="Discovery", max_recv_dsl=max_recv_dsl)
    return c


# ------------------------------------------------------------------
# Back-pressure
# ------------------------------------------------------------------

def nop_payload(itt):
    return struct.pack(">I", itt) * (NOP_DATA // 4)


class Flooder(threading.Thread):
    """Sends PDUs made by make(i) as fast as the socket takes them, for
    FLOOD_SECONDS, never reading. Remembers how far it got."""

    def __init__(self, name, conn, make):
        super().__init__(daemon=True)
        self.name, self.c, self.make = name, conn, make
        self.sent_bytes = 0
        self.pdus = 0            # PDUs built (the last may be partly sent)
        self.rest = b""          # unsent bytes of the built PDUs
        self.last_progress = time.monotonic()
        self.ended = None
        self.error = None

    def run(self):
        s = self.c.sock
        s.setblocking(False)
        pending = memoryview(b"")
        end = time.monotonic() + FLOOD_SECONDS
        try:
            while time.monotonic() < end:
                if not pending:
                    batch = b"".join(self.make(self.pdus + 1 + i)
                                     for i in range(16))
                    self.pdus += 16
                    pending = memoryview(batch)
                try:
                    n = s.send(pending)
                except BlockingIOError:
                    select.select([], [s], [], 0.05)
                    continue
                pending = pending[n:]
                self.sent_bytes += n
                self.last_progress = time.monotonic()
        except OSError as e:
            self.error = "%s: %s" % (type(e).__name__, e)
        self.rest = bytes(pending)
        self.ended = time.monotonic()

    def blocked_for(self):
        return self.ended - self.last_progress


def make_nop(c):
    def make(i):
        return pt.frame_pdu(pt.nop_out(i, c.cmdsn, c.exp_statsn,
                                       dsl=NOP_DATA), nop_payload(i))
    return make


def make_text(c):
    data = pt.encode_keys([("SendTargets", "All")])
    first = c.cmdsn

    def make(i):
        # In CmdSN order, each one in the window as ExpCmdSN advances.
        return pt.frame_pdu(pt.text_request(i, (first + i - 1) & 0xFFFFFFFF,
                                            c.exp_statsn, dsl=len(data)),
                            data)
    return make


def nop_recovery(f):
    """The NOP flooder reads now: every echo comes back, in order."""
    c = f.c
    s = c.sock
    s.setblocking(True)
    s.settimeout(20.0)
    marker = f.pdus + 1
    state = {"next": 1, "error": None}

    def reader():
        try:
            while True:
                p = pt.read_pdu(s)
                if p.opcode != pt.OP_NOP_IN:
                    raise RuntimeError("got %r" % p)
                if p.itt == marker:
                    return
                if p.itt != state["next"] or p.data != nop_payload(p.itt):
                    raise RuntimeError("echo %d where %d was due (%d "
                                       "bytes)" % (p.itt, state["next"],
                                                   len(p.data)))
                state["next"] += 1
        except Exception as e:
            state["error"] = "%s: %s" % (type(e).__name__, e)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        s.sendall(f.rest)
        s.sendall(pt.nop_out(marker, c.cmdsn, c.exp_statsn))
    except OSError as e:
        state["error"] = "%s: %s" % (type(e).__name__, e)
    t.join(30.0)
    if t.is_alive():
        return "no marker echo after 30 s (%d of %d echoes)" % (
            state["next"] - 1, f.pdus)
    if state["error"] is not None:
        return state["error"]
    if state["next"] - 1 != f.pdus:
        return "%d echoes for %d NOP-Outs" % (state["next"] - 1, f.pdus)
    note("NOP flooder: all %d echoes came back once it read" % f.pdus)
    return None


def backpressure(sampler):
    base = rss_kib()
    sampler.peak = base
    nop_c = discovery(max_recv_dsl=NOP_DATA)
    text_c = discovery()
    # How long is one answer? (Read once, before the flood.)
    keys = text_c.text([("SendTargets", "All")])
    answer = len(pt.encode_keys(keys))
    note("SendTargets answer: %d bytes" % answer)
    nop = Flooder("NOP-Out with 8 KiB", nop_c, make_nop(nop_c))
    text = Flooder("SendTargets", text_c, make_text(text_c))
    nop.start()
    text.start()
    nop.join()
    text.join()
    grow = (sampler.peak - base) / 1024.0
    note("VmRSS %d KiB before, peak %d KiB during the flood (+%.1f MiB)" %
         (base, sampler.peak, grow))
    for f in (nop, text):
        note("%s flooder: %d PDUs, %.1f MiB sent, blocked for the last "
             "%.1f s" % (f.name, f.pdus, f.sent_bytes / 1048576.0,
                         f.blocked_for()))
    if SANITIZER:
        note("sanitizer build: VmRSS bound not checked")
    else:
        result("VmRSS grows by less than %d MiB under the floods" %
               RSS_BOUND_MIB, grow < RSS_BOUND_MIB, "+%.1f MiB" % grow)
    for f in (nop, text):
        # ietd stopped reading it: its sends have been blocking for a
        # while (a target without back-pressure reads all it is sent).
        result("ietd stops reading the %s flooder" % f.name,
               f.error is None and f.blocked_for() > 1.0,
               f.error or "its sends still went through %.1f s before "
               "the end (%.1f MiB sent)" % (f.blocked_for(),
                                            f.sent_bytes / 1048576.0))
    why = nop_recovery(nop)
    result("the NOP flooder gets every echo once it reads", why is None,
           why)
    nop_c.close()
    return text


def stall_dropped(f):
    """The Text flooder never read: ietd drops it (30 s with nothing
    sent). Stay still until just before the bound, then take what is
    queued fast and see the end of the stream."""
    s = f.c.sock
    wait = f.last_progress + STALL_BOUND - 3 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    s.setblocking(False)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], 0.1)
        if not r:
            continue
        try:
            if not s.recv(1 << 20):
                return True
        except BlockingIOError:
            continue
        except OSError:
            return True
    return False


# ------------------------------------------------------------------
# Data digest on discarded data, two event threads
# ------------------------------------------------------------------

def digest_race():
    conns = []
    for pattern in (0x11, 0xEE):
        c = pt.Connection(HOST, PORT, timeout=20.0,
                          isid=b"\x80" + os.urandom(5))
        c.login(INITIATOR + ":digest", DIGEST_IQN, data_digest=True,
                max_recv_dsl=RACE_DSL)
        if not c.data_digest:
            return "DataDigest CRC32C not negotiated"
        conns.append((c, pattern))
    stats = []

    def run(c, pattern):
        # Data-Out for a task that does not exist: read and thrown away.
        frame = pt.frame_pdu(pt.data_out(0, 0x7000 + pattern,
                                         pt.RESERVED_TAG, c.exp_statsn, 0, 0,
                                         RACE_DSL),
                             bytes([pattern]) * RACE_DSL, data_digest=True)
        n = 0
        end = time.monotonic() + RACE_SECONDS
        try:
            while time.monotonic() < end:
                c.sock.sendall(frame)
                n += 1
            c.sock.sendall(pt.frame_pdu(
                pt.nop_out(0x4242, c.cmdsn, c.exp_statsn),
                data_digest=True))
            rejects = {}
            while True:
                p = c.recv()
                if p.opcode == pt.OP_NOP_IN and p.itt == 0x4242:
                    break
                if p.opcode == pt.OP_REJECT:
                    rejects[p.reason] = rejects.get(p.reason, 0) + 1
                    continue
                raise RuntimeError("unexpected %r" % p)
            stats.append((n, rejects, None))
        except Exception as e:
            stats.append((n, {}, "%s: %s" % (type(e).__name__, e)))

    ts = [threading.Thread(target=run, args=cp, daemon=True) for cp in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60.0)
    for c, _ in conns:
        c.close()
    bad = []
    for n, rejects, err in stats:
        note("digest race: %d Data-Out PDUs of %d KiB thrown away, "
             "Rejects %r" % (n, RACE_DSL // 1024, rejects))
        if err is not None:
            bad.append(err)
        elif rejects:
            bad.append("%d of %d PDUs rejected (reasons %r)" %
                       (sum(rejects.values()), n, rejects))
    if len(stats) != 2:
        bad.append("a sender did not finish")
    return "; ".join(bad) if bad else None


# ------------------------------------------------------------------
# Extended CDB AHS
# ------------------------------------------------------------------

def ext_cdb_cases():
    c = pt.Connection(HOST, PORT, timeout=10.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR + ":ahs", VERIFY_IQN)
    pt.clear_unit_attention(c)
    # VARIABLE LENGTH CDB (SPC-4 4.2.3), 32 bytes: ADDITIONAL CDB LENGTH
    # 24, a service action nobody has (0xfff0).
    cdb = bytearray(32)
    cdb[0] = 0x7F
    cdb[7] = 24
    cdb[8:10] = b"\xff\xf0"
    cdb[16:32] = bytes(range(16, 32))

    def ext_ahs(ahs_length, extra):
        return struct.pack(">HBB", ahs_length, 1, 0) + extra

    def send(ahs, cdb16=bytes(cdb[:16])):
        itt = c.next_itt()
        pad = b"\0" * ((4 - len(ahs) % 4) % 4)
        bhs = pt.scsi_command(0, itt, cdb16, 0, c.cmdsn, c.exp_statsn,
                              ahs_len=len(ahs) + len(pad))
        c.send(bhs, ahs=ahs + pad)
        c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
        c.sock.settimeout(5.0)
        p = c.recv()
        if p.itt != itt and p.opcode != pt.OP_REJECT:
            raise RuntimeError("answer for another task: %r" % p)
        return p

    def expect_invalid_opcode(p):
        if p.opcode != pt.OP_SCSI_RSP:
            return "got %r, not a SCSI Response" % p
        sense = p.sense()
        if p.status != pt.SCSI_CHECK_CONDITION or len(sense) < 14 or \
                sense[2] & 0x0F != 0x05 or sense[12] != 0x20:
            return "status 0x%02x sense %s, not INVALID COMMAND " \
                   "OPERATION CODE" % (p.status, sense.hex())
        return None

    def expect_reject(p, reason):
        if p.opcode != pt.OP_REJECT or p.reason != reason:
            return "got %r (status %r), not a Reject 0x%02x" % (
                p, getattr(p, "status", None), reason)
        return None

    # RFC 7143 11.2.2.3: AHSLength = CDBLength - 15 = 17, the AHS takes
    # 3 + 17 = 20 bytes (no padding): TotalAHSLength 5.
    p = send(ext_ahs(17, bytes(cdb[16:32])))
    why = expect_invalid_opcode(p)
    result("ext cdb: a 32-byte CDB in an Extended CDB AHS is answered",
           why is None, why)
    # The same, then a Bidirectional Read Expected Data Transfer Length
    # AHS (RFC 7143 11.2.2.4, AHSLength 5, 8 bytes): they tile 28 bytes.
    bidi = struct.pack(">HBBI", 5, 2, 0, 0)
    p = send(ext_ahs(17, bytes(cdb[16:32])) + bidi)
    why = expect_invalid_opcode(p)
    result("ext cdb: followed by a second AHS, still answered",
           why is None, why)
    # AHSLength 21 in 20 bytes of AHS: overruns TotalAHSLength.
    p = send(ext_ahs(21, bytes(cdb[16:32])))
    why = expect_reject(p, R_PROTOCOL_ERROR)
    result("ext cdb: an AHS longer than TotalAHSLength is rejected",
           why is None, why)
    # "MUST NOT be used if the CDBLength is less than 17": AHSLength 1.
    p = send(ext_ahs(1, b"\0\0\0\0")[:4])
    why = expect_reject(p, R_PROTOCOL_ERROR)
    result("ext cdb: an Extended CDB AHS for a 16-byte CDB is rejected",
           why is None, why)
    # The session goes on.
    st, _, _ = c.scsi(bytes(6))
    result("ext cdb: the session still works", st == pt.SCSI_GOOD,
           "TEST UNIT READY status %r" % st)
    c.logout()
    c.close()


# ------------------------------------------------------------------
# Login and Text continuation bounds
# ------------------------------------------------------------------

def login_pdus(first_keys, cont):
    """Send Login PDUs until ietd refuses; returns (count, last response)
    or (count, None) when it took LOGIN_PDUS + 50 of them."""
    c = pt.Connection(HOST, PORT, timeout=10.0, isid=b"\x80" + os.urandom(5))
    try:
        data = pt.encode_keys(first_keys)
        for i in range(1, LOGIN_PDUS + 50):
            c.send(pt.login_request(c.isid, 0, 1, 0, 1, 0,
                                    pt.STAGE_SECURITY, pt.STAGE_OPERATIONAL,
                                    transit=False, cont=cont,
                                    dsl=len(data)), data)
            p = c.recv()
            if p.opcode != pt.OP_LOGIN_RSP:
                return i, p
            if p.status_class != 0:
                return i, p
            data = b""
        return LOGIN_PDUS + 50, None
    finally:
        c.close()


def bounds_cases():
    sec = [("InitiatorName", INITIATOR + ":rounds"),
           ("SessionType", "Discovery"), ("AuthMethod", "None")]
    for name, keys, cont in (
            ("Login PDUs continued with C for ever", [], True),
            ("login rounds that never transit", sec, False)):
        n, p = login_pdus(keys, cont)
        ok = p is not None and p.opcode == pt.OP_LOGIN_RSP and \
            (p.status_class, p.status_detail) == (2, 0) and \
            n <= LOGIN_PDUS + 1
        result("bounds: %s end with 0x0200" % name, ok,
               "%d PDUs, then %r" % (n, p) if p is not None else
               "%d PDUs answered" % n)

    # Text Request pieces (C bit) that never end.
    c = discovery()
    itt = c.next_itt()
    ttt = pt.RESERVED_TAG
    p = None
    n = 0
    for n in range(1, TEXT_PDUS + 50):
        c.send(pt.text_request(itt, c.cmdsn, c.exp_statsn, final=False,
                               cont=True, ttt=ttt))
        c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
        p = c.recv()
        if p.opcode != pt.OP_TEXT_RSP:
            break
        ttt = p.ttt
    result("bounds: a Text Request continued over %d PDUs is rejected" %
           TEXT_PDUS, p.opcode == pt.OP_REJECT and
           p.reason == R_OUT_OF_RESOURCES and n <= TEXT_PDUS + 1,
           "%d PDUs, then %r" % (n, p))
    # 64 KiB and more of text in 8 KiB pieces.
    itt = c.next_itt()
    ttt = pt.RESERVED_TAG
    piece = b"X-ietd-filler=" + b"a" * 8000 + b"\0"
    for n in range(1, TEXT_IN_MAX // len(piece) + 4):
        c.send(pt.text_request(itt, c.cmdsn, c.exp_statsn, final=False,
                               cont=True, ttt=ttt, dsl=len(piece)), piece)
        c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
        p = c.recv()
        if p.opcode != pt.OP_TEXT_RSP:
            break
        ttt = p.ttt
    result("bounds: a Text Request over 64 KiB is rejected",
           p.opcode == pt.OP_REJECT and p.reason == R_OUT_OF_RESOURCES,
           "%d PDUs, then %r" % (n, p))
    # And the session still answers.
    keys = c.text([("SendTargets", "All")])
    result("bounds: SendTargets works after the Rejects",
           isinstance(keys, list) and any(k == "TargetName" for k, _ in keys),
           "%r" % (keys,))
    c.close()


def main():
    sampler = pt.RssSampler(PID, 0.02)
    sampler.start()
    v = pt.Verifier(verifier_session, VERIFY_LBAS)
    v.start()
    time.sleep(1.0)
    if v.error is not None or v.rounds == 0:
        result("the verifier runs", False, v.error or "no round in 1 s")

    def run(name, fn, *args):
        try:
            return fn(*args)
        except Exception as e:
            result(name, False, "%s: %s" % (type(e).__name__, e))
            return None

    text = run("backpressure", backpressure, sampler)
    why = run("digest race", digest_race)
    result("digest race: no spurious data digest error on discarded data",
           why is None, why)
    run("ext cdb", ext_cdb_cases)
    run("bounds", bounds_cases)
    if text is not None:
        result("the Text flooder that never reads is dropped within %.0f s"
               % STALL_BOUND, stall_dropped(text), "still connected")
        text.c.close()
    v.stop.set()
    v.join(20.0)
    sampler.stop.set()
    result("the verifier saw no error", v.error is None and not v.is_alive(),
           v.error or "still running")
    result("the verifier never stalled over %.0f s (%d rounds, longest "
           "%.1f s)" % (PROGRESS_GAP, v.rounds, v.max_gap),
           v.max_gap < PROGRESS_GAP, "stalled %.1f s" % v.max_gap)
    return 0 if result.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
