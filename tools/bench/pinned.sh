#!/usr/bin/env bash
# tools/bench/pinned.sh BIN_DIR: the pinned scenario of issue 17 (`make
# bench BENCH=pinned`; also a section of a whole `make bench`).
#
# tollgated alone on one core (DAEMON_CPU, default 0; started there, so
# with one worker by default, and every thread kept there with `taskset
# -a`); the provider stub (Debian's nginx answering with canned bodies,
# tools/bench/stub.conf.in), the load generators (tollbench, wrk) on the
# other (LOAD_CPU, default 1). A second nginx, plain `proxy_pass`
# to the stub with no logic (tools/bench/proxy.conf.in), sits on the
# daemon's core as the comparison: what any HTTP hop costs here. The
# ledger is durable (the default).
#
# ROUNDS rounds (default 3), each alternating at 1 and then at 64 in
# flight: `tollbench direct` to the stub (the baseline), the same through
# the nginx proxy, and `tollbench call` through tollgated with
# --daemon-pid (tollgated's CPU per call, from /proc) and --metrics (the
# split of a call's time in the daemon: ledger waits, the daemon's own work
# and hand-offs, and the rest, mostly the provider's answer; means, and p50
# and p99 of the first two). Then `wrk` (one thread) on GET /healthz and
# /api/token-usage/summary at -c1 and -c64, and on the proxy for
# comparison. Prints every run's line, then the medians and the ratios to
# direct and to proxy_pass. Writes nothing to the repo.
#
# Environment: TOLLGATED_ENV (more VAR=value words for tollgated, e.g.
# TOLLGATE_LEDGER_REDO_LOG=false), DAEMON_CPU, LOAD_CPU, ROUNDS, REQUESTS_1 (2000), REQUESTS_64
# (20000), WRK_SECONDS (5), PERF_DIR (when set: `perf record` of tollgated
# during round 1's `call` runs, into PERF_DIR/call-INFLIGHT.data, with a
# flat profile beside it in call-INFLIGHT.txt). Needs nginx and wrk (tools/install-deps.sh
# --bench) and two CPUs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=nginx.sh
. "$here/nginx.sh"
session_start bench-pinned "${1:-build/bin}"

daemon_cpu=${DAEMON_CPU:-0}
load_cpu=${LOAD_CPU:-1}
rounds=${ROUNDS:-3}
requests_1=${REQUESTS_1:-2000}
requests_64=${REQUESTS_64:-20000}
wrk_seconds=${WRK_SECONDS:-5}
load=(taskset -c "$load_cpu")
for tool in nginx wrk taskset curl; do
  command -v "$tool" > /dev/null || { echo "pinned: $tool missing (tools/install-deps.sh --bench)" >&2; exit 1; }
done
if (( $(nproc) < 2 )); then
  echo "pinned: needs two CPUs (daemon on one, load on the other); skipped" >&2
  exit 0
fi

