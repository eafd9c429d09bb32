#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Raw-socket iSCSI initiator pieces for ietd's protocol tests.

Python 3 standard library only. It builds Basic Header Segments
(RFC 7143 section 11) byte by byte, computes CRC32C digests in software,
reads whole PDUs (BHS, AHS, header digest, data, padding, data digest)
and drives a login with AuthMethod=None or CHAP (one-way or mutual, any
CHAP_A). Tests use it to send what real initiators never send: bad
fields, odd lengths, broken digests.

    python3 tests/integration/protocol_tester.py --selftest
"""

import base64
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

BHS_LEN = 48
DIGEST_LEN = 4
PAD = 4                         # data segments are padded to 4 bytes
ISCSI_PORT = 3260

# Opcodes, RFC 7143 11.1.1 (initiator) and 11.1.2 (target).
OP_NOP_OUT = 0x00
OP_SCSI_CMD = 0x01
OP_TMF_REQ = 0x02
OP_LOGIN_REQ = 0x03
OP_TEXT_REQ = 0x04
OP_DATA_OUT = 0x05
OP_LOGOUT_REQ = 0x06
OP_SNACK = 0x10
OP_NOP_IN = 0x20
OP_SCSI_RSP = 0x21
OP_TMF_RSP = 0x22
OP_LOGIN_RSP = 0x23
OP_TEXT_RSP = 0x24
OP_DATA_IN = 0x25
OP_LOGOUT_RSP = 0x26
OP_R2T = 0x31
OP_ASYNC = 0x32
OP_REJECT = 0x3F

OPCODE_MASK = 0x3F
FLAG_IMMEDIATE = 0x40           # byte 0, the I bit
FLAG_FINAL = 0x80               # byte 1, the F bit (T bit in Login)
FLAG_CONTINUE = 0x40            # byte 1, the C bit (Login, Text)

# SCSI Command flags, RFC 7143 11.3.1.
SCSI_FLAG_READ = 0x40
SCSI_FLAG_WRITE = 0x20
ATTR_UNTAGGED = 0
ATTR_SIMPLE = 1
ATTR_ORDERED = 2
ATTR_HEAD_OF_QUEUE = 3
ATTR_ACA = 4

# Data-In flags, RFC 7143 11.7.
DATA_IN_ACK = 0x40
DATA_IN_OVERFLOW = 0x04
DATA_IN_UNDERFLOW = 0x02
DATA_IN_STATUS = 0x01

# Login stages, RFC 7143 11.12.3.
STAGE_SECURITY = 0
STAGE_OPERATIONAL = 1
STAGE_FULL_FEATURE = 3

# Logout reason codes, RFC 7143 11.14.1.
LOGOUT_CLOSE_SESSION = 0
LOGOUT_CLOSE_CONNECTION = 1
LOGOUT_REMOVE_FOR_RECOVERY = 2

RESERVED_TAG = 0xFFFFFFFF       # ITT/TTT "no task" value
ISCSI_VERSION = 0x00            # Version-max and Version-min

# -------------------------------------------------------------------
# CRC32C (Castagnoli), RFC 7143 13.1 and its Appendix B example
# -------------------------------------------------------------------

CRC32C_POLY = 0x82F63B78        # 0x1EDC6F41, bit-reflected


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (CRC32C_POLY if crc & 1 else 0)
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C of data; pass a previous result as crc to continue it."""
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def digest_bytes(data):
    """The 4 digest bytes as sent on the wire.

    The CRC goes out least significant byte first (RFC 7143's example:
    32 zero bytes give CRC 0x8a9136aa, sent as aa 36 91 8a).
    """
    return struct.pack("<I", crc32c(data))


def pad_len(n):
    return (PAD - n % PAD) % PAD


# -------------------------------------------------------------------
# Key=value text, RFC 7143 6.1
# -------------------------------------------------------------------

def encode_keys(pairs):
    """[(key, value), ...] or a dict -> b"key=value\\0..."."""
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    out = bytearray()
    for k, v in pairs:
        out += ("%s=%s" % (k, v)).encode("utf-8") + b"\0"
    return bytes(out)


def decode_keys(data):
    """b"key=value\\0..." -> [(key, value), ...]; padding NULs ignored."""
    pairs = []
    for item in bytes(data).split(b"\0"):
        if not item:
            continue
        k, sep, v = item.decode("utf-8", "replace").partition("=")
        if not sep:
            raise ValueError("text without '=': %r" % item)
        pairs.append((k, v))
    return pairs


# CHAP_A values (IANA PPP Authentication Algorithms) -> hashlib names.
CHAP_ALGS = {5: "md5", 6: "sha1", 7: "sha256", 8: "sha3_256"}


def decode_binary(s):
    """A binary value (RFC 7143 6.1): "0x" hex (odd length allowed) or
    "0b" base64."""
    if s[:2] in ("0x", "0X"):
        h = s[2:]
        return bytes.fromhex(("0" + h) if len(h) % 2 else h)
    if s[:2] in ("0b", "0B"):
        return base64.b64decode(s[2:], validate=True)
    raise ValueError("not a binary value: %r" % s)


def chap_response(alg, chap_id, secret, challenge):
    """RFC 1994 response: H(id || secret || challenge)."""
    if isinstance(secret, str):
        secret = secret.encode()
    h = hashlib.new(CHAP_ALGS[alg])
    h.update(bytes([chap_id & 0xFF]) + secret + challenge)
    return h.digest()


