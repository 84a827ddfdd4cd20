#include "daemon/ledger/ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <utility>

#include "daemon/ledger/lmdb/ledger_impl.h"

namespace tollgate::ledger {
namespace {

using detail::WriteOp;

constexpr auto kReaderCheckInterval = std::chrono::seconds(60);
constexpr int kMaxGrowthsPerBatch = 40;

bool is_parked(const WriteOp& op) {
  const auto* r = std::get_if<detail::ReserveOp>(&op);
  return r != nullptr && r->parked;
}

template <class Op>
void deliver_one(Op& op) {
  if (!op.done || !op.result) return;
  try {
    op.done(std::move(*op.result));
  } catch (const std::exception& e) {
    spdlog::error("ledger: a write callback threw: {}", e.what());
  }
}

void deliver(std::vector<WriteOp>& batch) {
  for (auto& op : batch) std::visit([](auto& o) { deliver_one(o); }, op);
}

// Commits and releases settle a reservation: a degraded ledger keeps them
// (ledger.h DESIGN) instead of failing them.
bool is_settlement(const WriteOp& op) {
  return std::holds_alternative<detail::CommitOp>(op) ||
         std::holds_alternative<detail::ReleaseOp>(op);
}

// The settlement's own reservation id.
uint64_t settled_id(const WriteOp& op) {
  if (const auto* c = std::get_if<detail::CommitOp>(&op)) return c->req.reservation_id;
  return std::get<detail::ReleaseOp>(op).reservation_id;
}

// What a kept settlement did once applied, for on_late_settlement.
LateSettlement late_settlement(WriteOp& op) {
  LateSettlement late;
  late.reservation_id = settled_id(op);
  auto take = [&late](auto& result, auto& slot) {
    if (!result) {
      late.error = "not applied";
    } else if (!*result) {
      late.error = result->error().message;
    } else {
      slot = std::move(result->value());
    }
  };
  if (auto* c = std::get_if<detail::CommitOp>(&op)) {
    take(c->result, late.commit);
  } else {
    take(std::get<detail::ReleaseOp>(op).result, late.release);
  }
  return late;
}

// LMDB's environment is unusable after MDB_PANIC (ledger.h): exit so that
// systemd restarts tollgated, whose next open recovers from disk.
[[noreturn]] void exit_on_panic(const std::string& dir, const std::string& what) {
  spdlog::critical("ledger: LMDB panic in {} ({}); exiting so systemd restarts tollgated", dir, what);
  spdlog::shutdown();
  std::_Exit(EXIT_FAILURE);
}

bool is_probe(const WriteOp& op) { return std::holds_alternative<detail::ProbeOp>(op); }

// Can applying `op` make room in a budget (so that waiters may now fit)?
bool may_free_room(const WriteOp& op) {
  return std::holds_alternative<detail::CommitOp>(op) ||
         std::holds_alternative<detail::ReleaseOp>(op) ||
         std::holds_alternative<detail::ResetOp>(op) ||
         std::holds_alternative<detail::LevelsOp>(op);
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

Ledger::Impl::~Impl() {
  {
    std::lock_guard lock(queue_mu);
    stopping = true;
  }
  queue_cv.notify_all();
  if (writer.joinable()) writer.join();
}

std::shared_ptr<const BudgetPolicy> Ledger::Impl::current_policy() const {
  std::lock_guard lock(policy_mu);
  return policy;
}

void Ledger::Impl::submit(WriteOp op) {
  {
    std::lock_guard lock(queue_mu);
    if (!stopping) {
      queue.push_back(std::move(op));
      if (queue.size() == 1) queue_cv.notify_one();
      return;
    }
  }
  // Only reachable when a caller races the destructor: answer here.
  std::visit([](auto& o) { o.result = Error::internal("ledger is closing"); }, op);
  std::visit([](auto& o) { deliver_one(o); }, op);
}

void Ledger::Impl::set_degraded(const std::string& reason) {
  {
    std::lock_guard lock(health_mu);
    degraded_reason = reason;
  }
  if (!degraded.exchange(true)) spdlog::error("ledger degraded, writes refused: {}", reason);
}

void Ledger::Impl::clear_degraded() {
  {
    std::lock_guard lock(health_mu);
    degraded_reason.clear();
  }
  if (degraded.exchange(false)) spdlog::info("ledger: probe write succeeded, writes accepted again");
}

void Ledger::Impl::publish_deferred_count() {
  std::lock_guard lock(health_mu);
  deferred_count = deferred.size();
}

int Ledger::Impl::try_batch(std::vector<WriteOp>& batch, const detail::AdmissionClock& clock,
                            std::string& what, double& commit_seconds) {
  const auto pol = current_policy();
  try {
    detail::WriteTxn txn(*env);
    detail::BatchApplier applier(txn.get(), env->tables(), *pol, clock);
    for (auto& op : batch) std::visit([&](auto& o) { applier.apply(o); }, op);
    applier.finish();
    if (options.commit_fault) {
      if (const int fault = options.commit_fault(); fault != 0) {
        what = "mdb_txn_commit (injected)";
        return fault;
      }
    }
    what = "mdb_txn_commit";
    const auto started = std::chrono::steady_clock::now();
    const int rc = txn.commit();
    commit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return rc;
  } catch (const detail::MdbError& e) {
    what = e.what();
    return e.rc;
  }
}

bool Ledger::Impl::commit_batch(std::vector<WriteOp>& batch, const detail::AdmissionClock& clock,
                                std::string& reason) {
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
      const auto growth =
          env->grow(options.max_map_bytes, std::chrono::steady_clock::now() + options.grow_wait);
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

void Ledger::Impl::run_batch(std::vector<WriteOp>& batch, detail::AdmissionClock clock) {
  std::string reason;
  if (!commit_batch(batch, clock, reason)) {
    refuse_batch(batch, reason);
    return;
  }
  deliver(batch);
  if (options.after_batch) options.after_batch();
}

void Ledger::Impl::refuse_batch(std::vector<WriteOp>& batch, const std::string& reason) {
  const Error error = Error::internal(reason);
  for (auto& op : batch) {
    if (auto* c = std::get_if<detail::CommitOp>(&op)) {
      CommitOutcome out;
      out.deferred = true;
      out.deferred_reason = reason;
      c->result = std::move(out);
    } else if (auto* r = std::get_if<detail::ReleaseOp>(&op)) {
      r->result = ReleaseOutcome{0, true, reason};
    } else {
      if (auto* w = std::get_if<detail::ReserveOp>(&op)) w->parked = false;
      std::visit([&](auto& o) { o.result = error; }, op);
    }
  }
  deliver(batch);
  size_t kept = 0;
  for (auto& op : batch) {
    if (!is_settlement(op)) continue;
    std::visit([](auto& o) { o.done = nullptr; }, op);  // answered: deferred
    deferred.push_back(std::move(op));
    ++kept;
  }
  if (kept > 0) {
    spdlog::warn("ledger: {} settlements kept until the ledger recovers ({} in all)", kept,
                 deferred.size());
    publish_deferred_count();
  }
}

void Ledger::Impl::apply_deferred() {
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
  for (auto& op : late) {
    LateSettlement settled = late_settlement(op);
    if (!settled.error.empty()) {
      spdlog::error("ledger: a kept settlement of reservation {} could not be applied: {}",
                    settled.reservation_id, settled.error);
    }
    if (!options.on_late_settlement) continue;
    try {
      options.on_late_settlement(settled);
    } catch (const std::exception& e) {
      spdlog::error("ledger: the late settlement listener threw: {}", e.what());
    }
  }
  if (options.after_batch) options.after_batch();
}

void Ledger::Impl::flush_deferred() {
  if (deferred.empty()) return;
  if (degraded.load()) try_probe();
  if (!degraded.load()) apply_deferred();
  if (!deferred.empty()) {
    spdlog::warn("ledger: closing with {} settlements not applied (the ledger is degraded); the "
                 "next start charges their reservations in full",
                 deferred.size());
  }
}

bool Ledger::Impl::try_probe() {
  std::vector<WriteOp> probe;
  probe.emplace_back(detail::ProbeOp{});
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

void Ledger::Impl::park(std::vector<WriteOp>& batch) {
  std::map<std::string, uint64_t> counts;
  for (auto& op : batch) {
    if (!is_parked(op)) continue;
    counts[std::get<detail::ReserveOp>(op).req.provider] += 1;
    waiters.push_back(std::move(op));
  }
  std::lock_guard lock(waiting_mu);
  waiting_counts = std::move(counts);
}

std::chrono::steady_clock::time_point Ledger::Impl::next_deadline() const {
  auto next = std::chrono::steady_clock::time_point::max();
  for (const auto& op : waiters) next = std::min(next, std::get<detail::ReserveOp>(op).req.wait_until);
  return next;
}

void Ledger::Impl::writer_loop() {
  using Clock = std::chrono::steady_clock;
  auto last_probe = Clock::now();
  auto last_reader_check = Clock::now();
  std::vector<WriteOp> batch;
  for (;;) {
    batch.clear();
    detail::AdmissionClock clock;
    {
      std::unique_lock lock(queue_mu);
      const auto deadline = next_deadline();
      // Waiters are looked at again when something new is queued (it may
      // have freed room), when the first of them times out, or at shutdown.
      auto ready = [&] {
        return !queue.empty() || stopping ||
               (!waiters.empty() && (retry_waiters || cancel_waits || Clock::now() >= deadline));
      };
      if (degraded.load()) {
        queue_cv.wait_for(lock, options.probe_interval, ready);
      } else if (!waiters.empty()) {
        queue_cv.wait_until(lock, deadline, ready);
      } else {
        queue_cv.wait(lock, ready);
      }
      if (queue.empty() && stopping && waiters.empty()) {
        lock.unlock();
        flush_deferred();
        return;
      }
      clock.cancelled = cancel_waits || stopping;
      retry_waiters = false;
      if (queue.size() <= options.max_batch_ops) {
        batch.swap(queue);
      } else {
        auto end = queue.begin() + static_cast<std::ptrdiff_t>(options.max_batch_ops);
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(end));
        queue.erase(queue.begin(), end);
      }
    }
    const auto now = Clock::now();
    clock.now = now;
    // The waiters go first, oldest first: first come, first served.
    if (!waiters.empty()) {
      batch.insert(batch.begin(), std::make_move_iterator(waiters.begin()),
                   std::make_move_iterator(waiters.end()));
      waiters.clear();
    }
    if (degraded.load()) {
      const bool asked = std::any_of(batch.begin(), batch.end(), is_probe);
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
          std::lock_guard lock(health_mu);
          reason = degraded_reason;
        }
        refuse_batch(batch, "ledger degraded, writes refused until a probe write succeeds: " +
                                reason);
      } else {
        run_batch(batch, clock);
      }
      park(batch);
      if (!waiters.empty() && std::any_of(batch.begin(), batch.end(), may_free_room)) {
        std::lock_guard lock(queue_mu);
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

// ---- Ledger

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::open(LedgerOptions options, BudgetPolicy policy,
                                             int64_t now_ms) {
  if (options.max_batch_ops == 0) options.max_batch_ops = 1;
  auto env = detail::LmdbEnv::open(options.dir, options.initial_map_bytes, options.durable);
  if (!env) return env.error();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->env = std::move(env.value());
  impl->policy = std::make_shared<const BudgetPolicy>(std::move(policy));
  if (auto schema = check_schema(*impl->env); !schema) return schema.error();

  if (impl->options.recover_on_open) {
    // The first batch runs here, before the writer exists: recovery must
    // finish before any new reservation can be made.
    std::vector<WriteOp> batch;
    batch.reserve(2);
    detail::RecoverOp recover;
    recover.now_ms = now_ms;
    batch.emplace_back(std::move(recover));
    // Then every budget's levels against the limits of this start (a
    // ledger of an older tollgated, or limits changed while it was down).
    detail::LevelsOp levels;
    levels.now_ms = now_ms;
    batch.emplace_back(std::move(levels));
    impl->run_batch(batch);
    auto& result = *std::get<detail::RecoverOp>(batch.front()).result;
    if (!result) return result.error();
    impl->report = std::move(result.value());
    auto& level_alerts = *std::get<detail::LevelsOp>(batch.back()).result;
    if (!level_alerts) return level_alerts.error();
    for (auto& a : *level_alerts) impl->report.alerts.push_back(std::move(a));
  }
  Impl* raw = impl.get();
  impl->writer = std::jthread([raw] { raw->writer_loop(); });
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

const OpenReport& Ledger::report() const { return impl_->report; }

void Ledger::set_policy(BudgetPolicy policy) {
  auto next = std::make_shared<const BudgetPolicy>(std::move(policy));
  {
    std::lock_guard lock(impl_->policy_mu);
    impl_->policy = std::move(next);
  }
  // A raised limit may let waiting reservations in.
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->retry_waiters = true;
  }
  impl_->queue_cv.notify_all();
}

std::shared_ptr<const BudgetPolicy> Ledger::policy() const { return impl_->current_policy(); }

LedgerHealth Ledger::health() const {
  std::lock_guard lock(impl_->health_mu);
  return LedgerHealth{impl_->degraded.load(), impl_->degraded_reason, impl_->deferred_count};
}

bool Ledger::degraded() const { return impl_->degraded.load(); }

size_t Ledger::map_size() const { return impl_->env->map_size(); }

}  // namespace tollgate::ledger
