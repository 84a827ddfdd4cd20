#include <catch2/catch.hpp>

#include <vector>

#include "daemon/core/policy/rate_window.h"

using tollgate::policy::kDayMs;
using tollgate::policy::RateLimits;
using tollgate::policy::RateWindow;

namespace {

// 2023-11-14T22:13:20Z: not on a day boundary.
constexpr int64_t kT0 = 1'700'000'000'000;

}  // namespace

TEST_CASE("the minute window admits exactly the limit and refuses the next request") {
  RateWindow w(RateLimits{3, 0});
  CHECK(w.try_acquire(kT0, 0).allowed);
  CHECK(w.try_acquire(kT0 + 10, 0).allowed);
  CHECK(w.try_acquire(kT0 + 20, 0).allowed);
  auto d = w.try_acquire(kT0 + 30, 0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_ms == 60000 - 30);
  CHECK(w.minute_used(kT0 + 30) == 3);
}

TEST_CASE("a minute slot frees exactly sixty seconds after the request that took it") {
  RateWindow w(RateLimits{2, 0});
  w.record(kT0);
  w.record(kT0 + 5000);
  CHECK_FALSE(w.check(kT0 + 59999, 0).allowed);
  CHECK(w.check(kT0 + 59999, 0).retry_after_ms == 1);
  CHECK(w.try_acquire(kT0 + 60000, 0).allowed);
  CHECK_FALSE(w.check(kT0 + 60001, 0).allowed);
  CHECK(w.check(kT0 + 60001, 0).retry_after_ms == 4999);
  CHECK(w.check(kT0 + 65000, 0).allowed);
}

TEST_CASE("no sixty second interval ever holds more admitted requests than the limit") {
  constexpr uint32_t kLimit = 7;
  RateWindow w(RateLimits{kLimit, 0});
  std::vector<int64_t> admitted;
  // A client hammering every 250 ms for five minutes, with uneven gaps.
  for (int64_t t = kT0; t < kT0 + 300000; t += 250 + (t / 250) % 3) {
    if (w.try_acquire(t, 0).allowed) admitted.push_back(t);
  }
  for (size_t i = 0; i < admitted.size(); ++i) {
    size_t in_window = 0;
    for (size_t j = i; j < admitted.size() && admitted[j] < admitted[i] + 60000; ++j) ++in_window;
    CHECK(in_window <= kLimit);
  }
  // And the window does not under-admit: five full minutes of demand.
  CHECK(admitted.size() == 5 * kLimit);
}

TEST_CASE("the day limit refuses until the next UTC midnight") {
  RateWindow w(RateLimits{0, 100});
  CHECK(w.check(kT0, 99).allowed);
  auto d = w.check(kT0, 100);
  CHECK_FALSE(d.allowed);
  const int64_t midnight = (kT0 / kDayMs + 1) * kDayMs;
  CHECK(d.retry_after_ms == midnight - kT0);
  CHECK_FALSE(w.check(kT0, 250).allowed);
}

TEST_CASE("when both limits are full the wait is the longer one") {
  RateWindow w(RateLimits{1, 10});
  w.record(kT0);
  auto d = w.check(kT0 + 1000, 10);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_ms == tollgate::policy::ms_until_next_utc_day(kT0 + 1000));
  CHECK(d.retry_after_ms > 59000);
}

TEST_CASE("a refused try_acquire records nothing") {
  RateWindow w(RateLimits{1, 0});
  CHECK(w.try_acquire(kT0, 0).allowed);
  CHECK_FALSE(w.try_acquire(kT0 + 100, 0).allowed);
  CHECK(w.minute_used(kT0 + 100) == 1);
  CHECK(w.try_acquire(kT0 + 60000, 0).allowed);
}

TEST_CASE("zero limits mean unlimited but requests are still counted") {
  RateWindow w(RateLimits{0, 0});
  for (int i = 0; i < 500; ++i) CHECK(w.try_acquire(kT0 + i, 1'000'000).allowed);
  CHECK(w.minute_used(kT0 + 500) == 500);
  CHECK(w.minute_used(kT0 + 60000) == 499);
}

TEST_CASE("minute usage forgets requests older than sixty seconds") {
  RateWindow w(RateLimits{10, 0});
  w.record(kT0);
  w.record(kT0 + 30000);
  CHECK(w.minute_used(kT0 + 59999) == 2);
  CHECK(w.minute_used(kT0 + 60000) == 1);
  CHECK(w.minute_used(kT0 + 90000) == 0);
}

TEST_CASE("shrinking the minute limit keeps the window full") {
  RateWindow w(RateLimits{5, 0});
  for (int i = 0; i < 5; ++i) w.record(kT0 + i);
  w.set_limits(RateLimits{2, 0});
  CHECK_FALSE(w.check(kT0 + 10, 0).allowed);
  CHECK(w.check(kT0 + 10, 0).retry_after_ms == 60000 + 3 - 10);
}

TEST_CASE("UTC day arithmetic matches calendar midnights") {
  using tollgate::policy::ms_until_next_utc_day;
  using tollgate::policy::utc_day;
  CHECK(utc_day(0) == 0);
  CHECK(utc_day(kDayMs - 1) == 0);
  CHECK(utc_day(kDayMs) == 1);
  CHECK(utc_day(-1) == -1);
  CHECK(ms_until_next_utc_day(kDayMs) == kDayMs);
  CHECK(ms_until_next_utc_day(kDayMs - 1) == 1);
  // 2024-03-01T00:00:00Z is 1709251200 s.
  CHECK(ms_until_next_utc_day(1'709'251'200'000 - 1000) == 1000);
}

TEST_CASE("a request never sent gives its slot back and a stored window restores what it kept") {
  RateWindow w(RateLimits{2, 0});
  w.record(kT0);
  w.record(kT0 + 5);
  CHECK_FALSE(w.check(kT0 + 6, 0).allowed);
  w.forget(kT0 + 5);
  CHECK(w.check(kT0 + 6, 0).allowed);
  w.forget(kT0 + 3);  // nothing was recorded then: nothing is given back
  CHECK(w.minute_used(kT0 + 6) == 1);
  w.record(kT0 + 7);
  const std::vector<int64_t> kept = w.sent_in_window(kT0 + 60000);  // kT0 aged out
  CHECK(kept == std::vector<int64_t>{kT0 + 7});
  RateWindow restored(RateLimits{2, 0}, {kT0, kT0 + 7});
  CHECK_FALSE(restored.check(kT0 + 8, 0).allowed);
  CHECK(restored.check(kT0 + 8, 0).retry_after_ms == 60000 - 8);
}
