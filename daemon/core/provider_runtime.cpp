#include "daemon/core/provider_runtime.h"

#include <algorithm>

namespace tollgate {

namespace {

policy::CircuitSettings circuit_settings(const Config& c) {
  return {c.circuit_failures, static_cast<int64_t>(c.circuit_open_seconds) * 1000};
}

}  // namespace

ProviderRuntime::ProviderRuntime(const Config& config,
                                 const std::map<std::string, uint64_t>& day_counts,
                                 int64_t now_ms) {
  for (const auto& p : config.providers) {
    Entry e{policy::CircuitBreaker(circuit_settings(config)),
            policy::RateWindow({p.rpm, p.rpd}), policy::utc_day(now_ms), 0, std::nullopt,
            p.configured()};
    if (auto it = day_counts.find(p.name); it != day_counts.end()) e.day_count = it->second;
    entries_.emplace(p.name, std::move(e));
  }
}

void ProviderRuntime::reconfigure(const Config& config) {
  MutexLock lock(mu_);
  for (const auto& p : config.providers) {
    auto it = entries_.find(p.name);
    if (it == entries_.end()) {
      entries_.emplace(p.name, Entry{policy::CircuitBreaker(circuit_settings(config)),
                                     policy::RateWindow({p.rpm, p.rpd}), 0, 0, std::nullopt,
                                     p.configured()});
      continue;
    }
    it->second.breaker.set_settings(circuit_settings(config));
    it->second.window.set_limits({p.rpm, p.rpd});
    it->second.configured = p.configured();
    it->second.unusable.reset();
  }
}

void ProviderRuntime::roll_day(Entry& e, int64_t now_ms) const {
  int64_t day = policy::utc_day(now_ms);
  if (day > e.day) {
    e.day = day;
    e.day_count = 0;
  }
}

ProviderRuntime::View ProviderRuntime::view(const std::string& provider, int64_t now_ms) const {
  MutexLock lock(mu_);
  auto it = entries_.find(provider);
  if (it == entries_.end()) return {};
  Entry& e = it->second;
  roll_day(e, now_ms);
  return {e.window.check(now_ms, e.day_count), e.breaker.would_allow(now_ms), e.unusable};
}

std::vector<protocol::ProviderEvent> ProviderRuntime::events_for(
    const std::string& provider, const std::optional<policy::CircuitTransition>& t) {
  if (!t) return {};
  return {protocol::ProviderEvent{provider, std::string(policy::circuit_state_name(t->to)),
                                  t->reason, t->at_ms}};
}

ProviderRuntime::Admission ProviderRuntime::admit(const std::string& provider, int64_t now_ms) {
  MutexLock lock(mu_);
  Admission a;
  auto it = entries_.find(provider);
  if (it == entries_.end()) {
    a.refused_for = policy::Reason::kFallbackNotConfigured;
    a.detail = provider + ": not in the chain";
    return a;
  }
  Entry& e = it->second;
  roll_day(e, now_ms);
  auto rate = e.window.check(now_ms, e.day_count);
  if (!rate.allowed) {
    a.refused_for = policy::Reason::kFallbackRateLimit;
    a.detail = provider + ": local rate limit reached";
    a.retry_after_ms = rate.retry_after_ms;
    return a;
  }
  a.permit = e.breaker.allow(now_ms);
  a.events = events_for(provider, a.permit.transition);
  if (!a.permit.allowed) {
    a.refused_for = policy::Reason::kFallbackCircuitOpen;
    a.detail = provider + ": circuit open";
    return a;
  }
  e.window.record(now_ms);
  ++e.day_count;
  a.allowed = true;
  return a;
}

std::vector<protocol::ProviderEvent> ProviderRuntime::record(const std::string& provider,
                                                             const policy::Permit& permit,
                                                             bool success, int http_status,
                                                             int64_t now_ms) {
  MutexLock lock(mu_);
  auto it = entries_.find(provider);
  if (it == entries_.end() || !permit.allowed) return {};
  auto& breaker = it->second.breaker;
  if (success) return events_for(provider, breaker.record_success(now_ms, permit));
  if (!policy::counts_toward_circuit(http_status)) {
    breaker.abandon(permit);  // a 4xx says nothing about the provider's health
    return {};
  }
  return events_for(provider, breaker.record_failure(now_ms, permit));
}

void ProviderRuntime::abandon(const std::string& provider, const policy::Permit& permit) {
  MutexLock lock(mu_);
  auto it = entries_.find(provider);
  if (it != entries_.end() && permit.allowed) it->second.breaker.abandon(permit);
}

void ProviderRuntime::note_day_count(const std::string& provider, int64_t now_ms,
                                     uint64_t count) {
  MutexLock lock(mu_);
  auto it = entries_.find(provider);
  if (it == entries_.end()) return;
  roll_day(it->second, now_ms);
  it->second.day_count = std::max(it->second.day_count, count);
}

void ProviderRuntime::unsent(const std::string& provider, const policy::Permit& permit,
                             int64_t admitted_ms) {
  MutexLock lock(mu_);
  auto it = entries_.find(provider);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (permit.allowed) e.breaker.abandon(permit);
  e.window.forget(admitted_ms);
  if (e.day == policy::utc_day(admitted_ms) && e.day_count > 0) --e.day_count;
}

void ProviderRuntime::mark_unusable(const std::string& provider, policy::Skip why) {
  MutexLock lock(mu_);
  auto it = entries_.find(provider);
  if (it != entries_.end()) it->second.unusable = std::move(why);
}

protocol::ProviderState ProviderRuntime::state(const std::string& provider, int64_t now_ms) const {
  MutexLock lock(mu_);
  protocol::ProviderState s;
  auto it = entries_.find(provider);
  if (it == entries_.end()) return s;
  Entry& e = it->second;
  roll_day(e, now_ms);
  s.configured = e.configured;
  s.circuit = std::string(policy::circuit_state_name(e.breaker.state(now_ms)));
  s.rate = {e.window.minute_used(now_ms), e.window.limits().per_minute, e.day_count,
            e.window.limits().per_day};
  return s;
}

}  // namespace tollgate
