# SPDX-License-Identifier: ISC
# Shared helpers for integration tests: start the real ietd on 127.0.0.1
# with a temporary config and sparse images, wait for its port, and clean
# up by pid in an EXIT trap. Source it; then call the functions below.
#
#   ietd_start [ietd options...]  start with $T/ietd.conf (write it first)
#   ietd_stop                     SIGTERM, wait, check exit 0
#   ok NAME / not_ok NAME REASON  TAP-ish result lines; counted
#   finish                        print "N passed, N failed", exit status
set -u

IETD=${IETD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/ietd}
T=$(mktemp -d /tmp/ietd-test.XXXXXX)
# Searchable, so an ietd running with -u nobody can reach its status dir.
chmod 755 "$T"
# Every ietd a test starts gets a private control socket and status dir:
# the defaults under /run would collide between tests and with a real ietd.
CTL_OPTS=(--control="$T/ctl.sock" --status-dir="$T/status")
IETD_PID=
IETD_LOG=$T/ietd.log
PORT=
IQN_BASE=iqn.2026-11.org.ietd.test
_pass=0
_fail=0
_extra_pids=()

_cleanup() {
	local p i
	# SIGTERM first (ietd exits cleanly), SIGKILL for what is left.
	for p in "${_extra_pids[@]}" $IETD_PID; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for i in $(seq 50); do
		local alive=0
		for p in "${_extra_pids[@]}" $IETD_PID; do
			[ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive -eq 0 ] && break
		sleep 0.1
	done
	for p in "${_extra_pids[@]}" $IETD_PID; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap _cleanup EXIT

ok() { _pass=$((_pass + 1)); echo "ok - $1"; }
not_ok() {
	_fail=$((_fail + 1))
	echo "not ok - $1: ${2:-}"
	if [ -s "$IETD_LOG" ]; then
		echo "--- last lines of the ietd log:"
		tail -n 15 "$IETD_LOG" | sed 's/^/    /'
	fi
}
# check NAME COMMAND...: ok when the command succeeds.
check() {
	local name=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$name"
	else
		not_ok "$name" "$(tail -n 5 "$T/check.out")"
	fi
}
finish() {
	echo "$_pass passed, $_fail failed"
	[ "$_fail" -eq 0 ] && [ "$_pass" -gt 0 ]
}
# Remember a helper process to kill at exit.
track_pid() { _extra_pids+=("$1"); }

# A TCP port nobody listens on, from a range away from 3260.
free_port() {
	python3 - <<'PY'
import socket, random
for _ in range(200):
    p = random.randint(20000, 40000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        s.close()
        print(p)
        break
    except OSError:
        s.close()
PY
}

# Wait until host:port accepts connections (max ~10 s).
wait_port() {
	local host=$1 port=$2 i
	for i in $(seq 1 100); do
		if python3 -c "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5); s.close()" \
			"$host" "$port" 2>/dev/null; then
			return 0
		fi
		if [ -n "$IETD_PID" ] && ! kill -0 "$IETD_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# make_image NAME SIZE: a sparse file under $T; prints its path.
make_image() {
	truncate -s "$2" "$T/$1"
	echo "$T/$1"
}

# ietd_start [extra options]: config must be at $T/ietd.conf.
ietd_start() {
	PORT=${PORT:-$(free_port)}
	"$IETD" -f -c "$T/ietd.conf" -a 127.0.0.1 -p "$PORT" \
		--pid-file "$T/ietd.pid" \
		--initiators-allow "$T/initiators.allow" \
		--initiators-deny "$T/initiators.deny" \
		--targets-allow "$T/targets.allow" "${CTL_OPTS[@]}" "$@" \
		>"$IETD_LOG" 2>&1 &
	IETD_PID=$!
	if ! wait_port 127.0.0.1 "$PORT"; then
		echo "ietd did not start; its log:" >&2
		cat "$IETD_LOG" >&2
		return 1
	fi
}

# ietd_stop: SIGTERM and wait; returns ietd's exit status.
ietd_stop() {
	local rc
	[ -n "$IETD_PID" ] || return 0
	kill -TERM "$IETD_PID"
	wait "$IETD_PID"
	rc=$?
	IETD_PID=
	return $rc
}

url() { # url TARGET-SUFFIX LUN
	echo "iscsi://127.0.0.1:$PORT/$IQN_BASE:$1/$2"
}
