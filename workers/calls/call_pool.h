// CallPool: runs `call` requests on N Worker threads (the CallService the
// Dispatcher hands calls to), or on call loops a unit test steps by hand.
//
// On the loop thread, start() first answers idempotent repeats (from the
// ledger record, or by waiting for the first call with the same key still
// running): a repeat costs nothing, so it is answered even during emergency
// shutdown, overload or a degraded ledger. So is a response cache hit, or
// a call waiting for an identical one to finish (call_cache.h), next. Then
// it refuses what can be refused at once (emergency shutdown, a degraded
// ledger, too many calls in flight, a call over the per-request token cap),
// and otherwise hands the call to a worker round-robin. The call's outcome (typed: reply or error,
// and its events) goes to the CallSink the pool was given; the step that
// runs on the loop after it answers the repeats that waited, each with a
// copy of the value (replayed), never with re-encoded bytes.
//
// Idempotency (PROTOCOL.md `call`, DESIGN.md invariant 4): the key is held
// durably from the call's first reservation on (a pending marker written
// with each reservation), and a successful call's reply replaces the
// marker in the transaction of the commit that charges it, before the
// reply is sent; so no crash lets a repeat reach a provider again. A
// repeat that finds a pending marker with no call running (a crash cut
// the first call short) gets `internal`: the outcome is unknown and the
// reservation was charged in full (with a shared ledger, where the first
// call may run on another tollgated, it waits instead: remote_repeats.h).
// A failed call's marker is deleted
// before it is answered, so a repeat runs it again. A repeat whose request
// differs (call_fingerprint.h) gets `bad_request`. A reply over
// kMaxStoredReplyBytes is not kept: repeats get `internal` saying so. The
// stored reply is the encoded reply (durable data); a repeat answered from
// it decodes it once.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/sync.h"
#include "daemon/server/call_service.h"
#include "workers/calls/call_cache.h"
#include "workers/calls/call_loop.h"
#include "workers/calls/call_run.h"
#include "workers/calls/live_calls.h"
#include "workers/calls/remote_repeats.h"
#include "workers/calls/worker.h"

namespace tollgate::workers {

// Stored replies over this many bytes (the encoded reply) are not kept.
inline constexpr size_t kMaxStoredReplyBytes = size_t{1} << 20;
// How long a key is remembered after its call was received.
inline constexpr int64_t kIdempotencyTtlMs = 24LL * 3600 * 1000;

class CallPool : public CallService {
 public:
  // Runs calls on `workers` Worker threads of its own (at least one).
  // `sink` (the server's) must outlive the ledger: a failed idempotent
  // call is delivered from a ledger callback, which may run as it closes.
  // `clock` (SystemClock in tollgated) is the only time the calls read.
  CallPool(ledger::Ledger& ledger, ProviderRuntime& runtime, CallSink& sink, const Clock& clock,
           size_t workers);
  // Runs calls on `loops` (at least one), which it does not own: unit
  // tests, with loops they step by hand. They must outlive the pool, and
  // every call must have ended before it is destroyed (the destructor
  // waits for that, and cannot stop or flush these loops itself).
  CallPool(ledger::Ledger& ledger, ProviderRuntime& runtime, CallSink& sink, const Clock& clock,
           std::vector<CallLoop*> loops);
  ~CallPool() override;

  std::optional<CallResult> start(uint64_t token, const protocol::RequestId& id,
                                  protocol::CallRequest request,
                                  const std::shared_ptr<const Config>& config) override;
  void reconfigure(const std::shared_ptr<const Config>&) override {}
  // Loop thread. A repeat waiting for its key's first call is answered
  // `why` now; a running call is told on its worker (CallRun::cancel).
  void cancel(uint64_t token, protocol::Error why) override;

