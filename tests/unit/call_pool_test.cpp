// CallPool on fakes (tests/unit/call_test_util.h): two hand-stepped loops
// with fake transports, a memory ledger, a manual clock and a recording
// sink standing in for the server. What the pool decides on the loop
// thread: the hand-off, idempotent repeats, the refusals it makes at once,
// and the drain at shutdown.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/budget.h"
#include "daemon/core/input_bound.h"
#include "tests/unit/call_test_util.h"
#include "workers/calls/call_pool.h"

using namespace std::chrono_literals;
using namespace tollgate;
using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

// The pool over the fakes' two loops. Declared after the fakes, so it goes
// first: its destructor waits for every call, and the loops they run on
// and the ledger they settle with must still be there.
class PoolBench : public CallFakes {
 public:
  explicit PoolBench(const std::vector<std::string>& settings = {})
      : CallFakes(settings), pool(*ledger, runtime, sink, clock, {&loop, &other_loop}) {}
  // A test that failed halfway may leave calls running: end them, so the
  // pool's destructor does not wait forever.
  ~PoolBench() {
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

  CallPool pool;
};

protocol::CallRequest keyed(const std::string& key, const std::string& prompt = "hello") {
  auto r = call_request(prompt);
  r.idempotency_key = key;
  return r;
}

// What the pool reserves for call_request(prompt, max_tokens).
uint64_t reservation_of(const std::string& prompt, uint64_t max_tokens) {
  return ledger::token_upper_bound("", {prompt}, max_tokens);
}

std::string code_of(const std::optional<CallResult>& answer) {
  REQUIRE(answer);
  REQUIRE_FALSE(answer->ok());
  return std::string(protocol::code_name(answer->error().code));
}

}  // namespace

TEST_CASE("the pool hands calls to its loops in turn") {
  PoolBench b;
  for (uint64_t token = 1; token <= 3; ++token) CHECK_FALSE(b.start(token, call_request()));
  CHECK(b.pool.inflight() == 3);
  b.run_loops();
  REQUIRE(b.loop.fake().submitted() == 2);
  REQUIRE(b.other_loop.fake().submitted() == 1);
  CHECK(b.usage("anthropic").reserved == 3 * reservation_of("hello", 20));

  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.loop.fake().reply(1, 200, anthropic_ok(12, 3));
  b.other_loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  for (uint64_t token = 1; token <= 3; ++token) CHECK(b.sink.reply(token).usage.total_tokens == 15);
  CHECK(b.pool.inflight() == 0);
  CHECK(b.usage("anthropic").used == 45);
  CHECK(b.usage("anthropic").reserved == 0);
}

TEST_CASE("a repeat of a running idempotent call waits for it and gets a replayed copy") {
  PoolBench b;
  CHECK_FALSE(b.start(1, keyed("k1")));
  b.run_loops();
  CHECK_FALSE(b.start(2, keyed("k1")));
  b.run_loops();
  REQUIRE(b.loop.fake().submitted() == 1);
  CHECK(b.other_loop.fake().submitted() == 0);

  b.loop.fake().reply(0, 200, anthropic_ok(12, 3, "Once"));
  b.run_loops();
  const auto& first = b.sink.reply(1);
  const auto& repeat = b.sink.reply(2);
  CHECK_FALSE(first.replayed);
  CHECK(repeat.replayed);
  CHECK(repeat.text == "Once");
  CHECK(repeat.usage == first.usage);
  CHECK(b.sink.outcome(2).events.empty());  // the events went out with the first
  CHECK(b.pool.inflight() == 0);
  CHECK(b.usage("anthropic").used == 15);
  CHECK(b.usage("anthropic").reserved == 0);
}

