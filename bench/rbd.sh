# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
#
# bench/rbd.sh: the rbd LUN kind of bench/run.sh (issue 21), sourced by it;
# not a script of its own. One throwaway Ceph cluster
# (tests/integration/ceph.sh: one monitor, one memstore OSD, cephx, on
# 127.0.0.1) and one image, filled once, that every target serves:
# ietd as a Type=rbd LUN, tgtd through tgt-rbd's backing store, and the
# pseudo-target librbd, which is bench/rbd_load.c driving the image
# through librbd's asynchronous API with nothing in between: the ceiling.
# run.sh's alternation, medians and report then give ietd/tgtd and
# ietd/librbd per workload. Uses run.sh's globals (work, secs, csv, kstate,
# store, lunidx, url_of, run_child, log).
# run.sh declares the arrays (kstate, store, tstate) and the variables this
# file sets for measure(): shellcheck cannot see them from here.
# shellcheck shell=bash disable=SC2154,SC2034,SC2004

rbd_mib=${BENCH_RBD_MIB:-1024}
rbd_spec=rbd/ietd-bench # POOL/IMAGE
rbd_state= # empty until rbd_setup ran: ok, or why there is no image
rbd_load_bin=$top/build/bench/rbd_load

# ceph.sh wants lib.sh's T, free_port and track_pid: T is run.sh's work
# directory, free_port run.sh's own; ceph_stop kills both daemons by pid,
# so there is nothing more to track.
# shellcheck disable=SC2034 # used by ceph.sh
T=$work
track_pid() { :; }
# shellcheck source=tests/integration/ceph.sh
. "$top/tests/integration/ceph.sh"

# Workloads of issue 21's benchmark: 4 KiB random read and write at depth
# 32, 1 MiB sequential read and write at depth 1. Reads through
# iscsi-perf and the 1 MiB write through qemu-img bench, as the other
# kinds; the random write through scale_load -w, since iscsi-perf only
# reads and qemu-img bench is sequential only.
rbd_workloads() {
	cat <<-EOF
		perf-rand-4k-q32 perf rand 4096 32
		load-randwrite-4k-q32 load randwrite 4096 32
		perf-seq-1m-q1 perf seq 1048576 1
		qemu-write-1m-d1 qemu write 1048576 1
	EOF
}

# The cluster, the image and the two clients, once per run; on failure
# rbd_state says why and every rbd row carries it.
rbd_setup() {
	# ceph_start loops over a global t: keep it off the caller's t.
	local t
	if [ -n "$rbd_state" ]; then
		[ "$rbd_state" = ok ]
		return
	fi
	rbd_state="failed: no Ceph cluster (see $work/ceph)"
	if ! make -s -C "$top" build/bench/rbd_load >"$work/rbd_load.build" 2>&1; then
		rbd_state="failed: cannot build bench/rbd_load (librbd-dev, librados-dev)"
		cat "$work/rbd_load.build" >&2
		return 1
	fi
	if ! cc -O2 -Wall -Wextra -o "$work/scale_load" "$here/scale_load.c" \
	    -liscsi; then
		rbd_state="failed: cannot build bench/scale_load.c (libiscsi-dev)"
		return 1
	fi
	log "bench: starting a Ceph cluster (one mon, one memstore OSD)"
	ceph_start >"$work/ceph-start.log" 2>&1 || {
		tail -n 20 "$work/ceph-start.log" >&2
		return 1
	}
	# The librbd cache off for every client of the image: ietd runs
	# without it (issue 21: nothing acknowledged may sit in a volatile
	# cache), and so do rbd_load and tgt-rbd here, whose librbd would
	# otherwise cache (write-through until the first flush).
	printf '[client]\nrbd cache = false\n' >>"$CEPH_CONF"
	if ! ceph_image "${rbd_spec#*/}" "${rbd_mib}M" >"$work/rbd-create.log" 2>&1; then
		rbd_state="failed: rbd create (see $work/rbd-create.log)"
		return 1
	fi
	# Written through once, as the file LUNs are: reading an object
	# that was never written costs the OSD nothing, so a fresh image
	# would read faster than any image with data on it.
	if [ "$fill" = 1 ]; then
		log "bench: filling $rbd_spec (${rbd_mib} MiB)"
		if ! timeout 600 rbd bench --io-type write --io-pattern seq \
		    --io-size 4M --io-threads 4 --io-total "${rbd_mib}M" \
		    "$rbd_spec" >"$work/rbd-fill.log" 2>&1; then
			rbd_state="failed: filling the image (see $work/rbd-fill.log)"
			tail -n 5 "$work/rbd-fill.log" >&2
			return 1
		fi
	fi
	rbd_state=ok
	notes+=("rbd: image $rbd_spec of $rbd_mib MiB on a one-OSD memstore cluster ($(ceph-osd --version | awk '{print $3}')), librbd cache off for every client")
}

