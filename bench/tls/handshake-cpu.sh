#!/usr/bin/env bash
# handshake-cpu.sh: server CPU per TLS handshake (full TLS 1.3 ECDSA P-256
# by default; KEY, TLS and RESUME pick others), brink variants beside nginx
# and a bare crypto/tls server, interleaved (issue 5, "full handshakes per
# second at least nginx's rate").
#
#   bench/tls/handshake-cpu.sh                                  # 8 rounds, about 4-5 minutes
#   ROUNDS=2 bench/tls/handshake-cpu.sh                         # about 1 minute
#   SERVERS="brink nginx" BRINK_BIN=/tmp/brink bench/tls/handshake-cpu.sh
#   SERVERS="brink-loop brink-netpoll nginx gotls" KEY=rsa bench/tls/handshake-cpu.sh   # full TLS 1.3, RSA 2048
#   ... TLS=1.2 ...      full TLS 1.2 (ECDHE-ECDSA)
#   ... RESUME=1 ...     resumed TLS 1.3 (session tickets; the report says how many resumed)
#
# Method (the one of bench/RESULTS-tls.md, 2026-11-23): one server at a time,
# started fresh each round under `taskset -c $SERVER_CPU`; tlsload under
# `taskset -c $LOAD_CPU` warms it for $WARMUP with the same load, then
#   tlsload -mode handshake -c $CONNS -d $DURATION -path /internal-backstage/health -tls 1.3
# runs while utime+stime of the server and its children are read from
# /proc/PID/stat before and after; CPU µs per handshake = that CPU time ÷
# the handshakes tlsload completed. The order of the servers rotates by one
# each round. Servers ($SERVERS, any of):
#   brink          bin/brink offline --demo --tls-enable, capture default (auto: eBPF), default --tls-accept
#   brink-loop     the same with --tls-accept loop (gnet loop, then handshake workers)
#   brink-netpoll  the same with --tls-accept netpoll (net.Listener, goroutine per connection)
#   brink-nocap    the same with --signal-capture off
#   brink-gogc200  the same as brink with GOGC=200 in its environment
#   brink-gogc400  the same as brink with GOGC=400
#   brink-nocap-gogc200  --signal-capture off and GOGC=200 (not in the default set)
#   NAME@b         any brink server above run from $BRINK_BIN_B (an A/B of two builds)
#   nginx          bench/tls/nginx-tls.conf (worker_processes 1, tickets on)
#   gotls          bench/tls/cmd/static -tls-listen (crypto/tls + fasthttp)
# All serve the same self-signed certificate: ECDSA P-256, or RSA 2048 with
# KEY=rsa.
#
# Bounded: WARMUP + DURATION ≤ 10 s per server run, each tlsload under
# `timeout`, plans over 5 minutes refused, no round started that would end
# past BUDGET (285 s), and every process started here is stopped by PID on
# exit (lib.sh's trap), also on failure. Prints a Markdown report; the raw
# output stays in .cache/bench/hscpu-DATE/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tag=handshake-cpu
# shellcheck source=bench/tls/lib.sh
. bench/tls/lib.sh

ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-3s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-19560}
BUDGET=${BUDGET:-285}
SERVERS=${SERVERS:-brink brink-nocap brink-gogc200 brink-gogc400 nginx gotls}
KEY=${KEY:-ecdsa}
TLS=${TLS:-1.3}
RESUME=${RESUME:-0}
brink=${BRINK_BIN:-$root/bin/brink}
case $brink in /*) ;; *) brink=$root/$brink ;; esac

read -r -a servers <<<"$SERVERS"
for s in "${servers[@]}"; do
	case $s in *@b) [ -x "${BRINK_BIN_B:-}" ] || die "$s: set BRINK_BIN_B to a second brink binary" ;; esac
	case ${s%@b} in brink | brink-loop | brink-netpoll | brink-nocap | brink-gogc200 | brink-gogc400 | brink-nocap-gogc200 | nginx | gotls) ;; *) die "SERVERS: unknown server $s" ;; esac
done
case $KEY in ecdsa) kopt=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;; rsa) kopt=(-newkey rsa:2048) ;; *) die "KEY: ecdsa or rsa, not $KEY" ;; esac
case $TLS in 1.2 | 1.3) ;; *) die "TLS: 1.2 or 1.3, not $TLS" ;; esac
case $RESUME in 0) ropt=() kind=full ;; 1) ropt=(-resume) kind=resumed ;; *) die "RESUME: 0 or 1, not $RESUME" ;; esac
dur=$(secs "$DURATION")
wu=$(secs "$WARMUP")
[ $((dur + wu)) -le 10 ] || die "WARMUP + DURATION is $((dur + wu)) s; at most 10 s per run"
plan=$((ROUNDS * ${#servers[@]} * (dur + wu + 1) + 20))
[ "$plan" -le 300 ] || die "this plan takes about $plan s; keep it under 300 s (fewer ROUNDS or SERVERS)"
limit=$((dur + 10))
run=$root/.cache/bench/hscpu-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
hz=$(getconf CLK_TCK)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
nginx=$(command -v nginx || echo /usr/sbin/nginx)
for t in curl taskset timeout openssl go "$nginx"; do command -v "$t" >/dev/null || die "$t not found (scripts/install-bench-deps.sh)"; done
go build -o "$run/tlsload" ./bench/tls/cmd/tlsload
go build -o "$run/static" ./bench/tls/cmd/static
if [ -z "${BRINK_BIN:-}" ]; then make build >&2 || die "make build failed"; fi
[ -x "$brink" ] || die "$brink: not an executable"
openssl req -x509 "${kopt[@]}" -nodes -days 2 -subj /CN=localhost \
	-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout "$run/ecdsa.key" -out "$run/ecdsa.pem" >"$run/openssl.log" 2>&1 ||
	die "openssl req failed: $(tail -2 "$run/openssl.log")"
p_tls=$BASE_PORT p_aux=$((BASE_PORT + 1))
for p in $p_tls $p_aux; do port_free "$p" || die "port $p is in use (set BASE_PORT)"; done
render bench/tls/nginx-tls.conf "$run/nginx-tls.conf" RUN="$run" TLS_PORT="$p_tls" BRINK_PORT="$p_aux" \
	CERT="$run/ecdsa.pem" KEY="$run/ecdsa.key"

# start SERVER: SERVER on SERVER_CPU, answering on p_tls; sets spid.
start() {
	local s=$1 env=() extra=() bin=$brink
	case $s in *@b) bin=$BRINK_BIN_B ;; esac
	case ${s%@b} in
	nginx)
		start_nginx nginx "$run/nginx-tls.conf" "$SERVER_CPU"
		spid=$pid_nginx
		;;
	gotls)
		taskset -c "$SERVER_CPU" "$run/static" -tls-listen "127.0.0.1:$p_tls" -cert "$run/ecdsa.pem" -key "$run/ecdsa.key" -body 20 >"$run/$s.r$round.log" 2>&1 &
		spid=$!
		pids+=("$spid")
		;;
	brink*)
		case ${s%@b} in
		brink-loop) extra=(--tls-accept loop) ;;
		brink-netpoll) extra=(--tls-accept netpoll) ;;
		brink-nocap) extra=(--signal-capture off) ;;
		brink-gogc200) env=(GOGC=200) ;;
		brink-gogc400) env=(GOGC=400) ;;
		brink-nocap-gogc200) env=(GOGC=200) extra=(--signal-capture off) ;;
		esac
		env "${env[@]}" taskset -c "$SERVER_CPU" "$bin" offline --demo -i 127.0.0.1 --port "$p_aux" --tls-enable \
			--tls-server-cert "$run/ecdsa.pem" --tls-server-key "$run/ecdsa.key" --tls-server-port "$p_tls" "${extra[@]}" >"$run/$s.r$round.log" 2>&1 &
		spid=$!
		pids+=("$spid")
		echo "env ${env[*]} taskset -c $SERVER_CPU BRINK offline --demo -i 127.0.0.1 --port AUX --tls-enable --tls-server-cert C --tls-server-key K --tls-server-port TLS ${extra[*]}" >"$run/$s.cmd"
		;;
	esac
	wait_ok "$spid" 20 -k "https://127.0.0.1:$p_tls/internal-backstage/health" ||
		die "$s does not answer on port $p_tls; see $run/$s.r$round.log $run/nginx-error.log"
}

results=() # server|round|us_per_hs|ops|rate|errors|load_core_busy
one() { # one SERVER: warm up, measure, stop
	local s=$1 f=$run/$1.r$round
	start "$s"
	timeout "$limit" taskset -c "$LOAD_CPU" "$run/tlsload" -mode handshake -addr "127.0.0.1:$p_tls" -c "$CONNS" -d "$WARMUP" \
		-path /internal-backstage/health -tls "$TLS" "${ropt[@]}" >"$f.warm" 2>&1 || die "$s round $round: warm-up failed: $(tail -3 "$f.warm")"
	local c0 c1 l0 l1 line ops errs rate us
	c0=$(proc_ticks "$spid")
	l0=$(core_ticks "$LOAD_CPU")
	timeout "$limit" taskset -c "$LOAD_CPU" "$run/tlsload" -mode handshake -addr "127.0.0.1:$p_tls" -c "$CONNS" -d "$DURATION" \
		-path /internal-backstage/health -tls "$TLS" "${ropt[@]}" >"$f.out" 2>"$f.err" || die "$s round $round failed: $(tail -3 "$f.err" "$f.out")"
	c1=$(proc_ticks "$spid")
	l1=$(core_ticks "$LOAD_CPU")
	if [ "$s" = nginx ]; then grep -q . "$run/nginx-error.log" 2>/dev/null && log "nginx error log: $(tail -1 "$run/nginx-error.log")"; fi
	stop "$spid"
	line=$(grep '^RESULT ' "$f.out") || die "no RESULT line in $f.out"
	ops=$(field ops "$line")
	rate=$(field rate "$line")
	errs=$(($(field errors "$line") + $(field status_errors "$line")))
	[ "$ops" -gt 0 ] || die "$s round $round: no handshakes"
	us=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$ops" 'BEGIN{printf "%.1f", c / hz * 1e6 / n}')
	res=$(field resumed "$line" 2>/dev/null || true)
	results+=("$s|$round|$us|$ops|$rate|$errs|$(busy_pct "$l0" "$l1")|${res:-0}")
	log "round $round $s: $us µs CPU per handshake ($ops handshakes, $(printf '%.0f' "$rate")/s, errors $errs, load core $(busy_pct "$l0" "$l1")% busy${res:+, resumed $res})"
}

done_rounds=0
last_round=0
for round in $(seq 1 "$ROUNDS"); do
	if [ "$round" -gt 1 ] && [ $((SECONDS + last_round)) -gt "$BUDGET" ]; then
		log "time budget ($BUDGET s): stopping after $done_rounds rounds"
		break
	fi
	r0=$SECONDS
	n=${#servers[@]}
	order=()
	for i in $(seq 0 $((n - 1))); do order+=("${servers[$(((i + round - 1) % n))]}"); done
	for s in "${order[@]}"; do one "$s"; done
	done_rounds=$round
	last_round=$((SECONDS - r0))
done

# --- report
capture=$(grep -ho 'tcpsig: connection signals from [^"]*' "$run"/brink.r1.log 2>/dev/null | head -1 || true)
col() { printf '%s\n' "${results[@]}" | awk -F'|' -v s="$1" -v c="$2" '$1 == s {print $c}'; }
med() { col "$1" 3 | median; }
label() {
	case $1 in *@b) echo "$(label "${1%@b}") [BRINK_BIN_B]" && return ;; esac
	case $1 in
	brink) echo "brink (capture auto${capture:+: ${capture#tcpsig: connection signals from }})" ;;
	brink-loop) echo "brink --tls-accept loop" ;;
	brink-netpoll) echo "brink --tls-accept netpoll" ;;
	brink-nocap) echo "brink --signal-capture off" ;;
	brink-gogc200) echo "brink, GOGC=200" ;;
	brink-gogc400) echo "brink, GOGC=400" ;;
	brink-nocap-gogc200) echo "brink --signal-capture off, GOGC=200" ;;
	nginx) echo "nginx $("$nginx" -v 2>&1 | sed 's/.*nginx\///'), 1 worker" ;;
	gotls) echo "bare crypto/tls (bench/tls/cmd/static)" ;;
	esac
}
nmed=$(med nginx 2>/dev/null || true)
commit=$(git describe --always --dirty 2>/dev/null || echo "?")
{
	echo "### Server CPU per $kind TLS $TLS handshake, $KEY ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit)"
	echo
	echo "- command: \`ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS KEY=$KEY TLS=$TLS RESUME=$RESUME SERVERS=\"$SERVERS\" bench/tls/handshake-cpu.sh\`"
	echo "- rounds: $done_rounds of $ROUNDS; load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg); ran $SECONDS s"
	echo "- machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), kernel $(uname -r), $(go version | awk '{print $3}')"
	echo "- each run: server fresh on core $SERVER_CPU; \`tlsload -mode handshake -c $CONNS -d $WARMUP\` warm-up, then \`tlsload -mode handshake -c $CONNS -d $DURATION -path /internal-backstage/health -tls $TLS ${ropt[*]}\` on core $LOAD_CPU while reading the server's utime+stime; order rotates each round"
	echo
	printf '| round |'
	for s in "${servers[@]}"; do printf ' %s |' "$s"; done
	echo
	printf '| ---: |'
	for _ in "${servers[@]}"; do printf ' ---: |'; done
	echo
	for r in $(seq 1 "$done_rounds"); do
		printf '| %s |' "$r"
		for s in "${servers[@]}"; do
			printf ' %s |' "$(printf '%s\n' "${results[@]}" | awk -F'|' -v s="$s" -v r="$r" '$1 == s && $2 == r {printf "%s (%.0f/s, load core %s%%)", $3, $5, $7}')"
		done
		echo
	done
	echo
	echo "(µs of server CPU per handshake; in brackets handshakes per second and how busy the load generator's core was)"
	echo
	echo "| server | rounds | CPU µs per handshake, median (range) | handshakes per CPU-s | vs nginx (per CPU-s) | errors |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	for s in "${servers[@]}"; do
		m=$(med "$s")
		lo=$(col "$s" 3 | sort -g | head -1)
		hi=$(col "$s" 3 | sort -g | tail -1)
		e=$(col "$s" 6 | awk '{t += $1} END{print t + 0}')
		vs="–"
		[ -n "$nmed" ] && vs=$(awk -v a="$m" -v b="$nmed" 'BEGIN{printf "%.2f×", b / a}')
		printf '| %s | %s | %s (%s–%s) | %s | %s | %s |\n' "$(label "$s")" "$(col "$s" 3 | wc -l)" "$m" "$lo" "$hi" \
			"$(awk -v m="$m" 'BEGIN{printf "%.0f", 1e6 / m}')" "$vs" "$e"
	done
	echo
	echo "Median = the lower middle of the rounds for an even count. vs nginx = nginx's median CPU per handshake ÷ this server's (= handshakes per CPU-second ÷ nginx's)."
	if [ -n "$nmed" ]; then
		echo
		echo "Per-round ratios to nginx (nginx's CPU per handshake ÷ this server's, same round: handshakes per CPU-second relative to nginx's); interval = the range of the rounds, and the one without the lowest and highest round:"
		echo
		echo "| server | per round | median | range | range without the extremes | resumed |"
		echo "| --- | --- | ---: | ---: | ---: | ---: |"
		for s in "${servers[@]}"; do
			[ "$s" = nginx ] && continue
			rs=$(for r in $(seq 1 "$done_rounds"); do
				a=$(printf '%s\n' "${results[@]}" | awk -F'|' -v s="$s" -v r="$r" '$1 == s && $2 == r {print $3}')
				b=$(printf '%s\n' "${results[@]}" | awk -F'|' -v r="$r" '$1 == "nginx" && $2 == r {print $3}')
				[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f\n", b / a}'
			done)
			sorted=$(sort -g <<<"$rs")
			n=$(wc -l <<<"$sorted")
			inner="–"
			[ "$n" -ge 4 ] && inner="$(sed -n 2p <<<"$sorted")–$(sed -n "$((n - 1))p" <<<"$sorted")"
			res=$(printf '%s\n' "${results[@]}" | awk -F'|' -v s="$s" '$1 == s {r += $8; o += $4} END{if (o) printf "%.0f%%", 100 * r / o}')
			printf '| %s | %s | %s× | %s–%s | %s | %s |\n' "$(label "$s")" "$(tr '\n' ' ' <<<"$rs" | sed 's/ $//')" "$(median <<<"$rs")" \
				"$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")" "$inner" "${res:-–}"
		done
		res=$(printf '%s\n' "${results[@]}" | awk -F'|' '$1 == "nginx" {r += $8; o += $4} END{if (o) printf "%.0f%%", 100 * r / o}')
		echo
		echo "nginx resumed: ${res:-–} of its handshakes."
	fi
} | tee "$run/report.md"
log "raw output: $run"
