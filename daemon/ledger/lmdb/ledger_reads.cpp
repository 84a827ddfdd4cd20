// The read side of Ledger: every method runs in its own read-only
// transaction on the caller's thread (MDB_NOTLS), holding the resize lock
// shared for as long as the transaction is open.
#include <algorithm>
#include <cstdio>
#include <set>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/ledger_impl.h"
#include "daemon/ledger/lmdb/ledger_tables.h"
#include "daemon/core/period.h"

namespace tollgate::ledger {
namespace {

using detail::Cursor;
using detail::ReadTxn;
using detail::Tables;

template <class T, class F>
Result<T> with_read(const Ledger::Impl& impl, F f) {
  const detail::LmdbEnv& env = *impl.env;
  try {
    ReadTxn txn(env);
    if (impl.options.inside_read) impl.options.inside_read();
    return f(txn.get());
  } catch (const detail::MdbError& e) {
    return Error::internal("ledger read failed in " + env.dir() + ": " + e.what());
  }
}

std::string period_at(MDB_txn* txn, const Tables& t, int64_t now_ms) {
  const Period now = period_of(now_ms);
  if (auto stored = detail::meta_string(txn, t, "period")) {
    if (auto p = parse_period(*stored); p && *p > now) return *stored;
  }
  return period_name(now);
}

// policy.providers first, then any other provider with a row for the scope.
std::vector<std::string> providers_of(MDB_txn* txn, const Tables& t, const BudgetPolicy& policy,
                                      const std::string& period, const std::string& scope) {
  std::vector<std::string> out = policy.providers;
  const std::string prefix = detail::usage_prefix(period, scope);
  Cursor cur(txn, t.usage);
  for (bool ok = cur.seek(prefix); ok && cur.key().starts_with(prefix); ok = cur.next()) {
    std::string p(cur.key().substr(prefix.size()));
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
  }
  return out;
}

uint64_t agent_limit_of(const BudgetPolicy& policy, const std::string& agent,
                        const std::string& provider) {
  return policy.agent_limit ? policy.agent_limit(agent, provider) : 0;
}

std::optional<uint64_t> global_limit_of(const BudgetPolicy& policy, const std::string& provider) {
  return policy.global_limit ? policy.global_limit(provider) : std::nullopt;
}

BudgetUsage budget_at(MDB_txn* txn, const Tables& t, const BudgetPolicy& policy,
                      const std::string& period, const std::string& scope,
                      const std::string& provider) {
  const detail::UsageRow row = detail::load_usage(txn, t, detail::usage_key(period, scope, provider));
  const std::optional<uint64_t> limit = scope == kGlobalScope
                                            ? global_limit_of(policy, provider)
                                            : std::optional<uint64_t>(agent_limit_of(policy, scope, provider));
  // Exhausted means empty (budget.h), whatever alerts have fired.
  const bool exhausted = limit && ledger::exhausted(row.used, *limit, policy.thresholds);
  return detail::to_budget_usage(row, limit, exhausted, policy.thresholds);
}

ProviderUsage scope_usage(MDB_txn* txn, const Tables& t, const BudgetPolicy& policy,
                          const std::string& period, const std::string& scope) {
  ProviderUsage out;
  for (const auto& p : providers_of(txn, t, policy, period, scope)) {
    out[p] = budget_at(txn, t, policy, period, scope, p);
  }
  return out;
}

std::vector<std::string> agents_in(MDB_txn* txn, const Tables& t, const std::string& period) {
  std::set<std::string> agents;
  const std::string prefix = detail::usage_prefix(period);
  Cursor cur(txn, t.usage);
  for (bool ok = cur.seek(prefix); ok && cur.key().starts_with(prefix); ok = cur.next()) {
    const auto key = detail::parse_usage_key(cur.key());
    if (key && key->scope != kGlobalScope) agents.emplace(key->scope);
  }
  return {agents.begin(), agents.end()};
}

std::string pct_text(double pct) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", pct);
  return buf;
}

}  // namespace

const char* emergency_level_name(EmergencyLevel level) {
  switch (level) {
    case EmergencyLevel::kNormal: return "normal";
    case EmergencyLevel::kWarning: return "warning";
    case EmergencyLevel::kCritical: return "critical";
    case EmergencyLevel::kEmergency: return "emergency";
    case EmergencyLevel::kShutdown: return "shutdown";
  }
  return "normal";
}

Result<std::string> Ledger::current_period(int64_t now_ms) const {
  const auto& env = *impl_->env;
  return with_read<std::string>(*impl_, [&](MDB_txn* txn) {
    return period_at(txn, env.tables(), now_ms);
  });
}