# -------------------------------------------------------------------
# Basic Header Segment builders, RFC 7143 11
# -------------------------------------------------------------------

def _bhs(opcode, immediate=False, flags=0, b2=0, b3=0, ahs_len=0,
         dsl=0, lun_or_bytes8=b"\0" * 8, itt=RESERVED_TAG,
         rest=b"\0" * 28):
    """Assemble the 48 bytes common to every PDU (RFC 7143 11.2.1)."""
    if dsl > 0xFFFFFF:
        raise ValueError("DataSegmentLength over 24 bits")
    if ahs_len % 4:
        raise ValueError("AHS length must be a multiple of 4")
    if len(lun_or_bytes8) != 8 or len(rest) != 28:
        raise ValueError("bad BHS part lengths")
    b0 = (opcode & OPCODE_MASK) | (FLAG_IMMEDIATE if immediate else 0)
    hdr = struct.pack(">BBBBB", b0, flags & 0xFF, b2 & 0xFF, b3 & 0xFF,
                      (ahs_len // 4) & 0xFF)
    hdr += dsl.to_bytes(3, "big") + lun_or_bytes8
    hdr += struct.pack(">I", itt & 0xFFFFFFFF) + rest
    assert len(hdr) == BHS_LEN
    return hdr


def encode_lun(lun):
    """LUN field (SAM-5 single-level): peripheral (0..255) or flat."""
    if lun < 256:
        return struct.pack(">BB6x", 0, lun)
    if lun < 16384:
        return struct.pack(">H6x", 0x4000 | lun)
    raise ValueError("LUN %d needs a multi-level address" % lun)


def decode_lun(b8):
    first = struct.unpack(">H", b8[:2])[0]
    if first >> 14 == 1:
        return first & 0x3FFF
    return first & 0xFF


def login_request(isid, tsih, itt, cid, cmdsn, exp_statsn, csg, nsg,
                  transit=True, cont=False, dsl=0,
                  version_max=ISCSI_VERSION, version_min=ISCSI_VERSION):
    """Login Request BHS (RFC 7143 11.12); isid is 6 bytes."""
    if len(isid) != 6:
        raise ValueError("ISID is 6 bytes")
    flags = ((FLAG_FINAL if transit else 0) |
             (FLAG_CONTINUE if cont else 0) |
             ((csg & 3) << 2) | (nsg & 3 if transit else 0))
    b8 = bytes(isid) + struct.pack(">H", tsih)
    rest = struct.pack(">HHII16x", cid, 0, cmdsn, exp_statsn)
    return _bhs(OP_LOGIN_REQ, True, flags, version_max, version_min,
                dsl=dsl, lun_or_bytes8=b8, itt=itt, rest=rest)


def text_request(itt, cmdsn, exp_statsn, final=True, cont=False,
                 ttt=RESERVED_TAG, dsl=0, lun=0, immediate=False):
    """Text Request BHS (RFC 7143 11.10)."""
    flags = (FLAG_FINAL if final else 0) | (FLAG_CONTINUE if cont else 0)
    rest = struct.pack(">III16x", ttt, cmdsn, exp_statsn)
    return _bhs(OP_TEXT_REQ, immediate, flags, dsl=dsl,
                lun_or_bytes8=encode_lun(lun), itt=itt, rest=rest)


def scsi_command(lun, itt, cdb, edtl, cmdsn, exp_statsn, read=False,
                 write=False, attr=ATTR_SIMPLE, final=True, dsl=0,
                 ahs_len=0, immediate=False):
    """SCSI Command BHS (RFC 7143 11.3); CDBs over 16 bytes need AHS."""
    if len(cdb) > 16:
        raise ValueError("CDB over 16 bytes needs an extended CDB AHS")
    flags = ((FLAG_FINAL if final else 0) |
             (SCSI_FLAG_READ if read else 0) |
             (SCSI_FLAG_WRITE if write else 0) | (attr & 7))
    rest = struct.pack(">III", edtl, cmdsn, exp_statsn)
    rest += bytes(cdb) + b"\0" * (16 - len(cdb))
    return _bhs(OP_SCSI_CMD, immediate, flags, ahs_len=ahs_len, dsl=dsl,
                lun_or_bytes8=encode_lun(lun), itt=itt, rest=rest)


def nop_out(itt, cmdsn, exp_statsn, ttt=RESERVED_TAG, lun=0, dsl=0,
            immediate=True):
    """NOP-Out BHS (RFC 7143 11.18). Answering a NOP-In: itt=RESERVED_TAG
    and the NOP-In's TTT; a ping: a real itt and ttt=RESERVED_TAG."""
    rest = struct.pack(">III16x", ttt, cmdsn, exp_statsn)
    return _bhs(OP_NOP_OUT, immediate, FLAG_FINAL, dsl=dsl,
                lun_or_bytes8=encode_lun(lun), itt=itt, rest=rest)


def logout_request(itt, cmdsn, exp_statsn, reason=LOGOUT_CLOSE_SESSION,
                   cid=0, immediate=False):
    """Logout Request BHS (RFC 7143 11.14)."""
    rest = struct.pack(">HHII16x", cid, 0, cmdsn, exp_statsn)
    return _bhs(OP_LOGOUT_REQ, immediate, FLAG_FINAL | (reason & 0x7F),
                itt=itt, rest=rest)


def data_out(lun, itt, ttt, exp_statsn, datasn, offset, dsl, final=True):
    """SCSI Data-Out BHS (RFC 7143 11.7)."""
    rest = struct.pack(">IIIIII4x", ttt, 0, exp_statsn, 0, datasn, offset)
    return _bhs(OP_DATA_OUT, False, FLAG_FINAL if final else 0, dsl=dsl,
                lun_or_bytes8=encode_lun(lun), itt=itt, rest=rest)


# -------------------------------------------------------------------
# Decoding
# -------------------------------------------------------------------

class Pdu:
    """A received (or decoded) PDU: common fields plus raw bytes."""

    def __init__(self, bhs, ahs=b"", data=b""):
        if len(bhs) != BHS_LEN:
            raise ValueError("BHS is %d bytes, not 48" % len(bhs))
        self.bhs = bytes(bhs)
        self.ahs = bytes(ahs)
        self.data = bytes(data)
        b = self.bhs
        self.immediate = bool(b[0] & FLAG_IMMEDIATE)
        self.opcode = b[0] & OPCODE_MASK
        self.flags = b[1]
        self.final = bool(b[1] & FLAG_FINAL)
        self.ahs_len = b[4] * 4
        self.dsl = int.from_bytes(b[5:8], "big")
        self.itt = self.u32(16)

    def u8(self, off):
        return self.bhs[off]

    def u16(self, off):
        return struct.unpack_from(">H", self.bhs, off)[0]

    def u32(self, off):
        return struct.unpack_from(">I", self.bhs, off)[0]

    # Fields most target PDUs share (RFC 7143 11.2.2.x).
    @property
    def ttt(self):
        return self.u32(20)

    @property
    def statsn(self):
        return self.u32(24)

    @property
    def exp_cmdsn(self):
        return self.u32(28)

    @property
    def max_cmdsn(self):
        return self.u32(32)

    @property
    def lun(self):
        return decode_lun(self.bhs[8:16])

    # Login Response, RFC 7143 11.13.
    @property
    def transit(self):
        return self.final

    @property
    def cont(self):
        return bool(self.flags & FLAG_CONTINUE)

    @property
    def csg(self):
        return (self.flags >> 2) & 3

    @property
    def nsg(self):
        return self.flags & 3

    @property
    def isid(self):
        return self.bhs[8:14]

    @property
    def tsih(self):
        return self.u16(14)

    @property
    def status_class(self):
        return self.bhs[36]

    @property
    def status_detail(self):
        return self.bhs[37]

    # SCSI Response (11.4) and Data-In (11.7).
    @property
    def response(self):
        return self.bhs[2]

    @property
    def status(self):
        return self.bhs[3]

    @property
    def datasn(self):
        return self.u32(36)

    @property
    def buffer_offset(self):
        return self.u32(40)

    @property
    def residual(self):
        return self.u32(44)

    # R2T, RFC 7143 11.8.
    @property
    def r2tsn(self):
        return self.u32(36)

    @property
    def desired_length(self):
        return self.u32(44)

    # Reject (11.17) and Logout Response (11.15).
    @property
    def reason(self):
        return self.bhs[2]

    def keys(self):
        return decode_keys(self.data)

    def sense(self):
        """Sense bytes of a SCSI Response (RFC 7143 11.4.7.2), or b""."""
        if self.opcode != OP_SCSI_RSP or len(self.data) < 2:
            return b""
        n = struct.unpack(">H", self.data[:2])[0]
        return self.data[2:2 + n]

    def __repr__(self):
        return "<Pdu op=0x%02x flags=0x%02x itt=0x%08x dsl=%d>" % (
            self.opcode, self.flags, self.itt, self.dsl)


def decode_bhs(bhs):
    return Pdu(bhs)


class DigestError(Exception):
    pass


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" %
                           (len(buf), n))
        buf += chunk
    return bytes(buf)


def ctl_debug(ctl_path, params):
    """One op=debug request on ietd's control socket (the ietadm wire
    format: a 4-byte big-endian length, then key=value lines); returns
    the body after the status block, or raises when the status is not
    0."""
    payload = ("version=1\nop=debug\nparams=%s\n" % params).encode()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(ctl_path)
    s.sendall(struct.pack(">I", len(payload)) + payload)
    hdr = recv_exact(s, 4)
    body = recv_exact(s, struct.unpack(">I", hdr)[0]).decode()
    s.close()
    head, _, text = body.partition("\n\n")
    if "status=0" not in head.split("\n"):
        raise RuntimeError("debug request failed: %r" % body)
    return text


def read_pdu(sock, header_digest=False, data_digest=False,
             max_data=16 * 1024 * 1024):
    """Read one PDU: BHS, AHS, header digest, data, padding, data digest.

    Digests are checked; a mismatch raises DigestError.
    """
    bhs = recv_exact(sock, BHS_LEN)
    ahs_len = bhs[4] * 4
    dsl = int.from_bytes(bhs[5:8], "big")
    if dsl > max_data:
        raise ValueError("DataSegmentLength %d over limit" % dsl)
    ahs = recv_exact(sock, ahs_len) if ahs_len else b""
    if header_digest:
        got = recv_exact(sock, DIGEST_LEN)
        if got != digest_bytes(bhs + ahs):
            raise DigestError("header digest mismatch")
    data = b""
    if dsl:
        padded = recv_exact(sock, dsl + pad_len(dsl))
        data = padded[:dsl]
        if data_digest:
            got = recv_exact(sock, DIGEST_LEN)
            if got != digest_bytes(padded):
                raise DigestError("data digest mismatch")
    return Pdu(bhs, ahs, data)


def frame_pdu(bhs, data=b"", ahs=b"", header_digest=False,
              data_digest=False):
    """The bytes of one PDU; the BHS's DataSegmentLength is not changed."""
    out = bytearray(bhs) + ahs
    if header_digest:
        out += digest_bytes(bytes(bhs) + ahs)
    if data:
        padded = bytes(data) + b"\0" * pad_len(len(data))
        out += padded
        if data_digest:
            out += digest_bytes(padded)
    return bytes(out)


# -------------------------------------------------------------------
# A connection with sequence numbers and a plain login
# -------------------------------------------------------------------

class LoginError(Exception):
    def __init__(self, pdu):
        self.pdu = pdu
        super().__init__("login failed: class 0x%02x detail 0x%02x" %
                         (pdu.status_class, pdu.status_detail))


class Connection:
    """One TCP connection to a target, with the counters a session needs."""

    def __init__(self, host="127.0.0.1", port=ISCSI_PORT, timeout=10.0,
                 isid=b"\x80\x12\x34\x56\x00\x01", cid=0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.isid = isid
        self.cid = cid
        self.tsih = 0
        self.itt = 1
        self.cmdsn = 1
        self.exp_statsn = 0
        self.max_cmdsn = 1
        self.header_digest = False
        self.data_digest = False
        self.params = {}            # negotiated results, from the target

    def close(self):
        self.sock.close()

    def next_itt(self):
        itt = self.itt
        self.itt = (self.itt + 1) & 0xFFFFFFFF
        if self.itt == RESERVED_TAG:
            self.itt = 1
        return itt

    def send(self, bhs, data=b"", ahs=b""):
        self.sock.sendall(frame_pdu(bhs, data, ahs, self.header_digest,
                                    self.data_digest))

    def recv(self):
        pdu = read_pdu(self.sock, self.header_digest, self.data_digest)
        # Track StatSN and the command window (RFC 7143 4.2.2.1).
        if pdu.opcode in (OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP,
                          OP_LOGIN_RSP, OP_TEXT_RSP, OP_LOGOUT_RSP,
                          OP_R2T, OP_ASYNC, OP_REJECT) or (
                pdu.opcode == OP_DATA_IN and
                pdu.flags & DATA_IN_STATUS):
            # R2T and an unsolicited NOP-In (ITT 0xffffffff) carry the
            # next StatSN without using it (RFC 7143 11.8.3, 11.19.4).
            if pdu.opcode != OP_R2T and not (
                    pdu.opcode == OP_NOP_IN and pdu.itt == RESERVED_TAG):
                self.exp_statsn = (pdu.statsn + 1) & 0xFFFFFFFF
        if pdu.opcode not in (OP_LOGIN_RSP,):
            self.max_cmdsn = pdu.max_cmdsn
        return pdu

    def login_pdu(self, itt, csg, nsg, keys, transit=True):
        """Send one Login Request and read the answer, following the
        target's C bit (RFC 7143 6.3); returns (keys, last response).
        Raises LoginError on a non-zero status class."""
        data = encode_keys(keys)
        got = []
        while True:
            self.send(login_request(self.isid, self.tsih, itt, self.cid,
                                    self.cmdsn, self.exp_statsn, csg,
                                    nsg, transit=transit, dsl=len(data)),
                      data)
            rsp = self.recv()
            if rsp.opcode != OP_LOGIN_RSP or rsp.status_class != 0:
                raise LoginError(rsp)
            # Login Requests are immediate: CmdSN stays (RFC 7143 11.12.6).
            self.exp_statsn = (rsp.statsn + 1) & 0xFFFFFFFF
            self.cmdsn = rsp.exp_cmdsn
            self.max_cmdsn = rsp.max_cmdsn
            got.extend(rsp.keys())
            if not rsp.cont:
                if rsp.transit:
                    self.tsih = rsp.tsih
                return got, rsp
            data = b""

    def _login_exchange(self, itt, csg, nsg, keys):
        """Send keys in stage csg until the target lets us go to nsg."""
        got = []
        while True:
            more, rsp = self.login_pdu(itt, csg, nsg, keys)
            got.extend(more)
            if rsp.transit:
                return got, rsp
            keys = []           # the target wants another round trip

    def _login_chap(self, itt, sec, chap, mutual, algs):
        """The security stage with CHAP (RFC 7143 12.1.3)."""
        keys, rsp = self.login_pdu(itt, STAGE_SECURITY, STAGE_OPERATIONAL,
                                   sec + [("AuthMethod", "CHAP")],
                                   transit=False)
        result = dict(keys)
        if result.get("AuthMethod") != "CHAP":
            raise ValueError("target answered AuthMethod=%s" %
                             result.get("AuthMethod"))
        keys, rsp = self.login_pdu(itt, STAGE_SECURITY, STAGE_OPERATIONAL,
                                   [("CHAP_A", algs)], transit=False)
        ch = dict(keys)
        alg = int(ch["CHAP_A"])
        resp = chap_response(alg, int(ch["CHAP_I"], 0), chap[1],
                             decode_binary(ch["CHAP_C"]))
        answer = [("CHAP_N", chap[0]), ("CHAP_R", "0x" + resp.hex())]
        if mutual is not None:
            my_id, my_chal = 0x42, os.urandom(16)
            answer += [("CHAP_I", str(my_id)),
                       ("CHAP_C", "0x" + my_chal.hex())]
        keys, rsp = self.login_pdu(itt, STAGE_SECURITY, STAGE_OPERATIONAL,
                                   answer, transit=True)
        got = dict(keys)
        if mutual is not None:
            want = chap_response(alg, my_id, mutual[1], my_chal)
            if (got.get("CHAP_N") != mutual[0] or
                    decode_binary(got.get("CHAP_R", "0x")) != want):
                raise ValueError("target failed mutual CHAP")
        result.update(got)
        if not rsp.transit:
            more, rsp = self._login_exchange(itt, STAGE_SECURITY,
                                             STAGE_OPERATIONAL, [])
            result.update(more)
        return result

    def login(self, initiator_name, target_name=None,
              session_type="Normal", header_digest=False,
              data_digest=False, immediate_data=True,
              initial_r2t=True, max_recv_dsl=262144, extra_keys=(),
              chap=None, mutual=None, chap_algs="5"):
        """Log in; returns the target's keys as a dict.

        chap=(user, secret) authenticates with CHAP (CHAP_A list
        chap_algs), mutual=(target user, target secret) also checks the
        target; otherwise AuthMethod=None. Digests switch on only after
        the final Login Response (RFC 7143 13.1).
        """
        itt = self.next_itt()
        sec = [("InitiatorName", initiator_name),
               ("SessionType", session_type)]
        if target_name is not None:
            sec.append(("TargetName", target_name))
        if chap is not None:
            result = self._login_chap(itt, sec, chap, mutual, chap_algs)
        else:
            keys, _ = self._login_exchange(itt, STAGE_SECURITY,
                                           STAGE_OPERATIONAL,
                                           sec + [("AuthMethod", "None")])
            result = dict(keys)
            if result.get("AuthMethod", "None") != "None":
                raise ValueError("target wants AuthMethod=%s" %
                                 result["AuthMethod"])
        op = [("HeaderDigest", "CRC32C,None" if header_digest else "None"),
              ("DataDigest", "CRC32C,None" if data_digest else "None"),
              ("MaxRecvDataSegmentLength", str(max_recv_dsl))]
        if session_type == "Normal":
            op += [("ImmediateData", "Yes" if immediate_data else "No"),
                   ("InitialR2T", "Yes" if initial_r2t else "No")]
        op += list(extra_keys)
        keys, _ = self._login_exchange(itt, STAGE_OPERATIONAL,
                                       STAGE_FULL_FEATURE, op)
        result.update(keys)
        self.params = result
        self.header_digest = result.get("HeaderDigest") == "CRC32C"
        self.data_digest = result.get("DataDigest") == "CRC32C"
        return result

    def text(self, pairs):
        """Text Request/Response exchange (e.g. SendTargets=All)."""
        itt = self.next_itt()
        data = encode_keys(pairs)
        ttt = RESERVED_TAG
        got = bytearray()
        while True:
            self.send(text_request(itt, self.cmdsn, self.exp_statsn,
                                   ttt=ttt, dsl=len(data)), data)
            self.cmdsn = (self.cmdsn + 1) & 0xFFFFFFFF
            rsp = self.recv()
            if rsp.opcode != OP_TEXT_RSP:
                return rsp
            got += rsp.data
            if rsp.final:
                return decode_keys(bytes(got))
            ttt = rsp.ttt
            data = b""

    def nop(self, payload=b""):
        """Ping with a NOP-Out; returns the NOP-In."""
        itt = self.next_itt()
        self.send(nop_out(itt, self.cmdsn, self.exp_statsn,
                          dsl=len(payload)), payload)
        return self.recv()

    def scsi(self, cdb, lun=0, read_len=0, write_data=b""):
        """Run one SCSI command; returns (status, data_in, response_pdu).

        Write data goes as immediate data when negotiated, the rest on
        R2T (InitialR2T=No unsolicited bursts are not sent).
        """
        itt = self.next_itt()
        edtl = read_len or len(write_data)
        imm = b""
        if write_data and self.params.get("ImmediateData") == "Yes":
            limit = min(int(self.params.get("FirstBurstLength", 65536)),
                        int(self.params.get("MaxRecvDataSegmentLength",
                                            8192)))
            imm = write_data[:limit]
        self.send(scsi_command(lun, itt, cdb, edtl, self.cmdsn,
                               self.exp_statsn, read=bool(read_len),
                               write=bool(write_data), dsl=len(imm)), imm)
        self.cmdsn = (self.cmdsn + 1) & 0xFFFFFFFF
        data_in = bytearray(read_len)
        mrdsl = int(self.params.get("MaxRecvDataSegmentLength", 8192))
        while True:
            pdu = self.recv()
            if pdu.opcode == OP_DATA_IN:
                off = pdu.buffer_offset
                data_in[off:off + len(pdu.data)] = pdu.data
                if pdu.flags & DATA_IN_STATUS:
                    return pdu.status, bytes(data_in), pdu
            elif pdu.opcode == OP_R2T:
                off, want = pdu.buffer_offset, pdu.desired_length
                datasn = 0
                while want > 0:
                    n = min(want, mrdsl)
                    chunk = write_data[off:off + n]
                    self.send(data_out(lun, itt, pdu.ttt, self.exp_statsn,
                                       datasn, off, len(chunk),
                                       final=(n == want)), chunk)
                    off += n
                    want -= n
                    datasn += 1
            elif pdu.opcode == OP_SCSI_RSP:
                return pdu.status, bytes(data_in), pdu
            elif pdu.opcode == OP_NOP_IN and pdu.ttt != RESERVED_TAG:
                self.send(nop_out(RESERVED_TAG, self.cmdsn,
                                  self.exp_statsn, ttt=pdu.ttt))
            else:
                return None, bytes(data_in), pdu

    def tmf_send(self, function, lun=0, rtt=RESERVED_TAG, refcmdsn=0):
        """Send an immediate Task Management Function Request (RFC 7143
        11.5); returns its ITT."""
        itt = self.next_itt()
        rest = struct.pack(">IIIII8x", rtt, self.cmdsn, self.exp_statsn,
                           refcmdsn, 0)
        self.send(_bhs(OP_TMF_REQ, True, FLAG_FINAL | function,
                       lun_or_bytes8=encode_lun(lun), itt=itt, rest=rest))
        return itt

    def tmf(self, function, lun=0, rtt=RESERVED_TAG, refcmdsn=0):
        """Send an immediate Task Management Function Request (RFC 7143
        11.5) and return the response PDU."""
        itt = self.tmf_send(function, lun, rtt, refcmdsn)
        p = self.recv()
        if p.opcode != OP_TMF_RSP or p.itt != itt:
            raise RuntimeError("not a TMF response: %r" % p)
        return p

    def logout(self, reason=LOGOUT_CLOSE_SESSION):
        itt = self.next_itt()
        self.send(logout_request(itt, self.cmdsn, self.exp_statsn,
                                 reason, self.cid))
        self.cmdsn = (self.cmdsn + 1) & 0xFFFFFFFF
        return self.recv()


# -------------------------------------------------------------------
# CDBs (SBC-4) and commands in flight
# -------------------------------------------------------------------

CDB_FUA = 0x08                  # WRITE(10) byte 1, SBC-4 5.40
SCSI_GOOD = 0x00
SCSI_CHECK_CONDITION = 0x02
SENSE_UNIT_ATTENTION = 0x06


def cdb_read10(lba, nblocks):
    """READ(10), SBC-4 5.16."""
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, nblocks, 0)


def cdb_write10(lba, nblocks, fua=False):
    """WRITE(10), SBC-4 5.40; fua sets the Force Unit Access bit."""
    return struct.pack(">BBIBHB", 0x2A, CDB_FUA if fua else 0, lba, 0,
                       nblocks, 0)


def cdb_sync_cache10(lba=0, nblocks=0):
    """SYNCHRONIZE CACHE(10), SBC-4 5.22; 0 blocks: to the end of the
    medium. IMMED is 0, so GOOD means the data is on the medium."""
    return struct.pack(">BBIBHB", 0x35, 0, lba, 0, nblocks, 0)


class Results:
    """The check lines of a tester, as the shell side's tap_import reads
    them ("ok - NAME", "not ok - NAME: WHY"), and how many failed. Call it
    as result(name, good, why); safe from several threads."""

    def __init__(self):
        self.failures = 0
        self._lock = threading.Lock()

    def __call__(self, name, good, why=""):
        with self._lock:
            if good:
                print("ok - %s" % name, flush=True)
            else:
                self.failures += 1
                print("not ok - %s: %s" % (name, why), flush=True)
        return good

    def run(self, name, fn):
        """One case: fn() returns None when it passed, else why not. An
        exception fails that case only, never the cases after it."""
        try:
            why = fn()
        except Exception as e:      # noqa: BLE001 -- reported as the case
            why = "%s: %s" % (type(e).__name__, e)
        return self(name, why is None, why)


def rss_kib(pid):
    """VmRSS of process pid in KiB, 0 once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """The peak VmRSS of pid, sampled every interval seconds until stop
    is set."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.stop.wait(self.interval)


def clear_unit_attention(conn, lun=0, tries=4):
    """TEST UNIT READY until GOOD: a new I_T nexus first gets the unit
    attention of the power on / reset (SAM-5 6.3.1, SPC-4 6.37)."""
    for _ in range(tries):
        st, _, p = conn.scsi(bytes(6), lun=lun)
        if st == SCSI_GOOD:
            return
        sense = p.sense()
        if st != SCSI_CHECK_CONDITION or len(sense) < 3 or \
                sense[2] & 0x0F != SENSE_UNIT_ATTENTION:
            raise RuntimeError("TEST UNIT READY status %r sense %s" %
                               (st, sense.hex()))
    raise RuntimeError("unit attention does not clear")


class Verifier(threading.Thread):
    """The honest session beside an attack: writes extents of 1 to
    max_blocks blocks (above 16 some data goes on R2T) at random within
    lbas blocks and reads each back, for as long as stop is not set.

    connect() returns a logged-in Connection (unit attention cleared).
    make_data(lba, n, seq) gives the bytes to write (random by default);
    on_written(lba, n, data) is told of each extent read back intact.
    rounds, max_gap (longest time between two rounds) and error (None
    or what went wrong, which ends the thread) are for the test to
    check; gap_now() counts the round under way too.
    """

    def __init__(self, connect, lbas, max_blocks=32, make_data=None,
                 on_written=None, block=512):
        super().__init__(daemon=True)
        self.connect = connect
        self.lbas = lbas
        self.max_blocks = max_blocks
        self.make_data = make_data or (
            lambda lba, n, seq: os.urandom(n * block))
        self.on_written = on_written
        self.stop = threading.Event()
        self.rounds = 0
        self.error = None
        self.last = time.monotonic()
        self.max_gap = 0.0
        self.rng = random.Random()

    def run(self):
        try:
            c = self.connect()
            self.last = time.monotonic()
            while not self.stop.is_set():
                n = self.rng.randint(1, self.max_blocks)
                lba = self.rng.randrange(0, self.lbas - n)
                data = self.make_data(lba, n, self.rounds)
                st, _, p = c.scsi(cdb_write10(lba, n), write_data=data)
                if st != SCSI_GOOD:
                    raise RuntimeError("WRITE at LBA %d: status %r %r" %
                                       (lba, st, p))
                st, got, p = c.scsi(cdb_read10(lba, n), read_len=len(data))
                if st != SCSI_GOOD or got != data:
                    raise RuntimeError("read back differs at LBA %d "
                                       "(status %r)" % (lba, st))
                if self.on_written is not None:
                    self.on_written(lba, n, data)
                now = time.monotonic()
                self.max_gap = max(self.max_gap, now - self.last)
                self.last = now
                self.rounds += 1
            p = c.logout()
            if p.opcode != OP_LOGOUT_RSP or p.response != 0:
                raise RuntimeError("logout answer %r" % p)
            c.close()
        except Exception as e:      # noqa: BLE001 -- the test reports it
            self.error = "%s: %s" % (type(e).__name__, e)

    def gap_now(self):
        return max(self.max_gap, time.monotonic() - self.last)


class Inflight:
    """Several SCSI commands in flight on one logged-in Connection.

    submit() sends a command without waiting (write data goes as
    immediate data as far as negotiated, the rest on R2T inside reap());
    reap() reads PDUs until one command ends and returns (itt, status,
    data_in, pdu). The command window (MaxCmdSN, RFC 7143 4.2.2.1) is
    the caller's to respect: see can_submit().
    """

    def __init__(self, conn, lun=0):
        self.c = conn
        self.lun = lun
        self.tasks = {}         # itt -> [write_data, data_in bytearray]

    def can_submit(self):
        c = self.c
        return ((c.max_cmdsn - c.cmdsn) & 0xFFFFFFFF) < 0x80000000

    def submit(self, cdb, read_len=0, write_data=b""):
        c = self.c
        itt = c.next_itt()
        edtl = read_len or len(write_data)
        imm = b""
        if write_data and c.params.get("ImmediateData") == "Yes":
            limit = min(int(c.params.get("FirstBurstLength", 65536)),
                        int(c.params.get("MaxRecvDataSegmentLength",
                                         8192)))
            imm = write_data[:limit]
        self.tasks[itt] = [write_data, bytearray(read_len)]
        c.send(scsi_command(self.lun, itt, cdb, edtl, c.cmdsn,
                            c.exp_statsn, read=bool(read_len),
                            write=bool(write_data), dsl=len(imm)), imm)
        c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
        return itt

    def reap(self):
        c = self.c
        mrdsl = int(c.params.get("MaxRecvDataSegmentLength", 8192))
        while True:
            pdu = c.recv()
            t = self.tasks.get(pdu.itt)
            if pdu.opcode == OP_DATA_IN and t is not None:
                off = pdu.buffer_offset
                t[1][off:off + len(pdu.data)] = pdu.data
                if pdu.flags & DATA_IN_STATUS:
                    del self.tasks[pdu.itt]
                    return pdu.itt, pdu.status, bytes(t[1]), pdu
            elif pdu.opcode == OP_R2T and t is not None:
                off, want, datasn = pdu.buffer_offset, \
                    pdu.desired_length, 0
                while want > 0:
                    n = min(want, mrdsl)
                    chunk = t[0][off:off + n]
                    c.send(data_out(self.lun, pdu.itt, pdu.ttt,
                                    c.exp_statsn, datasn, off, len(chunk),
                                    final=(n == want)), chunk)
                    off, want, datasn = off + n, want - n, datasn + 1
            elif pdu.opcode == OP_SCSI_RSP and t is not None:
                del self.tasks[pdu.itt]
                return pdu.itt, pdu.status, bytes(t[1]), pdu
            elif pdu.opcode == OP_NOP_IN:
                if pdu.ttt != RESERVED_TAG:
                    c.send(nop_out(RESERVED_TAG, c.cmdsn, c.exp_statsn,
                                   ttt=pdu.ttt))
            else:
                raise RuntimeError("unexpected PDU %r" % pdu)


# -------------------------------------------------------------------
# Self-test (no target needed)
# -------------------------------------------------------------------

def selftest():
    failures = 0

    def check(name, got, want):
        nonlocal failures
        ok = got == want
        if not ok:
            failures += 1
        print("%s %s%s" % ("ok  " if ok else "FAIL", name,
                           "" if ok else ": got %r want %r" % (got, want)))

    check("crc32c check value", crc32c(b"123456789"), 0xE3069283)
    # RFC 7143 Appendix B (the CRC examples, also in RFC 3720 B.4).
    check("crc32c 32 zero bytes", crc32c(b"\0" * 32), 0x8A9136AA)
    check("crc32c 32 0xff bytes", crc32c(b"\xff" * 32), 0x62A8AB43)
    check("crc32c 32 incrementing", crc32c(bytes(range(32))), 0x46DD794E)
    check("crc32c 32 decrementing", crc32c(bytes(range(31, -1, -1))),
          0x113FDB5C)
    check("crc32c continued", crc32c(b"56789", crc32c(b"1234")),
          0xE3069283)
    check("digest byte order", digest_bytes(b"\0" * 32),
          b"\xaa\x36\x91\x8a")

    # CHAP helpers: id 'a', secret "b", challenge "c" hash "abc".
    check("chap md5 abc", chap_response(5, 0x61, "b", b"c").hex(),
          "900150983cd24fb0d6963f7d28e17f72")
    check("chap sha3-256 abc", chap_response(8, 0x61, "b", b"c").hex(),
          "3a985da74fe225b2045c172d6bd390bd"
          "855f086e3e9d525b46bfe24511431532")
    check("binary odd hex", decode_binary("0X123"), b"\x01\x23")
    check("binary base64", decode_binary("0bAQID"), b"\x01\x02\x03")

    isid = b"\x80\x01\x02\x03\x04\x05"
    bhs = login_request(isid, 0x1234, 0xA1B2C3D4, 7, 100, 55,
                        STAGE_SECURITY, STAGE_OPERATIONAL, dsl=300)
    check("login BHS length", len(bhs), BHS_LEN)
    p = decode_bhs(bhs)
    check("login opcode", p.opcode, OP_LOGIN_REQ)
    check("login immediate", p.immediate, True)
    check("login flags (T, CSG 0, NSG 1)", p.flags, 0x81)
    check("login csg/nsg", (p.csg, p.nsg), (0, 1))
    check("login isid", p.isid, isid)
    check("login tsih", p.tsih, 0x1234)
    check("login itt", p.itt, 0xA1B2C3D4)
    check("login dsl", p.dsl, 300)
    check("login cid", p.u16(20), 7)
    check("login cmdsn", p.u32(24), 100)
    check("login expstatsn", p.u32(28), 55)
    check("login reserved", bhs[32:], b"\0" * 16)

    cdb = bytes([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0])
    bhs = scsi_command(5, 9, cdb, 512, 3, 4, read=True)
    p = decode_bhs(bhs)
    check("scsi opcode", (p.opcode, p.immediate), (OP_SCSI_CMD, False))
    check("scsi flags (F, R, SIMPLE)", p.flags, 0xC1)
    check("scsi lun", (p.lun, bhs[8:10]), (5, b"\x00\x05"))
    check("scsi edtl/cmdsn/expstatsn", (p.u32(20), p.u32(24), p.u32(28)),
          (512, 3, 4))
    check("scsi cdb", bhs[32:48], cdb + b"\0" * 6)
    check("flat lun", decode_lun(encode_lun(300)), 300)

    bhs = data_out(1, 9, 0x77, 4, 2, 8192, 4096, final=True)
    p = decode_bhs(bhs)
    check("data-out fields", (p.opcode, p.flags, p.ttt, p.u32(28),
                              p.datasn, p.buffer_offset, p.dsl),
          (OP_DATA_OUT, 0x80, 0x77, 4, 2, 8192, 4096))
    bhs = logout_request(11, 20, 21, LOGOUT_CLOSE_CONNECTION, cid=3)
    p = decode_bhs(bhs)
    check("logout fields", (p.opcode, p.flags, p.u16(20), p.u32(24),
                            p.u32(28)),
          (OP_LOGOUT_REQ, 0x81, 3, 20, 21))
    bhs = nop_out(RESERVED_TAG, 8, 9, ttt=0x55)
    p = decode_bhs(bhs)
    check("nop-out fields", (p.opcode, p.immediate, p.itt, p.ttt),
          (OP_NOP_OUT, True, RESERVED_TAG, 0x55))
    bhs = text_request(12, 30, 31, final=False, cont=True, dsl=17)
    p = decode_bhs(bhs)
    check("text fields", (p.opcode, p.flags, p.itt, p.ttt, p.dsl),
          (OP_TEXT_REQ, 0x40, 12, RESERVED_TAG, 17))

    # A framed PDU with both digests reads back through read_pdu.
    keys = [("SendTargets", "All"), ("X", "yz")]
    data = encode_keys(keys)
    raw = frame_pdu(text_request(1, 2, 3, dsl=len(data)), data,
                    header_digest=True, data_digest=True)
    check("frame length", len(raw),
          BHS_LEN + 4 + len(data) + pad_len(len(data)) + 4)
    a, b = socket.socketpair()
    try:
        a.sendall(raw)
        p = read_pdu(b, True, True)
        check("round trip bhs", p.bhs, raw[:BHS_LEN])
        check("round trip keys", p.keys(), keys)
        bad = bytearray(raw)
        bad[BHS_LEN + 4] ^= 1   # flip a data bit
        a.sendall(bytes(bad))
        try:
            read_pdu(b, True, True)
            check("data digest mismatch detected", False, True)
        except DigestError:
            check("data digest mismatch detected", True, True)
    finally:
        a.close()
        b.close()

    check("write10 fua cdb", cdb_write10(0x01020304, 8, fua=True).hex(),
          "2a08010203040000" + "0800")
    check("sync cache10 cdb", cdb_sync_cache10().hex(), "35" + "00" * 9)
    check("read10 cdb", cdb_read10(7, 2).hex(), "28000000000700000200")

    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        sys.exit(selftest())
    print(__doc__)
    sys.exit(2)
