// The ledger's accounting rules, the same for every backend: pure functions
// of the stored rows (rows.h), the budget policy and the operation, that
// return the operation's outcome and the rows to write. They do no I/O
// (they log, as the daemon does everywhere) and hold no state between
// calls; a backend reads rows for them inside its write transaction,
// applies the RowChanges in it, and runs the next operation of the batch
// against the result. Within one call, reads see that call's own changes.
//
// Rules (DESIGN.md "The ledger", PROTOCOL.md sections 3 and 4):
// - reserve: budget.h fit() for the agent budget and, when the provider has
//   one, the global budget. A refusal is the call's alone: it changes
//   nothing stored and fires no alert. A reservation that fits only once
//   other calls' reservations settle waits (ReserveRequest::wait_until):
//   a backend applies the waiting reservations again, in arrival order, at
//   the start of each batch, and a budget with a waiter ahead admits no
//   newcomer (BatchState::blocked), so a large call at the head is never
//   starved by small ones behind it. A fitting reserve also counts one
//   request in the provider's UTC-day counter (daily rate limits survive
//   restart); count_request counts further attempts (retries).
// - commit charges input + output to the reservation's period (a call that
//   straddles midnight at month end is charged to the month it started
//   in), for the agent and the global scope; requests += 1; cost += cost.
//   More than reserved is charged in full, logged as a warning, and fires
//   over_reservation once per (agent, provider, period).
// - Alerts fire when a budget reaches a level not yet fired this period
//   (the fired set), are appended to the alerts log and returned to the
//   caller. Exhausted means empty (budget.h). reevaluate_levels checks
//   every budget of the current period against the current limits: levels
//   now reached fire, levels no longer reached re-arm (so a ledger written
//   by an older tollgated, which marked a budget exhausted when one
//   reservation did not fit, is usable again).
// - idempotency (ledger_types.h): a reserve that carries the call's
//   IdempotentCall writes its pending marker (with the reservation id) in
//   the reservation's changes; a commit that carries a StoredReply replaces
//   it with the reply in the charge's changes, so no crash can leave a
//   charged call without its record or a served call without its marker.
//   idempotency_forget deletes a failed call's pending marker, but only
//   once its reservation is settled (a reservation still open may have
//   been served: recovery charges it and the marker stays). prune deletes
//   expired records in steps of at most max_rows rows, resuming where the
//   last step stopped (LedgerMeta::prune_cursor), so it never holds a
//   writer for a scan of the whole table.
// - recover (at open) charges every leftover reservation in full
//   (reserved -> used, requests unchanged, cost += the reservation's
//   full_cost_usd; a record from before that field recovers at cost 0,
//   with a warning) and reports it per (agent, provider, period).
// - the period only moves forward: the first budget operation whose now_ms
//   is in a later month than the stored period starts it and returns a
//   Rollover. Operations with an earlier now_ms use the current period.
// - reset(agent, provider|all): used -> 0 for the agent's current period;
//   requests and cost stay (history); cleared += used. The global scope's
//   used drops by the same amount so that global.used == sum of agents'
//   used always holds. The agent's alerts re-arm, the global budget's
//   levels that are no longer reached re-arm too (that lifts an emergency
//   shutdown, as PROTOCOL.md requires), and an audit row is appended.
// - every reset, rollover and recovery is also appended to the ledger log
//   in the changes that made it (the `ledger_events` op reads it back).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/core/ledger_types.h"
#include "daemon/core/period.h"
#include "daemon/ledger/ledger.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger::accounting {

// What admission compares wait deadlines with, and whether waiting has
// been cancelled (shutdown).
struct AdmissionClock {
  std::chrono::steady_clock::time_point now{};
  bool cancelled = false;
};

// What one batch of operations carries from each operation to the next:
// the counters of LedgerMeta and the budgets a waiting reservation blocks.
struct BatchState {
  BatchState(const LedgerMeta& meta, AdmissionClock admission);

