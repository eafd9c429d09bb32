#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# dm-multipath over two ALUA portal groups (ietd issue 19 part 4): the
# Linux kernel initiator in the test VM (tests/vm/) logs in to one target
# through portal group 1 and portal group 2, joins the two disks with
# dm-multipath (dmsetup), writes half its data, and then the first
# portal's listener dies with its connection: the rest is written and all
# of it read back through the second portal (tests/vm/guest-mpath.sh).
# Portal group 1 is reached through a TCP relay in this script, so that
# killing the relay is killing that portal's listener and its connection
# while ietd serves on. A few minutes (QEMU without KVM).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm.sh"

vm_build

img=$(make_image mpath.img 64M)
PORT=$(free_port)
PORT2=$(free_port)
RELAY=$(free_port)
while [ "$PORT2" = "$PORT" ]; do PORT2=$(free_port); done
while [ "$RELAY" = "$PORT" ] || [ "$RELAY" = "$PORT2" ]; do RELAY=$(free_port); done
cat >"$T/ietd.conf" <<CONF
PortalGroup 2 127.0.0.1:$PORT2
Target $IQN_BASE:mpath
	Lun 0 Path=$img,Type=fileio
	PortalGroup 1 optimized
	PortalGroup 2 optimized
CONF
ietd_start || {
	not_ok "ietd starts"
	finish
	exit 1
}
# The relay: portal group 1 as the guest sees it.
python3 - "$RELAY" "$PORT" >"$T/relay.log" 2>&1 <<'PY' &
import socket, sys, threading
lst = socket.socket()
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", int(sys.argv[1])))
lst.listen(8)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = lst.accept()
    u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    for x, y in ((c, u), (u, c)):
        threading.Thread(target=pump, args=(x, y), daemon=True).start()
PY
relay_pid=$!
_extra_pids+=("$relay_pid")
wait_port 127.0.0.1 "$RELAY" || not_ok "relay listens" "$(cat "$T/relay.log")"

VM_IQN=$IQN_BASE:mpath VM_PORT2=$PORT2 \
	"$VM/run.sh" "$RELAY" "$VM/guest-mpath.sh" >"$T/vm.out" 2>&1 &
vm_pid=$!
_extra_pids+=("$vm_pid")
killed=0
while kill -0 "$vm_pid" 2>/dev/null; do
	if [ $killed -eq 0 ] && grep -q "^IETD-MPATH-KILL" "$T/vm.out"; then
		kill -9 "$relay_pid"
		killed=1
	fi
	sleep 0.2
done
wait "$vm_pid"
rc=$?
[ $killed -eq 1 ] && ok "portal 1's listener and connection killed mid-run" ||
	not_ok "portal 1's listener and connection killed mid-run" "the guest never asked"
vm_results "linux mpath" "$T/vm.out"
[ $rc -eq 0 ] && ok "guest exits 0" || {
	not_ok "guest exits 0" "exit $rc"
	grep -E '^#|dm|mpath|iscsi|connection' "$T/vm.out" | tail -n 40
}
check "ietd still running" kill -0 "$IETD_PID"
ietd_stop
rc=$?
[ $rc -eq 0 ] && ok "ietd exits 0 on SIGTERM" || not_ok "ietd exits 0 on SIGTERM" "exit $rc"
finish
