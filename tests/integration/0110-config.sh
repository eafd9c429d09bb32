#!/bin/bash
# SPDX-License-Identifier: ISC
# Configuration errors stop ietd with file:line messages; -t checks a
# configuration, backing stores included, without serving.
. "$(dirname "$0")/lib.sh"

img=$(make_image disk.img 64M)
cat > "$T/good.conf" <<CONF
Target $IQN_BASE:good
	Lun 0 Path=$img,Type=fileio
CONF
cat > "$T/bad.conf" <<CONF
Target $IQN_BASE:bad
	Lun 0 Path=$img,Type=fileio
	MaxBurstLength 12
	NoSuchKey 1
CONF

out=$("${IETD_RUN[@]}" "$IETD" -t -c "$T/good.conf" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "configuration OK" <<<"$out" &&
	ok "-t on a good config exits 0" || not_ok "-t on a good config exits 0" "$rc $out"
out=$("${IETD_RUN[@]}" "$IETD" --check-config -c "$T/bad.conf" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "$T/bad.conf:3: " <<<"$out" &&
	grep -q "$T/bad.conf:4: " <<<"$out"; then
	ok "-t reports every error with file:line and exits 1"
else
	not_ok "-t reports every error with file:line and exits 1" "$rc $out"
fi
# Bare "file:line: message" lines, no time stamp (a compiler's format,
# which editors jump to), then the count.
if [ "$(grep -vc "^$T/bad.conf:[0-9]*: \|^$T/bad.conf: [0-9]* error(s)\$" <<<"$out")" -eq 0 ]; then
	ok "-t lines are bare file:line: message"
else
	not_ok "-t lines are bare file:line: message" "$out"
fi
out=$("${IETD_RUN[@]}" "$IETD" -t -c "$T/missing.conf" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "missing.conf" <<<"$out" &&
	ok "-t on a missing file exits 1" || not_ok "-t on a missing file exits 1" "$rc $out"

# A bad config refuses to start, in the foreground and as a daemon.
PORT=$(free_port)
out=$(timeout $((10 * VG_SLOW)) "${IETD_RUN[@]}" "$IETD" "${CTL_OPTS[@]}" -f -c "$T/bad.conf" -a 127.0.0.1 -p "$PORT" \
	--pid-file "$T/p1.pid" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad.conf:3:" <<<"$out" && grep -q "not starting" <<<"$out" &&
	ok "bad config: no start (foreground)" || not_ok "bad config: no start (foreground)" "$rc $out"
out=$(timeout 10 "$IETD" "${CTL_OPTS[@]}" -c "$T/bad.conf" -a 127.0.0.1 -p "$PORT" \
	--pid-file "$T/p2.pid" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad.conf:4:" <<<"$out" &&
	ok "bad config: no start (daemon)" || not_ok "bad config: no start (daemon)" "$rc $out"
[ ! -e "$T/p1.pid" ] || [ ! -s "$T/p1.pid" ] && ok "no pid written" || not_ok "no pid written" ""

# -t opens the backing stores as ietd does: a LUN whose Path is a
# directory is an error there too, and every message names the -c file
# (not a fixed "ietd.conf"). Before, -t said "configuration OK" for a
# file ietd then refused to start with.
mkdir "$T/adir"
cat > "$T/lundir.conf" <<CONF
Target $IQN_BASE:lundir
	Lun 0 Path=$img,Type=fileio
	Lun 1 Path=$T/adir,Type=fileio
CONF
want="$T/lundir.conf:3: target $IQN_BASE:lundir lun 1: cannot open $T/adir: Is a directory"
out=$("${IETD_RUN[@]}" "$IETD" -t -c "$T/lundir.conf" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qF "$want" <<<"$out" && ! grep -q "configuration OK" <<<"$out" &&
	ok "-t probes the backing stores: a LUN that cannot be opened is an error with file:line" ||
	not_ok "-t probes the backing stores: a LUN that cannot be opened is an error with file:line" "$rc $out"
PORT=$(free_port)
out=$(timeout $((10 * VG_SLOW)) "${IETD_RUN[@]}" "$IETD" "${CTL_OPTS[@]}" -f -c "$T/lundir.conf" -a 127.0.0.1 -p "$PORT" \
	--pid-file "$T/p3.pid" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qF "$want" <<<"$out" && grep -q "not starting" <<<"$out" &&
	! grep -q "ietd.conf" <<<"$out" &&
	ok "unopenable LUN: no start, the message names the -c file and line" ||
	not_ok "unopenable LUN: no start, the message names the -c file and line" "$rc $out"

# Keys above IET's limits load, are offered at the limit, and say so.
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:limits
	Lun 0 Path=$img,Type=fileio
	MaxConnections 4
	ErrorRecoveryLevel 2
	DataPDUInOrder No
	DataSequenceInOrder No
CONF
PORT=$(free_port)
if ietd_start; then
	out=$(timeout 10 iscsi-inq "$(url limits 0)" 2>&1); rc=$?
	[ $rc -eq 0 ] && ok "MaxConnections 4, ErrorRecoveryLevel 2: serves" ||
		not_ok "MaxConnections 4, ErrorRecoveryLevel 2: serves" "$rc $out"
	grep -q "MaxConnections 4: sessions have one connection each (no MC/S), so 1 is offered" "$IETD_LOG" &&
		grep -q "ErrorRecoveryLevel 2: only error recovery level 0 is implemented, so 0 is offered" "$IETD_LOG" &&
		grep -q "DataPDUInOrder No: Data-Out PDUs are taken in order only, so Yes is offered" "$IETD_LOG" &&
		grep -q "DataSequenceInOrder No: Data-Out sequences are taken in order only, so Yes is offered" "$IETD_LOG" &&
		ok "limited keys are logged" || not_ok "limited keys are logged" "$(cat "$IETD_LOG")"
	ietd_stop
else
	not_ok "MaxConnections 4, ErrorRecoveryLevel 2: serves" "no start"
fi

# A bad line in an allow file is a configuration error too.
echo "ALL 10.0.0.0/99" > "$T/initiators.allow"
out=$("${IETD_RUN[@]}" "$IETD" -t -c "$T/good.conf" --initiators-allow "$T/initiators.allow" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "initiators.allow:1:" <<<"$out" &&
	ok "-t checks the allow files" || not_ok "-t checks the allow files" "$rc $out"
finish
