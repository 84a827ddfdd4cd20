#!/usr/bin/env bash
# tools/bench/memory.sh BIN_DIR: tollgated's memory (`make bench
# BENCH=memory`; also a section of a whole `make bench`), against issue
# 17's targets: idle anonymous RSS <= 4 MiB, 10,000 calls in flight <= 100
# MiB RSS.
#
# Starts fake-provider answering every request after 60 s and tollgated
# with budgets and rate limits lifted; prints tollgated's RSS split into
# anonymous and file-backed pages (the mapped binary and libraries) while
# idle; then sends 10,000 calls at once (tollbench), polls the daemon's
# tollgate_calls_in_flight gauge until all 10,000 are in flight (none can
# finish for 60 s), and prints the peak RSS over the next SAMPLES (10)
# samples, half a second apart. Writes nothing to the repo.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"
session_start bench-memory "${1:-build/bin}"
samples=${SAMPLES:-10}

# "VmRSS a KiB (anonymous b, file c), N threads" of PID.
rss_split() {  # PID
  awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} /^RssFile/ {f = $2} /^Threads/ {t = $2}
       END { printf "%d KiB (anonymous %d, file %d), %d threads\n", r, a, f, t }' "/proc/$1/status"
}

start_fake_provider "$work/slow.log" --threads 256 --fault '*:delay_ms=60000'
start_tollgated "$work/tg.log" "$fake_addr" "$work/data" ANTHROPIC_API_KEY=bench \
  OPENAI_API_KEY=bench "${no_limits_env[@]}" TOLLGATE_CALL_TIMEOUT_MS=600000 \
  TOLLGATE_LOG_LEVEL=info TOLLGATE_HTTP=127.0.0.1:0
tg=$tollgated_pid
http=$(grep -m1 'ready requests=' "$work/tg.log" | sed -n 's/.* http=\([^ ]*\).*/\1/p')
echo "tollgated idle RSS: $(rss_split "$tg")"

"$bin/tollbench" call --endpoint "$tollgated_requests" --inflight 10000 --requests 10000 \
  --warmup 0 > /dev/null &
pids+=("$!")
in_flight() {
  curl -s "http://$http/metrics" | awk '$1 == "tollgate_calls_in_flight" {print $2}'
}
for _ in $(seq 600); do
  [[ $(in_flight) == 10000 ]] && break
  sleep 0.1
done
[[ $(in_flight) == 10000 ]] || { echo "memory: only $(in_flight) calls in flight after 60 s" >&2; exit 1; }
peak=0
for _ in $(seq "$samples"); do
  r=$(rss_kib "$tg"); (( r > peak )) && peak=$r
  sleep 0.5
done
echo "tollgated peak RSS with 10,000 calls in flight: $peak KiB; now $(rss_split "$tg")"
