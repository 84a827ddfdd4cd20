// One accounting rule at work (internal to accounting*.cpp): the rows it
// reads, overlaid with the changes it has made so far, and the helpers the
// rules share (period, limits, alert levels, the ledger log).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ledger/accounting.h"

namespace tollgate::ledger::accounting {

class Rule {
 public:
  Rule(const LedgerRows& rows, const BudgetPolicy& policy, BatchState& state);

  // Reads: the stored rows as this rule's changes leave them.
  UsageRow usage(const BudgetKey& key) const;
  std::optional<ReservationRow> reservation(uint64_t id) const;
  bool fired(const FiredKey& key) const;
  uint64_t day_count(const DayKey& key) const;
  std::vector<int64_t> minute_sends(const std::string& provider) const;
  std::optional<LimitOverride> limit_override(const LimitKey& key) const;
  const LedgerRows& rows() const { return rows_; }
  const BudgetPolicy& policy() const { return policy_; }
  BatchState& state() { return state_; }

  // Changes.
  void put_usage(const BudgetKey& key, const UsageRow& row) { changes_.usage[key] = row; }
  void put_reservation(uint64_t id, ReservationRow row) { changes_.reservations[id] = std::move(row); }
  void delete_reservation(uint64_t id) { changes_.reservations[id] = std::nullopt; }
  void put_idempotency(const IdempotencyKey& key, IdempotencyRecord record);
  void put_minute_sends(const std::string& provider, std::vector<int64_t> sent) {
    changes_.minute_sends[provider] = std::move(sent);
  }
  RowChanges& changes() { return changes_; }
  RowChanges take() { return std::move(changes_); }

  // The period of an operation at now_ms: moves the stored one forward to
  // now_ms's month (logging the rollover) and returns the rollover if so.
  std::optional<Rollover> advance_period(int64_t now_ms);
  std::string period_name() const;  // after advance_period

  // The limits in force: an operator's override (set_limit) wins over the
  // policy's configured limit.
  uint64_t agent_limit(const std::string& agent, const std::string& provider) const;
  std::optional<uint64_t> global_limit(const std::string& provider) const;
  std::optional<double> agent_limit_usd(const std::string& agent, const std::string& provider) const;
  std::optional<double> global_limit_usd(const std::string& provider) const;
  // The limit of a budget's scope (the agent's always, the global one if any).
  std::optional<uint64_t> limit_of(const BudgetKey& key) const;
  // One more request in the provider's counter for now_ms's UTC day.
  uint64_t bump_day(const std::string& provider, int64_t now_ms);
  // Adds a charge to the budget's row for now_ms's UTC day.
  void add_day_usage(const std::string& scope, const std::string& provider, int64_t now_ms,
                     uint64_t tokens, uint64_t requests, double cost_usd);

  // Fires every level `used` reaches that has not fired yet this period.
  void check_levels(const BudgetKey& budget, uint64_t used, uint64_t limit, int64_t now_ms,
                    std::vector<Alert>& out);
  // Fires `level` unless it fired this period (edge-triggered).
  void fire(const BudgetKey& budget, AlertLevel level, uint64_t used, uint64_t limit,
            int64_t now_ms, std::string message, std::vector<Alert>& out);
  // Re-arms the levels `used` no longer reaches (all without a limit).
  void rearm(const BudgetKey& budget, uint64_t used, std::optional<uint64_t> limit);
  // Appends the change to the ledger log.
  void log_change(LedgerChange change, int64_t at_ms);
  uint64_t next_log_seq();

 private:
  const LedgerRows& rows_;
  const BudgetPolicy& policy_;
  BatchState& state_;
  RowChanges changes_;
};

uint64_t minus(uint64_t a, uint64_t b);
// "a1's openai budget", "the global openai budget".
std::string who(const std::string& scope, const std::string& provider);

}  // namespace tollgate::ledger::accounting
