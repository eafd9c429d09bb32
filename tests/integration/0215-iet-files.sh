#!/bin/bash
# SPDX-License-Identifier: ISC
# IET 1.4.20's file locations and access rules, with ietd's defaults (no
# -c, no --initiators-allow/-deny, no --targets-allow). ietd runs in a
# private mount namespace whose /etc is a scratch directory, so the test
# can create and remove /etc/iet/ietd.conf, /etc/ietd.conf and the allow
# files in both places without touching the machine's /etc.
#
# Locations (usr/plain.c): the -c file, else /etc/iet/ietd.conf; when it
# does not exist, /etc/ietd.conf; neither: no targets. Each allow file on
# its own: /etc/iet/NAME, else /etc/NAME.
# Rules (match(), plain_initiator_allow(), plain_target_allow()): in each
# file the first line for the target or ALL decides; with a deny file an
# initiator is refused only when deny matches and allow does not; without
# one an allow file admits only whom it matches; targets.allow admits
# only listed portals. Each case below is a row of ietd(8)'s table.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	NS=(unshare -m --propagation private)
else
	NS=(unshare -r -m --propagation private)
fi
if ! "${NS[@]}" true 2>/dev/null; then
	if [ "${CI:-}" = true ]; then
		not_ok "mount namespace" "unshare -m is refused here"
		finish
		exit 1
	fi
	echo "SKIP: cannot make a private mount namespace (unshare -m)"
	exit 0
fi

E=$T/etc # the daemon's /etc
mkdir -p "$E/iet"
[ -f /etc/ld.so.cache ] && cp /etc/ld.so.cache "$E/"
A=$IQN_BASE:a
B=$IQN_BASE:b
img=$(make_image a.img 16M)
good=iqn.2026-11.org.example:good
bad=iqn.2026-11.org.example:bad
conf_for() { printf 'Target %s\n\tLun 0 Path=%s\n' "$1" "$img"; }

# start_ns [ietd options]: ietd with /etc = $E, no file options.
start_ns() {
	PORT=$(free_port)
	"${NS[@]}" -- sh -c 'mount --bind "$0" /etc && exec "$@"' "$E" \
		"${IETD_RUN[@]}" "$IETD" -f -a 127.0.0.1 -p "$PORT" \
		--pid-file "$T/ietd.pid" "${CTL_OPTS[@]}" "${VG_OPTS[@]}" "$@" \
		>"$IETD_LOG" 2>&1 &
	IETD_PID=$!
	wait_port 127.0.0.1 "$PORT"
}
login() { iscsi-inq -i "$1" "iscsi://127.0.0.1:$PORT/$2/0" >/dev/null 2>&1; }
admits() { login "$1" "$2"; }
refuses() { ! login "$1" "$2"; }

# ---- ietd.conf ----------------------------------------------------------
conf_for "$A" >"$E/iet/ietd.conf"
conf_for "$B" >"$E/ietd.conf"
start_ns || not_ok "start with both ietd.conf files"
check "both files: /etc/iet/ietd.conf is used" admits "$good" "$A"
check "both files: /etc/ietd.conf is not" refuses "$good" "$B"
check "the log names the file used" \
	grep -q "configuration file /etc/iet/ietd.conf" "$IETD_LOG"
ietd_stop

rm "$E/iet/ietd.conf"
start_ns || not_ok "start with /etc/ietd.conf only"
check "no /etc/iet/ietd.conf: /etc/ietd.conf is used" admits "$good" "$B"
check "the log says so" grep -q \
	"/etc/iet/ietd.conf does not exist; using /etc/ietd.conf" "$IETD_LOG"
ietd_stop

start_ns -c /etc/nowhere.conf || not_ok "start with a missing -c file"
check "-c FILE missing: /etc/ietd.conf is used, as IET did" \
	admits "$good" "$B"
check "the log says so" grep -q \
	"/etc/nowhere.conf does not exist; using /etc/ietd.conf" "$IETD_LOG"
ietd_stop

rm "$E/ietd.conf"
start_ns || not_ok "start with no ietd.conf"
check "no ietd.conf at all: ietd starts with no targets" \
	grep -q "ietd.conf not found, configure through ietadm" "$IETD_LOG"
check "and ietadm adds one" env IETD_CONTROL="$T/ctl.sock" \
	"$(dirname "$IETD")/ietadm" --op new --tid=0 --params "Name=$A"
check "ietadm adds its LUN" env IETD_CONTROL="$T/ctl.sock" \
	"$(dirname "$IETD")/ietadm" --op new --tid=1 --lun=0 \
	--params "Path=$img,Type=fileio"
