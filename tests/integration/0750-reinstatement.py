#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Session and connection reinstatement (RFC 7143 6.3.5) stay within
one target and give every session its own I_T nexus.

Usage: 0750-reinstatement.py PORT CHAP-TARGET OPEN-TARGET USER SECRET
           STATUS-DIR {serial|race}

serial (ietd with one event thread, so that an old session's teardown
runs after what the new session sent in the same burst):
  - a victim session on the CHAP target does verified I/O in a thread
    while an attacker, who may log in to the open target only, logs in
    there with the victim's InitiatorName and ISID, once with TSIH 0 and
    once with the victim's TSIH and CID; and tries the CHAP target
    without the secret. The victim must see no error and stay;
  - a connection reinstatement on the open target sends, in the same
    burst as its last login PDU, TEST UNIT READYs and RESERVE(6): the old
    session's teardown must leave that reservation and the cleared unit
    attention alone (a reinstated connection once kept the old session's
    nexus id);
  - a session reinstatement with the name in another case closes the old
    session; the new one works.
race (two event threads): two logins reinstating one session at once
  leave exactly one live session with that InitiatorName and ISID.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
CHAP_TARGET, OPEN_TARGET = sys.argv[2], sys.argv[3]
USER, SECRET = sys.argv[4], sys.argv[5]
STATUS_DIR = sys.argv[6]
MODE = sys.argv[7]
VICTIM = "iqn.2026-11.org.example:victim"
BLOCK = 512
RACE_ROUNDS = int(os.environ.get("REINSTATE_RACE_ROUNDS", "20"))

# SCSI status and CDBs (SPC-2 RESERVE(6) / RELEASE(6), SPC-4 TUR).
RESERVATION_CONFLICT = 0x18
CDB_TUR = bytes(6)
CDB_RESERVE6 = bytes([0x16, 0, 0, 0, 0, 0])
CDB_RELEASE6 = bytes([0x17, 0, 0, 0, 0, 0])

result = pt.Results()


run = result.run


def isid():
    return b"\x80" + os.urandom(5)


def connect(isid_=None, timeout=10.0):
    return pt.Connection(port=PORT, timeout=timeout, isid=isid_ or isid())


def closed_by_target(c, wait=5.0):
    """True when the target closes c within wait seconds."""
    c.sock.settimeout(wait)
    end = time.monotonic() + wait
    try:
        while time.monotonic() < end:
            data = c.sock.recv(4096)
            if data == b"":
                return True
            # A NOP-In or an Async Message may come first: keep reading.
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def alive(c):
    """A NOP-Out ping answered: the session still works."""
    try:
        c.sock.settimeout(5.0)
        p = c.nop(b"ping")
        while p.opcode == pt.OP_NOP_IN and p.itt == pt.RESERVED_TAG:
            p = c.recv()        # a target-initiated NOP-In first
        return p.opcode == pt.OP_NOP_IN and p.data == b"ping"
    except (OSError, EOFError):
        return False


def sessions_with_isid(isid_):
    """sid lines of the status file whose ISID (sid >> 16) is isid_."""
    want = int.from_bytes(isid_, "big")
    n = 0
    try:
        with open(os.path.join(STATUS_DIR, "session")) as f:
            for line in f:
                line = line.strip()
                if line.startswith("sid:"):
                    sid = int(line.split()[0][4:])
                    if sid >> 16 == want:
                        n += 1
    except FileNotFoundError:
        return -1
    return n


def wait_status(isid_, count, wait=5.0):
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if sessions_with_isid(isid_) == count:
            return True
        time.sleep(0.1)
    return False


# ------------------------------------------------------------------
# A victim doing I/O on the CHAP target
# ------------------------------------------------------------------

class Victim(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.c = connect()
        self.c.login(VICTIM, CHAP_TARGET, chap=(USER, SECRET))
        pt.clear_unit_attention(self.c)
        self.stop = threading.Event()
        self.error = None
        self.rounds = 0

    def run(self):
        lba = 0
        try:
            while not self.stop.is_set():
                data = os.urandom(BLOCK * 8)
                st, _, p = self.c.scsi(pt.cdb_write10(lba, 8),
                                       write_data=data)
                if st != pt.SCSI_GOOD:
                    raise RuntimeError("WRITE status %r" % st)
                st, got, p = self.c.scsi(pt.cdb_read10(lba, 8),
                                         read_len=len(data))
                if st != pt.SCSI_GOOD or got != data:
                    raise RuntimeError("READ status %r, data %s" %
                                       (st, "same" if got == data
                                        else "differs"))
                self.rounds += 1
                lba = (lba + 8) % 2048
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)

    def finish(self):
        self.stop.set()
        self.join(30)
        if self.is_alive():
            return "victim I/O stalled"
        if self.error is not None:
            return "victim saw " + self.error
        if self.rounds == 0:
            return "victim did no I/O"
        return None if alive(self.c) else "victim session gone"


