#!/usr/bin/env bash
# compare.sh: brink beside the Node Unleash Proxy (@unleash/proxy 1.4.19 on
# Node 22), in one run, on the same flag set, under the same wrk load.
#
#   bench/compare.sh                 # about 6 minutes on 2 cores (3 rounds)
#   ROUNDS=1 DURATION=5s WARMUP=2s bench/compare.sh   # about 1 minute
#   DATASET=bench bench/compare.sh   # the generator with ~17 KB answers
#
# What it does, all on 127.0.0.1:
#   1. scripts/install-test-deps.sh (wrk, Node 22, the proxy; idempotent),
#      builds .cache/brink and writes 200-, 350- and 5,000-flag datasets with
#      bench/cmd/dataset;
#   2. starts `brink offline` on each dataset, and the proxy fed from brink's
#      own /api/client/features (UNLEASH_URL=http://127.0.0.1:<brink>/api);
#   3. checks with bench/cmd/peercheck that brink and the proxy enable the
#      same flags for the same userIds;
#   4. for each row: resident memory idle, an unrecorded wrk warm-up, then
#      `wrk -t$THREADS -c$CONNS -d$DURATION -s bench/wrk/rotate.lua` while
#      sampling VmRSS and counting the CPU of the server, of wrk and of the
#      rest of the machine; the same wrk line for every row; ROUNDS times,
#      brink and the proxy alternating who goes first;
#   5. prints a markdown report (machine, commands, table, verdicts) and keeps
#      it with the logs in .cache/bench/run-<time>/.
#
# Rows: brink and proxy sharing both cores with wrk; brink and proxy started
# under `taskset -c 0` with wrk under `taskset -c 1`; brink on one core with
# 350 flags (next to Unleash Edge's published 6,900 req/s per CPU); brink and
# the proxy with 5,000 flags.
#
# Every wait is bounded, every wrk run is wrapped in `timeout`, and every
# process the script starts is stopped by PID on exit. It exits 0 when it
# measured, whatever the verdicts say; 1 when it could not measure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s} # wrk's per-request timeout (its default, 2s, drops the proxy's slow 5,000-flag answers)
BASE_PORT=${BASE_PORT:-18060}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3} # each row is measured ROUNDS times; the table shows the median round
DATASET=${DATASET:-auto} # bench/cmd/dataset -source: auto (flags.GenerateDataset), flags or bench
CLIENT_TOKEN='*:development.abc123'
FRONTEND_TOKEN='*:development.fe123'
PROXY_SECRET='proxy-secret-bench'

secs() { local d=$1; case $d in *m) echo $((${d%m} * 60)) ;; *ms) echo 1 ;; *s) echo "${d%s}" ;; *) echo "$d" ;; esac; }
wrk_limit=$(($(secs "$DURATION") + $(secs "$WARMUP") + $(secs "$WRK_TIMEOUT") + 30))

run=$root/.cache/bench/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
node22=$root/.cache/bin/node22
proxy_dir=$root/.cache/unleash-proxy
brink=${BRINK_BIN:-$root/.cache/brink} # BRINK_BIN: measure a prebuilt binary instead of building one

log() { echo "compare: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# --- process bookkeeping ------------------------------------------------------
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for _ in $(seq 1 50); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # stop PID: stop one process started here
	kill "$1" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
}

port_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_status URL AUTH STATUS SECONDS PID: poll until URL answers STATUS.
wait_status() {
	local url=$1 auth=$2 want=$3 limit=$4 pid=$5 got=""
	for _ in $(seq 1 $((limit * 5))); do
		kill -0 "$pid" 2>/dev/null || return 1
		got=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -H "Authorization: $auth" "$url" || true)
		[ "$got" = "$want" ] && return 0
		sleep 0.2
	done
	log "$url answered '$got', not $want, within ${limit}s"
	return 1
}

