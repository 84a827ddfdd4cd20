#include <catch2/catch.hpp>

#include <limits>

#include "daemon/core/policy/backoff.h"

using tollgate::policy::backoff_delay_ms;

namespace {

constexpr int64_t kBase = 500;
constexpr int64_t kCap = 8000;
constexpr int64_t kLots = 1'000'000;  // a deadline far away
constexpr double kTop = 0.999999;     // a draw just under 1

}  // namespace

TEST_CASE("the backoff ceiling doubles with each attempt up to the cap") {
  int64_t expected_ceiling = kBase;
  int64_t previous = -1;
  for (uint32_t attempt = 1; attempt <= 8; ++attempt) {
    auto d = backoff_delay_ms(attempt, kBase, kCap, std::nullopt, kLots, kTop);
    REQUIRE_FALSE(d.give_up);
    CHECK(d.delay_ms < expected_ceiling);
    CHECK(d.delay_ms >= expected_ceiling - 1);
    CHECK(d.delay_ms >= previous);
    previous = d.delay_ms;
    expected_ceiling = std::min(expected_ceiling * 2, kCap);
  }
  CHECK(previous == kCap - 1);
}

TEST_CASE("full jitter keeps the delay between zero and the ceiling") {
  for (double r : {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, kTop}) {
    auto d = backoff_delay_ms(3, kBase, kCap, std::nullopt, kLots, r);
    REQUIRE_FALSE(d.give_up);
    CHECK(d.delay_ms >= 0);
    CHECK(d.delay_ms < 2000);
    CHECK(d.delay_ms == static_cast<int64_t>(r * 2000));
  }
}

TEST_CASE("random draws outside zero to one are clamped") {
  CHECK(backoff_delay_ms(2, kBase, kCap, std::nullopt, kLots, -3.0).delay_ms == 0);
  CHECK(backoff_delay_ms(2, kBase, kCap, std::nullopt, kLots, 7.0).delay_ms == 999);
  CHECK(backoff_delay_ms(2, kBase, kCap, std::nullopt, kLots,
                         std::numeric_limits<double>::quiet_NaN())
            .delay_ms == 0);
}

TEST_CASE("Retry-After sets the minimum wait") {
  auto d = backoff_delay_ms(1, kBase, kCap, int64_t{3000}, kLots, 0.0);
  CHECK_FALSE(d.give_up);
  CHECK(d.delay_ms == 3000);
  // A jittered delay longer than Retry-After stands.
  auto e = backoff_delay_ms(5, kBase, kCap, int64_t{100}, kLots, 0.5);
  CHECK(e.delay_ms == 4000);
}

TEST_CASE("Retry-After longer than the cap is still honoured") {
  auto d = backoff_delay_ms(1, kBase, kCap, int64_t{20000}, kLots, 0.5);
  CHECK_FALSE(d.give_up);
  CHECK(d.delay_ms == 20000);
}

TEST_CASE("a wait that reaches the deadline gives up") {
  CHECK(backoff_delay_ms(1, kBase, kCap, int64_t{5000}, 5000, 0.0).give_up);
  CHECK(backoff_delay_ms(1, kBase, kCap, int64_t{5000}, 4000, 0.0).give_up);
  CHECK_FALSE(backoff_delay_ms(1, kBase, kCap, int64_t{5000}, 5001, 0.0).give_up);
  CHECK(backoff_delay_ms(4, kBase, kCap, std::nullopt, 1000, 0.5).give_up);
  CHECK_FALSE(backoff_delay_ms(4, kBase, kCap, std::nullopt, 1000, 0.1).give_up);
}

TEST_CASE("a passed deadline gives up even with no wait") {
  CHECK(backoff_delay_ms(1, kBase, kCap, std::nullopt, 0, 0.0).give_up);
  CHECK(backoff_delay_ms(1, kBase, kCap, std::nullopt, -50, 0.0).give_up);
}

TEST_CASE("huge attempt numbers do not overflow") {
  auto d = backoff_delay_ms(10'000, kBase, kCap, std::nullopt, kLots, kTop);
  CHECK_FALSE(d.give_up);
  CHECK(d.delay_ms == kCap - 1);
  auto e = backoff_delay_ms(200, std::numeric_limits<int64_t>::max() / 4,
                            std::numeric_limits<int64_t>::max(), std::nullopt,
                            std::numeric_limits<int64_t>::max(), 0.0);
  CHECK(e.delay_ms == 0);
}

TEST_CASE("the protocol retryable statuses are retried and others are not") {
  using tollgate::policy::is_retryable_http_status;
  for (int s : {429, 500, 502, 503, 504, 529}) CHECK(is_retryable_http_status(s));
  for (int s : {200, 400, 401, 403, 404, 413, 501, 505}) CHECK_FALSE(is_retryable_http_status(s));
}
