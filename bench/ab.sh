#!/usr/bin/env bash
# ab.sh: interleaved A/B rounds of brink servers on pinned cores, so that a
# difference of a few percent can be told from this shared machine's noise.
#
#   bench/ab.sh keepalive   # fasthttp.Server vs --server loop: keep-alive
#                           # /api/frontend and 304 /api/client/features
#   bench/ab.sh conn        # new connections/s (connect, one request, close)
#                           # with --signal-capture off, fallback and ebpf;
#                           # the request is GET /signal (CONN_PATH), which
#                           # encodes the whole captured signal, so a capture
#                           # that skipped work would show
#
# Every server runs for the whole experiment, each on its own port, all
# pinned to SERVER_CPU (taskset); wrk is pinned to LOAD_CPU. Each round
# loads every server once for DURATION, in an order rotated every round
# (AB BA AB ... / ABC BCA CAB ...), so that the machine's slow drift hits
# all of them alike; an idle server costs next to nothing. Per measurement:
# wrk's req/s and p99, the server's CPU time per request (its threads'
# run time from /proc/PID/task/*/schedstat over the measurement: far less noisy than throughput on a
# shared machine) and wrk's CPU time per request. bench/cmd/abstat then
# prints, per case, the median of the per-round ratios against the first
# server with the interquartile range and a bootstrap 95% interval.
#
# The ebpf server runs in a cgroup of its own (CGROUP_EBPF=own, the default):
# the sockops program then sees only brink's sockets, as in a container,
# not wrk's; CGROUP_EBPF=root attaches it to the root cgroup as a shell-run
# brink does (every TCP socket on the host, wrk's included).
#
# Env: ROUNDS (10), DURATION (3s), CONNS (32 keep-alive, 16 conn), SERVER_CPU
# (0), LOAD_CPU (1), PORT (first port, 21951: below the ephemeral range, so
# a client socket in TIME_WAIT never holds it), BRINK_BIN (bin/brink, built
# when missing), BRINK_BIN_B (a second binary: the servers of the mode run
# from BRINK_BIN as "<name>" and from BRINK_BIN_B as "<name>-b", to compare
# two builds), SERVERS (override: "name=brink args" entries separated by
# ';'; leading VAR=value words are the server's environment, BIN=path
# its binary), OUT (raw rounds file, default /tmp/brink-ab-<mode>.tsv), NICE
# (niceness for server and wrk, default 0), SERVER_QUOTA (a CPU cap for
# the servers, e.g. 0.5; default none), CONN_PATH (the conn mode's request,
# default /signal; /internal-backstage/health was used before 2026-11-23).
# Bounded: ROUNDS x servers x cases x DURATION. Only 127.0.0.1. Stops only
# the processes it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: bench/ab.sh keepalive|conn}
BIN=${BRINK_BIN:-bin/brink}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-3s}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-21951}
NICE=${NICE:-0}
SERVER_QUOTA=${SERVER_QUOTA:-}
CGROUP_EBPF=${CGROUP_EBPF:-own}
OUT=${OUT:-/tmp/brink-ab-$MODE.tsv}
FE='*:development.brink-demo-frontend'
CL='*:development.brink-demo-client'
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/brink
TICK=$(getconf CLK_TCK)

case $MODE in
keepalive)
	CONNS=${CONNS:-32}
	DEFAULT="fasthttp=--server fasthttp --signal-capture off;loop=--server loop --signal-capture off"
	CASES=${CASES:-frontend 304}
	;;
conn)
	CONNS=${CONNS:-16}
	DEFAULT="off=--server loop --signal-capture off;fallback=--server loop --signal-capture fallback;ebpf=--server loop --signal-capture ebpf"
	CASES="conn"
	;;
*) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

names=() args=() bins=()
IFS=';' read -ra entries <<<"${SERVERS:-$DEFAULT}"
for e in "${entries[@]}"; do
	names+=("${e%%=*}") args+=("${e#*=}") bins+=("$BIN")
	if [ -n "${BRINK_BIN_B:-}" ]; then names+=("${e%%=*}-b") args+=("${e#*=}") bins+=("$BRINK_BIN_B"); fi
done
n=${#names[@]}
pids=() ports=() cgs=() qcg=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for c in "${cgs[@]}"; do rmdir "$c" 2>/dev/null || true; done
	if [ -n "$qcg" ]; then rmdir "$qcg" 2>/dev/null || true; fi
}
# SERVER_QUOTA=0.5 caps every server at half a CPU (a cgroup v1 cpu quota,
# one cgroup the servers share; only the loaded one runs), so that the
# server, not wrk, is the bottleneck and req/s compares the servers at an
# equal CPU budget.
if [ -n "$SERVER_QUOTA" ]; then
	qcg=/sys/fs/cgroup/cpu/brink-ab-quota-$$
	mkdir -p "$qcg"
	echo 10000 >"$qcg/cpu.cfs_period_us"
	awk -v q="$SERVER_QUOTA" 'BEGIN {printf "%d\n", q * 10000}' >"$qcg/cpu.cfs_quota_us"
fi
trap cleanup EXIT

