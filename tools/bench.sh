#!/usr/bin/env bash
# make bench: every tollbench measurement of docs/benchmarks.md in one run,
# on loopback, against a fresh tollgated and fake-provider, then the pinned
# scenario of issue 17 (tools/bench/pinned.sh: nginx as the provider stub,
# tollgated alone on one core). Prints the figures; nothing is written to
# the repo.
#
#   tools/bench.sh BIN_DIR [all|pinned]   pinned: that scenario only
#                                         (make bench BENCH=pinned)
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
if [[ ${2:-all} == pinned ]]; then exec "$here/bench/pinned.sh" "${1:-build/bin}"; fi
if [[ ${2:-all} != all ]]; then echo "usage: $0 BIN_DIR [all|pinned]" >&2; exit 2; fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
session_start bench "${1:-build/bin}"

echo "== codec (one core)"
"$bin/tollbench" codec --iterations 3000000

echo "== ledger: durable reserve+commit pairs"
for n in 1 8 64; do
  for gc in "" "--no-group-commit"; do
    rm -rf "$work/ledger"
    pairs=$(( n == 1 ? 2000 : 20000 ))
    [[ -n $gc ]] && pairs=2000
    "$bin/tollbench" ledger --dir "$work/ledger" --submitters $n --pairs $pairs $gc
  done
done

echo "== fake-provider and tollgated"
start_fake_provider "$work/fake.log" --threads 256
fake=$fake_addr
start_tollgated "$work/tg.log" "$fake" "$work/data" ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench \
  "${no_limits_env[@]}" TOLLGATE_LOG_LEVEL=info
tg=$tollgated_pid
ep=$tollgated_requests
echo "tollgated idle RSS: $(rss_kib $tg) KiB"

echo "== ping round trips"
"$bin/tollbench" ping --endpoint "$ep" --inflight 1 --requests 20000
"$bin/tollbench" ping --endpoint "$ep" --inflight 64 --requests 200000

echo "== calls through the full durable path (fake-provider answers at once)"
"$bin/tollbench" direct --base-url "http://$fake" --inflight 1 --requests 2000
"$bin/tollbench" call --endpoint "$ep" --inflight 1 --requests 2000
"$bin/tollbench" direct --base-url "http://$fake" --inflight 64 --requests 20000
"$bin/tollbench" call --endpoint "$ep" --inflight 64 --requests 20000
echo "== added latency at a fixed 1,000 calls/s"
"$bin/tollbench" direct --base-url "http://$fake" --rate 1000 --requests 10000
"$bin/tollbench" call --endpoint "$ep" --rate 1000 --requests 10000
echo "tollgated RSS after calls: $(rss_kib $tg) KiB"

echo "== 10,000 calls in flight against a slow provider (answers after 60 s)"
start_fake_provider "$work/slow.log" --threads 256 --fault '*:delay_ms=60000'
start_tollgated "$work/tg-slow.log" "$fake_addr" "$work/data-slow" \
  ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench "${no_limits_env[@]}" TOLLGATE_CALL_TIMEOUT_MS=600000
tg2=$tollgated_pid
ep2=$tollgated_requests
"$bin/tollbench" call --endpoint "$ep2" --inflight 10000 --requests 10000 --warmup 0 > /dev/null &
bench=$!
pids+=("$bench")
# Sample for 15 s while every call is in flight (none can finish in 60 s).
peak=0
for _ in $(seq 30); do
  r=$(rss_kib $tg2); (( r > peak )) && peak=$r
  sleep 0.5
done
echo "tollgated peak RSS with 10,000 calls in flight: $peak KiB"
# Free the cores for the pinned scenario.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

echo "== pinned scenario (tools/bench/pinned.sh)"

"$here/bench/pinned.sh" "$bin"
