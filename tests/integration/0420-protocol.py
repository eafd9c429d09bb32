#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Malformed and out-of-sequence PDUs against a running ietd.

Usage: 0420-protocol.py PORT TARGET-IQN

Each case sends one bad thing and checks the exact answer: a Reject
with its reason code (RFC 7143 11.17.1), a Login Response status class
and detail (11.13.5), or a closed connection. Meanwhile a well-behaved
session in a thread writes and reads back verified data; it must see
no error. Prints "ok - NAME" / "not ok - NAME: WHY" lines; exits 1 when
any case failed.
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
TARGET = sys.argv[2]
INITIATOR = "iqn.2026-11.org.example:protocol"
BLOCK = 512
TARGET_MRDSL = 8192             # ietd.conf default MaxRecvDataSegmentLength

# Reject reasons, RFC 7143 11.17.1.
R_DATA_DIGEST = 0x02
R_PROTOCOL_ERROR = 0x04
R_CMD_NOT_SUPPORTED = 0x05

result = pt.Results()



run = result.run


def session(**kw):
    c = pt.Connection(port=PORT, timeout=10.0,
                      isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, TARGET, **kw)
    return c


def clear_ua(c):
    """TEST UNIT READY until GOOD: a new I_T nexus first gets the unit
    attention of the power on / reset (SAM-5 6.3.1, SPC-4 6.37)."""
    for _ in range(4):
        st, _, p = c.scsi(bytes(6))
        if st == 0:
            return
        sense = p.sense()
        if st != 2 or len(sense) < 3 or sense[2] & 0x0F != 6:
            raise RuntimeError("TEST UNIT READY status %r sense %s" %
                               (st, sense.hex()))
    raise RuntimeError("unit attention does not clear")


def closed(c, wait=5.0):
    """True when the target closes the connection without sending."""
    c.sock.settimeout(wait)
    try:
        data = c.sock.recv(1)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return data == b""


def expect_reject(c, sent_bhs, reason):
    p = c.recv()
    if p.opcode != pt.OP_REJECT:
        return "got opcode 0x%02x, not Reject" % p.opcode
    if p.reason != reason:
        return "Reject reason 0x%02x, want 0x%02x" % (p.reason, reason)
    if p.itt != pt.RESERVED_TAG:
        return "Reject ITT 0x%08x" % p.itt
    if p.data[:pt.BHS_LEN] != sent_bhs[:pt.BHS_LEN]:
        return "Reject does not carry the rejected header"
    return None


def still_alive(c):
    p = c.nop(b"ping")
    if p.opcode != pt.OP_NOP_IN or p.data != b"ping":
        return "session unusable afterwards: %r" % p
    return None


def login_status(c, keys, csg=pt.STAGE_SECURITY, nsg=pt.STAGE_OPERATIONAL,
                 vmax=pt.ISCSI_VERSION, vmin=pt.ISCSI_VERSION):
    data = pt.encode_keys(keys)
    c.send(pt.login_request(c.isid, 0, 1, 0, 1, 0, csg, nsg,
                            dsl=len(data), version_max=vmax,
                            version_min=vmin), data)
    return c.recv()


def status_case(keys, want, **kw):
    c = pt.Connection(port=PORT)
    try:
        p = login_status(c, keys, **kw)
        if p.opcode != pt.OP_LOGIN_RSP:
            return "opcode 0x%02x" % p.opcode
        got = (p.status_class, p.status_detail)
        if got != want:
            return "status %02x%02x, want %02x%02x" % (got + want)
        if not closed(c):
            return "connection left open after a failed login"
        return None
    finally:
        c.close()


BASE_KEYS = [("InitiatorName", INITIATOR), ("SessionType", "Normal"),
             ("TargetName", TARGET), ("AuthMethod", "None")]


# ------------------------------------------------------------------
# The cases
# ------------------------------------------------------------------

def case_first_not_login():
    c = pt.Connection(port=PORT)
    try:
        c.send(pt.nop_out(1, 1, 0, dsl=4), b"abcd")
        return None if closed(c) else "connection not closed"
    finally:
        c.close()


def case_version():
    # RFC 7143 11.13.5: 0x0205 unsupported version.
    return status_case(BASE_KEYS, (0x02, 0x05), vmax=0x05, vmin=0x05)


def case_no_target():
    keys = [(k, v if k != "TargetName" else TARGET + ".nosuch")
            for k, v in BASE_KEYS]
    return status_case(keys, (0x02, 0x03))