for i in $(seq 0 $((n - 1))); do
	port=$((PORT + i))
	ports+=("$port")
	# Leading VAR=value words of an entry are the server's environment.
	envs= rest=
	for w in ${args[$i]}; do
		if [ -z "$rest" ] && [[ $w == BIN=* ]]; then
			bins[i]=${w#BIN=}
		elif [ -z "$rest" ] && [[ $w =~ ^[A-Z_][A-Z0-9_]*= ]]; then
			envs+=" $w"
		else
			rest+=" $w"
		fi
	done
	cmd="exec env$envs nice -n $NICE taskset -c $SERVER_CPU ${bins[$i]} offline --demo -i 127.0.0.1 --port $port$rest"
	if [ -n "$qcg" ]; then cmd="echo \$\$ > $qcg/cgroup.procs && $cmd"; fi
	if [[ ${args[$i]} == *"capture ebpf"* && $CGROUP_EBPF == own ]]; then
		# One cgroup per eBPF server: each attaches its own program, which
		# would otherwise run for the other's connections too.
		cg=/sys/fs/cgroup/unified/brink-ab-$$-${names[$i]}
		mkdir -p "$cg"
		cgs+=("$cg")
		cmd="echo \$\$ > $cg/cgroup.procs && $cmd"
	fi
	sh -c "$cmd" >"/tmp/brink-ab-$$-${names[$i]}.log" 2>&1 &
	pids+=("$!")
	ok=
	for _ in $(seq 200); do
		if curl -sf "http://127.0.0.1:$port/internal-backstage/ready" >/dev/null; then ok=1; break; fi
		sleep 0.05
	done
	[ -n "$ok" ] || { echo "${names[$i]} did not start:" >&2; cat "/tmp/brink-ab-$$-${names[$i]}.log" >&2; exit 1; }
done

# cpu PID: the CPU time of PID's threads in ns (schedstat: exact, where
# /proc/PID/stat counts 10 ms ticks). Go does not end its threads, so the
# sum over the live ones is the process's.
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
# us VALUE: wrk's latency (e.g. 1.04ms) in microseconds.
us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
	f = (u == "s") ? 1e6 : (u == "ms") ? 1e3 : (u == "us") ? 1 : (u == "m") ? 6e7 : 1; printf "%.0f", n * f }'; }

wrkargs() { # case port
	case $1 in
	frontend) echo "-H|Authorization: $FE|http://127.0.0.1:$2/api/frontend?userId=42" ;;
	304)
		etag=$(curl -s -D - -o /dev/null -H "Authorization: $CL" "http://127.0.0.1:$2/api/client/features" | awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')
		echo "-H|Authorization: $CL|-H|If-None-Match: $etag|http://127.0.0.1:$2/api/client/features" ;;
	conn) echo "-H|Connection: close|http://127.0.0.1:$2${CONN_PATH:-/signal}" ;;
	esac
}

# measure case index dur: one wrk run; prints "rps p99us srvcpu_us/req wrkcpu_us/req".
measure() {
	local c=$1 i=$2 dur=$3 a before after wout wstat
	IFS='|' read -ra a <<<"$(wrkargs "$c" "${ports[$i]}")"
	wout=$(mktemp) wstat=$(mktemp)
	before=$(cpu "${pids[$i]}")
	# The subshell waits for wrk, so its cutime+cstime is wrk's CPU time.
	bash -c 'o=$1 s=$2; shift 2; nice -n "$1" taskset -c "$2" wrk -t1 -c"$3" -d"$4" --latency "${@:5}" >"$o"; cat /proc/$$/stat >"$s"' \
		bash "$wout" "$wstat" "$NICE" "$LOAD_CPU" "$CONNS" "$dur" "${a[@]}" 2>/dev/null || true
	after=$(cpu "${pids[$i]}")
	awk -v b="$before" -v a="$after" -v t="$TICK" -v ws="$(awk '{print $16 + $17}' "$wstat")" '
		/^Requests\/sec/ { rps = $2 }
		/^ +99%/ { p99 = $2 }
		END {
			n = rps * d; if (n <= 0) n = 1
			printf "%s %s %.3f %.3f\n", rps, p99, (a - b) / 1e3 / n, ws / t * 1e6 / n
		}' d="${dur%s}" "$wout" | { read -r rps p99 sc wc; echo "$rps $(us "$p99") $sc $wc"; }
	rm -f "$wout" "$wstat"
}

{
	echo "# $(date -u +%FT%TZ) mode=$MODE $(nproc) CPUs, $(uptime | sed 's/.*load/load/'), $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- loop proto cmd ebpf connsig || echo '+dirty')"
	echo "# server CPU $SERVER_CPU, wrk CPU $LOAD_CPU, $CONNS connections, $ROUNDS rounds x $DURATION, nice $NICE, ebpf cgroup $CGROUP_EBPF, server CPU quota ${SERVER_QUOTA:-none}$([ "$MODE" = conn ] && echo ", GET ${CONN_PATH:-/signal}")"
	for i in $(seq 0 $((n - 1))); do echo "# ${names[$i]}: ${bins[$i]} ${args[$i]}"; done
	echo "# round case server rps p99_us server_cpu_us_per_req wrk_cpu_us_per_req"
} | tee "$OUT"
# Warm-up: one short untimed run per server and case.
for c in $CASES; do for i in $(seq 0 $((n - 1))); do measure "$c" "$i" 1s >/dev/null; done; done
for r in $(seq "$ROUNDS"); do
	for c in $CASES; do
		for k in $(seq 0 $((n - 1))); do
			i=$(((k + r - 1) % n))
			# Odd rounds rotate forwards, even rounds run the rotation backwards
			# (AB BA for two servers).
			[ $((r % 2)) -eq 0 ] && i=$(((n - 1 - k + r - 1) % n))
			echo "$r $c ${names[$i]} $(measure "$c" "$i" "$DURATION")" | tee -a "$OUT"
		done
	done
done
echo "# $(date -u +%FT%TZ) end, $(uptime | sed 's/.*load/load/')" | tee -a "$OUT"
go run ./bench/cmd/abstat "$OUT"
