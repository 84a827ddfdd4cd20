# shellcheck shell=bash
# tools/bench/nginx.sh: Debian's nginx as a provider stub answering with
# canned Anthropic and OpenAI bodies (stub.conf.in), or as a plain
# proxy_pass (proxy.conf.in). Sourced, after tools/lib.sh (it appends to
# pids and writes under work), by tools/bench/pinned.sh and
# tools/bench-pg-cluster.sh.
#
#   free_port                       prints a loopback port free now
#   wait_http METHOD URL            polls URL until it answers 200 (10 s)
#   start_nginx NAME TEMPLATE CPU PORT [STUB_PORT]
#                                   starts nginx from TEMPLATE pinned to CPU
# shellcheck disable=SC2154  # work and pids are tools/lib.sh's
nginx_templates=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A loopback port free now (nginx cannot bind port 0 and say which it got).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls URL until it answers 200 to METHOD, for up to 10 s.
wait_http() {  # METHOD URL
  local _
  for _ in $(seq 200); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X "$1" "$2" || true) == 200 ]] && return 0
    sleep 0.05
  done
  echo "bench: no 200 from $1 $2" >&2
  exit 1
}

# Starts nginx from TEMPLATE on CPU, its files in $work/NAME, with @PORT@,
# @STUB_PORT@, @USER@, @GROUP@ and the canned bodies filled in (JSON
# without a character nginx would read in a quoted string: checked).
start_nginx() {  # NAME TEMPLATE CPU PORT [STUB_PORT]
  local dir=$work/$1 conf anthropic openai
  mkdir -p "$dir"
  anthropic=$(< "$nginx_templates/anthropic_messages.json")
  openai=$(< "$nginx_templates/openai_chat_completions.json")
  if [[ $anthropic$openai == *"'"* || $anthropic$openai == *'$'* ]]; then
    echo "bench: a canned body holds ' or \$" >&2
    exit 1
  fi
  conf=$(< "$nginx_templates/$2")
  conf=${conf//@DIR@/$dir}
  conf=${conf//@USER@/$(id -un)}
  conf=${conf//@GROUP@/$(id -gn)}
  conf=${conf//@PORT@/$4}
  conf=${conf//@STUB_PORT@/${5:-}}
  conf=${conf//@ANTHROPIC@/$anthropic}
  conf=${conf//@OPENAI@/$openai}
  printf '%s\n' "$conf" > "$dir/nginx.conf"
  taskset -c "$3" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" > "$dir/out.log" 2>&1 &
  pids+=("$!")
}
