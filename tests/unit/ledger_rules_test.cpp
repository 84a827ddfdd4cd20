// The accounting rules (daemon/ledger/accounting.h) on their own: pure
// functions that read rows and hand back the rows to write, with no
// ledger, thread or storage around them. What they add up to is the
// conformance suite's subject (the other ledger_*_test.cpp files).
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "daemon/core/period.h"
#include "daemon/ledger/accounting.h"
#include "daemon/ledger/memory/memory_tables.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;
using namespace std::chrono_literals;

namespace {

const BudgetKey kAgentBudget{"2024-11", "a1", "anthropic"};
const BudgetKey kGlobalBudget{"2024-11", kGlobalScope, "anthropic"};

BudgetPolicy test_policy() { return fixed_policy({"anthropic"}, 1000, 5000); }

ReservationRow open_reservation(const std::string& agent, uint64_t amount, double full_cost) {
  std::string request_id = "req-";
  request_id += agent;
  return ReservationRow{agent, "anthropic", "2024-11", request_id, amount, kNov15, full_cost};
}

}  // namespace

TEST_CASE("a rule reads the rows and hands back the rows to write without writing them") {
  MemoryTables tables;
  const MemoryRows rows(tables);
  const BudgetPolicy policy = test_policy();
  accounting::BatchState state(rows.meta(), {});
  accounting::Waiting waiting;
  auto ruled = accounting::reserve(rows, policy, state,
                                   reserve_request("a1", "anthropic", 300, "r", kNov15), waiting);
  REQUIRE(ruled.outcome.has_value());
  CHECK(ruled.outcome->reserved());
  CHECK(ruled.outcome->reservation_id == 1);
  // Nothing stored yet: the backend applies the changes.
  CHECK(tables.usage.empty());
  CHECK(tables.reservations.empty());
  CHECK(ruled.changes.usage.at(kAgentBudget).reserved == 300);
  CHECK(ruled.changes.usage.at(kGlobalBudget).reserved == 300);
  REQUIRE(ruled.changes.reservations.at(1).has_value());
  CHECK(ruled.changes.reservations.at(1)->amount == 300);
  CHECK(ruled.changes.days.at(DayKey{"anthropic", utc_day(kNov15)}) == 1);
  // The batch's counters are written once, at its end.
  const RowChanges meta = state.finish();
  CHECK(meta.period == std::optional<std::string>("2024-11"));
  CHECK(meta.next_reservation == std::optional<uint64_t>(2));
}

TEST_CASE("a reservation behind a waiter of the same batch waits even when it would fit") {
  MemoryTables tables;
  tables.usage[kAgentBudget] = UsageRow{0, 900, 0, 0, 0, 0};
  tables.usage[kGlobalBudget] = UsageRow{0, 900, 0, 0, 0, 0};
  const MemoryRows rows(tables);
  const BudgetPolicy policy = test_policy();
  const auto now = std::chrono::steady_clock::time_point(10s);
  accounting::BatchState state(rows.meta(), accounting::AdmissionClock{now, false});
  auto request = [&](uint64_t amount, std::chrono::steady_clock::time_point wait_until) {
    ReserveRequest r = reserve_request("a1", "anthropic", amount, "r", kNov15);
    r.wait_until = wait_until;
    return r;
  };
  accounting::Waiting first;
  CHECK_FALSE(accounting::reserve(rows, policy, state, request(500, now + 1s), first).outcome);
  CHECK(first.waited);
  CHECK(state.blocked.count(kAgentBudget) == 1);
  // 900 + 50 fits the limit of 1000, but the first call is ahead.
  accounting::Waiting second;
  CHECK_FALSE(accounting::reserve(rows, policy, state, request(50, now + 1s), second).outcome);
  accounting::Waiting third;
  auto refused = accounting::reserve(rows, policy, state, request(50, now), third).outcome;
  REQUIRE(refused.has_value());
  CHECK(refused->status == ReserveStatus::kAgentDoesNotFit);
  CHECK(refused->refused_by == RefusedBy::kInFlight);
}

TEST_CASE("recovery charges every leftover in full and reads its own changes to the global budget") {
  MemoryTables tables;
  tables.meta.period = "2024-11";
  tables.reservations[1] = open_reservation("a1", 100, 0.25);
  tables.reservations[2] = open_reservation("a2", 200, 0.5);
  tables.usage[kAgentBudget] = UsageRow{10, 100, 1, 0, 0, 0};
  tables.usage[BudgetKey{"2024-11", "a2", "anthropic"}] = UsageRow{0, 200, 0, 0, 0, 0};
  tables.usage[kGlobalBudget] = UsageRow{10, 300, 1, 0, 0, 0};
  const MemoryRows rows(tables);
  const BudgetPolicy policy = test_policy();
  accounting::BatchState state(rows.meta(), {});
  auto ruled = accounting::recover(rows, policy, state, kNov15);
  CHECK(ruled.outcome.recovered_tokens == 300);
  CHECK(ruled.outcome.charges.size() == 2);
  // Both agents' charges land on the one global row.
  const UsageRow global = ruled.changes.usage.at(kGlobalBudget);
  CHECK(global.used == 310);
  CHECK(global.reserved == 0);
  CHECK(global.cost_usd == Approx(0.75));
  CHECK_FALSE(ruled.changes.reservations.at(1).has_value());
  CHECK_FALSE(ruled.changes.reservations.at(2).has_value());
  REQUIRE(ruled.changes.log.size() == 1);
  CHECK(std::holds_alternative<RecoveryChange>(ruled.changes.log[0].change));
  CHECK(tables.reservations.size() == 2);  // still there until applied
}