check "which is served" admits "$good" "$A"
kill -HUP "$IETD_PID"
for i in $(seq 50); do
	grep -q "reload: no ietd.conf found" "$IETD_LOG" && break
	sleep 0.1
done
check "SIGHUP without any ietd.conf is refused" \
	grep -q "reload: no ietd.conf found" "$IETD_LOG"
check "and the target made with ietadm stays" admits "$good" "$A"
ietd_stop
out=$("$IETD" -t -c "$T/missing.conf" 2>&1)
check "-t still refuses a missing -c file" test $? -eq 1

# ---- allow files: locations ---------------------------------------------
# In /etc: the rules below then also run on an ietd without IET's search.
{
	conf_for "$A"
	conf_for "$B"
} >"$E/ietd.conf"
start_ns || not_ok "start for the allow cases"
check "the log names the access files" grep -q \
	"access files: /etc/initiators.allow (none), /etc/initiators.deny (none), /etc/targets.allow (none)" \
	"$IETD_LOG"
echo "$A $good" >"$E/iet/initiators.allow"
echo "$A ALL" >"$E/initiators.allow"
check "/etc/iet/initiators.allow wins over /etc/initiators.allow" \
	refuses "$bad" "$A"
rm "$E/iet/initiators.allow"
check "/etc/initiators.allow when /etc/iet has none" admits "$bad" "$A"
rm "$E/initiators.allow"
echo "$A $bad" >"$E/initiators.deny"
check "/etc/initiators.deny when /etc/iet has none" refuses "$bad" "$A"
echo "$A $good" >"$E/iet/initiators.deny"
check "/etc/iet/initiators.deny wins" admits "$bad" "$A"
check "/etc/iet/initiators.deny applies" refuses "$good" "$A"
rm -f "$E/iet/initiators.deny" "$E/initiators.deny"

# ---- allow files: IET 1.4.20's rules (ietd(8), table) -------------------
D=$E
allow() { printf '%s\n' "$@" >"$D/initiators.allow"; }
deny() { printf '%s\n' "$@" >"$D/initiators.deny"; }
noallow() { rm -f "$D/initiators.allow"; }
nodeny() { rm -f "$D/initiators.deny"; }

nodeny
noallow
check "1 no files: admitted" admits "$bad" "$A"
allow "$A $good"
check "2 allow only, listed: admitted" admits "$good" "$A"
check "3 allow only, not listed: refused" refuses "$bad" "$A"
check "4 allow only, no line for the target: refused" refuses "$good" "$B"
: >"$D/initiators.allow"
check "5 allow only, empty: refused" refuses "$good" "$A"
allow "$A 10.0.0.0/8" "ALL ALL"
check "6 allow only, first line for the target decides (no match)" \
	refuses "$good" "$A"
check "7 allow only, ALL line for other targets" admits "$good" "$B"
noallow
deny "$A $bad"
check "8 deny only, listed: refused" refuses "$bad" "$A"
check "9 deny only, not listed: admitted" admits "$good" "$A"
check "10 deny only, no line for the target: admitted" admits "$bad" "$B"
: >"$D/initiators.deny"
check "11 deny only, empty: admitted" admits "$bad" "$A"
deny "$A ALL"
allow "$A $good"
check "12 both, deny and allow match: admitted" admits "$good" "$A"
check "13 both, deny matches, allow does not: refused" refuses "$bad" "$A"
deny "ALL ALL"
check "14 both, deny matches, allow has no line for the target: refused" \
	refuses "$good" "$B"
deny "$A $bad"
check "15 both, neither matches: admitted" admits "$good" "$B"
: >"$D/initiators.deny"
: >"$D/initiators.allow"
check "16 both empty: admitted" admits "$bad" "$A"
nodeny
noallow
printf '%s\n' "$A 127.0.0.1" >"$D/targets.allow"
check "17 targets.allow, listed portal: admitted" admits "$good" "$A"
check "18 targets.allow, target not listed: refused" refuses "$good" "$B"
printf '%s\n' "$A 192.0.2.1" "ALL 127.0.0.1" >"$D/targets.allow"
check "19 targets.allow, first line for the target decides" \
	refuses "$good" "$A"
: >"$D/targets.allow"
check "20 targets.allow empty: refused" refuses "$good" "$A"
rm "$D/targets.allow"
check "21 no targets.allow: admitted" admits "$good" "$A"
ietd_stop
check "ietd exits 0" test $? -eq 0
finish
