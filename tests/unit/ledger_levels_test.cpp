// Alert levels against the current limits: exhaustion means empty, and a
// limit change fires the levels it crosses and re-arms those it leaves
// (PROTOCOL.md section 4, issue 20 items 3 and 11). Every case runs against
// every ledger backend; a ledger written by an older tollgated is
// ledger_lmdb_test.cpp's.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

BudgetPolicy test_policy(uint64_t agent_limit) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, std::nullopt);
}

void charge(Ledger& l, const std::string& agent, const std::string& provider, uint64_t tokens) {
  auto r = l.reserve(agent, provider, tokens, "x", kNov15);
  REQUIRE(r->reserved());
  REQUIRE(l.commit(r->reservation_id, tokens, 0, 0, kNov15).ok());
}

std::vector<AlertLevel> levels(const std::vector<Alert>& alerts) {
  std::vector<AlertLevel> out;
  for (const auto& a : alerts) out.push_back(a.level);
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("a limit lowered below usage fires the levels it crosses once", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  charge(*l, "imperium", "anthropic", 1203);
  l->set_policy(test_policy(1000));
  auto fired = l->reevaluate_levels(kNov15 + 1);
  REQUIRE(fired.ok());
  CHECK(levels(*fired) == std::vector<AlertLevel>{AlertLevel::kWarning, AlertLevel::kCritical,
                                                  AlertLevel::kEmergency, AlertLevel::kExhausted});
  // openai (no usage row, or 0 used) fires nothing.
  for (const auto& a : *fired) CHECK(a.provider == "anthropic");
  CHECK(l->reevaluate_levels(kNov15 + 2)->empty());  // edge-triggered
  CHECK(l->alerts(100, std::nullopt, std::string("imperium"))->size() == 4);
}

TEMPLATE_TEST_CASE("a limit raised above usage re-arms the levels no longer reached", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(1000));
  charge(*l, "imperium", "anthropic", 850);  // warning fired at 85%
  l->set_policy(test_policy(2000));          // 42.5%
  CHECK(l->reevaluate_levels(kNov15 + 1)->empty());
  charge(*l, "imperium", "anthropic", 800);  // 82.5% of 2000: warning again
  auto alerts = l->alerts(100, std::nullopt, std::string("imperium")).value();
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].level == AlertLevel::kWarning);
  CHECK(alerts[1].level == AlertLevel::kWarning);
}

TEMPLATE_TEST_CASE("a budget with a limit of zero never fires an alert", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(1000));
  charge(*l, "imperium", "anthropic", 100);
  l->set_policy(test_policy(0));  // the provider removed by a reload
  CHECK(l->reevaluate_levels(kNov15 + 1)->empty());
  CHECK(l->alerts(100, std::nullopt, std::nullopt)->empty());
}
