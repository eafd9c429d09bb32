#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""ALUA with two portal groups (ietd issue 19 part 4).

Usage: 0805-alua.py alua PORT1 PORT2 IQN_BASE IETADM CTL-SOCK CONF IETD-PID
       0805-alua.py plain PORT IQN_BASE

alua: ietd runs with portal group 1 on PORT1 (-p) and PortalGroup 2 on
PORT2; target :alua is offered on both (1 optimized, 2 nonoptimized),
:only1 on group 1 only. Checked: SendTargets lists each target's portals
with their tags; the login's TargetPortalGroupTag; the same initiator
name and ISID through both groups makes two I_T nexuses (two sessions,
a reservation of one conflicts on the other, both see one registration
list); INQUIRY's TPGS; REPORT TARGET PORT GROUPS in both formats from
each port; VPD 0x83's relative port and port group designators; an
ietadm state change seen by both nexuses as ASYMMETRIC ACCESS STATE
CHANGED, then the sense a standby and an unavailable port answer with;
SET TARGET PORT GROUPS (and its errors); a SIGHUP reload that changes a
state, while a state the file did not change keeps what SET TARGET PORT
GROUPS made of it.

plain: a file without PortalGroup answers as before ALUA existed: TPGS 0
and REPORT TARGET PORT GROUPS refused.
"""

import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

result = pt.Results()
INIT = "iqn.2026-11.org.example:alua-host"
ISID = b"\x80\x0a\x1a\x00\x00\x01"

AO, ANO, SB, UNAV = 0, 1, 2, 3
RESERVATION_CONFLICT = 0x18


def sense_of(pdu):
    """(key, asc, ascq) of a SCSI Response's fixed or descriptor sense."""
    s = pdu.sense()
    if len(s) < 14:
        return None
    if s[0] & 0x7F in (0x72, 0x73):
        return (s[1] & 0x0F, s[2], s[3])
    return (s[2] & 0x0F, s[12], s[13])


def rtpg_cdb(alloc=1024, extended=False):
    return bytes([0xA3, (0x20 if extended else 0) | 0x0A, 0, 0, 0, 0]) + \
        struct.pack(">I", alloc) + bytes(2)


def stpg(conn, descs, plen=None):
    data = bytes(4) + b"".join(bytes([st, 0]) + struct.pack(">H", tpg)
                               for tpg, st in descs)
    if plen is None:
        plen = len(data)
    cdb = bytes([0xA4, 0x0A, 0, 0, 0, 0]) + struct.pack(">I", plen) + \
        bytes(2)
    return conn.scsi(cdb, write_data=data)


def rtpg(conn, extended=False, uas=None):
    """{tpg id: (state, status, [rel port ids])} and the raw header. With
    uas (a list), an ALUA unit attention met first is noted there."""
    st, data, p = conn.scsi(rtpg_cdb(extended=extended), read_len=1024)
    if uas is not None and st == pt.SCSI_CHECK_CONDITION and \
            sense_of(p) == (6, 0x2A, 0x06):
        uas.append(1)
        st, data, p = conn.scsi(rtpg_cdb(extended=extended), read_len=1024)
    if st != pt.SCSI_GOOD:
        raise RuntimeError("RTPG status %r sense %r" % (st, sense_of(p)))
    hdr = 8 if extended else 4
    n = struct.unpack(">I", data[:4])[0]
    groups, off = {}, hdr
    while off < hdr + n:
        d = data[off:off + 8]
        count = d[7]
        ports = [struct.unpack(">H", data[off + 8 + 4 * i + 2:
                                          off + 8 + 4 * i + 4])[0]
                 for i in range(count)]
        groups[struct.unpack(">H", d[2:4])[0]] = (d[0] & 0x0F, d[5], ports,
                                                  d[1])
        off += 8 + 4 * count
    return groups, data[:hdr]


