// Period and day arithmetic with fixed unix-ms values (no clock reads).
#include <catch2/catch.hpp>

#include "daemon/core/period.h"

using tollgate::ledger::last_periods;
using tollgate::ledger::next_period;
using tollgate::ledger::parse_period;
using tollgate::ledger::Period;
using tollgate::ledger::period_name;
using tollgate::ledger::period_name_of;
using tollgate::ledger::period_of;
using tollgate::ledger::period_start_ms;
using tollgate::ledger::previous_period;
using tollgate::ledger::utc_day;

namespace {
constexpr int64_t kLeapDayNoon2024 = 1709208000000;     // 2024-02-29T12:00:00Z
constexpr int64_t kMarchFirst2024 = 1709251200000;      // 2024-03-01T00:00:00Z
constexpr int64_t kLastMs2023 = 1704067199999;          // 2023-12-31T23:59:59.999Z
constexpr int64_t kFirstMs2024 = 1704067200000;         // 2024-01-01T00:00:00Z
constexpr int64_t kLastMsFeb2023 = 1677628799999;       // 2023-02-28T23:59:59.999Z
constexpr int64_t kMarchFirst2023 = 1677628800000;      // 2023-03-01T00:00:00Z
}  // namespace

TEST_CASE("the period of a time is its utc calendar month") {
  CHECK(period_name_of(kLeapDayNoon2024) == "2024-02");
  CHECK(period_name_of(kMarchFirst2024) == "2024-03");
  CHECK(period_name_of(kMarchFirst2024 - 1) == "2024-02");
  CHECK(period_name_of(kLastMsFeb2023) == "2023-02");
  CHECK(period_name_of(kMarchFirst2023) == "2023-03");
  CHECK(period_name_of(0) == "1970-01");
}

TEST_CASE("the last millisecond of a year and the first of the next fall in december and january") {
  CHECK(period_of(kLastMs2023) == Period{2023, 12});
  CHECK(period_of(kFirstMs2024) == Period{2024, 1});
  CHECK(next_period(Period{2023, 12}) == Period{2024, 1});
  CHECK(previous_period(Period{2024, 1}) == Period{2023, 12});
}

TEST_CASE("times before the epoch are floored into the previous period and day") {
  CHECK(period_name_of(-1) == "1969-12");
  CHECK(utc_day(-1) == -1);
  CHECK(utc_day(0) == 0);
}

TEST_CASE("utc days change exactly at midnight") {
  CHECK(utc_day(kFirstMs2024) == utc_day(kLastMs2023) + 1);
  CHECK(utc_day(kFirstMs2024) == 19723);
  CHECK(utc_day(kMarchFirst2024) - utc_day(kFirstMs2024) == 31 + 29);  // leap year
  CHECK(utc_day(kMarchFirst2023) - utc_day(kLastMsFeb2023) == 1);
}

TEST_CASE("period start is the first millisecond of the month") {
  CHECK(period_start_ms(Period{2024, 3}) == kMarchFirst2024);
  CHECK(period_start_ms(Period{2024, 1}) == kFirstMs2024);
  CHECK(period_start_ms(Period{2023, 3}) == kMarchFirst2023);
  CHECK(period_start_ms(Period{1970, 1}) == 0);
}

TEST_CASE("the last n periods run newest first across a year boundary") {
  const auto periods = last_periods(Period{2024, 2}, 4);
  REQUIRE(periods.size() == 4);
  CHECK(period_name(periods[0]) == "2024-02");
  CHECK(period_name(periods[1]) == "2024-01");
  CHECK(period_name(periods[2]) == "2023-12");
  CHECK(period_name(periods[3]) == "2023-11");
  CHECK(last_periods(Period{2024, 2}, 0).empty());
  CHECK(last_periods(Period{2024, 2}, 120).back() == Period{2014, 3});
}

TEST_CASE("period names parse back and malformed names are refused") {
  for (const char* name : {"2024-01", "1999-12", "0001-06"}) {
    const auto p = parse_period(name);
    REQUIRE(p.has_value());
    CHECK(period_name(*p) == name);
  }
  for (const char* bad : {"2024-13", "2024-00", "2024-1", "2024/01", "24-01-01", "", "abcd-ef"}) {
    CHECK_FALSE(parse_period(bad).has_value());
  }
}
