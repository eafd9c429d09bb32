#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Two tenants on two targets of one ietd: one honest, one hostile.

Usage: 0790-two-tenants.py PORT IETD-PID HONEST-IQN HONEST-USER
       HONEST-SECRET HOSTILE-IQN STATUS-DIR

The honest tenant (CHAP) writes numbered blocks and reads every one back
for the whole run. The hostile tenant, allowed only on its own target,
meanwhile does everything a raw-PDU initiator can: Data-Out CDBs without
the W bit, a NOP-Out flood it never reads, logins that carry the honest
session's ISID, InitiatorName and TSIH, task management resets of every
kind on its own LUN, InitiatorNames that try to forge status lines, and
Data-Out for transfer tags it was never given. Checked: the honest tenant
sees no error, no stall over 5 s, no byte that is not its own; the
hostile LUN never holds an honest byte; the session status file shows
the honest session once and no forged line; ietd's VmRSS stays within
64 MiB of its warmed-up size (not checked under a sanitizer, whose
quarantine keeps freed memory).
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
IETD_PID = int(sys.argv[2])
HONEST = sys.argv[3]
CHAP = (sys.argv[4], sys.argv[5])
HOSTILE = sys.argv[6]
STATUS_DIR = sys.argv[7]
SECONDS = float(os.environ.get("TENANTS_SECONDS", "20"))
RSS_BOUND_KIB = 64 * 1024
SANITIZER = os.environ.get("TENANTS_SANITIZER") == "1"
HONEST_NAME = "iqn.2026-11.org.example:honest"
HONEST_ISID = b"\x80\x11\x22\x33\x44\x55"
BLOCK = 512
HONEST_LBAS = 32768             # its 16 MiB of the 32 MiB LUN

result = pt.Results()


def note(msg):
    print("# " + msg, flush=True)


def rss_kib():
    return pt.rss_kib(IETD_PID)


