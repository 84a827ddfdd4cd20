// The ledger's rows (daemon/ledger/rows.h) in one LMDB transaction:
// LmdbRows reads them from the tables of lmdb_ledger.h's DESIGN block and,
// in a write transaction, writes RowChanges back (internal to the LMDB
// backend). Read methods work in any transaction; apply() and probe() need
// the writer's write transaction. Every method throws MdbError for an
// LMDB failure; a row that cannot be decoded is logged and read as absent.
//
// The thread that owns the transaction only, for as long as it is open.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/ledger/lmdb/lmdb_env.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger::detail {

class LmdbRows final : public RowStore {
 public:
  // redo: when not null, every put and delete is also appended to it
  // (the commit's record in the redo log, lmdb_redo.h).
  LmdbRows(MDB_txn* txn, const Tables& tables, std::string* redo = nullptr)
      : txn_(txn), t_(tables), redo_(redo) {}

  LedgerMeta meta() const override;
  UsageRow usage(const BudgetKey& key) const override;
  std::vector<std::pair<BudgetKey, UsageRow>> usage_rows(
      const std::string& period, const std::optional<std::string>& scope) const override;
  std::vector<std::pair<BudgetKey, UsageRow>> all_usage_rows() const override;
  std::optional<ReservationRow> reservation(uint64_t id) const override;
  bool has_reservation(uint64_t id) const override;
  std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> reservations() const override;
  bool fired(const FiredKey& key) const override;
  std::optional<IdempotencyRecord> idempotency(const IdempotencyKey& key) const override;
  std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>> idempotency_rows(
      const std::optional<IdempotencyKey>& from, size_t limit) const override;
  uint64_t day_count(const DayKey& key) const override;
  std::vector<int64_t> minute_sends(const std::string& provider) const override;
  std::optional<LimitOverride> limit_override(const LimitKey& key) const override;
  std::vector<std::pair<LimitKey, LimitOverride>> limit_overrides() const override;
  DayUsage day_usage(const DayUsageKey& key) const override;
  std::vector<std::pair<DayUsageKey, DayUsage>> day_usage_rows(const std::string& scope,
                                                               int64_t from_day,
                                                               int64_t to_day) const override;
  std::vector<OutboxEntry> outbox(const std::string& destination, uint64_t after_id,
                                  size_t limit) const override;
  bool has_outbox(const OutboxKey& key) const override;
  std::vector<uint64_t> outbox_ids(const std::string& destination) const override;
  std::vector<std::string> outbox_destinations() const override;
  uint64_t outbox_depth() const override;
  void visit_alerts(const std::function<bool(Alert&&)>& visit) const override;
  void visit_ledger_log(const std::function<bool(LedgerRecord&&)>& visit) const override;
  std::vector<ResetRecord> resets() const override;

  void apply(const RowChanges& changes) override;
  void probe() override;

 private:
  // The usage rows whose keys start with prefix, in key order.
  std::vector<std::pair<BudgetKey, UsageRow>> usage_from(const std::string& prefix) const;

  // Writes, recorded for the redo log.
  void put(MDB_dbi dbi, std::string_view key, std::string_view value);
  void del(MDB_dbi dbi, std::string_view key);
  // Puts the encoded row, or deletes the key for nullopt.
  template <class Row, class Encode>
  void put_or_delete(MDB_dbi dbi, std::string_view key, const std::optional<Row>& row,
                     Encode encode) {
    if (row) {
      put(dbi, key, encode(*row));
    } else {
      del(dbi, key);
    }
  }

  MDB_txn* txn_;
  const Tables& t_;
  std::string* redo_;
};

}  // namespace tollgate::ledger::detail
