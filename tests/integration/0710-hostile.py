#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Hostile peers against a running ietd while a good session verifies.

Usage: 0710-hostile.py PORT PID VERIFY-IQN VERIFY-IMAGE FUZZ-IQN NOP-IQN

A well-behaved session writes random blocks to VERIFY-IQN and reads each
back for the whole run; it must see no error and never stall longer than
PROGRESS_GAP seconds. Meanwhile, phase by phase, each bounded in time:

  garbage      random bytes and random headers before any login
  login        mutated Login Requests, first and mid-login (valid-ish
               text with abusive values, lying lengths, AHS, huge DSL)
  ffp          in full feature phase on FUZZ-IQN: every opcode, lying
               lengths, bad AHS, bogus ITT/TTT, Data-Out for unknown
               tasks, huge DataSegmentLength, negotiated limits abused,
               and random byte flips of valid PDUs
  churn        CHURN connect/disconnect cycles (half of them with RST)
  concurrent   CONCURRENT connections open at once, each in a login
               that ietd must answer

From the start, stalled peers sit on the portal: one that never sends,
one that stops mid-header, one that never finishes its login, one that
sends a byte a second (slowloris); ietd must drop each within
LOGIN_BOUND seconds (ietd.8: 15 s to log in). Peers in full feature
phase that stop mid-header or mid-data must be dropped within
STALL_BOUND seconds (ietd.8: 30 s of silence inside a PDU), or within
NOP_BOUND seconds on NOP-IQN (NOPInterval 2, NOPTimeout 2); so must a
session that asks for 12 MiB of reads and never reads its socket (ietd.8:
30 s without taking a byte). ietd's
VmRSS is sampled throughout: peak and final growth over the warmed-up
baseline must stay under RSS_BOUND_MIB.
Afterwards a fresh login works and the verifier's data reads back intact
through iSCSI and from the image file.

