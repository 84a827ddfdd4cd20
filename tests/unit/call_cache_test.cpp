// The response cache on the call path (workers/calls/call_cache.h) through
// CallPool on fakes (tests/unit/call_test_util.h) and a real ResponseStore
// in a temporary directory: hits need no provider and no reservation, the
// TTL is judged on the manual clock, identical calls wait for the one
// running, and a failed one's waiters run again instead of getting its
// error.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon/cache/response_store.h"
#include "tests/unit/call_test_util.h"
#include "workers/calls/call_pool.h"

using namespace std::chrono_literals;
using namespace tollgate;
using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tollgate-call-cache-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// The pool over the fakes' loops with a response cache. The store is
// declared before the pool, which uses it until it is gone.
class CacheBench : public CallFakes {
 public:
  explicit CacheBench(std::vector<std::string> settings = {})
      : CallFakes(with_cache(std::move(settings))),
        store(open_store(dir.path)),
        pool(*ledger, runtime, sink, clock, {&loop, &other_loop}) {
    pool.set_cache(store.get(), [this](bool hit) { ++(hit ? hits : misses); });
  }
  // A test that failed halfway may leave calls running: end them, so the
  // pool's destructor does not wait forever.
  ~CacheBench() {
    if (pool.inflight() == 0) return;
    pool.stop_waiting();
    for (int round = 0; round < 20 && pool.inflight() > 0; ++round) {
      for (ManualCallLoop* l : {&loop, &other_loop}) {
        while (l->fake().unanswered() > 0) l->fake().fail(l->fake().next(), "test over", false);
        l->run_ready();
      }
      loop.advance(1h);
      other_loop.advance(0ms);
    }
  }

  std::optional<CallResult> start(uint64_t token, protocol::CallRequest request) {
    return pool.start(token, protocol::RequestId::from_int(static_cast<int64_t>(token)),
                      std::move(request), config);
  }
  void run_loops() {
    loop.run_ready();
    other_loop.run_ready();
  }
  size_t submitted() { return loop.fake().submitted() + other_loop.fake().submitted(); }

  TempDir dir;
  std::unique_ptr<cache::ResponseStore> store;
  int hits = 0;
  int misses = 0;
  CallPool pool;

 private:
  static std::vector<std::string> with_cache(std::vector<std::string> settings) {
    settings.insert(settings.begin(), "TOLLGATE_CACHE_TTL_SECONDS=60");
    return settings;
  }
  static std::unique_ptr<cache::ResponseStore> open_store(const std::string& dir) {
    auto s = cache::ResponseStore::open(cache::StoreOptions{dir, 1 << 20, {}});
    REQUIRE(s);
    return std::move(s).value();
  }
};

protocol::CallRequest cached(const std::string& prompt = "hello") {
  auto r = call_request(prompt);
  r.cache = true;
  return r;
}

}  // namespace

TEST_CASE("a cache hit needs no provider and no reservation even during an emergency shutdown") {
  CacheBench b;
  CHECK_FALSE(b.start(1, cached()));
  b.run_loops();
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3, "Once"));
  b.run_loops();
  CHECK_FALSE(b.sink.reply(1).cached);
  CHECK(b.usage("anthropic").used == 15);

  b.pool.set_shutdown("every provider's global budget is exhausted");
  CHECK_FALSE(b.start(2, cached()));  // answered through the sink, with its event
  const auto& hit = b.sink.reply(2);
  CHECK(hit.cached);
  CHECK(hit.text == "Once");
  CHECK(hit.usage == b.sink.reply(1).usage);
  const auto usage = events_of<protocol::UsageEvent>(b.sink.outcome(2).events);
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].cached);
  CHECK(usage[0].total_tokens == 0);
  CHECK(usage[0].cost_usd == 0);
  CHECK(usage[0].provider == "anthropic");
  CHECK(usage[0].request_id == protocol::RequestId::from_int(2));
  b.run_loops();
  CHECK(b.submitted() == 1);
  CHECK(b.usage("anthropic").used == 15);
  CHECK(b.usage("anthropic").requests == 1);
  CHECK(b.hits == 1);
  CHECK(b.misses == 1);
  // Without cache: true the call is refused like any other.
  CHECK(b.start(3, call_request()));
}

TEST_CASE("a cached answer is served until the TTL has passed on the clock") {
  CacheBench b;
  CHECK_FALSE(b.start(1, cached()));
  b.run_loops();
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  b.clock.advance(59s);
  CHECK_FALSE(b.start(2, cached()));
  CHECK(b.sink.reply(2).cached);
  b.clock.advance(1s);
  CHECK_FALSE(b.start(3, cached()));
  b.run_loops();
  CHECK(b.submitted() == 2);
  CHECK(b.sink.count(3) == 0);  // running at the provider
  b.other_loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK_FALSE(b.sink.reply(3).cached);
}

TEST_CASE("identical calls wait for the running one and get its reply as cached") {
  CacheBench b;
  for (uint64_t token = 1; token <= 3; ++token) CHECK_FALSE(b.start(token, cached()));
  // Another prompt is another key: it runs.
  CHECK_FALSE(b.start(4, cached("something else")));
  b.run_loops();
  REQUIRE(b.submitted() == 2);
  CHECK(b.pool.inflight() == 2);
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3, "Shared"));
  b.run_loops();
  CHECK_FALSE(b.sink.reply(1).cached);
  for (uint64_t token : {2, 3}) {
    CHECK(b.sink.reply(token).cached);
    CHECK(b.sink.reply(token).text == "Shared");
  }
  b.other_loop.fake().reply(0, 200, anthropic_ok(20, 5, "Other"));
  b.run_loops();
  CHECK(b.sink.reply(4).text == "Other");
  CHECK(b.usage("anthropic").used == 40);
  CHECK(b.hits == 2);
  CHECK(b.misses == 2);
}

TEST_CASE("a cancelled waiter is answered with the cancel and the others still get the reply") {
  CacheBench b;
  for (uint64_t token = 1; token <= 3; ++token) CHECK_FALSE(b.start(token, cached()));
  b.run_loops();
  b.pool.cancel(2, protocol::Error::cancelled("cancelled by the client"));
  CHECK(b.sink.error(2).first == "cancelled");
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK(b.sink.reply(3).cached);
  CHECK(b.sink.count(2) == 1);
}

TEST_CASE("after a failed call its waiters run again one at a time and never get its error") {
  CacheBench b({"ENABLE_OPENAI_FALLBACK=false", "TOLLGATE_MAX_ATTEMPTS=1"});
  for (uint64_t token = 1; token <= 3; ++token) CHECK_FALSE(b.start(token, cached()));
  b.run_loops();
  REQUIRE(b.submitted() == 1);
  b.loop.fake().fail(0, "Connection refused", /*request_sent=*/false);
  b.run_loops();
  CHECK(b.sink.error(1).first == "provider_error");
  CHECK(b.sink.count(2) == 0);
  CHECK(b.sink.count(3) == 0);
  // Call 2 leads now; 3 waits for it.
  REQUIRE(b.submitted() == 2);
  b.other_loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK_FALSE(b.sink.reply(2).cached);
  CHECK(b.sink.reply(3).cached);
  CHECK(b.submitted() == 2);
  CHECK(b.misses == 2);
  CHECK(b.hits == 1);
}