def honest_data(lba, n, seq):
    """The honest tenant's bytes: its marker, the round and the LBA."""
    head = b"HONEST-TENANT %08d lba %06d " % (seq, lba)
    return (head * (n * BLOCK // len(head) + 1))[:n * BLOCK]


honest_tsih = []


def honest_session():
    c = pt.Connection(port=PORT, timeout=10.0, isid=HONEST_ISID)
    c.login(HONEST_NAME, HONEST, chap=CHAP)
    pt.clear_unit_attention(c)
    honest_tsih.append(c.tsih)
    return c


def hostile_session(name="iqn.2026-11.org.example:hostile", isid=None):
    c = pt.Connection(port=PORT, timeout=10.0,
                      isid=isid or b"\x80" + os.urandom(5))
    c.login(name, HOSTILE)
    pt.clear_unit_attention(c)
    return c


def no_w_write(c, lba, nblocks):
    """A WRITE(10) with W clear and no data."""
    itt = c.next_itt()
    c.send(pt.scsi_command(0, itt, pt.cdb_write10(lba, nblocks),
                           nblocks * BLOCK, c.cmdsn, c.exp_statsn))
    c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    while True:
        p = c.recv()
        if p.itt == itt and p.opcode in (pt.OP_SCSI_RSP, pt.OP_DATA_IN):
            return p


def attack_stale_writes():
    c = hostile_session()
    n = 0
    while honest.error is None and n < 400:
        no_w_write(c, (n % 16) * 16, 16)
        n += 1
    st, data, _ = c.scsi(pt.cdb_read10(0, 256), read_len=256 * BLOCK)
    c.close()
    if st != 0:
        return "READ of its own LUN: status %r" % st
    if b"HONEST" in data:
        return "the honest tenant's bytes reached the hostile LUN"
    return None


def attack_nop_flood():
    """NOP-Outs with 8 KiB pings on a session that never reads."""
    c = hostile_session()
    c.sock.settimeout(0.5)
    payload = os.urandom(8192)
    sent = 0
    end = time.monotonic() + 4
    try:
        while time.monotonic() < end and honest.error is None:
            itt = c.next_itt()
            c.send(pt.nop_out(itt, c.cmdsn, c.exp_statsn, dsl=len(payload)),
                   payload)
            c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
            sent += 1
    except (socket.timeout, OSError):
        pass                    # ietd stopped reading us: what we want
    c.close()
    note("NOP flood: %d pings sent before ietd stopped reading" % sent)
    return None


def attack_reinstatement():
    """Logins with the honest session's ISID, name and TSIH to our own
    target: none of them may touch the honest session."""
    for tsih in (0, honest_tsih[0]):
        c = pt.Connection(port=PORT, timeout=10.0, isid=HONEST_ISID)
        c.tsih = tsih
        try:
            c.login(HONEST_NAME, HOSTILE)
            pt.clear_unit_attention(c)
            c.logout()
        except (pt.LoginError, OSError, RuntimeError):
            pass                # refused is fine; the honest one goes on
        finally:
            c.close()
    return None


def attack_resets():
    c = hostile_session()
    # LOGICAL UNIT RESET, TARGET WARM RESET, CLEAR TASK SET, ABORT TASK
    # SET (RFC 7143 11.5.1): all on its own target and LUN.
    for fn in (5, 6, 3, 2):
        p = c.tmf(fn)
        if p.response not in (0, 5):
            c.close()
            return "TMF %d: response %d" % (fn, p.response)
        pt.clear_unit_attention(c)
    # TARGET COLD RESET ends its own connections (RFC 7143 11.5.1).
    c.tmf_send(7)
    try:
        c.sock.settimeout(5)
        while c.sock.recv(4096):
            pass
    except OSError:
        pass
    c.close()
    return None


def attack_names():
    forged = ["iqn.2026-11.org.example:x\ntid:1 name:%s\n\tsid:1 "
              "initiator:forged" % HONEST,
              "iqn.2026-11.org.example:x\rsid:9",
              "iqn.2026-11.org.example:x\x00y",
              "iqn.2026-11.org.example:" + "a" * 300]
    for name in forged:
        c = pt.Connection(port=PORT, timeout=10.0,
                          isid=b"\x80" + os.urandom(5))
        try:
            c.login(name, HOSTILE)
            c.close()
            return "InitiatorName %r was accepted" % name[:40]
        except pt.LoginError as e:
            if e.pdu.status_class != 2:
                c.close()
                return "InitiatorName %r: status 0x%02x%02x" % (
                    name[:40], e.pdu.status_class, e.pdu.status_detail)
        c.close()
    return None


def attack_data_out_games():
    """Data-Out for TTTs and ITTs it was never given, then a WRITE
    whose R2T it answers at the wrong offset."""
    c = hostile_session()
    for ttt in range(1, 64):
        c.send(pt.data_out(0, 0x1000 + ttt, ttt, c.exp_statsn, 0, 0, 512),
               b"G" * 512)
    c.sock.settimeout(1)
    try:
        while c.sock.recv(65536):
            pass
    except OSError:
        pass
    c.close()
    c = hostile_session()
    # No immediate data: every byte must come on our R2T.
    itt = c.next_itt()
    c.send(pt.scsi_command(0, itt, pt.cdb_write10(0, 16), 16 * BLOCK,
                           c.cmdsn, c.exp_statsn, write=True))
    c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
    r2t = c.recv()
    if r2t.opcode == pt.OP_R2T:
        c.send(pt.data_out(0, itt, r2t.ttt, c.exp_statsn, 0, 4096, 512),
               b"G" * 512)
    c.close()
    return None


def status_file_clean():
    path = os.path.join(STATUS_DIR, "session")
    with open(path) as f:
        text = f.read()
    if "forged" in text:
        return "a forged line in %s:\n%s" % (path, text)
    if text.count(HONEST_NAME) > 1:
        return "the honest initiator is listed more than once:\n" + text
    return None


run = result.run


honest = pt.Verifier(honest_session, HONEST_LBAS, make_data=honest_data)
honest.start()
for _ in range(100):
    if honest_tsih or honest.error:
        break
    time.sleep(0.05)
time.sleep(0.5)
base = rss_kib()
peak = base
note("VmRSS with the honest tenant running: %d KiB" % base)

attacks = [
    ("hostile: Data-Out CDBs without W", attack_stale_writes),
    ("hostile: NOP-Out flood it never reads", attack_nop_flood),
    ("hostile: logins with the honest ISID, name and TSIH",
     attack_reinstatement),
    ("hostile: resets of its own LUN and target", attack_resets),
    ("hostile: InitiatorNames that forge status lines: refused",
     attack_names),
    ("hostile: Data-Out for tags never given", attack_data_out_games),
]
start = time.monotonic()
while time.monotonic() - start < SECONDS and honest.error is None:
    for name, fn in attacks:
        run(name, fn)
        peak = max(peak, rss_kib())
        if honest.error is not None:
            break
    attacks = [(n, f) for n, f in attacks
               if "NOP" in n or "Data-Out CDBs" in n]  # repeat the heavy
    time.sleep(0.2)
run("status file: the honest session once, no forged line",
    status_file_clean)
honest.stop.set()
honest.join(30)
end_rss = rss_kib()
peak = max(peak, end_rss)
note("honest rounds %d, longest gap %.2f s; VmRSS KiB base %d peak %d "
     "end %d" % (honest.rounds, honest.max_gap, base, peak, end_rss))
result("honest tenant: no error",
       honest.error is None and not honest.is_alive() and honest.rounds > 0,
       honest.error or ("still running" if honest.is_alive() else
                        "no round done"))
result("honest tenant: no round over 5 s", honest.max_gap <= 5.0,
       "longest gap %.2f s" % honest.max_gap)
if SANITIZER:
    note("VmRSS bound not checked: sanitizer build")
else:
    result("ietd VmRSS within 64 MiB of its size before the attacks",
           peak - base < RSS_BOUND_KIB,
           "peak +%d KiB" % (peak - base))
sys.exit(1 if result.failures else 0)
