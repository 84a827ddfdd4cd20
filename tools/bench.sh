#!/usr/bin/env bash
# make bench: every tollbench measurement of docs/benchmarks.md in one run,
# on loopback, against a fresh tollgated and fake-provider, then the pinned
# scenario of issue 17 (tools/bench/pinned.sh: nginx as the provider stub,
# tollgated alone on one core). Prints the figures; nothing is written to
# the repo.
#
#   tools/bench.sh BIN_DIR [all|pinned|memory|floors]
#       pinned: that scenario only (make bench BENCH=pinned); memory:
#       tollgated's RSS idle and with 10,000 calls in flight only
#       (tools/bench/memory.sh, make bench BENCH=memory); floors: what the
#       machine charges for a call's parts with no tollgate code around
#       them, the floors under the CPU targets (tools/bench/floors.sh,
#       make bench BENCH=floors)
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
case ${2:-all} in
  pinned|memory|floors) exec "$here/bench/${2}.sh" "${1:-build/bin}" ;;
  all) ;;
  *) echo "usage: $0 BIN_DIR [all|pinned|memory|floors]" >&2; exit 2 ;;
esac
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

# Free the cores for the memory and pinned scenarios.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

echo "== memory (tools/bench/memory.sh)"
"$here/bench/memory.sh" "$bin"

echo "== pinned scenario (tools/bench/pinned.sh)"
"$here/bench/pinned.sh" "$bin"

echo "== floors (tools/bench/floors.sh)"
"$here/bench/floors.sh" "$bin"
