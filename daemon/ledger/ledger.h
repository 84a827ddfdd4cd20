// The token ledger: durable two-phase accounting of LLM tokens, behind an
// interface with one implementation per storage backend (lmdb/: the
// daemon's; memory/: for tests). Every backend applies the same pure
// accounting rules (accounting.h: reserve, commit, release, reset,
// recovery, rollover, alert levels) to the same rows (rows.h), and the
// conformance suite (tests/unit/ledger_*_test.cpp) runs every behavioural
// case against each of them.
//
// Contract (DESIGN.md "The ledger", PROTOCOL.md sections 3 and 4):
// - Writes are asynchronous. Each one is applied in order with the others
//   and answered through its callback once it is durable, or failed. An
//   operation whose own checks fail (does not fit, unknown reservation)
//   gets its own outcome without affecting any other.
// - A reservation that fits only once other calls' reservations settle
//   waits (ReserveRequest::wait_until) in the admission queue, first come
//   first served per budget; cancel_waits() (shutdown) and closing the
//   ledger answer every waiter at once.
// - A failed write makes the ledger degraded: later writes are refused
//   until a probe write succeeds. Reads keep working. Settlements are
//   never lost to a degraded ledger: a commit or release that meets one is
//   answered at once with deferred = true (ledger_types.h) and kept, in
//   arrival order; after the next successful probe they are applied first,
//   each exactly once, and LedgerOptions::on_late_settlement reports each.
//   The reservations they settle stay stored until then, so a ledger
//   closed before that charges them in full at the next open, as any
//   leftover.
// - Opening a ledger charges every reservation a previous run left open in
//   full and checks every budget's levels against the current limits
//   (report()).
//
// Threads. Every public method may be called from any thread. Callbacks
// run once their operation is durable, on a thread the backend chooses
// (LMDB: its writer thread; memory: memory_ledger.h), never with a lock of
// the ledger held: keep them cheap (hand off, notify, submit the next
// operation; submitting from a callback is allowed). The blocking wrappers
// wait for that callback; never call them from a callback. Reads run on
// the caller's thread and see one consistent state.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/ledger_types.h"
#include "protocol/error.h"

namespace tollgate::ledger {

using protocol::Error;
using protocol::Result;

// When a write refused by a degraded ledger (ledger_unavailable) is worth
// trying again: about when the next probe write runs.
inline constexpr int64_t kLedgerRetryMs = 1000;

// The bound of one step of the idempotency expiry sweep (LedgerOptions).
inline constexpr size_t kPruneRowsPerStep = 1000;

// What every backend takes (each backend's options add its own).
struct LedgerOptions {
  // Charge leftover reservations at open. false is for inspecting a ledger
  // after a crash (tests); do not write through such a ledger.
  bool recover_on_open = true;
  // Called for each settlement that was deferred while the ledger was
  // degraded, once it has been applied (or found inapplicable) after the
  // ledger recovered: its alerts and rollover are for the event stream.
  // Runs where callbacks run; keep it cheap, like them.
  std::function<void(const LateSettlement&)> on_late_settlement;
  // Rows of the idempotency table one prune step looks at, at most.
  size_t prune_rows_per_step = kPruneRowsPerStep;
};

struct ReserveRequest {
  std::string agent;
  std::string provider;
  uint64_t amount = 0;
  std::string request_id;  // logged, kept with the reservation
  int64_t now_ms = 0;
  // Admission (PROTOCOL.md section 3, rule 6): when only other calls'
  // reservations stand in the way, the request queues, first come first
  // served per budget, until it fits or this time passes. The default (the
  // epoch) does not wait.
  std::chrono::steady_clock::time_point wait_until{};
  // The agent budget's soft threshold (the fallback threshold, for a
  // provider that is not the last in the chain); nullopt: none.
  std::optional<double> soft_threshold;
  // What charging the whole amount would cost at the call's model prices.
  // Kept with the reservation: crash recovery charges it with the tokens.
  double full_cost_usd = 0;
  // An idempotent call: a reservation that fits also writes its pending
  // marker (replacing the one of its previous reservation).
  std::optional<IdempotentCall> idempotency;
};

struct CommitRequest {
  uint64_t reservation_id = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  double cost_usd = 0;
  int64_t now_ms = 0;
};

template <class T>
using Callback = std::function<void(Result<T>)>;

class Ledger {
 public:
  virtual ~Ledger() = default;
  Ledger() = default;
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // What opening the ledger recovered (and any rollover it started).
  virtual const OpenReport& report() const = 0;
  // True when the ledger lives in a server that can be out of reach
  // (PostgreSQL): its reads may then fail with ledger_unavailable.
  virtual bool remote() const { return false; }