TEST_CASE("a repeat after its call succeeded is answered from the ledger record at once") {
  PoolBench b;
  CHECK_FALSE(b.start(1, keyed("k1")));
  b.run_loops();
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3, "Stored"));
  b.run_loops();
  REQUIRE(b.sink.reply(1).text == "Stored");

  auto answer = b.start(2, keyed("k1"));
  REQUIRE(answer);
  REQUIRE(answer->ok());
  CHECK(answer->value().replayed);
  CHECK(answer->value().text == "Stored");
  // A repeat costs nothing: it is answered even during emergency shutdown.
  b.pool.set_shutdown("every provider's global budget is exhausted");
  auto during_shutdown = b.start(3, keyed("k1"));
  REQUIRE(during_shutdown);
  CHECK(during_shutdown->ok());
  b.run_loops();
  CHECK(b.loop.fake().submitted() + b.other_loop.fake().submitted() == 1);
  CHECK(b.usage("anthropic").used == 15);
}

TEST_CASE("a repeat with another request under the same key is refused as bad_request") {
  PoolBench b;
  CHECK_FALSE(b.start(1, keyed("k1", "hello")));
  CHECK(code_of(b.start(2, keyed("k1", "something else"))) == "bad_request");
  b.run_loops();
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK(code_of(b.start(3, keyed("k1", "something else"))) == "bad_request");
  CHECK(b.sink.count(2) == 0);
}

TEST_CASE("a failed idempotent call is forgotten so a repeat runs it again") {
  PoolBench b({"ENABLE_OPENAI_FALLBACK=false", "TOLLGATE_MAX_ATTEMPTS=1"});
  CHECK_FALSE(b.start(1, keyed("k1")));
  b.run_loops();
  b.loop.fake().fail(0, "Connection refused", /*request_sent=*/false);
  b.run_loops();
  CHECK(b.sink.error(1).first == "provider_error");

  CHECK_FALSE(b.start(2, keyed("k1")));
  b.run_loops();
  REQUIRE(b.other_loop.fake().submitted() == 1);
  b.other_loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK_FALSE(b.sink.reply(2).replayed);
  CHECK(b.usage("anthropic").used == 15);
  CHECK(b.usage("anthropic").reserved == 0);
}

TEST_CASE("calls are refused at once during an emergency shutdown") {
  PoolBench b;
  b.pool.set_shutdown("every provider's global budget is exhausted");
  const auto answer = b.start(1, call_request());
  CHECK(code_of(answer) == "emergency_shutdown");
  CHECK_THAT(answer->error().message, Catch::Contains("global budget is exhausted"));
  b.pool.set_shutdown(std::nullopt);
  CHECK_FALSE(b.start(2, call_request()));
  b.run_loops();
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK(b.sink.reply(2).provider == "anthropic");
  CHECK(b.sink.count(1) == 0);  // answered by start() itself
}

TEST_CASE("calls are refused at once while the ledger is degraded") {
  PoolBench b;
  b.ledger->fail_writes("disk full");
  const auto answer = b.start(1, call_request());
  CHECK(code_of(answer) == "ledger_unavailable");
  CHECK(answer->error().retry_after_ms.has_value());
  CHECK_THAT(answer->error().message, Catch::Contains("ledger is degraded"));
  CHECK(b.pool.inflight() == 0);
}

TEST_CASE("a call over the in flight limit is refused overloaded with a retry hint") {
  PoolBench b({"TOLLGATE_MAX_INFLIGHT=1"});
  CHECK_FALSE(b.start(1, call_request()));
  const auto answer = b.start(2, call_request());
  CHECK(code_of(answer) == "overloaded");
  CHECK(answer->error().retry_after_ms == 100);
  b.run_loops();
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK(b.pool.inflight() == 0);
  CHECK_FALSE(b.start(3, call_request()));
  b.run_loops();
  b.other_loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK(b.sink.count(3) == 1);
}

TEST_CASE("a call over the per request token cap is refused too_large before any reservation") {
  PoolBench b;
  const auto answer = b.start(1, call_request("hello", 17000));
  CHECK(code_of(answer) == "too_large");
  CHECK_THAT(answer->error().message, Catch::Contains("per-request cap of 17000"));
  b.run_loops();
  CHECK(b.loop.fake().submitted() == 0);
  CHECK(b.usage("anthropic").reserved == 0);
}

