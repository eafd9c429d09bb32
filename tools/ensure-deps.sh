#!/bin/sh
# SPDX-License-Identifier: ISC
# Make sure the Debian packages that building and testing ietd need are
# installed. As root, install what is missing (one apt-get update first);
# otherwise print the exact apt-get line and fail.
set -eu

PKGS="build-essential pkg-config libssl-dev libisal-dev liburing-dev
libcmocka-dev libiscsi-bin qemu-utils qemu-block-extra mandoc python3
iproute2 procps qemu-system-x86 cpio xz-utils strace cppcheck clang-format
resource-agents systemd prometheus curl debhelper lintian dmsetup
open-isns-server open-isns-utils ceph-mon ceph-osd ceph-common librbd-dev
librados-dev tgt tgt-rbd libiscsi-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "ietd: missing Debian packages. Run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "ietd: installing missing Debian packages:$missing"
apt-get update -qq
# Some of these packages start a service when installed (tgt's tgtd on
# port 3260, Prometheus, the iSNS server), which would take the port
# `make run` serves on and keep running after the tests. The tests start
# the daemons they need themselves, so keep the package scripts from
# starting any: a policy-rc.d that refuses, unless the host has its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# ietd tools/ensure-deps.sh: no service starts while installing\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
	trap 'rm -f "$policy"' EXIT INT TERM
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
[ "$own_policy" = 1 ] && rm -f "$policy"
exit 0