# utime + stime of PID in clock ticks (as tollbench --daemon-pid reads it).
cpu_ticks() {  # PID
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

stub_port=$(free_port)
start_nginx stub stub.conf.in "$load_cpu" "$stub_port"
wait_http POST "http://127.0.0.1:$stub_port/v1/messages"
proxy_port=$(free_port)
start_nginx proxy proxy.conf.in "$daemon_cpu" "$proxy_port" "$stub_port"
wait_http POST "http://127.0.0.1:$proxy_port/v1/messages"
stub=http://127.0.0.1:$stub_port
proxy=http://127.0.0.1:$proxy_port

read -r -a extra_env <<< "${TOLLGATED_ENV:-}"
# Started on its core (so its default worker count is 1), and every thread
# it starts later stays there (taskset -a below).
tollgated_cpus=$daemon_cpu
start_tollgated "$work/tg.log" "127.0.0.1:$stub_port" "$work/data" ANTHROPIC_API_KEY=bench \
  OPENAI_API_KEY=bench "${no_limits_env[@]}" TOLLGATE_LOG_LEVEL=info TOLLGATE_HTTP=127.0.0.1:0 \
  "${extra_env[@]}"
tg=$tollgated_pid
ep=$tollgated_requests
http=$(grep -m1 'ready requests=' "$work/tg.log" | sed -n 's/.* http=\([^ ]*\).*/\1/p')
taskset -a -p -c "$daemon_cpu" "$tg" > /dev/null
echo "== pinned: tollgated (pid $tg) on cpu $daemon_cpu; nginx stub, tollbench and wrk on cpu $load_cpu"
echo "stub $stub, proxy_pass $proxy, tollgated $ep, http $http"
"${load[@]}" "$bin/tollbench" call --endpoint "$ep" --inflight 64 --requests 2000 --warmup 0 > /dev/null

# With PERF_DIR, round 1's call runs are profiled (perf's sampling costs
# the daemon some CPU: those runs' figures are a little worse).
perf_pid=
start_perf() {  # ROUND INFLIGHT
  [[ -n ${PERF_DIR:-} && $1 == 1 ]] || return 0
  command -v perf > /dev/null || { echo "pinned: perf missing (linux-perf)" >&2; exit 1; }
  mkdir -p "$PERF_DIR"
  perf record -q -F 1999 -g --call-graph dwarf,8192 -p "$tg" -o "$PERF_DIR/call-$2.data" \
    > /dev/null 2>&1 &
  perf_pid=$!
  sleep 0.5  # perf attaches to every thread before the measured run starts
}
stop_perf() {  # INFLIGHT
  [[ -n $perf_pid ]] || return 0
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  perf_pid=
  perf report -i "$PERF_DIR/call-$1.data" --no-children --sort dso,symbol -g none --percent-limit 0.4 \
    --stdio 2> /dev/null | grep -v "^$" > "$PERF_DIR/call-$1.txt" || true
}

# One measured run, its lines prefixed "ROUND INFLIGHT KIND" into results.
results=$work/results
run() {  # ROUND INFLIGHT KIND
  local n=$requests_1 warmup=200 out
  (( $2 == 1 )) || { n=$requests_64; warmup=1000; }
  case $3 in
    direct) out=$("${load[@]}" "$bin/tollbench" direct --base-url "$stub" --inflight "$2" --requests "$n") ;;
    proxy) out=$("${load[@]}" "$bin/tollbench" direct --base-url "$proxy" --inflight "$2" --requests "$n") ;;
    call) start_perf "$1" "$2"
          out=$("${load[@]}" "$bin/tollbench" call --endpoint "$ep" --inflight "$2" --requests "$n" \
                  --warmup "$warmup" --daemon-pid "$tg" --metrics "http://$http/metrics")
          stop_perf "$2" ;;
  esac
  printf '%s\n' "$out" | sed "s/^/$1 $2 $3 /" | tee -a "$results"
}

for round in $(seq "$rounds"); do
  for inflight in 1 64; do
    for kind in direct proxy call; do run "$round" "$inflight" "$kind"; done
  done
done

# The median of the numbers on stdin.
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
    print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# The median over rounds of FIELD (a key=value name, or rate) in the lines
# of INFLIGHT KIND.
figure() {  # INFLIGHT KIND FIELD
  awk -v i="$1" -v k="$2" -v f="$3" '$2 == i && $3 == k {
    for (j = 4; j <= NF; ++j) {
      if (f == "rate" && $j ~ /^[0-9.]+\/s$/ && $(j - 1) ~ /inflight=/) { sub("/s", "", $j); print $j }
      else if (index($j, f "=") == 1) { sub(f "=", "", $j); print $j }
    }
  }' "$results" | median
}

