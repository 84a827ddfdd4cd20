#include "daemon/ledger/memory/memory_ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace tollgate::ledger {
namespace {

using detail::WriteOp;

constexpr const char* kRefusedWhileDegraded =
    "ledger degraded, writes refused until a probe write succeeds: ";

std::string failed_write(const std::string& why) { return "ledger write failed in memory: " + why; }

}  // namespace

// ---- opening and closing

MemoryLedger::MemoryLedger(MemoryLedgerOptions options, BudgetPolicy policy)
    : RowLedger(options.prune_rows_per_step),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::instance()),
      tables_(options_.tables) {
  MutexLock lock(mu_);
  policy_ = std::make_shared<const BudgetPolicy>(std::move(policy));
}

Result<std::unique_ptr<MemoryLedger>> MemoryLedger::open(MemoryLedgerOptions options,
                                                         BudgetPolicy policy, int64_t now_ms) {
  if (!options.tables) options.tables = std::make_shared<MemoryTables>();
  if (options.tables->in_use.exchange(true)) {
    return Error::internal("memory ledger: these tables are open in another MemoryLedger");
  }
  std::unique_ptr<MemoryLedger> ledger(new MemoryLedger(std::move(options), std::move(policy)));
  if (ledger->options_.recover_on_open) {
    // Recovery runs before anyone can submit: nothing waits, nothing to answer.
    auto batch = detail::open_batch(now_ms);
    {
      MutexLock lock(ledger->mu_);
      std::string reason;
      if (!ledger->write(batch, {}, reason)) detail::refuse(batch, reason);
    }
    auto report = detail::open_report(batch);
    if (!report) return report.error();
    ledger->report_ = std::move(report.value());
  }
  if (ledger->options_.clock == nullptr) {
    MemoryLedger* raw = ledger.get();
    ledger->timer_ = std::jthread([raw] { raw->timer_loop(); });
  }
  return ledger;
}

MemoryLedger::~MemoryLedger() {
  Aftermath after;
  {
    MutexLock lock(mu_);
    closing_ = true;
    run({}, after);  // answers every waiter: waits are over
    if (!deferred_.empty()) {
      if (degraded_) try_probe();
      if (!degraded_) apply_deferred(after);
    }
    if (!deferred_.empty()) {
      spdlog::warn("ledger: closing with {} settlements not applied (the ledger is degraded); the "
                   "next open charges their reservations in full",
                   deferred_.size());
    }
    timer_cv_.signal_all();
  }
  if (timer_.joinable()) timer_.join();
  finish(after);
  MutexLock lock(mu_);
  tables_->in_use = false;
}

// ---- writes

void MemoryLedger::submit(WriteOp op) {
  Aftermath after;
  bool closed = false;
  {
    MutexLock lock(mu_);
    closed = closing_;
    if (!closed) {
      std::vector<WriteOp> ops;
      ops.reserve(1);
      ops.push_back(std::move(op));
      run(std::move(ops), after);
    }
  }
  // Only reachable from a callback that runs while the ledger closes.
  if (closed) detail::fail(op, Error::internal("ledger is closing"));
  finish(after);
}

void MemoryLedger::run(std::vector<WriteOp> ops, Aftermath& after) {
  // The waiters go first, oldest first: first come, first served.
  std::vector<WriteOp> batch = std::move(waiters_);
  waiters_.clear();
  batch.reserve(batch.size() + ops.size());
  for (auto& op : ops) batch.push_back(std::move(op));
  if (degraded_ && std::any_of(batch.begin(), batch.end(), detail::is_probe)) try_probe();
  // Settlements kept while degraded go before anything newer.
  if (!degraded_ && !deferred_.empty()) apply_deferred(after);
  while (!batch.empty()) {
    const accounting::AdmissionClock clock{clock_.steady_now(), cancelled_ || closing_};
    std::string reason;
    if (degraded_) {
      refuse(batch, kRefusedWhileDegraded + degraded_reason_, after);
    } else if (!write(batch, clock, reason)) {
      refuse(batch, reason, after);
    } else {
      after.wrote = true;
      settle(batch, after);
    }
    // Room freed by this batch may let the waiters in: try them again.
    if (waiters_.empty() || std::none_of(batch.begin(), batch.end(), detail::may_free_room)) break;
    batch = std::move(waiters_);
    waiters_.clear();
  }
  timer_cv_.signal();  // the earliest wait deadline may have changed
}

bool MemoryLedger::write(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
                         std::string& reason) {
  // A failing write fails before anything is applied: nothing of the
  // batch is kept, as with an aborted transaction.
  if (const std::string why = fault(); !why.empty()) {
    reason = failed_write(why);
    set_degraded(reason);
    return false;
  }
  MemoryRows rows(*tables_);
  detail::BatchApplier applier(rows, *policy_, clock);
  for (auto& op : batch) applier.apply(op);
  applier.finish();
  return true;
}

