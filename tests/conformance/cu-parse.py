#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Turn iscsi-test-cu's verbose output into "ALL.Suite.Test VERDICT" lines.

The verdict of a test is what CUnit prints right after "Test: NAME ..."
or at the start of a later line: "passed" or "FAILED". Indented
"[FAILED] ..." lines are the suite's own chatter (also inside passing
tests) and are not verdicts. A test that printed "[SKIPPED]" before its
verdict is SKIP: skipping is not passing. A test with no verdict (the
client hung or crashed) is FAIL.

usage: cu-parse.py SUITE < log    (SUITE like ALL.Read10 or
       ALL.Read10.Simple for a single test)
"""
import re
import sys

TEST = re.compile(r"^  Test: (\S+) \.\.\.(.*)$")
VERDICT = re.compile(r"^(passed|FAILED)\b")


def parse(suite, lines):
    results = []
    # One test run alone (ALL.Suite.Test): CUnit prints its bare name.
    suite = ".".join(suite.split(".")[:2])
    name, skipped = None, False

    def close(verdict):
        nonlocal name
        if verdict == "passed":
            results.append((name, "SKIP" if skipped else "PASS"))
        else:
            results.append((name, "FAIL"))
        name = None

    for line in lines:
        line = line.rstrip("\n")
        m = TEST.match(line)
        if m:
            if name is not None:
                close(None)
            name = "%s.%s" % (suite, m.group(1))
            skipped = False
            rest = m.group(2)
            v = VERDICT.match(rest)
            if v:
                close(v.group(1))
            elif "[SKIPPED]" in rest:
                skipped = True
            continue
        if name is None:
            continue
        if line.startswith("Run Summary"):
            close(None)
            continue
        v = VERDICT.match(line)
        if v:
            close(v.group(1))
        elif "[SKIPPED]" in line:
            skipped = True
    if name is not None:
        close(None)
    return results


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, verdict in parse(sys.argv[1], sys.stdin):
        print(name, verdict)


if __name__ == "__main__":
    main()