def designators(conn):
    st, data, _ = conn.scsi(bytes([0x12, 1, 0x83, 4, 0, 0]), read_len=1024)
    out, off = {}, 4
    end = 4 + struct.unpack(">H", data[2:4])[0]
    while off + 4 <= end:
        typ = data[off + 1] & 0x0F
        assoc = (data[off + 1] >> 4) & 3
        ln = data[off + 3]
        out[(assoc, typ)] = data[off + 4:off + 4 + ln]
        off += 4 + ln
    return out


def tur_expect(conn, want):
    st, _, p = conn.scsi(bytes(6))
    if want is None:
        return st == pt.SCSI_GOOD, "status %r sense %r" % (st, sense_of(p))
    return (st == pt.SCSI_CHECK_CONDITION and sense_of(p) == want,
            "status %r sense %r" % (st, sense_of(p)))


def expect_sense(conn, cdb, want, read_len=0):
    st, _, p = conn.scsi(cdb, read_len=read_len)
    got = sense_of(p) if st == pt.SCSI_CHECK_CONDITION else None
    return got == want, "status %r sense %r" % (st, got)


def session(port, target, isid=ISID):
    c = pt.Connection(port=port, timeout=10.0, isid=isid)
    keys = c.login(INIT, target)
    pt.clear_unit_attention(c)
    return c, keys


