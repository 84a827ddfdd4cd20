#!/usr/bin/env bash
# `systemd-analyze security` rates tollgated.service at an overall exposure of
# at most MAX (default 1.5; 0 = fully locked down, 10 = unprotected).
# Usage: unit_security.sh <unit file> [MAX]
set -euo pipefail

unit=$1
max=${2:-1.5}
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (Debian package systemd)"
  exit 77
fi
if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  echo "SKIP: this systemd-analyze has no 'security --offline' (needs systemd >= 250)"
  exit 77
fi

rc=0
report=$(SYSTEMD_COLORS=0 systemd-analyze security --offline=yes "$unit" 2>&1) || rc=$?
# Last line: "→ Overall exposure level for tollgated.service: 1.1 OK 🙂"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$report")
if [[ -z $exposure ]]; then
  echo "FAIL: no overall exposure in the report (exit $rc):" >&2
  echo "$report" >&2
  exit 1
fi
if ! awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e <= m) }'; then
  grep -v '✓' <<<"$report" >&2   # the settings that add exposure
  echo "FAIL: overall exposure $exposure > $max" >&2
  exit 1
fi
echo "systemd-analyze security: overall exposure $exposure (limit $max)"
