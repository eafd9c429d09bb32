#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Single-stream TCP throughput over 127.0.0.1, the ceiling for every
iSCSI figure of bench/run.sh. A forked receiver drains one connection that
the parent fills with large writes; the receiver times first to last byte.
Usage: loopback.py GIB RUNS  -> prints "median_MBps run1 run2 ..." (MB = 1e6 B).
"""

import os
import socket
import statistics
import sys
import time

CHUNK = 4 * 1024 * 1024  # large buffers: measure the stack, not syscalls
GIB = 1024 * 1024 * 1024


def receive(lsock, total, wfd):
    conn, _ = lsock.accept()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    got = conn.recv_into(view)
    start = time.perf_counter()
    while got < total:
        n = conn.recv_into(view)
        if n == 0:
            break
        got += n
    elapsed = time.perf_counter() - start
    conn.close()
    os.write(wfd, f"{got} {elapsed}\n".encode())


def one_run(total):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            receive(lsock, total, wfd)
        finally:
            os._exit(0)
    os.close(wfd)
    lsock.close()
    snd = socket.create_connection(("127.0.0.1", port))
    data = memoryview(bytes(CHUNK))
    sent = 0
    while sent < total:
        sent += snd.send(data[: min(CHUNK, total - sent)])
    snd.close()
    line = b""
    while not line.endswith(b"\n"):
        part = os.read(rfd, 100)
        if not part:
            break
        line += part
    os.close(rfd)
    os.waitpid(pid, 0)
    got, elapsed = line.decode().split()
    return int(got) / float(elapsed) / 1e6


def main():
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 4
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rates = [one_run(int(gib * GIB)) for _ in range(runs)]
    print(f"{statistics.median(rates):.1f} " + " ".join(f"{r:.1f}" for r in rates))


if __name__ == "__main__":
    main()