# start_brink NAME DATASET PORT [CPU]: sets pid_NAME.
start_brink() {
	local name=$1 file=$2 port=$3 cpu=${4:-}
	local cmd=("$brink" offline -b "$file" --client-tokens "$CLIENT_TOKEN" --frontend-tokens "$FRONTEND_TOKEN" -p "$port" -i 127.0.0.1)
	[ -n "$cpu" ] && cmd=(taskset -c "$cpu" "${cmd[@]}") # taskset execs: $! is brink
	port_free "$port" || die "port $port is in use"
	"${cmd[@]}" >"$run/$name.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	printf -v "pid_$name" %s "$pid"
	echo "${cmd[*]}" >"$run/$name.cmd"
	wait_status "http://127.0.0.1:$port/internal-backstage/ready" "" 200 30 "$pid" ||
		die "brink ($name) did not get ready; see $run/$name.log: $(tail -5 "$run/$name.log")"
	wait_status "http://127.0.0.1:$port/api/frontend" "$FRONTEND_TOKEN" 200 10 "$pid" ||
		die "brink ($name) does not answer /api/frontend; see $run/$name.log"
}

# start_proxy NAME UPSTREAM_PORT PORT [CPU]: sets pid_NAME.
start_proxy() {
	local name=$1 up=$2 port=$3 cpu=${4:-}
	local pre=()
	[ -n "$cpu" ] && pre=(taskset -c "$cpu")
	port_free "$port" || die "port $port is in use"
	(
		cd "$proxy_dir"
		export UNLEASH_URL="http://127.0.0.1:$up/api" UNLEASH_API_TOKEN="$CLIENT_TOKEN" \
			UNLEASH_PROXY_CLIENT_KEYS="$PROXY_SECRET" PORT="$port" LOG_LEVEL=warn \
			UNLEASH_APP_NAME=bench-proxy
		exec "${pre[@]}" "$node22" node_modules/@unleash/proxy/dist/start.js
	) >"$run/$name.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	printf -v "pid_$name" %s "$pid"
	echo "UNLEASH_URL=http://127.0.0.1:$up/api UNLEASH_API_TOKEN='$CLIENT_TOKEN' UNLEASH_PROXY_CLIENT_KEYS=$PROXY_SECRET PORT=$port ${pre[*]} node22 node_modules/@unleash/proxy/dist/start.js" >"$run/$name.cmd"
	# /proxy/health is 503 until the embedded SDK has fetched the features.
	wait_status "http://127.0.0.1:$port/proxy/health" "" 200 60 "$pid" ||
		die "proxy ($name) did not get ready; see $run/$name.log: $(tail -5 "$run/$name.log")"
}

# cpu_busy SECS: % of all CPUs busy (any process) over the next SECS seconds.
cpu_busy() {
	local a b
	read -ra a < <(head -1 /proc/stat)
	sleep "$1"
	read -ra b < <(head -1 /proc/stat)
	awk -v i="$((b[4] + b[5] - a[4] - a[5]))" -v t="$((b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[4] - a[5] - a[6] - a[7] - a[8]))" \
		'BEGIN{printf "%.0f%%", 100 * (t - i) / t}'
}

kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime+stime, all threads