Prints "ok - NAME" / "not ok - NAME: WHY" and "# " notes.
"""

import concurrent.futures
import hashlib
import os
import random
import resource
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
PID = int(sys.argv[2])
VERIFY_IQN, VERIFY_IMAGE, FUZZ_IQN, NOP_IQN = sys.argv[3:7]
# The peers that stall for 30 s sit on a target of their own: the abuse
# phase sends TARGET COLD RESETs to FUZZ_IQN, which close every
# connection of that target (RFC 7143 11.5.1), stalled ones included.
STALL_IQN = sys.argv[7] if len(sys.argv) > 7 else FUZZ_IQN
HOST = "127.0.0.1"
INITIATOR = "iqn.2026-11.org.example:hostile"
GOOD_INITIATOR = "iqn.2026-11.org.example:verifier"
BLOCK = 512
VERIFY_LBAS = 8192              # the verifier's region (4 MiB)

# Bounds the test states (README and 0710-hostile.sh repeat them).
# ietd.8, Timeouts: 15 s to finish a login, 30 s of silence inside a PDU;
# its sweep runs once a second. The bounds add slack for a busy machine.
LOGIN_BOUND = float(os.environ.get("HOSTILE_LOGIN_BOUND", "20"))
STALL_BOUND = float(os.environ.get("HOSTILE_STALL_BOUND", "35"))
NOP_BOUND = 10.0                # NOPInterval 2 + NOPTimeout 2 + slack
RSS_BOUND_MIB = 64
PROGRESS_GAP = 5.0              # longest the verifier may stall
CHURN = int(os.environ.get("HOSTILE_CHURN", "5000"))
CONCURRENT = int(os.environ.get("HOSTILE_CONCURRENT", "1000"))
FFP_BUDGET = int(os.environ.get("HOSTILE_FFP_PDUS", "2400")) // 6
PHASE_SECONDS = float(os.environ.get("HOSTILE_PHASE_SECONDS", "40"))
CONCURRENT_WAIT = 15.0          # for the answers to CONCURRENT logins

result = pt.Results()
SEED = int(os.environ.get("HOSTILE_SEED", "0")) or \
    random.SystemRandom().randrange(1, 1 << 31)
rng = random.Random(SEED)



def note(msg):
    print("# %s" % msg, flush=True)


def alive():
    try:
        os.kill(PID, 0)
        return True
    except ProcessLookupError:
        return False



def rss_kib():
    return pt.rss_kib(PID)


def ietd_fds():
    try:
        return len(os.listdir("/proc/%d/fd" % PID))
    except OSError:
        return -1


def ietd_nofile():
    try:
        with open("/proc/%d/limits" % PID) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return line.split()[3]
    except OSError:
        pass
    return "?"



# ------------------------------------------------------------------
# The well-behaved session
# ------------------------------------------------------------------

def good_session(iqn=VERIFY_IQN, **kw):
    c = pt.Connection(HOST, PORT, timeout=10.0,
                      isid=b"\x80" + os.urandom(5))
    c.login(GOOD_INITIATOR, iqn, **kw)
    pt.clear_unit_attention(c)
    return c


# What the verifier wrote last, block by block: checked in the file too.
expect = {}                     # lba -> sha256 of the block


def remember(lba, n, data):
    for i in range(n):
        expect[lba + i] = hashlib.sha256(
            data[i * BLOCK:(i + 1) * BLOCK]).digest()


# ------------------------------------------------------------------
# Helpers for hostile connections
# ------------------------------------------------------------------

def connect(timeout=2.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def drain(s, wait):
    """Read until EOF or wait seconds of silence; True on EOF/reset."""
    s.settimeout(wait)
    try:
        while True:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()


def flip(raw, nflips):
    b = bytearray(raw)
    for _ in range(nflips):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def login_keys(iqn=FUZZ_IQN, session_type="Normal"):
    keys = [("InitiatorName", INITIATOR), ("SessionType", session_type),
            ("AuthMethod", "None")]
    if session_type == "Normal":
        keys.append(("TargetName", iqn))
    return keys


def first_login(keys=None, isid=None, transit=True, nsg=1, dsl=None):
    data = pt.encode_keys(keys if keys is not None else login_keys())
    isid = isid or b"\x80" + os.urandom(5)
    bhs = pt.login_request(isid, 0, 1, 0, 1, 0, pt.STAGE_SECURITY, nsg,
                           transit=transit,
                           dsl=len(data) if dsl is None else dsl)
    return bhs, data


def run_pool(name, cases, workers=16, seconds=PHASE_SECONDS):
    """Run callables in threads; exceptions are expected (the target
    closes on us) and only counted. Returns (done, unfinished)."""
    end = time.monotonic() + seconds
    done = 0
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        futs = [ex.submit(f) for f in cases]
        for f in futs:
            left = end - time.monotonic()
            try:
                f.result(timeout=max(left, 0.01))
                done += 1
            except concurrent.futures.TimeoutError:
                break
            except Exception:
                done += 1
        unfinished = sum(1 for f in futs if not f.done())
        for f in futs:
            f.cancel()
    note("%s: %d cases run, %d unfinished" % (name, done, unfinished))
    return done, unfinished


# ------------------------------------------------------------------
# Stalled peers (watched from the start)
# ------------------------------------------------------------------

class Stalled:
    """A socket we leave hanging; closed_at is when ietd dropped it."""

    def __init__(self, name, sock, bound):
        self.name, self.sock, self.bound = name, sock, bound
        self.since = time.monotonic()
        self.closed_at = None
        sock.setblocking(False)

    def poll(self):
        if self.closed_at is not None:
            return
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    break
        except BlockingIOError:
            return
        except OSError:
            pass
        self.closed_at = time.monotonic()


class NotReading(Stalled):
    """A session that asks for more than the socket holds and never reads.

    ietd must drop it (ietd.8: nothing sent for 30 s). Reading to see the
    close would unblock ietd, so poll() keeps still until just before the
    bound; then whatever is queued is drained and only an end of stream
    counts as closed.
    """

    def poll(self):
        if self.closed_at is not None or \
                time.monotonic() < self.since + self.bound - 3:
            return
        # What ietd queued before closing still comes first: take it fast.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            try:
                if not self.sock.recv(1 << 20):
                    break
            except BlockingIOError:
                continue
            except OSError:
                break
        else:
            return
        self.closed_at = time.monotonic()


def start_not_reading():
    c = pt.Connection(HOST, PORT, timeout=5.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, STALL_IQN)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # 24 reads of 512 KiB: 12 MiB, more than both socket buffers hold.
    for i in range(24):
        c.send(pt.scsi_command(0, c.next_itt(), pt.cdb_read10(i * 1024, 1024),
                               1024 * BLOCK, c.cmdsn, c.exp_statsn,
                               read=True))
        c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    return NotReading("never reads its responses (no NOPInterval)", c.sock,
                      STALL_BOUND)


class Slowloris(threading.Thread):
    """A Login Request sent one byte a second."""

    def __init__(self):
        super().__init__(daemon=True)
        bhs, data = first_login()
        self.raw = pt.frame_pdu(bhs, data)
        self.stop = threading.Event()
        self.since = time.monotonic()
        self.closed_at = None
        self.sent = 0
        self.name = "slowloris (a byte a second)"
        self.bound = LOGIN_BOUND

    def run(self):
        s = connect()
        try:
            for b in self.raw:
                if self.stop.is_set():
                    return
                s.send(bytes([b]))
                self.sent += 1
                # Wait a second, noticing a close at once.
                r, _, _ = select.select([s], [], [], 1.0)
                if r and not s.recv(4096):
                    break
            else:
                return
            self.closed_at = time.monotonic()
        except OSError:
            self.closed_at = time.monotonic()
        finally:
            s.close()

    def poll(self):
        pass


def start_stalled():
    peers = []
    s = connect()
    peers.append(Stalled("connected, never sends", s, LOGIN_BOUND))
    s = connect()
    bhs, data = first_login()
    s.sendall(bhs[:20])
    peers.append(Stalled("stops mid-header before login", s, LOGIN_BOUND))
    c = pt.Connection(HOST, PORT, timeout=5.0, isid=b"\x80" + os.urandom(5))
    bhs, data = first_login(isid=c.isid, transit=True)
    c.send(bhs, data)
    p = c.recv()
    if p.opcode != pt.OP_LOGIN_RSP or p.status_class != 0:
        raise RuntimeError("first login step refused: %r" % p)
    peers.append(Stalled("never finishes its login", c.sock, LOGIN_BOUND))
    c = pt.Connection(HOST, PORT, timeout=5.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, NOP_IQN)
    c.sock.sendall(pt.nop_out(c.next_itt(), c.cmdsn, c.exp_statsn)[:20])
    peers.append(Stalled("stops mid-header in full feature phase "
                         "(NOPInterval 2)", c.sock, NOP_BOUND))
    c = pt.Connection(HOST, PORT, timeout=5.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, STALL_IQN)
    c.sock.sendall(pt.nop_out(c.next_itt(), c.cmdsn, c.exp_statsn)[:20])
    peers.append(Stalled("stops mid-header in full feature phase "
                         "(no NOPInterval)", c.sock, STALL_BOUND))
    c = pt.Connection(HOST, PORT, timeout=5.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, STALL_IQN)
    c.sock.sendall(pt.frame_pdu(pt.nop_out(c.next_itt(), c.cmdsn,
                                           c.exp_statsn, dsl=4096),
                                bytes(4096))[:1000])
    peers.append(Stalled("stops mid-data in full feature phase "
                         "(no NOPInterval)", c.sock, STALL_BOUND))
    peers.append(start_not_reading())
    slow = Slowloris()
    slow.start()
    peers.append(slow)
    return peers


# ------------------------------------------------------------------
# Phase 1: garbage before login
# ------------------------------------------------------------------

def case_garbage():
    s = connect()
    try:
        kind = rng.randrange(4)
        if kind == 0:
            s.sendall(os.urandom(rng.randint(1, 4096)))
        elif kind == 1:     # a random header, any opcode, random lengths
            s.sendall(os.urandom(pt.BHS_LEN) + os.urandom(rng.randint(0,
                                                                      600)))
        elif kind == 2:     # a valid-looking opcode that is not Login
            op = rng.choice([0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x10,
                             0x1c, 0x3f])
            s.sendall(pt._bhs(op, rng.random() < 0.5, rng.randrange(256),
                              dsl=rng.randrange(0, 1 << 24)) +
                      os.urandom(64))
        else:               # HTTP, TLS hello, and friends
            s.sendall(rng.choice([b"GET / HTTP/1.0\r\n\r\n",
                                  b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc",
                                  b"\r\n" * 100, b"\0" * 48]))
        drain(s, 0.2)
    finally:
        if rng.random() < 0.5:
            rst_close(s)
        else:
            s.close()


# ------------------------------------------------------------------
# Phase 2: login, first PDU and mid-login
# ------------------------------------------------------------------

ABUSIVE_VALUES = [
    ("MaxRecvDataSegmentLength", "0"), ("MaxRecvDataSegmentLength", "1"),
    ("MaxRecvDataSegmentLength", "4294967296"),
    ("MaxRecvDataSegmentLength", "-1"), ("MaxBurstLength", "0"),
    ("FirstBurstLength", "99999999999999999999999"),
    ("MaxOutstandingR2T", "0"), ("MaxOutstandingR2T", "65536"),
    ("MaxConnections", "0"), ("ErrorRecoveryLevel", "9"),
    ("DefaultTime2Wait", "x"), ("HeaderDigest", "CRC32C," * 200 + "None"),
    ("DataDigest", "Bogus"), ("ImmediateData", "Maybe"),
    ("InitialR2T", ""), ("TargetName", "x" * 4000),
    ("InitiatorName", ""), ("SessionType", "Other"),
    ("AuthMethod", "CHAP,None,SRP,KRB5,SPKM1"), ("CHAP_A", "5"),
    ("CHAP_R", "0x" + "f" * 3000), ("X-com.example.foo", "bar"),
    ("k" * 64, "v"), ("", "empty key"), ("TaskReporting", "FastAbort"),
    ("OFMarker", "Yes"), ("IFMarkInt", "1~65535"),
    ("SendTargets", "All"), ("TargetAlias", "\xff\xfe"),
]


def case_login_first():
    s = connect()
    try:
        keys = login_keys(rng.choice([FUZZ_IQN, NOP_IQN, FUZZ_IQN + "x"]),
                          rng.choice(["Normal", "Discovery"]))
        for _ in range(rng.randint(0, 4)):
            keys.append(rng.choice(ABUSIVE_VALUES))
        rng.shuffle(keys)
        bhs, data = first_login(keys, transit=rng.random() < 0.7,
                                nsg=rng.choice([1, 3, 2]))
        kind = rng.randrange(6)
        if kind == 0:           # length lies: header says more
            raw = pt.frame_pdu(bhs, data)[:-rng.randint(1, len(data))]
        elif kind == 1:         # huge DataSegmentLength
            raw = pt.frame_pdu(bhs[:5] + b"\xff\xff\xff" + bhs[8:], data)
        elif kind == 2:         # an AHS that no login has
            ahs = os.urandom(rng.choice([4, 8, 64, 1020]))
            b = bytearray(bhs)
            b[4] = len(ahs) // 4
            raw = pt.frame_pdu(bytes(b), data, ahs=ahs)
        elif kind == 3:         # bytes of the header flipped
            raw = flip(bhs, rng.randint(1, 4)) + data + \
                b"\0" * pt.pad_len(len(data))
        elif kind == 4:         # text cut without a NUL, non-UTF-8
            raw = pt.frame_pdu(bhs, data[:-1] + b"\xc3")
        else:
            raw = pt.frame_pdu(bhs, data)
        s.sendall(raw)
        drain(s, 0.2)
    finally:
        s.close()


def case_login_mid():
    """A valid security step, then a mutated operational step."""
    c = pt.Connection(HOST, PORT, timeout=2.0)
    try:
        bhs, data = first_login(isid=c.isid)
        c.send(bhs, data)
        p = c.recv()
        if p.opcode != pt.OP_LOGIN_RSP or p.status_class != 0:
            return
        keys = [rng.choice(ABUSIVE_VALUES) for _ in range(rng.randint(1, 6))]
        data = pt.encode_keys(keys)
        bhs = pt.login_request(c.isid, p.tsih if rng.random() < 0.2 else 0,
                               1 if rng.random() < 0.8 else 2, 0,
                               p.exp_cmdsn, p.statsn + 1,
                               pt.STAGE_OPERATIONAL,
                               rng.choice([3, 3, 1, 0, 2]),
                               transit=rng.random() < 0.8,
                               cont=rng.random() < 0.2, dsl=len(data))
        if rng.random() < 0.4:
            bhs = flip(bhs, rng.randint(1, 3))
        raw = pt.frame_pdu(bhs, data)
        if rng.random() < 0.2:
            raw = raw[:rng.randrange(len(raw))]
        c.sock.sendall(raw)
        # Perhaps go on as if all were well: a SCSI command mid-login.
        if rng.random() < 0.3:
            c.sock.sendall(pt.scsi_command(0, 9, pt.cdb_read10(0, 1),
                                           BLOCK, 2, 2, read=True))
        drain(c.sock, 0.2)
    finally:
        c.close()


# ------------------------------------------------------------------
# Phase 3: full feature phase on the fuzz target
# ------------------------------------------------------------------

def ffp_session(**kw):
    c = pt.Connection(HOST, PORT, timeout=3.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, FUZZ_IQN, **kw)
    return c


def valid_pdus(c):
    """Valid PDUs for this session's next CmdSN, to mutate."""
    itt = c.next_itt()
    sn, es = c.cmdsn, c.exp_statsn
    wdata = os.urandom(BLOCK * rng.randint(1, 4))
    n = len(wdata) // BLOCK
    return [
        (pt.nop_out(itt, sn, es, dsl=8), b"pingpong"),
        (pt.scsi_command(0, itt, pt.cdb_read10(rng.randrange(4096), 2),
                         2 * BLOCK, sn, es, read=True), b""),
        (pt.scsi_command(0, itt, pt.cdb_write10(rng.randrange(4096), n),
                         len(wdata), sn, es, write=True, dsl=len(wdata)),
         wdata),
        (pt.data_out(0, itt, rng.randrange(1 << 32), es, 0, 0, BLOCK),
         bytes(BLOCK)),
        (pt.text_request(itt, sn, es, dsl=16), b"SendTargets=All\0"),
        (pt._bhs(pt.OP_TMF_REQ, True, 0x80 | rng.randint(1, 8), itt=itt,
                 rest=struct.pack(">IIII12x", rng.randrange(1 << 32), sn,
                                  es, 0)), b""),
        (pt.logout_request(itt, sn, es, rng.randrange(4),
                           rng.randrange(3)), b""),
    ]


