#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""systemd's notify protocol, seen from a fake service manager.

Usage: 0175-sdnotify.py DIR PORT CONFIG -- IETD-COMMAND...

Plays the manager: binds an AF_UNIX datagram socket (abstract "@name",
then a path), starts ietd with NOTIFY_SOCKET (and WATCHDOG_USEC) set,
and checks what arrives (sd_notify(3)): READY=1 only once the port
accepts and the targets are served; WATCHDOG=1 every half of
WATCHDOG_USEC; RELOADING=1 then READY=1 around SIGHUP (also when the
reload fails); STOPPING=1 at SIGTERM. The ietd it starts is killed by
pid on the way out.
"""

import os
import signal
import socket
import subprocess
import sys
import time

DIR, PORT, CONFIG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CMD = sys.argv[sys.argv.index("--") + 1:]
failed = 0


def ok(name, cond, why=""):
    global failed
    if cond:
        print("ok - %s" % name)
    else:
        failed += 1
        print("not ok - %s: %s" % (name, why))


def port_accepts():
    try:
        socket.create_connection(("127.0.0.1", PORT), 0.5).close()
        return True
    except OSError:
        return False


class Manager:
    def __init__(self, addr, env):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.msgs = []  # (monotonic time, {key: value}, raw)
        e = dict(os.environ)
        e.update(env)
        self.proc = subprocess.Popen(CMD, env=e,
                                     stderr=open(os.path.join(DIR, "ietd.log"), "ab"))

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            raw = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        kv = dict(l.split("=", 1) for l in raw.split("\n") if "=" in l)
        self.msgs.append((time.monotonic(), kv, raw))
        return kv

    def wait_for(self, key, timeout=10.0, skip=("WATCHDOG",)):
        """Next message with key; others (but those in skip) are kept
        in self.others."""
        end = time.monotonic() + timeout
        self.others = []
        while time.monotonic() < end:
            kv = self.recv(max(0.01, end - time.monotonic()))
            if kv is None:
                break
            if key in kv:
                return kv
            if not any(k in kv for k in skip):
                self.others.append(kv)
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


# 1. Abstract socket, watchdog at 400 ms (a ping every 200 ms).
m = Manager("\0ietd-test-%d" % os.getpid(),
            {"NOTIFY_SOCKET": "@ietd-test-%d" % os.getpid(),
             "WATCHDOG_USEC": "400000"})
try:
    kv = m.wait_for("READY")
    accepts = port_accepts()
    ok("READY=1 arrives", kv is not None and kv.get("READY") == "1",
       repr(m.msgs))
    ok("the port accepts when READY=1 arrives", accepts)
    ok("STATUS= with READY=1 says what is served",
       kv is not None and kv.get("STATUS", "").startswith("serving 1 target"),
       repr(kv))
    # A session right after READY: the configuration was applied.
    r = subprocess.run(["iscsi-inq", "iscsi://127.0.0.1:%d/%s/0" %
                        (PORT, open(os.path.join(DIR, "target")).read().strip())],
                       capture_output=True, timeout=20)
    ok("the target serves after READY=1", r.returncode == 0, r.stderr)

    # Watchdog: pings at half of WATCHDOG_USEC. Pings queued while
    # iscsi-inq ran would arrive at once: drop them, then time fresh ones.
    while m.recv(0.001) is not None:
        pass
    t0 = time.monotonic()
    pings = []
    while time.monotonic() - t0 < 2.0:
        kv = m.recv(1.0)
        if kv and kv.get("WATCHDOG") == "1":
            pings.append(time.monotonic())
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    ok("WATCHDOG=1 every ~200 ms (WATCHDOG_USEC=400000)",
       7 <= len(pings) <= 13 and gaps and max(gaps) < 0.35 and min(gaps) > 0.1,
       "%d pings, gaps %s" % (len(pings), ["%.3f" % g for g in gaps]))

    # Reload: RELOADING=1, then READY=1.
    m.proc.send_signal(signal.SIGHUP)
    kv = m.wait_for("RELOADING")
    ok("SIGHUP: RELOADING=1 with MONOTONIC_USEC",
       kv is not None and kv.get("MONOTONIC_USEC", "").isdigit(), repr(kv))
    kv = m.wait_for("READY")
    ok("SIGHUP: READY=1 after the reload",
       kv is not None and "reloaded" in kv.get("STATUS", ""), repr(kv))

    # A reload that fails still ends with READY=1 (the old one serves).
    good = open(CONFIG).read()
    with open(CONFIG, "w") as f:
        f.write(good + "\nNoSuchKey 1\n")
    m.proc.send_signal(signal.SIGHUP)
    ok("failed reload: RELOADING=1", m.wait_for("RELOADING") is not None)
    kv = m.wait_for("READY")
    ok("failed reload: READY=1, STATUS says it failed",
       kv is not None and "reload failed" in kv.get("STATUS", ""), repr(kv))
    with open(CONFIG, "w") as f:
        f.write(good)
    ok("still serving after the failed reload", port_accepts())

    # Stop: STOPPING=1, and the process exits 0.
    m.proc.send_signal(signal.SIGTERM)
    kv = m.wait_for("STOPPING")
    ok("SIGTERM: STOPPING=1", kv is not None and kv.get("STOPPING") == "1",
       repr(m.msgs[-3:]))
    try:
        rc = m.proc.wait(15)
    except subprocess.TimeoutExpired:
        rc = "hung"
    ok("exit 0 after SIGTERM", rc == 0, rc)
finally:
    m.stop()

# 2. A socket path, no watchdog asked: READY, and no pings.
path = os.path.join(DIR, "notify.sock")
m = Manager(path, {"NOTIFY_SOCKET": path})
try:
    kv = m.wait_for("READY")
    ok("path socket: READY=1", kv is not None)
    ok("path socket: the port accepts at READY=1", port_accepts())
    ok("no WATCHDOG_USEC: no pings", m.wait_for("WATCHDOG", 1.0, ()) is None)
    m.proc.send_signal(signal.SIGTERM)
    ok("path socket: STOPPING=1", m.wait_for("STOPPING") is not None)
    m.proc.wait(15)
finally:
    m.stop()

# 3. WATCHDOG_PID naming another process: the watchdog is not ours.
m = Manager(path + "2", {"NOTIFY_SOCKET": path + "2",
                         "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
try:
    ok("WATCHDOG_PID=1: READY=1", m.wait_for("READY") is not None)
    ok("WATCHDOG_PID of another process: no pings",
       m.wait_for("WATCHDOG", 1.0, ()) is None)
    m.proc.send_signal(signal.SIGTERM)
    m.proc.wait(15)
finally:
    m.stop()
sys.exit(1 if failed else 0)
