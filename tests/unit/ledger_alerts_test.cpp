// Alerts: edge-triggered per (scope, provider, level, period), kept in the
// alerts log across restarts, re-armed by reset; emergency status. Every
// case runs against every ledger backend (ledger_test_util.h).
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

BudgetPolicy test_policy(std::optional<uint64_t> global, bool shutdown_on_emergency = false) {
  return fixed_policy({"anthropic", "openai"}, 10000, global, shutdown_on_emergency);
}

std::vector<Alert> charge(Ledger& l, const std::string& agent, const std::string& provider,
                          uint64_t tokens, int64_t at_ms) {
  auto r = l.reserve(agent, provider, tokens, "req", at_ms);
  REQUIRE(r.ok());
  REQUIRE(r->reserved());
  auto c = l.commit(r->reservation_id, tokens, 0, 0, at_ms);
  REQUIRE(c.ok());
  return c->alerts;
}

std::vector<AlertLevel> levels_of(const std::vector<Alert>& alerts, const std::string& scope) {
  std::vector<AlertLevel> out;
  for (const auto& a : alerts) {
    if (a.ai_name == scope) out.push_back(a.level);
  }
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("each alert level fires once per budget and period", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(std::nullopt));
  CHECK(charge(*l, "a1", "openai", 7999, kNov15).empty());
  auto warn = charge(*l, "a1", "openai", 1, kNov15 + 1);
  REQUIRE(warn.size() == 1);
  CHECK(warn[0].level == AlertLevel::kWarning);
  CHECK(warn[0].threshold == Approx(0.80));
  CHECK(warn[0].percentage == Approx(80.0));
  CHECK(warn[0].used == 8000);
  CHECK(warn[0].limit == 10000);
  CHECK(warn[0].period == "2024-11");
  CHECK(warn[0].at_ms == kNov15 + 1);
  CHECK_THAT(warn[0].message, Catch::Contains("a1") && Catch::Contains("openai"));
  CHECK(charge(*l, "a1", "openai", 100, kNov15 + 2).empty());
  CHECK(levels_of(charge(*l, "a1", "openai", 1900, kNov15 + 3), "a1") ==
        std::vector<AlertLevel>{AlertLevel::kCritical, AlertLevel::kEmergency,
                                AlertLevel::kExhausted});
}

TEMPLATE_TEST_CASE("global budgets fire alerts under the name star", "[ledger]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(20000));
  charge(*l, "a1", "anthropic", 9000, kNov15);
  auto alerts = charge(*l, "a2", "anthropic", 8000, kNov15 + 1);
  CHECK(levels_of(alerts, "*") == std::vector<AlertLevel>{AlertLevel::kWarning});
  CHECK(levels_of(alerts, "a2") == std::vector<AlertLevel>{AlertLevel::kWarning});
}

TEMPLATE_TEST_CASE("alerts survive a restart and are listed newest first", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  {
    auto l = backend.open(test_policy(std::nullopt));
    charge(*l, "a1", "openai", 8000, kNov15);
    charge(*l, "a2", "anthropic", 9600, kNov15 + 100);
  }
  auto l = backend.open(test_policy(std::nullopt));
  auto all = l->alerts(100, std::nullopt, std::nullopt);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].ai_name == "a2");
  CHECK((*all)[0].level == AlertLevel::kCritical);
  CHECK((*all)[1].level == AlertLevel::kWarning);
  CHECK((*all)[2].ai_name == "a1");
  CHECK(l->alerts(1, std::nullopt, std::nullopt)->size() == 1);
  CHECK(l->alerts(100, kNov15 + 50, std::nullopt)->size() == 2);
  CHECK(l->alerts(100, std::nullopt, std::string("a1"))->size() == 1);
  // Already fired before the restart: not again.
  CHECK(charge(*l, "a1", "openai", 10, kNov15 + 200).empty());
}

TEMPLATE_TEST_CASE("reset re-arms the agent alerts", "[ledger]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(std::nullopt));
  CHECK(charge(*l, "a1", "openai", 8500, kNov15).size() == 1);
  REQUIRE(l->reset("a1", std::string("openai"), kNov15 + 1).ok());
  CHECK(charge(*l, "a1", "openai", 5000, kNov15 + 2).empty());
  auto again = charge(*l, "a1", "openai", 3000, kNov15 + 3);
  REQUIRE(again.size() == 1);
  CHECK(again[0].level == AlertLevel::kWarning);
  CHECK(l->alerts(100, std::nullopt, std::string("a1"))->size() == 2);
}