  // SIGHUP reload: operations after this call use the new policy (a raised
  // limit may let waiting reservations in).
  virtual void set_policy(BudgetPolicy policy) = 0;
  virtual std::shared_ptr<const BudgetPolicy> policy() const = 0;

  // ---- writes, asynchronous: the callback runs once the operation is
  // durable (or failed; commit and release: or deferred, see above).
  virtual void reserve_async(ReserveRequest request, Callback<ReserveOutcome> done) = 0;
  // Levels of every budget in the current period against the current
  // policy: fires what is now reached, re-arms what no longer is.
  virtual void reevaluate_levels_async(int64_t now_ms, Callback<std::vector<Alert>> done) = 0;
  virtual void commit_async(CommitRequest request, Callback<CommitOutcome> done) = 0;
  // The same, and the idempotent call's record (replacing its pending
  // marker) in the charge's transaction; nothing is stored when the commit
  // fails (unknown reservation).
  virtual void commit_async(CommitRequest request, StoredReply stored,
                            Callback<CommitOutcome> done) = 0;
  virtual void release_async(uint64_t reservation_id, Callback<ReleaseOutcome> done) = 0;
  virtual void reset_async(std::string agent, std::optional<std::string> provider, int64_t now_ms,
                           Callback<ResetOutcome> done) = 0;
  // Adds one request to provider's counter for the UTC day of now_ms;
  // yields the new count.
  virtual void count_request_async(std::string provider, int64_t now_ms,
                                   Callback<uint64_t> done) = 0;
  // Stores a "done" record without a fingerprint (tests and tools; calls
  // store theirs with commit_async).
  virtual void idempotency_put_async(std::string agent, std::string key, std::string reply,
                                     int64_t expiry_ms, Callback<bool> done) = 0;
  // A failed call: deletes its pending marker unless the marker's
  // reservation is still open; yields whether it deleted one. Other
  // records are kept.
  virtual void idempotency_forget_async(std::string agent, std::string key,
                                        Callback<bool> done) = 0;
  // One step of the expiry sweep: looks at up to prune_rows_per_step
  // idempotency rows from where the last step stopped and deletes those
  // expired at now_ms. Call again until `swept` for a whole round.
  virtual void prune_async(int64_t now_ms, Callback<PruneOutcome> done) = 0;
  // A write that changes nothing the accounting reads; success clears the
  // degraded state. Runs even while degraded.
  virtual void probe_async(Callback<bool> done) = 0;
  // Section 10 (accounting.h): an operator's limit override; the forecast
  // alerts of every budget; an outbox entry delivered.
  virtual void set_limit_async(SetLimitRequest request, Callback<SetLimitOutcome> done) = 0;
  virtual void check_forecasts_async(int64_t now_ms, Callback<std::vector<Alert>> done) = 0;
  virtual void outbox_done_async(std::string destination, uint64_t id, Callback<bool> done) = 0;
  // Deletes every outbox entry of a destination no longer configured;
  // yields how many.
  virtual void outbox_drop_async(std::string destination, Callback<uint64_t> done) = 0;

  // ---- writes, blocking wrappers of the above (never call from a callback).
  Result<ReserveOutcome> reserve(const std::string& agent, const std::string& provider,
                                 uint64_t amount, const std::string& request_id, int64_t now_ms);
  Result<ReserveOutcome> reserve(ReserveRequest request);
  Result<CommitOutcome> commit(uint64_t reservation_id, uint64_t input_tokens,
                               uint64_t output_tokens, double cost_usd, int64_t now_ms);
  Result<ReleaseOutcome> release(uint64_t reservation_id);
  Result<ResetOutcome> reset(const std::string& agent, const std::optional<std::string>& provider,
                             int64_t now_ms);
  Result<uint64_t> count_request(const std::string& provider, int64_t now_ms);
  Result<bool> idempotency_put(const std::string& agent, const std::string& key,
                               const std::string& reply, int64_t expiry_ms);
  Result<bool> idempotency_forget(const std::string& agent, const std::string& key);
  Result<PruneOutcome> prune(int64_t now_ms);
  Result<std::vector<Alert>> reevaluate_levels(int64_t now_ms);
  Result<bool> probe();
  Result<SetLimitOutcome> set_limit(SetLimitRequest request);
  Result<std::vector<Alert>> check_forecasts(int64_t now_ms);
  Result<bool> outbox_done(const std::string& destination, uint64_t id);
  Result<uint64_t> outbox_drop(const std::string& destination);

