#!/bin/bash
# SPDX-License-Identifier: ISC
# ietd's command line: help, version, unknown options and bad values.
. "$(dirname "$0")/lib.sh"

out=$("$IETD" -h 2>&1); rc=$?
[ $rc -eq 0 ] && ok "-h exits 0" || not_ok "-h exits 0" "exit $rc"
missing=""
for o in -c --config -d --debug -f --foreground -g --gid -u --uid \
	-a --address -p --port -h --help --pid-file -t --check-config \
	-T --threads --initiators-allow --initiators-deny --targets-allow \
	-V --version --control --status-dir; do
	grep -q -- "$o\b" <<<"$out" || missing="$missing $o"
done
[ -z "$missing" ] && ok "-h lists every option" ||
	not_ok "-h lists every option" "missing:$missing"
check "--help exits 0" "$IETD" --help
check "--version prints the version" bash -c "'$IETD' --version | grep -q '^ietd [0-9]'"
check "-v prints the version, as IET's -v did" bash -c "'$IETD' -v | grep -q '^ietd [0-9]'"
check "-d 3 accepted, as IET took any level" "$IETD" -d 3 -t -c /dev/null

# expect_usage NAME ARGS...: non-zero exit, a reason and the usage on stderr.
expect_usage() {
	local name=$1 err rc
	shift
	err=$("${IETD_RUN[@]}" "$IETD" "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && grep -q "Usage: ietd" <<<"$err" &&
		grep -q "^ietd: " <<<"$err"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stderr: $err"
	fi
}
expect_usage "unknown short option refused" -Z
expect_usage "unknown long option refused" --no-such-option
expect_usage "port 0 refused" -p 0
expect_usage "port 70000 refused" --port=70000
expect_usage "port not a number refused" -p 32a0
expect_usage "debug level not a number refused" -d 3x
expect_usage "missing option value refused" -c
expect_usage "unknown user refused" -u no-such-user-ietd
expect_usage "unknown group refused" --gid=no-such-group-ietd
expect_usage "stray argument refused" -f extra
expect_usage "empty address refused" -a ""
err=$("$IETD" -p 0 2>&1); grep -q "out of range (1 to 65535)" <<<"$err" &&
	ok "bad port message names the range" ||
	not_ok "bad port message names the range" "$err"
finish
