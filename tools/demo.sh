#!/usr/bin/env bash
# make demo: fake providers + tollgated + a producer + a subscriber, all on
# loopback, no API keys needed. The producer pushes prompts for two agents
# until the first crosses 80% and 95% of its Anthropic budget and falls back
# to OpenAI; the subscriber prints alert and usage events as they arrive;
# the run ends with a summary and stops everything it started.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
session_start demo "${1:-build/bin}"

# 1. The fake Anthropic/OpenAI server on a free port.
start_fake_provider "$work/fake.log" --output-tokens 250
echo "demo: fake providers at http://$fake_addr"

# 2. tollgated with small budgets so the demo crosses its thresholds quickly.
start_tollgated "$work/tollgated.log" "$fake_addr" "$work/ledger" \
  ANTHROPIC_API_KEY=demo-anthropic-key OPENAI_API_KEY=demo-openai-key \
  ANTHROPIC_MONTHLY_LIMIT=6000 OPENAI_MONTHLY_LIMIT=3000 ANTHROPIC_RPM=0 OPENAI_RPM=0
echo "demo: tollgated requests=$tollgated_requests events=$tollgated_events"

# 3. Producer and subscriber.
/usr/bin/python3 "$here/demo_producer.py" "$tollgated_requests" "$tollgated_events"
echo
"$bin/tollctl" --endpoint "$tollgated_requests" ping
