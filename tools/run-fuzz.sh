#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds on a scratch copy of its seed
# corpus (tests/fuzz/corpus/<name>); fails on the first finding, which is
# written to BUILD_DIR/findings/ (<target>-crash-, -oom- or -timeout-<hash>).
#   tools/run-fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
for target in "$build"/bin/fuzz_*; do
  name=$(basename "$target")
  corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
  scratch=$(mktemp -d)
  [[ -d $corpus ]] && cp -r "$corpus/." "$scratch/"
  findings="$build/findings"
  mkdir -p "$findings"
  echo "fuzz: $name for ${seconds}s (a finding is written to $findings/)"
  "$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$findings/$name-" "$scratch"
  rm -rf "$scratch"
done
