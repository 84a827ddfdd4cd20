#!/usr/bin/env bash
# make bench: every tollbench measurement of docs/benchmarks.md in one run,
# on loopback, against a fresh tollgated and fake-provider. Prints the
# figures; nothing is written to the repo.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
work=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

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
"$bin/fake-provider" --port 0 --threads 256 > "$work/fake.log" 2>&1 &
pids+=($!)
until grep -q '^listening ' "$work/fake.log"; do sleep 0.05; done
fake=$(sed -n 's/^listening //p' "$work/fake.log" | head -1)
ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench ANTHROPIC_BASE_URL="http://$fake" \
OPENAI_BASE_URL="http://$fake/v1" ANTHROPIC_MONTHLY_LIMIT=100000000000 \
OPENAI_MONTHLY_LIMIT=100000000000 ANTHROPIC_RPM=0 ANTHROPIC_RPD=0 OPENAI_RPM=0 OPENAI_RPD=0 \
TOLLGATE_LISTEN=tcp://127.0.0.1:0 TOLLGATE_EVENTS=tcp://127.0.0.1:0 TOLLGATE_HTTP=off \
TOLLGATE_DATA_DIR="$work/data" TOLLGATE_LOG_LEVEL=info "$bin/tollgated" > "$work/tg.log" 2>&1 &
tg=$!
pids+=($tg)
until grep -q 'ready requests=' "$work/tg.log"; do sleep 0.05; done
ep=$(sed -n 's/.*ready requests=\([^ ]*\).*/\1/p' "$work/tg.log")
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
"$bin/fake-provider" --port 0 --threads 256 --fault '*:delay_ms=60000' > "$work/slow.log" 2>&1 &
pids+=($!)
until grep -q '^listening ' "$work/slow.log"; do sleep 0.05; done
slow=$(sed -n 's/^listening //p' "$work/slow.log" | head -1)
ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench ANTHROPIC_BASE_URL="http://$slow" \
OPENAI_BASE_URL="http://$slow/v1" ANTHROPIC_MONTHLY_LIMIT=100000000000 \
OPENAI_MONTHLY_LIMIT=100000000000 ANTHROPIC_RPM=0 ANTHROPIC_RPD=0 OPENAI_RPM=0 OPENAI_RPD=0 \
TOLLGATE_LISTEN=tcp://127.0.0.1:0 TOLLGATE_EVENTS=tcp://127.0.0.1:0 TOLLGATE_HTTP=off \
TOLLGATE_DATA_DIR="$work/data-slow" TOLLGATE_CALL_TIMEOUT_MS=600000 "$bin/tollgated" > "$work/tg-slow.log" 2>&1 &
tg2=$!
pids+=($tg2)
until grep -q 'ready requests=' "$work/tg-slow.log"; do sleep 0.05; done
ep2=$(sed -n 's/.*ready requests=\([^ ]*\).*/\1/p' "$work/tg-slow.log")
"$bin/tollbench" call --endpoint "$ep2" --inflight 10000 --requests 10000 --warmup 0 > /dev/null &
bench=$!
pids+=($bench)
# Sample for 15 s while every call is in flight (none can finish in 60 s).
peak=0
for _ in $(seq 30); do
  r=$(rss_kib $tg2); (( r > peak )) && peak=$r
  sleep 0.5
done
echo "tollgated peak RSS with 10,000 calls in flight: $peak KiB"
