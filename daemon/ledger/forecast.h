// Limits in force, daily usage and forecasts (PROTOCOL.md section 10): pure
// rules over the stored rows (rows.h), shared by the accounting rules and
// the read rules.
//
// Limits. An operator's override (set_limit, LimitOverride) of a budget
// wins over the configured limit: its token limit when it has one, else
// the policy's.
//
// Daily usage. Every charge (a commit, a recovered reservation) is added to
// its budget's row for the UTC day it was charged on; resets do not change
// those rows: they are what was spent, for reports and forecasts.
//
// Forecast of one budget at now_ms, with a window of W days:
// - the window starts at 00:00 UTC W-1 days before today, or at 00:00 of
//   the first day in it with any usage, whichever is later, so a budget
//   that began to be used yesterday is not averaged over a week of zeros;
// - daily_rate = tokens charged in the window / the window's elapsed days
//   (at least one hour, so a first call does not project infinity);
// - projected end usage = used + daily_rate x the days left in the period;
// - exhausted_at = when used + daily_rate x t reaches the limit, if that is
//   before the period ends (now, when the limit is already reached);
//   nothing for a budget without a limit, with a limit of 0 (no budget at
//   all) or without usage in the window.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/ledger_types.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger {

inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;
inline constexpr uint32_t kDefaultForecastWindowDays = 7;

// The token limit in force for a budget; nullopt: a global budget without
// a limit.
std::optional<uint64_t> limit_in_force(const BudgetPolicy& policy,
                                       const std::optional<LimitOverride>& override_row,
                                       const std::string& scope, const std::string& provider);
std::optional<uint64_t> limit_in_force(const LedgerRows& rows, const BudgetPolicy& policy,
                                       const std::string& scope, const std::string& provider);
// The dollar limit in force (section 10): the override's, else the
// policy's; nullopt: none.
std::optional<double> limit_usd_in_force(const BudgetPolicy& policy,
                                         const std::optional<LimitOverride>& override_row,
                                         const std::string& scope, const std::string& provider);
std::optional<double> limit_usd_in_force(const LedgerRows& rows, const BudgetPolicy& policy,
                                         const std::string& scope, const std::string& provider);

// One budget's forecast from its used tokens, its limit and its day rows
// (any order; days outside the window are ignored).
BudgetForecast project(uint64_t used, std::optional<uint64_t> limit,
                       const std::vector<std::pair<int64_t, uint64_t>>& day_tokens,
                       int64_t now_ms, int64_t period_end_ms, uint32_t window_days);

namespace reads {

// Every budget of the current period (of one scope, when given; kGlobalScope
// for the global ones), with the policy's providers even without usage.
Forecast forecast(const LedgerRows& rows, const BudgetPolicy& policy,
                  const std::optional<std::string>& scope, int64_t now_ms);
// Exactly `days` UTC days, newest (today) first, of one scope (an agent, or
// kGlobalScope for every agent together).
std::vector<DailyUsage> daily(const LedgerRows& rows, const std::string& scope, size_t days,
                              int64_t now_ms);
// Every override, by scope then provider.
std::vector<LimitEntry> limits(const LedgerRows& rows);

}  // namespace reads
}  // namespace tollgate::ledger
