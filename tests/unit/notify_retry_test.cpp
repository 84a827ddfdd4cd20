// The notification retry schedule and the meaning of an attempt's answer
// (workers/notify/retry.h): pure, a ManualClock and fixed draws, no sleeps.
#include <catch2/catch.hpp>

#include <chrono>

#include "daemon/core/clock.h"
#include "workers/notify/retry.h"

using namespace std::chrono_literals;
using tollgate::ManualClock;
using tollgate::notify::DestinationBackoff;
using tollgate::notify::http_outcome;
using tollgate::notify::next_step;
using tollgate::notify::NextStep;
using tollgate::notify::Outcome;
using tollgate::notify::RetryPolicy;
using tollgate::notify::smtp_outcome;

namespace {
constexpr double kTop = 0.999999;  // a draw just under 1: the delay is the ceiling
}

TEST_CASE("a destination that never failed is ready at once") {
  ManualClock clock;
  DestinationBackoff b(RetryPolicy{1000, 300000});
  CHECK(b.ready(clock.steady_now()));
  CHECK(b.failures() == 0);
}

TEST_CASE("the notify backoff ceiling doubles from one second up to five minutes") {
  ManualClock clock;
  DestinationBackoff b(RetryPolicy{1000, 300000});
  int64_t ceiling = 1000;
  for (int i = 1; i <= 12; ++i) {
    const int64_t d = b.failed(clock.steady_now(), kTop);
    INFO("failure " << i);
    CHECK(d == ceiling - 1);
    CHECK(b.failures() == static_cast<uint32_t>(i));
    ceiling = std::min<int64_t>(ceiling * 2, 300000);
  }
  CHECK(b.failed(clock.steady_now(), kTop) == 299999);
}

TEST_CASE("full jitter draws the delay anywhere below the ceiling") {
  ManualClock clock;
  DestinationBackoff b(RetryPolicy{1000, 300000});
  CHECK(b.failed(clock.steady_now(), 0.0) == 0);
  CHECK(b.failed(clock.steady_now(), 0.5) == 1000);   // second failure: ceiling 2000
  CHECK(b.failed(clock.steady_now(), 0.25) == 1000);  // third: ceiling 4000
}

TEST_CASE("a failed destination is ready again exactly when its delay has passed") {
  ManualClock clock;
  DestinationBackoff b(RetryPolicy{1000, 300000});
  const int64_t d = b.failed(clock.steady_now(), 0.5);
  REQUIRE(d == 500);
  CHECK_FALSE(b.ready(clock.steady_now()));
  clock.advance(499ms);
  CHECK_FALSE(b.ready(clock.steady_now()));
  clock.advance(1ms);
  CHECK(b.ready(clock.steady_now()));
}

TEST_CASE("a success resets the doubling") {
  ManualClock clock;
  DestinationBackoff b(RetryPolicy{1000, 300000});
  b.failed(clock.steady_now(), kTop);
  b.failed(clock.steady_now(), kTop);
  b.failed(clock.steady_now(), kTop);
  b.succeeded();
  CHECK(b.failures() == 0);
  CHECK(b.ready(clock.steady_now()));
  CHECK(b.failed(clock.steady_now(), kTop) == 999);
}

TEST_CASE("each destination keeps its own backoff") {
  ManualClock clock;
  DestinationBackoff down(RetryPolicy{1000, 300000});
  DestinationBackoff up(RetryPolicy{1000, 300000});
  for (int i = 0; i < 5; ++i) down.failed(clock.steady_now(), kTop);
  CHECK_FALSE(down.ready(clock.steady_now()));
  CHECK(up.ready(clock.steady_now()));
}

TEST_CASE("a 2xx is delivered and 408 425 429 and 5xx are retried") {
  CHECK(http_outcome(true, 200) == Outcome::kDelivered);
  CHECK(http_outcome(true, 204) == Outcome::kDelivered);
  for (long s : {408L, 425L, 429L, 500L, 502L, 503L, 504L}) {
    INFO(s);
    CHECK(http_outcome(true, s) == Outcome::kRetry);
  }
  CHECK(http_outcome(false, 0) == Outcome::kRetry);
}

TEST_CASE("another 4xx or a redirect is a refusal") {
  for (long s : {301L, 400L, 401L, 403L, 404L, 410L, 413L, 422L}) {
    INFO(s);
    CHECK(http_outcome(true, s) == Outcome::kRefused);
  }
}

TEST_CASE("an SMTP 5xx or a refused login is a refusal and anything else unsent is retried") {
  CHECK(smtp_outcome(true, 250, false) == Outcome::kDelivered);
  CHECK(smtp_outcome(false, 550, false) == Outcome::kRefused);
  CHECK(smtp_outcome(false, 535, true) == Outcome::kRefused);
  CHECK(smtp_outcome(false, 451, false) == Outcome::kRetry);
  CHECK(smtp_outcome(false, 0, false) == Outcome::kRetry);
}

TEST_CASE("retryable failures never give up and refusals give up after the configured count") {
  CHECK(next_step(Outcome::kDelivered, 0, 20) == NextStep::kNext);
  CHECK(next_step(Outcome::kRetry, 0, 1) == NextStep::kRetryLater);
  CHECK(next_step(Outcome::kRefused, 19, 20) == NextStep::kRetryLater);
  CHECK(next_step(Outcome::kRefused, 20, 20) == NextStep::kGiveUp);
  CHECK(next_step(Outcome::kRefused, 1000, 0) == NextStep::kRetryLater);
}
