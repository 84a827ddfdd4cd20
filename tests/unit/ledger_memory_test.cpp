// What only the in-memory ledger has (memory_ledger.h): answers on the
// submitting thread, waits that end by a manual clock, writes made to fail
// on demand, tables one ledger at a time. What it shares with every
// backend is the conformance suite's (the other ledger_*_test.cpp files).
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "daemon/core/clock.h"
#include "daemon/ledger/memory/memory_ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate;
using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;
using namespace std::chrono_literals;

namespace {

BudgetPolicy test_policy() { return fixed_policy({"anthropic"}, 5000, std::nullopt); }

std::unique_ptr<MemoryLedger> open_memory(MemoryLedgerOptions options = {}) {
  auto l = MemoryLedger::open(std::move(options), test_policy(), kNov15);
  REQUIRE(l.ok());
  return std::move(l.value());
}

}  // namespace

TEST_CASE("the memory ledger answers a write before the call that submitted it returns") {
  auto l = open_memory();
  std::optional<Result<ReserveOutcome>> answer;
  l->reserve_async(reserve_request("a1", "anthropic", 100, "r", kNov15),
                   [&](Result<ReserveOutcome> r) { answer = std::move(r); });
  REQUIRE(answer.has_value());
  REQUIRE(answer->ok());
  CHECK((*answer)->reserved());
}

TEST_CASE("with a manual clock a wait ends when the clock passes its deadline and expire_waits runs") {
  ManualClock clock;
  MemoryLedgerOptions o;
  o.clock = &clock;
  auto l = open_memory(o);
  REQUIRE(l->reserve("a1", "anthropic", 5000, "all", kNov15)->reserved());
  ReserveRequest waits = reserve_request("a1", "anthropic", 100, "w", kNov15);
  waits.wait_until = clock.steady_now() + 1s;
  std::optional<Result<ReserveOutcome>> answer;
  l->reserve_async(waits, [&](Result<ReserveOutcome> r) { answer = std::move(r); });
  CHECK_FALSE(answer.has_value());
  CHECK(l->waiting().at("anthropic") == 1);
  clock.advance(2s);
  CHECK_FALSE(answer.has_value());  // no timer thread with a manual clock
  l->expire_waits();
  REQUIRE(answer.has_value());
  REQUIRE(answer->ok());
  CHECK_FALSE((*answer)->reserved());
  CHECK((*answer)->refused_by == RefusedBy::kInFlight);
  CHECK((*answer)->waited);
  CHECK(l->waiting().empty());
}

TEST_CASE("fail_writes degrades the memory ledger at once until a probe succeeds after writes work again") {
  auto l = open_memory();
  const uint64_t id = l->reserve("a1", "anthropic", 700, "r", kNov15)->reservation_id;
  l->fail_writes("disk full");
  CHECK(l->degraded());
  CHECK_THAT(l->health().reason, Catch::Contains("disk full"));
  auto refused = l->reserve("a1", "anthropic", 10, "x", kNov15);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("degraded"));
  auto kept = l->commit(id, 100, 50, 0, kNov15);
  REQUIRE(kept.ok());
  CHECK(kept->deferred);
  CHECK_FALSE(l->probe().ok());
  l->fail_writes("");
  CHECK(l->degraded());  // until a probe write succeeds
  REQUIRE(l->probe().ok());
  CHECK_FALSE(l->degraded());
  CHECK(l->usage("a1", "2024-11")->at("anthropic").used == 150);
}

TEST_CASE("memory tables are open in one memory ledger at a time") {
  auto tables = std::make_shared<MemoryTables>();
  MemoryLedgerOptions o;
  o.tables = tables;
  auto first = open_memory(o);
  CHECK_FALSE(MemoryLedger::open(o, test_policy(), kNov15).ok());
  first.reset();
  CHECK(MemoryLedger::open(o, test_policy(), kNov15).ok());
}
