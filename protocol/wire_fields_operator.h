// Internal to protocol/: the wire keys of the section 10 messages (operator
// ops: set_limit, limits, forecast, daily), as wire_fields.h describes.
// Included at the end of wire_fields.h; include that instead.
#pragma once

#include "protocol/replies.h"
#include "protocol/requests.h"

namespace tollgate::protocol {

template <class F>
void for_each_field(const SetLimitRequest& r, F&& f) {
  f("ai_name", r.ai_name);
  f("provider", r.provider);
  f("limit", r.limit);
  f("limit_usd", r.limit_usd);
}

template <class F> void for_each_field(const LimitsRequest&, F&&) {}
template <class F> void for_each_field(const ForecastRequest& r, F&& f) { f("ai_name", r.ai_name); }

template <class F>
void for_each_field(const DailyRequest& r, F&& f) {
  f("ai_name", r.ai_name);
  f("days", r.days);
}

template <class F>
void for_each_field(const LimitEntry& e, F&& f) {
  f("ai_name", e.ai_name);
  f("provider", e.provider);
  f("limit", e.limit);
  f("limit_usd", e.limit_usd);
  f("set_at_ms", e.set_at_ms);
  f("set_by", e.set_by);
}

template <class F> void for_each_field(const LimitsReply& r, F&& f) { f("limits", r.limits); }

template <class F>
void for_each_field(const ForecastBudget& b, F&& f) {
  f("used", b.used);
  f("limit", b.limit);
  f("daily_rate", b.daily_rate);
  f("projected_period_end_usage", b.projected_period_end_usage);
  f("projected_exhausted_at_ms", b.projected_exhausted_at_ms);
}

template <class F>
void for_each_field(const ForecastReply& r, F&& f) {
  f("period", r.period);
  f("period_end_ms", r.period_end_ms);
  f("window_days", r.window_days);
  f("agents", r.agents);
}

template <class F>
void for_each_field(const DailyProvider& p, F&& f) {
  f("used", p.used);
  f("requests", p.requests);
  f("cost_usd", p.cost_usd);
}

template <class F>
void for_each_field(const DailyEntry& e, F&& f) {
  f("date", e.date);
  f("providers", e.providers);
}

template <class F>
void for_each_field(const DailyReply& r, F&& f) {
  f("ai_name", r.ai_name);
  f("days", r.days);
}

}  // namespace tollgate::protocol
