// The LMDB ledger's writer: batches, group commit, map growth, the
// degraded state and the admission queue (lmdb_ledger.h DESIGN).
#include "daemon/ledger/lmdb/lmdb_ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "daemon/ledger/lmdb/ledger_tables.h"
#include "daemon/ledger/lmdb/lmdb_ledger_impl.h"
#include "daemon/ledger/lmdb/lmdb_rows.h"

namespace tollgate::ledger {
namespace {

using detail::WriteOp;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kReaderCheckInterval = std::chrono::seconds(60);
constexpr int kMaxGrowthsPerBatch = 40;

// LMDB's environment is unusable after MDB_PANIC (lmdb_ledger.h): exit so
// that systemd restarts tollgated, whose next open recovers from disk.
[[noreturn]] void exit_on_panic(const std::string& dir, const std::string& what) {
  spdlog::critical("ledger: LMDB panic in {} ({}); exiting so systemd restarts tollgated", dir, what);
  spdlog::shutdown();
  std::_Exit(EXIT_FAILURE);
}

Result<bool> check_schema(detail::LmdbEnv& env) {
  try {
    detail::WriteTxn txn(env);
    const auto schema = detail::meta_u32(txn.get(), env.tables(), "schema");
    if (schema && *schema > kSchemaVersion) {
      return Error::internal("ledger schema " + std::to_string(*schema) + " in " + env.dir() +
                             " is newer than this tollgated (" + std::to_string(kSchemaVersion) +
                             "); upgrade tollgated");
    }
    if (!schema) detail::put_meta_u32(txn.get(), env.tables(), "schema", kSchemaVersion);
    detail::check(txn.commit(), "mdb_txn_commit");
    return true;
  } catch (const detail::MdbError& e) {
    return Error::internal("cannot open ledger in " + env.dir() + ": " + e.what());
  }
}

}  // namespace

LmdbLedger::Impl::~Impl() {
  {
    MutexLock lock(queue_mu);
    stopping = true;
  }
  queue_cv.signal_all();
  if (writer.joinable()) writer.join();
}

std::shared_ptr<const BudgetPolicy> LmdbLedger::Impl::current_policy() const {
  MutexLock lock(policy_mu);
  return policy;
}

void LmdbLedger::Impl::submit(WriteOp op) {
  {
    MutexLock lock(queue_mu);
    if (!stopping) {
      queue.push_back(std::move(op));
      if (queue.size() == 1) queue_cv.signal();
      return;
    }
  }
  // Only reachable when a caller races the destructor: answer here.
  detail::fail(op, Error::internal("ledger is closing"));
}

void LmdbLedger::Impl::set_degraded(const std::string& reason) {
  {
    MutexLock lock(health_mu);
    degraded_reason = reason;
  }
  if (!degraded.exchange(true)) spdlog::error("ledger degraded, writes refused: {}", reason);
}

void LmdbLedger::Impl::clear_degraded() {
  {
    MutexLock lock(health_mu);
    degraded_reason.clear();
  }
  if (degraded.exchange(false)) spdlog::info("ledger: probe write succeeded, writes accepted again");
}

void LmdbLedger::Impl::publish_deferred_count() {
  MutexLock lock(health_mu);
  deferred_count = deferred.size();
}

int LmdbLedger::Impl::try_batch(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
                                std::string& what, double& commit_seconds) {
  const auto pol = current_policy();
  try {
    detail::WriteTxn txn(*env);
    detail::LmdbRows rows(txn.get(), env->tables());
    detail::BatchApplier applier(rows, *pol, clock);
    for (auto& op : batch) applier.apply(op);
    applier.finish();
    if (options.commit_fault) {
      if (const int fault = options.commit_fault(); fault != 0) {
        what = "mdb_txn_commit (injected)";
        return fault;
      }
    }
    what = "mdb_txn_commit";
    const auto started = SteadyClock::now();
    const int rc = txn.commit();
    commit_seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    return rc;
  } catch (const detail::MdbError& e) {
    what = e.what();
    return e.rc;
  }
}

bool LmdbLedger::Impl::commit_batch(std::vector<WriteOp>& batch,
                                    const accounting::AdmissionClock& clock, std::string& reason) {
  using Growth = detail::LmdbEnv::Growth;
  if (options.before_batch) options.before_batch();
  for (int growths = 0;; ++growths) {
    std::string what;
    double commit_seconds = 0;
    const int rc = try_batch(batch, clock, what, commit_seconds);
    if (rc == 0) {
      if (options.on_batch) options.on_batch(batch.size(), commit_seconds);
      return true;
    }
    if (rc == MDB_MAP_FULL && growths < kMaxGrowthsPerBatch) {
      const auto growth = env->grow(options.max_map_bytes, SteadyClock::now() + options.grow_wait);
      if (growth == Growth::kGrown) continue;  // redo the whole batch in the bigger map
      if (growth == Growth::kBusy) {
        reason = "ledger map in " + env->dir() + " is full and could not grow: read "
                 "transactions held it for more than " +
                 std::to_string(options.grow_wait.count()) + " ms";
        set_degraded(reason);
        return false;
      }
    }
    if (rc == MDB_PANIC) exit_on_panic(env->dir(), what);
    reason = "ledger write failed in " + env->dir() + ": " + what +
             (rc > 0 ? std::string(": ") + mdb_strerror(rc) : std::string());
    set_degraded(reason);
    return false;
  }
}

void LmdbLedger::Impl::run_batch(std::vector<WriteOp>& batch, accounting::AdmissionClock clock) {
  std::string reason;
  if (!commit_batch(batch, clock, reason)) {
    refuse_batch(batch, reason);
    return;
  }
  detail::answer_all(batch);
  if (options.after_batch) options.after_batch();
}

void LmdbLedger::Impl::refuse_batch(std::vector<WriteOp>& batch, const std::string& reason) {
  detail::refuse(batch, reason);
  detail::answer_all(batch);
  if (detail::keep_settlements(batch, deferred) > 0) publish_deferred_count();
}

void LmdbLedger::Impl::apply_deferred() {
  std::vector<WriteOp> late;
  late.swap(deferred);
  std::string reason;
  if (!commit_batch(late, {}, reason)) {
    // Nothing of that batch was written: keep them all, in order.
    deferred = std::move(late);
    spdlog::warn("ledger: {} kept settlements not applied yet: {}", deferred.size(), reason);
    publish_deferred_count();
    return;
  }
  publish_deferred_count();
  spdlog::info("ledger: applied {} settlements kept while the ledger was degraded", late.size());
  detail::report_late(detail::late_settlements(late), options.on_late_settlement);
  if (options.after_batch) options.after_batch();
}

void LmdbLedger::Impl::flush_deferred() {
  if (deferred.empty()) return;
  if (degraded.load()) try_probe();
  if (!degraded.load()) apply_deferred();
  if (!deferred.empty()) {
    spdlog::warn("ledger: closing with {} settlements not applied (the ledger is degraded); the "
                 "next start charges their reservations in full",
                 deferred.size());
  }
}

bool LmdbLedger::Impl::try_probe() {
  std::vector<WriteOp> probe;
  probe.push_back(detail::probe_op({}));
  std::string what;
  double commit_seconds = 0;
  const int rc = try_batch(probe, {}, what, commit_seconds);
  // A panicked environment never recovers in this process: staying
  // degraded would refuse calls until someone restarts it by hand.
  if (rc == MDB_PANIC) exit_on_panic(env->dir(), what);
  if (rc != 0) return false;
  clear_degraded();
  return true;
}

void LmdbLedger::Impl::park(std::vector<WriteOp>& batch) {
  detail::park(batch, waiters);
  auto counts = detail::waiting_counts(waiters);
  MutexLock lock(waiting_mu);
  waiting_counts = std::move(counts);
}

bool LmdbLedger::Impl::next_batch(std::vector<WriteOp>& batch, accounting::AdmissionClock& clock) {
  MutexLock lock(queue_mu);
  const auto deadline = detail::next_deadline(waiters);
  // Waiters are looked at again when something new is queued (it may have
  // freed room), when the first of them times out, or at shutdown.
  auto ready = [&]() REQUIRES(queue_mu) {
    return !queue.empty() || stopping ||
           (!waiters.empty() && (retry_waiters || cancel_waits || SteadyClock::now() >= deadline));
  };
  if (degraded.load()) {
    const auto until = SteadyClock::now() + options.probe_interval;
    while (!ready() && queue_cv.wait_until(until)) {
    }
  } else if (!waiters.empty()) {
    while (!ready() && SteadyClock::now() < deadline) queue_cv.wait_until(deadline);
  } else {
    while (!ready()) queue_cv.wait();
  }
  if (queue.empty() && stopping && waiters.empty()) return false;
  clock.cancelled = cancel_waits || stopping;
  retry_waiters = false;
  if (queue.size() <= options.max_batch_ops) {
    batch.swap(queue);
  } else {
    auto end = queue.begin() + static_cast<std::ptrdiff_t>(options.max_batch_ops);
    batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(end));
    queue.erase(queue.begin(), end);
  }
  return true;
}

