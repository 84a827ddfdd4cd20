# shellcheck shell=bash
# tools/lib.sh: the start-up that every script running tollgated against
# fake-provider on loopback shares. Sourced (never run) by tools/demo.sh,
# tools/bench.sh, tools/soak.sh and tests/integration/fixtures/capture.sh,
# after their own `set -euo pipefail`; it sets no shell options itself.
#
# It offers:
#   session_start NAME BIN_DIR   sets bin (BIN_DIR made absolute), work (a new
#                                /tmp/tollgate-NAME.XXXXXX) and pids (empty),
#                                and traps EXIT to session_cleanup.
#   session_cleanup              stops every pid in pids, waits for the
#                                children, removes work.
#   start_fake_provider LOG [ARG...]
#                                starts "$bin/fake-provider --port 0 ARG..."
#                                and waits for its "listening HOST:PORT" line;
#                                sets fake_addr=HOST:PORT.
#   start_tollgated LOG FAKE_ADDR DATA_DIR [NAME=VALUE...]
#                                starts "$bin/tollgated" with both providers
#                                pointed at FAKE_ADDR, ephemeral loopback
#                                request and event endpoints, no HTTP
#                                listener and its ledger in DATA_DIR, plus the
#                                NAME=VALUE settings (later ones win); waits
#                                for its ready line; sets tollgated_pid,
#                                tollgated_requests and tollgated_events.
#   no_limits_env                NAME=VALUE settings that lift every budget
#                                and rate limit (for load runs).
#   rss_kib PID                  prints the resident set of PID in KiB.
#   wait_for_line PID LOG PATTERN
#                                (used by the start functions) polls LOG
#                                until a line matches PATTERN.
#
# Both start functions append the child's pid to pids (so session_cleanup
# stops it) and return their results in globals rather than on stdout: a
# child started inside $(...) would belong to a subshell, which could not
# wait for it and would hold the substitution open. If a child exits before
# its ready line, they print its log and exit 1 (the EXIT trap cleans up).

# shellcheck disable=SC2034  # bin, work and the results are for the caller
session_start() {  # NAME BIN_DIR
  bin=$(cd "$2" && pwd)
  work=$(mktemp -d "/tmp/tollgate-$1.XXXXXX")
  pids=()
  trap session_cleanup EXIT
}

session_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# Polls LOG (a child's output, which it may not have created yet) until a
# line matches PATTERN (grep basic regex). Gives up, printing LOG, once PID
# has exited without writing it.
wait_for_line() {  # PID LOG PATTERN
  until grep -qs -- "$3" "$2"; do
    if ! kill -0 "$1" 2>/dev/null; then
      grep -qs -- "$3" "$2" && return 0  # wrote it, then exited
      cat "$2"
      exit 1
    fi
    sleep 0.05
  done
}

start_fake_provider() {  # LOG [ARG...]
  local log=$1
  shift
  "$bin/fake-provider" --port 0 "$@" > "$log" 2>&1 &
  pids+=("$!")
  wait_for_line "$!" "$log" '^listening '
  fake_addr=$(sed -n 's/^listening //p' "$log" | head -1)
}

start_tollgated() {  # LOG FAKE_ADDR DATA_DIR [NAME=VALUE...]
  local log=$1 fake=$2 data=$3
  shift 3
  # The subshell exports the settings and becomes tollgated (exec), so they
  # reach tollgated only and $! is tollgated's own pid.
  (
    export ANTHROPIC_BASE_URL="http://$fake" OPENAI_BASE_URL="http://$fake/v1"
    export TOLLGATE_LISTEN=tcp://127.0.0.1:0 TOLLGATE_EVENTS=tcp://127.0.0.1:0
    export TOLLGATE_HTTP=off TOLLGATE_DATA_DIR="$data"
    # shellcheck disable=SC2163  # "$@" holds NAME=VALUE words, not names
    (( $# == 0 )) || export "$@"
    # tollgated_cpus (a taskset CPU list): started on those CPUs only, so
    # its default worker count is theirs.
    [[ -z ${tollgated_cpus:-} ]] || exec taskset -c "$tollgated_cpus" "$bin/tollgated"
    exec "$bin/tollgated"
  ) > "$log" 2>&1 &
  tollgated_pid=$!
  pids+=("$tollgated_pid")
  wait_for_line "$tollgated_pid" "$log" 'ready requests='
  local ready
  ready=$(grep -m1 'ready requests=' "$log")
  tollgated_requests=$(sed -n 's/.*ready requests=\([^ ]*\).*/\1/p' <<< "$ready")
  tollgated_events=$(sed -n 's/.* events=\([^ ]*\).*/\1/p' <<< "$ready")
}

# shellcheck disable=SC2034  # for the caller
no_limits_env=(ANTHROPIC_MONTHLY_LIMIT=100000000000 OPENAI_MONTHLY_LIMIT=100000000000
               ANTHROPIC_RPM=0 ANTHROPIC_RPD=0 OPENAI_RPM=0 OPENAI_RPD=0)

rss_kib() {  # PID
  awk '/VmRSS/ {print $2}' "/proc/$1/status"
}