def case_key_twice():
    return status_case(BASE_KEYS + [("MaxRecvDataSegmentLength", "8192"),
                                    ("MaxRecvDataSegmentLength", "4096")],
                       (0x02, 0x07))


def case_oversized_dsl():
    c = session()
    try:
        n = TARGET_MRDSL + 4
        # RFC 7143 13.12: over MaxRecvDataSegmentLength is a protocol
        # error; the target may not trust the stream any more.
        c.send(pt.nop_out(c.next_itt(), c.cmdsn, c.exp_statsn, dsl=n),
               b"\0" * n)
        return None if closed(c) else "connection not closed"
    finally:
        c.close()


def case_bad_opcode():
    c = session()
    try:
        # 0x1e: a vendor-specific initiator opcode ietd does not know.
        bhs = pt._bhs(0x1e, False, pt.FLAG_FINAL, dsl=6, itt=c.next_itt(),
                      rest=struct.pack(">II20x", c.cmdsn, c.exp_statsn))
        c.send(bhs, b"vendor")
        return expect_reject(c, bhs, R_CMD_NOT_SUPPORTED) or still_alive(c)
    finally:
        c.close()


def case_snack():
    c = session()
    try:
        bhs = pt._bhs(pt.OP_SNACK, False, pt.FLAG_FINAL, itt=c.next_itt())
        c.send(bhs)
        return expect_reject(c, bhs, R_CMD_NOT_SUPPORTED) or still_alive(c)
    finally:
        c.close()


def case_header_digest():
    c = session(header_digest=True)
    try:
        if not c.header_digest:
            return "HeaderDigest=CRC32C not negotiated"
        raw = bytearray(pt.frame_pdu(
            pt.nop_out(c.next_itt(), c.cmdsn, c.exp_statsn), b"",
            header_digest=True))
        raw[pt.BHS_LEN] ^= 0xff
        c.sock.sendall(bytes(raw))
        return None if closed(c) else "connection not closed"
    finally:
        c.close()


def case_data_digest():
    c = session(header_digest=True, data_digest=True)
    try:
        if not c.data_digest:
            return "DataDigest=CRC32C not negotiated"
        bhs = pt.nop_out(c.next_itt(), c.cmdsn, c.exp_statsn, dsl=8)
        raw = bytearray(pt.frame_pdu(bhs, b"12345678", header_digest=True,
                                     data_digest=True))
        raw[-1] ^= 0x01
        c.sock.sendall(bytes(raw))
        return expect_reject(c, bhs, R_DATA_DIGEST) or still_alive(c)
    finally:
        c.close()


def case_login_in_ffp():
    c = session()
    try:
        data = pt.encode_keys(BASE_KEYS)
        bhs = pt.login_request(c.isid, c.tsih, c.next_itt(), 0, c.cmdsn,
                               c.exp_statsn, pt.STAGE_SECURITY,
                               pt.STAGE_OPERATIONAL, dsl=len(data))
        c.send(bhs, data)
        return expect_reject(c, bhs, R_PROTOCOL_ERROR) or still_alive(c)
    finally:
        c.close()


def write10(lba, nblocks):
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, nblocks, 0)


def read10(lba, nblocks):
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, nblocks, 0)


def case_data_out_bad_ttt():
    c = session(immediate_data=False, initial_r2t=True)
    try:
        clear_ua(c)
        lba, data = 100, os.urandom(4 * BLOCK)
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, write10(lba, 4), len(data), c.cmdsn,
                               c.exp_statsn, write=True))
        c.cmdsn += 1
        r2t = c.recv()
        if r2t.opcode != pt.OP_R2T:
            return "no R2T but opcode 0x%02x" % r2t.opcode
        bad = pt.data_out(0, itt, r2t.ttt ^ 0x5A5A5A5A, c.exp_statsn, 0, 0,
                          len(data))
        c.send(bad, data)
        why = expect_reject(c, bad, R_PROTOCOL_ERROR)
        if why:
            return why
        # The command still completes with the right TTT.
        c.send(pt.data_out(0, itt, r2t.ttt, c.exp_statsn, 0, 0, len(data)),
               data)
        rsp = c.recv()
        if rsp.opcode != pt.OP_SCSI_RSP or rsp.status != 0:
            return "write after the Reject: %r status %r" % (rsp, rsp.status)
        st, got, _ = c.scsi(read10(lba, 4), read_len=len(data))
        if st != 0 or got != data:
            return "data read back differs"
        return None
    finally:
        c.close()


