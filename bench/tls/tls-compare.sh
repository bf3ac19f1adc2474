#!/usr/bin/env bash
# tls-compare.sh: brink's TLS termination beside nginx (Debian) in one run,
# same certificate, same machine, server on one pinned core and the load
# generator on another (issue 5, "Performance").
#
#   bench/tls/tls-compare.sh                        # about 3-4 minutes (3 rounds)
#   ROUNDS=1 DURATION=2s bench/tls/tls-compare.sh   # about 1 minute
#   REFERENCE=1 bench/tls/tls-compare.sh            # + a plain crypto/tls server row
#   BRINK_TLS=stub bench/tls/tls-compare.sh         # prove the harness without brink's TLS
#
# Rows (all on 127.0.0.1; brink, nginx's master and its one worker, and the
# reference under `taskset -c $SERVER_CPU`; tlsload and wrk under
# `taskset -c $LOAD_CPU`):
#   1. handshakes/s: bench/tls/cmd/tlsload -mode handshake, $HS_CONNS
#      workers each looping connect + handshake + GET /internal-backstage/health
#      (Connection: close) + close; X25519 key exchange:
#        full TLS 1.3 ECDSA P-256, full TLS 1.3 RSA 2048, full TLS 1.2 ECDSA,
#        resumed TLS 1.3 ECDSA (session tickets; the share that resumed is
#        reported), brink vs nginx (ssl_session_tickets on, worker_processes 1);
#   2. requests/s over kept-alive TLS for /api/frontend with the demo
#      frontend token (wrk -t1 -c$KA_CONNS, bench/wrk/rotate.lua: a new
#      userId per request): (a) brink TLS, (b) nginx terminating TLS and
#      proxying to brink's plain port (keepalive upstream), (c) brink plain.
# Each row runs ROUNDS times; within a round the peers alternate who goes
# first; the report shows every round, the median, the server CPU (brink +
# nginx processes, % of one core) and the ratio of the medians.
#
# brink TLS is started from BRINK_TLS_CMD, a template ({BRINK} {CERT} {KEY}
# {AUX_PORT} {TLS_PORT}) run under taskset; the env form works too:
#   BRINK_TLS_CMD='env EDGE_TLS_CERT_FILE={CERT} EDGE_TLS_KEY_FILE={KEY} {BRINK} offline --demo -i 127.0.0.1 --port {TLS_PORT}'
# With TLS on, brink serves its API over HTTPS only, so a second brink from
# BRINK_PLAIN_CMD ({BRINK} {PORT}) serves plain HTTP for rows (b) and (c),
# on the same core. BRINK_TLS=auto (default) uses
# brink when `brink offline --help` lists --tls-enable and the stub
# (bench/tls/cmd/static: crypto/tls + fasthttp, fixed answers) otherwise,
# saying so in the report.
#
# Bounded: every load run is wrapped in `timeout`, each round is at most
# WARMUP + DURATION (≤ 10 s), the whole script refuses plans over 5 minutes
# and starts no round that would end past BUDGET (285 s) on a slow machine,
# and every process it starts is stopped by PID on exit, also on failure.
# Exits 0 when it measured, 1 when it could not.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tag=tls-compare
# shellcheck source=bench/tls/lib.sh
. bench/tls/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
HS_CONNS=${HS_CONNS:-32}
KA_CONNS=${KA_CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19440}
BUDGET=${BUDGET:-285} # seconds: no round is started that would end past this
REFERENCE=${REFERENCE:-0}
BRINK_TLS=${BRINK_TLS:-auto} # auto, brink or stub
BRINK_TLS_ASKED=$BRINK_TLS
BRINK_EXTRA=${BRINK_EXTRA:-} # more brink flags, e.g. '--server loop'
BRINK_TLS_CMD=${BRINK_TLS_CMD:-'{BRINK} offline --demo -i 127.0.0.1 --port {AUX_PORT} --tls-enable --tls-server-cert {CERT} --tls-server-key {KEY} --tls-server-port {TLS_PORT}'}
BRINK_PLAIN_CMD=${BRINK_PLAIN_CMD:-'{BRINK} offline --demo -i 127.0.0.1 --port {PORT}'}
FRONTEND_TOKEN=${FRONTEND_TOKEN:-'*:development.brink-demo-frontend'}
brink=${BRINK_BIN:-$root/bin/brink}
case $brink in /*) ;; *) brink=$root/$brink ;; esac # relative to the repository root

dur=$(secs "$DURATION")
wu=$(secs "$WARMUP")
[ $((dur + wu)) -le 10 ] || die "WARMUP + DURATION is $((dur + wu)) s; at most 10 s per round"
peers_hs=2
[ "$REFERENCE" = 1 ] && peers_hs=3
plan=$(((4 * peers_hs * (dur + wu + 1) + 3 * (dur + wu + 1)) * ROUNDS + 20))
[ "$plan" -le 300 ] || die "this plan takes about $plan s; keep it under 300 s (fewer ROUNDS or a shorter DURATION)"
run=$root/.cache/bench/tls-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
limit=$((dur + wu + 20))

# --- 1. dependencies, build, certificates -------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/install-bench-deps.sh >&2
nginx=$(command -v nginx || echo /usr/sbin/nginx)
for t in wrk curl taskset timeout openssl go "$nginx"; do command -v "$t" >/dev/null || die "$t not found"; done
go build -o "$run/tlsload" ./bench/tls/cmd/tlsload
go build -o "$run/static" ./bench/tls/cmd/static
if [ "$BRINK_TLS" = auto ] || [ "$BRINK_TLS" = brink ]; then
	if [ -z "${BRINK_BIN:-}" ]; then go build -o "$brink" ./cmd/brink || die "go build ./cmd/brink failed"; fi
	if "$brink" offline --help 2>&1 | grep -q -- '--tls-enable'; then
		BRINK_TLS=brink
		brink_probe=1 # decided after a trial start below, once the certificates exist
	elif [ "$BRINK_TLS" = brink ]; then
		die "$brink offline --help lists no --tls-enable"
	else
		BRINK_TLS=stub
		log "brink has no --tls-enable yet: the stub (bench/tls/cmd/static) stands in for it"
	fi
fi
for kind in ecdsa rsa; do
	case $kind in
	ecdsa) kopt=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
	rsa) kopt=(-newkey rsa:2048) ;;
	esac
	openssl req -x509 "${kopt[@]}" -nodes -days 2 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		-keyout "$run/$kind.key" -out "$run/$kind.pem" >"$run/openssl-$kind.log" 2>&1 || die "openssl req ($kind) failed: $(tail -2 "$run/openssl-$kind.log")"
done

p_brink=$BASE_PORT p_brink_tls=$((BASE_PORT + 1)) p_nginx_tls=$((BASE_PORT + 2)) p_ref_tls=$((BASE_PORT + 3)) p_brink_aux=$((BASE_PORT + 4))
for p in $p_brink $p_brink_tls $p_nginx_tls $p_ref_tls $p_brink_aux; do port_free "$p" || die "port $p is in use (set BASE_PORT)"; done

# brink_cmd KIND MODE: brink's command line (MODE brink or stub) with KIND's certificate.
brink_cmd() {
	local kind=$1 cmd
	if [ "$2" = brink ]; then
		cmd=${BRINK_TLS_CMD//\{BRINK\}/$brink}
		cmd=${cmd//\{CERT\}/$run/$kind.pem}
		cmd=${cmd//\{KEY\}/$run/$kind.key}
		cmd=${cmd//\{AUX_PORT\}/$p_brink_aux}
		cmd=${cmd//\{TLS_PORT\}/$p_brink_tls}
		echo "$cmd $BRINK_EXTRA"
	else
		echo "$run/static -tls-listen 127.0.0.1:$p_brink_tls -cert $run/$kind.pem -key $run/$kind.key -body 779"
	fi
}

# start_brink KIND: brink (or the stub) on SERVER_CPU with KIND's certificate; sets pid_brink.
start_brink() {
	local kind=$1 cmd
	cmd=$(brink_cmd "$kind" "$BRINK_TLS")
	# shellcheck disable=SC2086 # the template is split into words on purpose
	taskset -c "$SERVER_CPU" $cmd >"$run/brink-$kind.log" 2>&1 &
	pid_brink=$!
	pids+=("$pid_brink")
	echo "taskset -c $SERVER_CPU $cmd" >"$run/brink-$kind.cmd"
	wait_ok "$pid_brink" 20 -k "https://127.0.0.1:$p_brink_tls/internal-backstage/health" ||
		die "brink ($kind) does not answer on TLS port $p_brink_tls; see $run/brink-$kind.log: $(tail -3 "$run/brink-$kind.log")"
	# The plain instance: /api/frontend for rows (b), behind nginx, and (c).
	# (With --tls-enable brink serves its API over HTTPS only.)
	local pcmd
	if [ "$BRINK_TLS" = brink ]; then
		pcmd=${BRINK_PLAIN_CMD//\{BRINK\}/$brink}
		pcmd="${pcmd//\{PORT\}/$p_brink} $BRINK_EXTRA"
	else
		pcmd="$run/static -listen 127.0.0.1:$p_brink -body 779"
	fi
	# shellcheck disable=SC2086 # the template is split into words on purpose
	taskset -c "$SERVER_CPU" $pcmd >"$run/brink-plain-$kind.log" 2>&1 &
	pid_brink_plain=$!
	pids+=("$pid_brink_plain")
	echo "taskset -c $SERVER_CPU $pcmd" >"$run/brink-plain.cmd"
	wait_ok "$pid_brink_plain" 20 -H "Authorization: $FRONTEND_TOKEN" "http://127.0.0.1:$p_brink/api/frontend" ||
		die "brink plain does not answer /api/frontend on port $p_brink; see $run/brink-plain-$kind.log"
	# Both answer the same /api/frontend.
	local a b
	a=$(curl -sk -H "Authorization: $FRONTEND_TOKEN" "https://127.0.0.1:$p_brink_tls/api/frontend?userId=7" | sha256sum)
	b=$(curl -s -H "Authorization: $FRONTEND_TOKEN" "http://127.0.0.1:$p_brink/api/frontend?userId=7" | sha256sum)
	[ "$a" = "$b" ] || die "brink over TLS and brink plain answer /api/frontend differently"
}

start_ref() {
	local kind=$1
	taskset -c "$SERVER_CPU" "$run/static" -tls-listen "127.0.0.1:$p_ref_tls" -cert "$run/$kind.pem" -key "$run/$kind.key" -body 20 >"$run/ref-$kind.log" 2>&1 &
	pid_ref=$!
	pids+=("$pid_ref")
	wait_ok "$pid_ref" 10 -k "https://127.0.0.1:$p_ref_tls/" || die "the crypto/tls reference did not start; see $run/ref-$kind.log"
}

# With BRINK_TLS=auto, a brink that lists --tls-enable but does not serve
# TLS with it yet (the flag parsed, the listener not wired) falls back to the
# stub, said in the report.
if [ -n "${brink_probe:-}" ] && [ "$BRINK_TLS_ASKED" = auto ]; then
	# shellcheck disable=SC2046 # the template is split into words on purpose
	taskset -c "$SERVER_CPU" $(brink_cmd ecdsa brink) >"$run/brink-probe.log" 2>&1 &
	pid_probe=$!
	pids+=("$pid_probe")
	if ! wait_ok "$pid_probe" 8 -k "https://127.0.0.1:$p_brink_tls/internal-backstage/health"; then
		BRINK_TLS=stub
		log "brink lists --tls-enable but does not answer HTTPS with it (see $run/brink-probe.log): the stub stands in for it"
	fi
	stop "$pid_probe"
fi

start_nginx_tls() {
	local kind=$1
	render bench/tls/nginx-tls.conf "$run/nginx-tls-$kind.conf" RUN="$run" TLS_PORT="$p_nginx_tls" BRINK_PORT="$p_brink" \
		CERT="$run/$kind.pem" KEY="$run/$kind.key"
	start_nginx nginx "$run/nginx-tls-$kind.conf" "$SERVER_CPU"
	wait_ok "$pid_nginx" 10 -k "https://127.0.0.1:$p_nginx_tls/internal-backstage/health" ||
		die "nginx ($kind) did not start; see $run/nginx-error.log: $(tail -3 "$run/nginx-error.log")"
	# The same certificate on both: compare what each serves.
	local a b
	a=$(openssl s_client -connect "127.0.0.1:$p_brink_tls" -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256)
	b=$(openssl s_client -connect "127.0.0.1:$p_nginx_tls" -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256)
	[ -n "$a" ] && [ "$a" = "$b" ] || die "brink and nginx serve different certificates: '$a' vs '$b'"
}

# --- measuring (measure, in lib.sh) ---------------------------------------------------
results=() # row|peer|round|rate|p50_us|p99_us|server_cpu_pct|errors|resumed|ops|server_core_busy|load_core_busy

hs() { # hs ROW PEER PORT PIDS TLSLOAD-ARGS...
	local row=$1 peer=$2 port=$3 spids=$4
	shift 4
	measure "$row" "$peer" "$spids" "$run/tlsload" -mode handshake -addr "127.0.0.1:$port" -c "$HS_CONNS" \
		-d "$DURATION" -warmup "$WARMUP" -path /internal-backstage/health "$@"
}

ka() { # ka ROW PEER URL: wrk keep-alive on /api/frontend
	local row=$1 peer=$2 url=$3
	timeout "$limit" taskset -c "$LOAD_CPU" wrk -t1 -c"$KA_CONNS" -d"$WARMUP" -s bench/wrk/rotate.lua "$url" -- "$FRONTEND_TOKEN" >/dev/null 2>&1 ||
		die "wrk warm-up on $url failed"
	measure "$row" "$peer" "$pid_brink $pid_brink_plain $pid_nginx" wrk -t1 -c"$KA_CONNS" -d"$DURATION" --latency -s bench/wrk/rotate.lua "$url" -- "$FRONTEND_TOKEN"
}

# hs_peers ROW ARGS...: the handshake row for every peer, order alternating by round.
hs_peers() {
	local row=$1
	shift
	local order=(brink nginx)
	[ "$REFERENCE" = 1 ] && order+=(gotls)
	[ $((round % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
	local p
	for p in "${order[@]}"; do
		case $p in
		brink) hs "$row" brink "$p_brink_tls" "$pid_brink" "$@" ;;
		nginx) hs "$row" nginx "$p_nginx_tls" "$pid_nginx" "$@" ;;
		gotls) hs "$row" gotls "$p_ref_tls" "$pid_ref" "$@" ;;
		esac
	done
}

# --- 2. the rounds ----------------------------------------------------------------------
# Each round starts both servers with the ECDSA pair, runs its rows, then
# restarts them with the RSA pair. A round is not started when the previous
# one's duration would carry the script past BUDGET seconds.
done_rounds=0
for round in $(seq 1 "$ROUNDS"); do
	if [ "$round" -gt 1 ] && [ $((SECONDS + last_round)) -gt "$BUDGET" ]; then
		log "time budget ($BUDGET s): stopping after $done_rounds rounds"
		break
	fi
	r0=$SECONDS
	for kind in ecdsa rsa; do
		log "round $round of $ROUNDS, $kind certificate"
		start_brink "$kind"
		start_nginx_tls "$kind"
		pid_ref=
		[ "$REFERENCE" = 1 ] && start_ref "$kind"
		if [ "$kind" = ecdsa ]; then
			hs_peers hs-ecdsa-tls13-full -tls 1.3
			hs_peers hs-ecdsa-tls12-full -tls 1.2
			hs_peers hs-ecdsa-tls13-resumed -tls 1.3 -resume
			kas=("ka-brink-tls|https://127.0.0.1:$p_brink_tls/api/frontend" "ka-nginx-to-brink|https://127.0.0.1:$p_nginx_tls/api/frontend" "ka-brink-plain|http://127.0.0.1:$p_brink/api/frontend")
			[ $((round % 2)) = 0 ] && mapfile -t kas < <(printf '%s\n' "${kas[@]}" | tac)
			for k in "${kas[@]}"; do ka "${k%%|*}" "${k%%|*}" "${k#*|}"; done
		else
			hs_peers hs-rsa-tls13-full -tls 1.3
		fi
		stop "$pid_nginx"
		stop "$pid_brink"
		stop "$pid_brink_plain"
		if [ -n "$pid_ref" ]; then stop "$pid_ref"; fi
	done
	done_rounds=$round
	last_round=$((SECONDS - r0))
done

# --- 3. report ----------------------------------------------------------------------------
brink_label=brink
[ "$BRINK_TLS" = stub ] && brink_label="stub (crypto/tls + fasthttp, standing in for brink)"
commit=$(git describe --always --dirty 2>/dev/null || echo "?")

report=$run/report.md
{
	echo "### TLS: brink vs nginx ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit)"
	echo
	echo "- command: \`ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP HS_CONNS=$HS_CONNS KA_CONNS=$KA_CONNS REFERENCE=$REFERENCE BRINK_TLS=$BRINK_TLS bench/tls/tls-compare.sh\`"
	echo "- rounds measured: $done_rounds of $ROUNDS$([ "$done_rounds" -lt "$ROUNDS" ] && echo " (stopped by the $BUDGET s budget)"); load average after the run $(cut -d' ' -f1-3 /proc/loadavg); script ran $SECONDS s"
	echo "- machine: $(machine); load average before the run $load_before"
	echo "- pinning: servers (brink, nginx master + 1 worker$([ "$REFERENCE" = 1 ] && echo ", crypto/tls reference")) \`taskset -c $SERVER_CPU\`, load generators \`taskset -c $LOAD_CPU\`"
	echo "- brink TLS: \`$(sed "s|$run|RUN|g; s|$root/||g; s|ecdsa|KIND|g" "$run/brink-ecdsa.cmd")\`; brink plain (behind nginx, and row (c)): \`$(sed "s|$run|RUN|g; s|$root/||g" "$run/brink-plain.cmd")\`"
	echo "- nginx: \`$(sed "s|$run|RUN|g; s|rsa|KIND|g" "$run/nginx.cmd")\`, config bench/tls/nginx-tls.conf (worker_processes 1, ssl_session_tickets on, keepalive upstream to brink's plain port)"
	echo "- certificates: self-signed ECDSA P-256 and RSA 2048 (openssl req), the same files for both servers (SHA-256 fingerprints compared)"
	echo "- handshakes: \`tlsload -mode handshake -c $HS_CONNS -d $DURATION -warmup $WARMUP -path /internal-backstage/health -tls V [-resume]\`: connect + handshake (client offers X25519, then P-256; both servers pick X25519) + one GET with Connection: close + close"
	echo "- keep-alive: \`wrk -t1 -c$KA_CONNS -d$DURATION --latency -s bench/wrk/rotate.lua URL -- TOKEN\` after a $WARMUP warm-up; wrk built with OpenSSL $(ldd "$(command -v wrk)" | grep -q libssl && echo yes || echo no)"
	echo
	echo "| row | peer | per second, each round | median | p50 | p99 | server CPU | cores busy (server/load) | per server CPU-second | resumed | errors | brink / nginx |"
	echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for row in hs-ecdsa-tls13-full hs-rsa-tls13-full hs-ecdsa-tls12-full hs-ecdsa-tls13-resumed; do
		for peer in brink nginx gotls; do
			[ -n "$(get "$row" "$peer" 4)" ] || continue
			IFS='|' read -r _ _ _ rate p50 p99 cpu errs res ops sb lb <<<"$(medround "$row" "$peer")"
			per=$(awk -v r="$rate" -v c="$cpu" 'BEGIN{ if (c > 0) printf "%.0f", r / (c / 100); else print "–" }')
			rat=""
			if [ "$peer" = brink ]; then
				rb=$(medrow "$row" nginx)
				cb=$(IFS='|' read -r _ _ _ _ _ _ c _ _ _ _ _ <<<"$(medround "$row" nginx)"; echo "$c")
				rat="$(ratio "$rate" "$rb") (per CPU-s $(awk -v a="$rate" -v ca="$cpu" -v b="$rb" -v cb="$cb" 'BEGIN{ if (b > 0 && ca > 0 && cb > 0) printf "%.2f×", (a / ca) / (b / cb); else printf "–" }'))"
			fi
			label=$peer
			[ "$peer" = brink ] && label=$brink_label
			[ "$peer" = gotls ] && label="crypto/tls reference (bench/tls/cmd/static)"
			resd="–"
			[ -n "$res" ] && [ "$ops" -gt 0 ] && resd=$(awk -v a="$res" -v b="$ops" 'BEGIN{printf "%.0f%%", 100 * a / b}')
			printf '| %s | %s | %s | %.0f | %s | %s | %s%% | %s%% / %s%% | %s | %s | %s | %s |\n' "$row" "$label" "$(rounds "$row" "$peer")" "$rate" \
				"$(ms "$p50")" "$(ms "$p99")" "$cpu" "$sb" "$lb" "$per" "$resd" "$errs" "$rat"
		done
	done
	for row in ka-brink-tls ka-nginx-to-brink ka-brink-plain; do
		IFS='|' read -r _ _ _ rate p50 p99 cpu errs _ _ sb lb <<<"$(medround "$row" "$row")"
		per=$(awk -v r="$rate" -v c="$cpu" 'BEGIN{ if (c > 0) printf "%.0f", r / (c / 100); else print "–" }')
		case $row in
		ka-brink-tls) label="$brink_label, TLS 1.3"; rat="$(ratio "$rate" "$(medrow ka-nginx-to-brink ka-nginx-to-brink)") of nginx→brink" ;;
		ka-nginx-to-brink) label="nginx TLS → $brink_label plain"; rat="1.00×" ;;
		ka-brink-plain) label="$brink_label, plain HTTP"; rat="$(ratio "$rate" "$(medrow ka-nginx-to-brink ka-nginx-to-brink)") of nginx→brink" ;;
		esac
		printf '| %s | %s | %s | %.0f | %s | %s | %s%% | %s%% / %s%% | %s | – | %s | %s |\n' "$row /api/frontend" "$label" "$(rounds "$row" "$row")" "$rate" \
			"$(ms "$p50")" "$(ms "$p99")" "$cpu" "$sb" "$lb" "$per" "$errs" "$rat"
	done
	echo
	echo "Per second = handshakes (each with one tiny request) or requests per second in the measured window; the median round gives p50, p99 and CPU. Server CPU = utime+stime of the server processes (brink, nginx master and worker; for the keep-alive rows brink TLS, brink plain and nginx together, since (b) runs through nginx and brink plain) over the load run, in % of one core (100% = the pinned core is saturated); cores busy = how busy the server's and the load generator's cores were with anything (other users of the machine included); per server CPU-second = rate / that share, the figure that still compares when the single-core load generator, not the server, is the limit. Ratios are of the medians."
} >"$report"
cat "$report"
log "logs, commands and raw output: $run"
