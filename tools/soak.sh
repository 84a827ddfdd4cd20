#!/usr/bin/env bash
# Soak test (not in CI): tollgated against fake-provider for MINUTES at RATE
# requests/s of mixed ops (9 calls in 10, the rest status ops), with about 1%
# of provider requests failing by injection (529, 500, dropped connections,
# truncated bodies, spread out). Reports error counts by
# code, tollgated's RSS after warm-up, at 5 minutes and at the end, and its
# open file descriptors at start and end.
#
#   tools/soak.sh [BIN_DIR] [MINUTES] [RATE]     defaults: build/bin 30 2000
set -euo pipefail
minutes=${2:-30}
rate=${3:-2000}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
session_start soak "${1:-build/bin}"
# RSS split: anonymous memory (heap, stacks: what a leak grows) and
# file-backed pages (mostly the LMDB map, which grows with the ledger).
rss_split() { awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print "anon " a " KiB, file " f " KiB"}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

start_fake_provider "$work/fake.log" --threads 256
start_tollgated "$work/tg.log" "$fake_addr" "$work/data" ANTHROPIC_API_KEY=soak OPENAI_API_KEY=soak \
  "${no_limits_env[@]}" TOLLGATE_LOG_LEVEL=info
tg=$tollgated_pid

# About 1% of Anthropic requests fail, spread out (every 400th request for
# each of four fault kinds), so the circuit sees isolated failures.
/usr/bin/python3 -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),
    headers={"content-type": "application/json"}), timeout=5).read()' \
  "http://$fake_addr/_control/faults" \
  '["anthropic:status=529:every=400", "anthropic:status=500:every=400", "anthropic:drop:every=400", "anthropic:truncate:every=400"]' \
  > /dev/null

requests=$(( rate * minutes * 60 ))
"$bin/tollbench" call --mixed --endpoint "$tollgated_requests" --rate "$rate" --requests "$requests" \
  --warmup $(( rate * 10 )) > "$work/bench.log" 2>&1 &
bench=$!
# Warm-up (10 s of load), then the first samples.
sleep 12
rss_start=$(rss_kib $tg)
fds_start=$(fds $tg)
echo "start: RSS ${rss_start} KiB ($(rss_split $tg)), ${fds_start} fds"
if (( minutes >= 5 )); then
  sleep $(( 5 * 60 - 12 ))
  rss_5=$(rss_kib $tg)
  echo "5 min: RSS ${rss_5} KiB ($(rss_split $tg))"
fi
wait $bench
rss_end=$(rss_kib $tg)
split_end=$(rss_split $tg)
fds_end=$(fds $tg)
cat "$work/bench.log"
echo "end (${minutes} min): RSS ${rss_end} KiB (${split_end}), ${fds_end} fds"
echo "ledger files: $(du -k "$work/data" | tail -1 | cut -f1) KiB"
base=${rss_5:-$rss_start}
echo "RSS growth from ${base} KiB to the end: $(( (rss_end - base) * 100 / base ))%"
echo "fake-provider: $(/usr/bin/python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://$fake_addr/_control/stats")"
echo "tollgated warnings and errors: $(grep -c -E ' (warning|error|critical) ' "$work/tg.log" || true)"