Result<ProviderUsage> Ledger::usage(const std::string& agent, const std::string& period) const {
  const auto& env = *impl_->env;
  const auto pol = impl_->current_policy();
  return with_read<ProviderUsage>(*impl_, [&](MDB_txn* txn) {
    return scope_usage(txn, env.tables(), *pol, period, agent);
  });
}

Result<ProviderUsage> Ledger::global_usage(const std::string& period) const {
  return usage(kGlobalScope, period);
}

Result<BudgetSnapshot> Ledger::snapshot(const std::string& agent, int64_t now_ms) const {
  const auto& env = *impl_->env;
  const auto pol = impl_->current_policy();
  return with_read<BudgetSnapshot>(*impl_, [&](MDB_txn* txn) {
    const Tables& t = env.tables();
    BudgetSnapshot snap;
    snap.period = period_at(txn, t, now_ms);
    for (const auto& p : providers_of(txn, t, *pol, snap.period, agent)) {
      snap.providers[p] = ProviderBudgets{budget_at(txn, t, *pol, snap.period, agent, p),
                                          budget_at(txn, t, *pol, snap.period, kGlobalScope, p)};
    }
    return snap;
  });
}

Result<std::vector<std::string>> Ledger::agents(const std::string& period) const {
  const auto& env = *impl_->env;
  return with_read<std::vector<std::string>>(*impl_, [&](MDB_txn* txn) {
    return agents_in(txn, env.tables(), period);
  });
}

Result<std::vector<std::string>> Ledger::all_agents() const {
  const auto& env = *impl_->env;
  return with_read<std::vector<std::string>>(*impl_, [&](MDB_txn* txn) {
    std::set<std::string> names;
    Cursor cur(txn, env.tables().usage);
    for (bool ok = cur.first(); ok; ok = cur.next()) {
      const auto key = detail::parse_usage_key(cur.key());
      if (key && key->scope != kGlobalScope) names.emplace(key->scope);
    }
    return std::vector<std::string>(names.begin(), names.end());
  });
}

Result<std::vector<HistoryMonth>> Ledger::history(const std::string& agent, size_t months,
                                                  int64_t now_ms) const {
  const auto& env = *impl_->env;
  return with_read<std::vector<HistoryMonth>>(*impl_, [&](MDB_txn* txn) {
    const Tables& t = env.tables();
    const auto newest = parse_period(period_at(txn, t, now_ms)).value_or(period_of(now_ms));
    std::vector<HistoryMonth> out;
    for (const Period& p : last_periods(newest, months)) {
      HistoryMonth month;
      month.period = period_name(p);
      const std::string prefix = detail::usage_prefix(month.period, agent);
      Cursor cur(txn, t.usage);
      for (bool ok = cur.seek(prefix); ok && cur.key().starts_with(prefix); ok = cur.next()) {
        const detail::UsageRow row = detail::decode_usage(cur.value());
        month.providers[std::string(cur.key().substr(prefix.size()))] =
            HistoryProvider{row.used, row.requests, row.cleared, row.cost_usd};
        month.total_tokens += row.used;
        month.cost_usd += row.cost_usd;
      }
      out.push_back(std::move(month));
    }
    return out;
  });
}

Result<std::vector<Alert>> Ledger::alerts(size_t limit, std::optional<int64_t> since_ms,
                                          const std::optional<std::string>& agent) const {
  const auto& env = *impl_->env;
  return with_read<std::vector<Alert>>(*impl_, [&](MDB_txn* txn) {
    std::vector<Alert> out;
    Cursor cur(txn, env.tables().alerts_log);
    for (bool ok = cur.last(); ok && out.size() < limit; ok = cur.prev()) {
      auto alert = detail::decode_alert(cur.value());
      if (!alert) continue;
      if (since_ms && alert->at_ms < *since_ms) break;  // keys sort by time
      if (agent && alert->ai_name != *agent) continue;
      out.push_back(std::move(*alert));
    }
    return out;
  });
}

Result<std::vector<ResetRecord>> Ledger::resets(const std::optional<std::string>& agent) const {
  const auto& env = *impl_->env;
  return with_read<std::vector<ResetRecord>>(*impl_, [&](MDB_txn* txn) {
    std::vector<ResetRecord> out;
    Cursor cur(txn, env.tables().resets);
    for (bool ok = cur.first(); ok; ok = cur.next()) {
      auto rec = detail::decode_reset(cur.value());
      if (rec && (!agent || rec->agent == *agent)) out.push_back(std::move(*rec));
    }
    return out;
  });
}