rbd_cleanup() {
	ceph_stop
}

# The rbd kind's backing store for target t: the one image. Also where
# targets without an RBD store get their "not offered" (istgt), and
# librbd everything but rbd.
rbd_store() {
	local t=$1
	if [ "$t" = istgt ]; then
		kstate[$t/rbd]="not offered: istgt has no RBD store"
		return 1
	fi
	if ! rbd_setup; then
		kstate[$t/rbd]=$rbd_state
		return 1
	fi
	store[$t/rbd]=$rbd_spec
}

# The pseudo-target librbd: no daemon, no iSCSI; up when its client
# builds and the cluster runs.
start_librbd() {
	local kind
	for kind in $(main_kinds) digest; do
		[ "$kind" = rbd ] || kstate[librbd/$kind]="not offered: librbd is the rbd kind's ceiling"
	done
	if [[ " $luns " != *" rbd "* ]]; then
		tstate[librbd]="not offered: needs BENCH_LUNS with rbd"
		return 1
	fi
	if ! rbd_setup; then
		tstate[librbd]=$rbd_state
		return 1
	fi
	tstate[librbd]=ok
}

# One measured run of a workload by bench/rbd_load on the image, for the
# pseudo-target librbd. Sets measure()'s ios, seconds, status and cpu_s
# (the client's own CPU: its load and all of librbd's threads).
rbd_librbd_once() {
	local tool=$1 mode=$2 size=$3 depth=$4 wl out
	case $tool/$mode in
	perf/rand) wl=randread ;;
	perf/seq | qemu/read) wl=seqread ;;
	qemu/write) wl=seqwrite ;;
	load/randwrite) wl=randwrite ;;
	*)
		status="failed: no librbd form of $tool $mode"
		return
		;;
	esac
	if ! run_child $((secs + 60)) "$rbd_load_bin" "$rbd_spec" "$CEPH_CONF" \
	    "$wl" "$depth" "$secs" "$size"; then
		status="failed: rbd_load exit $?"
		return
	fi
	out=$(sed -n 's/^ios \([0-9]*\) seconds \([0-9.]*\) .* cpu \([0-9.]*\) errors \([0-9]*\)$/\1 \2 \3 \4/p' "$work/out")
	if [ -z "$out" ]; then
		status="failed: no figure from rbd_load"
		return
	fi
	read -r ios seconds cpu_s _ <<<"$out"
}

# One measured run of scale_load on one session: DEPTH random requests
# of SIZE in flight (-w: writes) for BENCH_SECONDS. Sets measure()'s ios,
# seconds and status.
rbd_load_once() {
	local t=$1 kind=$2 mode=$3 size=$4 depth=$5 url target lun r
	local -a w=()
	[ "$mode" = randwrite ] && w=(-w)
	url=$(url_of "$t" "$kind")
	target=${url#iscsi://*/}
	lun=${target##*/}
	target=${target%/*}
	# "go" waits in the pipe until the session is up; "stop" comes a
	# second after the window, which ends by itself.
	# shellcheck disable=SC2016 # expanded by the inner bash
	if ! run_child $((secs + 60)) bash -c '{ echo go; sleep "$1"; echo stop; } |
	    "${@:2}"' _ $((secs + 1)) "$work/scale_load" \
	    -p "127.0.0.1:${tport[$t]}" -T "$target" -l "$lun" -n 1 \
	    -q "$depth" -b $((size / 512)) -s $((rbd_mib * 2048)) -t "$secs" \
	    "${w[@]}"; then
		status="failed: scale_load exit $?"
		return
	fi
	r=$(sed -n 's/^result \([0-9]*\) \([0-9.]*\) \([0-9]*\) .*/\1 \2 \3/p' "$work/out")
	if [ -z "$r" ]; then
		status="failed: no figure from scale_load"
	elif [ "${r##* }" != 0 ]; then
		status="failed: ${r##* } SCSI errors"
	else
		read -r ios seconds _ <<<"$r"
	fi
}