def abuse_list(c):
    """Deliberate abuses: (description, raw bytes) for session c."""
    itt, sn, es = c.next_itt(), c.cmdsn, c.exp_statsn
    out = []
    op = rng.randrange(64)
    out.append(("opcode 0x%02x" % op,
                pt._bhs(op, rng.random() < 0.5, 0x80, itt=itt,
                        rest=struct.pack(">II20x", sn, es))))
    # Lengths that lie: the header promises more than follows, and the
    # next header lands in the middle of the "data".
    out.append(("DSL promises 1000, 10 follow",
                pt.nop_out(itt, sn, es, dsl=1000) + b"x" * 10 +
                pt.nop_out(c.next_itt(), sn, es)))
    out.append(("DSL 0xffffff",
                pt.frame_pdu(pt.nop_out(itt, sn, es, dsl=0xFFFFFF),
                             b"y" * 100)))
    ahs = bytearray(os.urandom(rng.choice([4, 16, 1020])))
    b = bytearray(pt.scsi_command(0, itt, pt.cdb_read10(0, 1), BLOCK, sn, es,
                                  read=True))
    b[4] = len(ahs) // 4
    out.append(("random AHS", pt.frame_pdu(bytes(b), b"", bytes(ahs))))
    # Extended CDB AHS (type 1) whose length disagrees with itself.
    ahs = struct.pack(">HBB", 0xFFF0, 1, 0) + bytes(12)
    b = bytearray(pt.scsi_command(0, itt, bytes(16), 0, sn, es))
    b[4] = len(ahs) // 4
    out.append(("extended CDB AHS claims 65520 bytes",
                pt.frame_pdu(bytes(b), b"", ahs)))
    out.append(("SCSI command with ITT 0xffffffff",
                pt.scsi_command(0, pt.RESERVED_TAG, pt.cdb_read10(0, 1),
                                BLOCK, sn, es, read=True)))
    out.append(("NOP-Out answering a ping never sent",
                pt.nop_out(pt.RESERVED_TAG, sn, es, ttt=0x1234)))
    unknown = 0xABCD0000 | rng.randrange(1 << 16)
    out.append(("Data-Out for an unknown task",
                pt.frame_pdu(pt.data_out(0, unknown, rng.randrange(1 << 32),
                                         es, 0, 0, BLOCK), bytes(BLOCK))))
    out.append(("unsolicited Data-Out, TTT 0xffffffff, no task",
                pt.frame_pdu(pt.data_out(0, itt, pt.RESERVED_TAG, es, 0,
                                         4096, BLOCK), bytes(BLOCK))))
    out.append(("WRITE EDTL 4 GiB - 1 for one block",
                pt.frame_pdu(pt.scsi_command(0, itt, pt.cdb_write10(0, 1),
                                             0xFFFFFFFF, sn, es, write=True,
                                             dsl=BLOCK), bytes(BLOCK))))
    out.append(("WRITE EDTL 64 MiB, CDB 1 block",
                pt.scsi_command(0, itt, pt.cdb_write10(0, 1), 64 << 20, sn,
                                es, write=True)))
    out.append(("READ EDTL 0 for 128 blocks",
                pt.scsi_command(0, itt, pt.cdb_read10(0, 128), 0, sn, es,
                                read=True)))
    out.append(("READ 65535 blocks past the end",
                pt.scsi_command(0, itt, pt.cdb_read10(0xFFFFFF00, 0xFFFF),
                                0xFFFF * BLOCK, sn, es, read=True)))
    out.append(("immediate data over FirstBurstLength",
                pt.frame_pdu(pt.scsi_command(0, itt, pt.cdb_write10(0, 16),
                                             8192, sn, es, write=True,
                                             dsl=8192), bytes(8192)) +
                pt.frame_pdu(pt.data_out(0, itt, pt.RESERVED_TAG, es, 0,
                                         8192, 8192), bytes(8192))))
    # ietd's TTTs count from 1: guessed ones hit real R2Ts at times.
    outs = [(t, rng.randrange(3), rng.choice([0, 4096, 28672, 32768,
                                               0xFFFFF000]))
            for t in range(1, 5)]
    out.append(("Data-Out outside the R2T window, TTT guessed",
                pt.scsi_command(0, itt, pt.cdb_write10(8, 64), 64 * BLOCK,
                                sn, es, write=True) +
                b"".join(pt.frame_pdu(pt.data_out(0, itt, t, es, d, off,
                                                  4096), bytes(4096))
                         for t, d, off in outs)))
    out.append(("CmdSN far ahead",
                pt.scsi_command(0, itt, pt.cdb_read10(0, 1), BLOCK,
                                (sn + 0x40000000) & 0xFFFFFFFF, es,
                                read=True)))
    out.append(("100 commands beyond MaxCmdSN",
                b"".join(pt.scsi_command(0, (itt + i) & 0x7FFFFFFF,
                                         pt.cdb_read10(0, 1), BLOCK,
                                         (sn + i) & 0xFFFFFFFF, es,
                                         read=True) for i in range(100))))
    out.append(("Text Request continued past 64 KiB",
                b"".join(pt.frame_pdu(pt.text_request(itt, sn, es,
                                                      final=False, cont=True,
                                                      dsl=8192),
                                      b"A" * 8192) for _ in range(10))))
    out.append(("SNACK", pt._bhs(pt.OP_SNACK, False, 0x80, itt=itt)))
    out.append(("Logout for another CID, then go on",
                pt.logout_request(itt, sn, es, pt.LOGOUT_CLOSE_CONNECTION,
                                  cid=7) + pt.nop_out(c.next_itt(), sn, es)))
    return out


