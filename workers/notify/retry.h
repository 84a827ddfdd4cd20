// When a failing notification destination may be tried again, and what one
// delivery attempt's answer means. Pure: time comes in as a value and the
// random draw from a source the caller injects, so the schedule is unit
// tested with a ManualClock and fixed draws (tests/unit/notify_retry_test.cpp).
//
// Backoff is per destination: a destination that fails waits alone; the
// others keep delivering. The delay after the n-th consecutive failure is
// full jitter (policy/backoff.h): uniform in [0, min(max_ms, min_ms * 2^(n-1))).
#pragma once

#include <cstdint>
#include <functional>

#include "daemon/core/clock.h"

namespace tollgate::notify {

struct RetryPolicy {
  int64_t min_ms = 1000;    // the first delay's ceiling
  int64_t max_ms = 300000;  // the cap (5 minutes)
};

// A source of draws in [0, 1); the Notifier's is a seeded std::mt19937_64.
using RandomSource = std::function<double()>;

// One destination's backoff state. Not thread-safe (the Notifier's thread
// owns it).
class DestinationBackoff {
 public:
  explicit DestinationBackoff(RetryPolicy policy) : policy_(policy) {}

  // An attempt failed at `now`: the next one is due after a full-jitter
  // delay. Returns that delay in milliseconds.
  int64_t failed(Clock::SteadyTime now, double random_01);
  // An attempt succeeded: no wait, the doubling starts over.
  void succeeded();
  bool ready(Clock::SteadyTime now) const { return now >= due_; }
  Clock::SteadyTime due() const { return due_; }
  uint32_t failures() const { return failures_; }

 private:
  RetryPolicy policy_;
  uint32_t failures_ = 0;
  Clock::SteadyTime due_{};
};

// What one attempt's answer says.
enum class Outcome {
  kDelivered,  // 2xx; SMTP accepted the message
  kRetry,      // worth retrying: no answer (connect error, timeout), 408, 425, 429, 5xx, SMTP 4xx
  kRefused,    // the receiver refused this request: another 4xx (or 1xx/3xx), SMTP 5xx,
               // login denied, no STARTTLS when required
};

// A webhook attempt: `answered` is false when no HTTP status came back.
Outcome http_outcome(bool answered, long status);
// An e-mail attempt: `sent` when libcurl finished without error, the last
// SMTP reply code (0 when none), and `refused`: the login was denied, or
// STARTTLS is required and the server does not offer it.
Outcome smtp_outcome(bool sent, long reply_code, bool refused);

// After an attempt: deliver the next item, try this one again later, or
// give it up (logged, counted as failed, removed so the destination's later
// alerts are not stuck behind it).
enum class NextStep { kNext, kRetryLater, kGiveUp };
// `refusals`: consecutive refusals of this item including this attempt;
// `give_up_after` 0 never gives up. Retryable failures never give up: a
// receiver that is down delays delivery, never loses it.
NextStep next_step(Outcome outcome, uint32_t refusals, uint32_t give_up_after);

}  // namespace tollgate::notify
