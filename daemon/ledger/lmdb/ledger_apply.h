// The write operations of the ledger and how one batch applies them inside
// one LMDB write transaction (internal to tollgate_ledger).
//
// Each operation carries its arguments, its callback and a result slot.
// BatchApplier::apply fills the slot with the operation's own outcome
// (including outcomes such as "does not fit" or "unknown reservation")
// and throws MdbError only for LMDB failures, which abort the whole batch.
// Applying is deterministic given the transaction's starting state, so
// after a map growth the batch is simply applied again from scratch.
//
// Writer thread only (or the opening thread before the writer starts).
#pragma once

#include <lmdb.h>

#include <chrono>
#include <set>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/ledger_tables.h"
#include "daemon/core/period.h"

namespace tollgate::ledger::detail {

template <class T>
struct OpBase {
  Callback<T> done;
  std::optional<Result<T>> result;
};

// parked: set by apply() when the reservation waits in the admission
// queue (no result; the writer keeps the op and applies it again with the
// next batch).
struct ReserveOp : OpBase<ReserveOutcome> {
  ReserveRequest req;
  bool parked = false;
  bool waited = false;  // parked at least once
  std::optional<Rollover> rollover_seen;  // a rollover it started while parked
};
struct CommitOp : OpBase<CommitOutcome> {
  CommitRequest req;
  std::optional<StoredReply> stored;  // written with the charge
};
struct ReleaseOp : OpBase<ReleaseOutcome> { uint64_t reservation_id = 0; };
struct ResetOp : OpBase<ResetOutcome> {
  std::string agent;
  std::optional<std::string> provider;
  int64_t now_ms = 0;
};
struct CountRequestOp : OpBase<uint64_t> {
  std::string provider;
  int64_t now_ms = 0;
};
struct IdempotencyPutOp : OpBase<bool> {
  std::string agent, key, reply;
  int64_t expiry_ms = 0;
};
struct IdempotencyForgetOp : OpBase<bool> { std::string agent, key; };
struct PruneOp : OpBase<PruneOutcome> {
  int64_t now_ms = 0;
  size_t max_rows = kPruneRowsPerStep;
};
struct ProbeOp : OpBase<bool> {};
struct RecoverOp : OpBase<OpenReport> { int64_t now_ms = 0; };
struct LevelsOp : OpBase<std::vector<Alert>> { int64_t now_ms = 0; };

using WriteOp = std::variant<ReserveOp, CommitOp, ReleaseOp, ResetOp, CountRequestOp,
                             IdempotencyPutOp, IdempotencyForgetOp, PruneOp, ProbeOp, RecoverOp,
                             LevelsOp>;

// What admission needs of the writer: the time that wait deadlines are
// compared with, and whether waiting has been cancelled (shutdown).
struct AdmissionClock {
  std::chrono::steady_clock::time_point now{};
  bool cancelled = false;
};

class BatchApplier {
 public:
  // Loads the meta state (period, id and sequence counters) of the txn.
  BatchApplier(MDB_txn* txn, const Tables& tables, const BudgetPolicy& policy,
               AdmissionClock clock = {});

  void apply(ReserveOp& op);
  void apply(CommitOp& op);
  void apply(ReleaseOp& op);
  void apply(ResetOp& op);
  void apply(CountRequestOp& op);
  void apply(IdempotencyPutOp& op);
  void apply(IdempotencyForgetOp& op);
  void apply(PruneOp& op);
  void apply(ProbeOp& op);
  void apply(RecoverOp& op);
  void apply(LevelsOp& op);

  // Writes the meta state back; call once before committing.
  void finish();

 private:
  std::optional<Rollover> advance_period(int64_t now_ms);
  uint64_t agent_limit(const std::string& agent, const std::string& provider) const;
  std::optional<uint64_t> global_limit(const std::string& provider) const;
  uint64_t bump_day(const std::string& provider, int64_t now_ms);

  // Fires every level `used` reaches that has not fired yet this period.
  void check_levels(const std::string& period, const std::string& scope,
                    const std::string& provider, uint64_t used, uint64_t limit, int64_t now_ms,
                    std::vector<Alert>& out);
  void fire(const std::string& period, const std::string& scope, const std::string& provider,
            AlertLevel level, uint64_t used, uint64_t limit, int64_t now_ms, std::string message,
            std::vector<Alert>& out);
  // A commit charged more than its reservation: the over_reservation alert,
  // once per (agent, provider, period); `used` and `limit` are the agent's.
  void fire_over_reservation(const ReservationRecord& res, uint64_t charged, uint64_t used,
                             uint64_t limit, int64_t now_ms, std::vector<Alert>& out);
  // Deletes the fired marks of levels `used` no longer reaches.
  void rearm(const std::string& period, const std::string& scope, const std::string& provider,
             uint64_t used, std::optional<uint64_t> limit);
  void rearm_global(const std::string& period, const std::string& provider, uint64_t used);
  void refuse(ReserveOp& op, ReserveOutcome out, ReserveStatus status, RefusedBy by,
              const UsageRow& row, uint64_t limit);
  void sweep_reserved();
  // Appends the change to ledger_log (the `ledger_events` op's record).
  void log_change(LedgerChange change, int64_t at_ms);

  MDB_txn* txn_;
  const Tables& t_;
  const BudgetPolicy& policy_;
  std::optional<Period> period_;  // meta.period; nullopt on a new ledger
  bool period_dirty_ = false;
  uint64_t next_reservation_ = 1;
  uint64_t log_seq_ = 0;
  bool counters_dirty_ = false;
  AdmissionClock clock_;
  // Usage keys of budgets with a reservation waiting ahead in this batch:
  // no later reservation may take room in them (first come, first served).
  std::set<std::string> blocked_;
};

}  // namespace tollgate::ledger::detail
