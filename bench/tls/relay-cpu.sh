#!/usr/bin/env bash
# relay-cpu.sh: server CPU per relayed request, brink relay beside nginx
# (Debian) as a reverse proxy to the same upstream, in interleaved rounds at
# saturation (issue 6, "Performance"). relay-compare.sh gives requests/s and
# latency; this gives what each proxy process costs per request, apart from
# the upstream's share (both sit on the same core, so relay-compare.sh's
# "server CPU" mixes them).
#
#   bench/tls/relay-cpu.sh                    # 4 rounds, about 50 s
#   ROUNDS=8 DURATION=3 bench/tls/relay-cpu.sh
#
# All on 127.0.0.1: the upstream (bench/tls/cmd/static, 1024-byte answer),
# brink relay (OCTET_URL=upstream, LICENSE set) and nginx (bench/tls/nginx-
# relay.conf, one worker) under `taskset -c 0`; wrk -t1 -c$CONNS under
# `taskset -c 1`. Each round loads each proxy in turn (order alternating) for
# a 1 s warm-up, then $DURATION seconds, and reads utime+stime of the proxy's
# processes and of the upstream from /proc before and after. Output: one line
# per round and proxy (req/s, proxy µs/request, upstream µs/request), then
# the median per-round ratio brink/nginx of µs per request.
#
# Bounded: at most ROUNDS × 2 × (DURATION + 1) s of load, each wrk under
# `timeout`; every process started is stopped by PID on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
BASE=${BASE_PORT:-19660}
BRINK_EXTRA=${BRINK_EXTRA:-}
brink=${BRINK_BIN:-$root/bin/brink}
case $brink in /*) ;; *) brink=$root/$brink ;; esac
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ $((ROUNDS * 2 * (DURATION + 1))) -le 240 ] || { echo "relay-cpu: plan over 240 s of load; lower ROUNDS or DURATION" >&2; exit 2; }
for t in wrk taskset timeout go "$nginx"; do command -v "$t" >/dev/null || { echo "relay-cpu: $t not found (scripts/install-bench-deps.sh)" >&2; exit 1; }; done

run=$(mktemp -d /tmp/relay-cpu.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
go build -o "$run/static" "$root/bench/tls/cmd/static"
[ -n "${BRINK_BIN:-}" ] || go build -o "$brink" "$root/cmd/brink"
up=$BASE pb=$((BASE + 1)) pn=$((BASE + 2))
taskset -c 0 "$run/static" -listen "127.0.0.1:$up" -body 1024 >"$run/up.log" 2>&1 &
pid_up=$!
pids+=("$pid_up")
# shellcheck disable=SC2086 # BRINK_EXTRA is split into words on purpose
(cd "$run" && PORT=$pb OCTET_URL=http://127.0.0.1:$up LICENSE=bench-licence exec taskset -c 0 "$brink" relay -i 127.0.0.1 $BRINK_EXTRA) >"$run/brink.log" 2>&1 &
pid_b=$!
pids+=("$pid_b")
mkdir -p "$run/nginx-tmp"
sed -e "s#@RUN@#$run#g" -e "s#@PORT@#$pn#" -e "s#@UP_PORT@#$up#" -e "s#@LICENSE@#bench-licence#" \
	-e "s#@LISTEN_SSL@##" -e "s#@SSL@##" "$root/bench/tls/nginx-relay.conf" >"$run/nginx.conf"
taskset -c 0 "$nginx" -p "$run" -e "$run/nginx-error.log" -c "$run/nginx.conf" >"$run/nginx.log" 2>&1 &
pid_n=$!
pids+=("$pid_n")
for p in $pb $pn; do
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$p/health" >/dev/null && break; sleep 0.1; done
	curl -sf "http://127.0.0.1:$p/health" >/dev/null || { echo "relay-cpu: port $p does not answer; see $run" >&2; exit 1; }
done

# ticks PID: utime+stime (clock ticks) of PID and its children (nginx's worker).
ticks() {
	local t=0 p
	for p in $(pgrep -P "$1") "$1"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
hz=$(getconf CLK_TCK)
echo "relay-cpu: $(date -u +%FT%TZ), commit $(git -C "$root" rev-parse --short HEAD), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "round proxy req/s proxy_us/req upstream_us/req"
out=$run/rounds.txt
for r in $(seq 1 "$ROUNDS"); do
	order="brink nginx"
	[ $((r % 2)) = 0 ] && order="nginx brink"
	for row in $order; do
		if [ "$row" = brink ]; then port=$pb pid=$pid_b; else port=$pn pid=$pid_n; fi
		url="http://127.0.0.1:$port/api/frontend?userId=1"
		timeout 20 taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null
		a=$(ticks "$pid") u=$(ticks "$pid_up")
		res=$(timeout $((DURATION + 20)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$url")
		b=$(ticks "$pid") v=$(ticks "$pid_up")
		n=$(echo "$res" | awk '/requests in/ {print $1}')
		rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
		awk -v r="$r" -v row="$row" -v rps="$rps" -v n="$n" -v p=$((b - a)) -v q=$((v - u)) -v hz="$hz" \
			'BEGIN { printf "%d %s %.0f %.1f %.1f\n", r, row, rps, p / hz * 1e6 / n, q / hz * 1e6 / n }' | tee -a "$out"
	done
done
awk '{ cpu[$1 " " $2] = $4 } END { for (k in cpu) { split(k, a, " "); if (a[2] == "brink" && ((a[1] " nginx") in cpu)) print cpu[k] / cpu[a[1] " nginx"] } }' "$out" |
	sort -n | awk '{ r[++n] = $1 } END {
		printf "brink/nginx proxy CPU per request: median %.3f (min %.3f, max %.3f, %d rounds)\n", (n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2), r[1], r[n], n
	}'
echo "relay-cpu: load average after $(cut -d' ' -f1-3 /proc/loadavg); logs in $run"
