#!/usr/bin/env bash
# make demo: fake providers + tollgated + a producer + a subscriber, all on
# loopback, no API keys needed. The producer pushes prompts for two agents
# until the first crosses 80% and 95% of its Anthropic budget and falls back
# to OpenAI; the subscriber prints alert and usage events as they arrive;
# the run ends with a summary and stops everything it started.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tollgate-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The fake Anthropic/OpenAI server on a free port.
"$bin/fake-provider" --port 0 --output-tokens 250 > "$work/fake.log" 2>&1 &
pids+=($!)
until grep -q '^listening ' "$work/fake.log"; do sleep 0.05; done
fake=$(sed -n 's/^listening //p' "$work/fake.log" | head -1)
echo "demo: fake providers at http://$fake"

# 2. tollgated with small budgets so the demo crosses its thresholds quickly.
export ANTHROPIC_API_KEY=demo-anthropic-key OPENAI_API_KEY=demo-openai-key
export ANTHROPIC_BASE_URL="http://$fake" OPENAI_BASE_URL="http://$fake/v1"
export ANTHROPIC_MONTHLY_LIMIT=6000 OPENAI_MONTHLY_LIMIT=3000
export ANTHROPIC_RPM=0 OPENAI_RPM=0
export TOLLGATE_LISTEN=tcp://127.0.0.1:0 TOLLGATE_EVENTS=tcp://127.0.0.1:0
export TOLLGATE_DATA_DIR="$work/ledger" TOLLGATE_HTTP=off
"$bin/tollgated" > "$work/tollgated.log" 2>&1 &
pids+=($!)
until grep -q 'ready requests=' "$work/tollgated.log"; do
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$work/tollgated.log"; exit 1; }
  sleep 0.05
done
requests=$(sed -n 's/.*ready requests=\([^ ]*\).*/\1/p' "$work/tollgated.log")
events=$(sed -n 's/.*events=\([^ ]*\).*/\1/p' "$work/tollgated.log")
echo "demo: tollgated requests=$requests events=$events"

# 3. Producer and subscriber.
/usr/bin/python3 "$here/demo_producer.py" "$requests" "$events"
echo
"$bin/tollctl" --endpoint "$requests" ping
