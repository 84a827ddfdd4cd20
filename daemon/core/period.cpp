#include "daemon/core/period.h"

#include <chrono>
#include <cstdio>

namespace tollgate::ledger {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::sys_time;
using std::chrono::year_month_day;

sys_days day_of(int64_t now_ms) {
  return floor<days>(sys_time<milliseconds>(milliseconds(now_ms)));
}

}  // namespace

Period period_of(int64_t now_ms) {
  const year_month_day ymd{day_of(now_ms)};
  return Period{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month())};
}

std::string period_name(Period period) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u", period.year, period.month);
  return buf;
}

std::string period_name_of(int64_t now_ms) { return period_name(period_of(now_ms)); }

std::optional<Period> parse_period(std::string_view text) {
  if (text.size() != 7 || text[4] != '-') return std::nullopt;
  int32_t year = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    year = year * 10 + (text[i] - '0');
  }
  if (text[5] < '0' || text[5] > '9' || text[6] < '0' || text[6] > '9') return std::nullopt;
  const uint32_t month = static_cast<uint32_t>((text[5] - '0') * 10 + (text[6] - '0'));
  if (month < 1 || month > 12) return std::nullopt;
  return Period{year, month};
}

Period previous_period(Period period) {
  if (period.month <= 1) return Period{period.year - 1, 12};
  return Period{period.year, period.month - 1};
}

Period next_period(Period period) {
  if (period.month >= 12) return Period{period.year + 1, 1};
  return Period{period.year, period.month + 1};
}

std::vector<Period> last_periods(Period newest, size_t count) {
  std::vector<Period> out;
  out.reserve(count);
  Period p = newest;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(p);
    p = previous_period(p);
  }
  return out;
}

int64_t period_start_ms(Period period) {
  const sys_days first{std::chrono::year{period.year} / std::chrono::month{period.month} /
                       std::chrono::day{1}};
  return std::chrono::duration_cast<milliseconds>(first.time_since_epoch()).count();
}

int64_t utc_day(int64_t now_ms) { return day_of(now_ms).time_since_epoch().count(); }

}  // namespace tollgate::ledger
