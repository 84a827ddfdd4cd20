#!/usr/bin/env bash
# `cmake --install` into a scratch DESTDIR puts every file in its FHS place:
# prefix /usr (the package layout, configuration in /etc) and prefix
# /usr/local (configuration in /usr/local/etc), with the unit's paths
# rewritten for the prefix. Usage: install_layout.sh <source dir> <build dir>
set -euo pipefail

source=$1
build=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
want_exec() { [[ -f $1 && -x $1 ]] || fail "$1 missing or not executable"; }
want_file() { [[ -f $1 && ! -x $1 ]] || fail "$1 missing or executable"; }
want_line() { grep -qxF -- "$2" "$1" || fail "$1 lacks the line '$2'"; }

check_prefix() {
  local prefix=$1 etc=$2 dest=$root/$3
  DESTDIR=$dest cmake --install "$build" --prefix "$prefix" >/dev/null
  local p=$dest$prefix unit=$dest$prefix/lib/systemd/system/tollgated.service
  for b in tollgated tollctl tollbench; do want_exec "$p/bin/$b"; done
  want_exec "$p/libexec/tollgate/fake-provider"
  want_file "$unit"
  want_line "$unit" "ExecStart=$prefix/bin/tollgated --env-file=-$etc/tollgate/tollgate.env"
  want_line "$unit" "User=tollgate"
  want_file "$p/lib/sysusers.d/tollgate.conf"
  want_line "$unit" "Documentation=file://$prefix/share/doc/tollgate/README.md"
  want_file "$dest$etc/tollgate/tollgate.env.example"
  want_file "$p/share/doc/tollgate/README.md"
  for doc in "$source"/docs/*.md; do
    want_file "$p/share/doc/tollgate/docs/${doc##*/}"
  done
  # Nothing may land outside the prefix and the configuration directory.
  local stray
  stray=$(cd "$dest" && find . -type f | { grep -v -e "^\.$prefix/" -e "^\.$etc/" || true; })
  [[ -z $stray ]] || fail "files outside $prefix and $etc: $stray"
}

check_prefix /usr /etc usr
check_prefix /usr/local /usr/local/etc usr-local

if (( failures > 0 )); then
  echo "$failures install layout check(s) failed" >&2
  exit 1
fi
echo "install layout OK for prefixes /usr and /usr/local"
