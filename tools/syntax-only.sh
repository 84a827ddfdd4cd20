#!/usr/bin/env bash
# Compiler and linker launcher of `make check-thread-safety`
# (TOLLGATE_THREAD_SAFETY): that build is checked, never run, and clang's
# -Wthread-safety is part of semantic analysis, so each source is compiled
# with -fsyntax-only (every diagnostic, no code generation) and each link
# is skipped. The object or program named by -o is written empty, so make
# sees every target as built.
#   tools/syntax-only.sh compile COMPILER ARGS...
#   tools/syntax-only.sh link    COMPILER ARGS...
set -euo pipefail
mode=$1
shift
out=""
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -o) out=$2; shift 2 ;;
    -c) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -z $out ]]; then
  echo "syntax-only: no -o in the command" >&2
  exit 2
fi
if [[ $mode == compile ]]; then
  "${args[@]}" -fsyntax-only
elif [[ $mode != link ]]; then
  echo "syntax-only: mode is compile or link, not $mode" >&2
  exit 2
fi
: > "$out"
