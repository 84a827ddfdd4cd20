#!/usr/bin/env bash
# tools/cpu-per-call.sh BEFORE_BIN_DIR AFTER_BIN_DIR [ROUNDS]
#
# tollgated's CPU time per call, two builds compared on the same machine:
# the user+system time (utime+stime in /proc/PID/stat) a fresh tollgated
# spends serving `tollbench call --inflight 64` (20,000 calls by default),
# divided by the calls. The two builds alternate (before, after, before,
# ...; ROUNDS each, default 3), each round a fresh daemon with a fresh
# ledger, so drift on the machine hits both. A warm-up run before each
# measured one is not counted. Both use one fake-provider and one tollbench
# (BEFORE_BIN_DIR's), so the load is the same. Prints one line per round
# and the median per build; writes nothing to the repo.
#
# Environment: REQUESTS (20000), INFLIGHT (64), WARMUP (2000); AFTER_ARGS:
# extra tollbench call options for the after runs only (e.g. AFTER_ARGS=
# --stream with the same BIN_DIR twice: streamed against unstreamed calls).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if (( $# < 2 )); then
  echo "usage: $0 BEFORE_BIN_DIR AFTER_BIN_DIR [ROUNDS]" >&2
  exit 2
fi
before_dir=$(cd "$1" && pwd)
after_dir=$(cd "$2" && pwd)
rounds=${3:-3}
requests=${REQUESTS:-20000}
inflight=${INFLIGHT:-64}
warmup=${WARMUP:-2000}
read -r -a after_args <<< "${AFTER_ARGS:-}"
ticks_per_second=$(getconf CLK_TCK)

session_start cpu-per-call "$before_dir"
load_bin=$bin  # fake-provider and tollbench: the same for both builds
start_fake_provider "$work/fake.log" --threads 256

# utime + stime of PID, in clock ticks (fields 14 and 15; the command name
# in field 2 is in parentheses and may hold spaces, so count from its end).
cpu_ticks() {  # PID
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# One round: a fresh tollgated from BIN_DIR, a warm-up, then the measured
# run. Appends "LABEL ROUND US_PER_CALL ..." to results and prints it.
results=()
measure() {  # LABEL BIN_DIR ROUND
  local label=$1 round=$3 pid t0 t1 out line
  local -a extra=()
  if [[ $label == after ]]; then extra=("${after_args[@]}"); fi
  bin=$2
  # (info: start_tollgated waits for the ready line, logged at info)
  start_tollgated "$work/tg-$label-$round.log" "$fake_addr" "$work/data-$label-$round" \
    ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench "${no_limits_env[@]}" TOLLGATE_LOG_LEVEL=info
  pid=$tollgated_pid
  bin=$load_bin
  "$bin/tollbench" call --endpoint "$tollgated_requests" --inflight "$inflight" \
    --requests "$warmup" --warmup 0 "${extra[@]}" > /dev/null
  t0=$(cpu_ticks "$pid")
  out=$("$bin/tollbench" call --endpoint "$tollgated_requests" --inflight "$inflight" \
          --requests "$requests" --warmup 0 "${extra[@]}")
  grep -h '^streamed' <<< "$out" || true
  t1=$(cpu_ticks "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  line=$(awk -v l="$label" -v r="$round" -v d=$(( t1 - t0 )) -v hz="$ticks_per_second" \
             -v n="$requests" -v rate="$(grep -o '[0-9]*/s' <<< "$out" | head -1)" \
             -v errors="$(grep -o 'errors=[0-9]*' <<< "$out" | head -1)" \
             'BEGIN { printf "%s %d %.1f us/call (%d ticks for %d calls; %s, %s)",
                      l, r, d / hz / n * 1e6, d, n, rate, errors }')
  results+=("$line")
  echo "$line"
}

for round in $(seq "$rounds"); do
  measure before "$before_dir" "$round"
  measure after "$after_dir" "$round"
done

echo "== median us/call over $rounds rounds ($requests calls, --inflight $inflight)"
for label in before after; do
  printf '%s\n' "${results[@]}" | awk -v l="$label" '$1 == l {print $3}' | sort -n |
    awk -v l="$label" '{ v[NR] = $1 } END {
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-6s %7.1f us/call (min %.1f, max %.1f)\n", l, m, v[1], v[NR] }'
done