# Median figures, then ratios: to direct, and to nginx proxy_pass.
summary() {
  local i rd rp rc pd pp pc
  echo "== pinned: medians of $rounds rounds"
  for i in 1 64; do
    rd=$(figure "$i" direct rate); rp=$(figure "$i" proxy rate); rc=$(figure "$i" call rate)
    pd=$(figure "$i" direct p50); pp=$(figure "$i" proxy p50); pc=$(figure "$i" call p50)
    awk -v i="$i" -v rd="$rd" -v rp="$rp" -v rc="$rc" -v pd="$pd" -v pp="$pp" -v pc="$pc" \
        -v p99d="$(figure "$i" direct p99)" -v p99p="$(figure "$i" proxy p99)" \
        -v p99c="$(figure "$i" call p99)" 'BEGIN {
      printf "%2d in flight: direct %.0f/s, proxy_pass %.0f/s, tollgated %.0f/s: %.2fx direct, %.2fx proxy_pass\n",
             i, rd, rp, rc, rc / rd, rc / rp
      printf "   p50 ms: direct %.3f, proxy_pass %.3f, tollgated %.3f; added p50: proxy_pass %.3f, tollgated %.3f (%.1fx proxy_pass)\n",
             pd, pp, pc, pp - pd, pc - pd, (pc - pd) / (pp - pd)
      printf "   p99 ms: direct %.3f, proxy_pass %.3f, tollgated %.3f\n", p99d, p99p, p99c }'
    echo "   tollgated cpu: $(figure "$i" call cpu_us_per_request) us/call;" \
         "in daemon (mean ms): $(figure "$i" call in_daemon_ms) = ledger waits" \
         "$(figure "$i" call ledger_wait_ms) + own $(figure "$i" call own_ms) + rest" \
         "$(figure "$i" call rest_ms)"
    echo "   ledger waits p50 $(figure "$i" call ledger_wait_p50_ms) ms, p99" \
         "$(figure "$i" call ledger_wait_p99_ms) ms; the daemon's own time p50" \
         "$(figure "$i" call own_p50_ms) ms, p99 $(figure "$i" call own_p99_ms) ms"
  done
}
summary

# wrk (one thread, on the load core) for WRK_SECONDS; prints req/s and,
# for tollgated, its CPU per request.
wrk_run() {  # LABEL CONNECTIONS URL [PID]
  local t0 t1 out rate
  if [[ -n ${4:-} ]]; then t0=$(cpu_ticks "$4"); fi
  out=$("${load[@]}" wrk -t1 -c"$2" -d"${wrk_seconds}s" "$3")
  rate=$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")
  if grep -q 'Non-2xx' <<< "$out"; then echo "pinned: wrk saw non-2xx answers from $3" >&2; exit 1; fi
  if [[ -n ${4:-} ]]; then
    t1=$(cpu_ticks "$4")
    awk -v l="$1" -v c="$2" -v r="$rate" -v d=$(( t1 - t0 )) -v hz="$(getconf CLK_TCK)" -v s="$wrk_seconds" \
      'BEGIN { printf "wrk %-28s -c%-2d %8.0f req/s  tollgated cpu %.1f us/request\n", l, c, r, d / hz / (r * s) * 1e6 }'
  else
    printf 'wrk %-28s -c%-2d %8.0f req/s\n' "$1" "$2" "$rate"
  fi
}
echo "== pinned: wrk on the HTTP status endpoints (tollgated on one core)"
for c in 1 64; do
  wrk_run "GET /healthz" "$c" "http://$http/healthz" "$tg"
  wrk_run "GET /api/token-usage/summary" "$c" "http://$http/api/token-usage/summary" "$tg"
  wrk_run "nginx proxy_pass GET" "$c" "$proxy/v1/messages"
done

# Every call was charged the stub's usage (12 input + 4 output tokens):
# tollgated read the canned answers as served, with their usage.
curl -s "http://$http/api/token-usage/summary" | python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
used, calls = t["used"], t["requests"]
print("tollgated charged %d tokens for %d calls (16 each: %s)" % (used, calls, used == 16 * calls))
sys.exit(0 if calls > 0 and used == 16 * calls else 1)'
