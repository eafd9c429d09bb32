#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Two ietd gateways serving one RBD image (ietd issue 21 parts 2 and 3).

Usage: gateways.py SCENARIO IETD IETADM DIR IQN IMAGE

The Ceph cluster runs already (tests/integration/ceph.sh; CEPH_CONF in
the environment) and holds rbd/IMAGE. This script starts both gateways
itself and kills them by pid on every way out:

  A: listens on portal group 2 (PORT_A), names B's group 3 Remote
  B: listens on portal group 3 (PORT_B), names A's group 2 Remote

both with the target IQN, LUN 0 Type=rbd,Path=rbd/IMAGE and
"PortalGroup 2 auto", "PortalGroup 3 auto": the holder of the image's
exclusive lock is active/optimized, the other standby. A starts first
and takes the lock.

Scenarios:
  switch  both report both groups alike; the standby refuses I/O with
          04h/0Bh; ietadm State=standby on A hands the lock to B (no
          fencing), ASYMMETRIC ACCESS STATE CHANGED on the nexuses,
          data written through A reads back through B; SET TARGET PORT
          GROUPS through A takes it back by fencing B: B blocklisted,
          A serves; B rejoins by itself with a fresh RADOS client and
          reports standby within REJOIN_BOUND; SET TARGET PORT GROUPS
          through B fences A, B reads A's blocks and writes (rbd
          export), and A rejoins as standby in turn
  kill    acknowledged writes through A, SIGKILL A: B takes over by
          itself within the bound (watch timeout + 2 s poll), every
          acknowledged block reads back through B, I/O goes on through
          B; then A restarted as standby, SIGKILL B and SET TARGET PORT
          GROUPS through A: A serves within 3 s, B's writes all there
  stop    SIGSTOP A, a WRITE queued on A's socket, B takes over by
          itself (A's watch expires), B writes the block; SIGCONT A: A's
          queued WRITE fails, A is fenced and rejoins as standby, the image
          (rbd export) holds B's block, not A's. Run with librbd's
          rbd_blocklist_on_break_lock off: ietd's own blocklisting is
          what fences (with neither, A's stale WRITE lands: checked)
  caw     fixed states, both gateways optimized: READ + COMPARE AND
          WRITE increments of one counter race through A and B; no
          increment lost or applied twice (librbd's compare-and-write)
"""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

result = pt.Results()
AO, ANO, SB, UNAV, TRANS = 0, 1, 2, 3, 15
BS = 512
INIT = "iqn.2026-11.org.example:gateway-host"
# The cluster's osd_client_watch_timeout (ceph.sh), and the bound the
# documentation gives for a takeover without SET TARGET PORT GROUPS:
# the watch timeout plus one look (1 s) plus fencing and taking (1 s),
# with slack for a loaded machine.
WATCH_TIMEOUT = 5.0
IMPLICIT_BOUND = WATCH_TIMEOUT + 2.0 + 5.0
EXPLICIT_BOUND = 3.0 + 2.0
# A fenced gateway back as a standby (ietd.conf(5)): one look (1 s) to
# notice, closing the fenced handle and connecting afresh (about 1 s
# here), one look; with slack for a loaded machine.
REJOIN_BOUND = 10.0
IQN_OF = {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Gateway:
    def __init__(self, name, ietd, d, iqn, image, tag, port, other_tag,
                 other_port, ceph_conf, state="auto"):
        self.name, self.ietd, self.d = name, ietd, d
        self.tag, self.port = tag, port
        self.sock = os.path.join(d, name + ".sock")
        self.log = os.path.join(d, name + ".log")
        self.conf = os.path.join(d, name + ".conf")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write("PortalGroup %d 127.0.0.1:%d\n" % (tag, port))
            f.write("PortalGroup %d Remote 127.0.0.1:%d\n" %
                    (other_tag, other_port))
            f.write("Target %s\n" % iqn)
            f.write("\tLun 0 Type=rbd,Path=rbd/%s,CephConf=%s\n" %
                    (image, ceph_conf))
            f.write("\tPortalGroup %d %s\n" % (min(tag, other_tag), state))
            f.write("\tPortalGroup %d %s\n" % (max(tag, other_tag), state))

    def start(self):
        self.pg1 = free_port()
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [self.ietd, "-f", "-c", self.conf, "-a", "127.0.0.1",
                 "-p", str(self.pg1), "--control=" + self.sock,
                 "--status-dir=" + os.path.join(self.d, self.name + ".st"),
                 "--state-dir=" + os.path.join(self.d, self.name + ".pr"),
                 "--pid-file", os.path.join(self.d, self.name + ".pid")],
                stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return True
            except OSError:
                if self.proc.poll() is not None:
                    return False
                time.sleep(0.1)
        return False

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait_stopped(self, bound=10.0):
        """Until every thread of the process is stopped (SIGSTOP is
        delivered to each thread when it next runs)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < bound:
            states = []
            try:
                for tid in os.listdir("/proc/%d/task" % self.proc.pid):
                    with open("/proc/%d/task/%s/stat" %
                              (self.proc.pid, tid)) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
            if states and all(st in ("T", "t") for st in states):
                return True
            time.sleep(0.05)
        return False

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self):
        """SIGTERM: a clean exit (0) that lets the lock go."""
        if self.proc is None:
            return None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self.proc = None
        return rc

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def sense_of(pdu):
    s = pdu.sense()
    if len(s) < 14:
        return None
    if s[0] & 0x7F in (0x72, 0x73):
        return (s[1] & 0x0F, s[2], s[3])
    return (s[2] & 0x0F, s[12], s[13])


def session(gw, iqn, timeout=15.0):
    c = pt.Connection(port=gw.port, timeout=timeout,
                      isid=b"\x80" + os.urandom(5))
    c.login(INIT, iqn)
    # The power-on unit attention (TEST UNIT READY until it is not one;
    # a standby port then answers NOT READY, which is fine here).
    for _ in range(4):
        st, _, p = c.scsi(bytes(6))
        if st == pt.SCSI_GOOD or sense_of(p) is None or sense_of(p)[0] != 6:
            break
    return c


def rtpg(c):
    """{group: (state, T_SUP)}; unit attentions met are skipped."""
    cdb = bytes([0xA3, 0x0A, 0, 0, 0, 0]) + struct.pack(">I", 1024) + \
        bytes(2)
    for _ in range(4):
        st, data, p = c.scsi(cdb, read_len=1024)
        if st == pt.SCSI_GOOD:
            break
    if st != pt.SCSI_GOOD:
        raise RuntimeError("RTPG status %r sense %r" % (st, sense_of(p)))
    n = struct.unpack(">I", data[:4])[0]
    out, off = {}, 4
    while off < 4 + n:
        d = data[off:off + 8]
        out[struct.unpack(">H", d[2:4])[0]] = (d[0] & 0x0F,
                                               bool(d[1] & 0x80))
        off += 8 + 4 * d[7]
    return out


def states(c):
    return {g: v[0] for g, v in rtpg(c).items()}


def wait_states(conns, want, bound):
    """Until every connection reports want ({group: state}); returns the
    seconds it took or None, and the last states seen."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < bound:
        try:
            last = [states(c) for c in conns]
        except (OSError, RuntimeError, pt.DigestError) as e:
            last = repr(e)
            time.sleep(0.2)
            continue
        if all(s == want for s in last):
            return time.monotonic() - t0, last
        time.sleep(0.2)
    return None, last


def stpg(c, group, state=AO):
    data = bytes(4) + bytes([state, 0]) + struct.pack(">H", group)
    cdb = bytes([0xA4, 0x0A, 0, 0, 0, 0]) + struct.pack(">I", len(data)) + \
        bytes(2)
    st, _, p = c.scsi(cdb, write_data=data)
    return st, (sense_of(p) if st == pt.SCSI_CHECK_CONDITION else None)


def blk(tag, lba):
    head = b"%-8s LBA %010d " % (tag.encode(), lba)
    return (head * (BS // len(head) + 1))[:BS]


def write(c, lba, data):
    st, _, p = c.scsi(pt.cdb_write10(lba, len(data) // BS), write_data=data)
    return st, (sense_of(p) if st == pt.SCSI_CHECK_CONDITION else None)


def read(c, lba, n=1):
    st, data, p = c.scsi(pt.cdb_read10(lba, n), read_len=n * BS)
    return st, data, (sense_of(p) if st == pt.SCSI_CHECK_CONDITION else None)


def write_retry(c, lba, data, bound=10.0):
    """WRITE until GOOD, through a unit attention or a transition."""
    t0 = time.monotonic()
    while True:
        st, sense = write(c, lba, data)
        if st == pt.SCSI_GOOD:
            return True, None
        if time.monotonic() - t0 > bound:
            return False, (st, sense)
        time.sleep(0.2)


def rbd_bytes(image, off, length):
    out = os.path.join(os.environ["T_DIR"], "export.img")
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run(["timeout", "60", "rbd", "export", "rbd/" + image,
                        out], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("rbd export: " + r.stderr.strip())
    with open(out, "rb") as f:
        f.seek(off)
        return f.read(length)


def blocklist():
    r = subprocess.run(["timeout", "30", "ceph", "osd", "blocklist", "ls"],
                       capture_output=True, text=True)
    return r.stdout + r.stderr


def adm(ietadm, gw, *args):
    return subprocess.run([ietadm, "--control=" + gw.sock] + list(args),
                          capture_output=True, text=True, timeout=30)


def scenario_switch(a, b, iqn, image, ietadm):
    ca = session(a, iqn)
    t, last = wait_states([ca], {2: AO, 3: SB}, 15)
    result("A takes the lock at start: A reports 2 optimized, 3 standby",
           t is not None, repr(last))
    if not b.start():
        result("gateway B starts", False, b.logtext()[-2000:])
        return
    cb = session(b, iqn)
    t, last = wait_states([ca, cb], {2: AO, 3: SB}, 10)
    result("both gateways report both groups alike (2 optimized, "
           "3 standby)", t is not None, repr(last))
    g = rtpg(cb)
    result("RTPG: T_SUP set for groups that follow the lock",
           g.get(2, (0, False))[1] and g.get(3, (0, False))[1], repr(g))
    st, sense = write(ca, 10, blk("A", 10))
    result("WRITE through the optimized gateway A", st == pt.SCSI_GOOD,
           "status %r sense %r" % (st, sense))
    st, sense = write(cb, 11, blk("B", 11))
    result("WRITE through the standby gateway B: NOT READY, TARGET PORT "
           "IN STANDBY STATE", sense == (2, 0x04, 0x0B),
           "status %r sense %r" % (st, sense))
    st, _, sense = read(cb, 10)
    result("READ through standby B refused the same way",
           sense == (2, 0x04, 0x0B), "status %r sense %r" % (st, sense))

    # A planned switch: the holder lets go, B takes it; nobody fenced.
    r = adm(ietadm, a, "--op", "update", "--tid=1", "--params",
            "PortalGroup=2,State=standby")
    result("ietadm on A: PortalGroup=2,State=standby", r.returncode == 0,
           r.stderr.strip())
    t, last = wait_states([ca, cb], {2: SB, 3: AO}, 10)
    result("after A lets go, B holds the lock: both report 2 standby, "
           "3 optimized (%s s)" % (None if t is None else round(t, 1)),
           t is not None, repr(last))
    ok, why = write_retry(cb, 11, blk("B", 11))
    result("WRITE through B now", ok, repr(why))
    st, data, sense = read(cb, 10)
    result("B reads what A wrote (one image)",
           st == pt.SCSI_GOOD and data == blk("A", 10), repr(sense))
    st, sense = write(ca, 12, blk("A", 12))
    result("WRITE through A, now standby: 04h/0Bh",
           sense == (2, 0x04, 0x0B), "status %r sense %r" % (st, sense))
    result("a handover by release fences nobody",
           "fenced" not in a.logtext() and "fenced" not in b.logtext(),
           "")

    # SET TARGET PORT GROUPS through A, while B holds: fencing first.
    t0 = time.monotonic()
    st, sense = stpg(ca, 2, AO)
    result("SET TARGET PORT GROUPS through A (group 2 optimized)",
           st == pt.SCSI_GOOD, "status %r sense %r" % (st, sense))
    st, sense = stpg(ca, 3, AO)
    result("SET TARGET PORT GROUPS for B's group through A is refused",
           sense == (5, 0x26, 0x00), "status %r sense %r" % (st, sense))
    t, last = wait_states([ca], {2: AO, 3: SB}, EXPLICIT_BOUND)
    took = time.monotonic() - t0
    result("A reports group 2 optimized within %.0f s (took %.1f s)" %
           (EXPLICIT_BOUND, took), t is not None, repr(last))
    # B, fenced, reports its group unavailable only until it rejoins
    # (below): too short a window to probe from here reliably.
    bl = blocklist()
    result("B's RADOS client is on the OSD blocklist",
           "listed 1 entries" in bl or "listed" in bl and
           "listed 0" not in bl, bl.strip()[-300:])
    ok, why = write_retry(ca, 12, blk("A2", 12))
    result("WRITE through A after the takeover", ok, repr(why))
    got = rbd_bytes(image, 10 * BS, 3 * BS)
    result("the image holds A's, B's and A's blocks (rbd export)",
           got == blk("A", 10) + blk("B", 11) + blk("A2", 12), "")
    result("B logs that it is fenced",
           "this gateway is fenced" in b.logtext(), "")
    rejoin(a, b, ca, cb, image, t0)


class Reader(threading.Thread):
    """READs LBA lba through its own session to gw until told; counts
    the outcomes ("good", a sense triple, or "bad data")."""

    def __init__(self, gw, iqn, lba, want):
        super().__init__(daemon=True)
        self.c = session(gw, IQN_OF[gw.name])
        self.lba, self.want = lba, want
        self.stop = threading.Event()
        self.seen, self.alive_err = {}, None

    def run(self):
        try:
            while not self.stop.is_set():
                st, data, sense = read(self.c, self.lba)
                if st == pt.SCSI_GOOD:
                    k = "good" if data == self.want else "bad data"
                else:
                    k = sense
                self.seen[k] = self.seen.get(k, 0) + 1
        except Exception as e:
            self.alive_err = repr(e)


def rejoin_time(gw, nth):
    """The seconds of gw's nth "rejoined" log line, or None."""
    got = re.findall(r"rejoined with a fresh RADOS client ([0-9.]+) s",
                     gw.logtext())
    return float(got[nth]) if len(got) > nth else None


def rejoin(a, b, ca, cb, image, t0):
    """B was fenced by A (SET TARGET PORT GROUPS through A at t0): it
    comes back as a standby by itself, takes the lock back by fencing A,
    and A in turn rejoins."""
    t, last = wait_states([cb], {2: AO, 3: SB}, REJOIN_BOUND)
    took = time.monotonic() - t0
    result("fenced B rejoins by itself: reports 3 standby, 2 optimized "
           "within %.0f s of the fencing (took %.1f s, B logs %r s)" %
           (REJOIN_BOUND, took, rejoin_time(b, 0)), t is not None,
           repr(last))
    result("B logs that it closed the fenced handle and rejoined",
           "closed the fenced client's image handle" in b.logtext() and
           rejoin_time(b, 0) is not None, "")
    st, sense = write(cb, 13, blk("B", 13))
    result("WRITE through rejoined B, a standby: 04h/0Bh",
           sense == (2, 0x04, 0x0B), "status %r sense %r" % (st, sense))
    ok, why = write_retry(ca, 13, blk("A3", 13))
    result("WRITE through A, still the holder", ok, repr(why))

    # SET TARGET PORT GROUPS through B: B takes the lock back, fencing A,
    # while READs go through A back to back: they meet the old handle,
    # the drop, the swap and the fresh one.
    hammer = Reader(a, None, 10, blk("A", 10))
    hammer.start()
    t1 = time.monotonic()
    st, sense = stpg(cb, 3, AO)
    result("SET TARGET PORT GROUPS through rejoined B (group 3 "
           "optimized)", st == pt.SCSI_GOOD,
           "status %r sense %r" % (st, sense))
    t, last = wait_states([cb], {2: SB, 3: AO}, EXPLICIT_BOUND)
    result("B holds the lock again within %.0f s (took %.1f s)" %
           (EXPLICIT_BOUND, time.monotonic() - t1), t is not None,
           repr(last))
    result("A logs that it is fenced", "this gateway is fenced" in
           a.logtext(), "")
    st, data, sense = read(cb, 10, 4)
    want = blk("A", 10) + blk("B", 11) + blk("A2", 12) + blk("A3", 13)
    result("B reads what A wrote before and after B's fencing",
           st == pt.SCSI_GOOD and data == want, repr(sense))
    ok, why = write_retry(cb, 14, blk("B2", 14))
    result("WRITE through B on its fresh client", ok, repr(why))
    got = rbd_bytes(image, 10 * BS, 5 * BS)
    result("the image holds B's new block (rbd export)",
           got == want + blk("B2", 14), "")

    t, last = wait_states([ca], {2: SB, 3: AO}, REJOIN_BOUND)
    result("fenced A rejoins as a standby in turn within %.0f s (took "
           "%.1f s, A logs %r s)" % (REJOIN_BOUND, time.monotonic() - t1,
                                      rejoin_time(a, 0)),
           t is not None, repr(last))
    hammer.stop.set()
    hammer.join(30)
    bad = {k: v for k, v in hammer.seen.items()
           if k not in ("good", (2, 4, 0x0B), (2, 4, 0x0C), (2, 4, 0x0A),
                        (6, 0x2A, 0x06))}
    result("READs through A during its fencing and rejoin: GOOD with A's "
           "bytes, 04h/0Ah, 04h/0Bh, 04h/0Ch or the state change's unit "
           "attention only (%r)" % hammer.seen,
           not hammer.alive_err and not bad and
           hammer.seen.get("good", 0) > 0 and len(hammer.seen) > 1,
           "error %r other %r" % (hammer.alive_err, bad))
    st, sense = write(ca, 15, blk("A", 15))
    result("WRITE through rejoined A, a standby: 04h/0Bh",
           sense == (2, 0x04, 0x0B), "status %r sense %r" % (st, sense))
    t, last = wait_states([ca, cb], {2: SB, 3: AO}, 5)
    result("both report 2 standby, 3 optimized", t is not None, repr(last))


class Writer(threading.Thread):
    """Writes LBA n with blk(tag, n), n = base, base+1, ...; records the
    acknowledged ones; stops at the first failure or when told."""

    def __init__(self, c, tag, base):
        super().__init__(daemon=True)
        self.c, self.tag, self.base = c, tag, base
        self.acked = []
        self.halt = False
        self.error = None

    def run(self):
        lba = self.base
        try:
            while not self.halt:
                st, _ = write(self.c, lba, blk(self.tag, lba))
                if st != pt.SCSI_GOOD:
                    self.error = st
                    return
                self.acked.append(lba)
                lba += 1
        except Exception as e:  # the gateway died under us
            self.error = repr(e)


def verify(c, tag, lbas):
    bad = []
    for lba in lbas:
        st, data, _ = read(c, lba)
        if st != pt.SCSI_GOOD or data != blk(tag, lba):
            bad.append(lba)
    return bad


def scenario_kill(a, b, iqn, image, ietadm):
    ca = session(a, iqn)
    t, _ = wait_states([ca], {2: AO, 3: SB}, 15)
    if not b.start():
        result("gateway B starts", False, b.logtext()[-2000:])
        return
    cb = session(b, iqn)
    t, last = wait_states([ca, cb], {2: AO, 3: SB}, 10)
    result("A holds the lock, both agree", t is not None, repr(last))
    w = Writer(ca, "A", 1000)
    w.start()
    time.sleep(1.5)
    a.signal(signal.SIGKILL)
    t0 = time.monotonic()
    w.join(30)
    a.kill()
    result("writes were acknowledged through A before SIGKILL (%d)" %
           len(w.acked), len(w.acked) > 0, "")
    t, last = wait_states([cb], {2: SB, 3: AO}, IMPLICIT_BOUND)
    took = time.monotonic() - t0
    result("B takes over by itself within %.0f s of the SIGKILL "
           "(took %.1f s)" % (IMPLICIT_BOUND, took), t is not None,
           repr(last))
    print("# implicit takeover after SIGKILL: %.1f s" % took)
    bad = verify(cb, "A", w.acked)
    result("every write A acknowledged reads back through B",
           not bad, "bad LBAs %r" % bad[:10])
    w2 = Writer(cb, "B", 5000)
    w2.start()
    time.sleep(1.0)
    w2.halt = True
    w2.join(30)
    result("I/O goes on through B (%d writes)" % len(w2.acked),
           w2.error is None and len(w2.acked) > 0, repr(w2.error))
    result("B fenced A when it took over",
           "fencing the lock holder" in b.logtext(), "")

    # A again, as standby; then B dies and the initiator asks A at once.
    if not a.start():
        result("gateway A restarts", False, a.logtext()[-2000:])
        return
    ca = session(a, iqn)
    t, last = wait_states([ca, cb], {2: SB, 3: AO}, 10)
    result("restarted A is standby, B still holds", t is not None,
           repr(last))
    w3 = Writer(cb, "B3", 8000)
    w3.start()
    time.sleep(1.0)
    b.signal(signal.SIGKILL)
    t0 = time.monotonic()
    w3.join(30)
    b.kill()
    st, sense = stpg(ca, 2, AO)
    t, last = wait_states([ca], {2: AO, 3: SB}, EXPLICIT_BOUND)
    took = time.monotonic() - t0
    result("SET TARGET PORT GROUPS through A after SIGKILL of B: A holds "
           "within %.0f s (took %.1f s)" % (EXPLICIT_BOUND, took),
           st == pt.SCSI_GOOD and t is not None,
           "stpg %r %r states %r" % (st, sense, last))
    print("# takeover by SET TARGET PORT GROUPS after SIGKILL: %.1f s" %
          took)
    bad = verify(ca, "B3", w3.acked) + verify(ca, "B", w2.acked) + \
        verify(ca, "A", w.acked)
    result("every acknowledged write (A's, B's) reads back through A",
           not bad and len(w3.acked) > 0, "bad LBAs %r" % bad[:10])


def scenario_stop(a, b, iqn, image, ietadm):
    ca = session(a, iqn)
    wait_states([ca], {2: AO, 3: SB}, 15)
    if not b.start():
        result("gateway B starts", False, b.logtext()[-2000:])
        return
    cb = session(b, iqn)
    t, last = wait_states([ca, cb], {2: AO, 3: SB}, 10)
    result("A holds the lock, both agree", t is not None, repr(last))
    lba = 77
    st, _ = write(ca, lba, blk("A-old", lba))
    result("A writes the block while it holds the lock",
           st == pt.SCSI_GOOD, "status %r" % st)
    a.signal(signal.SIGSTOP)
    t0 = time.monotonic()
    result("every thread of A is stopped", a.wait_stopped(), "")
    # A WRITE that waits in A's socket while A is stopped.
    itt = ca.next_itt()
    data = blk("A-stale", lba)
    ca.send(pt.scsi_command(0, itt, pt.cdb_write10(lba, 1), BS, ca.cmdsn,
                            ca.exp_statsn, write=True, dsl=BS), data)
    ca.cmdsn += 1
    t, last = wait_states([cb], {2: SB, 3: AO}, IMPLICIT_BOUND)
    took = time.monotonic() - t0
    result("B takes over from the stopped A by itself within %.0f s "
           "(took %.1f s)" % (IMPLICIT_BOUND, took), t is not None,
           repr(last))
    print("# implicit takeover after SIGSTOP: %.1f s" % took)
    ok, why = write_retry(cb, lba, blk("B-new", lba))
    result("B writes the block", ok, repr(why))
    a.signal(signal.SIGCONT)
    ca.sock.settimeout(40)
    status = None
    try:
        while True:
            p = ca.recv()
            if p.opcode == pt.OP_SCSI_RSP:
                status = (p.status, sense_of(p))
                break
            if p.opcode == pt.OP_R2T:
                status = ("R2T",)
                break
    except OSError as e:
        status = ("connection", repr(e))
    result("the woken A does not acknowledge its queued WRITE",
           status is not None and status[0] != pt.SCSI_GOOD, repr(status))
    # Fenced, A reports its group unavailable, then rejoins as standby.
    t, last = wait_states([ca], {2: SB, 3: AO}, 15 + REJOIN_BOUND)
    result("the woken A is fenced, then rejoins as a standby",
           t is not None and "this gateway is fenced" in a.logtext(),
           repr(last))
    st, data, _ = read(cb, lba)
    result("B reads B's block", st == pt.SCSI_GOOD and
           data == blk("B-new", lba), "status %r" % st)
    got = rbd_bytes(image, lba * BS, BS)
    result("the image holds B's block, nothing of the woken A "
           "(rbd export)", got == blk("B-new", lba), repr(got[:24]))
    st, sense = write(ca, lba + 1, blk("A-late", lba + 1))
    result("a new WRITE through the woken A is refused (04h/0Bh)",
           sense == (2, 0x04, 0x0B), "status %r sense %r" % (st, sense))
    got = rbd_bytes(image, (lba + 1) * BS, BS)
    result("and nothing of it lands", got != blk("A-late", lba + 1), "")


CAW_LBA = 7


def caw_block(value, who):
    head = b"CAW-COUNTER %012d by %s\n" % (value, who)
    return (head * (BS // len(head) + 1))[:BS]


def caw_racer(gw, iqn, name, rounds, wrote, errors, stats):
    """READ the counter, COMPARE AND WRITE it to the next value, again
    on MISCOMPARE (what VMware's ATS locking does)."""
    try:
        c = session(gw, iqn, timeout=60.0)
        done = misses = 0
        cdb = struct.pack(">BBQ3xBBB", 0x89, 0, CAW_LBA, 1, 0, 0)
        while done < rounds:
            st, cur, _ = read(c, CAW_LBA)
            if st != pt.SCSI_GOOD:
                errors.append("%s: READ status %r" % (name, st))
                return
            v = int(cur[12:24]) + 1
            st, _, p = c.scsi(cdb, write_data=cur + caw_block(
                v, name.encode()))
            if st == pt.SCSI_GOOD:
                wrote.append(v)
                done += 1
                continue
            if sense_of(p) is not None and sense_of(p)[:2] == (0x0E, 0x1D):
                misses += 1
                continue
            errors.append("%s: CAW status %r sense %r" %
                          (name, st, sense_of(p)))
            return
        stats[name] = misses
    except Exception as e:  # noqa: BLE001 -- reported as the racer's
        errors.append("%s: %r" % (name, e))


def scenario_caw(a, b, iqn, image, ietadm):
    """Both gateways optimized (fixed states, no lock following): librbd
    hands the exclusive lock back and forth, and COMPARE AND WRITE is the
    OSD's compare-and-write, atomic across the two."""
    if not b.start():
        result("gateway B starts", False, b.logtext()[-2000:])
        return
    ca, cb = session(a, iqn), session(b, iqn)
    g = [states(ca), states(cb)]
    result("fixed states: both gateways report both groups optimized",
           g == [{2: AO, 3: AO}] * 2, repr(g))
    st, _ = write(ca, CAW_LBA, caw_block(0, b"-"))
    result("counter block starts at 0", st == pt.SCSI_GOOD, repr(st))
    rounds = int(os.environ.get("CAW_ROUNDS", "150"))
    wrote = {"a": [], "b": []}
    errors, stats = [], {}
    threads = [threading.Thread(target=caw_racer, args=(
        gw, iqn, k, rounds, wrote[k], errors, stats))
        for gw, k in ((a, "a"), (b, "b"))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    n = len(wrote["a"]) + len(wrote["b"])
    print("# %d CAWs through two gateways in %.1f s, miscompares %r" %
          (n, time.monotonic() - t0, stats), flush=True)
    result("every CAW through either gateway ends GOOD or MISCOMPARE",
           not errors, "; ".join(errors))
    result("the two gateways raced (some CAWs miscompared)",
           sum(stats.values()) > 0, "no miscompare: they never overlapped")
    result("the values written are disjoint and exactly 1..N",
           sorted(wrote["a"] + wrote["b"]) == list(range(1, n + 1)),
           "an increment was lost or applied twice")
    got = rbd_bytes(image, CAW_LBA * BS, BS)
    result("the counter in the image (rbd export) equals the successful "
           "CAWs", int(got[12:24]) == n, repr(got[:24]))


def main():
    scen, ietd, ietadm, d, iqn, image = sys.argv[1:7]
    os.environ["T_DIR"] = d
    pa, pb = free_port(), free_port()
    conf = os.environ["CEPH_CONF"]
    if scen == "stop":
        # The fence must not hang on librbd's rbd_blocklist_on_break_lock
        # (a conf file may turn it off): ietd blocklists by itself.
        with open(conf) as f:
            text = f.read()
        conf = os.path.join(d, "ceph-nobreakfence.conf")
        with open(conf, "w") as f:
            f.write(text + "rbd blocklist on break lock = false\n")
    state = "optimized" if scen == "caw" else "auto"
    IQN_OF["gwA"] = IQN_OF["gwB"] = iqn
    a = Gateway("gwA", ietd, d, iqn, image, 2, pa, 3, pb, conf, state)
    b = Gateway("gwB", ietd, d, iqn, image, 3, pb, 2, pa, conf, state)
    try:
        if not a.start():
            result("gateway A starts", False, a.logtext()[-2000:])
        else:
            {"switch": scenario_switch, "kill": scenario_kill,
             "stop": scenario_stop,
             "caw": scenario_caw}[scen](a, b, iqn, image, ietadm)
    except Exception as e:
        result("scenario %s ran to its end" % scen, False, repr(e))
    finally:
        for g in (a, b):
            if g.proc is not None and g.proc.poll() is None:
                os.kill(g.proc.pid, signal.SIGCONT)
                rc = g.stop()
                result("gateway %s exits 0 on SIGTERM" % g.name, rc == 0,
                       "exit %r" % rc)
            g.kill()
        for g in (a, b):
            if os.path.exists(g.log):
                t = g.logtext()
                result("no sanitizer report (%s)" % g.name,
                       "Sanitizer" not in t and "runtime error" not in t,
                       "")
    sys.exit(1 if result.failures else 0)


if __name__ == "__main__":
    main()
