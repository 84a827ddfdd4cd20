#include "daemon/server/budget_collector.h"

#include <spdlog/spdlog.h>

namespace tollgate {

namespace {

double circuit_value(const std::string& circuit) {
  if (circuit == "open") return metrics::kCircuitOpen;
  if (circuit == "half_open") return metrics::kCircuitHalfOpen;
  return metrics::kCircuitClosed;
}

void collect(metrics::CollectedSamples& out, const StatusReader& status, const Config& config) {
  const int64_t now = status.now_ms();
  for (const auto& p : config.providers) {
    out.add(metrics::kCircuitState, {p.name}, circuit_value(status.runtime().state(p.name, now).circuit));
  }
  const auto& ledger = status.ledger();
  const auto waiting = ledger.waiting();
  for (const auto& p : config.providers) {
    auto it = waiting.find(p.name);
    out.add(metrics::kAdmissionWaiting, {p.name},
            it == waiting.end() ? 0.0 : static_cast<double>(it->second));
  }
  auto period = ledger.current_period(now);
  if (!period) {
    spdlog::warn("metrics: ledger read failed: {}", period.error().message);
    return;
  }
  if (auto global = ledger.global_usage(*period)) {
    for (const auto& [provider, u] : *global) {
      out.add(metrics::kGlobalTokensUsed, {provider}, static_cast<double>(u.used));
      if (u.limit) out.add(metrics::kGlobalTokensLimit, {provider}, static_cast<double>(*u.limit));
    }
  }
  for (const auto& agent : status.known_agents(config, *period)) {
    auto usage = ledger.usage(agent, *period);
    if (!usage) continue;
    for (const auto& [provider, u] : *usage) {
      out.add(metrics::kTokensUsed, {agent, provider}, static_cast<double>(u.used));
      out.add(metrics::kTokensReserved, {agent, provider}, static_cast<double>(u.reserved));
      if (u.limit) out.add(metrics::kTokensLimit, {agent, provider}, static_cast<double>(*u.limit));
    }
  }
}

}  // namespace

void add_budget_collector(metrics::Registry& registry, const StatusReader& status,
                          std::function<std::shared_ptr<const Config>()> config) {
  registry.add_collector([&status, config = std::move(config)](metrics::CollectedSamples& out) {
    if (auto c = config()) collect(out, status, *c);
  });
}

}  // namespace tollgate
