#!/usr/bin/env bash
# tools/run-doc-examples.sh BIN_DIR [DOC]: runs the examples of DOC
# (default docs/protocol.md) marked `<!-- example: NAME -->` against a
# tollgated and fake providers on loopback, so the documentation cannot
# drift from the daemon. Each marked block is taken verbatim, with
# tcp://127.0.0.1:5555 replaced by the daemon's request endpoint:
#   tool-call-python  run with /usr/bin/python3
#   tool-call-cpp     compiled with g++ -std=c++20 ... -lzmq, then run
# Both must exit 0 and print the second turn's answer: a provider, the stop
# reason end_turn, and a text that carries the tool's result (fake-provider
# repeats the tool results it was sent). A CTest test runs this script.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
doc=${2:-$here/../docs/protocol.md}
session_start doc-examples "${1:?usage: run-doc-examples.sh BIN_DIR [DOC]}"

extract() {  # NAME OUT: the fenced block after the NAME marker
  /usr/bin/python3 - "$doc" "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- example: " + re.escape(sys.argv[2]) + r" -->\n```\w*\n(.*?)\n```", text, re.S)
if not m:
    sys.exit(f"{sys.argv[1]}: no example named {sys.argv[2]}")
open(sys.argv[3], "w").write(m.group(1) + "\n")
PY
}

start_fake_provider "$work/fake.log"
start_tollgated "$work/tollgated.log" "$fake_addr" "$work/ledger" \
  ANTHROPIC_API_KEY=doc-anthropic-key OPENAI_API_KEY=doc-openai-key

check_output() {  # NAME OUTPUT_FILE
  if ! head -1 "$2" | grep -Eq '^[a-z]+ end_turn [0-9]+$' || ! grep -q 'celsius' "$2"; then
    echo "$1: unexpected output:" >&2
    cat "$2" >&2
    exit 1
  fi
  echo "$1: ok ($(head -1 "$2"))"
}

extract tool-call-python "$work/tool_call.py"
sed -i "s|tcp://127.0.0.1:5555|$tollgated_requests|" "$work/tool_call.py"
/usr/bin/python3 "$work/tool_call.py" > "$work/python.out"
check_output tool-call-python "$work/python.out"

extract tool-call-cpp "$work/tool_call.cpp"
sed -i "s|tcp://127.0.0.1:5555|$tollgated_requests|" "$work/tool_call.cpp"
g++ -std=c++20 -o "$work/tool_call" "$work/tool_call.cpp" -lzmq
"$work/tool_call" > "$work/cpp.out"
check_output tool-call-cpp "$work/cpp.out"
