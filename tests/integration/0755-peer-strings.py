#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
"""Peer strings never reach a status file, ietadm or the log raw.

Usage: 0755-peer-strings.py PORT TARGET STATUS-DIR IETADM CONTROL-SOCKET

An InitiatorName or TargetName that is not an iSCSI name (a newline
followed by a forged "sid:" line, control bytes, UTF-8, '_', blanks,
over 223 bytes, no iqn./eui./naa. prefix) is refused with login status
0x0207 (RFC 7143 11.13.5), and the session file gets no line from it.
InitiatorAlias is free text: accepted, and shown escaped by ietadm on
one line. Real initiators' names keep working, upper case included
(folded to lower case, as RFC 3722 maps names).
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol_tester as pt  # noqa: E402

PORT = int(sys.argv[1])
TARGET = sys.argv[2]
STATUS = os.path.join(sys.argv[3], "session")
IETADM = sys.argv[4]
CONTROL = sys.argv[5]
GOOD = "iqn.2026-11.org.example:peer-strings"
FORGED = b"\nsid:1 initiator:forged\ntid:9 name:iqn.2026-11.org.example:x"

result = pt.Results()


run = result.run


def closed(c, wait=5.0):
    c.sock.settimeout(wait)
    try:
        return c.sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def raw_keys(pairs):
    """key=value\\0 text from bytes, sent as is (no UTF-8 encoding)."""
    return b"".join(k + b"=" + v + b"\0" for k, v in pairs)


def refused(pairs, want=(0x02, 0x07)):
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    try:
        data = raw_keys(pairs)
        c.send(pt.login_request(c.isid, 0, 1, 0, 1, 0, pt.STAGE_SECURITY,
                                pt.STAGE_OPERATIONAL, dsl=len(data)), data)
        p = c.recv()
        if p.opcode != pt.OP_LOGIN_RSP:
            return "opcode 0x%02x" % p.opcode
        got = (p.status_class, p.status_detail)
        if got != want:
            return "status %02x%02x, want %02x%02x" % (got + want)
        if not closed(c):
            return "connection left open after a refused login"
        return None
    finally:
        c.close()


def normal(initiator, target=TARGET.encode()):
    return [(b"InitiatorName", initiator), (b"SessionType", b"Normal"),
            (b"TargetName", target), (b"AuthMethod", b"None")]


BAD_NAMES = [
    ("newline and a forged sid: line", GOOD.encode() + FORGED),
    ("carriage return", GOOD.encode() + b"\r"),
    ("escape sequence", GOOD.encode() + b"\x1b[31m"),
    ("tab", GOOD.encode() + b"\tx"),
    ("blank", GOOD.encode() + b" x"),
    ("underscore", GOOD.encode() + b"_x"),
    ("backslash", GOOD.encode() + b"\\x0a"),
    ("UTF-8", GOOD.encode() + "\u00e9".encode()),
    ("a byte over 0x7f", GOOD.encode() + b"\xff"),
    ("DEL", GOOD.encode() + b"\x7f"),
    ("224 bytes", (GOOD + ":" + "a" * (224 - len(GOOD) - 1)).encode()),
    ("no iqn./eui./naa. prefix", b"host.example.com"),
    ("iqn. without a date", b"iqn.example.com:x"),
    ("eui. with 15 digits", b"eui.0123456789abcde"),
]


def status_lines():
    with open(STATUS, "rb") as f:
        return f.read().split(b"\n")


def status_grammar_ok():
    """Every line of the session file is one of IET's three kinds."""
    for line in status_lines():
        if line == b"":
            continue
        if line.startswith(b"tid:") and b" name:" in line:
            continue
        if line.startswith(b"\tsid:") and b" initiator:" in line:
            continue
        if line.startswith(b"\t\tcid:"):
            continue
        return "unexpected line %r" % line
    return None


def wait_status(pred, wait=5.0):
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def ietadm(*args):
    return subprocess.run([IETADM, "--control=" + CONTROL] + list(args),
                          capture_output=True, timeout=20)


