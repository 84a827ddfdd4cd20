#include "workers/calls/call_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "daemon/core/period.h"
#include "daemon/core/response_cache_key.h"

namespace tollgate::workers {

namespace {

int64_t ttl_ms(const Config& config) {
  return static_cast<int64_t>(config.cache_ttl_seconds) * 1000;
}

}  // namespace

CallCache::Start CallCache::begin(uint64_t token, const protocol::RequestId& id,
                                  protocol::CallRequest& request,
                                  const std::shared_ptr<const Config>& config, std::string& key) {
  key.clear();
  if (!store_ || !config->uses_cache(request.ai_name, request.cache)) return Start::kRun;
  key = response_cache_key(request, *config);
  const auto received = clock_.steady_now();
  if (auto flight = flights_.find(key); flight != flights_.end()) {
    flight->second.push_back(CacheWaiter{token, id, std::move(request), config, received});
    return Start::kWaiting;
  }
  auto stored = store_->get(key, clock_.wall_ms(), ttl_ms(*config));
  if (!stored) return Start::kRun;
  auto reply = protocol::decode_call_reply(stored->reply);
  if (!reply) {
    spdlog::warn("response cache: a stored reply does not read ({}); the call runs",
                 reply.error().message);
    return Start::kRun;
  }
  deliver_hit(CacheWaiter{token, id, std::move(request), config, received},
              std::move(reply).value());
  return Start::kAnswered;
}

void CallCache::lead(const std::string& key) {
  flights_[key];  // waiters join it from now on
  count(false);
}

void CallCache::store(const std::string& key, const protocol::CallReply& reply,
                      const Config& config) {
  if (!store_) return;
  cache::CachedAnswer answer{protocol::encode_reply(protocol::RequestId{}, reply), reply.provider,
                             reply.model, reply.usage.total_tokens, clock_.wall_ms()};
  if (!store_->put(key, answer, ttl_ms(config))) {
    spdlog::debug("response cache: a reply of {} bytes was not stored", answer.reply.size());
  }
}

std::vector<CacheWaiter> CallCache::settle(const std::string& key, const CallResult& answer,
                                           bool rerun) {
  auto flight = flights_.find(key);
  if (flight == flights_.end()) return {};
  std::vector<CacheWaiter> waiters = std::move(flight->second);
  flights_.erase(flight);
  if (answer) {
    for (const auto& w : waiters) deliver_hit(w, *answer);
    return {};
  }
  if (rerun) return waiters;
  for (const auto& w : waiters) sink_.deliver(w.token, CallOutcome{answer, {}}, {});
  return {};
}

bool CallCache::cancel(uint64_t token, const protocol::Error& why) {
  for (auto& [key, waiters] : flights_) {
    auto it = std::find_if(waiters.begin(), waiters.end(),
                           [token](const CacheWaiter& w) { return w.token == token; });
    if (it == waiters.end()) continue;
    waiters.erase(it);
    sink_.deliver(token, CallOutcome{why, {}}, {});
    return true;
  }
  return false;
}

void CallCache::deliver_hit(const CacheWaiter& waiter, protocol::CallReply reply) {
  const int64_t now = clock_.wall_ms();
  reply.cached = true;
  reply.replayed = false;
  reply.latency_ms =
      std::chrono::duration<double, std::milli>(clock_.steady_now() - waiter.received).count();
  // Nothing was charged: zero tokens and cost; who answered it first.
  protocol::UsageEvent usage{.ai_name = waiter.request.ai_name,
                             .provider = reply.provider,
                             .model = reply.model,
                             .latency_ms = reply.latency_ms,
                             .reason = reply.reason,
                             .request_id = waiter.id,
                             .period = ledger::period_name_of(now),
                             .at_ms = now,
                             .cached = true};
  std::vector<protocol::Event> events;
  events.emplace_back(std::move(usage));
  count(true);
  sink_.deliver(waiter.token, CallOutcome{std::move(reply), std::move(events)}, {});
}

}  // namespace tollgate::workers
