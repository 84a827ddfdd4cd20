#!/usr/bin/env bash
# `systemd-analyze verify` accepts tollgated.service as installed. verify needs
# ExecStart's binary to exist, so the unit is checked after `cmake --install`
# into a scratch prefix (the install rewrites ExecStart to <prefix>/bin).
# verify exits 0 even on unknown keys or bad values, so any diagnostic that
# names the unit counts as a failure. Usage: unit_verify.sh <build dir>
set -euo pipefail

build=$1
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (Debian package systemd)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/usr
cmake --install "$build" --prefix "$prefix" >/dev/null
unit=$prefix/lib/systemd/system/tollgated.service
[[ -x $prefix/bin/tollgated ]] || { echo "FAIL: $prefix/bin/tollgated not installed" >&2; exit 1; }

rc=0
output=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$unit" 2>&1) || rc=$?
if (( rc != 0 )) || grep -q -e "$unit" -e 'tollgated\.service' <<<"$output"; then
  echo "FAIL: systemd-analyze verify (exit $rc):" >&2
  echo "$output" >&2
  exit 1
fi
if [[ -n $output ]]; then
  echo "note: systemd-analyze verify said (not about this unit):"
  echo "$output"
fi
echo "systemd-analyze verify OK: $unit"
