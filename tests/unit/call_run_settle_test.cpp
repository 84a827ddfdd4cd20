// CallRun on fakes (tests/unit/call_test_util.h): how a call's reservation
// ends when things go wrong. A request that may have been served is
// charged in full, one that never left is released; the deadline holds
// against a silent provider and a slow ledger, and a ledger answer that
// comes after it still settles; a degraded ledger refuses or defers; a
// reservation waits for room held by another call. After each call the
// ledger holds no reservation: every path ends one exactly once.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "tests/unit/call_test_util.h"

using namespace std::chrono_literals;
using namespace tollgate;
using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

// One provider, one attempt: what a failure costs is all there is to see.
const std::vector<std::string> kOneShot = {"ENABLE_OPENAI_FALLBACK=false",
                                           "TOLLGATE_MAX_ATTEMPTS=1"};
// Room for one reservation of 200 at a time.
const std::vector<std::string> kRoomForOne = {"ENABLE_OPENAI_FALLBACK=false",
                                              "ANTHROPIC_MONTHLY_LIMIT=300"};

protocol::CallRequest with_timeout(int64_t timeout_ms) {
  auto r = call_request();
  r.timeout_ms = timeout_ms;
  return r;
}

}  // namespace

TEST_CASE("a request that timed out after it was sent is charged its whole reservation") {
  CallFakes f(kOneShot);
  f.start(1, call_request("hello", 20), 200);
  f.transport().fail(0, "Operation timed out", /*request_sent=*/true, /*timed_out=*/true);
  f.loop.run_ready();

  CHECK(f.sink.error(1).first == "provider_error");
  const auto usage = events_of<protocol::UsageEvent>(f.sink.outcome(1).events);
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].reason == "unconfirmed");
  CHECK(usage[0].input_tokens == 180);
  CHECK(usage[0].output_tokens == 20);
  CHECK(f.usage("anthropic").used == 200);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a connection broken after the request left is charged its whole reservation") {
  CallFakes f(kOneShot);
  f.start(1, call_request(), 200);
  f.transport().fail(0, "Connection reset by peer", /*request_sent=*/true);
  f.loop.run_ready();
  CHECK(f.sink.error(1).first == "provider_error");
  CHECK(f.usage("anthropic").used == 200);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a request that never left is released and charged nothing") {
  CallFakes f(kOneShot);
  f.start(1, call_request(), 200);
  f.transport().fail(0, "Connection refused", /*request_sent=*/false);
  f.loop.run_ready();
  CHECK(f.sink.error(1).first == "provider_error");
  CHECK(events_of<protocol::UsageEvent>(f.sink.outcome(1).events).empty());
  CHECK(f.usage("anthropic").used == 0);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a provider that never answers leaves the call timeout at its deadline charged in full") {
  CallFakes f({"ENABLE_OPENAI_FALLBACK=false"});
  f.start(1, with_timeout(5000), 200);
  REQUIRE(f.transport().submitted() == 1);
  // The transport is told the deadline; ending the request there is its job.
  CHECK(f.transport().options(0).total_timeout_ms == 5000);
  f.loop.advance(5000ms);
  CHECK(f.sink.deliveries.empty());
  f.transport().fail(0, "Operation timed out after 5000 milliseconds", true, true);
  f.loop.run_ready();

  const auto [code, message] = f.sink.error(1);
  CHECK(code == "timeout");
  CHECK(message == "call: deadline passed after 5000 ms");
  CHECK(f.transport().submitted() == 1);  // no retry past the deadline
  CHECK(f.usage("anthropic").used == 200);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a call still queued for budget room at its deadline gets timeout and reserves nothing") {
  CallFakes f(kRoomForOne);
  f.start(1, call_request(), 200);
  f.start(2, with_timeout(1000), 200);
  CHECK(f.ledger->waiting()["anthropic"] == 1);
  f.loop.advance(1000ms);
  const auto [code, message] = f.sink.error(2);
  CHECK(code == "timeout");
  CHECK_THAT(message, Catch::Contains("waiting for the ledger (reserve)"));

  // The first call ends; the second's wait is over and comes to nothing.
  f.answer(0, 200, anthropic_ok(12, 3));
  CHECK(f.sink.reply(1).usage.total_tokens == 15);
  CHECK(f.sink.count(2) == 1);
  CHECK(f.transport().submitted() == 1);
  CHECK(f.ledger->waiting().empty());
  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a reservation granted after its call's deadline is released unsent") {
  CallFakes f(kRoomForOne);
  f.start(1, call_request(), 200);
  f.start(2, with_timeout(1000), 200);
  f.loop.advance(999ms);
  // The first call's charge frees room and the ledger grants the second its
  // reservation; that answer reaches the second call's loop only after its
  // deadline timer ran.
  f.transport().reply(0, 200, anthropic_ok(12, 3));
  f.loop.advance(1ms);

  CHECK(f.sink.reply(1).usage.total_tokens == 15);
  CHECK(f.sink.error(2).first == "timeout");
  CHECK(f.transport().submitted() == 1);
  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a charge the ledger answers after the deadline stands and its usage is published alone") {
  CallFakes f({"ENABLE_OPENAI_FALLBACK=false"});
  f.start(1, with_timeout(1000), 200);
  // The commit is submitted now; its answer reaches the call only after the
  // deadline timer ran.
  f.transport().reply(0, 200, anthropic_ok(12, 3));
  f.loop.advance(1000ms);

  const auto [code, message] = f.sink.error(1);
  CHECK(code == "timeout");
  CHECK_THAT(message, Catch::Contains("waiting for the ledger (commit)"));
  const auto late = events_of<protocol::UsageEvent>(f.sink.published);
  REQUIRE(late.size() == 1);
  CHECK(late[0].total_tokens == 15);
  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a degraded ledger refuses the call before any request is sent") {
  CallFakes f;
  f.ledger->fail_writes("disk full");
  f.start(1, call_request());
  const auto [code, message] = f.sink.error(1);
  CHECK(code == "ledger_unavailable");  // PROTOCOL.md section 12: with retry_after_ms
  CHECK_THAT(message, Catch::Contains("ledger"));
  CHECK(f.transport().submitted() == 0);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a charge the degraded ledger defers is answered internal and applied once it recovers") {
  CallFakes f;
  f.start(1, call_request(), 200);
  f.ledger->fail_writes("disk full");
  f.answer(0, 200, anthropic_ok(12, 3));

  const auto [code, message] = f.sink.error(1);
  CHECK(code == "internal");
  CHECK_THAT(message, Catch::Contains("charged once the ledger recovers"));
  CHECK(events_of<protocol::UsageEvent>(f.sink.outcome(1).events).size() == 1);
  CHECK(f.usage("anthropic").reserved == 200);  // kept until the charge is applied

  f.ledger->fail_writes("");
  REQUIRE(f.ledger->probe().ok());
  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a reservation waits for room held by another call and goes ahead once it is settled") {
  CallFakes f(kRoomForOne);
  f.start(1, call_request(), 200);
  f.start(2, call_request(), 200);
  CHECK(f.transport().submitted() == 1);
  CHECK(f.ledger->waiting()["anthropic"] == 1);

  f.answer(0, 200, anthropic_ok(12, 3));
  REQUIRE(f.transport().submitted() == 2);
  CHECK(f.ledger->waiting().empty());
  f.answer(1, 200, anthropic_ok(20, 5));

  CHECK(f.sink.reply(1).usage.total_tokens == 15);
  CHECK(f.sink.reply(2).usage.total_tokens == 25);
  CHECK(f.usage("anthropic").used == 40);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a stopping daemon answers a call shutting down instead of retrying") {
  CallFakes f;
  f.start(1, call_request());
  f.stopping = true;
  f.answer(0, 529, kOverloadedBody);
  const auto [code, message] = f.sink.error(1);
  CHECK(code == "internal");
  CHECK(message == "tollgated is shutting down");
  CHECK(f.transport().submitted() == 1);
  CHECK(f.usage("anthropic").reserved == 0);
}