def case_cut_header():
    c = pt.Connection(port=PORT)
    c.sock.sendall(pt.login_request(c.isid, 0, 1, 0, 1, 0, 0, 1)[:20])
    c.close()
    time.sleep(0.2)
    c = session()
    try:
        return still_alive(c)
    finally:
        c.close()


def case_sendtargets_normal():
    c = session()
    try:
        got = c.text([("SendTargets", "All")])
        if not isinstance(got, list):
            return "answer %r" % got
        names = [v for k, v in got if k == "TargetName"]
        if TARGET not in names:
            return "target not listed: %r" % got
        addrs = [v for k, v in got if k == "TargetAddress"]
        if "127.0.0.1:%d,1" % PORT not in addrs:
            return "no TargetAddress 127.0.0.1:%d,1 in %r" % (PORT, addrs)
        # RFC 7143 Appendix C: All is for discovery sessions; here it
        # names this session's target only, and another target's name
        # gets nothing (that login passed no discovery authentication).
        if names != [TARGET]:
            return "other targets named in a normal session: %r" % names
        other = TARGET.rsplit(":", 1)[0] + ":extra-target-with-a-long-name-01"
        got = c.text([("SendTargets", other)])
        if not isinstance(got, list) or got:
            return "SendTargets=<another target> answered %r" % got
        return None
    finally:
        c.close()


def case_sendtargets_long():
    c = pt.Connection(port=PORT)
    try:
        c.login(INITIATOR, session_type="Discovery", max_recv_dsl=512)
        itt, ttt, pdus, got = c.next_itt(), pt.RESERVED_TAG, 0, b""
        data = pt.encode_keys([("SendTargets", "All")])
        while True:
            c.send(pt.text_request(itt, c.cmdsn, c.exp_statsn, ttt=ttt,
                                   dsl=len(data)), data)
            c.cmdsn += 1
            p = c.recv()
            if p.opcode != pt.OP_TEXT_RSP:
                return "answer %r" % p
            if p.dsl > 512:
                return "%d bytes over our MaxRecvDataSegmentLength" % p.dsl
            pdus += 1
            got += p.data
            if p.final:
                break
            if p.ttt == pt.RESERVED_TAG:
                return "F 0 without a TTT"
            ttt, data = p.ttt, b""
        names = [v for k, v in pt.decode_keys(got) if k == "TargetName"]
        if pdus < 2:
            return "answer of %d bytes in one PDU" % len(got)
        if len(names) != 13 or TARGET not in names:
            return "%d names: %r" % (len(names), names)
        return None
    finally:
        c.close()


def case_nop_ping():
    c = session()
    try:
        payload = os.urandom(1000)
        itt = c.itt
        p = c.nop(payload)
        if p.opcode != pt.OP_NOP_IN:
            return "opcode 0x%02x" % p.opcode
        if p.itt != itt or p.ttt != pt.RESERVED_TAG:
            return "ITT 0x%08x TTT 0x%08x" % (p.itt, p.ttt)
        if p.data != payload:
            return "ping data differs"
        return None
    finally:
        c.close()


def case_text_continued():
    c = session()
    try:
        # "SendTargets=All" split over two Text Requests (RFC 7143 11.10.2).
        itt = c.next_itt()
        part1, part2 = b"SendTar", b"gets=All\0"
        c.send(pt.text_request(itt, c.cmdsn, c.exp_statsn, final=False,
                               cont=True, dsl=len(part1)), part1)
        c.cmdsn += 1
        p = c.recv()
        # 11.11.1: F 0 answers F 0; 11.11.4: a TTT asks for the rest.
        if p.opcode != pt.OP_TEXT_RSP or p.itt != itt:
            return "first answer %r" % p
        if p.final or p.dsl != 0 or p.ttt == pt.RESERVED_TAG:
            return "first answer F=%d dsl=%d TTT=0x%08x, want F=0 dsl=0 " \
                "and a TTT" % (p.final, p.dsl, p.ttt)
        c.send(pt.text_request(itt, c.cmdsn, c.exp_statsn, ttt=p.ttt,
                               dsl=len(part2)), part2)
        c.cmdsn += 1
        p = c.recv()
        if p.opcode != pt.OP_TEXT_RSP or not p.final:
            return "second answer %r" % p
        if ("TargetName", TARGET) not in p.keys():
            return "target not listed: %r" % p.keys()
        return None
    finally:
        c.close()


