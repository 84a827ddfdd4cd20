// The stored state of the in-memory ledger (memory_ledger.h): the same rows
// as the LMDB tables (daemon/ledger/rows.h), in ordered maps. MemoryTables
// outlives a MemoryLedger when the caller keeps it, as a data directory
// outlives a daemon: a MemoryLedger opened again over it recovers what the
// previous one left. MemoryRows is the LedgerRows/RowStore view over it.
//
// Not thread-safe: the MemoryLedger that has the tables open guards them
// with its mutex; only one MemoryLedger has them open at a time (in_use).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/ledger/rows.h"

namespace tollgate::ledger {

struct MemoryTables {
  // The logs' keys: (at_ms, log_seq), as LMDB sorts them.
  using LogKey = std::pair<int64_t, uint64_t>;

  LedgerMeta meta;
  uint64_t probes = 0;  // successful probe writes
  std::map<BudgetKey, UsageRow> usage;
  std::map<uint64_t, ReservationRow> reservations;
  std::map<FiredKey, int64_t> fired;
  std::map<LogKey, Alert> alerts;
  std::map<LogKey, ResetRecord> resets;
  std::map<LogKey, LedgerRecord> log;
  std::map<IdempotencyKey, IdempotencyRecord> idempotency;
  std::map<DayKey, uint64_t> days;
  std::map<std::string, std::vector<int64_t>> minute_sends;
  std::map<LimitKey, LimitOverride> limits;
  std::map<DayUsageKey, DayUsage> day_usage;
  std::map<OutboxKey, Alert> outbox;

  // Set while a MemoryLedger has these tables open.
  std::atomic<bool> in_use{false};
};

class MemoryRows final : public RowStore {
 public:
  explicit MemoryRows(MemoryTables& tables) : t_(tables) {}

  LedgerMeta meta() const override { return t_.meta; }
  UsageRow usage(const BudgetKey& key) const override;
  std::vector<std::pair<BudgetKey, UsageRow>> usage_rows(
      const std::string& period, const std::optional<std::string>& scope) const override;
  std::vector<std::pair<BudgetKey, UsageRow>> all_usage_rows() const override;
  std::optional<ReservationRow> reservation(uint64_t id) const override;
  bool has_reservation(uint64_t id) const override { return t_.reservations.count(id) > 0; }
  std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> reservations() const override;
  bool fired(const FiredKey& key) const override { return t_.fired.count(key) > 0; }
  std::optional<IdempotencyRecord> idempotency(const IdempotencyKey& key) const override;
  std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>> idempotency_rows(
      const std::optional<IdempotencyKey>& from, size_t limit) const override;
  uint64_t day_count(const DayKey& key) const override;
  std::vector<int64_t> minute_sends(const std::string& provider) const override;
  std::optional<LimitOverride> limit_override(const LimitKey& key) const override;
  std::vector<std::pair<LimitKey, LimitOverride>> limit_overrides() const override {
    return {t_.limits.begin(), t_.limits.end()};
  }
  DayUsage day_usage(const DayUsageKey& key) const override;
  std::vector<std::pair<DayUsageKey, DayUsage>> day_usage_rows(const std::string& scope,
                                                               int64_t from_day,
                                                               int64_t to_day) const override;
  std::vector<OutboxEntry> outbox(const std::string& destination, uint64_t after_id,
                                  size_t limit) const override;
  bool has_outbox(const OutboxKey& key) const override { return t_.outbox.count(key) > 0; }
  std::vector<uint64_t> outbox_ids(const std::string& destination) const override;
  std::vector<std::string> outbox_destinations() const override;
  uint64_t outbox_depth() const override { return t_.outbox.size(); }
  void visit_alerts(const std::function<bool(Alert&&)>& visit) const override;
  void visit_ledger_log(const std::function<bool(LedgerRecord&&)>& visit) const override;
  std::vector<ResetRecord> resets() const override;

  void apply(const RowChanges& changes) override;
  void probe() override { ++t_.probes; }

 private:
  MemoryTables& t_;
};

}  // namespace tollgate::ledger
