#!/usr/bin/env bash
# tools/bench/floors.sh BIN_DIR: the floors under issue 17's CPU targets
# (`make bench BENCH=floors`). What this machine charges for the parts
# every call through tollgated is made of, each measured alone with no
# tollgate code around it, pinned as pinned.sh pins the daemon (the
# measured side on DAEMON_CPU, the other side on LOAD_CPU) and under
# SCHED_BATCH as tollgated runs (TOLLGATE_SCHED_BATCH):
#
#   flush  `tollbench floor flush`: a 128-byte record + fdatasync into
#          pre-zeroed blocks in this script's temp dir (put TMPDIR on the
#          ledger's disk): one durable point. A call has two (its
#          reservation on disk before the request leaves, its charge before
#          the reply).
#   wake   `tollbench floor wake`: a thread woken and put to sleep, on a busy
#          CPU and on an idle one.
#   zmq    `tollbench floor zmq`: a ROUTER echo, the call's ZeroMQ half.
#   http   `tollbench direct` to the nginx stub (tools/bench/stub.conf.in):
#          the worker thread's CPU per request, the call's HTTP half through
#          tollgated's own worker loop and libcurl transport.
#   ledger `tollbench ledger --submitters 64`: a reserve + commit pair
#          through the LMDB ledger with 64 chains (group commit at its best).
#
# Then the sums next to the targets: at 1 in flight two flushes + zmq +
# http (none of tollgated's own work, no hand-off between its threads); at
# 64 in flight a ledger pair + zmq + http. ROUNDS rounds (default 3),
# medians. Writes nothing to the repo.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=nginx.sh
. "$here/nginx.sh"
session_start bench-floors "${1:-build/bin}"

daemon_cpu=${DAEMON_CPU:-0}
load_cpu=${LOAD_CPU:-1}
rounds=${ROUNDS:-3}
for tool in nginx taskset chrt curl; do
  command -v "$tool" > /dev/null || { echo "floors: $tool missing (tools/install-deps.sh --bench)" >&2; exit 1; }
done
if (( $(nproc) < 2 )); then
  echo "floors: needs two CPUs (measured side on one, the other side on the other); skipped" >&2
  exit 0
fi

stub_port=$(free_port)
start_nginx stub stub.conf.in "$load_cpu" "$stub_port"
wait_http POST "http://127.0.0.1:$stub_port/v1/messages"
stub=http://127.0.0.1:$stub_port
pin=(chrt -b 0 taskset -c "$daemon_cpu")
floor=("${pin[@]}" "$bin/tollbench" floor --cpu "$daemon_cpu" --other-cpu "$load_cpu")

# The first number after "floor NAME: " or after KEY= in a line.
first_number() { sed -n 's/^[^:]*: \([0-9.]*\) us.*/\1/p'; }
key_number() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

results=$work/results
record() {  # NAME VALUE
  echo "$1 $2" >> "$results"
}
for round in $(seq "$rounds"); do
  echo "== round $round"
  out=$("${floor[@]}" flush --dir "$work" --rounds 2000); echo "$out"
  record flush "$(first_number <<< "$out")"
  out=$("${floor[@]}" wake --rounds 20000); echo "$out"
  record wake_busy "$(first_number <<< "$out")"
  record wake_idle "$(sed -n 's/.*CPU, \([0-9.]*\) us with it on another CPU.*/\1/p' <<< "$out")"
  for inflight in 1 64; do
    n=$(( inflight == 1 ? 3000 : 30000 ))
    out=$("${floor[@]}" zmq --rounds "$n" --inflight "$inflight"); echo "$out"
    record "zmq_$inflight" "$(first_number <<< "$out")"
    out=$("${pin[@]}" "$bin/tollbench" direct --base-url "$stub" --inflight "$inflight" --requests "$n")
    echo "$out"
    record "http_$inflight" "$(key_number worker_cpu_us_per_request <<< "$out")"
  done
  rm -rf "$work/ledger"
  out=$("${pin[@]}" "$bin/tollbench" ledger --dir "$work/ledger" --submitters 64 --pairs 50000); echo "$out"
  record ledger_64 "$(sed -n 's/.*, \([0-9.]*\) us CPU per pair.*/\1/p' <<< "$out")"
done

median_of() {  # NAME
  awk -v n="$1" '$1 == n { print $2 }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
      print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
flush=$(median_of flush)
zmq1=$(median_of zmq_1)
http1=$(median_of http_1)
zmq64=$(median_of zmq_64)
http64=$(median_of http_64)
ledger64=$(median_of ledger_64)
echo
echo "== floors (medians of $rounds rounds, us of CPU)"
echo "durable record (pwrite + fdatasync): $flush"
echo "thread wake-up and sleep: $(median_of wake_busy) on a busy CPU, $(median_of wake_idle) on an idle one"
echo "ZeroMQ round trip (ROUTER echo): $zmq1 at 1 in flight, $zmq64 at 64"
echo "HTTP request (tollgated's worker loop + libcurl): $http1 at 1 in flight, $http64 at 64"
echo "ledger reserve + commit pair, 64 chains: $ledger64"
awk -v f="$flush" -v z="$zmq1" -v h="$http1" 'BEGIN {
  s = 2 * f + z + h
  printf "1 in flight: 2 x %.1f + %.1f + %.1f = %.1f us per call before any of tollgated'"'"'s own work (target 150)\n", f, z, h, s }'
awk -v l="$ledger64" -v z="$zmq64" -v h="$http64" 'BEGIN {
  s = l + z + h
  printf "64 in flight: %.1f + %.1f + %.1f = %.1f us per call before any of tollgated'"'"'s own work (target 40)\n", l, z, h, s }'