def case_text_new_request_mid_piece():
    # A Text Request in pieces, then a new one (reserved TTT, new ITT):
    # the new one is answered on its own (RFC 7143 11.10.4), not glued
    # to the unfinished piece.
    c = session()
    try:
        itt = c.next_itt()
        c.send(pt.text_request(itt, c.cmdsn, c.exp_statsn, final=False,
                               cont=True, dsl=7), b"Bogus=x")
        c.cmdsn += 1
        p = c.recv()
        if p.opcode != pt.OP_TEXT_RSP or p.final:
            return "first answer %r" % p
        got = c.text([("SendTargets", "")])
        if not isinstance(got, list) or ("TargetName", TARGET) not in got:
            return "the new request was answered %r" % (got,)
        return None
    finally:
        c.close()


def case_text_unknown():
    c = session()
    try:
        got = c.text([("FooBarKey", "1")])
        if got != [("FooBarKey", "NotUnderstood")]:
            return "answer %r" % (got,)
        return None
    finally:
        c.close()


def case_bad_text():
    c = pt.Connection(port=PORT)
    try:
        # Text without '=' (RFC 7143 6.1): an initiator error.
        data = pt.encode_keys(BASE_KEYS) + b"NoEqualsSign\0"
        c.send(pt.login_request(c.isid, 0, 1, 0, 1, 0, 0, 1, dsl=len(data)),
               data)
        p = c.recv()
        if (p.opcode, p.status_class, p.status_detail) != \
                (pt.OP_LOGIN_RSP, 0x02, 0x00):
            return "got %r class %d detail %d" % (p, p.status_class,
                                                  p.status_detail)
        return None if closed(c) else "connection left open"
    finally:
        c.close()


def case_unknown_tsih():
    c = pt.Connection(port=PORT)
    try:
        data = pt.encode_keys(BASE_KEYS)
        c.send(pt.login_request(c.isid, 0x7abc, 1, 0, 1, 0, 0, 1,
                                dsl=len(data)), data)
        p = c.recv()
        if (p.status_class, p.status_detail) != (0x02, 0x0A):
            return "status %02x%02x, want 020a" % (p.status_class,
                                                   p.status_detail)
        return None if closed(c) else "connection left open"
    finally:
        c.close()


def case_itt_in_use():
    c = session(immediate_data=False, initial_r2t=True)
    try:
        clear_ua(c)
        data = os.urandom(BLOCK)
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, write10(200, 1), BLOCK, c.cmdsn,
                               c.exp_statsn, write=True))
        c.cmdsn += 1
        r2t = c.recv()
        if r2t.opcode != pt.OP_R2T:
            return "no R2T but %r" % r2t
        # A second command with the same tag while the first waits for
        # its data: Reject "Task in progress" (RFC 7143 11.17.1).
        dup = pt.scsi_command(0, itt, read10(0, 1), BLOCK, c.cmdsn,
                              c.exp_statsn, read=True)
        c.send(dup)
        c.cmdsn += 1
        why = expect_reject(c, dup, 0x07)
        if why:
            return why
        c.send(pt.data_out(0, itt, r2t.ttt, c.exp_statsn, 0, 0, BLOCK), data)
        rsp = c.recv()
        if rsp.opcode != pt.OP_SCSI_RSP or rsp.status != 0:
            return "first command: %r" % rsp
        # The rejected CmdSN counted: the window moves on.
        st, got, _ = c.scsi(read10(200, 1), read_len=BLOCK)
        return None if st == 0 and got == data else "read back: %r" % st
    finally:
        c.close()


def case_bad_immediate():
    c = session(immediate_data=True, initial_r2t=True)
    try:
        clear_ua(c)
        # Immediate data on a READ (no W bit): protocol error, 0x04.
        bhs = pt.scsi_command(0, c.next_itt(), read10(0, 1), BLOCK,
                              c.cmdsn, c.exp_statsn, read=True, dsl=BLOCK)
        c.send(bhs, bytes(BLOCK))
        c.cmdsn += 1
        return expect_reject(c, bhs, R_PROTOCOL_ERROR) or still_alive(c)
    finally:
        c.close()


def case_cmdsn_outside():
    c = session()
    try:
        clear_ua(c)
        # RFC 7143 4.2.2.1: outside the window the command is silently
        # ignored; the session goes on with the right CmdSN.
        c.send(pt.scsi_command(0, c.next_itt(), read10(0, 1), BLOCK,
                               (c.cmdsn + 100000) & 0xFFFFFFFF,
                               c.exp_statsn, read=True))
        why = still_alive(c)
        if why:
            return why
        st, _, p = c.scsi(read10(0, 1), read_len=BLOCK)
        return None if st == 0 else "next command: %r %r" % (st, p)
    finally:
        c.close()