def run_alua(argv):
    port1, port2 = int(argv[0]), int(argv[1])
    base, ietadm, sock, conf, pid = argv[2:7]
    alua, only1 = base + ":alua", base + ":only1"

    def adm(*args):
        return subprocess.run([ietadm, "--control=" + sock] + list(args),
                              capture_output=True, text=True, timeout=20)

    # Discovery: each target with the portals of its groups.
    d = pt.Connection(port=port1, timeout=10.0)
    d.login(INIT, session_type="Discovery")
    got = d.text([("SendTargets", "All")])
    pairs = got if isinstance(got, list) else []
    addrs, cur = {}, None
    for k, v in pairs:
        if k == "TargetName":
            cur = v
            addrs[cur] = []
        elif k == "TargetAddress" and cur is not None:
            addrs[cur].append(v)
    result("SendTargets: the ALUA target on both portal groups",
           sorted(addrs.get(alua, [])) ==
           sorted(["127.0.0.1:%d,1" % port1, "127.0.0.1:%d,2" % port2]),
           repr(addrs))
    result("SendTargets: a target of group 1 only is not on group 2",
           addrs.get(only1) == ["127.0.0.1:%d,1" % port1], repr(addrs))
    d.close()

    # Login to a target through a portal group that does not offer it.
    c = pt.Connection(port=port2, timeout=10.0)
    try:
        c.login(INIT, only1)
        result("login through a group that does not offer the target "
               "is refused", False, "login succeeded")
    except pt.LoginError as e:
        p = e.pdu
        result("login through a group that does not offer the target "
               "is refused",
               (p.status_class, p.status_detail) == (2, 3),
               "status %d/%d" % (p.status_class, p.status_detail))
    c.close()

    s1, k1 = session(port1, alua)
    s2, k2 = session(port2, alua)  # same initiator name, same ISID
    result("login answers TargetPortalGroupTag 1 and 2",
           k1.get("TargetPortalGroupTag") == "1" and
           k2.get("TargetPortalGroupTag") == "2",
           "%r %r" % (k1.get("TargetPortalGroupTag"),
                      k2.get("TargetPortalGroupTag")))
    result("the same initiator and ISID through two groups: two sessions",
           s1.tsih != s2.tsih and s1.nop().opcode == pt.OP_NOP_IN,
           "tsih %d %d" % (s1.tsih, s2.tsih))

    for name, c in (("group 1", s1), ("group 2", s2)):
        st, data, _ = c.scsi(bytes([0x12, 0, 0, 0, 96, 0]), read_len=96)
        result("INQUIRY TPGS = 11b (implicit and explicit) via " + name,
               st == pt.SCSI_GOOD and data[5] & 0x30 == 0x30,
               "byte 5 %#x" % data[5])

    for name, c in (("group 1", s1), ("group 2", s2)):
        g, hdr = rtpg(c)
        result("RTPG (length format) via %s: both groups, states and "
               "relative port ids" % name,
               g.get(1, (None,))[0] == AO and g.get(2, (None,))[0] == ANO
               and g[1][2] == [1] and g[2][2] == [2] and
               g[1][3] & 0x0F == 0x0F and len(g) == 2, repr(g))
        g, hdr = rtpg(c, extended=True)
        result("RTPG (extended format) via %s: header and groups" % name,
               hdr[4] == 0x10 and struct.unpack(">I", hdr[:4])[0] == 24
               and g.get(1, (None,))[0] == AO and
               g.get(2, (None,))[0] == ANO, "%s %r" % (hdr.hex(), g))
    st, _, p = s1.scsi(bytes([0xA3, 0x4A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]),
                       read_len=1024)
    result("RTPG with a reserved format is INVALID FIELD IN CDB",
           st == pt.SCSI_CHECK_CONDITION and
           sense_of(p) == (5, 0x24, 0), repr(sense_of(p)))

    for name, c, want in (("group 1", s1, 1), ("group 2", s2, 2)):
        ds = designators(c)
        rel = ds.get((1, 4), b"")
        tpg = ds.get((1, 5), b"")
        result("VPD 0x83 via %s: relative port %d, port group %d" %
               (name, want, want),
               len(rel) == 4 and struct.unpack(">H", rel[2:])[0] == want
               and len(tpg) == 4 and
               struct.unpack(">H", tpg[2:])[0] == want,
               "%s %s" % (rel.hex(), tpg.hex()))

    # One set of reservations, two I_T nexuses: register and reserve
    # (Write Exclusive) on group 1, then group 2 is another nexus.
    reg = bytes(8) + struct.pack(">Q", 0xA1) + bytes(8)
    st, _, _ = s1.scsi(bytes([0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0]),
                       write_data=reg)
    res = struct.pack(">Q", 0xA1) + bytes(16)
    st2, _, _ = s1.scsi(bytes([0x5F, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0]),
                        write_data=res)
    st3, _, _ = s2.scsi(pt.cdb_write10(0, 1), write_data=bytes(512))
    st4, keys, _ = s2.scsi(bytes([0x5E, 0, 0, 0, 0, 0, 0, 0x04, 0, 0]),
                           read_len=1024)
    nkeys = struct.unpack(">I", keys[4:8])[0] // 8 if st4 == 0 else -1
    result("a reservation through group 1 conflicts through group 2 "
           "(same initiator and ISID: another I_T nexus)",
           (st, st2, st3) == (0, 0, RESERVATION_CONFLICT),
           "register %r reserve %r write %r" % (st, st2, st3))
    result("group 2 sees group 1's registration (one set per LU)",
           nkeys == 1 and keys[8:16] == struct.pack(">Q", 0xA1),
           keys[:16].hex())
    st, _, _ = s1.scsi(bytes([0x5F, 0x03, 0, 0, 0, 0, 0, 0, 24, 0]),
                       write_data=struct.pack(">Q", 0xA1) + bytes(16))
    result("CLEAR through group 1", st == 0, "status %r" % st)
    # CLEAR gives the other registrants' nexuses a UA; group 2 had none.
    ok, why = tur_expect(s2, None)
    result("group 2 usable after CLEAR", ok, why)

    # ietadm: group 2 standby.
    r = adm("--op", "update", "--tid=1", "--params",
            "PortalGroup=2,State=standby")
    result("ietadm --op update PortalGroup=2,State=standby",
           r.returncode == 0, r.stderr.strip())
    ok, why = tur_expect(s2, (6, 0x2A, 0x06))
    result("group 2's nexus: UNIT ATTENTION ASYMMETRIC ACCESS STATE "
           "CHANGED", ok, why)
    ok, why = tur_expect(s1, (6, 0x2A, 0x06))
    result("group 1's nexus too (an implicit change)", ok, why)
    ok, why = expect_sense(s2, pt.cdb_read10(0, 1), (2, 0x04, 0x0B),
                           read_len=512)
    result("READ through the standby group: NOT READY, TARGET PORT IN "
           "STANDBY STATE", ok, why)
    ok, why = tur_expect(s2, (2, 0x04, 0x0B))
    result("TEST UNIT READY through standby: the same", ok, why)
    st, _, _ = s2.scsi(bytes([0x1A, 0, 0x3F, 0, 255, 0]), read_len=255)
    result("MODE SENSE is served in standby", st == pt.SCSI_GOOD,
           "status %r" % st)
    st, _, _ = s1.scsi(pt.cdb_read10(0, 1), read_len=512)
    result("READ through group 1 still works", st == pt.SCSI_GOOD,
           "status %r" % st)
    g, _ = rtpg(s2)
    result("RTPG through the standby group: state standby, changed "
           "implicitly", g.get(2, (None, None))[:2] == (SB, 2), repr(g))

    r = adm("--op", "update", "--tid=1", "--params",
            "PortalGroup=2,State=unavailable")
    result("ietadm: group 2 unavailable", r.returncode == 0,
           r.stderr.strip())
    tur_expect(s2, (6, 0x2A, 0x06))
    ok, why = expect_sense(s2, bytes([0x1A, 0, 0x3F, 0, 255, 0]),
                           (2, 0x04, 0x0C), read_len=255)
    result("MODE SENSE through unavailable: NOT READY, TARGET PORT IN "
           "UNAVAILABLE STATE", ok, why)
    st, _, _ = s2.scsi(bytes([0x12, 0, 0, 0, 96, 0]), read_len=96)
    result("INQUIRY is served while unavailable", st == pt.SCSI_GOOD,
           "status %r" % st)
    r = adm("--op", "update", "--tid=1", "--params",
            "PortalGroup=2,State=sideways")
    result("ietadm refuses an unknown state",
           r.returncode != 0 and "unknown ALUA state" in r.stderr,
           r.stderr.strip())
    r = adm("--op", "update", "--tid=2", "--params",
            "PortalGroup=2,State=standby")
    result("ietadm refuses a group that does not offer the target",
           r.returncode != 0 and "not offered" in r.stderr,
           r.stderr.strip())
    r = adm("--op", "show", "--dump")
    result("ietadm --op show --dump writes the states back",
           "PortalGroup 2 127.0.0.1:%d" % port2 in r.stdout and
           "\tPortalGroup 2 unavailable" in r.stdout, r.stdout[-300:])
    tur_expect(s1, (6, 0x2A, 0x06))

    # SET TARGET PORT GROUPS from group 1: 2 optimized, 1 nonoptimized.
    st, _, _ = stpg(s1, [(2, AO), (1, ANO)])
    result("SET TARGET PORT GROUPS", st == pt.SCSI_GOOD, "status %r" % st)
    ok, why = tur_expect(s1, None)
    result("STPG: no unit attention for the nexus that sent it", ok, why)
    ok, why = tur_expect(s2, (6, 0x2A, 0x06))
    result("STPG: the other nexus gets ASYMMETRIC ACCESS STATE CHANGED",
           ok, why)
    g, _ = rtpg(s2)
    result("RTPG after STPG: 1 nonoptimized, 2 optimized, status 'by "
           "SET TARGET PORT GROUPS'",
           g.get(1, (None, None))[:2] == (ANO, 1) and
           g.get(2, (None, None))[:2] == (AO, 1), repr(g))
    st, _, _ = s2.scsi(pt.cdb_read10(0, 1), read_len=512)
    result("READ through group 2 works again", st == pt.SCSI_GOOD,
           "status %r" % st)
    st, _, p = stpg(s1, [(9, SB)])
    result("STPG naming no such group: INVALID FIELD IN PARAMETER LIST",
           st == pt.SCSI_CHECK_CONDITION and
           sense_of(p) == (5, 0x26, 0), repr(sense_of(p)))
    st, _, p = stpg(s1, [(2, 0x0E)])
    result("STPG to offline: INVALID FIELD IN PARAMETER LIST",
           st == pt.SCSI_CHECK_CONDITION and
           sense_of(p) == (5, 0x26, 0), repr(sense_of(p)))
    st, _, p = s1.scsi(bytes([0xA4, 0x0A, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0]),
                       write_data=bytes(6))
    result("STPG with a ragged length: PARAMETER LIST LENGTH ERROR",
           st == pt.SCSI_CHECK_CONDITION and
           sense_of(p) == (5, 0x1A, 0), repr(sense_of(p)))
    big = [(2, AO)] * 65
    st, _, p = stpg(s1, big)
    result("STPG with more descriptors than groups: INVALID FIELD IN CDB",
           st == pt.SCSI_CHECK_CONDITION and
           sense_of(p) == (5, 0x24, 0), repr(sense_of(p)))
    g, _ = rtpg(s1)
    result("refused STPGs changed nothing",
           g.get(1, (None,))[0] == ANO and g.get(2, (None,))[0] == AO,
           repr(g))

    # Reload: the file now puts group 2 in standby; group 1's line is as
    # it was, so STPG's nonoptimized stays.
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("PortalGroup 2 nonoptimized",
                             "PortalGroup 2 standby"))
    os.kill(int(pid), signal.SIGHUP)
    deadline = time.time() + 10
    g = {}
    uas = []
    while time.time() < deadline:
        # The reload's unit attention comes first, then the new state.
        g, _ = rtpg(s1, uas=uas)
        if g.get(2, (None,))[0] == SB:
            break
        time.sleep(0.1)
    result("reload: group 1's nexus gets the unit attention", uas == [1],
           repr(uas))
    result("reload: group 2 standby as the file now says; group 1 keeps "
           "the state STPG gave it",
           g.get(2, (None, None))[:2] == (SB, 2) and
           g.get(1, (None,))[0] == ANO, repr(g))
    ok, why = tur_expect(s2, (6, 0x2A, 0x06))
    result("reload: group 2's nexus gets the unit attention", ok, why)
    ok, why = expect_sense(s2, pt.cdb_read10(0, 1), (2, 0x04, 0x0B),
                           read_len=512)
    result("reload: READ through group 2 is NOT READY, STANDBY", ok, why)

    # A target added by ietadm is offered on every portal group.
    r = adm("--op", "new", "--tid=0", "--params", "Name=" + base + ":added")
    r2 = adm("--op", "new", "--tid=3", "--lun=0", "--params",
             "Sectors=2048,Type=nullio")
    result("ietadm adds a target and a LUN",
           r.returncode == 0 and r2.returncode == 0,
           r.stderr.strip() + r2.stderr.strip())
    try:
        a2, _ = session(port2, base + ":added", isid=b"\x80\x0a\x1a\0\0\x02")
        g, _ = rtpg(a2)
        result("the ietadm target: reachable through group 2, both groups "
               "optimized",
               g.get(1, (None,))[0] == AO and g.get(2, (None,))[0] == AO,
               repr(g))
        a2.close()
    except Exception as e:  # noqa: BLE001 - the check's verdict
        result("the ietadm target: reachable through group 2, both groups "
               "optimized", False, repr(e))

    # Reload taking the target off group 2: its nexus there is left with
    # an unavailable port, and new logins through group 2 are refused.
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("\tPortalGroup 2 standby\n", ""))
    os.kill(int(pid), signal.SIGHUP)
    deadline = time.time() + 10
    uas = []
    while time.time() < deadline:
        g, _ = rtpg(s1, uas=uas)
        if 2 not in g:
            break
        time.sleep(0.1)
    result("reload off group 2: RTPG lists group 1 only", list(g) == [1],
           repr(g))
    ok, why = tur_expect(s2, (6, 0x2A, 0x06))
    result("reload off group 2: its nexus gets the unit attention", ok, why)
    ok, why = expect_sense(s2, pt.cdb_read10(0, 1), (2, 0x04, 0x0C),
                           read_len=512)
    result("reload off group 2: READ there is NOT READY, UNAVAILABLE", ok,
           why)
    c = pt.Connection(port=port2, timeout=10.0, isid=b"\x80\x0a\x1a\0\0\x03")
    try:
        c.login(INIT, alua)
        result("reload off group 2: a new login there is refused", False,
               "login succeeded")
    except pt.LoginError as e:
        result("reload off group 2: a new login there is refused",
               (e.pdu.status_class, e.pdu.status_detail) == (2, 3),
               "%d/%d" % (e.pdu.status_class, e.pdu.status_detail))
    c.close()
    for c in (s1, s2):
        c.close()


