#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""ietadm --json against doc/ietadm-json.md: every answer parses, and
every member has the documented type (numbers as JSON numbers, chosen by
name: a user name made of digits stays a string).

Usage: 0306-ietadm-json.py PORT TARGET IETADM CONTROL-SOCKET
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT, TARGET, IETADM, CONTROL = sys.argv[1:5]
result = pt.Results()
run = result.run
NUMBERS = {"tid", "lun", "state", "blocks", "blocksize", "sid", "cid",
           "Sectors", "BlockSize", "Size", "MaxConnections", "MaxSessions",
           "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
           "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait",
           "DefaultTime2Retain", "MaxOutstandingR2T", "ErrorRecoveryLevel",
           "NOPInterval", "NOPTimeout", "Wthreads", "QueuedCommands",
           "iSCSIProtocolLevel"}


def ietadm(*args):
    r = subprocess.run([IETADM, "--control=" + CONTROL, "--json"] +
                       list(args), capture_output=True, text=True,
                       timeout=10)
    if r.returncode != 0:
        raise AssertionError("ietadm %s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout)


def check_types(obj, where="$"):
    """Every member: numbers for NUMBERS (ints, never bool), strings
    otherwise (a connection's state is a word); lists and objects
    recursed."""
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            check_types(v, "%s[%d]" % (where, i))
        return
    assert isinstance(obj, dict), "%s: %r" % (where, obj)
    for k, v in obj.items():
        w = where + "." + k
        if isinstance(v, (list, dict)):
            check_types(v, w)
        elif k in NUMBERS and not (k == "state" and ".connections[" in w):
            assert type(v) is int and v >= 0, "%s: %r is not a number" % (w, v)
        else:
            assert isinstance(v, str), "%s: %r is not a string" % (w, v)


def shape(obj, members):
    missing = [m for m in members if m not in obj]
    assert not missing, "missing %s in %r" % (missing, obj)


c = pt.Connection(port=int(PORT))
c.login("iqn.2026-11.org.example:json", TARGET)


def targets():
    d = ietadm("--op", "show")
    check_types(d)
    assert d == [{"tid": 1, "name": TARGET}], d


def params():
    d = ietadm("--op", "show", "--tid=1")
    check_types(d)
    shape(d, ["MaxConnections", "QueuedCommands", "InitialR2T"])
    assert d["QueuedCommands"] == 32 and d["InitialR2T"] == "Yes", d


def volume():
    d = ietadm("--op", "show", "--status=volume")
    check_types(d)
    lu = d[0]["luns"][0]
    shape(lu, ["lun", "state", "iotype", "iomode", "blocks", "blocksize",
               "path"])
    assert lu["blocks"] == 32768 and lu["blocksize"] == 512, lu


def sessions():
    d = ietadm("--op", "show", "--status=session")
    check_types(d)
    s = d[0]["sessions"][0]
    shape(s, ["sid", "initiator", "connections"])
    assert s["sid"] > 0xffff, s   # ISID << 16 | TSIH: a 64-bit number
    shape(s["connections"][0], ["cid", "ip", "state", "hd", "dd"])
    p = ietadm("--op", "show", "--tid=1", "--sid=%d" % s["sid"])
    check_types(p)
    shape(p, ["MaxRecvDataSegmentLength", "HeaderDigest"])


def digit_user():
    r = subprocess.run([IETADM, "--control=" + CONTROL, "--op", "new",
                        "--tid=1", "--user",
                        "--params=IncomingUser=12345,Password=secretsecret12"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    d = ietadm("--op", "show", "--tid=1", "--user")
    check_types(d)
    assert d["IncomingUser"] == [{"user": "12345",
                                  "password": "secretsecret12"}], d


def new_and_resize():
    d = ietadm("--op", "new", "--tid=0", "--params=Name=" + TARGET + "-2")
    check_types(d)
    assert isinstance(d["tid"], int) and d["tid"] >= 2, d
    d = ietadm("--op", "show", "--dump")
    assert isinstance(d["config"], str) and TARGET + "-2" in d["config"], d


run("--op show: [{tid: number, name: string}]", targets)
run("--op show --tid: numeric keys are numbers", params)
run("--status=volume: lun, state, blocks, blocksize numbers", volume)
run("--status=session and --sid: sid, cid numbers", sessions)
run("a user name of digits stays a string", digit_user)
run("--op new answers {tid: number}; --dump a string", new_and_resize)
c.logout()
c.close()
sys.exit(1 if result.failures else 0)