def case_in_order_only():
    # Data-Out is taken in order only: offered No, the answer is Yes
    # (both keys are OR-ed, RFC 7143 13.18, 13.19), so the initiator
    # never sends what the target would reject.
    c = pt.Connection(port=PORT, timeout=10.0, isid=b"\x80" + os.urandom(5))
    try:
        keys = c.login(INITIATOR, TARGET,
                       extra_keys=[("DataPDUInOrder", "No"),
                                   ("DataSequenceInOrder", "No")])
    finally:
        c.close()
    got = (keys.get("DataPDUInOrder"), keys.get("DataSequenceInOrder"))
    if got != ("Yes", "Yes"):
        return "answered %s" % (got,)
    return None


def case_logout():
    c = session()
    try:
        p = c.logout()
        if p.opcode != pt.OP_LOGOUT_RSP or p.response != 0:
            return "logout answer %r response %r" % (p, p.response)
        return None if closed(c) else "connection left open after logout"
    finally:
        c.close()


# ------------------------------------------------------------------
# The well-behaved session
# ------------------------------------------------------------------

class Worker(threading.Thread):
    """Writes random blocks at LBA 8192 on and reads each back."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rounds = 0
        self.error = None

    def run(self):
        try:
            c = session()
            clear_ua(c)
            while not self.stop.is_set():
                n = 1 + self.rounds % 64
                lba = 8192 + (self.rounds * 64) % 65536
                data = os.urandom(n * BLOCK)
                st, _, p = c.scsi(write10(lba, n), write_data=data)
                if st != 0:
                    raise RuntimeError("write status %r %r" % (st, p))
                st, got, p = c.scsi(read10(lba, n), read_len=len(data))
                if st != 0 or got != data:
                    raise RuntimeError("read back differs at %d" % lba)
                self.rounds += 1
            p = c.logout()
            if p.opcode != pt.OP_LOGOUT_RSP or p.response != 0:
                raise RuntimeError("logout %r" % p)
            c.close()
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)


def main():
    w = Worker()
    w.start()
    run("a non-login PDU first closes the connection", case_first_not_login)
    run("login with version 5: 0x0205", case_version)
    run("login to a missing target: 0x0203", case_no_target)
    run("a key offered twice: 0x0207", case_key_twice)
    run("DataSegmentLength over MaxRecvDataSegmentLength: closed",
        case_oversized_dsl)
    run("unknown opcode: Reject 0x05", case_bad_opcode)
    run("SNACK at ErrorRecoveryLevel 0: Reject 0x05", case_snack)
    run("header digest error: connection dropped", case_header_digest)
    run("data digest error: Reject 0x02", case_data_digest)
    run("Login PDU in full feature phase: Reject 0x04", case_login_in_ffp)
    run("Data-Out with an unknown TTT: Reject 0x04", case_data_out_bad_ttt)
    run("header cut off mid-way: daemon survives", case_cut_header)
    run("SendTargets=All in a normal session", case_sendtargets_normal)
    run("SendTargets over several Text Responses (MRDSL 512)",
        case_sendtargets_long)
    run("NOP-Out ping: NOP-In with the same data", case_nop_ping)
    run("unknown text key: NotUnderstood", case_text_unknown)
    run("Text Request continued with the C bit", case_text_continued)
    run("a new Text Request ends one still in pieces",
        case_text_new_request_mid_piece)
    run("login text without '=': 0x0200", case_bad_text)
    run("login with an unknown TSIH: 0x020a", case_unknown_tsih)
    run("ITT of a running task reused: Reject 0x07", case_itt_in_use)
    run("immediate data on a READ: Reject 0x04", case_bad_immediate)
    run("CmdSN outside the window: silently ignored", case_cmdsn_outside)
    run("DataPDUInOrder=No, DataSequenceInOrder=No: answered Yes",
        case_in_order_only)
    run("Logout: response 0, then closed", case_logout)
    time.sleep(0.5)
    w.stop.set()
    w.join(30)
    result("well-behaved session: no error (%d verified rounds)" % w.rounds,
           not w.is_alive() and w.error is None and w.rounds > 0,
           w.error or ("still running" if w.is_alive() else "no rounds"))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
