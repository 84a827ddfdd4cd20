// The ledger's read rules, the same for every backend: what the Ledger read
// methods (ledger.h) return, computed from one consistent view of the
// stored rows (rows.h) and the current policy. Pure functions; the
// backend opens the view (LMDB: a read transaction) and calls them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/ledger_types.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger::reads {

// The later of the stored period and now_ms's month.
std::string current_period(const LedgerRows& rows, int64_t now_ms);
// Every provider of the policy, then any other with a row for the scope.
ProviderUsage usage(const LedgerRows& rows, const BudgetPolicy& policy, const std::string& scope,
                    const std::string& period);
BudgetSnapshot snapshot(const LedgerRows& rows, const BudgetPolicy& policy,
                        const std::string& agent, int64_t now_ms);
std::vector<std::string> agents(const LedgerRows& rows, const std::string& period);
std::vector<std::string> all_agents(const LedgerRows& rows);
std::vector<HistoryMonth> history(const LedgerRows& rows, const std::string& agent, size_t months,
                                  int64_t now_ms);
std::vector<Alert> alerts(const LedgerRows& rows, size_t limit, std::optional<int64_t> since_ms,
                          const std::optional<std::string>& agent);
std::vector<ResetRecord> resets(const LedgerRows& rows, const std::optional<std::string>& agent);
std::vector<LedgerRecord> ledger_events(const LedgerRows& rows, size_t limit,
                                        std::optional<int64_t> since_ms);
EmergencyStatus emergency_status(const LedgerRows& rows, const BudgetPolicy& policy,
                                 int64_t now_ms);
std::optional<std::string> idempotency_get(const LedgerRows& rows, const std::string& agent,
                                           const std::string& key, int64_t now_ms);
// The key's record (nullopt: none, or expired). A pending marker's
// reservation_id reads 0 once that reservation is settled (no longer open).
std::optional<IdempotencyRecord> idempotency_record(const LedgerRows& rows,
                                                    const std::string& agent,
                                                    const std::string& key, int64_t now_ms);
uint64_t requests_today(const LedgerRows& rows, const std::string& provider, int64_t now_ms);
uint32_t requests_this_minute(const LedgerRows& rows, const std::string& provider, int64_t now_ms);

// A usage row plus the limit that applies to it, as reads report it.
BudgetUsage to_budget_usage(const UsageRow& row, std::optional<uint64_t> limit, bool exhausted,
                            const Thresholds& thresholds);

}  // namespace tollgate::ledger::reads
