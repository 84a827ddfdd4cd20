#include "daemon/core/policy/backoff.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tollgate::policy {
namespace {

// base_ms * 2^(attempt-1), capped, without overflow.
int64_t jitter_ceiling(uint32_t attempt, int64_t base_ms, int64_t cap_ms) {
  if (base_ms <= 0 || cap_ms <= 0) return 0;
  int64_t ceiling = base_ms;
  for (uint32_t i = 1; i < attempt && ceiling < cap_ms; ++i) {
    ceiling = ceiling > std::numeric_limits<int64_t>::max() / 2 ? cap_ms : ceiling * 2;
  }
  return std::min(ceiling, cap_ms);
}

}  // namespace

BackoffDecision backoff_delay_ms(uint32_t attempt, int64_t base_ms, int64_t cap_ms,
                                 std::optional<int64_t> retry_after_ms,
                                 int64_t deadline_remaining_ms, double random_01) {
  // NaN fails both comparisons and becomes 0.
  double r = random_01 > 0.0 ? random_01 : 0.0;
  if (!(r < 1.0)) r = std::nextafter(1.0, 0.0);
  const int64_t ceiling = jitter_ceiling(std::max<uint32_t>(attempt, 1), base_ms, cap_ms);
  int64_t delay = static_cast<int64_t>(std::floor(r * static_cast<double>(ceiling)));
  if (retry_after_ms && *retry_after_ms > delay) delay = *retry_after_ms;
  if (deadline_remaining_ms <= 0 || delay >= deadline_remaining_ms) return BackoffDecision{true, 0};
  return BackoffDecision{false, delay};
}

bool is_retryable_http_status(int status) {
  switch (status) {
    case 429: case 500: case 502: case 503: case 504: case 529: return true;
    default: return false;
  }
}

}  // namespace tollgate::policy