def attack_open_target_same_isid(v):
    """TSIH 0, the victim's name and ISID, the open target: a session
    of its own there; the victim's session on the CHAP target stays."""
    a = connect(v.c.isid)
    try:
        a.login(VICTIM, OPEN_TARGET)
        time.sleep(0.3)
        if v.error is not None:
            return "victim saw " + v.error
        return None if alive(a) else "the attacker's own session died"
    finally:
        a.close()


def attack_open_target_victim_tsih(v):
    """The victim's TSIH and CID at the open target: no session there
    has that TSIH, so RFC 7143 11.13.5 0x020a (session does not exist);
    ietd once closed the victim's session and took over its TSIH."""
    a = connect(v.c.isid)
    try:
        a.tsih = v.c.tsih
        a.cid = v.c.cid
        try:
            a.login(VICTIM, OPEN_TARGET)
            return "login with another target's TSIH accepted"
        except pt.LoginError as e:
            got = (e.pdu.status_class, e.pdu.status_detail)
            if got != (0x02, 0x0a):
                return "status %02x%02x, want 020a" % got
        time.sleep(0.3)
        if v.error is not None:
            return "victim saw " + v.error
        return None
    finally:
        a.close()


def attack_chap_target_no_secret(v):
    """The victim's TSIH at its own target, but no CHAP: refused at
    authentication, before any reinstatement."""
    for chap in (None, (USER, "wrong-secret-123")):
        a = connect(v.c.isid)
        try:
            a.tsih = v.c.tsih
            a.cid = v.c.cid
            a.login(VICTIM, CHAP_TARGET, chap=chap)
            return "login with CHAP %r accepted" % (chap,)
        except (pt.LoginError, ValueError):
            pass
        finally:
            a.close()
    time.sleep(0.3)
    return None if v.error is None else "victim saw " + v.error


# ------------------------------------------------------------------
# Connection reinstatement keeps nothing of the old nexus
# ------------------------------------------------------------------

def read_rsp(c, itt):
    """Read PDUs until the SCSI Response of itt; answer NOP-Ins."""
    while True:
        p = c.recv()
        if p.opcode == pt.OP_NOP_IN and p.ttt != pt.RESERVED_TAG:
            c.send(pt.nop_out(pt.RESERVED_TAG, c.cmdsn, c.exp_statsn,
                              ttt=p.ttt))
            continue
        if p.opcode == pt.OP_NOP_IN:
            continue
        if p.opcode == pt.OP_SCSI_RSP and p.itt == itt:
            return p
        raise RuntimeError("unexpected PDU %r" % p)


def login_with_burst(c, name, target, cdbs):
    """Log in (AuthMethod None), sending the last Login Request and the
    SCSI commands cdbs in one write, so that the target runs them in the
    dispatch round that makes the session. Returns the responses."""
    itt = c.next_itt()
    sec = [("InitiatorName", name), ("SessionType", "Normal"),
           ("TargetName", target), ("AuthMethod", "None")]
    c.login_pdu(itt, pt.STAGE_SECURITY, pt.STAGE_OPERATIONAL, sec)
    op = pt.encode_keys([("HeaderDigest", "None"), ("DataDigest", "None"),
                         ("ImmediateData", "Yes"),
                         ("MaxRecvDataSegmentLength", "262144")])
    burst = pt.frame_pdu(pt.login_request(
        c.isid, c.tsih, itt, c.cid, c.cmdsn, c.exp_statsn,
        pt.STAGE_OPERATIONAL, pt.STAGE_FULL_FEATURE, dsl=len(op)), op)
    itts = []
    cmdsn = c.cmdsn             # Login Requests are immediate
    for cdb in cdbs:
        t = c.next_itt()
        itts.append(t)
        burst += pt.frame_pdu(pt.scsi_command(0, t, cdb, 0, cmdsn,
                                              c.exp_statsn + 1))
        cmdsn = (cmdsn + 1) & 0xFFFFFFFF
    c.sock.sendall(burst)
    rsp = c.recv()
    if rsp.opcode != pt.OP_LOGIN_RSP or rsp.status_class != 0:
        raise pt.LoginError(rsp)
    if not rsp.transit or rsp.nsg != pt.STAGE_FULL_FEATURE:
        raise RuntimeError("the target did not enter full feature phase")
    c.tsih = rsp.tsih
    c.cmdsn = cmdsn
    c.params = dict(rsp.keys())
    return [read_rsp(c, t) for t in itts]