void MemoryLedger::settle(std::vector<WriteOp>& batch, Aftermath& after) {
  detail::park(batch, waiters_);
  for (auto& op : batch) {
    if (detail::is_parked(op)) continue;  // moved to the waiters
    if (auto answer = detail::take_answer(op)) after.answers.push_back(std::move(answer));
  }
}

void MemoryLedger::refuse(std::vector<WriteOp>& batch, const std::string& reason,
                          Aftermath& after) {
  detail::refuse(batch, reason);
  for (auto& op : batch) {
    if (auto answer = detail::take_answer(op)) after.answers.push_back(std::move(answer));
  }
  detail::keep_settlements(batch, deferred_);
}

void MemoryLedger::apply_deferred(Aftermath& after) {
  std::vector<WriteOp> late;
  late.swap(deferred_);
  std::string reason;
  if (!write(late, {}, reason)) {
    // Nothing of that batch was written: keep them all, in order.
    deferred_ = std::move(late);
    spdlog::warn("ledger: {} kept settlements not applied yet: {}", deferred_.size(), reason);
    return;
  }
  spdlog::info("ledger: applied {} settlements kept while the ledger was degraded", late.size());
  after.wrote = true;
  for (auto& settled : detail::late_settlements(late)) after.late.push_back(std::move(settled));
}

bool MemoryLedger::try_probe() {
  if (!fault().empty()) return false;
  MemoryRows(*tables_).probe();
  if (degraded_) spdlog::info("ledger: probe write succeeded, writes accepted again");
  degraded_ = false;
  degraded_reason_.clear();
  return true;
}

void MemoryLedger::set_degraded(const std::string& reason) {
  degraded_reason_ = reason;
  if (!degraded_) spdlog::error("ledger degraded, writes refused: {}", reason);
  degraded_ = true;
}

std::string MemoryLedger::fault() {
  if (!failing_.empty()) return failing_;
  return options_.write_fault ? options_.write_fault() : std::string();
}

void MemoryLedger::finish(Aftermath& after) {
  detail::report_late(after.late, options_.on_late_settlement);
  for (auto& answer : after.answers) answer();
  if (after.wrote && options_.after_write) options_.after_write();
}

void MemoryLedger::timer_loop() {
  for (;;) {
    Aftermath after;
    {
      MutexLock lock(mu_);
      if (closing_) return;
      const auto deadline = detail::next_deadline(waiters_);
      if (std::chrono::steady_clock::now() < deadline) {
        if (deadline == std::chrono::steady_clock::time_point::max()) {
          timer_cv_.wait();
        } else {
          timer_cv_.wait_until(deadline);
        }
        continue;
      }
      run({}, after);
    }
    finish(after);
  }
}

// ---- the admission queue, health and policy

void MemoryLedger::expire_waits() {
  Aftermath after;
  {
    MutexLock lock(mu_);
    if (!closing_) run({}, after);
  }
  finish(after);
}

void MemoryLedger::cancel_waits() {
  Aftermath after;
  {
    MutexLock lock(mu_);
    cancelled_ = true;
    run({}, after);
  }
  finish(after);
}

void MemoryLedger::set_policy(BudgetPolicy policy) {
  auto next = std::make_shared<const BudgetPolicy>(std::move(policy));
  Aftermath after;
  {
    MutexLock lock(mu_);
    policy_ = std::move(next);
    run({}, after);  // a raised limit may let waiting reservations in
  }
  finish(after);
}

std::shared_ptr<const BudgetPolicy> MemoryLedger::policy() const {
  MutexLock lock(mu_);
  return policy_;
}

void MemoryLedger::fail_writes(std::string reason) {
  MutexLock lock(mu_);
  failing_ = std::move(reason);
  if (!failing_.empty()) set_degraded(failed_write(failing_));
}

std::map<std::string, uint64_t> MemoryLedger::waiting() const {
  MutexLock lock(mu_);
  return detail::waiting_counts(waiters_);
}

LedgerHealth MemoryLedger::health() const {
  MutexLock lock(mu_);
  return LedgerHealth{degraded_, degraded_reason_, deferred_.size()};
}

bool MemoryLedger::degraded() const {
  MutexLock lock(mu_);
  return degraded_;
}

Result<void> MemoryLedger::read_rows(const RowReader& reader) const {
  MutexLock lock(mu_);
  const MemoryRows rows(*tables_);
  reader(rows, *policy_);
  return {};
}

}  // namespace tollgate::ledger
