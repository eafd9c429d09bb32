#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Resets from one session while another's connection dies with writes
under way (0775-closed-session-reset.sh).

Usage: 0775-closed-session-reset.py PORT TARGET ROUNDS

Each round, session A queues 24 write-through WRITEs of 8 KiB (all
immediate data) and drops its connection with a reset while they are
in the thread pool; session B sends LOGICAL UNIT RESET at once. The
reset walks the LU's tasks, A's among them, and reads their nexus: A's
session must still be there in memory (ietd once freed it at the
close, and AddressSanitizer saw the reset read freed memory). B must
get "function complete" every time; the shell side checks the log.
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT, TARGET, ROUNDS = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
TMF_LU_RESET = 5
result = pt.Results()


def main():
    b = pt.Connection(port=PORT, timeout=10.0,
                      isid=b"\x80\x00\x00\x77\x00\x02")
    b.login("iqn.2026-11.org.example:resetter", TARGET)
    pt.clear_unit_attention(b)
    data = os.urandom(8192)
    bad = []
    for r in range(ROUNDS):
        a = pt.Connection(port=PORT, timeout=10.0,
                          isid=b"\x80\x00\x00\x77\x00\x01")
        a.login("iqn.2026-11.org.example:dropper", TARGET,
                immediate_data=True, initial_r2t=False)
        pt.clear_unit_attention(a)
        frames = b""
        for i in range(24):
            frames += pt.frame_pdu(
                pt.scsi_command(0, a.next_itt(), pt.cdb_write10(i * 16, 16),
                                len(data), a.cmdsn, a.exp_statsn,
                                write=True, dsl=len(data)), data)
            a.cmdsn += 1
        a.sock.sendall(frames)
        time.sleep(0.002 * (r % 5))
        # RST, not FIN: the close is at once, writes still under way.
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        a.close()
        p = b.tmf(TMF_LU_RESET)
        if p.response != 0:
            bad.append((r, p.response))
        pt.clear_unit_attention(b)
    b.close()
    result("%d LU RESETs while another connection dies mid-write: "
           "function complete" % ROUNDS, not bad, "rounds %r" % bad)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
