// The ledger's stored state as plain rows, the same for every backend: what
// the accounting rules (accounting.h) and the read rules (reads.h) read,
// and the changes the rules hand back for a backend to write.
//
// LedgerRows is one consistent view of the stored rows (LMDB: one
// transaction; memory: the tables under the ledger's lock). RowStore is a
// writable view: a backend applies each operation's RowChanges to it, and
// the next operation of the same batch reads them back. Both are used by
// one thread at a time, for as long as the backend's transaction lasts.
//
// Keys compare like the byte strings LMDB stores them as (names never
// contain NUL), so every backend lists rows in the same order.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/budget.h"
#include "daemon/core/ledger_types.h"

namespace tollgate::ledger {

// One budget: an agent's (scope = the agent) or a provider's global one
// (scope = kGlobalScope), for one provider and period.
struct BudgetKey {
  std::string period;  // "YYYY-MM"
  std::string scope;
  std::string provider;
  auto operator<=>(const BudgetKey&) const = default;
};

// A budget's usage row. Trivially copyable (LMDB stores its bytes).
struct UsageRow {
  uint64_t used = 0;
  uint64_t reserved = 0;
  uint64_t requests = 0;
  uint64_t cleared = 0;  // tokens removed by resets
  double cost_usd = 0;
  // Section 10: what open reservations would cost at most (their
  // full_cost_usd), held against a dollar budget as `reserved` is against
  // the token one. Rows written before it (40 bytes) read it as 0: every
  // open reservation is settled at open, so none is held then.
  double reserved_usd = 0;
};

// An open reservation.
struct ReservationRow {
  std::string agent;
  std::string provider;
  std::string period;
  std::string request_id;
  uint64_t amount = 0;
  int64_t created_ms = 0;
  // What charging the whole amount costs (ReserveRequest::full_cost_usd);
  // nullopt in a record written before it was kept.
  std::optional<double> full_cost_usd;
};

// "This level of this budget has fired this period" (edge-triggered alerts).
struct FiredKey {
  BudgetKey budget;
  AlertLevel level = AlertLevel::kWarning;
  auto operator<=>(const FiredKey&) const = default;
};

struct IdempotencyKey {
  std::string agent;
  std::string key;
  auto operator<=>(const IdempotencyKey&) const = default;
};

// A provider's request counter for one UTC day (utc_day).
struct DayKey {
  std::string provider;
  int64_t day = 0;
  auto operator<=>(const DayKey&) const = default;
};

// An operator's override of a budget's limits (ledger_types.h): scope is
// an agent or kGlobalScope.
struct LimitKey {
  std::string scope;
  std::string provider;
  auto operator<=>(const LimitKey&) const = default;
};

// One budget's use on one UTC day (utc_day): what commits and recovery
// charged that day (resets do not change it). Ordered by scope, then day:
// one budget's days are adjacent.
struct DayUsageKey {
  std::string scope;
  int64_t day = 0;
  std::string provider;
  auto operator<=>(const DayUsageKey&) const = default;
};

// An alert waiting in the notification outbox for one destination; the
// alert's log_seq names it.
struct OutboxKey {
  std::string destination;
  uint64_t id = 0;
  auto operator<=>(const OutboxKey&) const = default;
};

// The ledger's own counters and cursors.
struct LedgerMeta {
  std::optional<std::string> period;  // the current period; nullopt on a new ledger
  uint64_t next_reservation = 1;
  uint64_t log_seq = 0;  // the order shared by alerts, resets and the ledger log
  // Where the next step of the idempotency expiry sweep starts.
  std::optional<IdempotencyKey> prune_cursor;
};

// What one operation (or the end of a batch) writes. Maps hold the new row
// of each key they name; nullopt deletes the row. The vectors are appended
// to the logs, each entry under its (at_ms, log_seq).
struct RowChanges {
  std::map<BudgetKey, UsageRow> usage;
  std::map<uint64_t, std::optional<ReservationRow>> reservations;
  std::map<FiredKey, std::optional<int64_t>> fired;  // when it fired (ms)
  std::map<IdempotencyKey, std::optional<IdempotencyRecord>> idempotency;
  std::map<DayKey, uint64_t> days;
  // A provider's attempts of the last minute (empty: delete the row).
  std::map<std::string, std::vector<int64_t>> minute_sends;
  std::map<LimitKey, std::optional<LimitOverride>> limits;
  std::map<DayUsageKey, DayUsage> day_usage;
  std::map<OutboxKey, std::optional<Alert>> outbox;
  std::vector<Alert> alerts;
  std::vector<std::pair<uint64_t, ResetRecord>> resets;  // (log_seq, record)
  std::vector<LedgerRecord> log;
  // Meta: set fields replace the stored ones.
  std::optional<std::string> period;
  std::optional<uint64_t> next_reservation;
  std::optional<uint64_t> log_seq;
  std::optional<std::optional<IdempotencyKey>> prune_cursor;  // inner nullopt: none
};

// A read-only view of the stored rows. Rows that cannot be decoded are
// logged by the backend and read as absent (a usage row: as zeros).
class LedgerRows {
 public:
  virtual ~LedgerRows() = default;

