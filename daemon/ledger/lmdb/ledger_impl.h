// Ledger::Impl: the state behind the public Ledger (internal).
//
// Constant after open(): options, env. Guarded by policy_mu: policy.
// Guarded by queue_mu: queue, stopping. Guarded by health_mu:
// degraded_reason, deferred_count (degraded is also mirrored in an atomic
// for cheap checks). Writer thread only: everything the batches touch in
// LMDB, waiters, deferred. Guarded by waiting_mu: waiting_counts.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/ledger_apply.h"
#include "daemon/ledger/lmdb/lmdb_env.h"

namespace tollgate::ledger {

struct Ledger::Impl {
  LedgerOptions options;
  std::unique_ptr<detail::LmdbEnv> env;
  OpenReport report;

  mutable std::mutex policy_mu;
  std::shared_ptr<const BudgetPolicy> policy;

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::vector<detail::WriteOp> queue;
  bool stopping = false;
  bool cancel_waits = false;  // shutdown: no reservation waits any more
  // Room may have been freed since the waiters were last applied (a commit,
  // release, reset or new policy): apply them again without waiting.
  bool retry_waiters = false;

  // The admission queue: reservations waiting for room, oldest first
  // (writer thread only), and how many wait per provider (for reads).
  std::vector<detail::WriteOp> waiters;
  mutable std::mutex waiting_mu;
  std::map<std::string, uint64_t> waiting_counts;

  std::atomic<bool> degraded{false};
  mutable std::mutex health_mu;
  std::string degraded_reason;
  uint64_t deferred_count = 0;

  // Settlements (commits, releases) kept while degraded, in arrival order,
  // already answered (deferred) and without callbacks (writer thread only).
  std::vector<detail::WriteOp> deferred;

  std::jthread writer;  // last: started after everything above exists

  ~Impl();
  std::shared_ptr<const BudgetPolicy> current_policy() const;
  void submit(detail::WriteOp op);
  void writer_loop();
  // Applies, commits and answers one batch (writer thread, or the opening
  // thread before the writer starts).
  // Reservations that must wait are left in the batch, parked, and not
  // answered; the caller moves them to `waiters`.
  void run_batch(std::vector<detail::WriteOp>& batch, detail::AdmissionClock clock = {});
  // Applies the batch in one transaction and commits it, growing the map
  // as needed; true when it is durable. Else the ledger is degraded and
  // `reason` says why (the batch's results are then meaningless).
  bool commit_batch(std::vector<detail::WriteOp>& batch, const detail::AdmissionClock& clock,
                    std::string& reason);
  // Applies the batch in one transaction and commits it; the LMDB rc.
  // commit_seconds: how long the commit took (set when it was reached).
  int try_batch(std::vector<detail::WriteOp>& batch, const detail::AdmissionClock& clock,
                std::string& what, double& commit_seconds);
  // A batch that cannot be written (the ledger is degraded, for `reason`):
  // its settlements are answered deferred and kept, every other operation
  // fails with `reason`; then every caller is answered.
  void refuse_batch(std::vector<detail::WriteOp>& batch, const std::string& reason);
  // After a successful probe: applies the kept settlements, in order, in
  // one batch, and reports each (on_late_settlement); if that batch fails
  // they are all kept again.
  void apply_deferred();
  // At close: one last probe and apply_deferred while settlements are kept.
  void flush_deferred();
  void publish_deferred_count();
  // Moves the parked reservations of a finished batch to `waiters`, in
  // order, and publishes the per-provider counts.
  void park(std::vector<detail::WriteOp>& batch);
  // The earliest wait deadline among the waiters.
  std::chrono::steady_clock::time_point next_deadline() const;
  bool try_probe();
  void set_degraded(const std::string& reason);
  void clear_degraded();
};

}  // namespace tollgate::ledger