void LmdbLedger::Impl::writer_loop() {
  auto last_probe = SteadyClock::now();
  auto last_reader_check = SteadyClock::now();
  std::vector<WriteOp> batch;
  for (;;) {
    batch.clear();
    accounting::AdmissionClock clock;
    if (!next_batch(batch, clock)) {
      flush_deferred();
      return;
    }
    const auto now = SteadyClock::now();
    clock.now = now;
    // The waiters go first, oldest first: first come, first served.
    if (!waiters.empty()) {
      batch.insert(batch.begin(), std::make_move_iterator(waiters.begin()),
                   std::make_move_iterator(waiters.end()));
      waiters.clear();
    }
    if (degraded.load()) {
      const bool asked = std::any_of(batch.begin(), batch.end(), detail::is_probe);
      if (asked || now - last_probe >= options.probe_interval) {
        last_probe = now;
        try_probe();
      }
    }
    // Settlements kept while degraded go before anything newer.
    if (!degraded.load() && !deferred.empty()) apply_deferred();
    if (!batch.empty()) {
      if (degraded.load()) {
        std::string reason;
        {
          MutexLock lock(health_mu);
          reason = degraded_reason;
        }
        refuse_batch(batch, "ledger degraded, writes refused until a probe write succeeds: " +
                                reason);
      } else {
        run_batch(batch, clock);
      }
      park(batch);
      if (!waiters.empty() && std::any_of(batch.begin(), batch.end(), detail::may_free_room)) {
        MutexLock lock(queue_mu);
        retry_waiters = true;
      }
    }
    if (now - last_reader_check >= kReaderCheckInterval) {
      last_reader_check = now;
      if (const int dead = env->reader_check(); dead > 0) {
        spdlog::warn("ledger: cleared {} stale reader slots", dead);
      }
    }
  }
}

