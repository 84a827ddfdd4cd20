#include "daemon/core/reports.h"

#include <algorithm>
#include <map>
#include <variant>

namespace tollgate {

ledger::BudgetPolicy budget_policy(const Config& config) {
  ledger::BudgetPolicy p;
  p.thresholds = {config.warning_threshold, config.fallback_threshold, config.emergency_threshold,
                  config.exhausted_fraction};
  for (const auto& provider : config.providers) p.providers.push_back(provider.name);
  auto snapshot = std::make_shared<const Config>(config);
  p.agent_limit = [snapshot](const std::string& agent, const std::string& provider) {
    return snapshot->agent_limit(agent, provider);
  };
  p.global_limit = [snapshot](const std::string& provider) -> std::optional<uint64_t> {
    const auto* pc = snapshot->provider(provider);
    return pc ? pc->global_monthly_limit : std::nullopt;
  };
  p.agent_limit_usd = [snapshot](const std::string& agent, const std::string& provider) {
    return snapshot->agent_limit_usd(agent, provider);
  };
  p.global_limit_usd = [snapshot](const std::string& provider) -> std::optional<double> {
    const auto* pc = snapshot->provider(provider);
    return pc ? pc->global_monthly_limit_usd : std::nullopt;
  };
  p.rate_limits = [snapshot](const std::string& provider) -> policy::RateLimits {
    const auto* pc = snapshot->provider(provider);
    return pc ? policy::RateLimits{pc->rpm, pc->rpd} : policy::RateLimits{};
  };
  p.shutdown_on_emergency = config.shutdown_on_emergency;
  p.forecast_window_days = config.forecast_window_days;
  // Every alert goes to every destination's outbox; each destination's
  // level filter is applied when sending (workers/notify/notifier.h).
  std::vector<std::string> destinations;
  for (const auto& d : config.notify.destinations) destinations.push_back(d.name);
  if (!destinations.empty()) {
    p.notify_destinations = [destinations](const ledger::Alert&) { return destinations; };
  }
  return p;
}

protocol::AlertEvent alert_event(const ledger::Alert& a) {
  return {std::string(ledger::alert_level_name(a.level)), a.ai_name, a.provider, a.threshold,
          a.percentage, a.used, a.limit, a.period, a.at_ms, a.message};
}

void append_alert_events(const std::vector<ledger::Alert>& alerts,
                         std::vector<protocol::Event>& out) {
  for (const auto& a : alerts) out.emplace_back(alert_event(a));
}

namespace {

// The bodies of the `ledger` event kinds: one mapping each, shared by the
// published events and the ledger log's records.
protocol::LedgerRecovered recovered_body(const std::vector<ledger::RecoveredCharge>& charges,
                                         uint64_t tokens) {
  protocol::LedgerRecovered rec;
  for (const auto& c : charges) rec.entries.push_back({c.agent, c.provider, c.period, c.tokens});
  rec.total_tokens = tokens;
  return rec;
}

protocol::LedgerReset reset_body(const std::string& agent, const std::string& period,
                                 const std::map<std::string, uint64_t>& cleared) {
  return {agent, period, cleared};
}

}  // namespace

protocol::LedgerEvent rollover_event(const ledger::Rollover& r, int64_t now_ms) {
  return {protocol::LedgerRollover{r.to, r.from}, now_ms};
}

protocol::LedgerEvent recovered_event(const ledger::OpenReport& report, int64_t now_ms) {
  return {recovered_body(report.charges, report.recovered_tokens), now_ms};
}

protocol::LedgerEvent reset_event(const ledger::ResetOutcome& reset, int64_t now_ms) {
  return {reset_body(reset.agent, reset.period, reset.cleared), now_ms};
}

protocol::LedgerEvent ledger_event(const ledger::LedgerRecord& record) {
  struct Body {
    int64_t at_ms;
    protocol::LedgerEvent operator()(const ledger::ResetChange& c) const {
      return {reset_body(c.agent, c.period, c.cleared), at_ms};
    }
    protocol::LedgerEvent operator()(const ledger::Rollover& r) const {
      return rollover_event(r, at_ms);
    }
    protocol::LedgerEvent operator()(const ledger::LimitChange& c) const {
      return limit_event(c, at_ms);
    }
    protocol::LedgerEvent operator()(const ledger::RecoveryChange& c) const {
      return {recovered_body(c.charges, c.tokens), at_ms};
    }
  };
  return std::visit(Body{record.at_ms}, record.change);
}

std::string agent_level(const std::string& agent, const ledger::ProviderUsage& usage, const Config& config) {
  const auto chain = config.chain_for(agent);
  if (chain.empty()) return "normal";
  bool all_exhausted = true;
  for (const auto* p : chain) {
    auto it = usage.find(p->name);
    bool exhausted = it != usage.end() && (it->second.exhausted ||
                                           it->second.level == ledger::AgentLevel::kExhausted);
    all_exhausted = all_exhausted && exhausted;
  }
  if (all_exhausted) return "exhausted";
  auto primary = usage.find(chain.front()->name);
  if (primary == usage.end()) return "normal";
  auto level = std::min(primary->second.level, ledger::AgentLevel::kEmergency);
  return std::string(ledger::agent_level_name(level));
}

protocol::UsageReply usage_reply(const std::string& agent, const std::string& period,
                                 const ledger::ProviderUsage& usage, const Config& config,
                                 std::optional<std::string> recommended) {
  protocol::UsageReply r;
  r.ai_name = agent;
  r.period = period;
  r.level = agent_level(agent, usage, config);
  r.recommended = std::move(recommended);
  for (const auto& [name, u] : usage) {
    r.providers[name] = {u.used,       u.reserved, u.limit.value_or(0), u.remaining,
                         u.percentage, u.requests, u.cost_usd,      u.limit_usd};
  }
  return r;
}

protocol::GlobalProviderUsage global_usage(const ledger::BudgetUsage& u) {
  return {u.used, u.reserved, u.limit, u.limit ? u.percentage : 0.0, u.requests, u.cost_usd};
}

protocol::SummaryReply summary_reply(const std::string& period, const ledger::ProviderUsage& global,
                                     const std::vector<AgentUsage>& agents, const Config& config) {
  protocol::SummaryReply r;
  r.period = period;
  for (const auto& [name, u] : global) {
    r.providers[name] = global_usage(u);
    r.totals.used += u.used;
    r.totals.requests += u.requests;
    r.totals.cost_usd += u.cost_usd;
  }
  for (const auto& a : agents) {
    protocol::AgentSummary s;
    s.ai_name = a.agent;
    s.level = agent_level(a.agent, a.usage, config);
    for (const auto& [name, u] : a.usage) {
      s.providers[name] = {u.used, u.limit.value_or(0), u.percentage};
    }
    r.agents.push_back(std::move(s));
  }
  return r;
}

protocol::HistoryReply history_reply(const std::string& agent,
                                     const std::vector<ledger::HistoryMonth>& months,
                                     const Config& config) {
  protocol::HistoryReply r;
  r.ai_name = agent;
  for (const auto& m : months) {
    protocol::HistoryMonth out;
    out.period = m.period;
    for (const auto& p : config.providers) out.providers[p.name] = {};  // zeros
    for (const auto& [name, p] : m.providers) out.providers[name] = {p.used, p.requests, p.cleared};
    out.total_tokens = m.total_tokens;
    out.cost_usd = m.cost_usd;
    r.months.push_back(std::move(out));
  }
  return r;
}

protocol::EmergencyStatusReply emergency_reply(const ledger::EmergencyStatus& s) {
  protocol::EmergencyStatusReply r;
  r.level = ledger::emergency_level_name(s.level);
  r.shutdown = s.shutdown;
  r.reasons = s.reasons;
  for (const auto& [name, u] : s.providers) r.providers[name] = global_usage(u);
  for (const auto& a : s.agents_at_risk) {
    r.agents_at_risk.push_back(
        {a.ai_name, a.provider, a.percentage, std::string(ledger::agent_level_name(a.level))});
  }
  return r;
}

protocol::ResetReply reset_reply(const ledger::ResetOutcome& reset) {
  return {reset.agent, reset.period, reset.cleared};
}

}  // namespace tollgate