  virtual LedgerMeta meta() const = 0;
  // Zeros when the budget has no row.
  virtual UsageRow usage(const BudgetKey& key) const = 0;
  // The usage rows of a period (of one scope in it, when given), in key order.
  virtual std::vector<std::pair<BudgetKey, UsageRow>> usage_rows(
      const std::string& period, const std::optional<std::string>& scope) const = 0;
  // Every usage row of every period, in key order.
  virtual std::vector<std::pair<BudgetKey, UsageRow>> all_usage_rows() const = 0;
  virtual std::optional<ReservationRow> reservation(uint64_t id) const = 0;
  // Whether a reservation row exists (also one that cannot be decoded).
  virtual bool has_reservation(uint64_t id) const = 0;
  // Every reservation by id; nullopt: a row that cannot be decoded.
  virtual std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> reservations() const = 0;
  virtual bool fired(const FiredKey& key) const = 0;
  virtual std::optional<IdempotencyRecord> idempotency(const IdempotencyKey& key) const = 0;
  // Up to `limit` idempotency rows in key order, from `from` (inclusive;
  // nullopt: the first). nullopt record: a row that cannot be decoded.
  virtual std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>>
  idempotency_rows(const std::optional<IdempotencyKey>& from, size_t limit) const = 0;
  virtual uint64_t day_count(const DayKey& key) const = 0;
  // The send times (ms) of a provider's attempts in its last stored minute
  // window (policy::RateWindow::sent_in_window), ascending; empty: none.
  virtual std::vector<int64_t> minute_sends(const std::string& provider) const = 0;
  virtual std::optional<LimitOverride> limit_override(const LimitKey& key) const = 0;
  // Every override, in key order.
  virtual std::vector<std::pair<LimitKey, LimitOverride>> limit_overrides() const = 0;
  // Zeros when the budget has no row for that day.
  virtual DayUsage day_usage(const DayUsageKey& key) const = 0;
  // One scope's day rows from from_day to to_day (inclusive), in key order.
  virtual std::vector<std::pair<DayUsageKey, DayUsage>> day_usage_rows(const std::string& scope,
                                                                       int64_t from_day,
                                                                       int64_t to_day) const = 0;
  // Up to `limit` outbox entries of one destination with ids above
  // after_id, in id order (undecodable ones are skipped).
  virtual std::vector<OutboxEntry> outbox(const std::string& destination, uint64_t after_id,
                                          size_t limit) const = 0;
  virtual bool has_outbox(const OutboxKey& key) const = 0;
  // The ids of one destination's entries, in order.
  virtual std::vector<uint64_t> outbox_ids(const std::string& destination) const = 0;
  // The destinations with entries, sorted.
  virtual std::vector<std::string> outbox_destinations() const = 0;
  // Entries in the outbox, every destination.
  virtual uint64_t outbox_depth() const = 0;
  // The alerts log and the ledger log, newest first, until visit returns false.
  virtual void visit_alerts(const std::function<bool(Alert&&)>& visit) const = 0;
  virtual void visit_ledger_log(const std::function<bool(LedgerRecord&&)>& visit) const = 0;
  // Every reset audit row, oldest first.
  virtual std::vector<ResetRecord> resets() const = 0;
};

// A writable view: one write transaction of a backend.
class RowStore : public LedgerRows {
 public:
  // Writes the changes; later reads see them. Backend failures are thrown
  // (the backend's batch boundary catches them and fails the whole batch).
  virtual void apply(const RowChanges& changes) = 0;
  // A write that changes nothing the accounting reads (the probe that
  // tells a degraded ledger that writes work again).
  virtual void probe() = 0;
};

}  // namespace tollgate::ledger
