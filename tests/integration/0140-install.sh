#!/bin/bash
# SPDX-License-Identifier: ISC
# make install with DESTDIR and PREFIX puts every file in place, with
# modes that keep secrets private, and never overwrites a configuration.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
d=$T/root
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >"$T/install.log" 2>&1 ||
	not_ok "make install" "$(tail -5 "$T/install.log")"
for f in usr/sbin/ietd usr/share/man/man8/ietd.8 usr/share/man/man5/ietd.conf.5 \
	etc/ietd.conf etc/initiators.allow etc/initiators.deny etc/targets.allow \
	lib/systemd/system/ietd.service; do
	[ -e "$d/$f" ] && ok "installed $f" || not_ok "installed $f" "missing"
done
[ "$(stat -c %a "$d/etc/ietd.conf")" = 600 ] && ok "ietd.conf is 0600" ||
	not_ok "ietd.conf is 0600" "$(stat -c %a "$d/etc/ietd.conf")"
[ "$(stat -c %a "$d/etc/initiators.allow")" = 644 ] && ok "allow files are 0644" ||
	not_ok "allow files are 0644"
grep -q "ExecStart=/usr/sbin/ietd" "$d/lib/systemd/system/ietd.service" &&
	ok "unit file points at the installed ietd" || not_ok "unit file path"
grep -q "ExecReload=/bin/kill -HUP" "$d/lib/systemd/system/ietd.service" &&
	ok "unit file reloads with SIGHUP" || not_ok "unit file reload"
check "installed example config passes --check-config" \
	"$d/usr/sbin/ietd" -t -c "$d/etc/ietd.conf" \
	--initiators-allow "$d/etc/initiators.allow" \
	--initiators-deny "$d/etc/initiators.deny" --targets-allow "$d/etc/targets.allow"
echo "# mine" >"$d/etc/ietd.conf"
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >/dev/null 2>&1
[ "$(cat "$d/etc/ietd.conf")" = "# mine" ] && ok "existing ietd.conf kept" ||
	not_ok "existing ietd.conf kept"
check "installed man pages are clean" bash -c "out=\$(mandoc -Tlint -W warning '$d'/usr/share/man/man*/*); [ -z \"\$out\" ]"
finish
