#include "workers/notify/retry.h"

#include <chrono>
#include <limits>

#include "daemon/core/policy/backoff.h"

namespace tollgate::notify {

int64_t DestinationBackoff::failed(Clock::SteadyTime now, double random_01) {
  if (failures_ < 62) ++failures_;  // the ceiling is capped long before this
  const auto d = policy::backoff_delay_ms(failures_, policy_.min_ms, policy_.max_ms, std::nullopt,
                                          std::numeric_limits<int64_t>::max(), random_01);
  due_ = now + std::chrono::milliseconds(d.delay_ms);
  return d.delay_ms;
}

void DestinationBackoff::succeeded() {
  failures_ = 0;
  due_ = Clock::SteadyTime{};
}

Outcome http_outcome(bool answered, long status) {
  if (!answered) return Outcome::kRetry;
  if (status >= 200 && status < 300) return Outcome::kDelivered;
  if (status == 408 || status == 425 || status == 429 || status >= 500) return Outcome::kRetry;
  return Outcome::kRefused;
}

Outcome smtp_outcome(bool sent, long reply_code, bool refused) {
  if (sent) return Outcome::kDelivered;
  if (refused || (reply_code >= 500 && reply_code < 600)) return Outcome::kRefused;
  return Outcome::kRetry;
}

NextStep next_step(Outcome outcome, uint32_t refusals, uint32_t give_up_after) {
  switch (outcome) {
    case Outcome::kDelivered: return NextStep::kNext;
    case Outcome::kRetry: return NextStep::kRetryLater;
    case Outcome::kRefused:
      return give_up_after != 0 && refusals >= give_up_after ? NextStep::kGiveUp
                                                             : NextStep::kRetryLater;
  }
  return NextStep::kRetryLater;
}

}  // namespace tollgate::notify
