#!/usr/bin/env bash
# Power-cut soak (not in CI): the load-and-cut test of
# tests/integration/power_cut_test.cpp (tollgated's data directory on
# tools/cutfs, killed under load, unsynced data dropped, restarted on what
# survived, invariants checked) run N times, each run 3 cuts with its own
# random seed, so N runs are 3N cuts at different moments. Stops at the
# first failing run and prints its seed (rerun it with --rng-seed SEED).
# Needs root or a user allowed to mount FUSE (/dev/fuse, fusermount3).
#
#   tools/soak-power-cut.sh [N] [BUILD_DIR]      defaults: 20 build
#
# BUILD_DIR must hold bin/{tollgated,fake-provider,cutfs} and the test,
# bin/power_cut_test (`make build`, or
# `cmake --build BUILD --target power_cut_test tollgated fake-provider cutfs`).
set -euo pipefail
runs=${1:-20}
build=$(cd "${2:-build}" && pwd)
test_bin=$build/bin/power_cut_test
for f in "$test_bin" "$build/bin/tollgated" "$build/bin/fake-provider" "$build/bin/cutfs"; do
  [[ -x $f ]] || { echo "soak-power-cut: $f is missing (build it first)" >&2; exit 1; }
done
export TOLLGATE_BIN_DIR=$build/bin
name='power cuts under load lose no replied call and leave nothing reserved'
start=$SECONDS
for (( run = 1; run <= runs; run++ )); do
  seed=$(( (RANDOM << 15 | RANDOM) + 1 ))
  if ! out=$("$test_bin" --rng-seed "$seed" "$name" 2>&1); then
    printf '%s\n' "$out"
    echo "soak-power-cut: run $run of $runs FAILED (seed $seed)" >&2
    exit 1
  fi
  # A test that only warned (no FUSE here) proved nothing: say so, stop.
  if grep -q 'power-cut test skipped' <<< "$out"; then
    printf '%s\n' "$out"
    echo "soak-power-cut: skipped, FUSE is not usable here" >&2
    exit 1
  fi
  echo "run $run of $runs ok (seed $seed, $(( SECONDS - start )) s so far)"
done
echo "soak-power-cut: $runs runs, $(( runs * 3 )) cuts, no replied call lost, nothing left reserved"
