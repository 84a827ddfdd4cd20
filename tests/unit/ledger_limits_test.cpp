// Section 10 in the ledger: limit overrides (set_limit), daily usage rows,
// forecasts and their alerts, and the notification outbox. Every case runs
// against every ledger backend (ledger_test_util.h).
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/core/period.h"
#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

BudgetPolicy test_policy() { return fixed_policy({"anthropic", "openai"}, 10000, 50000); }

SetLimitRequest limit_of(std::string scope, std::optional<uint64_t> tokens, int64_t now_ms,
                         std::string provider = "anthropic") {
  SetLimitRequest r;
  r.scope = std::move(scope);
  r.provider = std::move(provider);
  r.tokens = tokens;
  r.set_by = "test";
  r.now_ms = now_ms;
  return r;
}

void charge(Ledger& l, const std::string& agent, uint64_t tokens, int64_t now_ms,
            const std::string& provider = "anthropic") {
  auto r = l.reserve(agent, provider, tokens, "r", now_ms);
  REQUIRE(r.ok());
  REQUIRE(r->reserved());
  REQUIRE(l.commit(r->reservation_id, tokens, 0, 0.001 * static_cast<double>(tokens), now_ms).ok());
}

std::vector<AlertLevel> levels_of(const std::vector<Alert>& alerts) {
  std::vector<AlertLevel> out;
  for (const auto& a : alerts) out.push_back(a.level);
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("a limit override wins over the configured limit and survives a reopen",
                   "[ledger][limits]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy());
  REQUIRE(l->set_limit(limit_of("a1", 2000, kNov15)).ok());
  auto big = l->reserve("a1", "anthropic", 2001, "big", kNov15);
  REQUIRE(big.ok());
  CHECK_FALSE(big->reserved());
  CHECK(big->limit == 2000);
  CHECK(l->reserve("a2", "anthropic", 2001, "other agent", kNov15)->reserved());
  l.reset();
  l = backend.open(test_policy());
  CHECK_FALSE(l->reserve("a1", "anthropic", 2001, "after reopen", kNov15)->reserved());
  auto usage = l->usage("a1", "2024-11");
  REQUIRE(usage.ok());
  CHECK(usage->at("anthropic").limit == 2000);
  auto limits = l->limits();
  REQUIRE(limits.ok());
  REQUIRE(limits->size() == 1);
  CHECK(limits->at(0).scope == "a1");
  CHECK(limits->at(0).limit.tokens == 2000);
  CHECK(limits->at(0).limit.set_by == "test");
  CHECK(limits->at(0).limit.set_at_ms == kNov15);
}

TEMPLATE_TEST_CASE("clearing a limit override brings back the configured limit",
                   "[ledger][limits]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy());
  REQUIRE(l->set_limit(limit_of("a1", 100, kNov15)).ok());
  auto cleared = l->set_limit(limit_of("a1", std::nullopt, kNov15 + 1));
  REQUIRE(cleared.ok());
  CHECK(cleared->change.previous_tokens == 100);
  CHECK_FALSE(cleared->change.tokens);
  CHECK(l->limits()->empty());
  CHECK(l->reserve("a1", "anthropic", 9000, "fits again", kNov15 + 2)->reserved());
}

TEMPLATE_TEST_CASE("lowering a limit fires the levels now reached and raising it re-arms them",
                   "[ledger][limits]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy());
  charge(*l, "a1", 5000, kNov15);  // 50% of 10000: no level
  auto lowered = l->set_limit(limit_of("a1", 5100, kNov15 + 1));  // 98%
  REQUIRE(lowered.ok());
  CHECK(levels_of(lowered->alerts) ==
        std::vector<AlertLevel>{AlertLevel::kWarning, AlertLevel::kCritical,
                                AlertLevel::kEmergency});
  auto raised = l->set_limit(limit_of("a1", 20000, kNov15 + 2));
  REQUIRE(raised.ok());
  CHECK(raised->alerts.empty());
  // Re-armed: lowering again fires them again.
  auto again = l->set_limit(limit_of("a1", 5100, kNov15 + 3));
  REQUIRE(again.ok());
  CHECK(again->alerts.size() == 3);
}

TEMPLATE_TEST_CASE("raising the global limit lifts an emergency shutdown", "[ledger][limits]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(fixed_policy({"anthropic"}, 10000, 1000, /*shutdown=*/true));
  charge(*l, "a1", 995, kNov15);
  REQUIRE(l->emergency_status(kNov15)->shutdown);
  REQUIRE(l->set_limit(limit_of(kGlobalScope, 100000, kNov15 + 1)).ok());
  CHECK_FALSE(l->emergency_status(kNov15 + 1)->shutdown);
}

TEMPLATE_TEST_CASE("a limit change is kept in the ledger log with who made it",
                   "[ledger][limits]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy());
  REQUIRE(l->set_limit(limit_of("a1", 700, kNov15)).ok());
  REQUIRE(l->set_limit(limit_of("a1", 900, kNov15 + 1)).ok());
  auto log = l->ledger_events(10, std::nullopt);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 2);
  const auto* newest = std::get_if<LimitChange>(&log->at(0).change);
  REQUIRE(newest != nullptr);
  CHECK(newest->tokens == 900);
  CHECK(newest->previous_tokens == 700);
  CHECK(newest->set_by == "test");
  CHECK(log->at(0).at_ms == kNov15 + 1);
}

