// Budget periods and UTC days: pure calendar arithmetic on unix milliseconds.
//
// A period is a calendar month in UTC, written "YYYY-MM" (PROTOCOL.md
// section 2). Days are UTC day numbers (days since 1970-01-01), the key of
// the ledger's per-provider daily request counters. Negative times (before
// 1970) are floored, not truncated, so every millisecond belongs to exactly
// one period and one day.
//
// Pure functions of their arguments; safe from any thread. No clock reads:
// callers pass now_ms.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::ledger {

struct Period {
  int32_t year = 1970;
  uint32_t month = 1;  // 1..12

  auto operator<=>(const Period&) const = default;
};

// The UTC calendar month that contains now_ms.
Period period_of(int64_t now_ms);
// "YYYY-MM" (years 0..9999; others are written with as many digits as needed).
std::string period_name(Period period);
// period_name(period_of(now_ms)).
std::string period_name_of(int64_t now_ms);
// Inverse of period_name for "YYYY-MM" with a month 01..12; nullopt otherwise.
std::optional<Period> parse_period(std::string_view text);

Period previous_period(Period period);
Period next_period(Period period);
// The `count` periods ending with `newest`, newest first (history order).
std::vector<Period> last_periods(Period newest, size_t count);

// Unix ms of the first millisecond of the period (00:00:00.000 UTC on day 1).
int64_t period_start_ms(Period period);

// The UTC day number of now_ms (days since 1970-01-01, floored).
int64_t utc_day(int64_t now_ms);

}  // namespace tollgate::ledger
