// The LMDB ledger's writes: one batch in one LMDB transaction, map growth
// and panics (lmdb_ledger.h DESIGN); the writer thread around it is the
// shared BatchWriter (daemon/ledger/batch_writer.h).
#include "daemon/ledger/lmdb/lmdb_ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "daemon/ledger/lmdb/ledger_tables.h"
#include "daemon/ledger/lmdb/lmdb_ledger_impl.h"
#include "daemon/ledger/lmdb/lmdb_redo.h"
#include "daemon/ledger/lmdb/lmdb_rows.h"

namespace tollgate::ledger {
namespace {

using detail::WriteOp;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kReaderCheckInterval = std::chrono::seconds(60);
constexpr int kMaxGrowthsPerBatch = 40;

using detail::exit_on_panic;

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

detail::BatchWriterOptions batch_options(const LmdbLedgerOptions& o) {
  detail::BatchWriterOptions w;
  w.max_batch_ops = o.max_batch_ops;
  w.probe_interval = o.probe_interval;
  w.on_late_settlement = o.on_late_settlement;
  w.after_batch = o.after_batch;
  w.before_batch = o.before_batch;
  return w;
}

}  // namespace

LmdbLedger::Impl::Impl(LmdbLedgerOptions opts)
    : BatchWriter(batch_options(opts)), options(std::move(opts)) {}


int LmdbLedger::Impl::try_batch(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
                                std::string& what, double& commit_seconds) {
  const auto pol = current_policy();
  try {
    detail::WriteTxn txn(*env);
    detail::LmdbRedo* redo = env->redo() != nullptr && env->redo()->active() ? env->redo() : nullptr;
    redo_changes.clear();
    detail::LmdbRows rows(txn.get(), env->tables(), redo != nullptr ? &redo_changes : nullptr);
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
    // A batch that changed nothing committed nothing (LMDB skips it).
    if (rc == 0 && redo != nullptr && !redo_changes.empty()) redo->committed(redo_changes);
    commit_seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    return rc;
  } catch (const detail::MdbError& e) {
    what = e.what();
    return e.rc;
  }
}

bool LmdbLedger::Impl::write_batch(std::vector<WriteOp>& batch,
                                   const accounting::AdmissionClock& clock, std::string& reason) {
  using Growth = detail::LmdbEnv::Growth;
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
        return false;
      }
    }
    if (rc == MDB_PANIC) exit_on_panic(env->dir(), "LMDB panic: " + what);
    reason = "ledger write failed in " + env->dir() + ": " + what +
             (rc > 0 ? std::string(": ") + mdb_strerror(rc) : std::string());
    return false;
  }
}

bool LmdbLedger::Impl::write_probe() {
  std::vector<WriteOp> probe;
  probe.push_back(detail::probe_op({}));
  std::string what;
  double commit_seconds = 0;
  const int rc = try_batch(probe, {}, what, commit_seconds);
  // A panicked environment never recovers in this process: staying
  // degraded would refuse calls until someone restarts it by hand.
  if (rc == MDB_PANIC) exit_on_panic(env->dir(), "LMDB panic: " + what);
  return rc == 0;
}

void LmdbLedger::Impl::tick(SteadyClock::time_point now) {
  if (now - last_reader_check < kReaderCheckInterval) return;
  last_reader_check = now;
  if (const int dead = env->reader_check(); dead > 0) {
    spdlog::warn("ledger: cleared {} stale reader slots", dead);
  }
}

// ---- LmdbLedger

LmdbLedger::LmdbLedger(std::unique_ptr<Impl> impl)
    : RowLedger(impl->options.prune_rows_per_step), impl_(std::move(impl)) {}
LmdbLedger::~LmdbLedger() = default;

Result<std::unique_ptr<LmdbLedger>> LmdbLedger::open(LmdbLedgerOptions options,
                                                     BudgetPolicy policy, int64_t now_ms) {
  if (options.max_batch_ops == 0) options.max_batch_ops = 1;
  auto env = detail::LmdbEnv::open(options.dir, options.initial_map_bytes, options.durable,
                                   options.redo_max_ring_bytes);
  if (!env) return env.error();
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->env = std::move(env.value());
  impl->replace_policy(std::move(policy));
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
  if (auto* redo = impl->env->redo(); redo != nullptr && impl->options.redo_log) {
    std::string error;
    if (!redo->start(impl->env->env(), impl->options.redo_checkpoint_every, error)) {
      spdlog::warn("ledger: redo log in {} not started ({}); every commit flushes LMDB twice",
                   impl->env->dir(), error);
    }
  }
  impl->start();
  return std::unique_ptr<LmdbLedger>(new LmdbLedger(std::move(impl)));
}

const OpenReport& LmdbLedger::report() const { return impl_->report; }

void LmdbLedger::set_policy(BudgetPolicy policy) { impl_->replace_policy(std::move(policy)); }

std::shared_ptr<const BudgetPolicy> LmdbLedger::policy() const { return impl_->current_policy(); }

LedgerHealth LmdbLedger::health() const { return impl_->health(); }

bool LmdbLedger::degraded() const { return impl_->degraded(); }

void LmdbLedger::submit(WriteOp op) { impl_->submit(std::move(op)); }

void LmdbLedger::cancel_waits() { impl_->cancel_waits(); }

std::map<std::string, uint64_t> LmdbLedger::waiting() const { return impl_->waiting(); }

size_t LmdbLedger::map_size() const { return impl_->env->map_size(); }

}  // namespace tollgate::ledger
