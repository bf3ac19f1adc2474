#!/usr/bin/env bash
# relay-compare.sh: brink relay beside nginx (Debian) as a reverse proxy to
# the same upstream, and the upstream on its own, in one run (issue 6,
# "Performance"): requests/s at saturation and the latency each proxy adds.
#
#   bench/tls/relay-compare.sh                        # about 2 minutes (3 rounds)
#   ROUNDS=1 DURATION=3s bench/tls/relay-compare.sh   # about 30 seconds
#   BRINK_RELAY=stub bench/tls/relay-compare.sh       # prove the harness without brink relay
#   TLS=1 bench/tls/relay-compare.sh                  # the proxies terminate TLS (1.3, ECDSA
#                                                     # P-256, same certificate), as the Octet
#                                                     # edge does in front of browsers
#
# All on 127.0.0.1. The upstream is bench/tls/cmd/static (fasthttp, a fixed
# $BODY-byte JSON answer for every path and method, so the relay's signal
# batches to /ingest/signals are taken too). The server side (upstream, and
# brink relay or nginx's master and one worker) runs under
# `taskset -c $SERVER_CPU`, the load under `taskset -c $LOAD_CPU`. Rows:
#   direct          wrk/tlsload → upstream
#   brink relay     → brink relay (OCTET_URL=upstream, LICENSE set) → upstream
#   nginx           → nginx proxy_pass (keepalive upstream, X-Forwarded-*,
#                     the licence header) → upstream
# Each row, each round: (1) saturation: wrk -t1 -c$CONNS -d$DURATION with
# bench/wrk/rotate.lua (a new userId per request; Authorization set) after a
# $WARMUP warm-up; (2) latency at a fixed rate below every row's saturation:
# tlsload -mode http -c $PACED_CONNS -rate $RATE -d $DURATION, latency
# counted from when each request was due. "Added" = the row's p50/p99 minus
# direct's, of the medians. Rows alternate their order by round.
#
# brink relay is started from BRINK_RELAY_CMD, a template ({BRINK} {PORT}
# {UP_PORT} {LICENSE}) run under taskset. BRINK_RELAY=auto (default) uses it
# when `brink relay --help` works, else the stub (static -proxy: a fasthttp
# HostClient forwarder), saying so in the report.
#
# Bounded: every load run is wrapped in `timeout`; a round is at most
# WARMUP + DURATION (≤ 10 s) per load run; plans over 5 minutes are refused
# and no round is started that would end past BUDGET (285 s);
# every process started is stopped by PID on exit, also on failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tag=relay-compare
# shellcheck source=bench/tls/lib.sh
. bench/tls/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-32}
PACED_CONNS=${PACED_CONNS:-8}
RATE=${RATE:-2000}
BODY=${BODY:-1024}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19460}
BUDGET=${BUDGET:-285} # seconds: no round is started that would end past this
LICENSE=${LICENSE:-bench-licence}
BRINK_RELAY=${BRINK_RELAY:-auto} # auto, brink or stub
BRINK_RELAY_CMD=${BRINK_RELAY_CMD:-'env PORT={PORT} OCTET_URL=http://127.0.0.1:{UP_PORT} LICENSE={LICENSE} {BRINK} relay -i 127.0.0.1'}
BRINK_EXTRA=${BRINK_EXTRA:-}
TLS=${TLS:-0} # 1: brink relay and nginx terminate TLS; the upstream stays plain HTTP
brink=${BRINK_BIN:-$root/bin/brink}
case $brink in /*) ;; *) brink=$root/$brink ;; esac # relative to the repository root
PATH_Q=/api/frontend # the path loaded through every row (rotate.lua adds userId/sessionId)

dur=$(secs "$DURATION")
wu=$(secs "$WARMUP")
[ $((dur + wu)) -le 10 ] || die "WARMUP + DURATION is $((dur + wu)) s; at most 10 s per load run"
plan=$((3 * ROUNDS * (wu + 2 * dur + 3) + 20))
[ "$plan" -le 300 ] || die "this plan takes about $plan s; keep it under 300 s"
run=$root/.cache/bench/relay-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
limit=$((dur + wu + 20))

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/install-bench-deps.sh >&2
nginx=$(command -v nginx || echo /usr/sbin/nginx)
for t in wrk curl taskset timeout go "$nginx"; do command -v "$t" >/dev/null || die "$t not found"; done
go build -o "$run/tlsload" ./bench/tls/cmd/tlsload
go build -o "$run/static" ./bench/tls/cmd/static
if [ "$BRINK_RELAY" = auto ] || [ "$BRINK_RELAY" = brink ]; then
	if [ -z "${BRINK_BIN:-}" ]; then go build -o "$brink" ./cmd/brink || die "go build ./cmd/brink failed"; fi
	if "$brink" relay --help >/dev/null 2>&1; then
		BRINK_RELAY=brink
	elif [ "$BRINK_RELAY" = brink ]; then
		die "$brink has no relay command"
	else
		BRINK_RELAY=stub
		log "brink has no relay command yet: the stub (static -proxy) stands in for it"
	fi
fi

p_up=$BASE_PORT p_brink=$((BASE_PORT + 1)) p_nginx=$((BASE_PORT + 2))
scheme=http tls_env="" listen_ssl="" ssl_conf="" tls_flag=none
if [ "$TLS" = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$run/tls.key" -out "$run/tls.pem" >"$run/openssl.log" 2>&1 ||
		die "openssl req failed: $(tail -2 "$run/openssl.log")"
	scheme=https tls_flag=1.3
	tls_env="env EDGE_TLS_CERT_FILE=$run/tls.pem EDGE_TLS_KEY_FILE=$run/tls.key"
	listen_ssl=ssl
	ssl_conf="ssl_certificate $run/tls.pem; ssl_certificate_key $run/tls.key; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on;"
fi
for p in $p_up $p_brink $p_nginx; do port_free "$p" || die "port $p is in use (set BASE_PORT)"; done

# --- servers: all on SERVER_CPU, up for the whole run ------------------------------------
taskset -c "$SERVER_CPU" "$run/static" -listen "127.0.0.1:$p_up" -body "$BODY" >"$run/upstream.log" 2>&1 &
pid_up=$!
pids+=("$pid_up")
wait_ok "$pid_up" 10 "http://127.0.0.1:$p_up/" || die "the upstream did not start; see $run/upstream.log"

if [ "$BRINK_RELAY" = brink ]; then
	cmd=${BRINK_RELAY_CMD//\{BRINK\}/$brink}
	cmd=${cmd//\{PORT\}/$p_brink}
	cmd=${cmd//\{UP_PORT\}/$p_up}
	cmd=${cmd//\{LICENSE\}/$LICENSE}
	cmd="$tls_env $cmd $BRINK_EXTRA"
else
	cmd="$run/static -listen 127.0.0.1:$p_brink -proxy http://127.0.0.1:$p_up"
fi
mkdir -p "$run/brink-home"
# shellcheck disable=SC2086 # the template is split into words on purpose
(cd "$run/brink-home" && exec taskset -c "$SERVER_CPU" $cmd) >"$run/brink.log" 2>&1 &
pid_brink=$!
pids+=("$pid_brink")
echo "taskset -c $SERVER_CPU $cmd" >"$run/brink.cmd"
wait_ok "$pid_brink" 20 -k "$scheme://127.0.0.1:$p_brink/health" || die "brink relay did not answer /health; see $run/brink.log: $(tail -3 "$run/brink.log")"

render bench/tls/nginx-relay.conf "$run/nginx-relay.conf" RUN="$run" PORT="$p_nginx" UP_PORT="$p_up" LICENSE="$LICENSE" \
	LISTEN_SSL="$listen_ssl" SSL="$ssl_conf"
start_nginx nginx "$run/nginx-relay.conf" "$SERVER_CPU"
wait_ok "$pid_nginx" 10 -k "$scheme://127.0.0.1:$p_nginx/health" || die "nginx did not start; see $run/nginx-error.log"

# The same answer through every row.
want=$(curl -sf "http://127.0.0.1:$p_up$PATH_Q?userId=1" | sha256sum)
for p in $p_brink $p_nginx; do
	got=$(curl -sfk -H "Authorization: x" "$scheme://127.0.0.1:$p$PATH_Q?userId=1" | sha256sum) || die "GET $PATH_Q through port $p failed"
	[ "$got" = "$want" ] || die "port $p does not pass the upstream's answer through unchanged"
done

# --- rounds ---------------------------------------------------------------------------------
results=()
row_port() { case $1 in direct) echo "$p_up" ;; brink) echo "$p_brink" ;; nginx) echo "$p_nginx" ;; esac; }
row_scheme() { if [ "$1" = direct ]; then echo http; else echo "$scheme"; fi; }
row_tls() { if [ "$1" = direct ]; then echo none; else echo "$tls_flag"; fi; }
row_pids() { case $1 in direct) echo "$pid_up" ;; brink) echo "$pid_brink $pid_up" ;; nginx) echo "$pid_nginx $pid_up" ;; esac; }
done_rounds=0
for round in $(seq 1 "$ROUNDS"); do
	if [ "$round" -gt 1 ] && [ $((SECONDS + last_round)) -gt "$BUDGET" ]; then
		log "time budget ($BUDGET s): stopping after $done_rounds rounds"
		break
	fi
	r0=$SECONDS
	log "round $round of $ROUNDS"
	order=(direct brink nginx)
	[ $((round % 2)) = 0 ] && order=(nginx brink direct)
	for r in "${order[@]}"; do
		url="$(row_scheme "$r")://127.0.0.1:$(row_port "$r")$PATH_Q"
		timeout "$limit" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$WARMUP" -s bench/wrk/rotate.lua "$url" -- relay-bench >/dev/null 2>&1 ||
			die "wrk warm-up on $url failed"
		measure "sat-$r" "$r" "$(row_pids "$r")" wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s bench/wrk/rotate.lua "$url" -- relay-bench
		measure "paced-$r" "$r" "$(row_pids "$r")" "$run/tlsload" -mode http -tls "$(row_tls "$r")" -addr "127.0.0.1:$(row_port "$r")" \
			-path "$PATH_Q?userId=1" -H "Authorization: relay-bench" -c "$PACED_CONNS" -rate "$RATE" -d "$DURATION"
	done
	done_rounds=$round
	last_round=$((SECONDS - r0))
done
stop "$pid_nginx"
stop "$pid_brink"
stop "$pid_up"

# --- report -----------------------------------------------------------------------------------
brink_label="brink relay"
[ "$BRINK_RELAY" = stub ] && brink_label="stub (static -proxy, fasthttp HostClient, standing in for brink relay)"
label() { case $1 in direct) echo "direct to the upstream" ;; brink) echo "$brink_label" ;; nginx) echo "nginx proxy_pass" ;; esac; }
col() { IFS='|' read -r -a f <<<"$(medround "$1" "$2")"; echo "${f[$3]}"; }
report=$run/report.md
{
	echo "### Relay$([ "$TLS" = 1 ] && echo " over TLS"): brink relay vs nginx vs direct ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git describe --always --dirty 2>/dev/null || echo "?"))"
	echo
	echo "- command: \`ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS PACED_CONNS=$PACED_CONNS RATE=$RATE BODY=$BODY BRINK_RELAY=$BRINK_RELAY TLS=$TLS bench/tls/relay-compare.sh\`"
	echo "- rounds measured: $done_rounds of $ROUNDS$([ "$done_rounds" -lt "$ROUNDS" ] && echo " (stopped by the $BUDGET s budget)"); load average after the run $(cut -d' ' -f1-3 /proc/loadavg); script ran $SECONDS s"
	echo "- machine: $(machine); load average before the run $load_before"
	echo "- pinning: upstream and the proxy under test \`taskset -c $SERVER_CPU\`; wrk and tlsload \`taskset -c $LOAD_CPU\`"
	echo "- upstream: \`static -listen 127.0.0.1:UP -body $BODY\` (fasthttp, $BODY-byte JSON for every path)"
	echo "- brink: \`$(sed "s|$run|RUN|g; s|$root/||g" "$run/brink.cmd")\`"
	echo "- nginx: \`$(sed "s|$run|RUN|g" "$run/nginx.cmd")\`, config bench/tls/nginx-relay.conf (worker_processes 1, keepalive 64 upstream connections)"
	echo "- saturation: \`wrk -t1 -c$CONNS -d$DURATION --latency -s bench/wrk/rotate.lua $scheme://127.0.0.1:PORT$PATH_Q -- relay-bench\` after a $WARMUP warm-up"
	[ "$TLS" = 1 ] && echo "- TLS: brink relay and nginx terminate TLS 1.3 with one ECDSA P-256 certificate (wrk: OpenSSL client; tlsload: Go crypto/tls); connections are kept alive, so handshakes are a warm-up cost only; the upstream and the direct row stay plain HTTP"
	echo "- latency: \`tlsload -mode http -tls $tls_flag -c $PACED_CONNS -rate $RATE -d $DURATION -path '$PATH_Q?userId=1'\` (paced; latency from when each request was due)"
	echo
	echo "| row | req/s at saturation, each round | median | p99 at saturation | server CPU | vs nginx | p50 at $RATE/s | p99 at $RATE/s | p99 each round | added p50 / p99 vs direct |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
	for r in direct brink nginx; do
		rate=$(medrow "sat-$r" "$r")
		p99s=$(col "sat-$r" "$r" 5)
		cpu=$(col "sat-$r" "$r" 6)
		pp50=$(get "paced-$r" "$r" 5 | median)
		pp99=$(get "paced-$r" "$r" 6 | median)
		dp50=$(get paced-direct direct 5 | median)
		dp99=$(get paced-direct direct 6 | median)
		vs="–"
		[ "$r" != direct ] && vs=$(ratio "$rate" "$(medrow sat-nginx nginx)")
		added="–"
		[ "$r" != direct ] && added=$(awk -v a="$pp50" -v b="$dp50" -v c="$pp99" -v d="$dp99" 'BEGIN{printf "%+.0f µs / %+.0f µs", a - b, c - d}')
		printf '| %s | %s | %.0f | %s | %s%% | %s | %s | %s | %s | %s |\n' "$(label "$r")" "$(rounds "sat-$r" "$r")" "$rate" "$(ms "$p99s")" "$cpu" "$vs" \
			"$(ms "$pp50")" "$(ms "$pp99")" "$(get "paced-$r" "$r" 6 | awk '{printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / 1000}') ms" "$added"
	done
	echo
	echo "Saturation rows: the round with the median req/s gives p99 and CPU; server CPU = utime+stime of the proxy and the upstream (both on CPU $SERVER_CPU) in % of one core. Paced rows: medians over rounds of each round's p50 and p99. Errors: $(printf '%s\n' "${results[@]}" | awk -F'|' '{s += $8} END{print s + 0}') in all runs."
} >"$report"
cat "$report"
log "logs, commands and raw output: $run"