  // ---- admission queue
  // Answers every waiting reservation now (refused, waited = true), and
  // every one that would wait from now on. Shutdown calls it.
  virtual void cancel_waits() = 0;
  // Reservations waiting now, by provider.
  virtual std::map<std::string, uint64_t> waiting() const = 0;

  // ---- health
  virtual LedgerHealth health() const = 0;
  virtual bool degraded() const = 0;

  // ---- reads (one consistent state, on the caller's thread)
  // The period budget operations at now_ms use: the later of the stored
  // period and now_ms's month.
  virtual Result<std::string> current_period(int64_t now_ms) const = 0;
  virtual Result<ProviderUsage> usage(const std::string& agent, const std::string& period) const = 0;
  Result<ProviderUsage> global_usage(const std::string& period) const;
  virtual Result<BudgetSnapshot> snapshot(const std::string& agent, int64_t now_ms) const = 0;
  // Agents with a usage row in the period, sorted.
  virtual Result<std::vector<std::string>> agents(const std::string& period) const = 0;
  // Agents with a usage row in any period, sorted (a scan of every usage
  // row: for admin ops, not the call path).
  virtual Result<std::vector<std::string>> all_agents() const = 0;
  // Exactly `months` entries, newest (the current period) first.
  virtual Result<std::vector<HistoryMonth>> history(const std::string& agent, size_t months,
                                                    int64_t now_ms) const = 0;
  // Newest first; since_ms inclusive; agent "*" selects global alerts.
  virtual Result<std::vector<Alert>> alerts(size_t limit, std::optional<int64_t> since_ms,
                                            const std::optional<std::string>& agent) const = 0;
  virtual Result<std::vector<ResetRecord>> resets(const std::optional<std::string>& agent) const = 0;
  // The ledger log (resets, rollovers, recoveries), newest first; since_ms
  // inclusive.
  virtual Result<std::vector<LedgerRecord>> ledger_events(size_t limit,
                                                          std::optional<int64_t> since_ms) const = 0;
  virtual Result<EmergencyStatus> emergency_status(int64_t now_ms) const = 0;
  // The stored reply when (agent, key) has a "done" record that has not
  // expired at now_ms.
  virtual Result<std::optional<std::string>> idempotency_get(const std::string& agent,
                                                             const std::string& key,
                                                             int64_t now_ms) const = 0;
  // The record of (agent, key) in any state, unless expired at now_ms.
  virtual Result<std::optional<IdempotencyRecord>> idempotency_record(const std::string& agent,
                                                                      const std::string& key,
                                                                      int64_t now_ms) const = 0;
  virtual Result<uint64_t> requests_today(const std::string& provider, int64_t now_ms) const = 0;
  // The provider's attempts in (now_ms - 60000, now_ms] as the stored rate
  // window has them (BudgetPolicy::rate_limits; 0 without a minute limit).
  virtual Result<uint32_t> requests_this_minute(const std::string& provider,
                                                int64_t now_ms) const = 0;
  // Section 10 (forecast.h): every limit override; the forecast of every
  // budget of the current period (of one scope, when given); exactly
  // `days` UTC days of one scope (kGlobalScope: every agent), newest first.
  virtual Result<std::vector<LimitEntry>> limits() const = 0;
  virtual Result<Forecast> forecast(const std::optional<std::string>& scope,
                                    int64_t now_ms) const = 0;
  virtual Result<std::vector<DailyUsage>> daily(const std::string& scope, size_t days,
                                                int64_t now_ms) const = 0;
  // The notification outbox: up to `limit` entries of one destination
  // after after_id, oldest first; and how many entries wait in all.
  virtual Result<std::vector<OutboxEntry>> outbox(const std::string& destination,
                                                  uint64_t after_id, size_t limit) const = 0;
  virtual Result<uint64_t> outbox_depth() const = 0;
  // The destinations with entries in the outbox, sorted.
  virtual Result<std::vector<std::string>> outbox_destinations() const = 0;
};

}  // namespace tollgate::ledger