# stat_ticks: busy and total jiffies of all CPUs.
stat_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# load ROW PID URL AUTH FLAGS CPUS [WRK_CPU]: measure one row once (round
# $round). A row is: VmRSS idle, a warm-up, then the measured wrk run with
# VmRSS sampled every 0.2 s and the CPU time of the server, of wrk and of
# everything else on the machine counted.
rows=()
load() {
	local row=$1 pid=$2 url=$3 auth=$4 nflags=$5 cpus=$6 wcpu=${7:-}
	local tag=$row.r$round
	local pre=(timeout "$wrk_limit")
	[ -n "$wcpu" ] && pre+=(taskset -c "$wcpu")
	local idle
	idle=$(kb "$pid" VmRSS)
	"${pre[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout "$WRK_TIMEOUT" -s bench/wrk/rotate.lua "$url" -- "$auth" >"$run/$tag.warmup" 2>&1 ||
		die "wrk warm-up for $tag failed: $(tail -3 "$run/$tag.warmup")"
	(
		max=0
		for _ in $(seq 1 $((wrk_limit * 5))); do
			v=$(kb "$pid" VmRSS 2>/dev/null) || break
			[ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" >"$run/$tag.rssmax"
			sleep 0.2
		done
	) &
	local sampler=$!
	pids+=("$sampler")
	local t0 c0 s0
	t0=$(date +%s%N)
	c0=$(cpu_ticks "$pid")
	s0=$(stat_ticks)
	echo "${pre[*]} wrk -t$THREADS -c$CONNS -d$DURATION --timeout $WRK_TIMEOUT -s bench/wrk/rotate.lua '$url' -- '<token>'" >"$run/$tag.cmd"
	local TIMEFORMAT='%U %S'
	{ time "${pre[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" -s bench/wrk/rotate.lua "$url" -- "$auth" >"$run/$tag.wrk" 2>&1; } 2>"$run/$tag.time" ||
		die "wrk for $tag failed: $(tail -3 "$run/$tag.wrk")"
	local c1 t1 s1
	c1=$(cpu_ticks "$pid")
	s1=$(stat_ticks)
	t1=$(date +%s%N)
	stop "$sampler"
	local line
	line=$(grep '^RESULT ' "$run/$tag.wrk") || die "no RESULT line in $run/$tag.wrk"
	local loadrss cpu wcpu_pct other
	loadrss=$(cat "$run/$tag.rssmax" 2>/dev/null || echo 0)
	# CPU use during the run in % of one core: the server (utime+stime of
	# all its threads), wrk (its rusage), and the rest of the machine.
	read -r cpu wcpu_pct other < <(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v ns="$((t1 - t0))" \
		-v s0="$s0" -v s1="$s1" -v w="$(cat "$run/$tag.time")" 'BEGIN{
			secs = ns / 1e9; split(s0, a, " "); split(s1, b, " "); split(w, u, " ")
			srv = 100 * c / hz / secs; wrk = 100 * (u[1] + u[2]) / secs; all = 100 * (b[1] - a[1]) / hz / secs
			o = all - srv - wrk; if (o < 0) o = 0
			printf "%.0f %.0f %.0f\n", srv, wrk, o }')
	rows+=("$row|$round|$nflags|$cpus|$idle|$loadrss|$cpu|$wcpu_pct|$other|$line")
	log "$tag: $(sed -n 's/.*rps=\([0-9.]*\).*p99_us=\([0-9]*\).*errors_status=\([0-9]*\).*/\1 req\/s, p99 \2 us, status errors \3/p' <<<"$line"), RSS idle $idle kB, load $loadrss kB, CPU server $cpu% wrk $wcpu_pct% other $other%"
}

# --- 1. dependencies, build, datasets -------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
busy_before=$(cpu_busy 3)
scripts/install-test-deps.sh >&2
for t in wrk curl taskset timeout go; do command -v "$t" >/dev/null || die "$t not found"; done
[ -x "$node22" ] || die "$node22 missing (scripts/install-test-deps.sh)"
log "building brink and the bench tools"
if [ -z "${BRINK_BIN:-}" ]; then go build -o "$brink" ./cmd/brink || die "go build ./cmd/brink failed"; fi
go build -o "$run/peercheck" ./bench/cmd/peercheck
go build -o "$run/dataset" ./bench/cmd/dataset
for n in 200 350 5000; do
	"$run/dataset" -n "$n" -seed "$SEED" -source "$DATASET" >"$run/features-$n.json" 2>>"$run/dataset.log"
done

p_brink=$BASE_PORT p_proxy=$((BASE_PORT + 1)) p_brink1=$((BASE_PORT + 2)) p_proxy1=$((BASE_PORT + 3))
p_brink350=$((BASE_PORT + 4)) p_brink5k=$((BASE_PORT + 5)) p_proxy5k=$((BASE_PORT + 6))

for round in $(seq 1 "$ROUNDS"); do
	log "round $round of $ROUNDS"
	# --- 2.-4. the 200-flag rows on both cores ----------------------------------
	start_brink brink "$run/features-200.json" "$p_brink"
	start_proxy proxy "$p_brink" "$p_proxy"
	if [ "$round" = 1 ]; then
		"$run/peercheck" -a "http://127.0.0.1:$p_brink/api/frontend" -a-auth "$FRONTEND_TOKEN" \
			-b "http://127.0.0.1:$p_proxy/proxy" -b-auth "$PROXY_SECRET" -users 8 >"$run/peercheck.txt" 2>&1 ||
			die "brink and the proxy disagree on the enabled flags; see $run/peercheck.txt: $(head -5 "$run/peercheck.txt")"
		log "peercheck: same enabled flags for 8 users"
	fi
	shared="2 (shared with wrk)"
	one="1 (taskset -c 0)"
	if [ $((round % 2)) = 1 ]; then
		load brink "$pid_brink" "http://127.0.0.1:$p_brink/api/frontend" "$FRONTEND_TOKEN" 200 "$shared"
		load proxy "$pid_proxy" "http://127.0.0.1:$p_proxy/proxy" "$PROXY_SECRET" 200 "$shared"
	else
		load proxy "$pid_proxy" "http://127.0.0.1:$p_proxy/proxy" "$PROXY_SECRET" 200 "$shared"
		load brink "$pid_brink" "http://127.0.0.1:$p_brink/api/frontend" "$FRONTEND_TOKEN" 200 "$shared"
	fi
	stop "$pid_proxy"

	# --- one core each: server on CPU 0, wrk on CPU 1 --------------------------
	start_brink brink1 "$run/features-200.json" "$p_brink1" 0
	load brink-1cpu "$pid_brink1" "http://127.0.0.1:$p_brink1/api/frontend" "$FRONTEND_TOKEN" 200 "$one" 1
	stop "$pid_brink1"
	start_proxy proxy1 "$p_brink" "$p_proxy1" 0
	load proxy-1cpu "$pid_proxy1" "http://127.0.0.1:$p_proxy1/proxy" "$PROXY_SECRET" 200 "$one" 1
	stop "$pid_proxy1"
	start_brink brink350 "$run/features-350.json" "$p_brink350" 0
	load brink-1cpu-350 "$pid_brink350" "http://127.0.0.1:$p_brink350/api/frontend" "$FRONTEND_TOKEN" 350 "$one" 1
	stop "$pid_brink350"

	# --- 5,000 flags ------------------------------------------------------------
	start_brink brink5k "$run/features-5000.json" "$p_brink5k"
	start_proxy proxy5k "$p_brink5k" "$p_proxy5k"
	load brink-5000 "$pid_brink5k" "http://127.0.0.1:$p_brink5k/api/frontend" "$FRONTEND_TOKEN" 5000 "$shared"
	load proxy-5000 "$pid_proxy5k" "http://127.0.0.1:$p_proxy5k/proxy" "$PROXY_SECRET" 5000 "$shared"
	stop "$pid_proxy5k"
	stop "$pid_brink5k"
	stop "$pid_brink"
done

# --- 5. report ------------------------------------------------------------------
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $2"; }
ms() { awk -v u="$1" 'BEGIN{printf "%.2f ms", u / 1000}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f×", a / b; else printf "–" }'; }
peer_of() { case $1 in brink) echo proxy ;; brink-1cpu | brink-1cpu-350) echo proxy-1cpu ;; brink-5000) echo proxy-5000 ;; *) echo "" ;; esac; }
label() { case $1 in brink*) echo "brink $(git describe --always --dirty 2>/dev/null || echo "?")" ;; proxy*) echo "proxy 1.4.19, Node $("$node22" --version)" ;; esac; }

