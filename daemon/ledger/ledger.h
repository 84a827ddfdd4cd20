// The token ledger: durable two-phase accounting of LLM tokens in LMDB.
//
// DESIGN
// One LMDB environment in a directory (one per process: LMDB forbids
// opening the same environment twice in a process; tollgated also holds a
// DataDirLock on the directory, data_dir_lock.h, so no other daemon opens
// it). A map another process grew (MDB_MAP_RESIZED) is adopted by the next
// transaction. Named tables, keys and values (the layout is versioned by
// meta.schema = kSchemaVersion):
//
//   meta          ascii name          -> "schema" u32, "period" "YYYY-MM",
//                                        "next_reservation" u64,
//                                        "log_seq" u64   (host byte order),
//                                        "prune_cursor" idempotency key
//                                        where the expiry sweep resumes
//   usage         "YYYY-MM\0scope\0provider"  (scope: agent or "*")
//                                     -> UsageRow: used, reserved, requests,
//                                        cleared (u64) and cost_usd (f64),
//                                        40 bytes, host byte order
//   reservations  id u64 big-endian   -> msgpack [agent, provider, period,
//                                        request_id, amount, created_ms,
//                                        full_cost_usd]  (older records: the
//                                        first six; added without a schema bump)
//   alerts_fired  "YYYY-MM\0scope\0provider\0" + level byte -> at_ms i64
//   alerts_log    at_ms i64 BE (sign-flipped) + log_seq u64 BE -> msgpack alert
//   resets        at_ms BE + log_seq BE -> msgpack [at_ms, agent, provider,
//                                        period, cleared]  (the audit trail)
//   idempotency   "agent\0key"        -> msgpack [state, expiry_ms, received_ms,
//                                        fingerprint, reservation_id, reply,
//                                        reply_bytes]  (state "pending", "done"
//                                        or "too_large"; IdempotencyRecord). A
//                                        record of an older tollgated,
//                                        [expiry_ms, reply], reads as "done"
//                                        without a fingerprint.
//   rate_day      "provider\0" + day i64 BE -> u64 request count
//   ledger_log    at_ms BE + log_seq BE -> msgpack [kind, at_ms, log_seq, fields]
//                                        (every `ledger` event: reset, rollover,
//                                        recovered; added without a schema bump)
//
// Strings keys sort by period, then scope, then provider, so one cursor
// range lists a period's agents or an agent's providers. Agent and provider
// names never contain NUL (the protocol restricts ai_name; provider names
// come from the configuration). Host byte order: LMDB files are not
// portable across architectures either.
//
// Writes. One writer thread owns every write transaction. Operations from
// any thread queue up; the writer takes everything queued (up to
// max_batch_ops), applies the operations one by one in ONE transaction —
// each sees the effects of those before it, and one whose own checks fail
// (does not fit, unknown reservation) gets its own outcome without
// affecting the rest — commits with one fsync, and only then runs the
// callbacks (group commit). MDB_MAP_FULL, from a put or from the commit
// itself, doubles the map (with every reader excluded: readers hold a
// shared lock while their transaction is open; the lock is
// writer-preferring, so once a growth waits no new reader starts, and the
// growth waits at most grow_wait for the readers already in, else the
// batch fails as below) and redoes the batch. Any other failure fails
// every operation of the batch with the Error and makes the ledger
// degraded: later writes are refused until a probe write (every
// probe_interval, or Ledger::probe) succeeds. Reads keep working.
// MDB_PANIC, from a batch or from a probe write, logs and exits the
// process so systemd restarts it.
//
// Settlements are never lost to a degraded ledger: a commit or release in
// a batch that failed, or submitted while degraded, is answered at once
// with deferred = true (ledger_types.h) and kept, in arrival order, by the
// writer. After the next successful probe write they are applied first,
// in one batch of their own, each exactly once (a failing batch keeps them
// all for the next recovery), and on_late_settlement reports each one.
// The reservations they settle stay in LMDB until then, so a crash before
// recovery charges them in full at the next open, as any leftover.
//
// Accounting (DESIGN.md "The ledger", PROTOCOL.md sections 3 and 4):
// - reserve: budget.h fit() for the agent budget and, when the provider has
//   one, the global budget. A refusal is the call's alone: it changes
//   nothing stored and fires no alert. A reservation that fits only once
//   other calls' reservations settle waits (ReserveRequest::wait_until) in
//   the writer's admission queue: each batch first re-applies the waiting
//   reservations in arrival order, and a budget with a waiter ahead admits
//   no newcomer, so a large call at the head is never starved by small ones
//   behind it. cancel_waits() (shutdown) answers every waiter at once.
//   A fitting reserve also counts one request in the provider's UTC-day
//   counter (daily rate limits survive restart); count_request counts
//   further attempts (retries).
// - commit charges input + output to the reservation's period (a call that
//   straddles midnight at month end is charged to the month it started
//   in), for the agent and the global scope; requests += 1; cost += cost.
//   More than reserved is charged in full and logged as a warning.
// - Alerts fire when a budget reaches a level not yet fired this period
//   (alerts_fired), are appended to alerts_log and returned to the caller.
//   Exhausted means empty (budget.h). At open, and with reevaluate_levels
//   after a limit changed, every budget of the current period is checked
//   against the current limits: levels now reached fire, levels no longer
//   reached re-arm (so a ledger written by an older tollgated, which marked
//   a budget exhausted when one reservation did not fit, is usable again).
// - idempotency (ledger_types.h): a reserve that carries the call's
//   IdempotentCall writes its pending marker (with the reservation id) in
//   the reservation's transaction; a commit that carries a StoredReply
//   replaces it with the reply in the charge's transaction, so no crash
//   can leave a charged call without its record or a served call without
//   its marker. idempotency_forget deletes a failed call's pending marker,
//   but only once its reservation is settled (a reservation still open
//   may have been served: recovery charges it and the marker stays).
//   prune deletes expired records in steps of at most prune_rows_per_step
//   rows, resuming where the last step stopped (meta.prune_cursor), so it
//   never holds the writer for a scan of the whole table.
// - recovery at open charges every leftover reservation in full
//   (reserved -> used, requests unchanged, cost += the reservation's
//   full_cost_usd; a record from before that field recovers at cost 0,
//   with a warning) and reports it per (agent, provider, period).
// - the period only moves forward: the first budget operation whose now_ms
//   is in a later month than meta.period starts it and returns a Rollover.
//   Operations with an earlier now_ms use the current period.
// - reset(agent, provider|all): used -> 0 for the agent's current period;
//   requests and cost stay (history); cleared += used. The global scope's
//   used drops by the same amount so that global.used == sum of agents'
//   used always holds. The agent's alerts re-arm (alerts_fired rows
//   deleted), the global budget's levels that are no longer reached re-arm
//   too (that lifts an emergency shutdown, as PROTOCOL.md requires), and a
//   row is appended to `resets`.
// - every reset, rollover and recovery is also appended to ledger_log in the
//   transaction that made it (the `ledger_events` op reads it back: the
//   `recovered` event is published before any subscriber can be connected).
//
// Threads. Every public method may be called from any thread. Callbacks of
// the *_async methods run on the writer thread once their batch is durable:
// keep them cheap (hand off, notify, submit the next operation — submitting
// from a callback is allowed). The blocking methods wait for that callback;
// never call them from a callback. Reads run in their own read-only
// transaction (MDB_NOTLS) on the caller's thread.
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

