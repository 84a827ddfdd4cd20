#!/usr/bin/env bash
# The C++ client as a user gets it: `cmake --install` of the component
# tollgate_client_dev alone into a temporary prefix, then a consumer
# project that only says find_package(tollgate_client REQUIRED) and links
# tollgate::client, built against that prefix and run: a ping to an
# endpoint nobody serves must end in the client's own timeout error.
#
# Usage: package_consumer.sh <build dir> [C++ compiler]
set -euo pipefail
build=$1
cxx=${2:-c++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --component tollgate_client_dev --prefix "$tmp/prefix" >"$tmp/install.log"
test -f "$tmp/prefix/include/tollgate/client.hpp"
config=$(find "$tmp/prefix" -name tollgate_clientConfig.cmake)
test -n "$config"
# Only the client: no daemon binary or library came along.
if find "$tmp/prefix" -type f | grep -v -e '/include/tollgate/' -e '/cmake/tollgate_client/'; then
  echo "unexpected files installed by the tollgate_client_dev component" >&2
  exit 1
fi

mkdir "$tmp/consumer"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(consumer CXX)
find_package(tollgate_client 0.1 REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE tollgate::client)
CMAKE
cat >"$tmp/consumer/main.cpp" <<'CPP'
#include <iostream>
#include <tollgate/client.hpp>
int main() {
  tollgate::Options options;
  options.timeout = std::chrono::milliseconds(200);
  tollgate::Client client("tcp://127.0.0.1:1", options);
  auto r = client.ping();
  if (r.ok()) return 1;
  std::cout << "client " << tollgate::kClientVersion << " ping: " << r.error().code << "\n";
  return r.error().code == tollgate::kClientTimeout ? 0 : 1;
}
CPP
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" ||
  { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
out=$("$tmp/consumer/build/consumer")
echo "$out"
[[ $out == "client 0.1.0 ping: client_timeout" ]]
