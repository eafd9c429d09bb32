#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Turn the raw CSV of bench/run.sh into the Markdown report: one row per
LUN kind, workload and target with the medians of the successful runs, the
ietd/peer ratio and the target's CPU cost.
Usage: report.py RAW.csv OUT.md SETTINGS TARGET_STATES [STORE_NOTES]
"""

import csv
import os
import platform
import statistics
import subprocess
import sys
import time

GIB = 1024 ** 3

LUN_TITLES = {
    "null": "null device (ietd nullio, tgtd bs null, istgt /dev/zero)",
    "tmpfs": "1 GiB sparse file on tmpfs (/dev/shm)",
    "disk": "1 GiB sparse file on disk (/var/tmp)",
    "digest": "tmpfs file, CRC32C header digest required by the target",
    "wt": ("1 GiB file on disk (/var/tmp), write-through: ietd IOMode=wt, "
           "tgtd write cache off (fdatasync after each WRITE), istgt "
           "WriteCache Disable (no effect on Linux: it writes back)"),
    "blk": ("1 GiB loop device (direct I/O to a file in /var/tmp), through "
            "its page cache: ietd fileio, tgtd rdwr, istgt the device"),
    "blk-direct": ("1 GiB loop device (direct I/O to a file in /var/tmp), "
                   "O_DIRECT: ietd blockio, tgtd rdwr --bsoflags direct; "
                   "istgt has none"),
    "rbd": ("RBD image on a throwaway Ceph cluster (one memstore OSD), "
            "librbd cache off: ietd Type=rbd, tgtd bs rbd (tgt-rbd), "
            "librbd = bench/rbd_load on librbd directly (the ceiling)"),
}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu = sh("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1")
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2 / 1048576}' /proc/meminfo")
    pkgs = sh("dpkg-query -W -f '${Package} ${Version}, ' "
              "tgt istgt libiscsi-bin qemu-utils tgt-rbd librbd1 "
              "2>/dev/null").rstrip(", ")
    return (f"{platform.node()}, {os.cpu_count()} CPUs ({cpu}), {mem}, "
            f"Linux {platform.release()}; {pkgs}")


def fmt(v, digits):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def cores(v):
    return "—" if v is None else f"{v:.2f}"


def main():
    raw, out, settings, states = sys.argv[1:5]
    store_notes = sys.argv[5] if len(sys.argv) > 5 else ""
    with open(raw, newline="") as f:
        rows = list(csv.DictReader(f))

    loopback = []
    floor = []  # responder CPU ms per 1k depth-1 4 KiB round trips
    order = []  # (lun, workload) in the order first measured
    targets = []
    runs = {}  # (lun, workload, target) -> list of row dicts
    fails = {}
    for r in rows:
        if r["lun"] == "loopback":
            loopback.append(float(r["bytes"]) / float(r["seconds"]) / 1e6)
            continue
        if r["lun"] == "floor":
            floor.append(float(r["cpu_s"]) * 1e6 / float(r["ios"]))
            continue
        key = (r["lun"], r["workload"])
        if key not in order:
            order.append(key)
        if r["target"] not in targets:
            targets.append(r["target"])
        k = key + (r["target"],)
        if r["status"] == "ok" and float(r["seconds"]) > 0:
            runs.setdefault(k, []).append(r)
        else:
            fails.setdefault(k, []).append(r["status"])

    def figures(k):
        ok = runs.get(k, [])
        if not ok:
            return None
        iops = [float(r["ios"]) / float(r["seconds"]) for r in ok]
        mbps = [float(r["bytes"]) / float(r["seconds"]) / 1e6 for r in ok]
        per_gib = [float(r["cpu_s"]) / (float(r["bytes"]) / GIB) for r in ok]
        per_kio = [float(r["cpu_s"]) * 1e6 / float(r["ios"]) for r in ok]
        # Cores kept busy during the run: by the target, and by everything
        # else (the initiator, mostly) - shows when the initiator is the limit.
        ncpu = os.cpu_count() or 1
        tcores, rcores = [], []
        for r in ok:
            total = float(r.get("machine_total_s") or 0)
            if total > 0:
                busy = float(r.get("machine_busy_s") or 0)
                tcores.append(float(r["cpu_s"]) / total * ncpu)
                rcores.append(max(0.0, busy - float(r["cpu_s"])) / total * ncpu)
        med = statistics.median(mbps)
        spread = None
        if len(mbps) > 1 and med > 0:
            spread = (max(mbps) - min(mbps)) / med * 100
        return {
            "iops": statistics.median(iops),
            "mbps": med,
            "gib": statistics.median(per_gib),
            "kio": statistics.median(per_kio),
            "n": len(ok),
            "spread": spread,
            "tcores": statistics.median(tcores) if tcores else None,
            "rcores": statistics.median(rcores) if rcores else None,
        }

    lines = []
    lines.append(f"# ietd against tgtd and istgt — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    lines.append("")
    lines.append(f"- Machine: {machine()}")
    lines.append(f"- Settings: {settings}")
    if loopback:
        lines.append("- Loopback ceiling (one TCP stream, python3): "
                     f"{statistics.median(loopback):,.0f} MB/s median, "
                     f"{max(loopback):,.0f} MB/s best of {len(loopback)}")
    if floor:
        lines.append("- Depth-1 floor (bench/floor.c: a C responder that only "
                     "reads each 48-byte header + 4096-byte request and "
                     "writes a 48-byte reply, one epoll_wait + read + writev "
                     "each): "
                     f"{statistics.median(floor):.2f} CPU ms/1k requests "
                     f"median of {len(floor)} ("
                     + ", ".join(f"{v:.2f}" for v in floor) + "); the "
                     "kernel's TCP work under every target's depth-1 4 KiB "
                     "write")
    for s in states.splitlines():
        if s.strip():
            lines.append(f"- Target {s.replace('=', ': ', 1)}")
    for s in store_notes.splitlines():
        if s.strip():
            lines.append(f"- Store {s}")
    lines.append("- MB/s = 10^6 bytes/s, computed from IOPS x request size. "
                 "Figures are medians of the successful runs; spread = "
                 "(max - min) / median of MB/s. ietd/peer = ietd's median "
                 "MB/s divided by that peer's (> 1: ietd is faster).")
    if "ietd-base" in targets:
        lines.append("- ietd-base is the ietd binary of BENCH_IETD_BASE with "
                     "the same config, in the same alternation: on its rows "
                     "ietd/peer is this build against the base (> 1: this "
                     "build is faster; differences under about 20 % are "
                     "noise).")
    lines.append("- CPU = user + system time of the target process (all its "
                 "threads) over the run, including login and logout. "
                 "target cores / other cores = CPUs kept busy on average "
                 "by the target and by everything else (the initiator, "
                 "mostly; from /proc/stat): other cores near 1.0 means the "
                 "single-threaded initiator was the limit.")
    lines.append("")

    cur_lun = None
    for lun, wl in order:
        if lun != cur_lun:
            if cur_lun is not None:
                lines.append("")
            cur_lun = lun
            title = LUN_TITLES.get(lun, lun)
            if lun == "tmpfs" and "fill=1" in settings.split():
                title = "1 GiB file on tmpfs (/dev/shm), written through first"
            if lun == "disk" and "fill=1" in settings.split():
                title = ("1 GiB file on disk (/var/tmp), written through "
                         "and synced first")
            if lun in ("wt", "blk", "blk-direct") and \
                    "fill=1" in settings.split():
                title += "; written through and synced first"
            lines.append(f"## {title}")
            lines.append("")
            lines.append("| workload | target | IOPS | MB/s | ietd/peer | CPU s/GiB | CPU ms/1k I/O | target cores | other cores | runs ok | spread |")
            lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ietd = figures((lun, wl, "ietd"))
        for t in targets:
            f = figures((lun, wl, t))
            if f is None:
                why = sorted(set(fails.get((lun, wl, t), ["not run"])))
                lines.append(f"| {wl} | {t} | {why[0]} | | | | | | | 0 | |")
                continue
            spread_text = "—" if f["spread"] is None else f"{f['spread']:.0f}%"
            if t == "ietd":
                ratio = "—"
            elif ietd is None or f["mbps"] <= 0:
                ratio = "n/a"
            else:
                ratio = f"{ietd['mbps'] / f['mbps']:.2f}"
            lines.append(
                f"| {wl} | {t} | {fmt(f['iops'], 0)} | {fmt(f['mbps'], 1)} | "
                f"{ratio} | {fmt(f['gib'], 2)} | {fmt(f['kio'], 2)} | "
                f"{cores(f['tcores'])} | {cores(f['rcores'])} | "
                f"{f['n']} | {spread_text} |")
    if cur_lun is not None:
        lines.append("")

    lines.append("Notes: iscsi-perf workloads (`perf-*`) are READ16 only; "
                 "`q` = commands in flight. qemu-img bench workloads "
                 "(`qemu-*`) are sequential; `d` = queue depth; writes carry "
                 "a 0x5a pattern. tgtd's null store is 1 TiB (its fixed "
                 "size) and istgt has no null store, so its null row is "
                 "/dev/zero. The digest rows use header digests only: "
                 "libiscsi and qemu have no data digest.")
    if any(lun == "rbd" for lun, _ in order):
        # Issue 21's two ratios per workload in one table, with its goals
        # for 4 KiB random I/O at depth 32.
        lines.append("")
        lines.append("RBD ratios (ietd's median MB/s over the peer's):")
        lines.append("")
        lines.append("| workload | ietd/tgt-rbd | ietd/librbd | goal |")
        lines.append("|---|---:|---:|---|")
        for lun, wl in order:
            if lun != "rbd":
                continue
            ietd = figures((lun, wl, "ietd"))
            cells = []
            for peer in ("tgtd", "librbd"):
                f = figures((lun, wl, peer))
                if ietd is None or f is None or f["mbps"] <= 0:
                    cells.append("n/a")
                else:
                    cells.append(f"{ietd['mbps'] / f['mbps']:.2f}")
            goal = ""
            if "4k-q32" in wl:
                if "n/a" in cells:
                    verdict = "no figure"
                elif float(cells[0]) >= 1.5 and float(cells[1]) >= 0.9:
                    verdict = "met"
                else:
                    verdict = "not met"
                goal = f">= 1.50 and >= 0.90: {verdict}"
            lines.append(f"| {wl} | {cells[0]} | {cells[1]} | {goal} |")
        lines.append("")
        lines.append("RBD: `load-randwrite-4k-q32` is bench/scale_load -w "
                     "(one session, random WRITE16s of a 0x5a pattern). "
                     "The librbd rows are bench/rbd_load with the same "
                     "request size, pattern and depth through librbd's "
                     "aio calls, no iSCSI: its ietd/peer column is "
                     "ietd/librbd (issue 21's goal: at least 0.90 at 4 KiB "
                     "depth 32), tgtd's is ietd/tgt-rbd (goal: at least "
                     "1.5). Their CPU is rbd_load's own (load and librbd); "
                     "the OSD's and monitor's CPU is under other cores "
                     "for every target.")
    text = "\n".join(lines) + "\n"
    with open(out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