# Per row: the round with the median req/s gives req/s, latencies, answer
# size and CPU; RSS idle is the median over rounds, RSS load the largest.
names=()
declare -A RPS P50 P99 RSSI RSSL CPU NFL CPUS LINE ALL
for r in "${rows[@]}"; do
	IFS='|' read -r name _ _ _ _ _ _ _ _ _ <<<"$r"
	[[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
done
for name in "${names[@]}"; do
	mapfile -t mine < <(printf '%s\n' "${rows[@]}" | awk -F'|' -v n="$name" '$1 == n')
	med=$(printf '%s\n' "${mine[@]}" | awk -F'|' '{ split($10, f, " "); for (i in f) if (f[i] ~ /^rps=/) { sub(/rps=/, "", f[i]); print f[i] "|" NR } }' |
		sort -t'|' -k1,1g | awk -v n="${#mine[@]}" 'NR == int((n + 1) / 2) { split($0, a, "|"); print a[2] }')
	IFS='|' read -r _ _ nfl cpus _ _ cpu wcpu other line <<<"${mine[$((med - 1))]}"
	RPS[$name]=$(field rps "$line")
	P50[$name]=$(field p50_us "$line")
	P99[$name]=$(field p99_us "$line")
	NFL[$name]=$nfl
	CPUS[$name]=$cpus
	CPU[$name]="$cpu / $wcpu / $other"
	LINE[$name]=$line
	RSSI[$name]=$(printf '%s\n' "${mine[@]}" | awk -F'|' '{print $5}' | sort -n | awk '{a[NR]=$1} END{print a[int((NR + 1) / 2)]}')
	RSSL[$name]=$(printf '%s\n' "${mine[@]}" | awk -F'|' '{print $6}' | sort -n | tail -1)
	ALL[$name]=$(printf '%s\n' "${mine[@]}" | awk -F'|' '{ split($10, f, " "); for (i in f) if (f[i] ~ /^rps=/) { sub(/rps=/, "", f[i]); printf "%s%.0f", (NR > 1 ? ", " : ""), f[i] } }')
done

report=$run/report.md
{
	echo "### Peer comparison: brink vs @unleash/proxy ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "- command: \`DATASET=$DATASET ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP THREADS=$THREADS CONNS=$CONNS bench/compare.sh\`"
	echo "- load per row and round: $WARMUP unrecorded warm-up, then \`wrk -t$THREADS -c$CONNS -d$DURATION --timeout $WRK_TIMEOUT -s bench/wrk/rotate.lua URL -- TOKEN\` (wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), new userId and sessionId on every request, no Accept-Encoding); $ROUNDS rounds, brink and the proxy alternate which goes first"
	echo "- brink: \`brink offline -b features-N.json --client-tokens '$CLIENT_TOKEN' --frontend-tokens '$FRONTEND_TOKEN' -p PORT -i 127.0.0.1\`, \`GET /api/frontend\`"
	echo "- proxy: @unleash/proxy 1.4.19 on Node $("$node22" --version), \`UNLEASH_URL=http://127.0.0.1:<brink>/api UNLEASH_API_TOKEN='$CLIENT_TOKEN' UNLEASH_PROXY_CLIENT_KEYS=… node22 dist/start.js\`, \`GET /proxy\`, features read from brink's /api/client/features"
	echo "- datasets: \`bench/cmd/dataset -n N -seed $SEED -source $DATASET\` ($(sed -n 's/.*generator \(.*\)/\1/p' "$run/dataset.log" | sort -u | head -1) generator); /api/client/features: $(for n in 200 350 5000; do printf '%s flags %s KB; ' "$n" $(($(wc -c <"$run/features-$n.json") / 1024)); done)"
	echo "- peercheck: $(grep -c ': same' "$run/peercheck.txt") of 8 users get the same enabled flags from both; $(head -1 "$run/peercheck.txt" | sed 's/^peercheck: //')"
	echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(go version | awk '{print $3}'), load average before the run $load_before (1/5/15 min), CPUs $busy_before busy in the 3 s before it"
	echo
	echo "| peer | flags | CPUs | req/s (median) | p50 | p99 | answer | RSS idle | RSS load (max) | CPU % server / wrk / other | req/s each round | ratio (req/s) |"
	echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for name in "${names[@]}"; do
		line=${LINE[$name]}
		req=$(field requests "$line")
		bytes=$(field bytes "$line")
		peer=$(peer_of "$name")
		rat="1.0× (base)"
		[ -n "$peer" ] && rat="$(ratio "${RPS[$name]}" "${RPS[$peer]:-0}") $peer"
		note=""
		for e in status timeout connect read write; do
			n=$(field "errors_$e" "$line")
			[ "${n:-0}" != 0 ] && note="$note, $n $e errors"
		done
		[ -n "$note" ] && note=" (${note#, })"
		printf '| %s `%s` | %s | %s | %.0f%s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"$(label "$name")" "$name" "${NFL[$name]}" "${CPUS[$name]}" "${RPS[$name]}" "$note" "$(ms "${P50[$name]}")" "$(ms "${P99[$name]}")" \
			"$(awk -v b="$bytes" -v n="$req" 'BEGIN{if (n > 0) printf "%.1f KB", b / n / 1024; else printf "–"}')" \
			"$(mib "${RSSI[$name]}")" "$(mib "${RSSL[$name]}")" "${CPU[$name]}" "${ALL[$name]}" "$rat"
	done
	echo "| Unleash Edge, published ([E] docs/benchmarking.md) | 350 (100 kB) | 1 (Docker --cpus=1) | 6,900 | – | 7.4 ms (p95) | – | – | 6.7 MiB | – | – | brink-1cpu-350 = $(ratio "${RPS[brink-1cpu-350]}" 6900) this |"
	echo
	echo "Answer = bytes read per request, headers included. RSS idle = VmRSS before the row's warm-up (median over rounds); RSS load = the largest VmRSS sampled every 0.2 s during any measured run. CPU = user+system time during the median round in % of one core: the server, wrk, and every other process on the machine (200 = both cores)."
	echo
	echo "Verdicts against the issue (200 flags, both on 2 cores, same wrk, median rounds):"
	v() { if awk "BEGIN{exit !($2)}"; then echo "- PASS: $1"; else echo "- FAIL: $1"; fi; }
	v "req/s ratio $(ratio "${RPS[brink]}" "${RPS[proxy]}") (need ≥ 10×)" "${RPS[brink]} >= 10 * ${RPS[proxy]}"
	v "p99 $(ms "${P99[brink]}") vs $(ms "${P99[proxy]}") (need lower)" "${P99[brink]} < ${P99[proxy]}"
	v "RSS under load $(mib "${RSSL[brink]}") vs $(mib "${RSSL[proxy]}") (need ≤ 1/3)" "3 * ${RSSL[brink]} <= ${RSSL[proxy]}"
	v "RSS idle $(mib "${RSSI[brink]}") vs $(mib "${RSSI[proxy]}") (need ≤ 1/3)" "3 * ${RSSI[brink]} <= ${RSSI[proxy]}"
	v "one core each: $(ratio "${RPS[brink-1cpu]}" "${RPS[proxy-1cpu]}") (need ≥ 10×)" "${RPS[brink-1cpu]} >= 10 * ${RPS[proxy-1cpu]}"
	echo "- brink with 5,000 flags: RSS idle $(mib "${RSSI[brink-5000]}"), under load $(mib "${RSSL[brink-5000]}")"
} >"$report"
cat "$report"
log "logs and raw wrk output: $run"
