#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""The scale benchmark of ietd (bench/scale.sh runs it; see bench/README.md).

1. Throughput scaling: N sessions, each with DEPTH random 4 KiB reads in
   flight, for several N, on a nullio and a tmpfs LUN; runs interleaved
   between N and between targets (ietd, and tgtd for context), median of
   RUNS. The load comes from bench/scale_load (many libiscsi sessions in
   one poll loop per process); a few iscsi-perf-per-session runs show what
   one process per session does to two CPUs.
   With a base build of ietd (SCALE_IETD_BASE, or BENCH_IETD_BASE), a
   second ietd, "ietd-base", joins the alternation with the same config,
   so that the scale ratios of a change and of its base commit are measured
   under the same load of the machine.
2. Idle sessions: the resident memory of ietd before, with and after 1000
   logged-in idle sessions (one target, then spread over four), and how many
   sessions ietd holds under a soft descriptor limit of 1024.
3. A Markdown report (and the raw CSV) in bench/results/.

Usage: scale.py LOADER_BINARY   (settings come from SCALE_* variables)
"""

import csv
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
IQN = "iqn.2026-11.org.ietd:scale"
LUN_BYTES = 1 << 30
LUN_SECTORS = LUN_BYTES // 512
READ_BLOCKS = 8                 # 4 KiB reads
TICK = os.sysconf("SC_CLK_TCK")
IDLE_TARGETS = 4                # targets for the spread-out idle run
NOFILE_CHECK = 1024             # a common default soft limit (systemd)
TIMEOUT = 120                   # seconds for any one step; a hang is a result


def env(name, default):
    return os.environ.get(name, default)


def env_list(name, default):
    return [int(x) for x in env(name, default).split()]


SECONDS = float(env("SCALE_SECONDS", "3"))
RUNS = int(env("SCALE_RUNS", "3"))
SESSIONS = env_list("SCALE_SESSIONS", "1 8 32 64 256")
DEPTH = int(env("SCALE_DEPTH", "4"))
LUNS = env("SCALE_LUNS", "null tmpfs").split()
TARGETS = env("SCALE_TARGETS", "ietd tgtd").split()
TGTD_SESSIONS = env_list("SCALE_TGTD_SESSIONS", "8 256")
PROCS = int(env("SCALE_PROCS", "8"))
PERF_SESSIONS = env_list("SCALE_PERF_SESSIONS", "8 256")
IDLE = int(env("SCALE_IDLE", "1000"))
IETD = env("SCALE_IETD", os.path.join(TOP, "build", "ietd"))
IETD_BASE = env("SCALE_IETD_BASE", env("BENCH_IETD_BASE", ""))
if IETD_BASE and "ietd-base" not in TARGETS:
    # Right after ietd, so the two meet the same phases of the machine.
    at = TARGETS.index("ietd") + 1 if "ietd" in TARGETS else len(TARGETS)
    TARGETS.insert(at, "ietd-base")
OUT = env("SCALE_OUT", os.path.join(HERE, "results"))
KEEP = env("SCALE_KEEP", "0") == "1"


def log(msg):
    print("scale: " + msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_ticks(pid):
    """utime + stime of a whole process (fields 14 and 15 of stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(") ", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, IndexError):
        return 0


def machine_ticks():
    """(busy, total) ticks of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]          # idle + iowait
    return sum(v) - idle, sum(v)


def proc_status(pid):
    """VmRSS, VmHWM (KiB), open descriptors and threads of a process."""
    out = {"rss": 0, "hwm": 0, "fds": 0, "threads": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == "VmRSS":
                    out["rss"] = int(v.split()[0])
                elif k == "VmHWM":
                    out["hwm"] = int(v.split()[0])
                elif k == "Threads":
                    out["threads"] = int(v)
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def nofile_limit(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    soft, hard = line.split()[3:5]
                    return soft, hard
    except OSError:
        pass
    return "?", "?"


def session_ids(status_dir):
    """Session ids listed in ietd's status file (IET's session format)."""
    try:
        with open(os.path.join(status_dir, "session")) as f:
            return re.findall(r"\bsid:(\d+)", f.read())
    except OSError:
        return []


def wait_listen(port, alive, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not alive():
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Daemon:
    """A target we started: its pid, port and how to reach its LUNs."""

    def __init__(self, name, work):
        self.name = name
        self.work = work
        self.proc = None
        self.port = free_port()
        self.state = "not started"
        self.status_dir = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid


class Ietd(Daemon):
    LUN = {"null": 0, "tmpfs": 1}

    def __init__(self, work, tag, nofile=None, targets=1, name="ietd",
                 binary=None):
        super().__init__(name, work)
        self.binary = binary or IETD
        self.dir = os.path.join(work, name + "-" + tag)
        os.makedirs(self.dir)
        self.status_dir = os.path.join(self.dir, "status")
        self.shm = f"/dev/shm/ietd-scale.{os.getpid()}.{name}-{tag}"
        self.nofile = nofile
        self.targets = targets

    def start(self):
        with open(self.shm, "w") as f:
            f.truncate(LUN_BYTES)
        conf = os.path.join(self.dir, "ietd.conf")
        with open(conf, "w") as f:
            for t in range(1, self.targets + 1):
                f.write(f"Target {self.iqn(t)}\n")
                f.write(f"    Lun 0 Sectors={LUN_SECTORS},Type=nullio\n")
                if t == 1:
                    f.write(f"    Lun 1 Path={self.shm},Type=fileio,"
                            "IOMode=wb\n")
                # 0 = no limit on sessions (ietd.conf(5)); said explicitly.
                f.write("    MaxSessions 0\n")
                f.write("    QueuedCommands 32\n")
        none = os.path.join(self.dir, "none")
        args = ["-c", conf, "-a", "127.0.0.1", "-p", str(self.port),
                "--pid-file", os.path.join(self.dir, "ietd.pid"),
                "--initiators-allow", none, "--initiators-deny", none,
                "--targets-allow", none,
                "--control=" + os.path.join(self.dir, "ctl.sock"),
                "--status-dir=" + self.status_dir]
        chk = subprocess.run([self.binary, "-t"] + args, capture_output=True,
                             text=True)
        if chk.returncode != 0:
            self.state = f"failed: ietd -t exit {chk.returncode}"
            log(chk.stdout + chk.stderr)
            return False
        nofile = self.nofile

        def limit():
            if nofile is not None:
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        self.log = os.path.join(self.dir, "ietd.log")
        self.proc = subprocess.Popen([self.binary, "-f"] + args,
                                     preexec_fn=limit,
                                     stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        if not wait_listen(self.port, self.alive):
            self.state = "failed: not listening"
            return False
        self.state = "ok"
        return True

    def iqn(self, t=1):
        return IQN if t == 1 else f"{IQN}-{t}"

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                log(f"ietd (pid {self.pid}) did not stop, killing it")
                self.proc.kill()
                self.proc.wait()
        if os.path.exists(self.shm):
            os.unlink(self.shm)


class Tgtd(Daemon):
    LUN = {"null": 1, "tmpfs": 2}   # LUN 0 of a tgtd target: its controller

    def __init__(self, work):
        super().__init__("tgtd", work)
        self.sock = os.path.join(work, "tgt.sock")
        self.shm = f"/dev/shm/ietd-scale.{os.getpid()}.tgtd"
        self.env = dict(os.environ, TGT_IPC_SOCKET=self.sock)

    def adm(self, *args):
        r = subprocess.run(["tgtadm", "--lld", "iscsi"] + list(args),
                           env=self.env, capture_output=True, text=True,
                           timeout=10)
        return r.returncode == 0

    def start(self):
        if shutil.which("tgtd") is None:
            self.state = "failed: tgtd not installed"
            return False
        with open(self.shm, "w") as f:
            f.truncate(LUN_BYTES)
        self.proc = subprocess.Popen(
            ["tgtd", "-f", "--iscsi", f"portal=127.0.0.1:{self.port}"],
            env=self.env, stdout=open(os.path.join(self.work, "tgtd.log"),
                                      "w"), stderr=subprocess.STDOUT)
        for _ in range(50):
            if self.adm("--op", "show", "--mode", "target"):
                break
            time.sleep(0.1)
        ok = (self.adm("--op", "new", "--mode", "target", "--tid", "1",
                       "-T", IQN)
              and self.adm("--op", "new", "--mode", "logicalunit", "--tid",
                           "1", "--lun", "1", "--bstype", "null", "-b",
                           "null")
              and self.adm("--op", "new", "--mode", "logicalunit", "--tid",
                           "1", "--lun", "2", "-b", self.shm)
              and self.adm("--op", "bind", "--mode", "target", "--tid", "1",
                           "-I", "ALL"))
        if not ok or not wait_listen(self.port, self.alive):
            self.state = "failed: tgtadm set-up"
            return False
        self.state = "ok"
        return True

    def iqn(self, t=1):
        return IQN

    def stop(self):
        # tgtd ignores SIGTERM: it stops through its own control socket.
        if self.alive():
            self.adm("--op", "delete", "--force", "--mode", "target",
                     "--tid", "1")
            subprocess.run(["tgtadm", "--op", "delete", "--mode", "system"],
                           env=self.env, capture_output=True, timeout=10)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                log(f"tgtd (pid {self.pid}) did not stop, killing it")
                self.proc.kill()
                self.proc.wait()
        if os.path.exists(self.shm):
            os.unlink(self.shm)


class Loaders:
    """scale_load processes sharing a number of sessions."""

    def __init__(self, binary, work, daemon, plan, depth, lun,
                 login_limit=60):
        # plan: [(target iqn, sessions), ...], one process each
        self.procs = []
        self.work = work
        for i, (iqn, n) in enumerate(plan):
            err = open(os.path.join(work, f"load-{i}.err"), "w")
            self.procs.append(subprocess.Popen(
                [binary, "-p", f"127.0.0.1:{daemon.port}", "-T", iqn,
                 "-n", str(n), "-q", str(depth), "-l", str(lun),
                 "-s", str(LUN_SECTORS), "-b", str(READ_BLOCKS),
                 "-t", str(SECONDS), "-L", str(login_limit)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                text=True, bufsize=1))

    def lines(self, word, limit=TIMEOUT):
        """The next line starting with word from every process."""
        out = []
        end = time.monotonic() + limit
        for p in self.procs:
            while True:
                left = end - time.monotonic()
                if left <= 0 or not select.select([p.stdout], [], [],
                                                  left)[0]:
                    out.append(None)
                    break
                line = p.stdout.readline()
                if not line:
                    out.append(None)
                    break
                if line.startswith(word + " "):
                    out.append(line.split()[1:])
                    break
        return out

    def ready(self):
        """(sessions up, sessions failed) once every process logged in."""
        up = failed = 0
        for r in self.lines("ready"):
            if r is None:
                return None
            up += int(r[0])
            failed += int(r[1])
        return up, failed

    def send(self, word):
        for p in self.procs:
            try:
                p.stdin.write(word + "\n")
                p.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def results(self):
        """(I/Os in the window, window seconds, errors, logged out)."""
        ios = errors = out = 0
        window = 0.0
        for r in self.lines("result"):
            if r is None:
                return None
            ios += int(r[0])
            window = max(window, float(r[1]))
            errors += int(r[2])
            out += int(r[3])
        return ios, window, errors, out

    def pids(self):
        return [p.pid for p in self.procs]

    def errors_text(self):
        text = ""
        for i in range(len(self.procs)):
            with open(os.path.join(self.work, f"load-{i}.err")) as f:
                text += f.read()
        return text.strip()

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def split(n, procs):
    """n sessions over at most procs processes, as evenly as possible."""
    procs = max(1, min(procs, n))
    return [n // procs + (1 if i < n % procs else 0) for i in range(procs)]


class Bench:
    def __init__(self, loader):
        self.loader = loader
        self.work = tempfile.mkdtemp(prefix="ietd-scale.")
        self.daemons = []
        self.stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
        os.makedirs(OUT, exist_ok=True)
        self.csv_path = os.path.join(OUT, f"{self.stamp}-scale.csv")
        self.md_path = os.path.join(OUT, f"{self.stamp}-scale.md")
        self.rows = []
        self.perf_rows = []
        self.idle_rows = []
        self.notes = []

    # ---- throughput -------------------------------------------------

    def measure(self, d, lun, n, run):
        row = {"target": d.name, "lun": lun, "sessions": n, "run": run,
               "status": "failed: interrupted", "ios": 0, "seconds": 0.0,
               "target_cpu": 0.0, "load_cpu": 0.0, "busy_cpu": 0.0,
               "wall_cpu": 0.0, "sids": ""}
        if not d.alive():
            row["status"] = f"failed: {d.name} not running ({d.state})"
            self.rows.append(row)
            return
        plan = [(d.iqn(), k) for k in split(n, PROCS)]
        ld = Loaders(self.loader, self.work, d, plan, DEPTH, d.LUN[lun])
        try:
            r = ld.ready()
            if r is None or r[0] != n:
                row["status"] = (f"failed: {r[0] if r else '?'} of {n} "
                                 "sessions logged in")
                log(f"  {ld.errors_text()[-400:]}")
                return
            if d.status_dir:
                row["sids"] = len(set(session_ids(d.status_dir)))
            c0 = cpu_ticks(d.pid)
            l0 = sum(cpu_ticks(p) for p in ld.pids())
            b0, t0 = machine_ticks()
            ld.send("go")
            time.sleep(SECONDS)
            c1 = cpu_ticks(d.pid)
            l1 = sum(cpu_ticks(p) for p in ld.pids())
            b1, t1 = machine_ticks()
            ld.send("stop")
            res = ld.results()
            if res is None:
                row["status"] = "failed: no result from scale_load"
                return
            ios, window, errors, out = res
            row["status"] = "ok"
            if errors:
                row["status"] = f"failed: {errors} read errors"
            elif window <= 0 or ios == 0:
                row["status"] = "failed: no I/O completed"
            row.update(ios=ios, seconds=window,
                       target_cpu=(c1 - c0) / TICK, load_cpu=(l1 - l0) / TICK,
                       busy_cpu=(b1 - b0) / TICK, wall_cpu=(t1 - t0) / TICK)
            if out != n:
                self.notes.append(f"{d.name} {lun} N={n} run {run}: only "
                                  f"{out} of {n} sessions logged out "
                                  "cleanly")
        finally:
            ld.kill()
            self.rows.append(row)
            if row["status"] == "ok":
                log(f"  {d.name} {lun} N={n} run {run}: "
                    f"{row['ios'] / row['seconds']:,.0f} IOPS, "
                    f"{d.name} cpu {row['target_cpu']:.2f} s, "
                    f"load cpu {row['load_cpu']:.2f} s")
            else:
                log(f"  {d.name} {lun} N={n} run {run}: {row['status']}")

    def throughput(self):
        daemons = []
        for name in TARGETS:
            d = Ietd(self.work, "tp") if name == "ietd" else \
                Ietd(self.work, "tp", name=name, binary=IETD_BASE) \
                if name == "ietd-base" and IETD_BASE else \
                Tgtd(self.work) if name == "tgtd" else None
            if d is None:
                log(f"unknown target {name} (ietd, ietd-base with "
                    "SCALE_IETD_BASE, tgtd)")
                continue
            self.daemons.append(d)
            d.start()
            log(f"{name} on port {d.port}: {d.state}"
                + (f", pid {d.pid}" if d.alive() else ""))
            daemons.append(d)
        for lun in LUNS:
            log(f"throughput, {lun} LUN, {DEPTH} x 4 KiB random reads in "
                "flight per session")
            for run in range(1, RUNS + 1):
                for n in SESSIONS:
                    for d in daemons:
                        if d.name == "tgtd" and n not in TGTD_SESSIONS:
                            continue
                        self.measure(d, lun, n, run)
        ietd = next((d for d in daemons if d.name == "ietd"), None)
        if ietd is not None and ietd.alive():
            self.fd_limit_main = nofile_limit(ietd.pid)
            self.perf(ietd)
        for d in daemons:
            d.stop()

    def perf(self, d):
        """One iscsi-perf process per session: what it does to 2 CPUs."""
        if not PERF_SESSIONS or shutil.which("iscsi-perf") is None:
            return
        url = f"iscsi://127.0.0.1:{d.port}/{d.iqn()}/{d.LUN['null']}"
        for n in PERF_SESSIONS:
            log(f"iscsi-perf x {n}, null LUN")
            outs = [os.path.join(self.work, f"perf-{n}-{i}.out")
                    for i in range(n)]
            c0 = cpu_ticks(d.pid)
            b0, t0 = machine_ticks()
            w0 = time.monotonic()
            procs = [subprocess.Popen(
                ["iscsi-perf", "-t", str(int(SECONDS)), "-m", str(DEPTH),
                 "-b", str(READ_BLOCKS), "-r", url],
                stdout=open(o, "w"), stderr=subprocess.STDOUT)
                for o in outs]
            # Halfway through: does ietd list n distinct sessions?
            time.sleep(max(1.0, SECONDS / 2))
            sids = session_ids(d.status_dir)
            pticks = sum(cpu_ticks(p.pid) for p in procs)
            deadline = time.monotonic() + SECONDS + TIMEOUT
            for p in procs:
                try:
                    p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            wall = time.monotonic() - w0
            c1 = cpu_ticks(d.pid)
            b1, t1 = machine_ticks()
            total = ok = 0
            for o in outs:
                with open(o, errors="replace") as f:
                    v = re.findall(r"iops average (\d+)",
                                   f.read().replace("\r", "\n"))
                if v:
                    total += int(v[-1])
                    ok += 1
            self.perf_rows.append({
                "sessions": n, "ok": ok, "iops": total, "wall": wall,
                "target_cpu": (c1 - c0) / TICK, "busy_cpu": (b1 - b0) / TICK,
                "wall_cpu": (t1 - t0) / TICK, "sids": len(sids),
                "distinct": len(set(sids)), "perf_cpu_half": pticks / TICK})
            log(f"  {ok} of {n} reported, sum of averages {total:,} IOPS, "
                f"{len(set(sids))} distinct sessions listed")

    # ---- idle sessions ----------------------------------------------

    def idle_one(self, label, targets, sessions, nofile=None):
        d = Ietd(self.work, f"idle{len(self.idle_rows)}", nofile=nofile,
                 targets=targets)
        self.daemons.append(d)
        row = {"label": label, "targets": targets, "tried": sessions,
               "status": "ok"}
        if not d.start():
            row["status"] = d.state
            self.idle_rows.append(row)
            return
        log(f"idle: {label} (ietd pid {d.pid})")
        row["limit"] = nofile_limit(d.pid)
        time.sleep(0.5)
        row["before"] = proc_status(d.pid)
        per = split(sessions, targets)
        plan = [(d.iqn(t + 1), k) for t, k in enumerate(per)]
        # With a descriptor limit ietd stops accepting: give up sooner.
        ld = Loaders(self.loader, self.work, d, plan, 0, 0,
                     login_limit=20 if nofile else 60)
        try:
            r = ld.ready()
            if r is None:
                row["status"] = "failed: scale_load did not finish logging in"
                return
            row["up"], row["failed"] = r
            time.sleep(1)
            row["with"] = proc_status(d.pid)
            row["listed"] = len(set(session_ids(d.status_dir)))
            row["alive"] = d.alive()
            ld.send("stop")
            res = ld.results()
            row["out"] = res[3] if res else 0
            time.sleep(1)
            row["after"] = proc_status(d.pid)
            if r[1]:
                row["status"] = f"{r[1]} of {sessions} logins failed"
                errs = ld.errors_text().splitlines()
                if errs:
                    row["why"] = errs[0][:200]
                    with open(d.log) as f:
                        text = f.readlines()
                    for key, word in (("ietd_accept", "accept failed"),
                                      ("ietd_login", "not authorized")):
                        hit = [ln for ln in text if word in ln]
                        if hit:
                            row[key] = hit[0].strip()[:200]
        finally:
            ld.kill()
            d.stop()
            self.idle_rows.append(row)
            if "with" in row:
                grow = row["with"]["rss"] - row["before"]["rss"]
                log(f"  {row['up']} up, RSS {row['before']['rss']} -> "
                    f"{row['with']['rss']} -> {row['after']['rss']} KiB "
                    f"({grow / max(1, row['up']):.1f} KiB/session)")

    def idle(self):
        if IDLE <= 0:
            return
        self.idle_one(f"{IDLE} sessions, 1 target", 1, IDLE)
        self.idle_one(f"{IDLE} sessions over {IDLE_TARGETS} targets",
                      IDLE_TARGETS, IDLE)
        self.idle_one(f"{IDLE + 100} sessions tried, ietd soft fd limit "
                      f"{NOFILE_CHECK}", 1, IDLE + 100, nofile=NOFILE_CHECK)

    # ---- report -----------------------------------------------------

    def write_csv(self):
        keys = ["target", "lun", "sessions", "run", "status", "ios",
                "seconds", "target_cpu", "load_cpu", "busy_cpu", "wall_cpu",
                "sids"]
        with open(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            for r in self.rows:
                w.writerow({k: r.get(k, "") for k in keys})

    def report(self, command):
        L = []
        ncpu = os.cpu_count()
        L.append(f"# ietd scale benchmark — "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        L.append("")
        load = open("/proc/loadavg").read().split()[:3]
        L.append(f"- Machine: {socket.gethostname()}, {ncpu} CPUs, "
                 f"Linux {os.uname().release}; load average at the end "
                 f"{' '.join(load)}; this script ran at nice "
                 f"{os.nice(0)}. **Figures are from a shared, loaded "
                 "machine**: other engineers' builds and tests ran at the "
                 "same time (the `others` column), so compare rows of one "
                 "report, not reports.")
        L.append(f"- Command: `{command}`")
        L.append(f"- Settings: seconds={SECONDS:g} runs={RUNS} "
                 f"sessions={' '.join(map(str, SESSIONS))} depth={DEPTH} "
                 f"luns={' '.join(LUNS)} targets={' '.join(TARGETS)} "
                 + (f"ietd_base={IETD_BASE} " if IETD_BASE else "") +
                 f"tgtd_sessions={' '.join(map(str, TGTD_SESSIONS))} "
                 f"loader_procs={PROCS} idle={IDLE}")
        L.append("- Load: `bench/scale_load` (libiscsi, one poll loop per "
                 f"process, sessions split over up to {PROCS} processes); "
                 "every session logs in first, then a common window of "
                 f"{SECONDS:g} s counts completed 4 KiB random READ(16)s.")
        lim = getattr(self, "fd_limit_main", None)
        if lim:
            L.append(f"- ietd's descriptor limit in the throughput runs: "
                     f"soft {lim[0]}, hard {lim[1]} (inherited from "
                     "scale.sh, which raises its soft limit to the hard one)")
        L.append("")
        L.append("## Throughput scaling")
        L.append("")
        L.append("IOPS = median over the runs of the aggregate I/Os per "
                 "second. CPU columns are CPU seconds per second of the "
                 "window (1.00 = one whole CPU) from /proc/PID/stat and "
                 "/proc/stat: the target (all threads), the load "
                 "generator, and everything else on the machine. "
                 "ms/1k I/O = CPU milliseconds of the target (or of the load "
                 "generator) per 1000 I/Os: when the target's grows with "
                 "the session count and the load generator's does not, the "
                 "target is what slows down. Spread = (max - min) / median "
                 "of the runs' IOPS.")
        L.append("")
        L.append("| target | LUN | sessions | IOPS | vs 8 sessions | "
                 "target ms/1k I/O | load ms/1k I/O | target CPU | "
                 "load CPU | others | idle | runs ok | spread |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                 "---:|---:|")
        ratios = []
        groups = {}
        for r in self.rows:
            groups.setdefault((r["target"], r["lun"], r["sessions"]),
                              []).append(r)
        med = {}
        for key, rs in groups.items():
            ok = [r for r in rs if r["status"] == "ok"]
            if ok:
                iops = [r["ios"] / r["seconds"] for r in ok]
                med[key] = statistics.median(iops)
        order = {t: i for i, t in enumerate(TARGETS)}
        for (t, lun, n), rs in sorted(groups.items(),
                                      key=lambda kv: (kv[0][1],
                                                      order.get(kv[0][0], 99),
                                                      kv[0][2])):
            ok = [r for r in rs if r["status"] == "ok"]
            if not ok:
                L.append(f"| {t} | {lun} | {n} | {rs[0]['status']} | | | "
                         f"| | | | | 0 | |")
                continue
            iops = [r["ios"] / r["seconds"] for r in ok]
            m = statistics.median(iops)
            spread = (max(iops) - min(iops)) / m if m else 0
            msk = statistics.median(r["target_cpu"] * 1e6 / r["ios"]
                                    for r in ok)
            lmsk = statistics.median(r["load_cpu"] * 1e6 / r["ios"]
                                     for r in ok)

            def share(f):
                return statistics.median(f(r) / r["seconds"] for r in ok)
            tcpu = share(lambda r: r["target_cpu"])
            lcpu = share(lambda r: r["load_cpu"])
            other = share(lambda r: max(0.0, r["busy_cpu"] - r["target_cpu"]
                                        - r["load_cpu"]))
            idle = share(lambda r: r["wall_cpu"] - r["busy_cpu"])
            base = med.get((t, lun, 8))
            vs = f"{m / base:.2f}" if base and n != 8 else \
                ("1.00" if n == 8 else "—")
            if n != 8 and base and n == max(SESSIONS):
                ratios.append((t, lun, n, m / base))
            L.append(f"| {t} | {lun} | {n} | {m:,.0f} | {vs} | {msk:.2f} | "
                     f"{lmsk:.2f} | {tcpu:.2f} | {lcpu:.2f} | {other:.2f} | "
                     f"{idle:.2f} | {len(ok)}/{len(rs)} | {spread:.0%} |")
        L.append("")
        for t, lun, n, q in ratios:
            verdict = "meets" if q >= 0.8 else "does NOT meet"
            L.append(f"- {t}, {lun} LUN: {n} sessions give {q:.2f} x the "
                     f"IOPS of 8 sessions ({verdict} the 0.80 goal of "
                     "issue 7)" if t.startswith("ietd") else
                     f"- {t} (context), {lun} LUN: {n}/8 sessions = {q:.2f}")
        # A change against its base commit, measured in the same run.
        scale = {(t, lun): q for t, lun, n, q in ratios}
        for lun in LUNS:
            new, old = scale.get(("ietd", lun)), scale.get(("ietd-base", lun))
            if new is not None and old is not None and old > 0:
                L.append(f"- ietd against ietd-base ({IETD_BASE}), {lun} "
                         f"LUN: scale ratio {new:.2f} against {old:.2f} "
                         f"({new / old:.2f} x)")
            for n in SESSIONS:
                a = med.get(("ietd", lun, n))
                b = med.get(("ietd-base", lun, n))
                if a is not None and b:
                    L.append(f"- ietd / ietd-base IOPS, {lun} LUN, {n} "
                             f"sessions: {a / b:.2f}")
        if self.perf_rows:
            L.append("")
            L.append("### One iscsi-perf process per session (null LUN)")
            L.append("")
            L.append(f"`iscsi-perf -t {int(SECONDS)} -m {DEPTH} -b "
                     f"{READ_BLOCKS} -r URL` x N, all started at once, one "
                     "run each. IOPS = sum of the processes' final "
                     "`iops average`; the windows do not line up and "
                     "include login, so this is only an indication. The "
                     "CPU columns cover the whole wall time.")
            L.append("")
            L.append("| sessions | reported | sum IOPS | ietd ms/1k I/O | "
                     "ietd CPU | all busy CPU | distinct sessions listed "
                     "by ietd | wall s |")
            L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
            for p in self.perf_rows:
                ms = p["target_cpu"] * 1e6 / (p["iops"] * SECONDS) \
                    if p["iops"] else 0
                L.append(f"| {p['sessions']} | {p['ok']} | {p['iops']:,} | "
                         f"{ms:.2f} | {p['target_cpu'] / p['wall']:.2f} | "
                         f"{p['busy_cpu'] / p['wall']:.2f} | "
                         f"{p['distinct']} of {p['sessions']} | "
                         f"{p['wall']:.1f} |")
        if self.idle_rows:
            L.append("")
            L.append("## Idle sessions: ietd's resident memory")
            L.append("")
            L.append("A fresh ietd per row; `scale_load -q 0` logs the "
                     "sessions in (32 logins in progress at a time) and "
                     "holds them idle. VmRSS / VmHWM from /proc/PID/status "
                     "before the logins, 1 s after the last one, and 1 s "
                     "after all logged out. KiB/session = (RSS with - RSS "
                     "before) / sessions up.")
            L.append("")
            L.append("| run | up | listed | RSS before | RSS with | RSS "
                     "after logout | VmHWM | KiB/session | fds before/with "
                     "| threads | fd limit (soft/hard) | result |")
            L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                     "---|---|")
            for r in self.idle_rows:
                if "with" not in r:
                    L.append(f"| {r['label']} | | | | | | | | | | | "
                             f"{r['status']} |")
                    continue
                b, w, a = r["before"], r["with"], r["after"]
                per = (w["rss"] - b["rss"]) / max(1, r["up"])
                res = r["status"]
                if "why" in r:
                    res += f"; initiator: `{r['why']}`"
                for key in ("ietd_accept", "ietd_login"):
                    if key in r:
                        res += f"; ietd log: `{r[key]}`"
                if not r.get("alive", True):
                    res += "; ietd DIED"
                L.append(f"| {r['label']} | {r['up']} | {r['listed']} | "
                         f"{b['rss'] / 1024:.1f} MiB | {w['rss'] / 1024:.1f} "
                         f"MiB | {a['rss'] / 1024:.1f} MiB | "
                         f"{a['hwm'] / 1024:.1f} MiB | {per:.1f} | "
                         f"{b['fds']}/{w['fds']} | {w['threads']} | "
                         f"{r['limit'][0]}/{r['limit'][1]} | {res} |")
            main = self.idle_rows[0]
            if "with" in main:
                grow = (main["with"]["rss"] - main["before"]["rss"]) / 1024
                scaled = grow * 1000 / max(1, main["up"])
                L.append("")
                L.append(f"- Issue 7 goal, 1000 idle sessions in at most "
                         f"64 MiB: {grow:.1f} MiB for {main['up']} sessions"
                         f" ({scaled:.1f} MiB per 1000): "
                         f"{'meets' if scaled <= 64 else 'does NOT meet'} "
                         "it.")
        for r in self.idle_rows:
            if "with" in r and r["limit"][0] != "unlimited" and \
                    r["up"] < r["tried"]:
                L.append(f"- Under a soft descriptor limit of "
                         f"{r['limit'][0]}, ietd held {r['up']} sessions "
                         f"({r['before']['fds']} descriptors open before "
                         "the first login, one socket per session); ietd "
                         "does not raise its soft limit towards the hard "
                         f"one ({r['limit'][1]}). The other "
                         f"{r['tried'] - r['up']} logins were refused "
                         "(see the result column).")
        if self.notes:
            L.append("")
            L.append("## Notes")
            L.append("")
            for n in self.notes:
                L.append(f"- {n}")
        L.append("")
        with open(self.md_path, "w") as f:
            f.write("\n".join(L))

    def cleanup(self):
        for d in self.daemons:
            try:
                d.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {d.name}: {e}")
        if KEEP:
            log(f"logs and configs kept in {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    loader = sys.argv[1]
    # The command as it could be typed again: settings, niceness, script.
    words = [f"{k}='{v}'" if " " in v else f"{k}={v}"
             for k, v in sorted(os.environ.items()) if k.startswith("SCALE_")
             or (k == "BENCH_IETD_BASE" and "SCALE_IETD_BASE" not in
                 os.environ)]
    if os.nice(0) > 0:
        words.append(f"nice -n {os.nice(0)}")
    command = " ".join(words + ["bench/scale.sh"])
    if not os.access(IETD, os.X_OK):
        log(f"{IETD} is not built (make build/ietd)")
        return 1
    if IETD_BASE and not os.access(IETD_BASE, os.X_OK):
        log(f"the base ietd {IETD_BASE} is not an executable")
        return 1

    def stop(signum, frame):
        raise KeyboardInterrupt
    # Also SIGINT: started in the background, Python would inherit it
    # ignored and never see Ctrl-C.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    b = Bench(loader)
    t0 = time.monotonic()
    try:
        b.throughput()
        b.idle()
        b.write_csv()
        b.report(command)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        b.cleanup()
    with open(b.md_path) as f:
        print(f.read())
    log(f"wrote {b.md_path} and {b.csv_path} in "
        f"{time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
