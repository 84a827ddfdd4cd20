// CallRun on fakes (tests/unit/call_test_util.h): a hand-stepped loop and
// its fake transport, a memory ledger and a manual clock. The way through
// the providers: an answer charged as reported, a retry after its backoff,
// fallback to the next provider, the circuit breaker. After each call the
// ledger holds no reservation: every path ends one exactly once.
// (tests/integration/call_run_test.cpp runs CallRun on a real Worker, LMDB
// and the fake provider over HTTP.)
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/call_test_util.h"

using namespace std::chrono_literals;
using namespace tollgate;
using namespace tollgate::workers;
using namespace tollgate::workers::testing;
using Lines = std::vector<std::string>;

TEST_CASE("a call answered by its provider is charged exactly the usage it reported") {
  CallFakes f;
  f.start(1, call_request("hello", 20), 200);
  REQUIRE(f.transport().submitted() == 1);
  CHECK(f.transport().request(0).url == "http://anthropic.test/v1/messages");
  CHECK(f.transport().options(0).total_timeout_ms == 120000);
  CHECK(f.usage("anthropic").reserved == 200);
  CHECK(f.sink.deliveries.empty());

  f.loop.advance(250ms);
  f.answer(0, 200, anthropic_ok(12, 3, "Hi"));
  const auto& reply = f.sink.reply(1);
  CHECK(reply.text == "Hi");
  CHECK(reply.provider == "anthropic");
  CHECK(reply.model == "claude-test");
  CHECK(reply.reason == "primary");
  CHECK(reply.usage.input_tokens == 12);
  CHECK(reply.usage.output_tokens == 3);
  CHECK(reply.usage.total_tokens == 15);
  CHECK(reply.latency_ms == Approx(250));
  CHECK(attempts_of(reply) == Lines{"anthropic ok"});
  CHECK(reply.attempts[0].latency_ms == Approx(250));
  const auto usage = events_of<protocol::UsageEvent>(f.sink.outcome(1).events);
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].total_tokens == 15);
  CHECK(usage[0].reason == "primary");

  const auto budget = f.usage("anthropic");
  CHECK(budget.used == 15);
  CHECK(budget.reserved == 0);
  CHECK(budget.requests == 1);
  CHECK(f.alive.count() == 0);
}

TEST_CASE("an overloaded provider is asked again only once the clock reaches the backoff") {
  CallFakes f;
  f.loop.set_jitter(0.5);  // the first backoff: half of its 200 ms ceiling
  f.start(1, call_request());
  f.answer(0, 529, kOverloadedBody);
  // The failed attempt's reservation went back before the wait.
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.sink.deliveries.empty());

  f.loop.advance(99ms);
  CHECK(f.transport().submitted() == 1);
  f.loop.advance(1ms);
  REQUIRE(f.transport().submitted() == 2);
  CHECK(f.usage("anthropic").reserved == 200);

  f.answer(1, 200, anthropic_ok(12, 3));
  const auto& reply = f.sink.reply(1);
  CHECK(reply.provider == "anthropic");
  CHECK(reply.reason == "primary");
  CHECK(attempts_of(reply) == Lines{"anthropic ok"});
  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a provider that fails every attempt falls back to the next one and the attempts say so") {
  CallFakes f({"TOLLGATE_MAX_ATTEMPTS=2"});
  f.loop.set_jitter(0.5);
  f.start(1, call_request());
  f.answer(0, 500, kServerErrorBody);
  f.loop.advance(100ms);
  REQUIRE(f.transport().submitted() == 2);
  f.answer(1, 500, kServerErrorBody);

  REQUIRE(f.transport().submitted() == 3);
  CHECK(f.transport().request(2).url == "http://openai.test/v1/chat/completions");
  CHECK(f.usage("anthropic").reserved == 0);
  f.answer(2, 200, openai_ok(10, 5));

  const auto& reply = f.sink.reply(1);
  CHECK(reply.provider == "openai");
  CHECK(reply.reason == "fallback_error");
  CHECK(attempts_of(reply) == Lines{"anthropic error provider_error", "openai ok"});
  CHECK(f.usage("anthropic").used == 0);
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("openai").used == 15);
  CHECK(f.usage("openai").reserved == 0);
}

TEST_CASE("a provider at its fallback threshold is passed over for the next one without a request") {
  CallFakes f;
  f.charge("anthropic", 95000);  // 95% of 100,000: the default threshold
  f.start(1, call_request());
  REQUIRE(f.transport().submitted() == 1);
  CHECK(f.transport().request(0).url == "http://openai.test/v1/chat/completions");
  f.answer(0, 200, openai_ok(10, 5));

  const auto& reply = f.sink.reply(1);
  CHECK(reply.provider == "openai");
  CHECK(reply.reason == "fallback_threshold");
  CHECK(attempts_of(reply) == Lines{"anthropic skipped fallback_threshold", "openai ok"});
  CHECK(f.usage("anthropic").used == 95000);
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("openai").used == 15);
}

TEST_CASE("a key the provider rejects moves the call on and the provider is skipped after") {
  CallFakes f;
  f.start(1, call_request());
  f.answer(0, 401, R"({"type":"error","error":{"type":"authentication_error","message":"bad key"}})");
  REQUIRE(f.transport().submitted() == 2);
  f.answer(1, 200, openai_ok(10, 5));
  CHECK(attempts_of(f.sink.reply(1)) == Lines{"anthropic error provider_error", "openai ok"});

  f.start(2, call_request());
  REQUIRE(f.transport().submitted() == 3);
  CHECK(f.transport().request(2).url == "http://openai.test/v1/chat/completions");
  f.answer(2, 200, openai_ok(10, 5));
  CHECK(attempts_of(f.sink.reply(2)) == Lines{"anthropic skipped fallback_error", "openai ok"});
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("openai").used == 30);
}