def run_alua_off(port, base, conf, pid):
    """ALUA on with one group in standby, then a reload back to a plain
    file: the session there is told and may do I/O again."""
    c = pt.Connection(port=port, timeout=10.0, isid=ISID)
    c.login(INIT, base + ":plain")
    for _ in range(4):  # the new nexus's POWER ON unit attention first
        st, _, p = c.scsi(bytes(6))
        if sense_of(p) is None or sense_of(p)[0] != 6:
            break
    ok, why = expect_sense(c, pt.cdb_read10(0, 1), (2, 0x04, 0x0B),
                           read_len=512)
    result("'PortalGroup 1 standby' alone: READ is NOT READY, STANDBY", ok,
           why)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("\tPortalGroup 1 standby\n", ""))
    os.kill(int(pid), signal.SIGHUP)
    deadline, st, p = time.time() + 10, None, None
    uas = 0
    while time.time() < deadline:
        st, _, p = c.scsi(pt.cdb_read10(0, 1), read_len=512)
        if st == pt.SCSI_CHECK_CONDITION and sense_of(p) == (6, 0x2A, 6):
            uas += 1
        if st == pt.SCSI_GOOD:
            break
        time.sleep(0.1)
    result("reload to a plain file: the session hears of it and reads "
           "again", st == pt.SCSI_GOOD and uas == 1,
           "status %r sense %r UAs %d" % (st, sense_of(p), uas))
    c.close()


