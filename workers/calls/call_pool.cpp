#include "workers/calls/call_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/core/call_fingerprint.h"
#include "daemon/core/budget.h"
#include "daemon/core/image_tokens.h"
#include "daemon/core/input_bound.h"

namespace tollgate::workers {

using protocol::Error;

namespace {

// May the call reach a model that bills images at gpt-4o-mini's rates
// (the model it names, else the default model of each provider it may go
// to)? Only then does each image reserve that much.
bool may_bill_gpt4o_mini_images(const Config& config, const protocol::CallRequest& request) {
  if (request.model) return ledger::bills_gpt4o_mini_image_rates(*request.model);
  std::vector<const ProviderConfig*> providers = config.chain_for(request.ai_name);
  if (request.preferred_provider) providers.push_back(config.provider(*request.preferred_provider));
  for (const ProviderConfig* p : providers) {
    if (p && ledger::bills_gpt4o_mini_image_rates(config.model_for(request.ai_name, p->name))) return true;
  }
  return false;
}

constexpr int64_t kOverloadedRetryMs = 100;

std::string idempotency_key(const std::string& agent, const std::string& key) {
  return agent + std::string(1, '\0') + key;
}

Error reused_key() {
  return Error::bad_request("idempotency_key reused with a different request");
}

}  // namespace

ledger::StoredReply stored_reply(const ledger::IdempotentCall& call,
                                 const protocol::CallReply& reply) {
  ledger::StoredReply stored{call, protocol::encode_reply(protocol::RequestId{}, reply), 0};
  stored.reply_bytes = stored.reply->size();
  if (stored.reply_bytes > kMaxStoredReplyBytes) {
    spdlog::warn("idempotency_key '{}' of {}: the reply of {} bytes is over the {} kept for "
                 "repeats; repeats will be told so, the call is not run again",
                 call.key, call.agent, stored.reply_bytes, kMaxStoredReplyBytes);
    stored.reply.reset();
  }
  return stored;
}

CallResult replayed(CallResult answer) {
  if (answer) answer->replayed = true;
  return answer;
}

CallResult replay_of_stored(const std::string& stored_reply) {
  auto reply = protocol::decode_call_reply(stored_reply);
  if (!reply) {
    spdlog::error("a stored idempotent reply does not read: {}", reply.error().message);
    return Error::internal("stored reply unreadable");
  }
  return replayed(std::move(reply).value());
}

CallPool::CallPool(ledger::Ledger& ledger, ProviderRuntime& runtime, CallSink& sink,
                   const Clock& clock, std::vector<CallLoop*> loops)
    : ledger_(ledger),
      sink_(sink),
      remote_(ledger, sink, clock, alive_, stopping_),
      loops_(std::move(loops)),
      cache_(sink, clock) {
  env_.stopping = &stopping_;
  env_.draining = &draining_;
  env_.alive = &alive_;
  env_.ledger = &ledger;
  env_.runtime = &runtime;
  env_.clock = &clock;
  env_.finish = [this](const CallSpec& spec, CallOutcome outcome) {
    finish(spec, std::move(outcome));
  };
  env_.publish = [this](std::vector<protocol::Event> events) { sink_.publish(std::move(events)); };
  env_.part = [this](const CallSpec& spec, protocol::CallPartReply part) {
    sink_.part(spec.token, std::move(part));
  };
  env_.stored_reply = stored_reply;
}

CallPool::CallPool(ledger::Ledger& ledger, ProviderRuntime& runtime, CallSink& sink,
                   const Clock& clock, size_t workers)
    : CallPool(ledger, runtime, sink, clock, std::vector<CallLoop*>{}) {
  for (size_t i = 0; i < std::max<size_t>(1, workers); ++i) {
    workers_.push_back(std::make_unique<Worker>(CurlTransportOptions{}, clock));
    loops_.push_back(workers_.back().get());
  }
}

void CallPool::stop_waiting() {
  draining_ = true;
  ledger_.cancel_waits();
}

void CallPool::abort_in_flight() {
  stopping_ = true;
  ledger_.cancel_waits();  // calls queued for budget room are answered now
  for (auto& w : workers_) {
    w->stop_transport();
    w->flush_timers();
  }
}

CallPool::~CallPool() {
  // Calls still running end now: no more retries or next candidates, HTTP
  // transfers aborted, retry timers fired. Each settles its reservation in
  // the ledger; the workers keep running until every call object is gone
  // (ledger callbacks hold them), and only then stop.
  abort_in_flight();
  alive_.wait_none();
  workers_.clear();
}

std::optional<CallResult> CallPool::answer_from_record(const ledger::IdempotentCall& call,
                                                      int64_t now, bool& pending) {
  auto record = ledger_.idempotency_record(call.agent, call.key, now);
  if (!record) {
    // Running the call without knowing would risk a second provider call.
    return Error::internal("idempotency_key '" + call.key +
                           "': the ledger record cannot be read: " + record.error().message);
  }
  if (!*record) return std::nullopt;
  const ledger::IdempotencyRecord& r = **record;
  // An empty fingerprint: a record of an older tollgated, which kept none.
  if (!r.fingerprint.empty() && r.fingerprint != call.fingerprint) return reused_key();
  pending = r.state == ledger::IdempotencyState::kPending;
  return answer_of_record(call, r);
}

CallResult CallPool::answer_of_record(const ledger::IdempotentCall& call,
                                      const ledger::IdempotencyRecord& r) {
  switch (r.state) {
    case ledger::IdempotencyState::kDone:
      return replay_of_stored(r.reply);
    case ledger::IdempotencyState::kReplyTooLarge:
      return Error::internal("idempotency_key '" + call.key +
                             "': the first call with this key succeeded, but its reply (" +
                             std::to_string(r.reply_bytes) + " bytes) was over the " +
                             std::to_string(kMaxStoredReplyBytes) +
                             " bytes kept for repeats; it is not run again (use a new "
                             "idempotency_key to run it)");
    case ledger::IdempotencyState::kPending:
      break;
  }
  // No call with this key runs here: tollgated stopped while the first one
  // was at a provider (recovery charged its reservation in full), or its
  // charge could not be written (recovery will).
  return Error::internal("idempotency_key '" + call.key +
                         "': the first call with this key was cut short (a tollgated restart "
                         "or a failed ledger write) while at a provider; its outcome is "
                         "unknown and its reservation is charged in full, so it is not run "
                         "again (use a new idempotency_key to run it)");
}

std::optional<CallResult> CallPool::start(uint64_t token, const protocol::RequestId& id,
                                          protocol::CallRequest request,
                                          const std::shared_ptr<const Config>& config) {
  const int64_t now = env_.now_ms();
  // A repeat costs nothing: it is answered (or waits) before any refusal.
  std::optional<ledger::IdempotentCall> held;
  if (request.idempotency_key) {
    held = ledger::IdempotentCall{request.ai_name, *request.idempotency_key,
                                  call_fingerprint(request), now, now + kIdempotencyTtlMs};
    const auto key = idempotency_key(held->agent, held->key);
    if (auto it = running_keys_.find(key); it != running_keys_.end()) {
      if (it->second.fingerprint != held->fingerprint) return reused_key();
      it->second.waiters.push_back(token);
      return std::nullopt;
    }
    bool pending = false;
    auto answer = answer_from_record(*held, now, pending);
    // Another tollgated sharing the ledger may be running the first call:
    // the repeat waits for its outcome (remote_repeats.h).
    if (pending && config->ledger != "lmdb") {
      const int64_t timeout = request.timeout_ms ? *request.timeout_ms
                                                 : static_cast<int64_t>(config->call_timeout_ms);
      remote_.wait(token, *held, now + timeout, int64_t{config->lease_seconds} * 1000,
                   *loops_[next_loop_++ % loops_.size()]);
      return std::nullopt;
    }
    if (answer) return answer;
  }
  // A hit, or a wait for an identical call, costs nothing either.
  std::string cache_key;
  if (cache_.begin(token, id, request, config, cache_key) != CallCache::Start::kRun) {
    return std::nullopt;
  }
  if (shutdown_) {
    return Error::emergency_shutdown("tollgated is in emergency shutdown: " + *shutdown_ +
                                     "; calls are refused until a reset or the next period");
  }
  if (auto health = ledger_.health(); health.degraded) {
    return Error::ledger_unavailable(
        "ledger is degraded, calls are refused until it recovers: " + health.reason,
        ledger::kLedgerRetryMs);
  }
  if (inflight_ >= config->max_inflight) {
    return Error::overloaded(
        "too many calls in flight (" + std::to_string(inflight_) + ", TOLLGATE_MAX_INFLIGHT)",
        kOverloadedRetryMs);
  }
  const uint64_t max_tokens = request.max_tokens.value_or(config->default_max_tokens);
  // One measure of the whole input (text, blocks, images, tools) for both
  // the cap (its ordinary estimate, as PROTOCOL.md defines the cap) and the
  // reservation (its bound).
  const ledger::InputSize input = ledger::input_size(request, may_bill_gpt4o_mini_images(*config, request));
  if (input.estimate + max_tokens > config->max_tokens_per_request) {
    return Error::too_large("call: max_tokens " + std::to_string(max_tokens) + " + about " +
                            std::to_string(input.estimate) +
                            " input tokens is over the per-request cap of " +
                            std::to_string(config->max_tokens_per_request) +
                            " (MAX_TOKENS_PER_REQUEST)");
  }
  if (held) running_keys_[idempotency_key(held->agent, held->key)] = {held->fingerprint, {}};
  if (!cache_key.empty()) cache_.lead(cache_key);
  CallSpec spec;
  spec.token = token;
  spec.id = id;
  spec.reservation = input.bound + max_tokens;
  spec.request = std::move(request);
  spec.config = config;
  spec.received_ms = now;
  spec.received = env_.clock->steady_now();
  spec.idempotency = std::move(held);
  spec.cache_key = std::move(cache_key);
  ++inflight_;
  CallLoop& loop = *loops_[next_loop_++ % loops_.size()];
  loop_of_[token] = &loop;
  loop.post([this, &loop, spec = std::move(spec)]() mutable {
    const uint64_t t = spec.token;
    auto run = std::make_shared<CallRun>(std::move(spec), env_, loop);
    add_run(t, run);
    run->start();
  });
  return std::nullopt;
}

void CallPool::add_run(uint64_t token, const std::shared_ptr<CallRun>& run) {
  MutexLock lock(runs_mu_);
  runs_[token] = run;
}

void CallPool::cancel(uint64_t token, protocol::Error why) {
  if (cache_.cancel(token, why)) return;
  if (remote_.cancel(token, why)) return;
  for (auto& [key, running] : running_keys_) {
    auto& w = running.waiters;
    if (auto it = std::find(w.begin(), w.end(), token); it != w.end()) {
      w.erase(it);
      sink_.deliver(token, CallOutcome{std::move(why), {}}, {});
      return;
    }
  }
  auto loop = loop_of_.find(token);
  if (loop == loop_of_.end()) return;  // answered already
  loop->second->post([this, token, why = std::move(why)]() mutable {
    std::shared_ptr<CallRun> run;
    {
      MutexLock lock(runs_mu_);
      auto it = runs_.find(token);
      if (it != runs_.end()) run = it->second.lock();
    }
    if (run) run->cancel(std::move(why));
  });
}

void CallPool::finish(const CallSpec& spec, CallOutcome outcome) {
  {
    MutexLock lock(runs_mu_);
    runs_.erase(spec.token);
  }
  // A successful leader of a cache key is stored before anyone is answered.
  if (outcome.reply && !spec.cache_key.empty()) {
    cache_.store(spec.cache_key, *outcome.reply, *spec.config);
  }
  std::function<void()> after = [this, token = spec.token] {
    --inflight_;
    loop_of_.erase(token);
  };
  if (spec.idempotency || !spec.cache_key.empty()) {
    // The calls that waited for this one (repeats of its idempotency key,
    // identical calls of its cache key) get a copy of its answer.
    std::string key;
    if (spec.idempotency) key = idempotency_key(spec.idempotency->agent, spec.idempotency->key);
    after = [this, token = spec.token, key = std::move(key), cache_key = spec.cache_key,
             answer = outcome.reply] {
      --inflight_;
      loop_of_.erase(token);
      if (!key.empty()) settle(key, answer);
      if (!cache_key.empty()) settle_cache(cache_key, answer);
    };
  }
  // A success's record was stored with its commit.
  if (outcome.reply || !spec.idempotency) {
    sink_.deliver(spec.token, std::move(outcome), std::move(after));
    return;
  }
  // A failed call is not remembered: its pending marker goes before anyone
  // is answered, so a repeat runs it again. (The sink outlives the ledger,
  // whose last callbacks run as it closes; this pool may not.)
  CallSink& sink = sink_;
  ledger_.idempotency_forget_async(
      spec.idempotency->agent, spec.idempotency->key,
      [&sink, call = *spec.idempotency, token = spec.token, outcome = std::move(outcome),
       after = std::move(after)](protocol::Result<bool> r) mutable {
        if (!r) {
          spdlog::warn("idempotency_key '{}' of {}: the failed call's pending marker may remain "
                       "({}); repeats will be told its outcome is unknown",
                       call.key, call.agent, r.error().message);
        }
        sink.deliver(token, std::move(outcome), std::move(after));
      });
}

void CallPool::settle_cache(const std::string& key, const CallResult& answer) {
  // After a failure each waiter starts again: the first leads the key now.
  for (CacheWaiter& w : cache_.settle(key, answer, !draining_.load())) {
    if (auto now = start(w.token, w.id, std::move(w.request), w.config)) {
      sink_.deliver(w.token, CallOutcome{std::move(*now), {}}, {});
    }
  }
}

void CallPool::settle(const std::string& key, const CallResult& answer) {
  auto it = running_keys_.find(key);
  if (it == running_keys_.end()) return;
  for (uint64_t token : it->second.waiters) {
    sink_.deliver(token, CallOutcome{replayed(answer), {}}, {});
  }
  running_keys_.erase(it);
}

}  // namespace tollgate::workers