def sid_of(initiator):
    for line in status_lines():
        f = line.split()
        if len(f) == 2 and f[0].startswith(b"sid:") and \
                f[1] == b"initiator:" + initiator.encode():
            return f[0][4:].decode()
    return None


def case_alias():
    alias = "host\nsid:1 initiator:forged\x07\u00e9"
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    try:
        c.login(GOOD, TARGET, extra_keys=[("InitiatorAlias", alias)])
        if not wait_status(lambda: sid_of(GOOD) is not None):
            return "the session is not in the status file"
        why = status_grammar_ok()
        if why is not None:
            return "status file: " + why
        sid = sid_of(GOOD)
        r = ietadm("--op", "show", "--tid=1", "--sid=" + sid)
        if r.returncode != 0:
            return "ietadm show --sid failed: %r" % r.stderr
        lines = [x for x in r.stdout.split(b"\n")
                 if x.startswith(b"InitiatorAlias=")]
        want = (b"InitiatorAlias=host\\x0asid:1 initiator:forged"
                b"\\x07\\xc3\\xa9")
        if lines != [want]:
            return "ietadm shows %r, want %r" % (lines, want)
        if b"\nsid:1" in r.stdout or b"forged\n" in r.stdout:
            return "ietadm output has the alias's raw newline"
        r = ietadm("--op", "show", "--tid=1", "--sid=" + sid, "--json")
        d = json.loads(r.stdout)
        if d.get("InitiatorAlias") != want.decode()[len("InitiatorAlias="):]:
            return "--json gives %r" % d.get("InitiatorAlias")
        return None
    finally:
        c.close()


def case_forged_session_line():
    """A whole login with the forged name: refused, and while the
    connection stays open no status file line comes from it (ietd once
    made the session and wrote the name with its newlines)."""
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    try:
        try:
            c.login((GOOD.encode() + FORGED).decode(), TARGET)
            # Give the status file its refresh period (1 s).
            time.sleep(1.5)
        except pt.LoginError as e:
            got = (e.pdu.status_class, e.pdu.status_detail)
            if got != (0x02, 0x07):
                return "status %02x%02x, want 0207" % got
        lines = status_lines()
        if any(b"forged" in x or x.startswith(b"sid:1")
               or x.startswith(b"tid:9") for x in lines):
            return "the session file has forged lines: %r" % lines
        return status_grammar_ok()
    finally:
        c.close()


def case_upper_case_name():
    """Windows sends its host name in upper case: accepted, and shown in
    its folded (lower-case) form."""
    name = "iqn.1991-05.com.microsoft:WIN-HOST7.Example.com"
    c = pt.Connection(port=PORT, isid=b"\x80" + os.urandom(5))
    try:
        c.login(name, TARGET.upper())
        pt.clear_unit_attention(c)
        if not wait_status(lambda: sid_of(name.lower()) is not None):
            return "status file does not list %s" % name.lower()
        return None
    finally:
        c.close()


def main():
    for what, name in BAD_NAMES:
        run("InitiatorName with %s refused 0x0207" % what,
            lambda name=name: refused(normal(name)))
    run("TargetName with a newline refused 0x0207",
        lambda: refused(normal(GOOD.encode(), TARGET.encode() + FORGED)))
    run("TargetName with a byte over 0x7f refused 0x0207",
        lambda: refused(normal(GOOD.encode(), TARGET.encode() + b"\xfe")))
    run("discovery: InitiatorName with a newline refused 0x0207",
        lambda: refused([(b"InitiatorName", GOOD.encode() + FORGED),
                         (b"SessionType", b"Discovery"),
                         (b"AuthMethod", b"None")]))
    run("a whole login with a forged name puts no line in the session "
        "file", case_forged_session_line)
    run("InitiatorAlias with a newline accepted, escaped by ietadm "
        "(text and --json)", case_alias)
    run("upper-case InitiatorName and TargetName accepted",
        case_upper_case_name)
    sys.exit(1 if result.failures else 0)


if __name__ == "__main__":
    main()
