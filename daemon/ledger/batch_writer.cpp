// The shared writer thread of the durable backends (batch_writer.h).
#include "daemon/ledger/batch_writer.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace tollgate::ledger::detail {

BatchWriter::BatchWriter(BatchWriterOptions options) : options_(std::move(options)) {}

BatchWriter::~BatchWriter() { stop(); }

void BatchWriter::start() {
  thread_ = std::jthread([this] { writer_loop(); });
  // Named from here, so it has its name once start() returns (for top -H,
  // perf, gdb, and a test that looks before the thread first runs).
  pthread_setname_np(thread_.native_handle(), "tg-ledger");
}

void BatchWriter::stop() {
  {
    MutexLock lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.signal_all();
  if (thread_.joinable()) thread_.join();
}

void BatchWriter::submit(WriteOp op) {
  {
    MutexLock lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      if (queue_.size() == 1) queue_cv_.signal();
      return;
    }
  }
  // Only reachable when a caller races the destructor: answer here.
  fail(op, Error::internal("ledger is closing"));
}

void BatchWriter::set_policy_changed() {
  {
    MutexLock lock(queue_mu_);
    retry_waiters_ = true;
  }
  queue_cv_.signal_all();
}

void BatchWriter::cancel_waits() {
  {
    MutexLock lock(queue_mu_);
    cancel_waits_ = true;
  }
  queue_cv_.signal_all();
}

std::map<std::string, uint64_t> BatchWriter::waiting() const {
  MutexLock lock(waiting_mu_);
  return waiting_counts_;
}

LedgerHealth BatchWriter::health() const {
  MutexLock lock(health_mu_);
  return LedgerHealth{degraded_.load(), degraded_reason_, kept_count_};
}

void BatchWriter::set_degraded(const std::string& reason) {
  {
    MutexLock lock(health_mu_);
    degraded_reason_ = reason;
  }
  if (!degraded_.exchange(true)) spdlog::error("ledger degraded, writes refused: {}", reason);
}

std::shared_ptr<const BudgetPolicy> BatchWriter::current_policy() const {
  MutexLock lock(policy_mu_);
  return policy_;
}

void BatchWriter::replace_policy(BudgetPolicy policy) {
  auto next = std::make_shared<const BudgetPolicy>(std::move(policy));
  {
    MutexLock lock(policy_mu_);
    policy_ = std::move(next);
  }
  set_policy_changed();
}

void BatchWriter::report_unreachable(const std::string& reason) {
  set_degraded(reason);
  submit(probe_op({}));
}

void BatchWriter::clear_degraded() {
  {
    MutexLock lock(health_mu_);
    degraded_reason_.clear();
  }
  if (degraded_.exchange(false)) spdlog::info("ledger: probe write succeeded, writes accepted again");
}

void BatchWriter::publish_kept_count() {
  MutexLock lock(health_mu_);
  kept_count_ = kept_.size();
}

bool BatchWriter::commit(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
                         std::string& reason) {
  if (options_.before_batch) options_.before_batch();
  if (write_batch(batch, clock, reason)) return true;
  set_degraded(reason);
  return false;
}

void BatchWriter::run_batch(std::vector<WriteOp>& batch, accounting::AdmissionClock clock) {
  std::string reason;
  if (!commit(batch, clock, reason)) {
    refuse_batch(batch, reason);
    return;
  }
  answer_all(batch);
  if (options_.after_batch) options_.after_batch();
}

void BatchWriter::refuse_batch(std::vector<WriteOp>& batch, const std::string& reason) {
  refuse(batch, reason);
  // The settlements are kept (and spooled, kept_changed) before anyone
  // hears "deferred": a caller told so may rely on them.
  std::vector<std::function<void()>> answers;
  answers.reserve(batch.size());
  for (auto& op : batch) answers.push_back(take_answer(op));
  if (keep_settlements(batch, kept_) > 0) {
    publish_kept_count();
    kept_changed(kept_);
  }
  for (auto& answer_op : answers) {
    if (answer_op) answer_op();
  }
}

void BatchWriter::apply_kept() {
  std::vector<WriteOp> late;
  late.swap(kept_);
  std::string reason;
  if (!commit(late, {}, reason)) {
    // Nothing of that batch was written: keep them all, in order.
    kept_ = std::move(late);
    spdlog::warn("ledger: {} kept settlements not applied yet: {}", kept_.size(), reason);
    publish_kept_count();
    return;
  }
  publish_kept_count();
  kept_changed(kept_);
  spdlog::info("ledger: applied {} settlements kept while the ledger was degraded", late.size());
  report_late(late_settlements(late), options_.on_late_settlement);
  if (options_.after_batch) options_.after_batch();
}