def run_plain(argv):
    port, base = int(argv[0]), argv[1]
    if len(argv) > 3:
        run_alua_off(port, base, argv[2], argv[3])
    c, keys = session(port, base + ":plain")
    st, data, _ = c.scsi(bytes([0x12, 0, 0, 0, 96, 0]), read_len=96)
    result("plain IET file: INQUIRY TPGS 0",
           st == pt.SCSI_GOOD and data[5] & 0x30 == 0, "%#x" % data[5])
    ok, why = expect_sense(c, rtpg_cdb(), (5, 0x24, 0), read_len=1024)
    result("plain IET file: no REPORT TARGET PORT GROUPS", ok, why)
    ds = designators(c)
    tpg = ds.get((1, 5), b"")
    result("plain IET file: VPD 0x83 port group 1, relative port 1",
           tpg[2:] == b"\x00\x01" and ds.get((1, 4), b"")[2:] ==
           b"\x00\x01", tpg.hex())
    result("plain IET file: TargetPortalGroupTag 1",
           keys.get("TargetPortalGroupTag") == "1", repr(keys))
    c.close()


def main():
    mode = sys.argv[1]
    try:
        if mode == "alua":
            run_alua(sys.argv[2:])
        else:
            run_plain(sys.argv[2:])
    except Exception as e:  # noqa: BLE001 - report, do not hide
        result("tester ran to the end", False, repr(e))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
