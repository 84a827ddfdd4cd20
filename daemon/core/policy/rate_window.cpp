#include "daemon/core/policy/rate_window.h"

#include <algorithm>

namespace tollgate::policy {

int64_t utc_day(int64_t now_ms) {
  // Floor division, so times before 1970 still land in the right day.
  int64_t day = now_ms / kDayMs;
  if (now_ms % kDayMs < 0) --day;
  return day;
}

int64_t ms_until_next_utc_day(int64_t now_ms) {
  return (utc_day(now_ms) + 1) * kDayMs - now_ms;
}

RateWindow::RateWindow(RateLimits limits) : limits_(limits) {}

RateWindow::RateWindow(RateLimits limits, const std::vector<int64_t>& sent_ms) : limits_(limits) {
  for (const int64_t t : sent_ms) {
    sent_ms_.push_back(sent_ms_.empty() ? t : std::max(t, sent_ms_.back()));
  }
  while (sent_ms_.size() > capacity()) sent_ms_.pop_front();
}

uint32_t RateWindow::capacity() const {
  return limits_.per_minute == 0 ? kMaxTrackedUnlimited : limits_.per_minute;
}

void RateWindow::trim(int64_t now_ms) {
  while (!sent_ms_.empty() && sent_ms_.front() <= now_ms - kMinuteMs) sent_ms_.pop_front();
}

uint32_t RateWindow::minute_used(int64_t now_ms) const {
  // sent_ms_ is ascending: count the entries newer than the window start.
  auto first = std::upper_bound(sent_ms_.begin(), sent_ms_.end(), now_ms - kMinuteMs);
  return static_cast<uint32_t>(sent_ms_.end() - first);
}

std::vector<int64_t> RateWindow::sent_in_window(int64_t now_ms) const {
  auto first = std::upper_bound(sent_ms_.begin(), sent_ms_.end(), now_ms - kMinuteMs);
  return {first, sent_ms_.end()};
}

RateDecision RateWindow::check(int64_t now_ms, uint64_t day_count) const {
  RateDecision d;
  if (limits_.per_minute != 0 && minute_used(now_ms) >= limits_.per_minute) {
    // The oldest request inside the window frees its slot first. The
    // window holds at least per_minute >= 1 entries here.
    auto first = std::upper_bound(sent_ms_.begin(), sent_ms_.end(), now_ms - kMinuteMs);
    d.allowed = false;
    d.retry_after_ms = *first + kMinuteMs - now_ms;
  }
  if (limits_.per_day != 0 && day_count >= limits_.per_day) {
    d.allowed = false;
    d.retry_after_ms = std::max(d.retry_after_ms, ms_until_next_utc_day(now_ms));
  }
  return d;
}

void RateWindow::record(int64_t now_ms) {
  trim(now_ms);
  // Keep the deque sorted even if the caller's clock steps back a little.
  if (!sent_ms_.empty() && now_ms < sent_ms_.back()) now_ms = sent_ms_.back();
  sent_ms_.push_back(now_ms);
  while (sent_ms_.size() > capacity()) sent_ms_.pop_front();
}

void RateWindow::forget(int64_t sent_ms) {
  for (auto it = sent_ms_.rbegin(); it != sent_ms_.rend(); ++it) {
    if (*it == sent_ms) {
      sent_ms_.erase(std::next(it).base());
      return;
    }
    if (*it < sent_ms) return;
  }
}

RateDecision RateWindow::try_acquire(int64_t now_ms, uint64_t day_count) {
  RateDecision d = check(now_ms, day_count);
  if (d.allowed) record(now_ms);
  return d;
}

void RateWindow::set_limits(RateLimits limits) {
  limits_ = limits;
  while (sent_ms_.size() > capacity()) sent_ms_.pop_front();
}

}  // namespace tollgate::policy
