#include "daemon/ledger/ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <future>
#include <utility>

#include "daemon/ledger/ledger_impl.h"

namespace tollgate::ledger {
namespace {

using detail::WriteOp;

constexpr auto kReaderCheckInterval = std::chrono::seconds(60);
constexpr int kMaxGrowthsPerBatch = 40;

template <class Op>
void deliver_one(Op& op) {
  if (!op.done) return;
  try {
    op.done(std::move(*op.result));
  } catch (const std::exception& e) {
    spdlog::error("ledger: a write callback threw: {}", e.what());
  }
}

void deliver(std::vector<WriteOp>& batch) {
  for (auto& op : batch) std::visit([](auto& o) { deliver_one(o); }, op);
}

void fail_all(std::vector<WriteOp>& batch, const Error& error) {
  for (auto& op : batch) std::visit([&](auto& o) { o.result = error; }, op);
}

// LMDB's environment is unusable after MDB_PANIC (ledger.h): exit so that
// systemd restarts tollgated, whose next open recovers from disk.
[[noreturn]] void exit_on_panic(const std::string& dir, const std::string& what) {
  spdlog::critical("ledger: LMDB panic in {} ({}); exiting so systemd restarts tollgated", dir, what);
  spdlog::shutdown();
  std::_Exit(EXIT_FAILURE);
}

bool is_probe(const WriteOp& op) { return std::holds_alternative<detail::ProbeOp>(op); }

// Blocks until the callback handed to `start` has run.
template <class T, class Start>
Result<T> wait_for(Start start) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  start([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
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

int Ledger::Impl::try_batch(std::vector<WriteOp>& batch, std::string& what, double& commit_seconds) {
  const auto pol = current_policy();
  try {
    detail::WriteTxn txn(*env);
    detail::BatchApplier applier(txn.get(), env->tables(), *pol);
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

void Ledger::Impl::run_batch(std::vector<WriteOp>& batch) {
  for (int growths = 0;; ++growths) {
    std::string what;
    double commit_seconds = 0;
    const int rc = try_batch(batch, what, commit_seconds);
    if (rc == 0) {
      const size_t ops = batch.size();
      deliver(batch);
      if (options.after_batch) options.after_batch();
      if (options.on_batch) options.on_batch(ops, commit_seconds);
      return;
    }
    if (rc == MDB_MAP_FULL && growths < kMaxGrowthsPerBatch && env->grow(options.max_map_bytes)) {
      continue;  // redo the whole batch in the bigger map
    }
    if (rc == MDB_PANIC) exit_on_panic(env->dir(), what);
    const std::string reason = "ledger write failed in " + env->dir() + ": " + what +
                               (rc > 0 ? std::string(": ") + mdb_strerror(rc) : std::string());
    set_degraded(reason);
    fail_all(batch, Error::internal(reason));
    deliver(batch);
    return;
  }
}

bool Ledger::Impl::try_probe() {
  std::vector<WriteOp> probe;
  probe.emplace_back(detail::ProbeOp{});
  std::string what;
  double commit_seconds = 0;
  const int rc = try_batch(probe, what, commit_seconds);
  // A panicked environment never recovers in this process: staying
  // degraded would refuse calls until someone restarts it by hand.
  if (rc == MDB_PANIC) exit_on_panic(env->dir(), what);
  if (rc != 0) return false;
  clear_degraded();
  return true;
}

void Ledger::Impl::writer_loop() {
  using Clock = std::chrono::steady_clock;
  auto last_probe = Clock::now();
  auto last_reader_check = Clock::now();
  std::vector<WriteOp> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(queue_mu);
      auto ready = [&] { return !queue.empty() || stopping; };
      if (degraded.load()) {
        queue_cv.wait_for(lock, options.probe_interval, ready);
      } else {
        queue_cv.wait(lock, ready);
      }
      if (queue.empty() && stopping) return;
      if (queue.size() <= options.max_batch_ops) {
        batch.swap(queue);
      } else {
        auto end = queue.begin() + static_cast<std::ptrdiff_t>(options.max_batch_ops);
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(end));
        queue.erase(queue.begin(), end);
      }
    }
    const auto now = Clock::now();
    if (degraded.load()) {
      const bool asked = std::any_of(batch.begin(), batch.end(), is_probe);
      if (asked || now - last_probe >= options.probe_interval) {
        last_probe = now;
        try_probe();
      }
    }
    if (!batch.empty()) {
      if (degraded.load()) {
        std::string reason;
        {
          std::lock_guard lock(health_mu);
          reason = degraded_reason;
        }
        fail_all(batch, Error::internal("ledger degraded, writes refused until a probe write "
                                        "succeeds: " + reason));
        deliver(batch);
      } else {
        run_batch(batch);
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
    detail::RecoverOp recover;
    recover.now_ms = now_ms;
    batch.emplace_back(std::move(recover));
    impl->run_batch(batch);
    auto& result = *std::get<detail::RecoverOp>(batch.front()).result;
    if (!result) return result.error();
    impl->report = std::move(result.value());
  }
  Impl* raw = impl.get();
  impl->writer = std::jthread([raw] { raw->writer_loop(); });
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

const OpenReport& Ledger::report() const { return impl_->report; }

void Ledger::set_policy(BudgetPolicy policy) {
  auto next = std::make_shared<const BudgetPolicy>(std::move(policy));
  std::lock_guard lock(impl_->policy_mu);
  impl_->policy = std::move(next);
}

std::shared_ptr<const BudgetPolicy> Ledger::policy() const { return impl_->current_policy(); }

LedgerHealth Ledger::health() const {
  std::lock_guard lock(impl_->health_mu);
  return LedgerHealth{impl_->degraded.load(), impl_->degraded_reason};
}

bool Ledger::degraded() const { return impl_->degraded.load(); }

size_t Ledger::map_size() const { return impl_->env->map_size(); }

// ---- asynchronous writes

void Ledger::reserve_async(ReserveRequest request, Callback<ReserveOutcome> done) {
  detail::ReserveOp op;
  op.req = std::move(request);
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::commit_async(CommitRequest request, Callback<CommitOutcome> done) {
  detail::CommitOp op;
  op.req = request;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::release_async(uint64_t reservation_id, Callback<ReleaseOutcome> done) {
  detail::ReleaseOp op;
  op.reservation_id = reservation_id;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::reset_async(std::string agent, std::optional<std::string> provider, int64_t now_ms,
                         Callback<ResetOutcome> done) {
  detail::ResetOp op;
  op.agent = std::move(agent);
  op.provider = std::move(provider);
  op.now_ms = now_ms;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::count_request_async(std::string provider, int64_t now_ms, Callback<uint64_t> done) {
  detail::CountRequestOp op;
  op.provider = std::move(provider);
  op.now_ms = now_ms;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::idempotency_put_async(std::string agent, std::string key, std::string reply,
                                   int64_t expiry_ms, Callback<bool> done) {
  detail::IdempotencyPutOp op;
  op.agent = std::move(agent);
  op.key = std::move(key);
  op.reply = std::move(reply);
  op.expiry_ms = expiry_ms;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::prune_async(int64_t now_ms, Callback<uint64_t> done) {
  detail::PruneOp op;
  op.now_ms = now_ms;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

// ---- blocking wrappers

Result<ReserveOutcome> Ledger::reserve(const std::string& agent, const std::string& provider,
                                       uint64_t amount, const std::string& request_id,
                                       int64_t now_ms) {
  return wait_for<ReserveOutcome>([&](auto done) {
    reserve_async(ReserveRequest{agent, provider, amount, request_id, now_ms}, std::move(done));
  });
}

Result<CommitOutcome> Ledger::commit(uint64_t reservation_id, uint64_t input_tokens,
                                     uint64_t output_tokens, double cost_usd, int64_t now_ms) {
  return wait_for<CommitOutcome>([&](auto done) {
    commit_async(CommitRequest{reservation_id, input_tokens, output_tokens, cost_usd, now_ms},
                 std::move(done));
  });
}

Result<ReleaseOutcome> Ledger::release(uint64_t reservation_id) {
  return wait_for<ReleaseOutcome>(
      [&](auto done) { release_async(reservation_id, std::move(done)); });
}

Result<ResetOutcome> Ledger::reset(const std::string& agent,
                                   const std::optional<std::string>& provider, int64_t now_ms) {
  return wait_for<ResetOutcome>(
      [&](auto done) { reset_async(agent, provider, now_ms, std::move(done)); });
}

Result<uint64_t> Ledger::count_request(const std::string& provider, int64_t now_ms) {
  return wait_for<uint64_t>(
      [&](auto done) { count_request_async(provider, now_ms, std::move(done)); });
}

Result<bool> Ledger::idempotency_put(const std::string& agent, const std::string& key,
                                     const std::string& reply, int64_t expiry_ms) {
  return wait_for<bool>(
      [&](auto done) { idempotency_put_async(agent, key, reply, expiry_ms, std::move(done)); });
}

Result<uint64_t> Ledger::prune(int64_t now_ms) {
  return wait_for<uint64_t>([&](auto done) { prune_async(now_ms, std::move(done)); });
}

Result<bool> Ledger::probe() {
  return wait_for<bool>([&](auto done) {
    detail::ProbeOp op;
    op.done = std::move(done);
    impl_->submit(std::move(op));
  });
}

}  // namespace tollgate::ledger
