// Ledger::Impl: the state behind the public Ledger (internal).
//
// Constant after open(): options, env. Guarded by policy_mu: policy.
// Guarded by queue_mu: queue, stopping. Guarded by health_mu:
// degraded_reason (degraded is also mirrored in an atomic for cheap checks).
// Writer thread only: everything the batches touch in LMDB.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/ledger_apply.h"
#include "daemon/ledger/lmdb_env.h"

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

  std::atomic<bool> degraded{false};
  mutable std::mutex health_mu;
  std::string degraded_reason;

  std::jthread writer;  // last: started after everything above exists

  ~Impl();
  std::shared_ptr<const BudgetPolicy> current_policy() const;
  void submit(detail::WriteOp op);
  void writer_loop();
  // Applies, commits and answers one batch (writer thread, or the opening
  // thread before the writer starts).
  void run_batch(std::vector<detail::WriteOp>& batch);
  // Applies the batch in one transaction and commits it; the LMDB rc.
  // commit_seconds: how long the commit took (set when it was reached).
  int try_batch(std::vector<detail::WriteOp>& batch, std::string& what, double& commit_seconds);
  bool try_probe();
  void set_degraded(const std::string& reason);
  void clear_degraded();
};

}  // namespace tollgate::ledger