// A call with an image (by URL: its size unknown, so the largest any
// provider formula gives) and a tool.
protocol::CallRequest call_with_image_and_tool(size_t images = 1) {
  auto r = call_request("look");
  protocol::ChatMessage m;
  m.role = "user";
  for (size_t i = 0; i < images; ++i) {
    protocol::ContentBlock image;
    image.type = protocol::ContentBlock::Type::kImage;
    image.image.kind = protocol::ImageSource::Kind::kUrl;
    image.image.url = "https://example.com/" + std::to_string(i) + ".png";
    m.blocks.push_back(image);
  }
  r.messages = {m};
  r.prompt.reset();
  protocol::ToolSpec tool;
  tool.name = "search";
  tool.input_schema = protocol::JsonValue::parse(R"({"type":"object"})");
  r.tools = {tool};
  return r;
}

TEST_CASE("a call with images and tools reserves the bound of its whole input") {
  PoolBench b;
  const auto request = call_with_image_and_tool();
  CHECK_FALSE(b.start(1, request));
  b.run_loops();
  // The default chain (claude-sonnet-4-5, gpt-4.1) has no model billing
  // images at gpt-4o-mini's rates.
  const uint64_t reservation =
      ledger::input_size(request, /*gpt4o_mini_images=*/false).bound + 20;
  CHECK(reservation > reservation_of("", 20) + ledger::kToolUseSystemOverhead + 1000);
  CHECK(reservation < ledger::token_upper_bound(request, 20));
  CHECK(b.usage("anthropic").reserved == reservation);
}

TEST_CASE("a call that may reach gpt-4o-mini reserves its image rates") {
  PoolBench b;
  auto request = call_with_image_and_tool();
  request.model = "gpt-4o-mini";
  CHECK_FALSE(b.start(1, request));
  b.run_loops();
  const uint64_t reservation = ledger::token_upper_bound(request, 20);
  CHECK(reservation > reservation_of("", 20) + ledger::kToolUseSystemOverhead + 40000);
  CHECK(b.usage("anthropic").reserved == reservation);
}

TEST_CASE("images count towards the per request cap by their tokens") {
  PoolBench b;
  // About 1600 tokens an image: eleven are over the cap of 17000.
  CHECK_FALSE(b.start(1, call_with_image_and_tool(10)));
  const auto answer = b.start(2, call_with_image_and_tool(11));
  CHECK(code_of(answer) == "too_large");
  CHECK_THAT(answer->error().message, Catch::Contains("per-request cap of 17000"));
}

TEST_CASE("stop_waiting answers the calls queued for budget room shutting down") {
  const uint64_t reservation = reservation_of("hello", 20);
  PoolBench b({"ENABLE_OPENAI_FALLBACK=false",
               "ANTHROPIC_MONTHLY_LIMIT=" + std::to_string(reservation * 3 / 2)});
  CHECK_FALSE(b.start(1, call_request()));
  CHECK_FALSE(b.start(2, call_request()));
  b.run_loops();
  REQUIRE(b.loop.fake().submitted() == 1);
  CHECK(b.ledger->waiting()["anthropic"] == 1);

  b.pool.stop_waiting();
  b.run_loops();
  const auto [code, message] = b.sink.error(2);
  CHECK(code == "internal");
  CHECK(message == "tollgated is shutting down");
  CHECK(b.other_loop.fake().submitted() == 0);

  // A call already at its provider finishes as usual.
  b.loop.fake().reply(0, 200, anthropic_ok(12, 3));
  b.run_loops();
  CHECK(b.sink.reply(1).usage.total_tokens == 15);
  CHECK(b.pool.inflight() == 0);
  CHECK(b.usage("anthropic").used == 15);
  CHECK(b.usage("anthropic").reserved == 0);
}
