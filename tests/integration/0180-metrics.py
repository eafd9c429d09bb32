#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""The metrics endpoint: counters that move by exactly what was done,
and an HTTP listener that hostile clients cannot use against iSCSI.

Usage: 0180-metrics.py ISCSI-PORT METRICS-PORT TARGET

Writes 64 KiB, reads 64 KiB and reads past the end (ILLEGAL REQUEST)
through a raw session, and checks the LU, target and session series
moved by exactly that; a login to a missing target counts as
target_not_found. Then: 404, 405, 400 and 431 answers; 30 connections
holding half a request line (slowloris) and a huge request line while
the iSCSI session keeps reading with low latency; the stalled clients
are cut at the 5 s deadline and scrapes work again.
"""

import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT, MPORT, TARGET = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
INITIATOR = "iqn.2026-11.org.example:metrics"
result = pt.Results()
run = result.run


def http(raw, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", MPORT), timeout)
    s.sendall(raw)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got


def scrape():
    got = http(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"version=0.0.4" in head, head
    m = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        m[name] = float(value)
    return m


def delta(a, b, key):
    return b.get(key, 0) - a.get(key, 0)


LU = '{target="%s",tid="1",lun="0"' % TARGET
TGT = '{target="%s",tid="1"}' % TARGET


def session_key(m, name):
    keys = [k for k in m if k.startswith(name + "{") and
            'initiator="%s"' % INITIATOR in k]
    return keys[0] if keys else None


c = pt.Connection(port=PORT)
c.login(INITIATOR, TARGET)
for _ in range(3):  # the power-on unit attention first
    st, _, _ = c.scsi(bytes(6), read_len=0)
    if st == 0:
        break


def rw_cdb(op, lba, blocks):
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def counters_move():
    a = scrape()
    st, _, _ = c.scsi(rw_cdb(0x2a, 0, 128), write_data=os.urandom(65536))
    if st != 0:
        return "WRITE status %r" % st
    st, _, _ = c.scsi(rw_cdb(0x28, 0, 128), read_len=65536)
    if st != 0:
        return "READ status %r" % st
    st, _, _ = c.scsi(rw_cdb(0x28, 0x7ffffff0, 1), read_len=512)
    if st != 2:
        return "READ past the end: status %r" % st
    b = scrape()
    want = {
        "ietd_lu_commands_total" + LU + "}": 3,
        "ietd_lu_written_bytes_total" + LU + "}": 65536,
        "ietd_lu_read_bytes_total" + LU + "}": 65536,
        "ietd_lu_errors_total" + LU +
        ',status="check_condition",sense_key="illegal_request"}': 1,
        "ietd_lu_latency_seconds_count" + LU + "}": 3,
        "ietd_target_commands_total" + TGT: 3,
        "ietd_target_written_bytes_total" + TGT: 65536,
        "ietd_target_errors_total" + TGT: 1,
    }
    for k, v in want.items():
        if delta(a, b, k) != v:
            return "%s moved by %r, want %d" % (k, delta(a, b, k), v)
    for name, v in (("ietd_session_commands_total", 3),
                    ("ietd_session_read_bytes_total", 65536),
                    ("ietd_session_written_bytes_total", 65536),
                    ("ietd_session_latency_seconds_count", 3)):
        k = session_key(b, name)
        if k is None:
            return "no %s series for our session" % name
        if delta(a, b, k) != v:
            return "%s moved by %r, want %d" % (k, delta(a, b, k), v)
    if b["ietd_target_sessions" + TGT] != 1:
        return "sessions %r" % b["ietd_target_sessions" + TGT]
    # Cumulative buckets never go down, and +Inf equals the count.
    inf = b["ietd_lu_latency_seconds_bucket" + LU + ',le="+Inf"}']
    if inf != b["ietd_lu_latency_seconds_count" + LU + "}"]:
        return "+Inf bucket %r != count" % inf
    if b["ietd_data_budget_limit_bytes"] <= 0 or \
            b["ietd_data_budget_peak_bytes"] < 65536:
        return "data budget: %r" % {k: v for k, v in b.items()
                                    if "budget" in k}
    return None


run("counters move by exactly the I/O done", counters_move)


def refused_login():
    a = scrape()
    k = 'ietd_logins_refused_total{reason="target_not_found"}'
    x = pt.Connection(port=PORT)
    try:
        x.login(INITIATOR, TARGET + "-missing")
        return "login to a missing target succeeded"
    except pt.LoginError:
        pass
    finally:
        x.close()
    b = scrape()
    if delta(a, b, k) != 1:
        return "%s moved by %r" % (k, delta(a, b, k))
    return None


run("a refused login is counted by reason", refused_login)


def refused_per_target():
    """Without CHAP to a CHAP target: counted on that target."""
    t2 = TARGET + "-chap"
    a = scrape()
    x = pt.Connection(port=PORT)
    try:
        x.login(INITIATOR, t2)
        return "login without CHAP to a CHAP target succeeded"
    except pt.LoginError:
        pass
    finally:
        x.close()
    b = scrape()
    pre = 'ietd_logins_refused_total{reason="'
    moved = [k for k in b if k.startswith(pre) and delta(a, b, k) == 1]
    if len(moved) != 1:
        return "global counters moved: %r" % moved
    reason = moved[0][len(pre):-2]
    k = ('ietd_target_logins_refused_total{target="%s",tid="2",'
         'reason="%s"}' % (t2, reason))
    if delta(a, b, k) != 1:
        return "%s moved by %r" % (k, delta(a, b, k))
    if any(k.startswith('ietd_target_logins_refused_total{target="%s",'
                        % TARGET) for k in b):
        return "counted on the other target too"
    return None


run("a refused login is counted on its target", refused_per_target)


def status_of(raw):
    got = http(raw)
    return got.split(b"\r\n", 1)[0].decode(errors="replace")


run("GET /other: 404", lambda: None if " 404 " in status_of(
    b"GET /other HTTP/1.1\r\n\r\n") else "not 404")
run("POST /metrics: 405", lambda: None if " 405 " in status_of(
    b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n") else "not 405")
run("garbage: 400", lambda: None if " 400 " in status_of(
    b"\x00\x01garbage\r\n\r\n") else "not 400")
run("HTTP/1.0 client is served", lambda: None if " 200 " in status_of(
    b"GET /metrics HTTP/1.0\r\n\r\n") else "not 200")


def huge_request():
    s = socket.create_connection(("127.0.0.1", MPORT), 5)
    try:
        s.sendall(b"GET /" + b"a" * 5000)
    except OSError:
        pass
    got = s.recv(4096)
    s.close()
    return None if b" 431 " in got.split(b"\r\n")[0] else repr(got[:80])


run("a 5000-byte request line: 431, not buffered", huge_request)


def read_latencies(n):
    worst = 0.0
    for _ in range(n):
        t = time.monotonic()
        st, _, _ = c.scsi(rw_cdb(0x28, 0, 128), read_len=65536)
        worst = max(worst, time.monotonic() - t)
        if st != 0:
            raise AssertionError("READ status %r" % st)
    return worst


def hostile_clients():
    base = read_latencies(20)
    slow = []
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", MPORT), 5)
        s.sendall(b"GET /metr")
        slow.append(s)
    t0 = time.monotonic()
    worst = read_latencies(200)
    # The main loop, which the HTTP clients share, still accepts logins.
    t = time.monotonic()
    x = pt.Connection(port=PORT)
    x.login(INITIATOR + "-2", TARGET)
    x.logout()
    x.close()
    login_s = time.monotonic() - t
    # Past the 8 slots, new connections are closed at once.
    closed_now = 0
    for s in slow[8:]:
        s.settimeout(1.0)
        try:
            if s.recv(1) == b"":
                closed_now += 1
        except (socket.timeout, ConnectionResetError):
            closed_now += 1 if s.fileno() >= 0 else 0
    # The 8 that got a slot are cut at the deadline (5 s).
    cut = 0
    for s in slow[:8]:
        s.settimeout(max(0.1, 7.0 - (time.monotonic() - t0)))
        try:
            if s.recv(1) in (b"",):
                cut += 1
        except ConnectionResetError:
            cut += 1
        except socket.timeout:
            pass
    for s in slow:
        s.close()
    ok = scrape()
    if worst > max(1.0, 20 * base):
        return "a READ took %.3f s during the attack (%.3f before)" % (
            worst, base)
    if login_s > 1.0:
        return "a login took %.3f s during the attack" % login_s
    if closed_now != 22:
        return "%d of 22 connections past the limit closed" % closed_now
    if cut != 8:
        return "%d of 8 slowloris connections cut at the deadline" % cut
    if "ietd_lu_commands_total" + LU + "}" not in ok:
        return "no scrape after the attack"
    return None


run("30 slowloris connections: iSCSI reads unharmed, cut at 5 s",
    hostile_clients)
c.logout()
c.close()
sys.exit(1 if result.failures else 0)
