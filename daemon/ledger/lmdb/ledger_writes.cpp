// The public write operations of the Ledger: each queues one operation
// for the writer (ledger.cpp) and, in the blocking forms, waits for its
// callback. See ledger.h for the contract.
#include <future>
#include <utility>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/ledger_impl.h"

namespace tollgate::ledger {
namespace {

// Blocks until the callback handed to `start` has run.
template <class T, class Start>
Result<T> wait_for(Start start) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  start([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace

// ---- asynchronous writes

void Ledger::reserve_async(ReserveRequest request, Callback<ReserveOutcome> done) {
  detail::ReserveOp op;
  op.req = std::move(request);
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::reevaluate_levels_async(int64_t now_ms, Callback<std::vector<Alert>> done) {
  detail::LevelsOp op;
  op.now_ms = now_ms;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::cancel_waits() {
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->cancel_waits = true;
  }
  impl_->queue_cv.notify_all();
}

std::map<std::string, uint64_t> Ledger::waiting() const {
  std::lock_guard lock(impl_->waiting_mu);
  return impl_->waiting_counts;
}

void Ledger::commit_async(CommitRequest request, Callback<CommitOutcome> done) {
  detail::CommitOp op;
  op.req = request;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::commit_async(CommitRequest request, StoredReply stored, Callback<CommitOutcome> done) {
  detail::CommitOp op;
  op.req = request;
  op.stored = std::move(stored);
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

void Ledger::idempotency_forget_async(std::string agent, std::string key, Callback<bool> done) {
  detail::IdempotencyForgetOp op;
  op.agent = std::move(agent);
  op.key = std::move(key);
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void Ledger::prune_async(int64_t now_ms, Callback<PruneOutcome> done) {
  detail::PruneOp op;
  op.now_ms = now_ms;
  op.max_rows = impl_->options.prune_rows_per_step;
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

// ---- blocking wrappers

Result<ReserveOutcome> Ledger::reserve(const std::string& agent, const std::string& provider,
                                       uint64_t amount, const std::string& request_id,
                                       int64_t now_ms) {
  return wait_for<ReserveOutcome>([&](auto done) {
    ReserveRequest request;
    request.agent = agent;
    request.provider = provider;
    request.amount = amount;
    request.request_id = request_id;
    request.now_ms = now_ms;
    reserve_async(std::move(request), std::move(done));
  });
}

Result<ReserveOutcome> Ledger::reserve(ReserveRequest request) {
  return wait_for<ReserveOutcome>(
      [&](auto done) { reserve_async(std::move(request), std::move(done)); });
}

Result<std::vector<Alert>> Ledger::reevaluate_levels(int64_t now_ms) {
  return wait_for<std::vector<Alert>>(
      [&](auto done) { reevaluate_levels_async(now_ms, std::move(done)); });
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

Result<bool> Ledger::idempotency_forget(const std::string& agent, const std::string& key) {
  return wait_for<bool>([&](auto done) { idempotency_forget_async(agent, key, std::move(done)); });
}

Result<PruneOutcome> Ledger::prune(int64_t now_ms) {
  return wait_for<PruneOutcome>([&](auto done) { prune_async(now_ms, std::move(done)); });
}

Result<bool> Ledger::probe() {
  return wait_for<bool>([&](auto done) {
    detail::ProbeOp op;
    op.done = std::move(done);
    impl_->submit(std::move(op));
  });
}

}  // namespace tollgate::ledger