TEMPLATE_TEST_CASE("a waiting reservation gets in when its limit is raised",
                   "[ledger][limits]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy());
  auto first = l->reserve("a1", "anthropic", 6000, "first", kNov15);
  REQUIRE(first->reserved());
  std::optional<Result<ReserveOutcome>> second;
  l->reserve_async(reserve_request("a1", "anthropic", 6000, "second", kNov15,
                                   std::chrono::minutes(5)),
                   [&](Result<ReserveOutcome> r) { second = std::move(r); });
  REQUIRE(l->set_limit(limit_of("a1", 12000, kNov15 + 1)).ok());
  REQUIRE(l->probe().ok());  // a write after it: the waiter has been applied again
  REQUIRE(second.has_value());
  REQUIRE(second->ok());
  CHECK(second->value().reserved());
}

TEMPLATE_TEST_CASE("every charge lands in its UTC day and resets do not change the days",
                   "[ledger][daily]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy());
  charge(*l, "a1", 100, kNov15 - 2 * kDay);
  charge(*l, "a1", 200, kNov15);
  charge(*l, "a1", 50, kNov15 + 1, "openai");
  charge(*l, "a2", 7, kNov15);
  REQUIRE(l->reset("a1", std::nullopt, kNov15 + 2).ok());
  auto days = l->daily("a1", 3, kNov15);
  REQUIRE(days.ok());
  REQUIRE(days->size() == 3);
  CHECK(days->at(0).day == utc_day(kNov15));
  CHECK(days->at(0).providers.at("anthropic").used == 200);
  CHECK(days->at(0).providers.at("anthropic").requests == 1);
  CHECK(days->at(0).providers.at("openai").used == 50);
  CHECK(days->at(1).providers.empty());
  CHECK(days->at(2).providers.at("anthropic").used == 100);
  auto all = l->daily(kGlobalScope, 1, kNov15);
  REQUIRE(all.ok());
  CHECK(all->at(0).providers.at("anthropic").used == 207);
  CHECK(all->at(0).providers.at("anthropic").cost_usd == Approx(0.207));
}