Result<std::vector<LedgerRecord>> Ledger::ledger_events(size_t limit,
                                                        std::optional<int64_t> since_ms) const {
  const auto& env = *impl_->env;
  return with_read<std::vector<LedgerRecord>>(*impl_, [&](MDB_txn* txn) {
    std::vector<LedgerRecord> out;
    Cursor cur(txn, env.tables().ledger_log);
    for (bool ok = cur.last(); ok && out.size() < limit; ok = cur.prev()) {
      auto record = detail::decode_ledger_record(cur.value());
      if (!record) continue;
      if (since_ms && record->at_ms < *since_ms) break;  // keys sort by time
      out.push_back(std::move(*record));
    }
    return out;
  });
}

Result<EmergencyStatus> Ledger::emergency_status(int64_t now_ms) const {
  const auto& env = *impl_->env;
  const auto pol = impl_->current_policy();
  return with_read<EmergencyStatus>(*impl_, [&](MDB_txn* txn) {
    const Tables& t = env.tables();
    EmergencyStatus st;
    st.period = period_at(txn, t, now_ms);
    st.providers = scope_usage(txn, t, *pol, st.period, kGlobalScope);
    bool all_exhausted = !pol->providers.empty();
    AgentLevel highest = AgentLevel::kNormal;
    for (const auto& name : pol->providers) {
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
      if (pol->shutdown_on_emergency && g.level >= AgentLevel::kEmergency) st.shutdown = true;
    }
    if (all_exhausted) {
      st.shutdown = true;
      st.reasons.push_back("every provider's global budget is exhausted");
    } else if (st.shutdown) {
      st.reasons.push_back("a global budget reached the emergency threshold and "
                           "SHUTDOWN_ON_EMERGENCY is set");
    }
    switch (highest) {
      case AgentLevel::kNormal: st.level = EmergencyLevel::kNormal; break;
      case AgentLevel::kWarning: st.level = EmergencyLevel::kWarning; break;
      case AgentLevel::kCritical: st.level = EmergencyLevel::kCritical; break;
      case AgentLevel::kEmergency:
      case AgentLevel::kExhausted: st.level = EmergencyLevel::kEmergency; break;
    }
    if (st.shutdown) st.level = EmergencyLevel::kShutdown;
    for (const auto& agent : agents_in(txn, t, st.period)) {
      for (const auto& [provider, u] : scope_usage(txn, t, *pol, st.period, agent)) {
        if (u.level >= AgentLevel::kWarning) {
          st.agents_at_risk.push_back(AgentAtRisk{agent, provider, u.percentage, u.level});
        }
      }
    }
    return st;
  });
}

Result<std::optional<std::string>> Ledger::idempotency_get(const std::string& agent,
                                                           const std::string& key,
                                                           int64_t now_ms) const {
  const auto& env = *impl_->env;
  return with_read<std::optional<std::string>>(*impl_, [&](MDB_txn* txn) {
    std::optional<std::string> out;
    const auto bytes =
        detail::kv_get(txn, env.tables().idempotency, detail::idempotency_key(agent, key));
    if (!bytes) return out;
    auto rec = detail::decode_idempotency(*bytes);
    if (rec && rec->state == IdempotencyState::kDone && rec->expiry_ms > now_ms) {
      out = std::move(rec->reply);
    }
    return out;
  });
}

Result<std::optional<IdempotencyRecord>> Ledger::idempotency_record(const std::string& agent,
                                                                    const std::string& key,
                                                                    int64_t now_ms) const {
  const auto& env = *impl_->env;
  return with_read<std::optional<IdempotencyRecord>>(*impl_, [&](MDB_txn* txn) {
    std::optional<IdempotencyRecord> out;
    const auto bytes =
        detail::kv_get(txn, env.tables().idempotency, detail::idempotency_key(agent, key));
    if (!bytes) return out;
    out = detail::decode_idempotency(*bytes);
    if (out && out->expiry_ms <= now_ms) out.reset();
    return out;
  });
}

Result<uint64_t> Ledger::requests_today(const std::string& provider, int64_t now_ms) const {
  const auto& env = *impl_->env;
  return with_read<uint64_t>(*impl_, [&](MDB_txn* txn) {
    const auto bytes =
        detail::kv_get(txn, env.tables().rate_day, detail::day_key(provider, utc_day(now_ms)));
    return bytes ? detail::decode_u64(*bytes).value_or(0) : uint64_t{0};
  });
}

}  // namespace tollgate::ledger
