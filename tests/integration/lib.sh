# SPDX-License-Identifier: ISC
# Shared helpers for integration tests: start the real ietd on 127.0.0.1
# with a temporary config and sparse images, wait for its port, and clean
# up by pid in an EXIT trap. Source it; then call the functions below.
#
#   ietd_start [ietd options...]  start with $T/ietd.conf (write it first)
#   ietd_stop                     SIGTERM, wait, check exit 0
#   ok NAME / not_ok NAME REASON  TAP-ish result lines; counted
#   finish                        print "N passed, N failed", exit status
#
# VALGRIND=1 runs every ietd started by ietd_start (or through $IETD_RUN)
# under valgrind memcheck; ietd_stop and the EXIT trap fail the test when
# a log reports errors or definite leaks (ietd issue 8).
set -u

IETD=${IETD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/ietd}
T=$(mktemp -d /tmp/ietd-test.XXXXXX)
# Searchable, so an ietd running with -u nobody can reach its status dir.
chmod 755 "$T"
# Every ietd a test starts gets a private control socket, status dir and
# state dir: the defaults under /run and /var/lib would collide between
# tests and with a real ietd (an ietd with -u makes a missing
# /var/lib/ietd at start).
CTL_OPTS=(--control="$T/ctl.sock" --status-dir="$T/status"
	--state-dir="$T/state")
IETD_PID=
IETD_LOG=$T/ietd.log
PORT=
IQN_BASE=iqn.2026-11.org.ietd.test
_pass=0
_fail=0
_extra_pids=()
VALGRIND=${VALGRIND:-0}
VG_SUPP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/valgrind.supp
# Prefix for running ietd: empty, or valgrind memcheck.  valgrind runs the
# program in its own process, so $! is still ietd's pid and signals reach it.
IETD_RUN=()
VG_OPTS=()
VG_SLOW=1
if [ "$VALGRIND" = 1 ]; then
	IETD_RUN=(valgrind --tool=memcheck --error-exitcode=99
		--leak-check=full --errors-for-leak-kinds=definite
		--show-leak-kinds=definite --track-fds=no
		--log-file="$T/valgrind.%p.log")
	[ -f "$VG_SUPP" ] && IETD_RUN+=(--suppressions="$VG_SUPP")
	# Factor for time bounds in timing-sensitive checks.
	VG_SLOW=20
	# valgrind 3.19 runs io_uring, but memcheck does not model the
	# kernel filling read buffers, so every READ would be reported as
	# uninitialised bytes sent on the socket: use the thread pool.
	VG_OPTS=(--io-engine=threads)
fi
# skip_valgrind REASON: end a test that cannot run under valgrind.
skip_valgrind() {
	if [ "$VALGRIND" = 1 ]; then
		echo "SKIP: $1"
		exit 0
	fi
}
# valgrind_check: report each valgrind log with errors or definite leaks
# as a failed check; checked logs are renamed so each counts once.
valgrind_check() {
	local f
	[ "$VALGRIND" = 1 ] || return 0
	for f in "$T"/valgrind.*.log; do
		[ -f "$f" ] || continue
		# A log still being written belongs to a running ietd.
		grep -q 'ERROR SUMMARY' "$f" || continue
		if grep -q 'ERROR SUMMARY: [1-9]' "$f" ||
			grep -q 'definitely lost: [1-9]' "$f"; then
			not_ok "valgrind clean ($(basename "$f"))" \
				"$(grep -E 'ERROR SUMMARY|definitely lost' "$f")"
			echo "--- valgrind log:"
			sed 's/^/    /' "$f" | head -n 200
		else
			ok "valgrind clean ($(basename "$f"))"
		fi
		mv "$f" "$f.checked"
	done
}

_cleanup() {
	local p i
	# SIGTERM first (ietd exits cleanly), SIGKILL for what is left.
	for p in "${_extra_pids[@]}" $IETD_PID; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for i in $(seq $((50 * VG_SLOW))); do
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
	if [ "$VALGRIND" = 1 ]; then
		local before=$_fail
		valgrind_check
		if [ $_fail -gt $before ]; then
			rm -rf "$T"
			exit 1
		fi
	fi
	rm -rf "$T"
}
trap _cleanup EXIT

ok() { _pass=$((_pass + 1)); echo "ok - $1"; }
not_ok() {
	_fail=$((_fail + 1))
	echo "not ok - $1: ${2:-}"
	if grep -qE '^==[0-9]+==ERROR: |runtime error: ' "$IETD_LOG" 2>/dev/null; then
		# A sanitizer report: its head (what, where) matters, and
		# its tail is the shadow-byte legend.
		echo "--- sanitizer report in the ietd log:"
		grep -m 1 -A 40 -E '^==[0-9]+==ERROR: |runtime error: ' \
			"$IETD_LOG" | sed 's/^/    /'
	elif [ -s "$IETD_LOG" ]; then
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
	valgrind_check
	echo "$_pass passed, $_fail failed"
	[ "$_fail" -eq 0 ] && [ "$_pass" -gt 0 ]
}
# tap_import FILE [RC NAME]: count a tester's "ok - NAME" and
# "not ok - NAME: WHY" lines as checks of this script; other lines are
# echoed as comments. With RC, a non-zero exit of the tester that printed
# no "not ok" line fails the check NAME (a crash, a traceback).
tap_import() {
	local line r
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*)
			r=${line#not ok - }
			not_ok "${r%%: *}" "${r#*: }"
			;;
		"# "*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <"$1"
	if [ "${2:-0}" -ne 0 ] && ! grep -q '^not ok' "$1"; then
		not_ok "${3:-tester}" "exit $2: $(tail -n 5 "$1")"
	fi
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

# Wait until host:port accepts connections (max ~10 s, more under valgrind).
wait_port() {
	local host=$1 port=$2 i
	for i in $(seq 1 $((100 * (VG_SLOW > 1 ? 6 : 1)))); do
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
	"${IETD_RUN[@]}" "$IETD" -f -c "$T/ietd.conf" -a 127.0.0.1 \
		-p "$PORT" --pid-file "$T/ietd.pid" \
		--initiators-allow "$T/initiators.allow" \
		--initiators-deny "$T/initiators.deny" \
		--targets-allow "$T/targets.allow" "${CTL_OPTS[@]}" \
		"${VG_OPTS[@]}" "$@" \
		>"$IETD_LOG" 2>&1 &
	IETD_PID=$!
	if ! wait_port 127.0.0.1 "$PORT"; then
		echo "ietd did not start; its log:" >&2
		cat "$IETD_LOG" >&2
		return 1
	fi
	# Under valgrind the control socket and the log lines after
	# "listening" lag behind the port: wait for "started" too.
	if [ "$VALGRIND" = 1 ]; then
		local i
		for i in $(seq 300); do
			grep -q " started$" "$IETD_LOG" && break
			kill -0 "$IETD_PID" 2>/dev/null || break
			sleep 0.1
		done
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
	valgrind_check
	return $rc
}

url() { # url TARGET-SUFFIX LUN
	echo "iscsi://127.0.0.1:$PORT/$IQN_BASE:$1/$2"
}