TEMPLATE_TEST_CASE("the forecast projects the burn rate to the end of the period",
                   "[ledger][forecast]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(fixed_policy({"anthropic"}, 100000, std::nullopt));
  const int64_t nov10 = kNov15 - 5 * kDay - 10 * 3600 * 1000;  // 2024-11-10T00:00Z
  for (int d = 0; d < 5; ++d) charge(*l, "a1", 4000, nov10 + d * kDay + 1000);
  const int64_t now = nov10 + 5 * kDay;  // 2024-11-15T00:00Z: five full days of 4000
  auto f = l->forecast(std::string("a1"), now);
  REQUIRE(f.ok());
  CHECK(f->period == "2024-11");
  const BudgetForecast& b = f->budgets.at("a1").at("anthropic");
  CHECK(b.used == 20000);
  CHECK(b.daily_rate == Approx(4000));
  CHECK(b.projected_end_usage == 20000 + 16 * 4000);  // 16 days left in November
  CHECK_FALSE(b.exhausted_at_ms);  // 84000 < 100000
  REQUIRE(l->set_limit(limit_of("a1", 60000, now)).ok());
  auto lower = l->forecast(std::string("a1"), now);
  const BudgetForecast& c = lower->budgets.at("a1").at("anthropic");
  REQUIRE(c.exhausted_at_ms);
  CHECK(*c.exhausted_at_ms == now + 10 * kDay);  // 40000 left at 4000 a day
}

TEMPLATE_TEST_CASE("a forecast alert fires once per budget and period", "[ledger][forecast]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(fixed_policy({"anthropic"}, 30000, std::nullopt));
  const int64_t nov10 = kNov15 - 5 * kDay - 10 * 3600 * 1000;
  for (int d = 0; d < 5; ++d) charge(*l, "a1", 4000, nov10 + d * kDay + 1000);
  const int64_t now = nov10 + 5 * kDay;
  auto first = l->check_forecasts(now);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK(first->at(0).level == AlertLevel::kForecast);
  CHECK(first->at(0).ai_name == "a1");
  CHECK(first->at(0).message.find("projected") != std::string::npos);
  CHECK(l->check_forecasts(now + 1)->empty());
  auto kept = l->alerts(10, std::nullopt, std::nullopt);
  REQUIRE(kept.ok());
  CHECK(kept->at(0).level == AlertLevel::kForecast);
}

TEMPLATE_TEST_CASE("every alert lands in the outbox of each destination until it is done",
                   "[ledger][outbox]", LEDGER_BACKENDS) {
  TestType backend;
  BudgetPolicy policy = test_policy();
  policy.notify_destinations = [](const Alert& a) {
    std::vector<std::string> out{"hook"};
    if (a.level == AlertLevel::kEmergency) out.push_back("mail");
    return out;
  };
  auto l = backend.open(policy);
  charge(*l, "a1", 9900, kNov15);  // warning, critical, emergency for a1
  CHECK(l->outbox_depth().value() == 4);
  auto hook = l->outbox("hook", 0, 10);
  REQUIRE(hook.ok());
  REQUIRE(hook->size() == 3);
  CHECK(hook->at(0).alert.level == AlertLevel::kWarning);
  CHECK(hook->at(2).alert.level == AlertLevel::kEmergency);
  auto mail = l->outbox("mail", 0, 10);
  REQUIRE(mail->size() == 1);
  CHECK(l->outbox("hook", hook->at(0).alert.log_seq, 10)->size() == 2);
  CHECK(l->outbox_done("hook", hook->at(0).alert.log_seq).value());
  CHECK_FALSE(l->outbox_done("hook", hook->at(0).alert.log_seq).value());
  l.reset();
  l = backend.open(policy);
  CHECK(l->outbox_depth().value() == 3);
  CHECK(l->outbox("hook", 0, 10)->size() == 2);
}

TEMPLATE_TEST_CASE("a destination's outbox entries can be listed and dropped", "[ledger][outbox]",
                   LEDGER_BACKENDS) {
  TestType backend;
  BudgetPolicy policy = test_policy();
  policy.notify_destinations = [](const Alert&) {
    return std::vector<std::string>{"a-hook", "b-mail", "c-old"};
  };
  auto l = backend.open(policy);
  charge(*l, "a1", 8500, kNov15);  // warning: one alert, three entries
  CHECK(l->outbox_destinations().value() == std::vector<std::string>{"a-hook", "b-mail", "c-old"});
  CHECK(l->outbox_drop("c-old").value() == 1);
  CHECK(l->outbox_drop("c-old").value() == 0);
  CHECK(l->outbox_destinations().value() == std::vector<std::string>{"a-hook", "b-mail"});
  CHECK(l->outbox_depth().value() == 2);
}

// ---- dollar budgets (section 10)

