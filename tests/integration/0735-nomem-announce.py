#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""A WRITE whose data comes on R2T, with one allocation of ietd failed
in turn (N = 1, 2, ...): whichever it is, the command is answered (any
status) or its connection closes, at once. Never silence: an initiator
left waiting for a response that never comes stalls until its own
timeout (ietd's Data-Out timeout closes the connection only after 30 s).
The allocation that announces the waiting WRITE to its LU
(scsi_task_announce) used to leave it refused but still waiting for
Data-Out it then dropped.

    0735-nomem-announce.py PORT IQN CTL_SOCKET [MAX_N]
"""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
import protocol_tester as pt  # noqa: E402

port, iqn, ctl_path = sys.argv[1:4]
port = int(port)
max_n = int(sys.argv[4]) if len(sys.argv) > 4 else 200
result = pt.Results()
ANSWER_S = 3.0


def ctl(params):
    return pt.ctl_debug(ctl_path, params)


def new_session():
    c = pt.Connection(port=port, timeout=ANSWER_S,
                      isid=b"\x80" + os.urandom(5))
    c.login("iqn.2026-11.org.ietd.test:nomem", iqn, immediate_data=False,
            initial_r2t=True, max_recv_dsl=4096)
    pt.clear_unit_attention(c)
    return c


session = new_session()
data = os.urandom(16384)
silent = []
answered = closed = 0
n = 1
while n <= max_n:
    ctl("fail-alloc=%d" % n)
    try:
        st, _, _ = session.scsi(pt.cdb_write10(64, 32), write_data=data)
        answered += 1
    except socket.timeout:
        silent.append(n)
        st = None
    except (OSError, EOFError, RuntimeError, ConnectionError):
        closed += 1
        st = None
    hits = int(ctl("fail-alloc=0").split("=")[1])
    if st is None:
        session.close()
        session = new_session()
    if hits == 0:
        break
    n += 1

result("every failed allocation (%d walked) answered (%d) or closed (%d) "
       "within %.0f s" % (n - 1, answered, closed, ANSWER_S),
       not silent, "no answer for N = %s" % silent)
st, _, _ = session.scsi(pt.cdb_write10(64, 32), write_data=data)
result("a WRITE on R2T works after the walk", st == pt.SCSI_GOOD,
       "status %r" % st)
session.close()
sys.exit(1 if result.failures else 0)
