#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds on a scratch copy of its seed
# corpus (tests/fuzz/corpus/<name>); fails if any target finds something,
# which is written to BUILD_DIR/findings/ (<target>-crash-, -oom- or
# -timeout-<hash>). Targets run JOBS at a time (default: one per core),
# each on its own core for its full N seconds, so the wall time is about
# N x targets / JOBS; each one's output is printed when it ends.
#   tools/run-fuzz.sh BUILD_DIR SECONDS [JOBS]
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
jobs=${3:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
findings="$build/findings"
mkdir -p "$findings"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run_one() {  # TARGET: runs it, keeps its output in $logs/<name>.log
  local target=$1 name corpus scratch status=0
  name=$(basename "$target")
  corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
  scratch=$(mktemp -d)
  [[ -d $corpus ]] && cp -r "$corpus/." "$scratch/"
  "$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$findings/$name-" "$scratch" > "$logs/$name.log" 2>&1 || status=$?
  rm -rf "$scratch"
  return "$status"
}

failed=()
pids=()
names=()
wait_oldest() {
  local status=0
  wait "${pids[0]}" || status=$?
  echo "== fuzz: ${names[0]} (${seconds}s): $([[ $status == 0 ]] && echo ok || echo "FAILED, status $status")"
  tail -n 25 "$logs/${names[0]}.log"
  [[ $status == 0 ]] || failed+=("${names[0]}")
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
}

for target in "$build"/bin/fuzz_*; do
  (( ${#pids[@]} < jobs )) || wait_oldest
  echo "fuzz: $(basename "$target") for ${seconds}s (a finding is written to $findings/)"
  run_one "$target" &
  pids+=("$!")
  names+=("$(basename "$target")")
done
while (( ${#pids[@]} > 0 )); do wait_oldest; done

if (( ${#failed[@]} > 0 )); then
  echo "fuzz: findings from ${failed[*]} (in $findings/)" >&2
  exit 1
fi