def ffp_worker(budget, stats):
    """One hostile full-feature session after another until budget PDUs
    are sent."""
    sent = 0
    while sent < budget:
        try:
            kw = {}
            if rng.random() < 0.5:
                kw = {"immediate_data": False, "initial_r2t":
                      rng.random() < 0.5}
            c = ffp_session(**kw)
            stats["sessions"] += 1
        except Exception:
            stats["login_fail"] += 1
            time.sleep(0.05)
            continue
        try:
            c.sock.settimeout(0.3)
            while sent < budget:
                sent += 1
                r = rng.random()
                if r < 0.4:
                    name, raw = rng.choice(abuse_list(c))
                else:
                    bhs, data = rng.choice(valid_pdus(c))
                    if r < 0.8:
                        bhs = flip(bhs, rng.randint(1, 4))
                    raw = pt.frame_pdu(bhs, data)
                    if r > 0.95:
                        raw = raw[:rng.randrange(1, len(raw))]
                c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
                c.sock.sendall(raw)
                stats["pdus"] += 1
                if drain(c.sock, 0.02):
                    stats["closed"] += 1
                    break
        except OSError:
            stats["closed"] += 1
        finally:
            c.close()


# ------------------------------------------------------------------
# Phase 4 and 5: churn and many connections
# ------------------------------------------------------------------