inline constexpr uint32_t kSchemaVersion = 1;
// The bound of one step of the idempotency expiry sweep (LedgerOptions).
inline constexpr size_t kPruneRowsPerStep = 1000;

struct LedgerOptions {
  std::string dir;  // created if missing; holds data.mdb and lock.mdb
  size_t initial_map_bytes = size_t{64} << 20;
  size_t max_map_bytes = size_t{1} << 40;  // the map doubles up to this
  // Operations per write transaction; 1 turns group commit off.
  size_t max_batch_ops = 4096;
  // false opens with MDB_NOSYNC: no fsync at all. For tests and benchmarks
  // only; a crash can then lose acknowledged writes.
  bool durable = true;
  // While degraded, how often the writer tries a probe write.
  std::chrono::milliseconds probe_interval{1000};
  // Charge leftover reservations at open. false is for inspecting a ledger
  // after a crash (tests); do not write through such a ledger.
  bool recover_on_open = true;
  // Tests: called on the writer thread after every durable batch.
  std::function<void()> after_batch;
  // Metrics: called on the writer thread after every durable batch with its
  // number of operations and how long the commit (the fsync) took.
  std::function<void(size_t ops, double commit_seconds)> on_batch;
  // Tests: called before each commit; a non-zero errno-style code fails
  // that commit as if LMDB had returned it.
  std::function<int()> commit_fault;
  // Tests: called on the writer thread before each batch of operations is
  // applied (not before probes); blocking in it delays the batch.
  std::function<void()> before_batch;
  // Tests: called on the reading thread inside every read transaction of
  // the read methods, while it holds the map shared.
  std::function<void()> inside_read;
  // How long a map growth waits for read transactions already open to end
  // (no new one starts while it waits); after that the batch fails and the
  // ledger is degraded, with that reason.
  std::chrono::milliseconds grow_wait{10000};
  // Called on the writer thread for each settlement that was deferred while
  // the ledger was degraded, once it has been applied (or found
  // inapplicable) after the ledger recovered: its alerts and rollover are
  // for the event stream. Keep it cheap, like the callbacks.
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
  // Opens (creating if needed) the ledger in options.dir, checks the
  // schema, runs recovery and the period check at now_ms (see report()),
  // and starts the writer. One clear Error when the directory cannot be
  // created or written, or the schema is newer than this build.
  static Result<std::unique_ptr<Ledger>> open(LedgerOptions options, BudgetPolicy policy,
                                              int64_t now_ms);
  // Runs every queued operation, stops the writer, closes the environment.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // What open() recovered (and any rollover it started).
  const OpenReport& report() const;

