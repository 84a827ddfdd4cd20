// The accounting rules of section 10 (accounting.h): set_limit, forecast
// alerts and the notification outbox.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <ctime>

#include "daemon/core/period.h"
#include "daemon/ledger/accounting.h"
#include "daemon/ledger/accounting_rule.h"
#include "daemon/ledger/forecast.h"

namespace tollgate::ledger::accounting {
namespace {

std::string iso_minute(int64_t at_ms) {
  const std::time_t secs = static_cast<std::time_t>(at_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", &tm);
  return buf;
}

std::string forecast_message(const BudgetKey& budget, const BudgetForecast& f) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f", std::round(f.daily_rate));
  return who(budget.scope, budget.provider) + " is projected to reach its limit of " +
         std::to_string(f.limit.value_or(0)) + " tokens at " + iso_minute(*f.exhausted_at_ms) +
         ", before " + budget.period + " ends (" + rate + " tokens a day, " +
         std::to_string(f.used) + " used)";
}

}  // namespace

Ruling<SetLimitOutcome> set_limit(const LedgerRows& rows, const BudgetPolicy& policy,
                                  BatchState& state, const SetLimitRequest& r) {
  Rule rule(rows, policy, state);
  SetLimitOutcome out;
  out.rollover = rule.advance_period(r.now_ms);
  out.period = rule.period_name();
  const LimitKey key{r.scope, r.provider};
  const std::optional<LimitOverride> previous = rule.limit_override(key);
  if (r.tokens || r.usd) {
    rule.changes().limits[key] = LimitOverride{r.tokens, r.usd, r.now_ms, r.set_by};
  } else {
    rule.changes().limits[key] = std::nullopt;
  }
  out.change = LimitChange{r.scope,
                           r.provider,
                           r.tokens,
                           r.usd,
                           previous ? previous->tokens : std::nullopt,
                           previous ? previous->usd : std::nullopt,
                           r.set_by};
  out.change_at_ms = r.now_ms;
  rule.log_change(out.change, r.now_ms);
  const BudgetKey budget{out.period, r.scope, r.provider};
  const uint64_t used = rule.usage(budget).used;
  const std::optional<uint64_t> limit = rule.limit_of(budget);
  rule.rearm(budget, used, limit);
  rule.changes().fired[FiredKey{budget, AlertLevel::kForecast}] = std::nullopt;
  if (limit) rule.check_levels(budget, used, *limit, r.now_ms, out.alerts);
  spdlog::info("ledger: {} limit set by {}: {} tokens{}", who(r.scope, r.provider), r.set_by,
               limit ? std::to_string(*limit) : std::string("unlimited"),
               r.tokens || r.usd ? "" : " (configured)");
  return {std::move(out), rule.take()};
}

Ruling<std::vector<Alert>> check_forecasts(const LedgerRows& rows, const BudgetPolicy& policy,
                                           BatchState& state, int64_t now_ms) {
  Rule rule(rows, policy, state);
  std::vector<Alert> alerts;
  rule.advance_period(now_ms);
  const Forecast forecast = reads::forecast(rows, policy, std::nullopt, now_ms);
  for (const auto& [scope, providers] : forecast.budgets) {
    for (const auto& [provider, f] : providers) {
      if (!f.exhausted_at_ms || !f.limit || *f.limit == 0) continue;
      const BudgetKey budget{forecast.period, scope, provider};
      rule.fire(budget, AlertLevel::kForecast, f.used, *f.limit, now_ms,
                forecast_message(budget, f), alerts);
    }
  }
  return {std::move(alerts), rule.take()};
}

Ruling<bool> outbox_done(const LedgerRows& rows, const OutboxKey& key) {
  RowChanges changes;
  const bool found = rows.has_outbox(key);
  if (found) changes.outbox[key] = std::nullopt;
  return {found, std::move(changes)};
}

Ruling<uint64_t> outbox_drop(const LedgerRows& rows, const std::string& destination) {
  RowChanges changes;
  const std::vector<uint64_t> ids = rows.outbox_ids(destination);
  for (uint64_t id : ids) changes.outbox[OutboxKey{destination, id}] = std::nullopt;
  return {ids.size(), std::move(changes)};
}

}  // namespace tollgate::ledger::accounting