def case_connection_reinstatement():
    old = connect()
    new = other = None
    try:
        old.login(VICTIM, OPEN_TARGET)
        pt.clear_unit_attention(old)
        new = connect(old.isid)
        new.tsih, new.cid = old.tsih, old.cid
        rsps = login_with_burst(new, VICTIM, OPEN_TARGET,
                                [CDB_TUR, CDB_TUR, CDB_RESERVE6])
        # The first may carry the new nexus's POWER ON unit attention.
        if rsps[1].status != pt.SCSI_GOOD:
            return "second TEST UNIT READY status %r" % rsps[1].status
        if rsps[2].status != pt.SCSI_GOOD:
            return "RESERVE(6) status %r" % rsps[2].status
        if new.tsih != old.tsih:
            return "TSIH %#x, want the reinstated %#x" % (new.tsih,
                                                         old.tsih)
        if not closed_by_target(old):
            return "old connection not closed"
        # The old session is gone now; its nexus must have taken nothing.
        time.sleep(0.2)
        st, _, p = new.scsi(CDB_TUR)
        if st != pt.SCSI_GOOD:
            return ("after the old session's teardown TEST UNIT READY "
                    "gives status %r sense %s (the new nexus was reset)"
                    % (st, p.sense().hex()))
        other = connect()
        other.login("iqn.2026-11.org.example:other", OPEN_TARGET)
        for _ in range(4):
            st, _, p = other.scsi(CDB_TUR)
            if st == RESERVATION_CONFLICT:
                break
            if st != pt.SCSI_CHECK_CONDITION:
                return ("another initiator gets status %r: the "
                        "reservation was lost" % st)
        else:
            return "another initiator never sees the reservation"
        st, _, _ = new.scsi(CDB_RELEASE6)
        if st != pt.SCSI_GOOD:
            return "RELEASE(6) status %r" % st
        return None
    finally:
        for c in (old, new, other):
            if c is not None:
                c.close()


def case_session_reinstatement():
    """TSIH 0, same ISID, the name in upper case (iSCSI names compare
    case-insensitively): the old session goes, the new one works."""
    name = "iqn.1991-05.com.microsoft:host-7"
    old = connect()
    new = None
    try:
        old.login(name, OPEN_TARGET)
        pt.clear_unit_attention(old)
        if not wait_status(old.isid, 1):
            return "status file does not show the first session"
        new = connect(old.isid)
        new.login("iqn.1991-05.com.microsoft:HOST-7", OPEN_TARGET)
        if new.tsih == old.tsih:
            return "the new session kept the old TSIH"
        if not closed_by_target(old):
            return "old session not closed"
        pt.clear_unit_attention(new)
        data = os.urandom(BLOCK)
        st, _, _ = new.scsi(pt.cdb_write10(4000, 1), write_data=data)
        if st != pt.SCSI_GOOD:
            return "WRITE status %r" % st
        st, got, _ = new.scsi(pt.cdb_read10(4000, 1), read_len=BLOCK)
        if st != pt.SCSI_GOOD or got != data:
            return "READ back failed"
        if not wait_status(old.isid, 1):
            return ("status file shows %d sessions with the ISID" %
                    sessions_with_isid(old.isid))
        return None
    finally:
        old.close()
        if new is not None:
            new.close()


def serial():
    v = Victim()
    v.start()
    time.sleep(0.3)
    run("attacker with the victim's name and ISID at another target: "
        "own session, victim untouched",
        lambda: attack_open_target_same_isid(v))
    run("attacker with the victim's TSIH at another target: refused "
        "0x020a, victim untouched",
        lambda: attack_open_target_victim_tsih(v))
    run("the victim's TSIH at its own target without the CHAP secret: "
        "refused, victim untouched",
        lambda: attack_chap_target_no_secret(v))
    time.sleep(0.3)
    run("victim session kept working throughout", v.finish)
    v.c.close()
    run("connection reinstatement: a fresh nexus, the old session's "
        "teardown leaves its reservation and unit attention alone",
        case_connection_reinstatement)
    run("session reinstatement (name case differs): old closed, new "
        "works", case_session_reinstatement)


# ------------------------------------------------------------------
# Two reinstatements at once
# ------------------------------------------------------------------

def race_round():
    name = "iqn.2026-11.org.example:racer"
    old = connect()
    old.login(name, OPEN_TARGET)
    conns = [connect(old.isid), connect(old.isid)]
    barrier = threading.Barrier(2)
    errors = []

    def go(c):
        try:
            itt = c.next_itt()
            sec = [("InitiatorName", name), ("SessionType", "Normal"),
                   ("TargetName", OPEN_TARGET), ("AuthMethod", "None")]
            c.login_pdu(itt, pt.STAGE_SECURITY, pt.STAGE_OPERATIONAL, sec)
            barrier.wait(10)
            c.login_pdu(itt, pt.STAGE_OPERATIONAL, pt.STAGE_FULL_FEATURE,
                        [("HeaderDigest", "None"), ("DataDigest", "None")])
        except Exception as e:
            errors.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=go, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        if errors:
            return "a login failed: " + errors[0]
        time.sleep(0.3)
        live = [c for c in [old] + conns if alive(c)]
        if len(live) != 1:
            return "%d live sessions with one name and ISID" % len(live)
        if live[0] is old:
            return "the old session survived two reinstatements"
        return None
    finally:
        for c in [old] + conns:
            c.close()


def race():
    why = None
    for i in range(RACE_ROUNDS):
        why = race_round()
        if why is not None:
            why = "round %d: %s" % (i + 1, why)
            break
    result("%d pairs of simultaneous reinstatements leave one session" %
           RACE_ROUNDS, why is None, why)


if __name__ == "__main__":
    if MODE == "serial":
        serial()
    else:
        race()
    sys.exit(1 if result.failures else 0)
