#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# Boot the initiator VM (tests/vm/build.sh) under QEMU/TCG and run guest
# scripts in it against an iSCSI target listening on the host's
# 127.0.0.1:TARGET_PORT, which the guest reaches as 10.0.2.2:TARGET_PORT
# through QEMU's user-mode network (slirp).
#
#   tests/vm/run.sh TARGET_PORT GUEST_SCRIPT...
#
# Every environment variable named VM_* is handed to the guest scripts
# (see guest-test.sh for the ones it reads); VM_PORT is set to TARGET_PORT.
# The serial console is copied to stdout (and to $IETD_VM_LOG if set). The
# exit status is the guest's: the first non-zero status of its scripts,
# taken from the IETD-VM-RESULT=N line; 124 on timeout
# (IETD_VM_TIMEOUT seconds, default 300), 77 if the image cannot be built
# for lack of packages, 125 if QEMU fails or the guest dies without a
# result.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${IETD_VM_TIMEOUT:-300}

if [ $# -lt 2 ]; then
	echo "usage: $0 TARGET_PORT GUEST_SCRIPT..." >&2
	exit 2
fi
port=$1
shift
case $port in
'' | *[!0-9]*)
	echo "run.sh: bad port '$port'" >&2
	exit 2
	;;
esac
for s in "$@"; do
	[ -r "$s" ] || {
		echo "run.sh: cannot read $s" >&2
		exit 2
	}
done

img=$("$HERE/build.sh")
rc=$?
[ $rc -eq 0 ] || exit $rc

tmp=$(mktemp -d /tmp/ietd-vm.XXXXXX)
qpid=
tpid=
cleanup() {
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null
		sleep 1
		kill -0 "$qpid" 2>/dev/null && kill -KILL "$qpid" 2>/dev/null
	fi
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A second newc archive with the scripts and their environment; the kernel
# unpacks concatenated archives in order, so it lands next to /init.
mkdir -p "$tmp/extra/test"
i=10
for s in "$@"; do
	cp "$s" "$tmp/extra/test/$i-$(basename "$s" .sh).sh"
	i=$((i + 1))
done
# Values are single-quoted for the guest's sh, embedded quotes escaped.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	echo "VM_PORT=$port"
	echo "export VM_PORT"
	while IFS='=' read -r name _; do
		case $name in
		VM_PORT) ;;
		VM_[A-Za-z0-9_]*)
			echo "$name=$(quote "${!name}")"
			echo "export $name"
			;;
		esac
	done < <(env | grep -E '^VM_[A-Za-z0-9_]*=' || true)
} >"$tmp/extra/test/env"
(cd "$tmp/extra" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$tmp/extra.cpio"
cat "$img/initrd.cpio" "$tmp/extra.cpio" >"$tmp/initrd"

log=$tmp/console.log
: >"$log"
start=$(date +%s)
# The guest gets no default route and a static address; slirp maps
# 10.0.2.2 to the host's loopback, so that is all it can reach.
case ${IETD_VM_NIC:-virtio} in
e1000) nic=e1000 ;;
*) nic=virtio-net-pci ;;
esac
# shellcheck disable=SC2086 # IETD_VM_QEMU_OPTS: extra words on purpose
qemu-system-x86_64 -machine q35 -accel "tcg${IETD_VM_TCG_OPTS:-}" -cpu max -smp "${IETD_VM_SMP:-1}" \
	-m "${IETD_VM_MEM:-512}" -nographic -no-reboot -monitor none \
	-serial "file:$log" \
	-kernel "$img/vmlinuz" -initrd "$tmp/initrd" \
	-append "console=ttyS0 panic=-1 quiet" \
	-netdev user,id=n0,restrict=off \
	-device "$nic,netdev=n0,romfile=" ${IETD_VM_QEMU_OPTS:-} \
	</dev/null >"$tmp/qemu.out" 2>&1 &
qpid=$!
# Stream the console while the guest runs; tail ends by itself once qemu
# has exited.
tail -n +1 -f --pid="$qpid" "$log" | sed -u 's/\r$//' &
tpid=$!

status=
while kill -0 "$qpid" 2>/dev/null; do
	if [ $(($(date +%s) - start)) -ge "$TIMEOUT" ]; then
		echo "run.sh: TIMEOUT after ${TIMEOUT}s, killing qemu (pid $qpid)" >&2
		status=124
		kill -KILL "$qpid" 2>/dev/null
		break
	fi
	sleep 0.5
done
wait "$qpid" 2>/dev/null
qrc=$?
qpid=
wait "$tpid" 2>/dev/null
tpid=
[ -n "${IETD_VM_LOG:-}" ] && tr -d '\r' <"$log" >"$IETD_VM_LOG"

res=$(tr -d '\r' <"$log" | sed -n 's/^IETD-VM-RESULT=\([0-9][0-9]*\)$/\1/p' | tail -n 1)
echo "run.sh: VM ran $(($(date +%s) - start))s, qemu exit $qrc, guest result ${res:-none}" >&2
if [ -z "$status" ]; then
	if [ -n "$res" ]; then
		status=$res
	else
		echo "run.sh: no IETD-VM-RESULT line from the guest; qemu said:" >&2
		cat "$tmp/qemu.out" >&2
		status=125
	fi
fi
exit "$status"
