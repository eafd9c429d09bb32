#!/bin/bash
# SPDX-License-Identifier: ISC
# Foreground log lines: local ISO 8601 time stamps (text) and, with
# --log-format=json, one JSON object per line (connection lines with
# peer, initiator, tid, sid and cid members) that a hostile peer string
# (quotes, backslashes, newlines, control bytes, bytes that are not
# UTF-8) cannot break or forge. A few seconds.
. "$(dirname "$0")/lib.sh"

img=$(make_image d.img 16M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:log
	Lun 0 Path=$img
CONF

# A login whose InitiatorName carries every hostile byte (refused 0x0207,
# and logged with the name).
hostile_login() {
	python3 - "$PORT" "$IQN_BASE:log" <<'PY'
import os, sys
sys.path.insert(0, os.environ["TESTDIR"])
import protocol_tester as pt
port, target = int(sys.argv[1]), sys.argv[2].encode()
name = b'iqn.2026-11.x:"},{"level":"forged"\n{"time":"0"}\r\\\x01\x1b[31m\xff\xc3('
data = b"".join(k + b"=" + v + b"\0" for k, v in [
    (b"InitiatorName", name), (b"SessionType", b"Normal"),
    (b"TargetName", target), (b"AuthMethod", b"None")])
c = pt.Connection(port=port, isid=b"\x80" + os.urandom(5))
c.send(pt.login_request(c.isid, 0, 1, 0, 1, 0, pt.STAGE_SECURITY,
                        pt.STAGE_OPERATIONAL, dsl=len(data)), data)
p = c.recv()
print("status %02x%02x" % (p.status_class, p.status_detail))
c.close()
PY
}
export TESTDIR=$(cd "$(dirname "$0")" && pwd)

# Text: "2026-12-07T21:55:03.123+05:30: message", in local time.
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'
TZ=IST-05:30 ietd_start || { not_ok start; finish; exit 1; }
iscsi-inq "$(url log 0)" >/dev/null
ietd_stop
check "text: every line starts with an ISO 8601 time" bash -c \
	"! grep -Ev '^$iso: ' '$IETD_LOG'"
check "text: the time is local (TZ=IST-05:30 gives +05:30)" grep -Eq \
	"^[0-9-]{10}T[0-9:]{8}\.[0-9]{3}\+05:30: ietd .* started$" "$IETD_LOG"
check "text: the clock is now (within a minute)" python3 - "$IETD_LOG" <<'PY'
import datetime, sys
first = open(sys.argv[1]).readline()
t = datetime.datetime.fromisoformat(first.split(": ", 1)[0])
now = datetime.datetime.now(datetime.timezone.utc)
sys.exit(0 if abs((now - t).total_seconds()) < 60 else 1)
PY

ietd_start --log-format=json -d 1 || { not_ok start; finish; exit 1; }
iscsi-inq "$(url log 0)" >/dev/null
out=$(hostile_login 2>&1)
[ "$out" = "status 0207" ] && ok "hostile login refused" ||
	not_ok "hostile login refused" "$out"
ietd_stop
check "json: every line is one JSON object with time, level, message" \
	python3 - "$IETD_LOG" <<'PY'
import datetime, json, sys
n = 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        o = json.loads(raw.decode("utf-8"))   # strict: valid UTF-8 too
        base = {"time", "level", "message"}
        extra = {"peer", "initiator", "tid", "sid", "cid"}
        assert base <= set(o) <= base | extra, o
        for k in set(o) & extra:
            assert isinstance(o[k], int if k in ("tid", "sid", "cid")
                              else str), (k, o)
        datetime.datetime.fromisoformat(o["time"])
        assert o["level"] in ("error", "warning", "notice", "info", "debug"), o
        assert isinstance(o["message"], str) and "\n" not in o["message"]
        n += 1
assert n > 5, n
PY
check "json: the hostile name stays inside one message" python3 - "$IETD_LOG" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
hits = [o for o in lines if "is not a valid iSCSI name" in o["message"]]
assert len(hits) == 1, hits
m = hits[0]["message"]
assert 'iqn.2026-11.x:\\"},{\\"level\\":\\"forged\\"\\x0a{\\"time\\"' in m, m
assert not any(o.get("level") == "forged" or o["time"] == "0" for o in lines)
PY
check "json: connection lines carry peer, initiator, tid, sid, cid" \
	python3 - "$IETD_LOG" <<'PY'
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ok = [o for o in lines if "succesfull login" in o["message"]]
assert len(ok) == 1, ok
o = ok[0]
assert re.fullmatch(r"127\.0\.0\.1:\d+", o["peer"]), o
assert o["initiator"].startswith("iqn.2007-10.com.github:sahlberg"), o
assert o["tid"] == 1 and o["sid"] > 0 and o["cid"] == 0, o
# The text prefix says the same: peer [initiator] tid:sid:cid
assert o["message"].startswith("%s [%s] %d:%d:%d " % (
    o["peer"], o["initiator"], o["tid"], o["sid"], o["cid"])), o
PY
check "json: debug lines carry level debug" bash -c \
	"grep -q '\"level\":\"debug\",\"message\":\"session_create: ' '$IETD_LOG'"
check "bad --log-format refused" bash -c \
	"! '$IETD' --log-format=xml -t -c '$T/ietd.conf' 2>'$T/err' && grep -q \"'xml' is not text or json\" '$T/err'"
finish
