// Alert levels, threshold crossing, budget levels and cost.
#include <catch2/catch.hpp>

#include <vector>

#include "daemon/core/budget.h"

using tollgate::ledger::AgentLevel;
using tollgate::ledger::AlertLevel;
using tollgate::ledger::budget_level;
using tollgate::ledger::cost_usd;
using tollgate::ledger::crossed_levels;
using tollgate::ledger::exhausted;
using tollgate::ledger::percentage;
using tollgate::ledger::Price;
using tollgate::ledger::reached_levels;
using tollgate::ledger::Thresholds;

namespace {
using Levels = std::vector<AlertLevel>;
constexpr uint64_t kLimit = 140000;
}  // namespace

TEST_CASE("each level is crossed once as usage climbs step by step") {
  const Thresholds th;
  Levels seen;
  uint64_t used = 0;
  for (uint64_t step = 0; step < 200; ++step) {
    const uint64_t next = used + 1000;
    for (AlertLevel l : crossed_levels(used, next, kLimit, th)) seen.push_back(l);
    used = next;
  }
  CHECK(seen == Levels{AlertLevel::kWarning, AlertLevel::kCritical, AlertLevel::kEmergency,
                       AlertLevel::kExhausted});
}

TEST_CASE("a jump over several thresholds fires each of them") {
  const Thresholds th;
  CHECK(crossed_levels(0, 137200, kLimit, th) ==
        Levels{AlertLevel::kWarning, AlertLevel::kCritical, AlertLevel::kEmergency});
  CHECK(crossed_levels(112000, 200000, kLimit, th) ==
        Levels{AlertLevel::kCritical, AlertLevel::kEmergency, AlertLevel::kExhausted});
  CHECK(crossed_levels(0, 140000, kLimit, th).size() == 4);
}

TEST_CASE("a threshold is reached exactly at its fraction of the limit") {
  const Thresholds th;
  CHECK(crossed_levels(111999, 112000, kLimit, th) == Levels{AlertLevel::kWarning});
  CHECK(crossed_levels(111998, 111999, kLimit, th).empty());
  // Exhausted means empty: less than 1% (1,400 tokens) left.
  CHECK(crossed_levels(138600, 138601, kLimit, th) == Levels{AlertLevel::kExhausted});
  CHECK(crossed_levels(138000, 138600, kLimit, th).empty());
}

TEST_CASE("a budget is exhausted when what is left is under the exhausted fraction of its limit") {
  Thresholds th;
  CHECK_FALSE(exhausted(4950, 5000, th));  // 50 left: exactly 1%
  CHECK(exhausted(4951, 5000, th));        // 49 left
  CHECK(exhausted(5000, 5000, th));
  CHECK(exhausted(6000, 5000, th));        // over (a limit lowered below usage)
  CHECK(exhausted(0, 0, th));              // no budget at all
  th.exhausted_fraction = 0;
  CHECK_FALSE(exhausted(4999, 5000, th));
  CHECK(exhausted(5000, 5000, th));
  CHECK(budget_level(4999, 5000, th) == AgentLevel::kEmergency);
  th.exhausted_fraction = 0.10;
  CHECK(budget_level(4501, 5000, th) == AgentLevel::kExhausted);
}

TEST_CASE("usage that does not move or falls crosses nothing") {
  const Thresholds th;
  CHECK(crossed_levels(130000, 130000, kLimit, th).empty());
  CHECK(crossed_levels(139000, 1000, kLimit, th).empty());
}

TEST_CASE("configured thresholds move the levels") {
  const Thresholds th{0.5, 0.6, 0.7};
  CHECK(crossed_levels(0, 600, 1000, th) == Levels{AlertLevel::kWarning, AlertLevel::kCritical});
  CHECK(reached_levels(700, 1000, th).back() == AlertLevel::kEmergency);
}

TEST_CASE("a zero limit counts as exhausted and never crosses") {
  const Thresholds th;
  CHECK(budget_level(0, 0, th) == AgentLevel::kExhausted);
  CHECK(crossed_levels(0, 10, 0, th).empty());
  CHECK(percentage(0, 0) == Approx(100.0));
}

TEST_CASE("the budget level is the highest level reached") {
  const Thresholds th;
  CHECK(budget_level(0, kLimit, th) == AgentLevel::kNormal);
  CHECK(budget_level(111999, kLimit, th) == AgentLevel::kNormal);
  CHECK(budget_level(112000, kLimit, th) == AgentLevel::kWarning);
  CHECK(budget_level(133000, kLimit, th) == AgentLevel::kCritical);
  CHECK(budget_level(137200, kLimit, th) == AgentLevel::kEmergency);
  CHECK(budget_level(150000, kLimit, th) == AgentLevel::kExhausted);
}

TEST_CASE("cost is priced per million input and output tokens") {
  const Price price{3.0, 15.0};
  CHECK(cost_usd(price, 1000000, 0) == Approx(3.0));
  CHECK(cost_usd(price, 2000, 1000) == Approx(0.006 + 0.015));
  CHECK(cost_usd(Price{}, 5000, 5000) == 0.0);
  CHECK(percentage(70000, kLimit) == Approx(50.0));
}
