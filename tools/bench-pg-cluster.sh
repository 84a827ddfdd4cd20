#!/usr/bin/env bash
# tools/bench-pg-cluster.sh BIN_DIR [DAEMONS] [REQUESTS] [INFLIGHT]: calls/s of
# DAEMONS tollgateds (default 3) sharing one PostgreSQL ledger, against one
# provider stub, each driven by its own `tollbench call` (REQUESTS measured
# calls, default 3000, INFLIGHT outstanding, default 32) at the same time;
# then the same with one LMDB tollgated for comparison. Prints each
# tollbench line and the cluster's total calls/s. The PostgreSQL server is
# tools/pg-test-server.sh's (fsync and synchronous_commit on).
#
# STUB=nginx (the default when nginx is installed: tools/install-deps.sh
# --bench) answers with canned bodies (tools/bench/nginx.sh), as the pinned
# scenario does; STUB=fake uses fake-provider, whose thread per connection
# costs far more CPU a request, CPU the daemons then do not get.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
session_start bench-pg "${1:?usage: bench-pg-cluster.sh BIN_DIR [DAEMONS] [REQUESTS] [INFLIGHT]}"
daemons=${2:-3}
requests=${3:-3000}
inflight=${4:-32}
trap '"$here/pg-test-server.sh" stop "$work/pg" || true; session_cleanup' EXIT
uri=$("$here/pg-test-server.sh" start "$work/pg")
stub=${STUB:-$(command -v nginx > /dev/null && echo nginx || echo fake)}
if [[ $stub == nginx ]]; then
  # shellcheck source-path=SCRIPTDIR source=bench/nginx.sh
  . "$here/bench/nginx.sh"
  stub_port=$(free_port)
  start_nginx stub stub.conf.in "0-$(($(nproc) - 1))" "$stub_port"
  wait_http POST "http://127.0.0.1:$stub_port/v1/messages"
  fake_addr=127.0.0.1:$stub_port
else
  start_fake_provider "$work/fake.log"
fi
echo "== provider stub: $stub ($fake_addr)"

# Runs one tollbench per endpoint at once; prints their lines and the sum.
drive() {  # LABEL ENDPOINT...
  local label=$1 i=0 total=0 rate
  shift
  for endpoint in "$@"; do
    "$bin/tollbench" call --endpoint "$endpoint" --requests "$requests" \
      --warmup 200 --inflight "$inflight" > "$work/bench.$label.$i" 2>&1 &
    i=$((i + 1))
  done
  wait_benches "$i"
  for ((j = 0; j < i; j++)); do
    cat "$work/bench.$label.$j"
    rate=$(sed -n 's|.*inflight=[0-9]*: \([0-9.]*\)/s.*|\1|p' "$work/bench.$label.$j" | head -1)
    total=$(awk -v a="$total" -v b="${rate:-0}" 'BEGIN { print a + b }')
  done
  echo "$label: $total calls/s in all"
}

wait_benches() {  # N: waits for the last N background jobs (the tollbenches)
  local job
  for job in $(jobs -p | tail -n "$1"); do wait "$job"; done
}

endpoints=()
for ((d = 1; d <= daemons; d++)); do
  start_tollgated "$work/tollgated.$d.log" "$fake_addr" "$work/data.$d" \
    ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench "${no_limits_env[@]}" TOLLGATE_LEDGER="$uri" \
    TOLLGATE_DAEMON_ID="gw-$d"
  endpoints+=("$tollgated_requests")
done
drive "postgres daemons=$daemons" "${endpoints[@]}"

start_tollgated "$work/tollgated.lmdb.log" "$fake_addr" "$work/data.lmdb" \
  ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench "${no_limits_env[@]}"
drive "lmdb daemons=1" "$tollgated_requests"
