#!/bin/bash
# SPDX-License-Identifier: ISC
# --metrics: the Prometheus endpoint. Off by default; the exposition
# passes promtool check metrics; counters move by exactly the I/O done
# (0180-metrics.py, raw PDUs) and under iscsi-perf; hostile HTTP clients
# (slowloris, huge request lines, too many connections) do not stall
# iSCSI; a real Prometheus server scrapes it. About 20 s.
. "$(dirname "$0")/lib.sh"

img=$(make_image d.img 64M)
cat >"$T/ietd.conf" <<CONF
Target $IQN_BASE:metrics
	Lun 0 Path=$img
Target $IQN_BASE:metrics-chap
	IncomingUser joe secretsecret12
CONF
MPORT=$(free_port)

# Off by default: nothing listens on the metrics port.
ietd_start || { not_ok start; finish; exit 1; }
check "off by default" bash -c "! curl -s -m 2 http://127.0.0.1:$MPORT/metrics"
ietd_stop
check "bad --metrics refused with a reason" bash -c \
	"! '$IETD' -f -c '$T/ietd.conf' -p $(free_port) --metrics=localhost:x --pid-file='$T/x.pid' ${CTL_OPTS[*]} 2>'$T/err'; grep -q 'not ADDRESS:PORT' '$T/err'"

# ":PORT" is every address: one dual-stack socket takes IPv4 too.
ietd_start --metrics=:$MPORT || { not_ok start; finish; exit 1; }
check "--metrics=:PORT answers on 127.0.0.1" bash -c \
	"curl -s -m 2 http://127.0.0.1:$MPORT/metrics | grep -q '^ietd_target_sessions{'"
ietd_stop

ietd_start --metrics=127.0.0.1:$MPORT || { not_ok start; finish; exit 1; }
check "logged where it serves" grep -q "metrics: serving GET /metrics on 127.0.0.1:$MPORT" "$IETD_LOG"
iscsi-inq "$(url metrics 0)" >/dev/null
curl -s -D "$T/headers" -o "$T/m1" "http://127.0.0.1:$MPORT/metrics"
check "200 with the 0.0.4 content type" grep -qi \
	'^Content-Type: text/plain; version=0.0.4' "$T/headers"
if command -v promtool >/dev/null; then
	check "promtool check metrics: clean" bash -c \
		"promtool check metrics <'$T/m1' >'$T/lint' 2>&1; rc=\$?; cat '$T/lint'; [ \$rc -eq 0 ] && [ ! -s '$T/lint' ]"
else
	[ "${CI:-}" = true ] && not_ok "promtool" "not installed (package prometheus)" ||
		echo "# SKIP promtool: not installed (package prometheus)"
fi

timeout 120 python3 "$(dirname "$0")/0180-metrics.py" "$PORT" "$MPORT" \
	"$IQN_BASE:metrics" >"$T/py.out" 2>&1
tap_import "$T/py.out" $? "metrics tester finished"

# Load from libiscsi's own tool moves the read counters too.
before=$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '/^ietd_lu_read_bytes_total/ { print $2 }')
timeout 3 iscsi-perf -t 2 "$(url metrics 0)" >/dev/null 2>&1
after=$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '/^ietd_lu_read_bytes_total/ { print $2 }')
check "iscsi-perf's reads are counted ($before -> $after)" \
	python3 -c "import sys; sys.exit(0 if float('$after') > float('$before') + 1e6 else 1)"
curl -s -o "$T/m2" "http://127.0.0.1:$MPORT/metrics"
if command -v promtool >/dev/null; then
	check "promtool check metrics after load and errors: clean" bash -c \
		"promtool check metrics <'$T/m2' >'$T/lint' 2>&1 && [ ! -s '$T/lint' ]"
fi

# A real Prometheus server, scraping once a second.
if command -v prometheus >/dev/null; then
	PPORT=$(free_port)
	cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ietd
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
	prometheus --config.file="$T/prometheus.yml" \
		--storage.tsdb.path="$T/prom" \
		--web.listen-address="127.0.0.1:$PPORT" >"$T/prom.log" 2>&1 &
	ppid=$!
	track_pid $ppid
	got=
	for _ in $(seq 150); do
		got=$(curl -s -m 1 "http://127.0.0.1:$PPORT/api/v1/query?query=ietd_lu_read_bytes_total" 2>/dev/null)
		case $got in *'"lun":"0"'*) break ;; esac
		kill -0 $ppid 2>/dev/null || break
		sleep 0.2
	done
	check "Prometheus scraped ietd (ietd_lu_read_bytes_total queried back)" \
		bash -c "case '$got' in *'\"lun\":\"0\"'*) exit 0;; esac; tail -5 '$T/prom.log'; echo '$got'; exit 1"
	up=$(curl -s -m 2 "http://127.0.0.1:$PPORT/api/v1/query?query=up")
	check "Prometheus: target up" bash -c "echo '$up' | grep -q '\"value\":\[[0-9.]*,\"1\"\]'"
	kill $ppid 2>/dev/null
	wait $ppid 2>/dev/null
elif [ "${CI:-}" = true ]; then
	not_ok "prometheus" "not installed (package prometheus)"
else
	echo "# SKIP Prometheus scrape: prometheus not installed"
fi
check "daemon alive" kill -0 "$IETD_PID"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
