#!/usr/bin/env bash
# tools/pg-test-server.sh: a throw-away PostgreSQL 15 for tests and local
# runs of the PostgreSQL ledger (daemon/ledger/postgres/).
#
#   tools/pg-test-server.sh start STATE_DIR   starts a server, writes its
#                                             URI to STATE_DIR/uri (and prints it)
#   tools/pg-test-server.sh stop STATE_DIR    stops it and removes its files
#   tools/pg-test-server.sh pause STATE_DIR   stops it, keeping its files
#   tools/pg-test-server.sh resume STATE_DIR  starts it again on the same port
#                                             (tests of a database outage)
#
# The server runs from Debian's postgresql-15 (/usr/lib/postgresql/15/bin)
# in a new /tmp/tollgate-pg.XXXXXX directory: loopback only, a free port,
# its unix socket in that directory, trust authentication for the role
# `tollgate` (a superuser; only this machine can reach it). PostgreSQL
# refuses to run as root, so as root (CI) every server command runs as the
# `postgres` user (runuser), which owns the directory. fsync and
# synchronous_commit stay on (durability is what the ledger is about);
# only memory is kept small, so the start takes about a second.
#
# CTest runs `start` once per run as a fixture (FIXTURES_SETUP) and `stop`
# after the last test that needs it (FIXTURES_CLEANUP); tests read the URI
# from the file and each uses its own schema, so they can run in parallel.
set -euo pipefail

pg_bin=${TOLLGATE_PG_BIN:-/usr/lib/postgresql/15/bin}

usage() { echo "usage: $0 start|stop|pause|resume STATE_DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
state=$2

# Runs a server command as the unprivileged owner of the directory.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  [[ -x $pg_bin/initdb ]] || {
    echo "pg-test-server: $pg_bin/initdb not found (tools/install-deps.sh installs postgresql-15)" >&2
    exit 1
  }
  mkdir -p "$state"
  if [[ -f $state/dir ]]; then stop; fi
  local dir
  dir=$(mktemp -d /tmp/tollgate-pg.XXXXXX)
  chmod 755 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  echo "$dir" >"$state/dir"
  as_owner "$pg_bin/initdb" -D "$dir/data" -U tollgate --auth=trust -E UTF8 --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  # A port another process takes between free_port and the start makes
  # the start fail: try a few.
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if pg_start "$dir" "$port"; then
      local uri="postgresql://tollgate@127.0.0.1:$port/postgres"
      echo "$port" >"$state/port"
      echo "$uri" >"$state/uri"
      echo "$uri"
      return 0
    fi
    echo "pg-test-server: start on port $port failed (attempt $attempt)" >&2
  done
  cat "$dir/server.log" >&2
  exit 1
}

pg_start() {  # DIR PORT
  as_owner "$pg_bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$2 -c unix_socket_directories=$1 \
        -c shared_buffers=16MB -c max_connections=200 -c fsync=on \
        -c synchronous_commit=on -c max_wal_size=256MB -c log_min_messages=warning" \
    >/dev/null
}

pause() {
  local dir
  dir=$(cat "$state/dir")
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

resume() {
  local dir
  dir=$(cat "$state/dir")
  pg_start "$dir" "$(cat "$state/port")" || { cat "$dir/server.log" >&2; exit 1; }
}

stop() {
  [[ -f $state/dir ]] || return 0
  local dir
  dir=$(cat "$state/dir")
  if [[ -d $dir/data ]]; then
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  rm -f "$state/dir" "$state/uri" "$state/port"
}

case $action in
  start) start ;;
  stop) stop ;;
  pause) pause ;;
  resume) resume ;;
  *) usage ;;
esac