  // Loop thread: emergency shutdown on (with the reason) or off.
  void set_shutdown(std::optional<std::string> reason) override { shutdown_ = std::move(reason); }
  size_t inflight() const { return inflight_; }
  // Shutdown begins (SIGTERM, before the drain): calls queued for budget
  // room are answered now ("shutting down"); calls already at a provider
  // finish as usual. Any thread.
  void stop_waiting();
  // Shutdown, after the drain: calls still at a provider (a long stream, a
  // slow provider) are cut now: no more retries or candidates, transfers
  // aborted (charged as the provider may have served them, a stream as
  // cut), retry timers fired. Their answers go to the sink as usual, so a
  // second drain can send them. Loop thread.
  void abort_in_flight();
  // Metrics: told every provider HTTP attempt (worker threads). Set it
  // before the first start().
  void set_attempt_observer(std::function<void(const std::string& provider, double seconds)> f) {
    env_.on_attempt = std::move(f);
  }
  // Metrics: told how each call's time was spent as it is answered
  // (worker threads; CallEnvironment::on_times). Set it before the first
  // start().
  void set_times_observer(std::function<void(const CallTimes&)> f) { env_.on_times = std::move(f); }
  // The response cache (call_cache.h): its store (not owned, outlives the
  // pool; null: none) and what counts hits and misses (loop thread). Set
  // it before the first start().
  void set_cache(cache::AnswerStore* store, std::function<void(bool hit)> observer) {
    cache_.set_store(store, std::move(observer));
  }

  // A repeat's answer from its key's record (a pending marker: cut short,
  // as after a crash).
  static CallResult answer_of_record(const ledger::IdempotentCall& call,
                                     const ledger::IdempotencyRecord& record);

 private:
  // A key whose call is running, and the repeats waiting for its reply.
  struct RunningKey {
    std::string fingerprint;
    std::vector<uint64_t> waiters;  // their tokens
  };
  // Loop thread: the answer to a repeat from the ledger's record of the
  // key; nullopt when there is none (the call runs).
  // `pending`: set when the record is the first call's pending marker.
  std::optional<CallResult> answer_from_record(const ledger::IdempotentCall& call, int64_t now,
                                               bool& pending);
  // Worker thread: the call ended.
  void finish(const CallSpec& spec, CallOutcome outcome);
  // Loop thread: after the first call's reply went out.
  void settle(const std::string& key, const CallResult& answer);
  // Loop thread: after a cache key's leader was answered; waiters get its
  // reply, or run again.
  void settle_cache(const std::string& key, const CallResult& answer);
  // Worker thread: the call is running there (until finish()).
  void add_run(uint64_t token, const std::shared_ptr<CallRun>& run);

  ledger::Ledger& ledger_;
  CallSink& sink_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  LiveCalls alive_;
  CallEnvironment env_;
  RemoteRepeats remote_;  // repeats waiting for a first call on another tollgated
  std::vector<std::unique_ptr<Worker>> workers_;  // owned (empty: the loops are the caller's)
  std::vector<CallLoop*> loops_;                  // where calls run, round-robin

  // Loop thread only.
  size_t next_loop_ = 0;
  size_t inflight_ = 0;
  std::optional<std::string> shutdown_;
  std::map<std::string, RunningKey> running_keys_;  // agent \0 key -> its call
  std::unordered_map<uint64_t, CallLoop*> loop_of_;  // calls handed to a loop, by token
  CallCache cache_;  // its flights are the loop's

  // Running calls by token: added on their worker when they start, removed
  // when they are answered; cancel() finds them here (on the same worker:
  // its task is queued after the one that started the call).
  Mutex runs_mu_;
  std::unordered_map<uint64_t, std::weak_ptr<CallRun>> runs_ GUARDED_BY(runs_mu_);
};

// A call's answer as a repeat gets it: a reply is marked replayed, an
// error is the same error.
CallResult replayed(CallResult answer);
// A repeat's answer from the reply stored with the first call's charge.
CallResult replay_of_stored(const std::string& stored_reply);

// What the commit of a successful idempotent call stores: its encoded reply
// (id nil), or only its size when that is over kMaxStoredReplyBytes.
ledger::StoredReply stored_reply(const ledger::IdempotentCall& call,
                                 const protocol::CallReply& reply);

}  // namespace tollgate::workers