void BatchWriter::flush_kept() {
  if (kept_.empty()) return;
  if (degraded_.load()) try_probe();
  if (!degraded_.load()) apply_kept();
  if (!kept_.empty()) {
    spdlog::warn("ledger: closing with {} settlements not applied (the ledger is degraded); the "
                 "next start charges their reservations in full",
                 kept_.size());
  }
}

bool BatchWriter::try_probe() {
  if (!write_probe()) return false;
  clear_degraded();
  return true;
}

void BatchWriter::park(std::vector<WriteOp>& batch) {
  detail::park(batch, waiters_);
  auto counts = waiting_counts(waiters_);
  MutexLock lock(waiting_mu_);
  waiting_counts_ = std::move(counts);
}

bool BatchWriter::next_batch(std::vector<WriteOp>& batch, accounting::AdmissionClock& clock) {
  MutexLock lock(queue_mu_);
  auto deadline = next_deadline(waiters_);
  // Waiters are looked at again when something new is queued (it may have
  // freed room), when the first of them times out, or at shutdown.
  auto ready = [&]() REQUIRES(queue_mu_) {
    return !queue_.empty() || stopping_ ||
           (!waiters_.empty() && (retry_waiters_ || cancel_waits_ || SteadyClock::now() >= deadline));
  };
  auto until = SteadyClock::time_point::max();
  if (degraded_.load()) until = SteadyClock::now() + options_.probe_interval;
  if (options_.tick_interval.count() > 0) {
    until = std::min(until, SteadyClock::now() + options_.tick_interval);
  }
  if (!waiters_.empty()) {
    until = std::min(until, deadline);
    if (options_.waiter_poll.count() > 0) {
      until = std::min(until, SteadyClock::now() + options_.waiter_poll);
    }
  }
  while (!ready()) {
    if (until == SteadyClock::time_point::max()) {
      queue_cv_.wait();
    } else if (!queue_cv_.wait_until(until) || SteadyClock::now() >= until) {
      break;
    }
  }
  if (queue_.empty() && stopping_ && waiters_.empty()) return false;
  clock.cancelled = cancel_waits_ || stopping_;
  retry_waiters_ = false;
  if (queue_.size() <= options_.max_batch_ops) {
    batch.swap(queue_);
  } else {
    auto end = queue_.begin() + static_cast<std::ptrdiff_t>(options_.max_batch_ops);
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
    queue_.erase(queue_.begin(), end);
  }
  return true;
}

void BatchWriter::writer_loop() {
  auto last_probe = SteadyClock::now();
  std::vector<WriteOp> batch;
  for (;;) {
    batch.clear();
    accounting::AdmissionClock clock;
    if (!next_batch(batch, clock)) {
      flush_kept();
      return;
    }
    const auto now = SteadyClock::now();
    clock.now = now;
    // The waiters go first, oldest first: first come, first served.
    if (!waiters_.empty()) {
      batch.insert(batch.begin(), std::make_move_iterator(waiters_.begin()),
                   std::make_move_iterator(waiters_.end()));
      waiters_.clear();
    }
    if (degraded_.load()) {
      const bool asked = std::any_of(batch.begin(), batch.end(), is_probe);
      if (asked || now - last_probe >= options_.probe_interval) {
        last_probe = now;
        try_probe();
      }
    }
    // Settlements kept while degraded go before anything newer.
    if (!degraded_.load() && !kept_.empty()) apply_kept();
    if (!batch.empty()) {
      if (degraded_.load()) {
        std::string reason;
        {
          MutexLock lock(health_mu_);
          reason = degraded_reason_;
        }
        refuse_batch(batch, "ledger degraded, writes refused until a probe write succeeds: " +
                                reason);
      } else {
        run_batch(batch, clock);
      }
      park(batch);
      if (!waiters_.empty() && std::any_of(batch.begin(), batch.end(), may_free_room)) {
        MutexLock lock(queue_mu_);
        retry_waiters_ = true;
      }
    }
    tick(now);
  }
}

}  // namespace tollgate::ledger::detail
