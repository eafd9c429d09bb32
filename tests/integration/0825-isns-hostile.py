#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A hostile iSNS server (RFC 4171) for 0825-isns-hostile.sh.

Listens on 127.0.0.1:PORT. Each connection ietd makes gets the next
scenario: a malformed answer to its DevAttrReg or DevAttrQry, or a
well-behaved session (answers everything with status 0, then hangs up
after a quiet moment) in between, which resets ietd's back-off. During a
good session it also turns to ietd's ESI port: a valid ESI (the answer
must echo it), malformed ones, a half header left hanging and a crowd of
connections. Prints "ok - " / "not ok - " lines for what it checks
itself and "# " progress lines; writes DONE_FILE at the end.

usage: 0825-isns-hostile.py PORT DONE_FILE
"""

import select
import socket
import struct
import sys
import time

FN_REG, FN_QRY, FN_DEREG, FN_SCN_REG, FN_ESI = 1, 2, 4, 5, 13
F_SERVER, F_LAST, F_FIRST = 0x4000, 0x0800, 0x0400


def tlv(tag, val):
    pad = (-len(val)) % 4
    return struct.pack(">II", tag, len(val) + pad) + val + b"\0" * pad


def pdu(fn, xid, payload, seq=0, flags=F_SERVER | F_FIRST | F_LAST, ver=1):
    return struct.pack(">HHHHHH", ver, fn, len(payload), flags, xid, seq) + payload


def rsp(fn, xid, payload=b"", status=0):
    return pdu(fn | 0x8000, xid, struct.pack(">I", status) + payload)


def read_msg(s, timeout=5.0):
    """One whole PDU from ietd (its messages are single-PDU here)."""
    s.settimeout(timeout)
    hdr = b""
    while len(hdr) < 12:
        c = s.recv(12 - len(hdr))
        if not c:
            return None
        hdr += c
    ver, fn, ln, flags, xid, seq = struct.unpack(">HHHHHH", hdr)
    body = b""
    while len(body) < ln:
        c = s.recv(ln - len(body))
        if not c:
            return None
        body += c
    return fn, xid, body


def tlvs(body):
    out, off = [], 0
    while off + 8 <= len(body):
        tag, ln = struct.unpack(">II", body[off:off + 8])
        out.append((tag, body[off + 8:off + 8 + ln]))
        off += 8 + ln
    return out


GOOD = b"iqn.2026-11.org.ietd.test:good-ini"


def ok(name):
    print("ok - " + name, flush=True)


def not_ok(name, why):
    print("not ok - %s: %s" % (name, why), flush=True)


# Scenarios: each a function(conn, fn, xid, body) -> bytes to send for
# ietd's first request (DevAttrReg) or its first DevAttrQry.
def bad_version(fn, xid, body):
    return pdu(fn | 0x8000, xid, b"\0" * 4, ver=2)


def tlv_beyond(fn, xid, body):
    # status 0, then a name whose length runs far past the message
    return rsp(fn, xid, struct.pack(">II", 32, 0x7FFFFFF0) + b"iqn.x")


def tlv_unaligned(fn, xid, body):
    return rsp(fn, xid, struct.pack(">II", 32, 3) + b"abc\0")


def too_large(fn, xid, body):
    # PDUs of 65535 bytes that never say "last": past the 256 KiB cap
    out = b""
    for seq in range(6):
        flags = F_SERVER | (F_FIRST if seq == 0 else 0)
        out += pdu(fn | 0x8000, xid, b"\0" * 65532 + b"\0" * 3, seq=seq, flags=flags)
    return out


def out_of_sequence(fn, xid, body):
    return (pdu(fn | 0x8000, xid, b"\0" * 8, seq=0, flags=F_SERVER | F_FIRST)
            + pdu(fn | 0x8000, xid, b"\0" * 8, seq=7, flags=F_SERVER | F_LAST))


def no_status(fn, xid, body):
    return pdu(fn | 0x8000, xid, b"\0\0")


def refused(fn, xid, body):
    return rsp(fn, xid, status=8)  # source unauthorized


def hostile_names(fn, xid, body):
    # a query answer: a name without NUL, one with control bytes, one
    # of 300 bytes, a node type of the wrong size: none is believed,
    # and the good one after them is
    bad = (struct.pack(">II", 32, 12) + b"iqn.nonulXXX"
           + tlv(33, struct.pack(">I", 2))
           + tlv(32, b"iqn.ctl\x01\x02\0") + tlv(33, struct.pack(">I", 2))
           + tlv(32, b"i" * 300 + b"\0") + tlv(33, struct.pack(">I", 2))
           + tlv(32, b"iqn.shorttype\0") + tlv(33, b"\0\0")
           + tlv(32, GOOD + b"\0")
           + tlv(33, struct.pack(">I", 2)))
    return rsp(fn, xid, tlv(33, struct.pack(">I", 2)) + tlv(0, b"") + bad)


# (name, which request it answers, builder, expected ietd log text)
SCENARIOS = [
    ("unsupported version", FN_REG, bad_version, "unsupported iSNSP version"),
    ("TLV length beyond the message", FN_QRY, tlv_beyond,
     "attribute length beyond the message"),
    ("TLV length not a multiple of 4", FN_QRY, tlv_unaligned,
     "not a multiple of 4"),
    ("message over 256 KiB", FN_REG, too_large, "message too large"),
    ("PDU out of sequence", FN_REG, out_of_sequence, "PDU out of sequence"),
    ("response without a status", FN_REG, no_status,
     "response without a status"),
    ("registration refused", FN_REG, refused, "registration refused"),
    ("hostile names in a query answer", FN_QRY, hostile_names, None),
]


def esi_checks(esi_port):
    """Talk to ietd's ESI port as a server would, and worse."""
    addr = ("127.0.0.1", esi_port)
    # A valid ESI: the answer echoes its attributes with status 0.
    attrs = (tlv(4, struct.pack(">Q", int(time.time()))) + tlv(1, b"ent\0")
             + tlv(16, b"\0" * 10 + b"\xff\xff\x7f\0\0\1")
             + tlv(17, struct.pack(">I", 3260)))
    s = socket.create_connection(addr, 2)
    s.sendall(pdu(FN_ESI, 0x4242, attrs))
    m = read_msg(s, 3)
    if m and m[0] == 0x800D and m[1] == 0x4242 and m[2] == b"\0" * 4 + attrs:
        ok("ESI answered with status 0 and its attributes echoed")
    else:
        not_ok("ESI answered with status 0 and its attributes echoed", repr(m)[:200])
    # Malformed ESI: no answer, connection dropped.
    s.sendall(pdu(FN_ESI, 0x4243, struct.pack(">II", 1, 999) + b"x" * 8))
    s.settimeout(3)
    try:
        got = s.recv(100)
    except OSError:
        got = b"(timeout)"
    if got == b"":
        ok("malformed ESI: no answer, connection closed")
    else:
        not_ok("malformed ESI: no answer, connection closed", repr(got)[:100])
    s.close()
    # Something that is no ESI/SCN.
    s = socket.create_connection(addr, 2)
    s.sendall(pdu(FN_REG, 1, b""))
    s.settimeout(3)
    try:
        got = s.recv(100)
    except OSError:
        got = b"(timeout)"
    ok("other function on the ESI port: dropped") if got == b"" else \
        not_ok("other function on the ESI port: dropped", repr(got)[:100])
    s.close()
    # A crowd, one of them stalled in mid-header: ietd takes a few,
    # drops the oldest, and still answers a fresh ESI right after.
    crowd = [socket.create_connection(addr, 2) for _ in range(20)]
    crowd[0].sendall(b"\0\1\0")
    s = socket.create_connection(addr, 2)
    s.sendall(pdu(FN_ESI, 0x4244, attrs))
    m = read_msg(s, 3)
    ok("ESI answered with 20 other connections open") if m and m[1] == 0x4244 \
        else not_ok("ESI answered with 20 other connections open", repr(m)[:100])
    s.close()
    for c in crowd:
        c.close()


