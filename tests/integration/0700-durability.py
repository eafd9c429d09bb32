#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Acknowledged writes survive a SIGKILL of ietd and dropped connections.

Usage (driven by 0700-durability.sh, one target spec per LUN under test,
SPEC = IQN,IMAGE,STATEFILE,MODE with MODE wt or wb):

    0700-durability.py write  PORT PID ROUND SPEC...   write, SIGKILL PID
    0700-durability.py verify PORT SPEC...             check after restart
    0700-durability.py drop   PORT SPEC...             cut connections

Every 512-byte sector written carries its LBA, a sequence number and a
pattern derived from both, so any sector read back names the write that
put it there. The state file remembers, per LBA, the newest write that
was acknowledged as durable and every write that was ever sent. A sector
passes when it holds the durable write or a later one that was sent,
and never a write whose data was cut off. A write counts as durable:
IOMode=wt, on its GOOD status; IOMode=wb, with FUA on its GOOD status,
without FUA once a SYNCHRONIZE CACHE sent after its GOOD returned GOOD
(SBC-4 4.15, 5.22).

SIGKILL leaves the page cache alone, so the kill cannot tell a write
acknowledged before its data flush from one acknowledged after. The
writer checks that itself, as root: when a write's durable GOOD comes
(wt: any write; wb: FUA), each 4 KiB page of the image it wrote must be
clean and not under write-back (/proc/self/pagemap of a read-only mapping
of the image, then the page's flags in /proc/kpageflags). A page another
write touched while this one was in flight is not judged (it may be
dirty again by right), nor one in a large folio (its flags are the
folio's). The images' pages are made order-0 folios first (the shell
side writes them 4 KiB at a time).

Prints "ok - NAME" / "not ok - NAME: WHY" lines and "# " notes.
"""

import ctypes
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

BLOCK = 512
REGION = 2048                   # LBAs used at the start of each LUN
MAX_BLOCKS = 24                 # > 16: some writes need an R2T
DEPTH = 8                       # commands in flight per connection cut
WRITER_DEPTH = 32               # commands in flight per writer
PAGE = 4096
SECTORS_PER_PAGE = PAGE // BLOCK
MAGIC = b"IETDDUR1"
INITIATOR = "iqn.2026-11.org.example:durability"
WRITER_SECONDS = 20.0           # safety bound of one write phase

result = pt.Results()



def note(msg):
    print("# %s" % msg, flush=True)


# ------------------------------------------------------------------
# Sector contents
# ------------------------------------------------------------------

def sector(lba, seq):
    head = MAGIC + struct.pack(">QQ", lba, seq)
    fill = hashlib.sha256(head).digest()
    body = head + fill * ((BLOCK - len(head)) // len(fill) + 1)
    return body[:BLOCK]


def payload(lba, n, seq):
    return b"".join(sector(lba + i, seq) for i in range(n))


def decode(lba, raw):
    """The sequence number in a sector: 0 for zeros, None if invalid."""
    if raw == bytes(BLOCK):
        return 0
    if raw[:8] != MAGIC:
        return None
    got_lba, seq = struct.unpack(">QQ", raw[8:24])
    if got_lba != lba or raw != sector(lba, seq):
        return None
    return seq


# ------------------------------------------------------------------
# State shared between the phases (a JSON file per LUN)
# ------------------------------------------------------------------

class State:
    def __init__(self, spec):
        self.iqn, self.image, self.path, self.mode = spec.split(",")
        self.lock = threading.Lock()
        try:
            with open(self.path) as f:
                d = json.load(f)
        except FileNotFoundError:
            d = {"next_seq": 1, "durable": {}, "issued": {},
                 "forbidden": {}}
        self.next_seq = d["next_seq"]
        self.durable = {int(k): v for k, v in d["durable"].items()}
        self.issued = {int(k): set(v) for k, v in d["issued"].items()}
        self.forbidden = {int(k): set(v) for k, v in d["forbidden"].items()}
        self.busy = set()
        self.acked = 0

    def save(self):
        with self.lock:
            d = {"next_seq": self.next_seq,
                 "durable": {str(k): v for k, v in self.durable.items()},
                 "issued": {str(k): sorted(v)
                            for k, v in self.issued.items()},
                 "forbidden": {str(k): sorted(v)
                               for k, v in self.forbidden.items()}}
        with open(self.path + ".tmp", "w") as f:
            json.dump(d, f)
        os.replace(self.path + ".tmp", self.path)

    def pick(self, rng, nmax=MAX_BLOCKS):
        """A free extent: no write to the same LBA is in flight, so the
        order of writes to one LBA is the order they were sent."""
        for _ in range(50):
            n = rng.randint(1, nmax)
            lba = rng.randrange(0, REGION - n)
            if not any(lba + i in self.busy for i in range(n)):
                return lba, n
        return None

    def issue(self, lba, n, forbidden=False):
        with self.lock:
            seq = self.next_seq
            self.next_seq += 1
            for i in range(n):
                self.busy.add(lba + i)
                target = self.forbidden if forbidden else self.issued
                target.setdefault(lba + i, set()).add(seq)
        return seq

    def done(self, lba, n):
        for i in range(n):
            self.busy.discard(lba + i)

    def ack(self, lba, n, seq):
        with self.lock:
            self.acked += 1
            for i in range(n):
                if self.durable.get(lba + i, 0) < seq:
                    self.durable[lba + i] = seq

    def check_sector(self, lba, raw):
        """None when the sector is acceptable, else why not."""
        seq = decode(lba, raw)
        want = self.durable.get(lba, 0)
        if seq is None:
            return "LBA %d: torn or foreign data" % lba
        if seq in self.forbidden.get(lba, ()):
            return "LBA %d holds write #%d whose data was never " \
                "fully sent" % (lba, seq)
        if seq < want:
            return "LBA %d holds write #%d, older than acknowledged " \
                "write #%d" % (lba, seq, want)
        if seq != want and seq not in self.issued.get(lba, ()):
            return "LBA %d holds write #%d, never sent there" % (lba, seq)
        return None


def session(port, iqn, **kw):
    c = pt.Connection(port=port, timeout=10.0, isid=b"\x80" + os.urandom(5))
    c.login(INITIATOR, iqn, **kw)
    pt.clear_unit_attention(c)
    return c


def read_region(c):
    out = bytearray()
    step = 128
    for lba in range(0, REGION, step):
        st, data, p = c.scsi(pt.cdb_read10(lba, step), read_len=step * BLOCK)
        if st != pt.SCSI_GOOD:
            raise RuntimeError("READ at %d: status %r" % (lba, st))
        out += data
    return bytes(out)


def read_file(path):
    with open(path, "rb") as f:
        data = f.read(REGION * BLOCK)
    return data + bytes(REGION * BLOCK - len(data))


def check_image(st, data, label):
    bad = []
    for lba in range(REGION):
        why = st.check_sector(lba, data[lba * BLOCK:(lba + 1) * BLOCK])
        if why:
            bad.append(why)
    result("%s %s: every acknowledged write present (%s)" %
           (st.mode, st.iqn.rsplit(":", 1)[-1], label),
           not bad, "%d bad sectors, first: %s" % (len(bad), bad[:3]))
    return not bad


def verify_lun(port, st):
    """Read through iSCSI and from the file; then make this the new
    baseline (everything read is on the medium after a SYNCHRONIZE
    CACHE)."""
    c = session(port, st.iqn)
    via_iscsi = read_region(c)
    s, _, _ = c.scsi(pt.cdb_sync_cache10())
    c.logout()
    c.close()
    via_file = read_file(st.image)
    # The checker itself: a durable sector replaced by zeros is caught.
    lost = [lba for lba in range(REGION) if st.durable.get(lba, 0) > 0]
    if lost:
        lba = random.choice(lost)
        bad = bytearray(via_file)
        bad[lba * BLOCK:(lba + 1) * BLOCK] = bytes(BLOCK)
        why = st.check_sector(lba, bytes(bad[lba * BLOCK:(lba + 1) * BLOCK]))
        result("%s: the check notices a lost write" % st.mode,
               why is not None, "zeroed LBA %d passed" % lba)
    ok1 = check_image(st, via_iscsi, "read through iSCSI")
    ok2 = check_image(st, via_file, "read from the file")
    result("%s: iSCSI and file agree" % st.mode, via_iscsi == via_file,
           "they differ")
    if ok1 and ok2 and s == pt.SCSI_GOOD:
        for lba in range(REGION):
            seq = decode(lba, via_file[lba * BLOCK:(lba + 1) * BLOCK])
            st.durable[lba] = seq
            # Only writes newer than the baseline can still show up.
            if lba in st.issued:
                st.issued[lba] = {x for x in st.issued[lba] if x > seq}
    st.save()


# ------------------------------------------------------------------
# Is an acknowledged write's data out of the page cache?
# ------------------------------------------------------------------

KPF_DIRTY = 4
KPF_WRITEBACK = 8
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16


class PageCheck:
    """The flags of the image's cached pages; disabled (why says why)
    where pagemap shows no page frame numbers (not root) or kpageflags
    cannot be read."""

    def __init__(self, image):
        self.why = None
        self.addr = None
        self.fds = []
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                  ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long]
            fd = os.open(image, os.O_RDONLY)
            self.fds.append(fd)
            addr = libc.mmap(None, REGION * BLOCK, 1, 1, fd, 0)  # RO, shared
            if addr is None or addr == ctypes.c_void_p(-1).value:
                raise OSError(ctypes.get_errno(), "mmap")
            self.addr = addr
            self.pm = os.open("/proc/self/pagemap", os.O_RDONLY)
            self.fds.append(self.pm)
            self.kf = os.open("/proc/kpageflags", os.O_RDONLY)
            self.fds.append(self.kf)
            if self.flags(0) is None:
                self.why = "pagemap shows no page frame numbers (not root?)"
        except OSError as e:
            self.why = "%s: %s" % (type(e).__name__, e)

    def flags(self, page):
        """The page's kpageflags, or None when it is not known."""
        va = self.addr + page * PAGE
        ctypes.string_at(va, 1)         # map it (a cache hit: no I/O)
        e, = struct.unpack("<Q", os.pread(self.pm, 8, va // PAGE * 8))
        pfn = e & ((1 << 55) - 1)
        if not e >> 63 or pfn == 0:
            return None
        f, = struct.unpack("<Q", os.pread(self.kf, 8, pfn * 8))
        return f

    def written_back(self, page):
        """True or False, or None when it cannot be judged."""
        f = self.flags(page)
        if f is None or f >> KPF_COMPOUND_HEAD & 1 or \
                f >> KPF_COMPOUND_TAIL & 1:
            return None
        return not (f >> KPF_DIRTY & 1 or f >> KPF_WRITEBACK & 1)

    def close(self):
        for fd in self.fds:
            os.close(fd)


def pages_of(lba, n):
    return range(lba // SECTORS_PER_PAGE,
                 (lba + n - 1) // SECTORS_PER_PAGE + 1)


class PageLedger:
    """Which in-flight writes share a page: such a page is not judged for
    any of them (the other may have dirtied it after this one's flush)."""

    def __init__(self):
        self.inflight = {}      # page -> set of seqs
        self.tainted = {}       # seq -> set of pages

    def issue(self, lba, n, seq):
        mine = self.tainted.setdefault(seq, set())
        for p in pages_of(lba, n):
            others = self.inflight.setdefault(p, set())
            if others:
                mine.add(p)
                for s in others:
                    self.tainted[s].add(p)
            others.add(seq)

    def end(self, lba, n, seq):
        """The pages of write seq that may be judged now."""
        bad = self.tainted.pop(seq, set())
        for p in pages_of(lba, n):
            self.inflight[p].discard(seq)
        return [p for p in pages_of(lba, n) if p not in bad]


# ------------------------------------------------------------------
# The writer and the kill
# ------------------------------------------------------------------

class Writer(threading.Thread):
    def __init__(self, port, st, seed):
        super().__init__(daemon=True)
        self.port, self.st = port, st
        self.rng = random.Random(seed)
        self.completed = 0
        self.inflight = 0
        self.error = None
        self.login_error = None
        self.ready = threading.Event()
        self.counts = {"fua": 0, "plain": 0, "sync": 0}
        self.pages = PageCheck(st.image)
        self.ledger = PageLedger()
        self.judged = 0
        self.unjudged = 0
        self.dirty = []         # (lba, n, seq, page) acknowledged unflushed

    def check_pages(self, lba, n, seq):
        """A durable GOOD for write seq: its pages must be written back."""
        pages = self.ledger.end(lba, n, seq)
        if self.pages.why:
            return
        self.unjudged += len(pages_of(lba, n)) - len(pages)
        for p in pages:
            ok = self.pages.written_back(p)
            if ok is None:
                self.unjudged += 1
            elif ok:
                self.judged += 1
            else:
                self.judged += 1
                self.dirty.append((lba, n, seq, p))

    def run(self):
        st, rng = self.st, self.rng
        try:
            c = session(self.port, st.iqn)
        except Exception as e:
            self.login_error = "%s: %s" % (type(e).__name__, e)
            self.ready.set()
            return
        q = pt.Inflight(c)
        cmds = {}               # itt -> (kind, lba, n, seq | snapshot)
        good_plain = []         # GOOD plain writes not yet synced
        sync_busy = False
        end = time.monotonic() + WRITER_SECONDS
        try:
            while time.monotonic() < end:
                while len(cmds) < WRITER_DEPTH and q.can_submit():
                    r = rng.random()
                    if r < 0.12 and not sync_busy:
                        itt = q.submit(pt.cdb_sync_cache10())
                        cmds[itt] = ("sync", 0, 0, good_plain)
                        good_plain = []
                        sync_busy = True
                        continue
                    ext = st.pick(rng)
                    if ext is None:
                        break
                    lba, n = ext
                    fua = r < 0.5
                    seq = st.issue(lba, n)
                    self.ledger.issue(lba, n, seq)
                    itt = q.submit(pt.cdb_write10(lba, n, fua=fua),
                                   write_data=payload(lba, n, seq))
                    cmds[itt] = ("fua" if fua else "plain", lba, n, seq)
                self.inflight = len(cmds)
                itt, status, _, pdu = q.reap()
                kind, lba, n, x = cmds.pop(itt)
                if status != pt.SCSI_GOOD:
                    raise RuntimeError("%s status %r sense %s" %
                                       (kind, status, pdu.sense().hex()))
                self.counts[kind] += 1
                if kind == "sync":
                    sync_busy = False
                    for w in x:
                        st.ack(*w)
                else:
                    st.done(lba, n)
                    if kind == "fua" or st.mode == "wt":
                        self.check_pages(lba, n, x)
                        st.ack(lba, n, x)
                    else:
                        self.ledger.end(lba, n, x)
                        good_plain.append((lba, n, x))
                self.completed += 1
                if self.completed >= 30:
                    self.ready.set()
            self.error = "ietd was not killed within %.0f s" % \
                WRITER_SECONDS
        except (EOFError, ConnectionError, socket.timeout, OSError):
            pass                # the kill
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.ready.set()
            c.close()
            self.pages.close()


def cmd_write(port, pid, rnd, specs):
    states = [State(s) for s in specs]
    rng = random.Random()
    writers = [Writer(port, st, rng.random()) for st in states]
    for w in writers:
        w.start()
    for w in writers:
        w.ready.wait(WRITER_SECONDS)
    time.sleep(rng.uniform(0.0, 0.8))
    inflight = [w.inflight for w in writers]
    os.kill(pid, signal.SIGKILL)
    for w in writers:
        w.join(WRITER_SECONDS)
    for w, st, n in zip(writers, states, inflight):
        st.save()
        if w.login_error:
            result("round %d %s: writer logs in" % (rnd, st.mode), False,
                   w.login_error)
            continue
        result("round %d %s: writer ran until the SIGKILL (%d done: "
               "%d FUA, %d plain, %d SYNCHRONIZE CACHE; %d durable; "
               "%d in flight at the kill)" %
               (rnd, st.mode, w.completed, w.counts["fua"],
                w.counts["plain"], w.counts["sync"], st.acked, n),
               w.error is None and w.completed > 0 and not w.is_alive(),
               w.error or "no progress")
        if w.pages.why:
            note("round %d %s: pages not checked: %s" %
                 (rnd, st.mode, w.pages.why))
            continue
        result("round %d %s: every durable GOOD came after its pages were "
               "written back (%d pages judged, %d shared or in large "
               "folios)" % (rnd, st.mode, w.judged, w.unjudged),
               not w.dirty and w.judged > 0,
               "%d pages still dirty at GOOD, first (lba, blocks, write, "
               "page): %s" % (len(w.dirty), w.dirty[:3])
               if w.dirty else "no page could be judged")


def cmd_verify(port, specs):
    for s in specs:
        st = State(s)
        try:
            verify_lun(port, st)
        except Exception as e:
            result("%s: verify" % st.mode, False,
                   "%s: %s" % (type(e).__name__, e))


# ------------------------------------------------------------------
# Connections dropped with commands in flight
# ------------------------------------------------------------------

def abort_socket(c):
    """Close with RST (SO_LINGER 0): the target sees a reset, not FIN."""
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()


def drop_lun(port, st, rng):
    good = []
    # 1. Writes in flight (immediate data and R2T), socket reset or
    #    closed.
    c = session(port, st.iqn)
    q = pt.Inflight(c)
    sent = {}
    for _ in range(DEPTH):
        ext = st.pick(rng)
        if ext is None or not q.can_submit():
            break
        lba, n = ext
        seq = st.issue(lba, n)
        sent[q.submit(pt.cdb_write10(lba, n, fua=rng.random() < 0.5),
                      write_data=payload(lba, n, seq))] = (lba, n, seq)
    for _ in range(rng.randint(0, 3)):
        itt, status, _, _ = q.reap()
        if status == pt.SCSI_GOOD:
            good.append(sent[itt])
    if rng.random() < 0.5:
        abort_socket(c)
    else:
        c.close()
    # 2. Data-Out cut in the middle of its data, then a plain close; and
    #    one cut in the middle of its header.
    for cut_in_header in (False, True):
        c = session(port, st.iqn, immediate_data=False, initial_r2t=True)
        lba, n = st.pick(rng, 16)
        seq = st.issue(lba, n, forbidden=True)
        data = payload(lba, n, seq)
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, pt.cdb_write10(lba, n), len(data),
                               c.cmdsn, c.exp_statsn, write=True))
        c.cmdsn += 1
        r2t = c.recv()
        if r2t.opcode != pt.OP_R2T:
            raise RuntimeError("no R2T but %r" % r2t)
        raw = pt.frame_pdu(pt.data_out(0, itt, r2t.ttt, c.exp_statsn, 0, 0,
                                       len(data)), data)
        c.sock.sendall(raw[:20] if cut_in_header else
                       raw[:pt.BHS_LEN + len(data) // 2])
        time.sleep(0.05)
        c.close()
    for lba in list(st.busy):
        st.busy.discard(lba)
    # Writes of the dead sessions may still be finishing in the backend.
    time.sleep(0.3)
    c = session(port, st.iqn)
    via_iscsi = read_region(c)
    c.logout()
    c.close()
    # "Visible" is what a GOOD promises here; durable is checked after
    # the kill. Judge against a copy with these writes as acknowledged.
    for w in good:
        st.ack(*w)
    ok = check_image(st, via_iscsi, "after dropped connections, "
                     "%d GOOD before the reset" % len(good))
    ok = check_image(st, read_file(st.image),
                     "after dropped connections, from the file") and ok
    verify_lun(port, st)
    return ok


def cmd_drop(port, specs):
    rng = random.Random()
    for s in specs:
        st = State(s)
        try:
            drop_lun(port, st, rng)
        except Exception as e:
            result("%s: dropped connections" % st.mode, False,
                   "%s: %s" % (type(e).__name__, e))


def main():
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "write":
        cmd_write(port, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    elif what == "verify":
        cmd_verify(port, sys.argv[3:])
    elif what == "drop":
        cmd_drop(port, sys.argv[3:])
    else:
        print(__doc__)
        return 2
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