def churn(n, workers=8):
    errors = [0]
    lock = threading.Lock()

    def work(count):
        for i in range(count):
            try:
                s = socket.socket()
                s.settimeout(5.0)
                s.connect((HOST, PORT))
                if i % 2:
                    rst_close(s)
                else:
                    s.close()
            except OSError:
                with lock:
                    errors[0] += 1
    per = n // workers
    threads = [threading.Thread(target=work, args=(per + (i < n % workers),))
               for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PHASE_SECONDS)
    return errors[0], sum(t.is_alive() for t in threads)


def concurrent_logins(n):
    """Open n connections, send a discovery login on each, expect every
    answer. Returns (connected, answered, ietd fds at the peak)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(max(want, soft), hard), hard))
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.settimeout(5.0)
            s.connect((HOST, PORT))
            socks.append(s)
        bhs, data = first_login(login_keys(session_type="Discovery"),
                                nsg=3)
        for s in socks:
            s.sendall(pt.frame_pdu(bhs, data))
            s.setblocking(False)
        pending = {s.fileno(): (s, bytearray()) for s in socks}
        answered = 0
        end = time.monotonic() + CONCURRENT_WAIT
        while pending and time.monotonic() < end:
            # select() stops at fd 1024; poll() does not.
            p = select.poll()
            for fd in pending:
                p.register(fd, select.POLLIN)
            for fd, _ in p.poll(500):
                s, buf = pending[fd]
                try:
                    d = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if not d:
                    del pending[fd]
                    continue
                buf += d
                if len(buf) >= pt.BHS_LEN:
                    pdu = pt.Pdu(bytes(buf[:pt.BHS_LEN]))
                    if pdu.opcode == pt.OP_LOGIN_RSP and \
                            pdu.status_class == 0:
                        answered += 1
                    del pending[fd]
        fds = ietd_fds()
        return len(socks), answered, fds
    finally:
        for s in socks:
            s.close()


# ------------------------------------------------------------------
# Main
# ------------------------------------------------------------------

def main_concurrent():
    """HOSTILE_MODE=concurrent: only the many connections, against an
    ietd started with a soft RLIMIT_NOFILE of 1024."""
    note("ietd pid %d, RLIMIT_NOFILE of ietd: %s" % (PID, ietd_nofile()))
    n, answered, fds = concurrent_logins(CONCURRENT)
    note("concurrent: %d connected, %d login answers, ietd had %d fds" %
         (n, answered, fds))
    result("started with a soft RLIMIT_NOFILE of 1024 and 40 LUNs, ietd "
           "answers %d concurrent logins" % CONCURRENT,
           answered == CONCURRENT,
           "%d of %d answered; ietd's limit is %s and it had %d fds open" %
           (answered, CONCURRENT, ietd_nofile(), fds))
    return 1 if result.failures else 0


def main():
    if os.environ.get("HOSTILE_MODE") == "concurrent":
        return main_concurrent()
    note("ietd pid %d, RLIMIT_NOFILE of ietd: %s, HOSTILE_SEED=%d" %
         (PID, ietd_nofile(), SEED))
    v = pt.Verifier(good_session, VERIFY_LBAS, on_written=remember)
    v.start()
    t0 = time.monotonic()
    while v.rounds < 20 and v.error is None and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    base = rss_kib()
    sampler = pt.RssSampler(PID, 0.05)
    sampler.start()
    note("VmRSS before the storm: %d KiB" % base)

    try:
        stalled = start_stalled()
    except Exception as e:
        stalled = []
        result("stalled peers set up", False, "%s: %s" % (type(e).__name__,
                                                          e))
    watch_stop = threading.Event()

    def watch():
        while not watch_stop.is_set():
            for p in stalled:
                p.poll()
            watch_stop.wait(0.1)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    phases = []

    def phase(name, fn):
        r0, t = v.rounds, time.monotonic()
        try:
            why = fn()
        except Exception as e:
            why = "%s: %s" % (type(e).__name__, e)
        dt = time.monotonic() - t
        phases.append((name, dt, v.rounds - r0))
        note("phase %s: %.1f s, verifier rounds %d, VmRSS %d KiB" %
             (name, dt, v.rounds - r0, rss_kib()))
        result("%s: ietd alive, phase within %.0f s" % (name, PHASE_SECONDS),
               alive() and why is None and dt < PHASE_SECONDS + 5,
               why or ("ietd died" if not alive() else "%.1f s" % dt))

    def p_garbage():
        done, left = run_pool("garbage", [case_garbage] * 400)
        return None if left == 0 else "%d cases unfinished" % left

    def p_login():
        cases = [case_login_first] * 300 + [case_login_mid] * 300
        rng.shuffle(cases)
        done, left = run_pool("login", cases)
        return None if left == 0 else "%d cases unfinished" % left

    def p_ffp():
        stats = {"sessions": 0, "pdus": 0, "closed": 0, "login_fail": 0}
        threads = [threading.Thread(target=ffp_worker,
                                    args=(FFP_BUDGET, stats), daemon=True)
                   for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(PHASE_SECONDS)
        note("ffp: %(pdus)d hostile PDUs in %(sessions)d sessions, "
             "%(closed)d closed by ietd, %(login_fail)d failed logins" %
             stats)
        if any(t.is_alive() for t in threads):
            return "workers still running"
        return None if stats["sessions"] > 0 else "no session"

    def p_churn():
        t = time.monotonic()
        errors, left = churn(CHURN)
        note("churn: %d connect/close cycles in %.1f s, %d errors" %
             (CHURN, time.monotonic() - t, errors))
        if left:
            return "%d workers still running" % left
        return None if errors == 0 else "%d connects failed" % errors

    def p_concurrent():
        n, answered, fds = concurrent_logins(CONCURRENT)
        note("concurrent: %d connected, %d login answers, ietd had %d fds" %
             (n, answered, fds))
        result("%d concurrent connections each get a login answer" %
               CONCURRENT, answered == CONCURRENT,
               "%d of %d answered (ietd RLIMIT_NOFILE %s)" %
               (answered, CONCURRENT, ietd_nofile()))
        return None

    phase("garbage before login", p_garbage)
    phase("mutated logins", p_login)
    phase("full feature phase abuse", p_ffp)
    phase("%d connect/disconnect cycles" % CHURN, p_churn)
    phase("%d concurrent connections" % CONCURRENT, p_concurrent)

    # The stalled peers: wait until every bound has passed.
    for p in stalled:
        while p.closed_at is None and \
                time.monotonic() < p.since + p.bound + 1:
            time.sleep(0.1)
    watch_stop.set()
    for p in stalled:
        took = None if p.closed_at is None else p.closed_at - p.since
        result("stalled peer dropped within %.0f s: %s" % (p.bound, p.name),
               took is not None and took <= p.bound,
               "still connected after %.0f s" % (time.monotonic() - p.since)
               if took is None else "dropped after %.1f s" % took)
        if isinstance(p, Slowloris):
            p.stop.set()
        else:
            p.sock.close()

    sampler.stop.set()
    sampler.join()
    time.sleep(0.5)
    final = rss_kib()
    peak = max(sampler.peak, final)
    note("VmRSS KiB: before %d, peak %d (+%d), after %d (+%d); bound "
         "+%d MiB" % (base, peak, peak - base, final, final - base,
                      RSS_BOUND_MIB))
    if os.environ.get("HOSTILE_SANITIZER"):
        note("VmRSS bound not checked: sanitizer build (ASan holds freed "
             "memory in its quarantine)")
    else:
        result("ietd VmRSS growth under %d MiB (peak +%d KiB, after +%d "
               "KiB)" % (RSS_BOUND_MIB, peak - base, final - base),
               base > 0 and peak - base < RSS_BOUND_MIB * 1024 and
               final - base < RSS_BOUND_MIB * 1024,
               "before %d KiB, peak %d KiB, after %d KiB" %
               (base, peak, final))

    # The verifier must have made progress all along.
    gap = v.gap_now()
    v.stop.set()
    v.join(30)
    stalled_phases = [n for n, dt, r in phases if dt > 1.0 and r == 0]
    result("well-behaved session: no error, %d verified rounds, longest "
           "stall %.1f s" % (v.rounds, gap),
           not v.is_alive() and v.error is None and gap < PROGRESS_GAP and
           not stalled_phases,
           v.error or ("still running" if v.is_alive() else
                       "stalled %.1f s; no progress during %s" %
                       (gap, stalled_phases)))

    # A fresh login, and the verifier's data intact.
    try:
        c = good_session()
        bad = 0
        lbas = sorted(expect)
        with open(VERIFY_IMAGE, "rb") as f:
            for i in range(0, VERIFY_LBAS, 128):
                st, data, _ = c.scsi(pt.cdb_read10(i, 128),
                                     read_len=128 * BLOCK)
                if st != pt.SCSI_GOOD:
                    raise RuntimeError("READ status %r" % st)
                f.seek(i * BLOCK)
                fdata = f.read(128 * BLOCK)
                if fdata != data:
                    bad += 1
                for lba in range(i, i + 128):
                    h = expect.get(lba)
                    blk = data[(lba - i) * BLOCK:(lba - i + 1) * BLOCK]
                    if h is not None and hashlib.sha256(blk).digest() != h:
                        bad += 1
        c.logout()
        c.close()
        result("fresh login after the storm; %d verified blocks intact "
               "(iSCSI and file)" % len(lbas), bad == 0,
               "%d differences" % bad)
    except Exception as e:
        result("fresh login after the storm", False,
               "%s: %s" % (type(e).__name__, e))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
