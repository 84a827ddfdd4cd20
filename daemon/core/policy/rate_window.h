// Local request-rate limit of one provider: requests per minute as an exact
// sliding window, plus requests per UTC day.
//
// Minute window: the timestamps of the admitted requests of the last 60 s
// (at most per_minute of them are kept). A request at now_ms is admitted
// when fewer than per_minute recorded requests lie in (now_ms - 60000,
// now_ms]; so any 60 000 ms interval [a, a + 60000) holds at most
// per_minute admitted requests, and a slot frees exactly 60 000 ms after
// the request that took it.
//
// Day count: the caller supplies today's count (the ledger keeps per-day
// counters so they survive a restart) and increments it itself when it
// records a request. The day is the UTC calendar day of now_ms.
//
// Count every HTTP request actually sent to the provider, retries
// included: that is what the provider's own limit counts.
//
// Limits of 0 mean unlimited. With an unlimited minute limit the window
// still counts requests for display, up to kMaxTrackedUnlimited.
//
// A window can be stored and restored (sent_in_window and the restoring
// constructor): a shared ledger keeps one per provider, so that several
// daemons are held to one limit (PROTOCOL.md section 12).
//
// No clock reads; value type; not thread-safe (the owner guards it).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

namespace tollgate::policy {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kDayMs = 86'400'000;

struct RateLimits {
  uint32_t per_minute = 0;  // 0 = unlimited (ANTHROPIC_RPM, OPENAI_RPM)
  uint32_t per_day = 0;     // 0 = unlimited (ANTHROPIC_RPD, OPENAI_RPD)
};

struct RateDecision {
  bool allowed = true;
  int64_t retry_after_ms = 0;  // when refused: wait at least this long; 0 when allowed
};

class RateWindow {
 public:
  static constexpr uint32_t kMaxTrackedUnlimited = 10'000;

  explicit RateWindow(RateLimits limits = {});
  // A stored window: sent_ms as sent_in_window returned it (entries out of
  // order are clamped as record() does).
  RateWindow(RateLimits limits, const std::vector<int64_t>& sent_ms);

  // Would a request at now_ms be admitted, given today's day_count?
  // When both limits are full, retry_after_ms is the later of the two.
  RateDecision check(int64_t now_ms, uint64_t day_count) const;
  // Records a request sent at now_ms. Call after an allowed check (or use
  // try_acquire); now_ms must not go backwards by more than the window.
  void record(int64_t now_ms);
  // Gives back the slot of a request recorded at sent_ms that was never
  // sent. Nothing when no request is recorded at exactly that time (one
  // clamped by a clock step stays: conservative).
  void forget(int64_t sent_ms);
  // check() and, when allowed, record() in one step.
  RateDecision try_acquire(int64_t now_ms, uint64_t day_count);

  // Requests recorded in (now_ms - 60000, now_ms], for provider_status.
  uint32_t minute_used(int64_t now_ms) const;
  // The recorded requests in (now_ms - 60000, now_ms], ascending: what a
  // stored window keeps.
  std::vector<int64_t> sent_in_window(int64_t now_ms) const;
  const RateLimits& limits() const { return limits_; }
  // SIGHUP reload. Shrinking the minute limit keeps the newest requests.
  void set_limits(RateLimits limits);

 private:
  uint32_t capacity() const;
  void trim(int64_t now_ms);

  RateLimits limits_;
  std::deque<int64_t> sent_ms_;  // ascending (out-of-order records are clamped)
};

// Milliseconds from now_ms to the next UTC midnight (1..86400000).
int64_t ms_until_next_utc_day(int64_t now_ms);
// The UTC day number of now_ms (days since 1970-01-01), the ledger's key.
int64_t utc_day(int64_t now_ms);

}  // namespace tollgate::policy
