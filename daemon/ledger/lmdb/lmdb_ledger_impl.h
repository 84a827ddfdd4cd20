// LmdbLedger::Impl: the state behind the LMDB ledger (internal).
//
// Constant after open(): options, env, report. Guarded by policy_mu:
// policy. Guarded by queue_mu: queue, stopping, cancel_waits,
// retry_waiters. Guarded by health_mu: degraded_reason, deferred_count
// (degraded is also mirrored in an atomic for cheap checks). Writer thread
// only: everything the batches touch in LMDB, waiters, deferred. Guarded
// by waiting_mu: waiting_counts.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/core/sync.h"
#include "daemon/ledger/lmdb/lmdb_env.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/write_ops.h"

namespace tollgate::ledger {

struct LmdbLedger::Impl {
  LmdbLedgerOptions options;
  std::unique_ptr<detail::LmdbEnv> env;
  OpenReport report;

  mutable Mutex policy_mu;
  std::shared_ptr<const BudgetPolicy> policy GUARDED_BY(policy_mu);

  Mutex queue_mu;
  CondVar queue_cv{queue_mu};
  std::vector<detail::WriteOp> queue GUARDED_BY(queue_mu);
  bool stopping GUARDED_BY(queue_mu) = false;
  bool cancel_waits GUARDED_BY(queue_mu) = false;  // shutdown: no reservation waits any more
  // Room may have been freed since the waiters were last applied (a commit,
  // release, reset or new policy): apply them again without waiting.
  bool retry_waiters GUARDED_BY(queue_mu) = false;

  // The admission queue: reservations waiting for room, oldest first
  // (writer thread only), and how many wait per provider (for reads).
  std::vector<detail::WriteOp> waiters;
  mutable Mutex waiting_mu;
  std::map<std::string, uint64_t> waiting_counts GUARDED_BY(waiting_mu);

  std::atomic<bool> degraded{false};
  mutable Mutex health_mu;
  std::string degraded_reason GUARDED_BY(health_mu);
  uint64_t deferred_count GUARDED_BY(health_mu) = 0;

  // Settlements (commits, releases) kept while degraded, in arrival order,
  // already answered (deferred) and without callbacks (writer thread only).
  std::vector<detail::WriteOp> deferred;

  std::jthread writer;  // last: started after everything above exists

  ~Impl();
  std::shared_ptr<const BudgetPolicy> current_policy() const;
  void submit(detail::WriteOp op);
  void writer_loop();
  // Takes what the writer works on next: the waiters, oldest first, then
  // up to max_batch_ops queued operations. false: stop (nothing left).
  bool next_batch(std::vector<detail::WriteOp>& batch, accounting::AdmissionClock& clock);
  // Applies, commits and answers one batch (writer thread, or the opening
  // thread before the writer starts).
  // Reservations that must wait are left in the batch, parked, and not
  // answered; the caller moves them to `waiters`.
  void run_batch(std::vector<detail::WriteOp>& batch, accounting::AdmissionClock clock = {});
  // Applies the batch in one transaction and commits it, growing the map
  // as needed; true when it is durable. Else the ledger is degraded and
  // `reason` says why (the batch's results are then meaningless).
  bool commit_batch(std::vector<detail::WriteOp>& batch, const accounting::AdmissionClock& clock,
                    std::string& reason);
  // Applies the batch in one transaction and commits it; the LMDB rc.
  // commit_seconds: how long the commit took (set when it was reached).
  int try_batch(std::vector<detail::WriteOp>& batch, const accounting::AdmissionClock& clock,
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
  bool try_probe();
  void set_degraded(const std::string& reason);
  void clear_degraded();
};

}  // namespace tollgate::ledger