  std::optional<Period> period;  // nullopt on a new ledger
  uint64_t next_reservation = 1;
  uint64_t log_seq = 0;
  bool period_dirty = false;
  bool counters_dirty = false;
  AdmissionClock clock;
  // Budgets with a reservation waiting ahead in this batch: no later
  // reservation may take room in them (first come, first served).
  std::set<BudgetKey> blocked;

  // The meta rows to write once the batch is done (none when unchanged).
  RowChanges finish() const;
};

// An outcome and the rows that produce it.
template <class T>
struct Ruling {
  T outcome;
  RowChanges changes;
};

// A reservation across its tries in the admission queue.
struct Waiting {
  bool waited = false;                    // it waited at least once
  std::optional<Rollover> rollover_seen;  // a rollover it started while waiting
};

// nullopt: the reservation waits (nothing stored but a rollover it
// started; apply it again with a later batch).
Ruling<std::optional<ReserveOutcome>> reserve(const LedgerRows& rows, const BudgetPolicy& policy,
                                              BatchState& state, const ReserveRequest& request,
                                              Waiting& waiting);
// An error for an unknown reservation (already committed or released).
Ruling<Result<CommitOutcome>> commit(const LedgerRows& rows, const BudgetPolicy& policy,
                                     BatchState& state, const CommitRequest& request,
                                     const std::optional<StoredReply>& stored);
Ruling<Result<ReleaseOutcome>> release(const LedgerRows& rows, uint64_t reservation_id);
Ruling<ResetOutcome> reset(const LedgerRows& rows, const BudgetPolicy& policy, BatchState& state,
                           const std::string& agent, const std::optional<std::string>& provider,
                           int64_t now_ms);
Ruling<uint64_t> count_request(const LedgerRows& rows, const std::string& provider, int64_t now_ms);
Ruling<std::vector<Alert>> reevaluate_levels(const LedgerRows& rows, const BudgetPolicy& policy,
                                             BatchState& state, int64_t now_ms);
// Charges the leftovers. Apply its changes, then clear_stray_reserved.
Ruling<OpenReport> recover(const LedgerRows& rows, const BudgetPolicy& policy, BatchState& state,
                           int64_t now_ms);
// With no reservation left, every usage row's reserved must be 0: anything
// else is a bug, zeroed loudly rather than block those budgets forever.
RowChanges clear_stray_reserved(const LedgerRows& rows);

// set_limit (PROTOCOL.md section 10): replaces (or, with no limit, removes)
// the budget's override and logs it; the budget's levels are checked
// against the limit now in force at once: levels no longer reached re-arm
// (which can lift an emergency shutdown), levels now reached fire. Its
// forecast alert re-arms too (the projection changed).
Ruling<SetLimitOutcome> set_limit(const LedgerRows& rows, const BudgetPolicy& policy,
                                  BatchState& state, const SetLimitRequest& request);
// Fires alert.forecast for every budget of the current period projected to
// reach its limit before the period ends (forecast.h), once per budget and
// period.
Ruling<std::vector<Alert>> check_forecasts(const LedgerRows& rows, const BudgetPolicy& policy,
                                           BatchState& state, int64_t now_ms);
// The outbox entry reached its destination (or was given up): deleted.
// Yields whether it was there.
Ruling<bool> outbox_done(const LedgerRows& rows, const OutboxKey& key);
// Deletes every outbox entry of a destination (no longer configured);
// yields how many.
Ruling<uint64_t> outbox_drop(const LedgerRows& rows, const std::string& destination);

RowChanges idempotency_put(const std::string& agent, const std::string& key,
                           const std::string& reply, int64_t expiry_ms);
Ruling<bool> idempotency_forget(const LedgerRows& rows, const std::string& agent,
                                const std::string& key);
Ruling<PruneOutcome> prune(const LedgerRows& rows, int64_t now_ms, size_t max_rows);

}  // namespace tollgate::ledger::accounting
