// An in-memory Ledger (daemon/ledger/ledger.h) for tests: the same
// accounting and read rules as the LMDB ledger (accounting.h, reads.h) over
// ordered maps (memory_tables.h), the same admission queue, degraded state
// and deferred settlements. It passes the ledger conformance suite
// (tests/unit/ledger_*_test.cpp).
//
// DESIGN
// Operations run inline, on the caller's thread: each write is one batch
// (the reservations waiting in the admission queue, then the operation)
// applied under the ledger's one mutex, and its callback runs on the same
// thread after the mutex is released, before the *_async call returns.
// That makes tests of the call path deterministic: a fake worker that
// queues what the callbacks post sees every ledger answer as soon as the
// operation was submitted, with no thread to wait for. The exceptions are
// the answers the caller's operation did not produce itself:
// - a waiting reservation admitted because another operation freed room is
//   answered on that operation's thread;
// - a wait that ends (wait_until passed) is answered by the next operation
//   or expire_waits() (any thread), and, with the system clock, by the
//   wait timer: one std::jthread owned by the ledger that sleeps until the
//   earliest deadline (with a ManualClock there is no timer: move the
//   clock, then call expire_waits());
// - cancel_waits(), set_policy() and the destructor answer waiters on
//   their caller's thread.
// Callbacks never run with the mutex held, so a callback may submit.
//
// Writes never fail unless a test says so: MemoryLedgerOptions::write_fault
// or fail_writes() make writes fail as a full disk would, and the ledger is
// then degraded (writes refused, settlements deferred) until a probe write
// succeeds. There is no periodic probe: probe() or probe_async() only.
//
// Every public method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/sync.h"
#include "daemon/ledger/ledger.h"
#include "daemon/ledger/row_ledger.h"
#include "daemon/ledger/memory/memory_tables.h"
#include "daemon/ledger/write_ops.h"

namespace tollgate::ledger {

struct MemoryLedgerOptions : LedgerOptions {
  // The stored state; null: fresh tables. Keep them to open a ledger again
  // over what this one leaves (crash recovery tests).
  std::shared_ptr<MemoryTables> tables;
  // The clock wait deadlines (ReserveRequest::wait_until) are compared
  // with; null: the system clock, with a wait timer thread (see DESIGN).
  const Clock* clock = nullptr;
  // Tests: called before each write (probes included); a non-empty reason
  // fails that write as a failed disk write would.
  std::function<std::string()> write_fault;
  // Tests: called after each write that was applied, on the writing
  // thread, with the mutex released (reads are allowed).
  std::function<void()> after_write;
};

class MemoryLedger final : public RowLedger {
 public:
  // Opens the tables (recovery and the level check at now_ms, unless
  // recover_on_open is false). An Error when another MemoryLedger has them
  // open.
  static Result<std::unique_ptr<MemoryLedger>> open(MemoryLedgerOptions options,
                                                    BudgetPolicy policy, int64_t now_ms);
  // Answers every waiting reservation, applies kept settlements if a probe
  // write succeeds, and releases the tables.
  ~MemoryLedger() override;

  // Tests: every write from now on fails with `reason` (empty: writes work
  // again), and the ledger is degraded at once, as after a failed write;
  // a probe write that succeeds clears it.
  void fail_writes(std::string reason);
  // Answers the waiting reservations whose wait ended at the clock's now.
  void expire_waits();
  const std::shared_ptr<MemoryTables>& tables() const { return tables_; }

  const OpenReport& report() const override { return report_; }
  void set_policy(BudgetPolicy policy) override;
  std::shared_ptr<const BudgetPolicy> policy() const override;

  void cancel_waits() override;
  std::map<std::string, uint64_t> waiting() const override;
  LedgerHealth health() const override;
  bool degraded() const override;

  Result<void> read_rows(const RowReader& reader) const override;

 private:
  // What a round of work leaves to do once the mutex is released.
  struct Aftermath {
    std::vector<LateSettlement> late;
    std::vector<std::function<void()>> answers;
    bool wrote = false;
  };

  MemoryLedger(MemoryLedgerOptions options, BudgetPolicy policy);
  void submit(detail::WriteOp op) override EXCLUDES(mu_);
  // Runs `ops` after the waiters as batches until no waiter can move.
  void run(std::vector<detail::WriteOp> ops, Aftermath& after) REQUIRES(mu_);
  // Applies one batch; false (the ledger degraded, `reason` set) when the
  // write fails, and then nothing of it is applied.
  bool write(std::vector<detail::WriteOp>& batch, const accounting::AdmissionClock& clock,
             std::string& reason) REQUIRES(mu_);
  // Answers the operations of a finished batch and parks those that wait.
  void settle(std::vector<detail::WriteOp>& batch, Aftermath& after) REQUIRES(mu_);
  void refuse(std::vector<detail::WriteOp>& batch, const std::string& reason, Aftermath& after)
      REQUIRES(mu_);
  void apply_deferred(Aftermath& after) REQUIRES(mu_);
  bool try_probe() REQUIRES(mu_);
  void set_degraded(const std::string& reason) REQUIRES(mu_);
  std::string fault() REQUIRES(mu_);
  void finish(Aftermath& after) EXCLUDES(mu_);
  void timer_loop() EXCLUDES(mu_);

  // Constant after construction.
  const MemoryLedgerOptions options_;
  const Clock& clock_;
  const std::shared_ptr<MemoryTables> tables_;  // its contents: guarded by mu_
  OpenReport report_;                           // set by open()

  mutable Mutex mu_;
  CondVar timer_cv_{mu_};
  std::shared_ptr<const BudgetPolicy> policy_ GUARDED_BY(mu_);
  // The admission queue, oldest first.
  std::vector<detail::WriteOp> waiters_ GUARDED_BY(mu_);
  // Settlements kept while degraded, in arrival order, already answered.
  std::vector<detail::WriteOp> deferred_ GUARDED_BY(mu_);
  bool degraded_ GUARDED_BY(mu_) = false;
  std::string degraded_reason_ GUARDED_BY(mu_);
  std::string failing_ GUARDED_BY(mu_);  // fail_writes
  bool cancelled_ GUARDED_BY(mu_) = false;
  bool closing_ GUARDED_BY(mu_) = false;

  std::jthread timer_;  // last: started once everything above exists
};

}  // namespace tollgate::ledger
