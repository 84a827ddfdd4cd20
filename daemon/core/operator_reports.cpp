// The replies and events of PROTOCOL.md section 10 (reports.h).
#include <cstdio>
#include <ctime>

#include "daemon/core/reports.h"

namespace tollgate {

protocol::LedgerEvent limit_event(const ledger::LimitChange& c, int64_t at_ms) {
  return {protocol::LedgerLimit{c.scope, c.provider, c.tokens, c.usd, c.previous_tokens,
                                c.previous_usd, c.set_by},
          at_ms};
}

protocol::LimitsReply limits_reply(const std::vector<ledger::LimitEntry>& limits) {
  protocol::LimitsReply r;
  for (const auto& e : limits) {
    r.limits.push_back({e.scope, e.provider, e.limit.tokens, e.limit.usd, e.limit.set_at_ms,
                        e.limit.set_by});
  }
  return r;
}

protocol::ForecastReply forecast_reply(const ledger::Forecast& f) {
  protocol::ForecastReply r;
  r.period = f.period;
  r.period_end_ms = f.period_end_ms;
  r.window_days = f.window_days;
  for (const auto& [scope, providers] : f.budgets) {
    auto& out = r.agents[scope];
    for (const auto& [provider, b] : providers) {
      out[provider] = {b.used, b.limit, b.daily_rate, b.projected_end_usage, b.exhausted_at_ms};
    }
  }
  return r;
}

std::string day_name(int64_t day) {
  const std::time_t secs = static_cast<std::time_t>(day * 86400);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

protocol::DailyReply daily_reply(const std::optional<std::string>& ai_name,
                                 const std::vector<ledger::DailyUsage>& days, const Config& config) {
  protocol::DailyReply r;
  r.ai_name = ai_name;
  for (const auto& d : days) {
    protocol::DailyEntry e;
    e.date = day_name(d.day);
    for (const auto& p : config.providers) e.providers[p.name] = {};
    for (const auto& [provider, u] : d.providers) {
      e.providers[provider] = {u.used, u.requests, u.cost_usd};
    }
    r.days.push_back(std::move(e));
  }
  return r;
}

}  // namespace tollgate
