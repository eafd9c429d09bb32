#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Walk ietd's out-of-memory paths against the live daemon.

For each operation (a login, a discovery session, SCSI command
execution, a response with sense data, a WRITE on R2T and a READ in
several Data-In PDUs, ABORT TASK and LOGICAL UNIT RESET of a WRITE
waiting for its data, an ietadm request, a configuration reload), and
for N = 1, 2,
... the control socket's debug request arms ietd's allocation fault hook
so that the N-th allocation from then on fails; the operation runs (and
may fail: that is the point); then the hook is disarmed and asked how
many failures it injected. After every step ietd must still be running
and the same operation, run again without a fault, must succeed. The
walk of an operation ends at the first N its run no longer reaches.

    0730-alloc-faults.py PORT IQN CTL_SOCKET PIDFILE CONF LOG [MAX_N]
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import protocol_tester as pt  # noqa: E402

port, iqn, ctl_path, pidfile, conf, log_path = sys.argv[1:7]
port = int(port)
max_n = int(sys.argv[7]) if len(sys.argv) > 7 else 2000
ietadm = os.environ.get("IETADM", "build/ietadm")
pid = int(open(pidfile).read())
result = pt.Results()



def ctl(params):
    return pt.ctl_debug(ctl_path, params)


def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


# ---- the operations; each returns True when it succeeded ---------------

def op_login():
    c = pt.Connection(port=port, timeout=5)
    try:
        c.login("iqn.2026-11.org.ietd.test:faults", iqn)
        r = c.logout()
        return r.opcode == pt.OP_LOGOUT_RSP
    finally:
        c.close()


def op_discovery():
    c = pt.Connection(port=port, timeout=5)
    try:
        c.login("iqn.2026-11.org.ietd.test:faults", None,
                session_type="Discovery")
        keys = c.text([("SendTargets", "All")])
        return isinstance(keys, list) and \
            any(v == iqn for k, v in keys if k == "TargetName")
    finally:
        c.close()


session = None


def op_io():
    """WRITE then READ back 4 KiB on a session kept between runs."""
    global session
    if session is None:
        session = pt.Connection(port=port, timeout=5)
        session.login("iqn.2026-11.org.ietd.test:faults-io", iqn)
        pt.clear_unit_attention(session)
    data = os.urandom(4096)
    try:
        st, _, _ = session.scsi(pt.cdb_write10(8, 8), write_data=data)
        if st != pt.SCSI_GOOD:
            return False
        st, back, _ = session.scsi(pt.cdb_read10(8, 8), read_len=4096)
        return st == pt.SCSI_GOOD and back == data
    except Exception:           # noqa: BLE001 - the connection went
        session.close()
        session = None
        return False