def serve(conn, scenario):
    """Answer ietd on one connection. scenario None: behave."""
    esi_port = None
    while True:
        try:
            m = read_msg(conn, 1.0 if scenario is None else 5.0)
        except socket.timeout:
            return esi_port  # quiet: hang up, ietd reconnects
        if m is None:
            return esi_port
        fn, xid, body = m
        if fn == FN_REG:
            for tag, val in tlvs(body):
                if tag == 20 and len(val) == 4:
                    esi_port = struct.unpack(">I", val)[0] & 0xFFFF
        if scenario is not None and fn == scenario[1]:
            conn.sendall(scenario[2](fn, xid, body))
            # ietd must hang up now (or, for a bad query answer,
            # after logging it); read until it does
            conn.settimeout(5)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            return esi_port
        if fn == FN_QRY:
            # a good server: one initiator shares a DD with the target
            conn.sendall(rsp(fn, xid, tlv(33, struct.pack(">I", 2)) + tlv(0, b"")
                             + tlv(32, GOOD + b"\0") + tlv(33, struct.pack(">I", 2))))
        else:
            conn.sendall(rsp(fn, xid))


def main():
    port, done = int(sys.argv[1]), sys.argv[2]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    plan = []
    for sc in SCENARIOS:
        plan += [None, sc]
    plan.append(None)
    esi_done = False
    deadline = time.time() + 90
    for step in plan:
        r, _, _ = select.select([ls], [], [], max(1, deadline - time.time()))
        if not r:
            not_ok("ietd kept reconnecting", "no connection for step %r" %
                   (step[0] if step else "good"))
            break
        conn, _ = ls.accept()
        print("# connection: %s" % (step[0] if step else "good session"), flush=True)
        esi_port = serve(conn, step)
        conn.close()
        if step is None and esi_port and not esi_done:
            esi_checks(esi_port)
            esi_done = True
    open(done, "w").write("done\n")
    # Stay up and answer properly until killed, so ietd's exit can
    # deregister.
    ls.settimeout(None)
    while True:
        conn, _ = ls.accept()
        serve(conn, None)
        conn.close()


main()
