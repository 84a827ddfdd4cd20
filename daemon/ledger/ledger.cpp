// The blocking wrappers of Ledger: each starts the asynchronous operation
// and waits for its callback (ledger.h).
#include "daemon/ledger/ledger.h"

#include <future>
#include <utility>

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

Result<ReserveOutcome> Ledger::reserve(const std::string& agent, const std::string& provider,
                                       uint64_t amount, const std::string& request_id,
                                       int64_t now_ms) {
  ReserveRequest request;
  request.agent = agent;
  request.provider = provider;
  request.amount = amount;
  request.request_id = request_id;
  request.now_ms = now_ms;
  return reserve(std::move(request));
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
  return wait_for<bool>([&](auto done) { probe_async(std::move(done)); });
}

Result<SetLimitOutcome> Ledger::set_limit(SetLimitRequest request) {
  return wait_for<SetLimitOutcome>(
      [&](auto done) { set_limit_async(std::move(request), std::move(done)); });
}

Result<std::vector<Alert>> Ledger::check_forecasts(int64_t now_ms) {
  return wait_for<std::vector<Alert>>(
      [&](auto done) { check_forecasts_async(now_ms, std::move(done)); });
}

Result<bool> Ledger::outbox_done(const std::string& destination, uint64_t id) {
  return wait_for<bool>([&](auto done) { outbox_done_async(destination, id, std::move(done)); });
}

Result<uint64_t> Ledger::outbox_drop(const std::string& destination) {
  return wait_for<uint64_t>([&](auto done) { outbox_drop_async(destination, std::move(done)); });
}

Result<ProviderUsage> Ledger::global_usage(const std::string& period) const {
  return usage(kGlobalScope, period);
}

}  // namespace tollgate::ledger