TEST_CASE("repeated failures open the circuit so later calls skip the provider until it may probe") {
  CallFakes f({"TOLLGATE_CIRCUIT_FAILURES=2", "TOLLGATE_MAX_ATTEMPTS=2",
               "TOLLGATE_CIRCUIT_OPEN_SECONDS=30"});
  f.loop.set_jitter(0.5);
  f.start(1, call_request());
  f.answer(0, 500, kServerErrorBody);
  f.loop.advance(100ms);
  f.answer(1, 500, kServerErrorBody);
  f.answer(2, 200, openai_ok(10, 5));
  CHECK(f.sink.reply(1).provider == "openai");
  const auto opened = events_of<protocol::ProviderEvent>(f.sink.outcome(1).events);
  REQUIRE(opened.size() == 1);
  CHECK(opened[0].provider == "anthropic");
  CHECK(opened[0].circuit == "open");

  // Open: the next call goes straight to OpenAI.
  f.start(2, call_request());
  REQUIRE(f.transport().submitted() == 4);
  CHECK(f.transport().request(3).url == "http://openai.test/v1/chat/completions");
  f.answer(3, 200, openai_ok(10, 5));
  const auto& skipped = f.sink.reply(2);
  CHECK(skipped.reason == "fallback_circuit_open");
  CHECK(attempts_of(skipped) == Lines{"anthropic skipped fallback_circuit_open", "openai ok"});

  // Once the open period passed, one call probes Anthropic and closes it.
  f.loop.advance(30s);
  f.start(3, call_request());
  REQUIRE(f.transport().submitted() == 5);
  CHECK(f.transport().request(4).url == "http://anthropic.test/v1/messages");
  f.answer(4, 200, anthropic_ok(12, 3));
  CHECK(f.sink.reply(3).reason == "primary");
  std::vector<std::string> circuit;
  for (const auto& e : events_of<protocol::ProviderEvent>(f.sink.outcome(3).events)) {
    circuit.push_back(e.circuit);
  }
  CHECK(circuit == Lines{"half_open", "closed"});

  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("openai").used == 30);
  CHECK(f.usage("openai").reserved == 0);
}

TEST_CASE("a request the provider refuses as malformed ends the call without fallback") {
  CallFakes f;
  f.start(1, call_request());
  f.answer(0, 400,
           R"({"type":"error","error":{"type":"invalid_request_error","message":"bad field"}})");
  CHECK(f.transport().submitted() == 1);
  const auto [code, message] = f.sink.error(1);
  CHECK(code == "provider_error");
  CHECK_THAT(message, Catch::Contains("not retried, no fallback"));
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("openai").reserved == 0);
}

// Starts call 1 as CallFakes::start does, but leaves what it posts (the
// ledger's answer) queued: the test moves the clock before it runs.
namespace {
std::shared_ptr<CallRun> start_unstepped(CallFakes& f) {
  CallSpec spec;
  spec.token = 1;
  spec.id = protocol::RequestId::from_int(1);
  spec.request = call_request();
  spec.config = f.config;
  spec.received_ms = f.clock.wall_ms();
  spec.received = f.clock.steady_now();
  spec.reservation = 200;
  auto run = std::make_shared<CallRun>(std::move(spec), f.env, f.loop);
  run->start();
  return run;
}
}  // namespace

TEST_CASE("a call reports once the time it waited for its reservation and its charge") {
  CallFakes f;
  std::vector<CallTimes> times;
  f.env.on_times = [&times](const CallTimes& t) { times.push_back(t); };
  // The memory ledger answers at once, posting the step back to the loop:
  // the clock moves while each answer waits to run, as a sync would take.
  auto run = start_unstepped(f);
  f.clock.advance(7ms);  // the reservation's wait
  f.loop.run_ready();
  REQUIRE(f.transport().submitted() == 1);
  f.clock.advance(100ms);  // at the provider: not a ledger wait
  f.transport().reply(0, 200, anthropic_ok(12, 3));
  CHECK(times.empty());
  f.clock.advance(5ms);  // the charge's wait
  f.loop.run_ready();
  CHECK(f.sink.reply(1).latency_ms == Approx(112));
  REQUIRE(times.size() == 1);
  CHECK(times[0].total == Approx(0.112));
  CHECK(times[0].ledger_wait == Approx(0.012));
  CHECK(times[0].provider_wait == Approx(0.100));
  CHECK(times[0].other() == Approx(0.0).margin(1e-9));  // the fake clock stood still otherwise
}

TEST_CASE("a call answered timeout while the ledger has not answered reports the wait so far") {
  CallFakes f({"TOLLGATE_CALL_TIMEOUT_MS=2000"});
  std::vector<double> waits;
  f.env.on_times = [&waits](const CallTimes& t) { waits.push_back(t.ledger_wait); };
  auto run = start_unstepped(f);
  // The reservation's answer is queued and never runs before the deadline.
  f.clock.advance(3000ms);
  f.loop.advance(0ms);
  REQUIRE(f.sink.deliveries.size() == 1);
  REQUIRE(waits.size() == 1);
  CHECK(waits[0] >= 2.0);
  f.loop.run_ready();  // the late answer settles; nothing more is reported
  CHECK(waits.size() == 1);
}