def new_session(tag, **kw):
    c = pt.Connection(port=port, timeout=5,
                      isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-11.org.ietd.test:faults-%s" % tag, iqn, **kw)
    return c


sense_session = None


def prep_sense():
    """A fresh session: its first command meets the POWER ON unit
    attention, so the response carries sense data."""
    global sense_session
    if sense_session is not None:
        sense_session.close()
    sense_session = new_session("sense")


def op_sense():
    """TEST UNIT READY answered CHECK CONDITION with sense (a SCSI
    Response with a data segment), then GOOD."""
    c = sense_session
    try:
        st, _, p = c.scsi(bytes(6))
        sense = p.sense()
        if st != pt.SCSI_CHECK_CONDITION or len(sense) < 3 or \
                sense[2] & 0x0F != pt.SENSE_UNIT_ATTENTION:
            return False
        st, _, _ = c.scsi(bytes(6))
        return st == pt.SCSI_GOOD
    except Exception:           # noqa: BLE001 - the connection went
        return False


r2t_session = None


def op_r2t():
    """A WRITE whose data all comes on R2T (no immediate data), then a
    READ of it in several Data-In PDUs."""
    global r2t_session
    if r2t_session is None:
        r2t_session = new_session("r2t", immediate_data=False,
                                  initial_r2t=True, max_recv_dsl=4096)
        pt.clear_unit_attention(r2t_session)
    data = os.urandom(16384)
    try:
        st, _, _ = r2t_session.scsi(pt.cdb_write10(64, 32), write_data=data)
        if st != pt.SCSI_GOOD:
            return False
        st, back, _ = r2t_session.scsi(pt.cdb_read10(64, 32),
                                       read_len=16384)
        return st == pt.SCSI_GOOD and back == data
    except Exception:           # noqa: BLE001 - the connection went
        r2t_session.close()
        r2t_session = None
        return False


tmf_session = None


def op_tmf():
    """A WRITE waiting for the data of its R2T; ABORT TASK of it and a
    LOGICAL UNIT RESET, each answered; then the unit attention."""
    global tmf_session
    if tmf_session is None:
        tmf_session = new_session("tmf", immediate_data=False,
                                  initial_r2t=True)
        pt.clear_unit_attention(tmf_session)
    c = tmf_session
    try:
        itt = c.next_itt()
        c.send(pt.scsi_command(0, itt, pt.cdb_write10(128, 8), 4096,
                               c.cmdsn, c.exp_statsn, write=True))
        cmdsn = c.cmdsn
        c.cmdsn += 1
        r2t = c.recv()
        if r2t.opcode != pt.OP_R2T:
            raise RuntimeError("no R2T: %r" % r2t)
        if c.tmf(1, rtt=itt, refcmdsn=cmdsn).response != 0:
            return False
        if c.tmf(5).response != 0:
            return False
        pt.clear_unit_attention(c)
        return True
    except Exception:           # noqa: BLE001 - the connection went
        c.close()
        tmf_session = None
        return False


def ietadm_run(*args):
    return subprocess.run([ietadm, "--control=" + ctl_path] + list(args),
                          capture_output=True, text=True, timeout=10)


def op_ietadm():
    """Create and delete a target; a leftover of a failed run goes first."""
    name = "%s-extra" % iqn
    ietadm_run("--op", "delete", "--tid=" + name)
    if ietadm_run("--op", "new", "--tid=0",
                  "--params", "Name=" + name).returncode != 0:
        return False
    return ietadm_run("--op", "delete", "--tid=" + name).returncode == 0


base_conf = open(conf).read()
reload_gen = [0]


def reload_lines():
    with open(log_path, errors="replace") as f:
        return [ln for ln in f if " reload: " in ln]


def op_reload():
    """SIGHUP alternating between one LUN and two; success = ietd says
    it applied the file and REPORT LUNS shows the new inventory."""
    reload_gen[0] += 1
    nluns = 1 + reload_gen[0] % 2
    with open(conf, "w") as f:
        f.write(base_conf)
        if nluns == 2:
            f.write("\tLun 1 Sectors=2048,Type=nullio\n")
    before = len(reload_lines())
    os.kill(pid, signal.SIGHUP)
    deadline = time.time() + 5
    while True:
        lines = reload_lines()
        if len(lines) > before or time.time() > deadline:
            break
        time.sleep(0.01)
    if not lines[before:] or "configuration applied" not in lines[-1]:
        return False
    c = pt.Connection(port=port, timeout=5)
    try:
        c.login("iqn.2026-11.org.ietd.test:faults-reload", iqn)
        st, data, _ = c.scsi(bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
                                    0, 0]), read_len=4096)
        if st != pt.SCSI_GOOD:
            return False
        return struct.unpack(">I", data[:4])[0] // 8 == nluns
    finally:
        c.close()


def walk(name, op, prep=None):
    """prep, if given, sets up each run of op before the hook is armed."""
    if prep is not None:
        prep()
    if not op():
        result("%s works before the walk" % name, False, "it does not")
        return
    failed_runs = 0
    n = 1
    while n <= max_n:
        if prep is not None:
            prep()
        ctl("fail-alloc=%d" % n)
        try:
            good = op()
        except Exception:       # noqa: BLE001 - a failed run is allowed
            good = False
        hits = int(ctl("fail-alloc=0").split("=")[1])
        if not alive():
            result("%s: ietd survives a failed allocation %d" % (name, n),
                   False, "ietd died")
            return
        if not good:
            failed_runs += 1
            ok_again = False
            for _ in range(3):
                try:
                    if prep is not None:
                        prep()
                    ok_again = op()
                except Exception:  # noqa: BLE001
                    ok_again = False
                if ok_again:
                    break
            if not ok_again:
                result("%s: works again after failed allocation %d" %
                       (name, n), False, "it does not")
                return
        if hits == 0:
            break
        n += 1
    result("%s: %d allocation points walked, %d runs failed cleanly" %
           (name, n - 1, failed_runs), n <= max_n, "walk cut at %d" % max_n)


walk("login", op_login)
walk("discovery", op_discovery)
walk("SCSI commands", op_io)
walk("SCSI response with sense", op_sense, prep_sense)
walk("WRITE on R2T, READ in Data-In PDUs", op_r2t)
walk("task management responses", op_tmf)
walk("ietadm", op_ietadm)
walk("reload", op_reload)
result("ietd alive at the end", alive(), "dead")
sys.exit(1 if result.failures else 0)
