// tollbench's reading of the daemon's /metrics page: histogram buckets, and
// the percentiles of what was observed between two readings.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "tools/tollbench/daemon_probe.h"

using namespace tollgate::tollbench;

namespace {

const char* kPage =
    "# TYPE tollgate_call_other_seconds histogram\n"
    "tollgate_call_other_seconds_bucket{le=\"0.0001\"} 10\n"
    "tollgate_call_other_seconds_bucket{le=\"0.0002\"} 50\n"
    "tollgate_call_other_seconds_bucket{le=\"0.001\"} 90\n"
    "tollgate_call_other_seconds_bucket{le=\"+Inf\"} 100\n"
    "tollgate_call_other_seconds_sum 0.03\n"
    "tollgate_call_other_seconds_count 100\n"
    "tollgate_call_other_seconds_total_bogus{le=\"1\"} 7\n";

}  // namespace

TEST_CASE("a histogram's buckets are read from a metrics page with the +Inf bucket last") {
  const Buckets b = prometheus_buckets(kPage, "tollgate_call_other_seconds");
  REQUIRE(b.size() == 4);
  CHECK(b[0].first == Approx(0.0001));
  CHECK(b[1].second == 50);
  CHECK(std::isinf(b[3].first));
  CHECK(b[3].second == 100);
  CHECK(prometheus_buckets(kPage, "tollgate_call_duration_seconds").empty());
  CHECK(*prometheus_sample(kPage, "tollgate_call_other_seconds_count") == 100);
}

TEST_CASE("a percentile is interpolated within its bucket of the observations between readings") {
  const Buckets after = prometheus_buckets(kPage, "tollgate_call_other_seconds");
  // From nothing: the median (rank 50) ends the second bucket exactly.
  CHECK(*bucket_quantile({}, after, 0.5) == Approx(0.0002));
  // Rank 30 is halfway through the second bucket's 40 observations.
  CHECK(*bucket_quantile({}, after, 0.3) == Approx(0.00015));
  // Rank 99 is in the +Inf bucket: the highest finite bound.
  CHECK(*bucket_quantile({}, after, 0.99) == Approx(0.001));
  // Only what came after the first reading counts: with 0, 20, 20 and 10
  // in the buckets then, 10, 20, 20 and 0 came between the readings.
  const Buckets before = {{0.0001, 0}, {0.0002, 20}, {0.001, 40}, {INFINITY, 50}};
  CHECK(*bucket_quantile(before, after, 0.5) == Approx(0.0001 + 0.0001 * (25.0 - 10) / 20));
  CHECK(*bucket_quantile(before, after, 0.9) == Approx(0.0002 + 0.0008 * (45.0 - 30) / 20));
  CHECK_FALSE(bucket_quantile(after, after, 0.5));  // nothing observed between them
  CHECK_FALSE(bucket_quantile({{1, 0}}, after, 0.5));  // readings of different histograms
}
