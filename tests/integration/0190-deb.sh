#!/bin/bash
# SPDX-License-Identifier: ISC
# make deb: the Debian package builds, is lintian-clean (errors and
# warnings; overrides only in debian/ietd.lintian-overrides, each with its
# reason), holds the programs in /usr/sbin, the man pages, the systemd
# unit and the allow files and ietd.conf as conffiles, and installs,
# removes and purges in a scratch root with dpkg --root (maintainer
# scripts run chrootless with DPKG_ROOT; systemctl and
# deb-systemd-invoke are stubbed so the host's systemd is never
# touched). About a minute: the package is built from scratch.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
need() {
	command -v "$1" >/dev/null && return 0
	if [ "${CI:-}" = true ]; then
		not_ok "$1 installed" "run tools/ensure-deps.sh (package $2)"
		finish
		exit 1
	fi
	echo "SKIP: $1 not installed (Debian package $2)"
	exit 0
}
need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian

if ! make -C "$SRC" --no-print-directory deb >"$T/make.log" 2>&1; then
	not_ok "make deb" "$(tail -n 20 "$T/make.log")"
	finish
	exit 1
fi
ok "make deb"
deb=$(ls "$SRC"/build/deb/ietd_*.deb)
check "lintian: no error or warning" bash -c \
	"lintian --fail-on error,warning '$deb' 2>&1 | grep -v 'running with root privileges' | tee '$T/lintian'; [ \${PIPESTATUS[0]} -eq 0 ] && ! grep -q '^[EW]:' '$T/lintian'"

# The files, as dpkg -x unpacks them.
X=$T/x
dpkg -x "$deb" "$X"
for f in usr/sbin/ietd usr/sbin/ietadm; do
	check "$f executable" test -x "$X/$f"
done
for f in usr/share/man/man8/ietd.8.gz usr/share/man/man8/ietadm.8.gz \
	usr/share/man/man5/ietd.conf.5.gz lib/systemd/system/ietd.service \
	usr/share/doc/ietd/copyright etc/initiators.allow \
	etc/initiators.deny etc/targets.allow; do
	check "$f shipped" test -f "$X/$f"
done
check "etc/ietd.conf is 0600 (CHAP secrets)" test "$(stat -c %a "$X/etc/ietd.conf")" = 600
check "unit runs /usr/sbin/ietd" grep -qx \
	'ExecStart=/usr/sbin/ietd --foreground --pid-file=/run/ietd.pid' \
	"$X/lib/systemd/system/ietd.service"
check "unit: Type=notify" grep -qx 'Type=notify' "$X/lib/systemd/system/ietd.service"
check "packaged ietd runs" bash -c "'$X/usr/sbin/ietd' --version | grep -q '^ietd '"
check "conffiles" bash -c "dpkg-deb -I '$deb' conffiles | sort | tr '\n' ' ' | grep -qx '/etc/ietd.conf /etc/initiators.allow /etc/initiators.deny /etc/targets.allow '"

# Install into a scratch root: an empty dpkg database, no chroot.
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" \
	"$R/var/lib/dpkg/triggers" "$R/var/log" "$T/stub"
: >"$R/var/lib/dpkg/status"
for s in systemctl deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$s" "$T/stub.log" >"$T/stub/$s"
	chmod +x "$T/stub/$s"
done
rdpkg() {
	PATH=$T/stub:$PATH dpkg --root="$R" --force-script-chrootless \
		--force-depends "$@" >>"$T/dpkg.log" 2>&1
}
host_before=$(test -e /etc/systemd/system/multi-user.target.wants/ietd.service && echo yes)
host_status=$(dpkg-query -W -f='${Status}' ietd 2>/dev/null)
check "dpkg --root -i" rdpkg -i "$deb"
check "installed" bash -c "dpkg --root='$R' -s ietd | grep -qx 'Status: install ok installed'"
check "files in the root" test -x "$R/usr/sbin/ietd" -a -x "$R/usr/sbin/ietadm" \
	-a -f "$R/etc/ietd.conf" -a -f "$R/lib/systemd/system/ietd.service"
check "conffiles registered" bash -c \
	"dpkg --root='$R' -s ietd | grep -A4 '^Conffiles:' | grep -q ' /etc/ietd.conf [0-9a-f]\{32\}'"
check "unit enabled in the root (deb-systemd-helper with DPKG_ROOT)" \
	test -L "$R/etc/systemd/system/multi-user.target.wants/ietd.service"
host_link=/etc/systemd/system/multi-user.target.wants/ietd.service
[ "$(test -e "$host_link" && echo yes)" = "$host_before" ] &&
	[ "$(dpkg-query -W -f='${Status}' ietd 2>/dev/null)" = "$host_status" ] &&
	ok "the host's systemd links and dpkg database untouched" ||
	not_ok "the host's systemd links and dpkg database untouched" \
		"$host_link or the host's ietd status changed"
echo "# a local change" >>"$R/etc/ietd.conf"
check "dpkg --root -r" rdpkg -r ietd
check "removed: programs gone, changed conffile kept" bash -c \
	"[ ! -e '$R/usr/sbin/ietd' ] && grep -q 'a local change' '$R/etc/ietd.conf' && dpkg --root='$R' -s ietd | grep -qx 'Status: deinstall ok config-files'"
check "dpkg --root -P" rdpkg -P ietd
check "purged: conffiles and unit links gone" bash -c \
	"[ ! -e '$R/etc/ietd.conf' ] && [ ! -e '$R/etc/targets.allow' ] && [ ! -e '$R/etc/systemd/system/multi-user.target.wants/ietd.service' ] && ! dpkg --root='$R' -s ietd >/dev/null 2>&1"
[ $_fail -gt 0 ] && { echo "--- dpkg log:"; sed 's/^/    /' "$T/dpkg.log"; }
finish