TEMPLATE_TEST_CASE("emergency shutdown follows exhausted global budgets and lifts on reset", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  CHECK(l->emergency_status(kNov15)->level == EmergencyLevel::kNormal);
  charge(*l, "a1", "anthropic", 10000, kNov15);
  auto st = l->emergency_status(kNov15);
  CHECK(st->level == EmergencyLevel::kEmergency);
  CHECK_FALSE(st->shutdown);
  REQUIRE(st->agents_at_risk.size() == 1);
  CHECK(st->agents_at_risk[0].level == AgentLevel::kExhausted);
  charge(*l, "a2", "openai", 9000, kNov15);
  // A call that does not fit is refused for itself alone: no shutdown.
  auto refused = l->reserve("a3", "openai", 1001, "x", kNov15);
  CHECK(refused->status == ReserveStatus::kGlobalDoesNotFit);
  CHECK_FALSE(l->emergency_status(kNov15)->shutdown);
  CHECK_FALSE(l->emergency_status(kNov15)->providers["openai"].exhausted);
  // Empty (under 1% of the limit left) is exhausted.
  charge(*l, "a2", "openai", 901, kNov15);
  st = l->emergency_status(kNov15);
  CHECK(st->shutdown);
  CHECK(st->level == EmergencyLevel::kShutdown);
  CHECK(st->providers["openai"].exhausted);
  REQUIRE(l->reset("a1", std::nullopt, kNov15 + 1).ok());
  st = l->emergency_status(kNov15 + 1);
  CHECK_FALSE(st->shutdown);
  CHECK_FALSE(st->providers["anthropic"].exhausted);
}

TEMPLATE_TEST_CASE("shutdown on emergency triggers at the emergency threshold of a global budget", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000, true));
  charge(*l, "a1", "openai", 9700, kNov15);
  CHECK_FALSE(l->emergency_status(kNov15)->shutdown);
  charge(*l, "a1", "openai", 100, kNov15);
  CHECK(l->emergency_status(kNov15)->shutdown);
}

TEMPLATE_TEST_CASE("without global limits there is no emergency shutdown", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(std::nullopt, true));
  charge(*l, "a1", "openai", 10000, kNov15);
  auto st = l->emergency_status(kNov15);
  CHECK_FALSE(st->shutdown);
  CHECK(st->level == EmergencyLevel::kNormal);
  CHECK(st->agents_at_risk.size() == 1);
}

TEMPLATE_TEST_CASE("a commit above its reservation fires over_reservation once per agent provider and period", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(std::nullopt));
  auto over = [&](const std::string& agent, uint64_t reserved, uint64_t charged, int64_t at_ms) {
    auto r = l->reserve(agent, "openai", reserved, "req-" + agent, at_ms);
    REQUIRE(r.ok());
    REQUIRE(r->reserved());
    auto c = l->commit(r->reservation_id, charged, 0, 0, at_ms);
    REQUIRE(c.ok());
    return c->alerts;
  };
  auto first = over("a1", 100, 150, kNov15);
  REQUIRE(first.size() == 1);
  CHECK(first[0].level == AlertLevel::kOverReservation);
  CHECK(alert_level_name(first[0].level) == "over_reservation");
  CHECK(first[0].ai_name == "a1");
  CHECK(first[0].provider == "openai");
  CHECK(first[0].period == "2024-11");
  CHECK(first[0].used == 150);
  CHECK(first[0].limit == 10000);
  CHECK(first[0].threshold == 0.0);
  CHECK_THAT(first[0].message, Catch::Contains("req-a1") && Catch::Contains("50 more than") &&
                                   Catch::Contains("reservation of 100"));
  // Once per (agent, provider, period): not again for a1, but for a2, and
  // for a1 in the next period.
  CHECK(over("a1", 100, 300, kNov15 + 1).empty());
  CHECK(levels_of(over("a2", 100, 101, kNov15 + 2), "a2") ==
        std::vector<AlertLevel>{AlertLevel::kOverReservation});
  CHECK(over("a1", 100, 100, kNov15 + 3).empty());  // exactly the reservation: fine
  CHECK(levels_of(over("a1", 10, 20, kDec1), "a1") ==
        std::vector<AlertLevel>{AlertLevel::kOverReservation});

  // Kept for the `alerts` op, newest first, and never a budget level.
  auto kept = l->alerts(100, std::nullopt, std::string("a1"));
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 2);
  CHECK((*kept)[0].level == AlertLevel::kOverReservation);
  CHECK((*kept)[0].period == "2024-12");
  CHECK((*kept)[1].period == "2024-11");
  auto nov = l->usage("a1", "2024-11").value().at("openai");
  CHECK(nov.level == AgentLevel::kNormal);
  auto status = l->emergency_status(kDec1);
  REQUIRE(status.ok());
  CHECK(status->level == EmergencyLevel::kNormal);
  CHECK(status->agents_at_risk.empty());
}

TEMPLATE_TEST_CASE("over_reservation is no threshold level and a reset does not re-arm it",
                   "[ledger]", LEDGER_BACKENDS) {
  Thresholds th;
  CHECK_FALSE(level_reached(AlertLevel::kOverReservation, 10000, 10000, th));
  CHECK(budget_level(10000, 10000, th) == AgentLevel::kExhausted);
  CHECK(reached_levels(0, 0, th).size() == 4);
  CHECK(alert_level_from_name("over_reservation") == AlertLevel::kOverReservation);
  TestType backend;
  auto l = backend.open(test_policy(std::nullopt));
  auto r = l->reserve("a1", "anthropic", 10, "x", kNov15);
  REQUIRE(l->commit(r->reservation_id, 20, 0, 0, kNov15)->alerts.size() == 1);
  REQUIRE(l->reset("a1", std::nullopt, kNov15 + 1).ok());
  r = l->reserve("a1", "anthropic", 10, "y", kNov15 + 2);
  CHECK(l->commit(r->reservation_id, 20, 0, 0, kNov15 + 2)->alerts.empty());
}
