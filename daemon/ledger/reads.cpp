#include "daemon/ledger/reads.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "daemon/core/period.h"
#include "daemon/ledger/forecast.h"

namespace tollgate::ledger {

namespace reads {
namespace {

// policy.providers first, then any other provider with a row for the scope.
std::vector<std::string> providers_of(const LedgerRows& rows, const BudgetPolicy& policy,
                                      const std::string& period, const std::string& scope) {
  std::vector<std::string> out = policy.providers;
  for (auto& [key, row] : rows.usage_rows(period, scope)) {
    if (std::find(out.begin(), out.end(), key.provider) == out.end()) {
      out.push_back(std::move(key.provider));
    }
  }
  return out;
}

BudgetUsage budget_at(const LedgerRows& rows, const BudgetPolicy& policy, const std::string& period,
                      const std::string& scope, const std::string& provider) {
  const UsageRow row = rows.usage(BudgetKey{period, scope, provider});
  const std::optional<uint64_t> limit = limit_in_force(rows, policy, scope, provider);
  const std::optional<double> limit_usd = limit_usd_in_force(rows, policy, scope, provider);
  // Exhausted means empty (budget.h), whatever alerts have fired: in
  // tokens, or in dollars.
  const bool exhausted =
      (limit && ledger::exhausted(row.used, *limit, policy.thresholds)) ||
      (limit_usd && ledger::exhausted_usd(row.cost_usd, *limit_usd, policy.thresholds));
  BudgetUsage u = to_budget_usage(row, limit, exhausted, policy.thresholds);
  u.limit_usd = limit_usd;
  if (exhausted) u.level = AgentLevel::kExhausted;
  return u;
}

std::string pct_text(double pct) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", pct);
  return buf;
}

EmergencyLevel emergency_level(AgentLevel highest) {
  switch (highest) {
    case AgentLevel::kNormal: return EmergencyLevel::kNormal;
    case AgentLevel::kWarning: return EmergencyLevel::kWarning;
    case AgentLevel::kCritical: return EmergencyLevel::kCritical;
    case AgentLevel::kEmergency:
    case AgentLevel::kExhausted: return EmergencyLevel::kEmergency;
  }
  return EmergencyLevel::kNormal;
}

// The global budgets' part of the status: level, shutdown and reasons.
void global_state(EmergencyStatus& st, const BudgetPolicy& policy) {
  bool all_exhausted = !policy.providers.empty();
  AgentLevel highest = AgentLevel::kNormal;
  for (const auto& name : policy.providers) {
    const BudgetUsage& g = st.providers[name];
    if (!g.limit || !g.exhausted) all_exhausted = false;
    if (!g.limit) continue;
    highest = std::max(highest, g.level);
    if (g.exhausted) {
      st.reasons.push_back("the global " + name + " budget is exhausted (" +
                           std::to_string(g.used) + " of " + std::to_string(*g.limit) +
                           " tokens used)");
    } else if (g.level != AgentLevel::kNormal) {
      st.reasons.push_back("the global " + name + " budget is at " + pct_text(g.percentage) +
                           " (" + std::string(agent_level_name(g.level)) + ")");
    }
    if (policy.shutdown_on_emergency && g.level >= AgentLevel::kEmergency) st.shutdown = true;
  }
  if (all_exhausted) {
    st.shutdown = true;
    st.reasons.push_back("every provider's global budget is exhausted");
  } else if (st.shutdown) {
    st.reasons.push_back("a global budget reached the emergency threshold and "
                         "SHUTDOWN_ON_EMERGENCY is set");
  }
  st.level = st.shutdown ? EmergencyLevel::kShutdown : emergency_level(highest);
}

}  // namespace

std::string current_period(const LedgerRows& rows, int64_t now_ms) {
  const Period now = period_of(now_ms);
  if (auto stored = rows.meta().period) {
    if (auto p = parse_period(*stored); p && *p > now) return *stored;
  }
  return period_name(now);
}

ProviderUsage usage(const LedgerRows& rows, const BudgetPolicy& policy, const std::string& scope,
                    const std::string& period) {
  ProviderUsage out;
  for (const auto& p : providers_of(rows, policy, period, scope)) {
    out[p] = budget_at(rows, policy, period, scope, p);
  }
  return out;
}

BudgetSnapshot snapshot(const LedgerRows& rows, const BudgetPolicy& policy,
                        const std::string& agent, int64_t now_ms) {
  BudgetSnapshot snap;
  snap.period = current_period(rows, now_ms);
  for (const auto& p : providers_of(rows, policy, snap.period, agent)) {
    snap.providers[p] = ProviderBudgets{budget_at(rows, policy, snap.period, agent, p),
                                        budget_at(rows, policy, snap.period, kGlobalScope, p)};
  }
  return snap;
}

std::vector<std::string> agents(const LedgerRows& rows, const std::string& period) {
  std::set<std::string> names;
  for (auto& [key, row] : rows.usage_rows(period, std::nullopt)) {
    if (key.scope != kGlobalScope) names.insert(std::move(key.scope));
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> all_agents(const LedgerRows& rows) {
  std::set<std::string> names;
  for (auto& [key, row] : rows.all_usage_rows()) {
    if (key.scope != kGlobalScope) names.insert(std::move(key.scope));
  }
  return {names.begin(), names.end()};
}

std::vector<HistoryMonth> history(const LedgerRows& rows, const std::string& agent, size_t months,
                                  int64_t now_ms) {
  const auto newest = parse_period(current_period(rows, now_ms)).value_or(period_of(now_ms));
  std::vector<HistoryMonth> out;
  for (const Period& p : last_periods(newest, months)) {
    HistoryMonth month;
    month.period = period_name(p);
    for (const auto& [key, row] : rows.usage_rows(month.period, agent)) {
      month.providers[key.provider] =
          HistoryProvider{row.used, row.requests, row.cleared, row.cost_usd};
      month.total_tokens += row.used;
      month.cost_usd += row.cost_usd;
    }
    out.push_back(std::move(month));
  }
  return out;
}

std::vector<Alert> alerts(const LedgerRows& rows, size_t limit, std::optional<int64_t> since_ms,
                          const std::optional<std::string>& agent) {
  std::vector<Alert> out;
  if (limit == 0) return out;
  rows.visit_alerts([&](Alert&& alert) {
    if (since_ms && alert.at_ms < *since_ms) return false;  // newest first: none later
    if (agent && alert.ai_name != *agent) return true;
    out.push_back(std::move(alert));
    return out.size() < limit;
  });
  return out;
}

std::vector<ResetRecord> resets(const LedgerRows& rows, const std::optional<std::string>& agent) {
  std::vector<ResetRecord> out = rows.resets();
  if (agent) {
    std::erase_if(out, [&](const ResetRecord& r) { return r.agent != *agent; });
  }
  return out;
}

std::vector<LedgerRecord> ledger_events(const LedgerRows& rows, size_t limit,
                                        std::optional<int64_t> since_ms) {
  std::vector<LedgerRecord> out;
  if (limit == 0) return out;
  rows.visit_ledger_log([&](LedgerRecord&& record) {
    if (since_ms && record.at_ms < *since_ms) return false;  // newest first: none later
    out.push_back(std::move(record));
    return out.size() < limit;
  });
  return out;
}

EmergencyStatus emergency_status(const LedgerRows& rows, const BudgetPolicy& policy,
                                 int64_t now_ms) {
  EmergencyStatus st;
  st.period = current_period(rows, now_ms);
  st.providers = usage(rows, policy, kGlobalScope, st.period);
  global_state(st, policy);
  for (const auto& agent : agents(rows, st.period)) {
    for (const auto& [provider, u] : usage(rows, policy, agent, st.period)) {
      if (u.level >= AgentLevel::kWarning) {
        st.agents_at_risk.push_back(AgentAtRisk{agent, provider, u.percentage, u.level});
      }
    }
  }
  return st;
}

std::optional<std::string> idempotency_get(const LedgerRows& rows, const std::string& agent,
                                           const std::string& key, int64_t now_ms) {
  auto record = rows.idempotency(IdempotencyKey{agent, key});
  if (record && record->state == IdempotencyState::kDone && record->expiry_ms > now_ms) {
    return std::move(record->reply);
  }
  return std::nullopt;
}

std::optional<IdempotencyRecord> idempotency_record(const LedgerRows& rows,
                                                    const std::string& agent,
                                                    const std::string& key, int64_t now_ms) {
  auto record = rows.idempotency(IdempotencyKey{agent, key});
  if (record && record->expiry_ms <= now_ms) record.reset();
  // A pending marker whose reservation is settled reads 0: its call is
  // between attempts, or was cut short and its reservation recovered.
  if (record && record->state == IdempotencyState::kPending &&
      !rows.has_reservation(record->reservation_id)) {
    record->reservation_id = 0;
  }
  return record;
}

uint64_t requests_today(const LedgerRows& rows, const std::string& provider, int64_t now_ms) {
  return rows.day_count(DayKey{provider, utc_day(now_ms)});
}

uint32_t requests_this_minute(const LedgerRows& rows, const std::string& provider, int64_t now_ms) {
  const std::vector<int64_t> sent = rows.minute_sends(provider);
  // Ascending: count the times newer than the window's start.
  const auto first = std::upper_bound(sent.begin(), sent.end(), now_ms - policy::kMinuteMs);
  return static_cast<uint32_t>(sent.end() - first);
}

BudgetUsage to_budget_usage(const UsageRow& row, std::optional<uint64_t> limit, bool exhausted,
                            const Thresholds& thresholds) {
  BudgetUsage u;
  u.used = row.used;
  u.reserved = row.reserved;
  u.limit = limit;
  u.requests = row.requests;
  u.cost_usd = row.cost_usd;
  u.cleared = row.cleared;
  u.reserved_usd = row.reserved_usd;
  u.exhausted = exhausted;
  if (limit) {
    const uint64_t taken = row.used + row.reserved;
    u.remaining = taken >= *limit ? 0 : *limit - taken;
    u.percentage = percentage(row.used, *limit);
    u.level = exhausted ? AgentLevel::kExhausted : budget_level(row.used, *limit, thresholds);
  }
  return u;
}

}  // namespace reads
}  // namespace tollgate::ledger
