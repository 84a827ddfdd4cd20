#include "daemon/ledger/forecast.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "daemon/core/period.h"
#include "daemon/ledger/reads.h"

namespace tollgate::ledger {
namespace {

constexpr int64_t kMinElapsedMs = 3600 * 1000;

// Tokens charged per UTC day in [from_day, to_day] of one budget.
std::vector<std::pair<int64_t, uint64_t>> day_tokens(const LedgerRows& rows,
                                                     const std::string& scope,
                                                     const std::string& provider,
                                                     int64_t from_day, int64_t to_day) {
  std::vector<std::pair<int64_t, uint64_t>> out;
  for (const auto& [key, row] : rows.day_usage_rows(scope, from_day, to_day)) {
    if (key.provider == provider) out.emplace_back(key.day, row.used);
  }
  return out;
}

}  // namespace

std::optional<uint64_t> limit_in_force(const BudgetPolicy& policy,
                                       const std::optional<LimitOverride>& override_row,
                                       const std::string& scope, const std::string& provider) {
  if (override_row && override_row->tokens) return override_row->tokens;
  if (scope == kGlobalScope) {
    return policy.global_limit ? policy.global_limit(provider) : std::nullopt;
  }
  return policy.agent_limit ? policy.agent_limit(scope, provider) : 0;
}

std::optional<uint64_t> limit_in_force(const LedgerRows& rows, const BudgetPolicy& policy,
                                       const std::string& scope, const std::string& provider) {
  return limit_in_force(policy, rows.limit_override(LimitKey{scope, provider}), scope, provider);
}

std::optional<double> limit_usd_in_force(const BudgetPolicy& policy,
                                         const std::optional<LimitOverride>& override_row,
                                         const std::string& scope, const std::string& provider) {
  if (override_row && override_row->usd) return override_row->usd;
  if (scope == kGlobalScope) {
    return policy.global_limit_usd ? policy.global_limit_usd(provider) : std::nullopt;
  }
  return policy.agent_limit_usd ? policy.agent_limit_usd(scope, provider) : std::nullopt;
}

std::optional<double> limit_usd_in_force(const LedgerRows& rows, const BudgetPolicy& policy,
                                         const std::string& scope, const std::string& provider) {
  return limit_usd_in_force(policy, rows.limit_override(LimitKey{scope, provider}), scope,
                            provider);
}

BudgetForecast project(uint64_t used, std::optional<uint64_t> limit,
                       const std::vector<std::pair<int64_t, uint64_t>>& day_tokens,
                       int64_t now_ms, int64_t period_end_ms, uint32_t window_days) {
  BudgetForecast f;
  f.used = used;
  f.limit = limit;
  f.projected_end_usage = used;
  const int64_t today = utc_day(now_ms);
  const int64_t first_day = today - static_cast<int64_t>(std::max<uint32_t>(window_days, 1)) + 1;
  uint64_t tokens = 0;
  std::optional<int64_t> first_used;
  for (const auto& [day, n] : day_tokens) {
    if (day < first_day || day > today || n == 0) continue;
    tokens += n;
    first_used = std::min(first_used.value_or(day), day);
  }
  if (!first_used) return f;
  const int64_t elapsed = std::max(now_ms - *first_used * kDayMs, kMinElapsedMs);
  f.daily_rate = static_cast<double>(tokens) * static_cast<double>(kDayMs) /
                 static_cast<double>(elapsed);
  const double left_days =
      static_cast<double>(std::max<int64_t>(period_end_ms - now_ms, 0)) / kDayMs;
  const double projected = static_cast<double>(used) + f.daily_rate * left_days;
  f.projected_end_usage = projected >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(projected);
  if (!limit || *limit == 0) return f;
  if (used >= *limit) {
    f.exhausted_at_ms = now_ms;
    return f;
  }
  const double days_to_limit = static_cast<double>(*limit - used) / f.daily_rate;
  if (days_to_limit < left_days) {
    f.exhausted_at_ms = now_ms + static_cast<int64_t>(std::ceil(days_to_limit * kDayMs));
  }
  return f;
}

namespace reads {

Forecast forecast(const LedgerRows& rows, const BudgetPolicy& policy,
                  const std::optional<std::string>& scope, int64_t now_ms) {
  Forecast out;
  out.period = current_period(rows, now_ms);
  const Period period = parse_period(out.period).value_or(period_of(now_ms));
  out.period_end_ms = period_start_ms(next_period(period));
  out.window_days = policy.forecast_window_days;
  const int64_t today = utc_day(now_ms);
  const int64_t from_day = today - static_cast<int64_t>(out.window_days) + 1;
  // The budgets: every usage row of the period, and the policy's providers
  // for the scope asked about.
  std::set<std::pair<std::string, std::string>> budgets;
  for (const auto& [key, row] : rows.usage_rows(out.period, scope)) {
    budgets.emplace(key.scope, key.provider);
  }
  if (scope) {
    for (const auto& provider : policy.providers) budgets.emplace(*scope, provider);
  }
  for (const auto& [s, provider] : budgets) {
    const std::optional<uint64_t> limit = limit_in_force(rows, policy, s, provider);
    if (s == kGlobalScope && !limit && !scope) continue;  // no budget to run out of
    const uint64_t used = rows.usage(BudgetKey{out.period, s, provider}).used;
    out.budgets[s][provider] = project(used, limit, day_tokens(rows, s, provider, from_day, today),
                                       now_ms, out.period_end_ms, out.window_days);
  }
  return out;
}

std::vector<DailyUsage> daily(const LedgerRows& rows, const std::string& scope, size_t days,
                              int64_t now_ms) {
  const int64_t today = utc_day(now_ms);
  const int64_t from_day = today - static_cast<int64_t>(days) + 1;
  std::vector<DailyUsage> out(days);
  for (size_t i = 0; i < days; ++i) out[i].day = today - static_cast<int64_t>(i);
  for (const auto& [key, row] : rows.day_usage_rows(scope, from_day, today)) {
    out[static_cast<size_t>(today - key.day)].providers[key.provider] = row;
  }
  return out;
}

std::vector<LimitEntry> limits(const LedgerRows& rows) {
  std::vector<LimitEntry> out;
  for (auto& [key, limit] : rows.limit_overrides()) {
    out.push_back(LimitEntry{key.scope, key.provider, std::move(limit)});
  }
  return out;
}

}  // namespace reads
}  // namespace tollgate::ledger
