// The ledger's write operations as values, and what every backend does
// with them (internal to the ledger backends): apply a batch of them to a
// RowStore through the accounting rules, answer them, refuse them while
// degraded (keeping settlements, ledger.h), and keep reservations that
// wait in the admission queue.
//
// Each operation carries its arguments, its callback and a result slot.
// BatchApplier::apply fills the slot with the operation's own outcome
// (including outcomes such as "does not fit" or "unknown reservation");
// a failure of the store itself is thrown by the RowStore and aborts the
// whole batch. Applying is deterministic given the store's starting
// state, so a backend may apply a batch again from scratch.
//
// A batch is used by one thread at a time (the backend's writer).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/ledger/accounting.h"
#include "daemon/ledger/ledger.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger::detail {

template <class T>
struct OpBase {
  Callback<T> done;
  std::optional<Result<T>> result;
};

// parked: set by apply() when the reservation waits in the admission
// queue (no result; the backend keeps the op and applies it again with the
// next batch).
struct ReserveOp : OpBase<ReserveOutcome> {
  ReserveRequest req;
  bool parked = false;
  accounting::Waiting waiting;
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
// exclusive: this ledger is the store's only writer, so every stored
// reservation is a leftover and a budget's reserved tokens without one are
// stray (zeroed). A shared store (PostgreSQL) recovers only the
// reservations the store shows it (its own and expired leases) and
// leaves every other budget's reserved tokens alone.
struct RecoverOp : OpBase<OpenReport> {
  int64_t now_ms = 0;
  bool exclusive = true;
};
struct LevelsOp : OpBase<std::vector<Alert>> { int64_t now_ms = 0; };
struct SetLimitOp : OpBase<SetLimitOutcome> { SetLimitRequest req; };
struct ForecastsOp : OpBase<std::vector<Alert>> { int64_t now_ms = 0; };
struct OutboxDoneOp : OpBase<bool> { OutboxKey key; };
struct OutboxDropOp : OpBase<uint64_t> { std::string destination; };

using WriteOp = std::variant<ReserveOp, CommitOp, ReleaseOp, ResetOp, CountRequestOp,
                             IdempotencyPutOp, IdempotencyForgetOp, PruneOp, ProbeOp, RecoverOp,
                             LevelsOp, SetLimitOp, ForecastsOp, OutboxDoneOp, OutboxDropOp>;

// The operations of the public asynchronous writes (ledger.h).
WriteOp reserve_op(ReserveRequest request, Callback<ReserveOutcome> done);
WriteOp commit_op(CommitRequest request, std::optional<StoredReply> stored,
                  Callback<CommitOutcome> done);
WriteOp release_op(uint64_t reservation_id, Callback<ReleaseOutcome> done);
WriteOp reset_op(std::string agent, std::optional<std::string> provider, int64_t now_ms,
                 Callback<ResetOutcome> done);
WriteOp count_request_op(std::string provider, int64_t now_ms, Callback<uint64_t> done);
WriteOp idempotency_put_op(std::string agent, std::string key, std::string reply,
                           int64_t expiry_ms, Callback<bool> done);
WriteOp idempotency_forget_op(std::string agent, std::string key, Callback<bool> done);
WriteOp prune_op(int64_t now_ms, size_t max_rows, Callback<PruneOutcome> done);
WriteOp probe_op(Callback<bool> done);
WriteOp levels_op(int64_t now_ms, Callback<std::vector<Alert>> done);
WriteOp set_limit_op(SetLimitRequest request, Callback<SetLimitOutcome> done);
WriteOp forecasts_op(int64_t now_ms, Callback<std::vector<Alert>> done);
WriteOp outbox_done_op(OutboxKey key, Callback<bool> done);
WriteOp outbox_drop_op(std::string destination, Callback<uint64_t> done);
// What opening a ledger runs first: recovery, then every budget's levels.
std::vector<WriteOp> open_batch(int64_t now_ms, bool exclusive = true);
// The OpenReport of a finished open_batch (recovery plus the level alerts).
Result<OpenReport> open_report(std::vector<WriteOp>& batch);

// Applies operations one by one to a store, each seeing the effects of
// those before it (one batch, in one transaction of the backend).
class BatchApplier {
 public:
  // Loads the meta state (period, id and sequence counters) of the store.
  BatchApplier(RowStore& store, const BudgetPolicy& policy, accounting::AdmissionClock clock = {});
  void apply(WriteOp& op);
  // Writes the meta state back; call once before committing.
  void finish();

 private:
  void apply_one(ReserveOp& op);
  void apply_one(CommitOp& op);
  void apply_one(ReleaseOp& op);
  void apply_one(ResetOp& op);
  void apply_one(CountRequestOp& op);
  void apply_one(IdempotencyPutOp& op);
  void apply_one(IdempotencyForgetOp& op);
  void apply_one(PruneOp& op);
  void apply_one(ProbeOp& op);
  void apply_one(RecoverOp& op);
  void apply_one(LevelsOp& op);
  void apply_one(SetLimitOp& op);
  void apply_one(ForecastsOp& op);
  void apply_one(OutboxDoneOp& op);
  void apply_one(OutboxDropOp& op);

  RowStore& store_;
  const BudgetPolicy& policy_;
  accounting::BatchState state_;
};

bool is_parked(const WriteOp& op);
bool is_probe(const WriteOp& op);
// Commits and releases settle a reservation: a degraded ledger keeps them.
bool is_settlement(const WriteOp& op);
// Can applying `op` make room in a budget (so that waiters may now fit)?
bool may_free_room(const WriteOp& op);

// Runs the callback of an answered operation (once; exceptions logged).
void answer(WriteOp& op);
void answer_all(std::vector<WriteOp>& batch);
// Moves the callback and result out of an answered operation into a call
// that answers it later (a backend that answers outside its lock).
std::function<void()> take_answer(WriteOp& op);
// Answers every operation with `error` (a ledger that is closing).
void fail(WriteOp& op, const Error& error);

// Fills the results of a batch that cannot be written: settlements are
// answered deferred (with the reason), every other operation fails with it
// (ledger_unavailable, retry after kLedgerRetryMs).
void refuse(std::vector<WriteOp>& batch, const std::string& reason);
// After answering a refused batch: moves its settlements, callbacks
// dropped, to the end of `kept` (logged); returns how many.
size_t keep_settlements(std::vector<WriteOp>& batch, std::vector<WriteOp>& kept);
// What each kept settlement did once applied (errors logged).
std::vector<LateSettlement> late_settlements(std::vector<WriteOp>& applied);
// Hands each to the listener (exceptions logged).
void report_late(const std::vector<LateSettlement>& late,
                 const std::function<void(const LateSettlement&)>& listener);

// Moves the parked reservations of a finished batch to the end of
// `waiters`, in order.
void park(std::vector<WriteOp>& batch, std::vector<WriteOp>& waiters);
// How many reservations wait, by provider.
std::map<std::string, uint64_t> waiting_counts(const std::vector<WriteOp>& waiters);
// The earliest wait deadline among the waiters (max() without any).
std::chrono::steady_clock::time_point next_deadline(const std::vector<WriteOp>& waiters);

}  // namespace tollgate::ledger::detail
