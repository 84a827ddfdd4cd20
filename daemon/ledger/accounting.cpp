// The accounting rules' shared machinery (Rule: overlay reads, period,
// alert levels, the ledger log) and the rules that span budgets: reset,
// recovery, re-evaluating levels. See accounting.h.
#include "daemon/ledger/accounting.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include "daemon/ledger/accounting_rule.h"
#include "daemon/ledger/forecast.h"

namespace tollgate::ledger::accounting {
namespace {

std::string level_message(const BudgetKey& budget, AlertLevel level, uint64_t used,
                          uint64_t limit) {
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", percentage(used, limit));
  return who(budget.scope, budget.provider) + " reached " + std::string(alert_level_name(level)) +
         ": " + pct + " used (" + std::to_string(used) + " of " + std::to_string(limit) +
         " tokens in " + budget.period + ")";
}

template <class Map, class Key>
const typename Map::mapped_type* find_in(const Map& map, const Key& key) {
  const auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace

uint64_t minus(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

std::string who(const std::string& scope, const std::string& provider) {
  if (scope == kGlobalScope) return "the global " + provider + " budget";
  return scope + "'s " + provider + " budget";
}

// ---- BatchState

BatchState::BatchState(const LedgerMeta& meta, AdmissionClock admission)
    : next_reservation(meta.next_reservation), log_seq(meta.log_seq), clock(admission) {
  if (meta.period) period = parse_period(*meta.period);
}

RowChanges BatchState::finish() const {
  RowChanges changes;
  if (period_dirty && period) changes.period = ledger::period_name(*period);
  if (counters_dirty) {
    changes.next_reservation = next_reservation;
    changes.log_seq = log_seq;
  }
  return changes;
}

// ---- Rule

Rule::Rule(const LedgerRows& rows, const BudgetPolicy& policy, BatchState& state)
    : rows_(rows), policy_(policy), state_(state) {}

UsageRow Rule::usage(const BudgetKey& key) const {
  if (const auto* row = find_in(changes_.usage, key)) return *row;
  return rows_.usage(key);
}

std::optional<ReservationRow> Rule::reservation(uint64_t id) const {
  if (const auto* row = find_in(changes_.reservations, id)) return *row;
  return rows_.reservation(id);
}

bool Rule::fired(const FiredKey& key) const {
  if (const auto* at = find_in(changes_.fired, key)) return at->has_value();
  return rows_.fired(key);
}

uint64_t Rule::day_count(const DayKey& key) const {
  if (const auto* count = find_in(changes_.days, key)) return *count;
  return rows_.day_count(key);
}

std::vector<int64_t> Rule::minute_sends(const std::string& provider) const {
  if (const auto* sent = find_in(changes_.minute_sends, provider)) return *sent;
  return rows_.minute_sends(provider);
}

std::optional<LimitOverride> Rule::limit_override(const LimitKey& key) const {
  if (const auto* row = find_in(changes_.limits, key)) return *row;
  return rows_.limit_override(key);
}

void Rule::put_idempotency(const IdempotencyKey& key, IdempotencyRecord record) {
  changes_.idempotency[key] = std::move(record);
}

std::optional<Rollover> Rule::advance_period(int64_t now_ms) {
  const Period now = period_of(now_ms);
  if (!state_.period) {
    state_.period = now;
    state_.period_dirty = true;
    return std::nullopt;
  }
  if (now <= *state_.period) return std::nullopt;
  Rollover r{ledger::period_name(*state_.period), ledger::period_name(now)};
  spdlog::info("ledger: period {} starts (was {})", r.to, r.from);
  state_.period = now;
  state_.period_dirty = true;
  log_change(r, now_ms);
  return r;
}

std::string Rule::period_name() const { return ledger::period_name(*state_.period); }

uint64_t Rule::agent_limit(const std::string& agent, const std::string& provider) const {
  return limit_in_force(policy_, limit_override(LimitKey{agent, provider}), agent, provider)
      .value_or(0);
}

std::optional<uint64_t> Rule::global_limit(const std::string& provider) const {
  return limit_in_force(policy_, limit_override(LimitKey{kGlobalScope, provider}), kGlobalScope,
                        provider);
}

std::optional<double> Rule::agent_limit_usd(const std::string& agent,
                                            const std::string& provider) const {
  return limit_usd_in_force(policy_, limit_override(LimitKey{agent, provider}), agent, provider);
}

std::optional<double> Rule::global_limit_usd(const std::string& provider) const {
  return limit_usd_in_force(policy_, limit_override(LimitKey{kGlobalScope, provider}),
                            kGlobalScope, provider);
}

std::optional<uint64_t> Rule::limit_of(const BudgetKey& key) const {
  if (key.scope == kGlobalScope) return global_limit(key.provider);
  return agent_limit(key.scope, key.provider);
}

uint64_t Rule::bump_day(const std::string& provider, int64_t now_ms) {
  const DayKey key{provider, utc_day(now_ms)};
  const uint64_t count = day_count(key) + 1;
  changes_.days[key] = count;
  return count;
}

void Rule::add_day_usage(const std::string& scope, const std::string& provider, int64_t now_ms,
                         uint64_t tokens, uint64_t requests, double cost_usd) {
  const DayUsageKey key{scope, utc_day(now_ms), provider};
  DayUsage row;
  if (const auto* changed = find_in(changes_.day_usage, key)) {
    row = *changed;
  } else {
    row = rows_.day_usage(key);
  }
  row.used += tokens;
  row.requests += requests;
  row.cost_usd += cost_usd;
  changes_.day_usage[key] = row;
}

uint64_t Rule::next_log_seq() {
  state_.counters_dirty = true;
  return ++state_.log_seq;
}

void Rule::fire(const BudgetKey& budget, AlertLevel level, uint64_t used, uint64_t limit,
                int64_t now_ms, std::string message, std::vector<Alert>& out) {
  const FiredKey key{budget, level};
  if (fired(key)) return;  // edge-triggered: once per period
  changes_.fired[key] = now_ms;
  Alert a;
  a.level = level;
  a.ai_name = budget.scope;
  a.provider = budget.provider;
  a.threshold = threshold_of(level, policy_.thresholds);
  a.percentage = percentage(used, limit);
  a.used = used;
  a.limit = limit;
  a.period = budget.period;
  a.at_ms = now_ms;
  a.message = std::move(message);
  a.log_seq = next_log_seq();
  changes_.alerts.push_back(a);
  if (policy_.notify_destinations) {
    for (std::string& destination : policy_.notify_destinations(a)) {
      changes_.outbox[OutboxKey{std::move(destination), a.log_seq}] = a;
    }
  }
  spdlog::warn("ledger alert: {}", a.message);
  out.push_back(std::move(a));
}

void Rule::check_levels(const BudgetKey& budget, uint64_t used, uint64_t limit, int64_t now_ms,
                        std::vector<Alert>& out) {
  if (limit == 0) return;  // no budget at all: nothing to warn about
  for (AlertLevel level : reached_levels(used, limit, policy_.thresholds)) {
    fire(budget, level, used, limit, now_ms, level_message(budget, level, used, limit), out);
  }
}

void Rule::rearm(const BudgetKey& budget, uint64_t used, std::optional<uint64_t> limit) {
  for (AlertLevel level : kAllAlertLevels) {
    // Levels still reached stay fired; without a limit nothing can be reached.
    if (limit && level_reached(level, used, *limit, policy_.thresholds)) continue;
    changes_.fired[FiredKey{budget, level}] = std::nullopt;
  }
}

void Rule::log_change(LedgerChange change, int64_t at_ms) {
  const uint64_t seq = next_log_seq();
  changes_.log.push_back(LedgerRecord{std::move(change), at_ms, seq});
}

// ---- rules over several budgets

Ruling<ResetOutcome> reset(const LedgerRows& rows, const BudgetPolicy& policy, BatchState& state,
                           const std::string& agent, const std::optional<std::string>& provider,
                           int64_t now_ms) {
  Rule rule(rows, policy, state);
  ResetOutcome out;
  out.agent = agent;
  out.rollover = rule.advance_period(now_ms);
  out.period = rule.period_name();
  std::vector<std::string> providers;
  if (provider) {
    providers.push_back(*provider);
  } else {
    providers = policy.providers;
    for (const auto& [key, row] : rows.usage_rows(out.period, agent)) {
      if (std::find(providers.begin(), providers.end(), key.provider) == providers.end()) {
        providers.push_back(key.provider);
      }
    }
  }
  for (const std::string& p : providers) {
    const BudgetKey akey{out.period, agent, p};
    UsageRow a = rule.usage(akey);
    const uint64_t cleared = a.used;
    out.cleared[p] = cleared;
    a.cleared += cleared;
    a.used = 0;
    rule.put_usage(akey, a);
    rule.rearm(akey, 0, std::nullopt);  // every level of the agent's budget
    const BudgetKey gkey{out.period, kGlobalScope, p};
    UsageRow g = rule.usage(gkey);
    g.used = minus(g.used, cleared);
    rule.put_usage(gkey, g);
    rule.rearm(gkey, g.used, rule.global_limit(p));
    const uint64_t seq = rule.next_log_seq();
    rule.changes().resets.emplace_back(seq, ResetRecord{now_ms, agent, p, out.period, cleared});
    spdlog::info("ledger: reset {} {} in {}: {} tokens cleared", agent, p, out.period, cleared);
  }
  rule.log_change(ResetChange{out.agent, out.period, out.cleared}, now_ms);
  return {std::move(out), rule.take()};
}

Ruling<std::vector<Alert>> reevaluate_levels(const LedgerRows& rows, const BudgetPolicy& policy,
                                             BatchState& state, int64_t now_ms) {
  Rule rule(rows, policy, state);
  std::vector<Alert> alerts;
  rule.advance_period(now_ms);
  for (const auto& [key, row] : rows.usage_rows(rule.period_name(), std::nullopt)) {
    const std::optional<uint64_t> limit = rule.limit_of(key);
    rule.rearm(key, row.used, limit);
    if (limit) rule.check_levels(key, row.used, *limit, now_ms, alerts);
  }
  return {std::move(alerts), rule.take()};
}

Ruling<OpenReport> recover(const LedgerRows& rows, const BudgetPolicy& policy, BatchState& state,
                           int64_t now_ms) {
  Rule rule(rows, policy, state);
  OpenReport report;
  report.rollover = rule.advance_period(now_ms);
  using Key = std::tuple<std::string, std::string, std::string>;  // period, agent, provider
  std::map<Key, RecoveredCharge> charges;
  std::map<Key, double> costs;
  for (const auto& [id, res] : rows.reservations()) {
    rule.delete_reservation(id);
    if (!res) continue;  // logged by the backend; nothing to charge it to
    const Key key{res->period, res->agent, res->provider};
    RecoveredCharge& c = charges[key];
    c.agent = res->agent;
    c.provider = res->provider;
    c.period = res->period;
    c.tokens += res->amount;
    c.reservations += 1;
    if (res->full_cost_usd) {
      costs[key] += *res->full_cost_usd;
    } else {
      spdlog::warn("ledger: reservation of request {} ({} {}) was written by an older "
                   "tollgated without its cost; its {} tokens are recovered at cost 0",
                   res->request_id, res->agent, res->provider, res->amount);
    }
  }
  for (auto& [key, c] : charges) {
    for (const std::string& scope : {c.agent, std::string(kGlobalScope)}) {
      const BudgetKey budget{c.period, scope, c.provider};
      UsageRow row = rule.usage(budget);
      row.reserved = minus(row.reserved, c.tokens);
      row.reserved_usd = std::max(0.0, row.reserved_usd - costs[key]);
      row.used += c.tokens;  // the provider may have served it: never undercount
      row.cost_usd += costs[key];
      rule.put_usage(budget, row);
      rule.add_day_usage(scope, c.provider, now_ms, c.tokens, 0, costs[key]);
      if (const auto limit = rule.limit_of(budget)) {
        rule.check_levels(budget, row.used, *limit, now_ms, report.alerts);
      }
    }
    spdlog::warn("ledger: recovered {} tokens of {} reservations left by a crash ({} {} {})",
                 c.tokens, c.reservations, c.agent, c.provider, c.period);
    report.recovered_tokens += c.tokens;
    report.charges.push_back(std::move(c));
  }
  if (!report.charges.empty()) {
    rule.log_change(RecoveryChange{report.charges, report.recovered_tokens}, now_ms);
  }
  report.at_ms = now_ms;
  return {std::move(report), rule.take()};
}

RowChanges clear_stray_reserved(const LedgerRows& rows) {
  RowChanges changes;
  for (auto [key, row] : rows.all_usage_rows()) {
    if (row.reserved == 0 && row.reserved_usd == 0) continue;
    spdlog::error("ledger: usage row had {} tokens reserved without a reservation; zeroed",
                  row.reserved);
    row.reserved = 0;
    row.reserved_usd = 0;
    changes.usage[key] = row;
  }
  return changes;
}

}  // namespace tollgate::ledger::accounting
