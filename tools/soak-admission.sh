#!/usr/bin/env bash
# Admission-queue soak (not in CI): a long overload in which every call has
# to queue for budget room held by calls in flight (PROTOCOL.md section 3,
# rule 6). Two agents, each with room for about 170 reservations of
# max_tokens 16,000 under the 95% fallback threshold, receive RATE calls/s
# that the fake provider holds DELAY_MS each: about RATE * DELAY_MS / 1000
# calls in flight, the rest waiting. Samples tollgated's RSS (anonymous and
# file-backed), open fds and the queue length every minute; at the end the
# queue must be empty and nothing reserved.
#
#   tools/soak-admission.sh [BIN_DIR] [MINUTES] [RATE] [DELAY_MS]
#   defaults: build/bin 10 300 2000
set -euo pipefail
minutes=${2:-10}
rate=${3:-300}
delay_ms=${4:-2000}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
session_start soak-admission "${1:-build/bin}"
rss_split() { awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print "anon " a " KiB, file " f " KiB"}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
http_get() {  # URL
  /usr/bin/python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"
}
waiting() {  # the tollgate_admission_waiting samples, one line
  http_get "http://$tollgated_http/metrics" | awk '/^tollgate_admission_waiting\{/ {printf "%s=%s ", $1, $2}'
}

start_fake_provider "$work/fake.log" --threads 2048 --output-tokens 2 \
  --fault "anthropic:delay_ms=$delay_ms"
start_tollgated "$work/tg.log" "$fake_addr" "$work/data" ANTHROPIC_API_KEY=soak OPENAI_API_KEY=soak \
  ANTHROPIC_MONTHLY_LIMIT=3000000 OPENAI_MONTHLY_LIMIT=3000000 \
  ANTHROPIC_RPM=0 ANTHROPIC_RPD=0 OPENAI_RPM=0 OPENAI_RPD=0 \
  TOLLGATE_HTTP=127.0.0.1:0 TOLLGATE_LOG_LEVEL=info
tg=$tollgated_pid
tollgated_http=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' "$work/tg.log" | head -1)

requests=$(( rate * minutes * 60 ))
"$bin/tollbench" call --endpoint "$tollgated_requests" --rate "$rate" --requests "$requests" \
  --warmup $(( rate * 10 )) --agents 2 --max-tokens 16000 > "$work/bench.log" 2>&1 &
bench=$!
sleep 15
echo "start: RSS $(rss_kib $tg) KiB ($(rss_split $tg)), $(fds $tg) fds, waiting: $(waiting)"
for (( m = 1; m <= minutes; ++m )); do
  for (( s = 0; s < 60; ++s )); do
    kill -0 "$bench" 2>/dev/null || break 2
    sleep 1
  done
  echo "${m} min: RSS $(rss_kib $tg) KiB ($(rss_split $tg)), $(fds $tg) fds, waiting: $(waiting)"
done
wait $bench
cat "$work/bench.log"
echo "end: RSS $(rss_kib $tg) KiB ($(rss_split $tg)), $(fds $tg) fds, waiting: $(waiting)"
echo "reserved at the end: $(http_get "http://$tollgated_http/metrics" | awk '/^tollgate_tokens_reserved\{/ {s += $2} END {print s + 0}')"
echo "tollgated warnings and errors: $(grep -c -E ' (warning|error|critical) ' "$work/tg.log" || true)"