  // SIGHUP reload: operations after this call use the new policy.
  void set_policy(BudgetPolicy policy);
  std::shared_ptr<const BudgetPolicy> policy() const;

  // ---- writes, asynchronous: the callback runs on the writer thread once
  // the operation is durable (or failed; commit and release: or deferred,
  // see the DESIGN block).
  void reserve_async(ReserveRequest request, Callback<ReserveOutcome> done);
  // Levels of every budget in the current period against the current
  // policy: fires what is now reached, re-arms what no longer is.
  void reevaluate_levels_async(int64_t now_ms, Callback<std::vector<Alert>> done);
  void commit_async(CommitRequest request, Callback<CommitOutcome> done);
  // The same, and the idempotent call's record (replacing its pending
  // marker) in the charge's transaction; nothing is stored when the commit
  // fails (unknown reservation).
  void commit_async(CommitRequest request, StoredReply stored, Callback<CommitOutcome> done);
  void release_async(uint64_t reservation_id, Callback<ReleaseOutcome> done);
  void reset_async(std::string agent, std::optional<std::string> provider, int64_t now_ms,
                   Callback<ResetOutcome> done);
  // Adds one request to provider's counter for the UTC day of now_ms;
  // yields the new count.
  void count_request_async(std::string provider, int64_t now_ms, Callback<uint64_t> done);
  // Stores a "done" record without a fingerprint (tests and tools; calls
  // store theirs with commit_async).
  void idempotency_put_async(std::string agent, std::string key, std::string reply,
                             int64_t expiry_ms, Callback<bool> done);
  // A failed call: deletes its pending marker unless the marker's
  // reservation is still open; yields whether it deleted one. Other
  // records are kept.
  void idempotency_forget_async(std::string agent, std::string key, Callback<bool> done);
  // One step of the expiry sweep: looks at up to prune_rows_per_step
  // idempotency rows from where the last step stopped and deletes those
  // expired at now_ms. Call again until `swept` for a whole round.
  void prune_async(int64_t now_ms, Callback<PruneOutcome> done);

  // ---- writes, blocking wrappers (never call from a callback).
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
  // A write that changes nothing but meta; success clears the degraded
  // state. Runs even while degraded.
  Result<bool> probe();

  // ---- admission queue
  // Answers every waiting reservation now (refused, waited = true), and
  // every one that would wait from now on. Shutdown calls it.
  void cancel_waits();
  // Reservations waiting now, by provider.
  std::map<std::string, uint64_t> waiting() const;

  // ---- health
  LedgerHealth health() const;
  bool degraded() const;

  // ---- reads (read-only transaction on the caller's thread)
  // The period budget operations at now_ms use: the later of the stored
  // period and now_ms's month.
  Result<std::string> current_period(int64_t now_ms) const;
  Result<ProviderUsage> usage(const std::string& agent, const std::string& period) const;
  Result<ProviderUsage> global_usage(const std::string& period) const;
  Result<BudgetSnapshot> snapshot(const std::string& agent, int64_t now_ms) const;
  // Agents with a usage row in the period, sorted.
  Result<std::vector<std::string>> agents(const std::string& period) const;
  // Agents with a usage row in any period, sorted (one scan of the usage
  // table: for admin ops, not the call path).
  Result<std::vector<std::string>> all_agents() const;
  // Exactly `months` entries, newest (the current period) first.
  Result<std::vector<HistoryMonth>> history(const std::string& agent, size_t months,
                                            int64_t now_ms) const;
  // Newest first; since_ms inclusive; agent "*" selects global alerts.
  Result<std::vector<Alert>> alerts(size_t limit, std::optional<int64_t> since_ms,
                                    const std::optional<std::string>& agent) const;
  Result<std::vector<ResetRecord>> resets(const std::optional<std::string>& agent) const;
  // The ledger log (resets, rollovers, recoveries), newest first; since_ms
  // inclusive.
  Result<std::vector<LedgerRecord>> ledger_events(size_t limit,
                                                  std::optional<int64_t> since_ms) const;
  Result<EmergencyStatus> emergency_status(int64_t now_ms) const;
  // The stored reply when (agent, key) has a "done" record that has not
  // expired at now_ms.
  Result<std::optional<std::string>> idempotency_get(const std::string& agent,
                                                     const std::string& key,
                                                     int64_t now_ms) const;
  // The record of (agent, key) in any state, unless expired at now_ms.
  Result<std::optional<IdempotencyRecord>> idempotency_record(const std::string& agent,
                                                              const std::string& key,
                                                              int64_t now_ms) const;
  Result<uint64_t> requests_today(const std::string& provider, int64_t now_ms) const;
  // Current map size in bytes (grows by itself).
  size_t map_size() const;

  struct Impl;

 private:
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::ledger
