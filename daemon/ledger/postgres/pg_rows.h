// The ledger's rows (daemon/ledger/rows.h) in one PostgreSQL transaction
// (internal to the PostgreSQL backend; tables in pg_schema.h).
//
// A call must not be many round trips: point reads go through a cache
// (RowCache) that the writer keeps from one batch to the next while no
// other daemon has written (the generation it committed is still the
// stored one), and writes are buffered and sent as a few multi-row
// statements (flush) before the commit or before a range read that must
// see them. Reads (read-only transactions) use a cache of their own.
//
// reservations() lists what this ledger may recover (RecoveryScope): at
// open, its own reservations (left by its previous run) and those copied
// from LMDB (kMigratedOwner); in the sweep,
// expired leases (its own too: one it no longer renews was lost,
// pg_ledger.h); never a lease still renewed.
//
// Every method throws PgError for a database failure. The thread that owns
// the connection only, for as long as the transaction lasts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/ledger/postgres/pg_conn.h"
#include "daemon/ledger/postgres/pg_schema.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger::pg {

// Stored rows as this writer last knew them; nullopt: known absent. When
// other daemons wrote since, refresh() brings it up to date from the log
// of changed keys rather than starting afresh.
struct RowCache {
  std::map<std::pair<int16_t, std::string>, std::optional<std::string>> rows;
  std::map<uint64_t, std::optional<std::string>> reservations;
  int64_t generation = -1;  // the generation they are valid at; -1: none
  // Every limit override is in rows (there are few: one scan, not one
  // query per budget).
  bool limits_loaded = false;
  void clear() {
    limits_loaded = false;
    rows.clear();
    reservations.clear();
    generation = -1;
  }
};

// Brings the cache from its generation to `now` (the stored one, read
// under the lock): the rows other daemons changed meanwhile are read again
// in one query. Starts afresh when it is too far behind. Throws PgError.
void refresh(PgConn& conn, RowCache& cache, int64_t now);

// Generations of the change log kept: a cache further behind starts afresh.
inline constexpr int64_t kKeepChanges = 1000;
// Deletes the change log older than kKeepChanges generations before `now`.
void prune_changes(PgConn& conn, int64_t now);

// A NOTIFY payload: "owner hex(alerts-log key)", and back (nullopt: not one).
std::string alert_payload(const std::string& owner, const std::string& key);
std::optional<std::pair<std::string, std::string>> parse_alert_payload(const std::string& payload);

enum class RecoveryScope { kOwn, kExpired };

struct PgRowsConfig {
  std::string owner;          // this daemon's id, written with its reservations
  int64_t lease_seconds = 30;  // a new reservation's lease
  RecoveryScope recovery = RecoveryScope::kOwn;
  // The generation the writer's batch commits (its changed keys are logged
  // under it, tollgate_changes); -1: a read-only view.
  int64_t generation = -1;
  // Where the alerts this batch fires are announced (pg_notify, delivered
  // at commit to every daemon's listener, alert_listener.h); "": nowhere.
  std::string alert_channel;
};

class PgRows final : public RowStore {
 public:
  PgRows(PgConn& conn, RowCache& cache, PgRowsConfig config)
      : conn_(conn), cache_(cache), config_(std::move(config)) {}

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

  // Sends the buffered writes (a few multi-row statements).
  void flush() const;
  // The reservations this transaction wrote (opened or adjusted) and
  // deleted (settled), as sent so far.
  const std::vector<uint64_t>& reservations_put() const { return reservations_put_; }
  const std::vector<uint64_t>& reservations_deleted() const { return reservations_deleted_; }

 private:
  using Rows = std::vector<std::pair<std::string, std::string>>;  // (key, value)
  std::optional<std::string> get(RowTable t, const std::string& key) const;
  void put(RowTable t, const std::string& key, std::optional<std::string> value);
  // Rows of a table with from <= key < to (to empty: no bound), in key
  // order (descending: newest first), at most limit (0: all).
  Rows scan(RowTable t, const std::string& from, const std::string& to, size_t limit,
            bool descending = false) const;
  // Every row whose key starts with prefix, in key order.
  Rows scan_prefix(RowTable t, const std::string& prefix) const;
  // Newest-first visit of a log table, in pages.
  void visit_desc(RowTable t, const std::function<bool(const std::string&)>& visit) const;
  std::optional<std::string> stored_reservation(uint64_t id) const;
  void flush_rows() const;
  void announce_alerts() const;
  void flush_reservations() const;
  // Runs sql (its "{}": the rows' placeholders, each cast by casts) over
  // params, a row of casts.size() at a time, in statements of up to
  // kRowsPerStatement rows.
  void send_rows(const char* sql, const std::vector<const char*>& casts,
                 const std::vector<PgParam>& params) const;

  PgConn& conn_;
  RowCache& cache_;
  const PgRowsConfig config_;
  // Writes not sent yet, in key order; nullopt deletes.
  mutable std::map<std::pair<int16_t, std::string>, std::optional<std::string>> pending_;
  mutable std::map<uint64_t, std::optional<std::string>> pending_reservations_;
  mutable std::vector<uint64_t> reservations_put_;
  mutable std::vector<uint64_t> reservations_deleted_;
  // The alerts-log keys of the alerts not announced yet.
  mutable std::vector<std::string> pending_alerts_;
};

}  // namespace tollgate::ledger::pg
