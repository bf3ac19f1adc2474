#!/usr/bin/env bash
# Superseded by bench/ab.sh (many interleaved rounds, CPU per request,
# ratios with intervals); kept for the earlier figures in BENCHMARKS.md.
# server-compare.sh: out-of-process comparison on one pinned core each
# (server on CPU 0, wrk on CPU 1), so the load generator does not share the
# server's core. Two questions:
#   1. capture cost: new connections per second (Connection: close) with
#      --signal-capture off, fallback and ebpf;
#   2. --server loop vs fasthttp on keep-alive /api/frontend and a 304
#      /api/client/features.
# Bounded: ROUNDS x cases x DURATION. Only 127.0.0.1. Stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BRINK_BIN:-bin/brink}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
PORT=${PORT:-39911}
FE='*:development.brink-demo-frontend'
CL='*:development.brink-demo-client'
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/brink
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap stop EXIT
start() {
	taskset -c 0 "$BIN" offline --demo -i 127.0.0.1 --port "$PORT" "$@" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/internal-backstage/ready" >/dev/null && return; sleep 0.05; done
	echo "brink did not start" >&2; exit 1
}
rps() { awk '/Requests\/sec/ {print $2}'; }
p99() { awk '/ 99%/ {print $2}'; }
echo "# $(nproc) CPUs, $(uptime | sed 's/.*load/load/'), $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"
echo "## new connections/s (Connection: close, GET /internal-backstage/health, wrk -t1 -c16 -d$DURATION)"
for r in $(seq "$ROUNDS"); do
	for mode in off fallback ebpf; do
		start --signal-capture "$mode"
		out=$(taskset -c 1 wrk -t1 -c16 -d"$DURATION" -H 'Connection: close' "http://127.0.0.1:$PORT/internal-backstage/health")
		echo "round $r capture=$mode conn/s=$(echo "$out" | rps)"
		stop
	done
done
echo "## keep-alive req/s and p99 (wrk -t1 -c32 -d$DURATION --latency)"
for r in $(seq "$ROUNDS"); do
	for srv in fasthttp loop; do
		start --server "$srv" --signal-capture off
		etag=$(curl -s -D - -o /dev/null -H "Authorization: $CL" "http://127.0.0.1:$PORT/api/client/features" | awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')
		fe=$(taskset -c 1 wrk -t1 -c32 -d"$DURATION" --latency -H "Authorization: $FE" "http://127.0.0.1:$PORT/api/frontend?userId=42")
		nm=$(taskset -c 1 wrk -t1 -c32 -d"$DURATION" --latency -H "Authorization: $CL" -H "If-None-Match: $etag" "http://127.0.0.1:$PORT/api/client/features")
		echo "round $r server=$srv frontend req/s=$(echo "$fe" | rps) p99=$(echo "$fe" | p99) | 304 req/s=$(echo "$nm" | rps) p99=$(echo "$nm" | p99)"
		stop
	done
done
