// LmdbLedger::Impl: the state behind the LMDB ledger (internal).
//
// The writer thread, admission queue, degraded state and kept settlements
// are the shared BatchWriter's (daemon/ledger/batch_writer.h); this is how
// a batch is written in LMDB (group commit, map growth, panics). Constant
// after open(): options, env, report. The policy is the BatchWriter's.
// Writer thread only: everything the batches touch in LMDB.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/core/sync.h"
#include "daemon/ledger/batch_writer.h"
#include "daemon/ledger/kept_snapshots.h"
#include "daemon/ledger/lmdb/lmdb_env.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/write_ops.h"

namespace tollgate::ledger {

struct LmdbLedger::Impl final : detail::BatchWriter {
  explicit Impl(LmdbLedgerOptions opts);
  ~Impl() override { stop(); }

  LmdbLedgerOptions options;
  std::unique_ptr<detail::LmdbEnv> env;
  OpenReport report;

  // The commit's changes for the redo log (writer thread).
  std::string redo_changes;

  std::chrono::steady_clock::time_point last_reader_check = std::chrono::steady_clock::now();

  // The budget snapshots that calls' plans read, each kept with what it
  // was read under: the id of the last committed write transaction and the
  // policy (held, so no other policy can take its address). While both
  // are unchanged, a fresh read would find exactly the same; most calls'
  // plans then read no rows.
  struct SnapshotTag {
    uint64_t txn_id = 0;
    std::shared_ptr<const BudgetPolicy> policy;
  };
  mutable detail::KeptSnapshots<SnapshotTag> snapshots;

  // Applies the batch in one transaction and commits it; the LMDB rc.
  // commit_seconds: how long the commit took (set when it was reached).
  int try_batch(std::vector<detail::WriteOp>& batch, const accounting::AdmissionClock& clock,
                std::string& what, double& commit_seconds);

 protected:
  // One transaction, growing the map as needed (BatchWriter).
  bool write_batch(std::vector<detail::WriteOp>& batch, const accounting::AdmissionClock& clock,
                   std::string& reason) override;
  bool write_probe() override;
  // Clears stale reader slots now and then.
  void tick(SteadyClock::time_point now) override;
};

}  // namespace tollgate::ledger
