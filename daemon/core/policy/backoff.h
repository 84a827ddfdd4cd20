// Retry schedule for one provider call: exponential backoff with full
// jitter (AWS architecture blog, "Exponential Backoff And Jitter"),
// honouring the provider's Retry-After and the call's deadline.
//
// Pure: the random draw is a parameter, so the schedule is reproducible in
// tests; the worker passes a value from its own per-thread generator.
#pragma once

#include <cstdint>
#include <optional>

namespace tollgate::policy {

struct BackoffDecision {
  bool give_up = false;  // no retry fits before the deadline
  int64_t delay_ms = 0;  // wait this long before the next attempt (0 when giving up)
};

// attempt: how many attempts have failed so far (1 before the first retry).
// The jitter ceiling is min(cap_ms, base_ms * 2^(attempt-1)); the delay is
// random_01 * ceiling (random_01 in [0, 1), clamped), then at least
// retry_after_ms when the provider sent one (Retry-After may exceed
// cap_ms: the provider's word wins). If that delay would reach or pass the
// call's remaining deadline (deadline_remaining_ms, <= delay), retrying is
// pointless: give_up. A negative or zero remaining deadline gives up.
BackoffDecision backoff_delay_ms(uint32_t attempt, int64_t base_ms, int64_t cap_ms,
                                 std::optional<int64_t> retry_after_ms,
                                 int64_t deadline_remaining_ms, double random_01);

// PROTOCOL.md section 3 rule 3: 429, 500, 502, 503, 504 and 529 are
// retried (so are connection errors and timeouts, which have no status).
bool is_retryable_http_status(int status);

}  // namespace tollgate::policy
