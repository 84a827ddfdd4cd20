#!/usr/bin/env bash
# Installs every Debian package that tollgate's build, tests and demo need.
# Idempotent: runs apt-get update and install only when something is missing,
# so a second run takes about a second. Must run as root (or with sudo).
#
#   tools/install-deps.sh          build + test + demo packages
#   tools/install-deps.sh --fuzz   also clang's libFuzzer runtime
#   tools/install-deps.sh --bench  also nginx (the provider stub of `make
#                                  bench`'s pinned scenario) and wrk
set -euo pipefail

packages=(
  build-essential cmake pkg-config make
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libcurl4-openssl-dev
  liblmdb-dev lmdb-utils libjemalloc-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev
  libtomlplusplus-dev libcli11-dev libcpp-httplib-dev libsystemd-dev libsodium-dev
  libssl-dev ca-certificates python3 python3-zmq python3-msgpack python3-aiosmtpd
  python3-pytest python3-pytest-asyncio python3-setuptools python3-pip python3-venv mypy
  systemd dpkg-dev file
  prometheus chromium
  libfuse3-dev fuse3
  nodejs
  libpq-dev postgresql-15  # the PostgreSQL ledger; tests start their own server (tools/pg-test-server.sh)
)
for option in "$@"; do
  case $option in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --bench) packages+=(nginx-light wrk) ;;
    *) echo "usage: $0 [--fuzz] [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# tests/sdk runs the official OpenAI and Anthropic SDKs (npm ci). Debian's
# nodejs comes without npm; NodeSource's includes it (and conflicts with
# Debian's npm), so npm is asked for only when the command is missing.
if ! command -v npm >/dev/null; then missing+=(npm); fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
