// CallCache: the response cache on the call path (PROTOCOL.md section 10),
// for CallPool.
//
// A call uses the cache when it says `cache: true` or its agent has
// `cache = true` in TOML (Config::uses_cache), and the store is open. Its
// key (response_cache_key) names an answer in the AnswerStore:
//
//   hit      a stored answer younger than TOLLGATE_CACHE_TTL_SECONDS: the
//            call is answered with a copy, `cached: true`, and a `usage`
//            event with `cached: true` and zero tokens and cost (provider
//            and model: who answered originally); no reservation, no
//            charge, no provider request. A streamed call gets only the
//            final reply, as an idempotent repeat of one does.
//   waiting  an identical call is running (single flight): the call waits
//            for it. Its success is copied to every waiter as a hit; its
//            failure is not: the waiters run again (start() anew), so the
//            first becomes the leader of the key and the others wait for
//            it; no caller gets another's error (its deadline, its budget,
//            its cancel), and no two identical calls reach a provider at
//            once. Shutting down, they get the leader's error instead.
//   run      none: the call runs as the key's leader (lead()). Its reply,
//            when it succeeded (a complete answer, charged), is stored
//            (store(), on its worker, before it is delivered) and copied
//            to the waiters (settle(), on the loop, after). An error, a cut
//            stream and a charge deferred by a degraded ledger are errors:
//            never stored.
//
// Threads: begin, lead, settle and cancel on the loop thread (flights_ is
// the loop's); store on worker threads (the store serializes its writes).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/cache/answer_store.h"
#include "daemon/core/clock.h"
#include "daemon/core/config.h"
#include "daemon/server/call_sink.h"
#include "protocol/codec.h"

namespace tollgate::workers {

// A call waiting for its key's leader: all it needs to be answered or to
// run again.
struct CacheWaiter {
  uint64_t token = 0;
  protocol::RequestId id{};
  protocol::CallRequest request{};
  std::shared_ptr<const Config> config{};
  Clock::SteadyTime received{};
};

class CallCache {
 public:
  CallCache(CallSink& sink, const Clock& clock) : sink_(sink), clock_(clock) {}

  // Before the first call: the store (not owned; must outlive the pool;
  // null: no cache) and what counts hits and misses (may be empty).
  void set_store(cache::AnswerStore* store, std::function<void(bool hit)> observer) {
    store_ = store;
    observer_ = std::move(observer);
  }

  enum class Start { kAnswered, kWaiting, kRun };
  // Loop thread. kAnswered: a hit, delivered to the sink; kWaiting: the
  // call (moved from `request`) waits for its key's leader; kRun: the call
  // runs, and `key` is its cache key (empty when it does not use the cache).
  Start begin(uint64_t token, const protocol::RequestId& id, protocol::CallRequest& request,
              const std::shared_ptr<const Config>& config, std::string& key);
  // Loop thread: the call with `key` runs now (counted as a miss); calls
  // with the same key wait for it.
  void lead(const std::string& key);
  // Worker thread: the leader's successful reply, stored (entries past
  // the TTL of `config` make room first).
  void store(const std::string& key, const protocol::CallReply& reply, const Config& config);
  // Loop thread: the leader of `key` was answered `answer`. A success is
  // delivered to its waiters (cached); after a failure the waiters are
  // returned to run again, unless `rerun` is false (shutting down): then
  // they get the same error.
  std::vector<CacheWaiter> settle(const std::string& key, const CallResult& answer, bool rerun);
  // Loop thread: a waiter under `token` is answered `why` (true), or none
  // waits under it (false).
  bool cancel(uint64_t token, const protocol::Error& why);

 private:
  // The reply and usage event of a hit for the call of `waiter`.
  void deliver_hit(const CacheWaiter& waiter, protocol::CallReply reply);
  void count(bool hit) const {
    if (observer_) observer_(hit);
  }

  CallSink& sink_;
  const Clock& clock_;
  cache::AnswerStore* store_ = nullptr;
  std::function<void(bool)> observer_;

  // Loop thread only: running keys and the calls waiting for them.
  std::map<std::string, std::vector<CacheWaiter>> flights_;
};

}  // namespace tollgate::workers
