// RemoteRepeats: see remote_repeats.h.
#include "workers/calls/remote_repeats.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "workers/calls/call_pool.h"

namespace tollgate::workers {

using protocol::Error;

void RemoteRepeats::wait(uint64_t token, ledger::IdempotentCall call, int64_t deadline_ms,
                         int64_t grace_ms, CallLoop& loop) {
  alive_.add();
  {
    MutexLock lock(mu_);
    waiting_[token] = Waiter{std::move(call), deadline_ms, grace_ms, 1, 0};
  }
  schedule(token, loop);
}

void RemoteRepeats::schedule(uint64_t token, CallLoop& loop) {
  loop.post_after(std::chrono::milliseconds(kRemotePollMs),
                  [this, token, &loop] { poll(token, loop); });
}

bool RemoteRepeats::take(uint64_t token) {
  MutexLock lock(mu_);
  if (waiting_.erase(token) == 0) return false;
  return true;
}

bool RemoteRepeats::cancel(uint64_t token, const protocol::Error& why) {
  if (!take(token)) return false;
  sink_.deliver(token, CallOutcome{why, {}}, {});
  alive_.remove();
  return true;
}

void RemoteRepeats::poll(uint64_t token, CallLoop& loop) {
  Waiter w;
  {
    MutexLock lock(mu_);
    auto it = waiting_.find(token);
    if (it == waiting_.end()) return;  // cancelled
    w = it->second;
  }
  std::optional<CallResult> answer;
  if (stopping_) {
    answer = Error::internal("idempotency_key '" + w.call.key +
                             "': tollgated is shutting down while the first call with this key "
                             "runs on another tollgated; repeat it there or later");
  } else {
    answer = decide(w, clock_.wall_ms());
  }
  if (!answer) {
    MutexLock lock(mu_);
    auto it = waiting_.find(token);
    if (it == waiting_.end()) return;
    it->second = w;
  } else {
    if (!take(token)) return;
    sink_.deliver(token, CallOutcome{std::move(*answer), {}}, {});
    alive_.remove();
    return;
  }
  schedule(token, loop);
}

std::optional<CallResult> RemoteRepeats::decide(Waiter& w, int64_t now) {
  const std::string& key = w.call.key;
  auto record = ledger_.idempotency_record(w.call.agent, key, now);
  if (record && *record && (*record)->state != ledger::IdempotencyState::kPending) {
    return CallPool::answer_of_record(w.call, **record);
  }
  if (record && !*record) {
    return Error::provider_error("idempotency_key '" + key +
                                 "': the first call with this key failed on another tollgated "
                                 "(a failed call is not remembered); repeat it to run it again");
  }
  if (record) {
    const uint64_t reservation = (*record)->reservation_id;
    if (reservation != 0) {
      w.unreserved_since = 0;
    } else if (w.reservation != 0 || w.unreserved_since == 0) {
      w.unreserved_since = now;  // released between attempts, or settled by recovery
    }
    w.reservation = reservation;
    if (reservation == 0 && now - w.unreserved_since >= w.grace_ms) {
      return CallPool::answer_of_record(w.call, **record);  // cut short: as after a crash
    }
  } else {
    spdlog::debug("idempotency_key '{}' of {}: the record cannot be read yet: {}", key,
                  w.call.agent, record.error().message);
  }
  if (now >= w.deadline_ms) {
    if (record && w.reservation == 0) return CallPool::answer_of_record(w.call, **record);
    return Error::timeout("call: deadline passed while the first call with idempotency_key '" +
                          key + "' still runs on another tollgated");
  }
  return std::nullopt;
}

}  // namespace tollgate::workers