namespace {

BudgetPolicy dollar_policy(double agent_usd, std::optional<double> global_usd = std::nullopt) {
  BudgetPolicy p = test_policy();
  p.agent_limit_usd = [agent_usd](const std::string&, const std::string&) {
    return std::optional<double>(agent_usd);
  };
  p.global_limit_usd = [global_usd](const std::string&) { return global_usd; };
  return p;
}

ReserveRequest costing(const std::string& agent, uint64_t tokens, double usd, int64_t now_ms) {
  ReserveRequest r = reserve_request(agent, "anthropic", tokens, "usd", now_ms);
  r.full_cost_usd = usd;
  return r;
}

}  // namespace

TEMPLATE_TEST_CASE("a call must fit its dollar budget as well as its token budget",
                   "[ledger][usd]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(dollar_policy(1.00));
  auto big = l->reserve(costing("a1", 100, 1.50, kNov15));
  REQUIRE(big.ok());
  CHECK_FALSE(big->reserved());
  CHECK(big->usd);
  CHECK(big->refused_by == RefusedBy::kLimit);
  CHECK(big->needed_usd == Approx(1.50));
  CHECK(big->left_usd == Approx(1.00));
  auto first = l->reserve(costing("a1", 100, 0.60, kNov15));
  REQUIRE(first->reserved());
  // 0.60 is held: another 0.60 fits only once the first settles.
  auto second = l->reserve(costing("a1", 100, 0.60, kNov15));
  CHECK_FALSE(second->reserved());
  CHECK(second->refused_by == RefusedBy::kInFlight);
  CHECK(second->in_flight_usd == Approx(0.60));
  REQUIRE(l->commit(first->reservation_id, 50, 10, 0.10, kNov15).ok());
  CHECK(l->reserve(costing("a1", 100, 0.60, kNov15))->reserved());
}

TEMPLATE_TEST_CASE("released and recovered reservations give their dollars back",
                   "[ledger][usd]", LEDGER_BACKENDS) {
  TestType backend;
  {
    auto l = backend.open(dollar_policy(1.00));
    auto r = l->reserve(costing("a1", 100, 0.70, kNov15));
    REQUIRE(r->reserved());
    REQUIRE(l->release(r->reservation_id).ok());
    auto snap = l->snapshot("a1", kNov15);
    CHECK(snap->providers.at("anthropic").agent.reserved_usd == Approx(0.0));
    REQUIRE(l->reserve(costing("a1", 100, 0.70, kNov15))->reserved());  // left open: a crash
  }
  auto l = backend.open(dollar_policy(1.00));
  auto u = l->usage("a1", "2024-11");
  REQUIRE(u.ok());
  const BudgetUsage& a = u->at("anthropic");
  CHECK(a.reserved_usd == Approx(0.0));
  CHECK(a.cost_usd == Approx(0.70));  // recovery charges the full cost
  CHECK(a.limit_usd == Approx(1.00));
  CHECK_FALSE(l->reserve(costing("a1", 100, 0.40, kNov15))->reserved());
}

TEMPLATE_TEST_CASE("a dollar limit override wins and an empty dollar budget is exhausted",
                   "[ledger][usd]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(dollar_policy(100.0, 1000.0));
  SetLimitRequest s = limit_of("a1", std::nullopt, kNov15);
  s.usd = 0.50;
  REQUIRE(l->set_limit(s).ok());
  CHECK_FALSE(l->reserve(costing("a1", 100, 0.60, kNov15))->reserved());
  auto r = l->reserve(costing("a1", 100, 0.50, kNov15));
  REQUIRE(r->reserved());
  REQUIRE(l->commit(r->reservation_id, 100, 0, 0.50, kNov15).ok());
  auto snap = l->snapshot("a1", kNov15);
  CHECK(snap->providers.at("anthropic").agent.exhausted);
  CHECK(snap->providers.at("anthropic").agent.limit_usd == Approx(0.50));
  auto global = l->global_usage("2024-11");
  CHECK(global->at("anthropic").limit_usd == Approx(1000.0));
  CHECK_FALSE(global->at("anthropic").exhausted);
}
