#include "daemon/core/selection_snapshot.h"

namespace tollgate {

policy::SelectionInput selection_input(const Config& config, const ledger::BudgetSnapshot& budgets,
                                       const ProviderRuntime& runtime, const std::string& agent,
                                       uint64_t reservation,
                                       std::optional<std::string> preferred_provider,
                                       int64_t now_ms) {
  policy::SelectionInput in;
  in.agent = agent;
  in.reservation = reservation;
  in.fallback_threshold = config.fallback_threshold;
  in.preferred_provider = std::move(preferred_provider);
  for (const ProviderConfig* provider : config.chain_for(agent)) {
    const ProviderConfig& p = *provider;
    policy::ProviderSnapshot s;
    s.name = p.name;
    s.api_key_env = p.missing_variable();
    s.configured = p.configured();
    s.models = p.models;
    if (auto it = budgets.providers.find(p.name); it != budgets.providers.end()) {
      const auto& b = it->second;
      s.agent = {b.agent.used, b.agent.reserved, b.agent.limit};
      s.global = {b.global.used, b.global.reserved, b.global.limit};
      s.exhausted = b.agent.exhausted || b.global.exhausted;
    } else {
      s.agent.limit = config.agent_limit(agent, p.name);
      s.global.limit = p.global_monthly_limit;
    }
    auto view = runtime.view(p.name, now_ms);
    s.rate = view.rate;
    s.circuit_allows = view.circuit_allows;
    s.unusable = std::move(view.unusable);
    in.chain.push_back(std::move(s));
  }
  return in;
}

void price_chain(policy::SelectionInput& in, const Config& config, const std::string& agent,
                 uint64_t input_tokens, uint64_t output_tokens) {
  if (config.selection != "cheapest") return;
  in.cheapest = true;
  for (auto& p : in.chain) {
    const std::string model = in.model ? *in.model : config.model_for(agent, p.name);
    const auto price = config.prices.find(model);
    if (price == config.prices.end()) continue;
    p.expected_cost_usd = ledger::cost_usd(price->second, input_tokens, output_tokens);
  }
}

}  // namespace tollgate
