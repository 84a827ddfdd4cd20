// The HTTP listener answers requests on a kept-open connection as fast as
// on a new one. Without TCP_NODELAY on the accepted sockets, a response
// written in two pieces (headers, then body) waits for the client's
// delayed ACK of the first: about 40 ms a request on Linux, every
// dashboard poll and Prometheus scrape.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <httplib.h>

#include "tests/integration/call_harness.h"

using namespace tollgate::testing;

namespace {

// Milliseconds each of `count` GETs of `path` took on one kept-open connection.
std::vector<double> keep_alive_times(const std::string& address, const std::string& path,
                                     int count) {
  httplib::Client client("http://" + address);
  client.set_keep_alive(true);
  client.set_read_timeout(30, 0);
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto res = client.Get(path.c_str());
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(res);
    REQUIRE(res->status == 200);
    ms.push_back(std::chrono::duration<double, std::milli>(took).count());
  }
  return ms;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

// The median, not the maximum: one request may lose the CPU on a shared
// machine, a stall hits every one of them.
TEST_CASE("requests on a kept-open HTTP connection take under 10 ms each") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_HTTP", "127.0.0.1:0"}}));
  for (const std::string path : {"/healthz", "/api/token-usage/summary", "/metrics"}) {
    const auto ms = keep_alive_times(d.http(), path, 21);
    INFO(path << ": median " << median(ms) << " ms");
    CHECK(median(ms) < 10.0);
  }
}
