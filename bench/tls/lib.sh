# lib.sh: shared parts of bench/tls/tls-compare.sh and relay-compare.sh,
# sourced, not run. Process bookkeeping (every process started is stopped by
# PID on exit, also on failure), bounded waits, nginx from a template, CPU
# accounting and medians. Callers set $run (the run folder) and $tag (log
# prefix) first.

log() { echo "$tag: $*" >&2; }
die() {
	log "$*"
	exit 1
}

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

# stop PID: stop one process started here (TERM, KILL after 5 s).
stop() {
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
}

port_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ok PID SECONDS CURL-ARGS...: poll until curl succeeds (2xx), while PID lives.
wait_ok() {
	local pid=$1 limit=$2
	shift 2
	for _ in $(seq 1 $((limit * 10))); do
		kill -0 "$pid" 2>/dev/null || return 1
		curl -sf -o /dev/null -m 2 "$@" && return 0
		sleep 0.1
	done
	return 1
}

# render TEMPLATE OUT NAME=VALUE...: replace @NAME@ in TEMPLATE.
render() {
	local tpl=$1 out=$2 expr=()
	shift 2
	local kv
	for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	sed "${expr[@]}" "$tpl" >"$out"
	! grep -q '@[A-Z_]*@' "$out" || die "$out: unrendered placeholders: $(grep -o '@[A-Z_]*@' "$out" | sort -u | tr '\n' ' ')"
}

# start_nginx NAME CONF CPU: nginx master (and its one worker) pinned to CPU;
# sets pid_NAME to the master's PID.
start_nginx() {
	local name=$1 conf=$2 cpu=$3
	mkdir -p "$run/nginx-tmp"
	"$nginx" -t -p "$run" -e "$run/nginx-error.log" -c "$conf" >"$run/$name.test" 2>&1 ||
		die "nginx -t rejects $conf: $(tail -3 "$run/$name.test")"
	taskset -c "$cpu" "$nginx" -p "$run" -e "$run/nginx-error.log" -c "$conf" >"$run/$name.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	printf -v "pid_$name" %s "$pid"
	echo "taskset -c $cpu $nginx -p RUN -e RUN/nginx-error.log -c $conf" >"$run/$name.cmd"
}

# proc_ticks PID...: utime+stime (all threads) of the PIDs and their children.
proc_ticks() {
	local p all=() t=0
	for p in "$@"; do
		all+=("$p")
		mapfile -t -O "${#all[@]}" all < <(pgrep -P "$p" || true)
	done
	for p in "${all[@]}"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# field NAME LINE: the value of NAME=... in a RESULT line.
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $2"; }

# median: of the numbers on stdin (the lower middle for an even count).
median() { sort -g | awk '{a[NR]=$1} END{ if (NR) print a[int((NR + 1) / 2)]; else print 0 }'; }

secs() { local d=$1; case $d in *ms) echo 1 ;; *m) echo $((${d%m} * 60)) ;; *s) echo "${d%s}" ;; *) echo "$d" ;; esac; }

machine() {
	local hv
	hv=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)
	echo "$(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')${hv:+, $hv VM}), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), $(go version | awk '{print $3}'), nginx $("$nginx" -v 2>&1 | sed 's/.*nginx\///') ($(dpkg-query -W -f='${Version}' nginx 2>/dev/null || echo ?)) with $(openssl version | awk '{print $1, $2}'), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
}

# core_ticks CPU: busy and total jiffies of one CPU (from /proc/stat).
core_ticks() { awk -v c="cpu$1" '$1 == c {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# busy_pct "B0 T0" "B1 T1": % busy between two core_ticks samples.
busy_pct() { awk -v a="$1" -v b="$2" 'BEGIN{split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; if (t > 0) printf "%.0f", 100 * (y[1] - x[1]) / t; else print 0}'; }

# --- measuring: callers set run, round, limit, SERVER_CPU, LOAD_CPU and results=()

# measure ROW PEER "PIDS" CMD...: one load run (wrapped in timeout, on
# LOAD_CPU) while counting the server processes' CPU.
measure() {
	local row=$1 peer=$2 spids=$3
	shift 3
	local f=$run/$row.$peer.r$round
	echo "taskset -c $LOAD_CPU $*" >"$f.cmd"
	local c0 c1 t0 t1
	# shellcheck disable=SC2086
	c0=$(proc_ticks $spids)
	local s0 l0 s1 l1
	s0=$(core_ticks "$SERVER_CPU")
	l0=$(core_ticks "$LOAD_CPU")
	t0=$(date +%s%N)
	timeout "$limit" taskset -c "$LOAD_CPU" "$@" >"$f.out" 2>"$f.err" ||
		die "$row/$peer round $round failed: $(tail -n 3 "$f.err" "$f.out")"
	t1=$(date +%s%N)
	# shellcheck disable=SC2086
	c1=$(proc_ticks $spids)
	s1=$(core_ticks "$SERVER_CPU")
	l1=$(core_ticks "$LOAD_CPU")
	local line rate p50 p99 cpu errs res ops
	line=$(grep '^RESULT ' "$f.out") || die "no RESULT line in $f.out"
	rate=$(field rate "$line")
	[ -n "$rate" ] || rate=$(field rps "$line")
	p50=$(field p50_us "$line")
	p99=$(field p99_us "$line")
	ops=$(field ops "$line")
	[ -n "$ops" ] || ops=$(field requests "$line")
	errs=0
	local e v
	for e in errors status_errors errors_status errors_connect errors_read errors_write errors_timeout; do
		v=$(field "$e" "$line")
		errs=$((errs + ${v:-0}))
	done
	res=$(field resumed "$line")
	[[ $line == *mode=handshake* ]] || res=
	cpu=$(awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) 'BEGIN{printf "%.0f", 100 * c / hz / (ns / 1e9)}')
	results+=("$row|$peer|$round|$rate|$p50|$p99|$cpu|$errs|${res:-}|$ops|$(busy_pct "$s0" "$s1")|$(busy_pct "$l0" "$l1")")
	log "$row $peer r$round: $(printf '%.0f' "$rate")/s p50 ${p50}us p99 ${p99}us server CPU $cpu% (cores busy $(busy_pct "$s0" "$s1")%/$(busy_pct "$l0" "$l1")%) errors $errs${res:+ resumed $res of $ops}"
}


# --- report helpers over results
get() { # get ROW PEER COLUMN(4..10): that column of every round, one a line
	printf '%s\n' "${results[@]}" | awk -F'|' -v r="$1" -v p="$2" -v c="$3" '$1 == r && $2 == p {print $c}'
}
medrow() { get "$1" "$2" 4 | median; }
# the round whose rate is the median gives latency and CPU
medround() {
	local m
	m=$(medrow "$1" "$2")
	printf '%s\n' "${results[@]}" | awk -F'|' -v r="$1" -v p="$2" -v m="$m" '$1 == r && $2 == p && $4 == m {print; exit}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f×", a / b; else printf "–" }'; }
rounds() { get "$1" "$2" 4 | awk '{printf "%s%.0f", (NR > 1 ? ", " : ""), $1}'; }
ms() { awk -v u="$1" 'BEGIN{printf "%.2f ms", u / 1000}'; }