// ---- LmdbLedger

LmdbLedger::LmdbLedger(std::unique_ptr<Impl> impl)
    : RowLedger(impl->options.prune_rows_per_step), impl_(std::move(impl)) {}
LmdbLedger::~LmdbLedger() = default;

Result<std::unique_ptr<LmdbLedger>> LmdbLedger::open(LmdbLedgerOptions options,
                                                     BudgetPolicy policy, int64_t now_ms) {
  if (options.max_batch_ops == 0) options.max_batch_ops = 1;
  auto env = detail::LmdbEnv::open(options.dir, options.initial_map_bytes, options.durable);
  if (!env) return env.error();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->env = std::move(env.value());
  {
    MutexLock lock(impl->policy_mu);
    impl->policy = std::make_shared<const BudgetPolicy>(std::move(policy));
  }
  if (auto schema = check_schema(*impl->env); !schema) return schema.error();

  if (impl->options.recover_on_open) {
    // The first batch runs here, before the writer exists: recovery must
    // finish before any new reservation can be made.
    auto batch = detail::open_batch(now_ms);
    impl->run_batch(batch);
    auto report = detail::open_report(batch);
    if (!report) return report.error();
    impl->report = std::move(report.value());
  }
  Impl* raw = impl.get();
  impl->writer = std::jthread([raw] { raw->writer_loop(); });
  return std::unique_ptr<LmdbLedger>(new LmdbLedger(std::move(impl)));
}

const OpenReport& LmdbLedger::report() const { return impl_->report; }

void LmdbLedger::set_policy(BudgetPolicy policy) {
  auto next = std::make_shared<const BudgetPolicy>(std::move(policy));
  {
    MutexLock lock(impl_->policy_mu);
    impl_->policy = std::move(next);
  }
  // A raised limit may let waiting reservations in.
  {
    MutexLock lock(impl_->queue_mu);
    impl_->retry_waiters = true;
  }
  impl_->queue_cv.signal_all();
}

std::shared_ptr<const BudgetPolicy> LmdbLedger::policy() const { return impl_->current_policy(); }

LedgerHealth LmdbLedger::health() const {
  MutexLock lock(impl_->health_mu);
  return LedgerHealth{impl_->degraded.load(), impl_->degraded_reason, impl_->deferred_count};
}

bool LmdbLedger::degraded() const { return impl_->degraded.load(); }

void LmdbLedger::submit(WriteOp op) { impl_->submit(std::move(op)); }

void LmdbLedger::cancel_waits() {
  {
    MutexLock lock(impl_->queue_mu);
    impl_->cancel_waits = true;
  }
  impl_->queue_cv.signal_all();
}

std::map<std::string, uint64_t> LmdbLedger::waiting() const {
  MutexLock lock(impl_->waiting_mu);
  return impl_->waiting_counts;
}

size_t LmdbLedger::map_size() const { return impl_->env->map_size(); }

}  // namespace tollgate::ledger
