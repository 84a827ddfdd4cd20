// BatchWriter: the writer thread that the durable backends share (LMDB,
// PostgreSQL; internal to the ledger backends). It owns the write side of
// the contract in ledger.h: group commit, the admission queue, the
// degraded state and the settlements kept while degraded. A backend
// supplies only how one batch is written in one transaction of its store
// (write_batch) and what a probe write is (write_probe).
//
// Operations from any thread queue up (submit); the writer takes the
// waiters (oldest first) and then everything queued, up to max_batch_ops,
// and hands them to write_batch, which applies them in order
// (BatchApplier) in ONE transaction and commits it; only then are the
// callbacks run. A batch that fails makes the writer degraded: its
// settlements are answered deferred and kept, in order, every other
// operation fails, and later batches are refused without touching the
// store until a probe write succeeds (every probe_interval, or an explicit
// probe). The kept settlements are then applied first, in one batch of
// their own, each exactly once, and reported (on_late_settlement).
//
// Threads. submit, set_policy_changed, cancel_waits, waiting, health and
// degraded may be called from any thread; write_batch, write_probe, tick
// and kept_changed run on the writer thread only (or on the opening
// thread, through run_batch, before start()). A backend calls stop() at
// the start of its destructor: the thread calls its virtual methods.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/core/sync.h"
#include "daemon/ledger/write_ops.h"

namespace tollgate::ledger::detail {

struct BatchWriterOptions {
  // Operations per write transaction; 1 turns group commit off.
  size_t max_batch_ops = 4096;
  // While degraded, how often the writer tries a probe write.
  std::chrono::milliseconds probe_interval{1000};
  // When set, tick() runs at least this often (leases, housekeeping).
  std::chrono::milliseconds tick_interval{0};
  // When set, waiting reservations are applied again at least this often:
  // a store that other processes write (PostgreSQL) gets room freed that
  // no operation of this writer announces.
  std::chrono::milliseconds waiter_poll{0};
  std::function<void(const LateSettlement&)> on_late_settlement;
  // Tests: called on the writer thread after every durable batch.
  std::function<void()> after_batch;
  // Tests: called before each batch of operations is written (not before
  // probes); blocking in it delays the batch.
  std::function<void()> before_batch;
};

class BatchWriter {
 public:
  using SteadyClock = std::chrono::steady_clock;

  explicit BatchWriter(BatchWriterOptions options);
  virtual ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Starts the writer thread.
  void start();
  // Runs every queued operation, applies the kept settlements if the store
  // takes them, and joins the writer thread. Idempotent.
  void stop();

  void submit(WriteOp op);
  // Writes and answers one batch on the calling thread (the opening
  // thread, before start()). Reservations that must wait are left parked.
  void run_batch(std::vector<WriteOp>& batch, accounting::AdmissionClock clock = {});

  // The budget policy in force, replaced whole (SIGHUP); a replacement may
  // free room (a raised limit), so the waiters are applied again.
  std::shared_ptr<const BudgetPolicy> current_policy() const;
  void replace_policy(BudgetPolicy policy);
  // Room may have been freed (a new policy): apply the waiters again.
  void set_policy_changed();
  void cancel_waits();
  std::map<std::string, uint64_t> waiting() const;
  LedgerHealth health() const;
  bool degraded() const { return degraded_.load(); }
  // A reader found the store unreachable: degraded at once (readiness says
  // so before any write fails), and a probe is queued, which clears it
  // again at once if the store answers the writer.
  void report_unreachable(const std::string& reason);

 protected:
  // Applies the batch in ONE transaction of the store and commits it;
  // true once it is durable. false: nothing of it was written, and
  // `reason` says why.
  virtual bool write_batch(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
                           std::string& reason) = 0;
  // A write that changes nothing the accounting reads; true on success.
  virtual bool write_probe() = 0;
  // Runs on the writer thread after every round (batch or timeout), at
  // least every tick_interval when that is set.
  virtual void tick(SteadyClock::time_point /*now*/) {}
  // The kept settlements changed (now `kept`, in order).
  virtual void kept_changed(const std::vector<WriteOp>& /*kept*/) {}

  const BatchWriterOptions& writer_options() const { return options_; }

 private:
  void writer_loop();
  bool next_batch(std::vector<WriteOp>& batch, accounting::AdmissionClock& clock);
  bool commit(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
              std::string& reason);
  void refuse_batch(std::vector<WriteOp>& batch, const std::string& reason);
  void apply_kept();
  void flush_kept();
  void publish_kept_count();
  void park(std::vector<WriteOp>& batch);
  bool try_probe();
  void set_degraded(const std::string& reason);
  void clear_degraded();

  const BatchWriterOptions options_;

  Mutex queue_mu_;
  CondVar queue_cv_{queue_mu_};
  std::vector<WriteOp> queue_ GUARDED_BY(queue_mu_);
  bool stopping_ GUARDED_BY(queue_mu_) = false;
  bool cancel_waits_ GUARDED_BY(queue_mu_) = false;
  bool retry_waiters_ GUARDED_BY(queue_mu_) = false;

  // The admission queue (writer thread only) and its counts per provider.
  std::vector<WriteOp> waiters_;
  mutable Mutex waiting_mu_;
  std::map<std::string, uint64_t> waiting_counts_ GUARDED_BY(waiting_mu_);

  mutable Mutex policy_mu_;
  std::shared_ptr<const BudgetPolicy> policy_ GUARDED_BY(policy_mu_);

  std::atomic<bool> degraded_{false};
  mutable Mutex health_mu_;
  std::string degraded_reason_ GUARDED_BY(health_mu_);
  uint64_t kept_count_ GUARDED_BY(health_mu_) = 0;

  // Settlements kept while degraded, answered, without callbacks (writer
  // thread only).
  std::vector<WriteOp> kept_;

  std::jthread thread_;
};

}  // namespace tollgate::ledger::detail
