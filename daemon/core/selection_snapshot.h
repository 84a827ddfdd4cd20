// Builds provider selection's input (policy::SelectionInput) from one
// ledger snapshot, the configuration and the providers' live state. The
// chain is the agent's (Config::chain_for); the caller sets `model` when
// the call names one.
// Any thread (ProviderRuntime locks itself).
#pragma once

#include <optional>
#include <string>

#include "daemon/core/config.h"
#include "daemon/core/ledger_types.h"
#include "daemon/core/policy/selection.h"
#include "daemon/core/provider_runtime.h"

namespace tollgate {

policy::SelectionInput selection_input(const Config& config, const ledger::BudgetSnapshot& budgets,
                                       const ProviderRuntime& runtime, const std::string& agent,
                                       uint64_t reservation,
                                       std::optional<std::string> preferred_provider,
                                       int64_t now_ms);

// TOLLGATE_SELECTION=cheapest (PROTOCOL.md section 10): sets in.cheapest
// and each provider's expected_cost_usd, the cost of input_tokens +
// output_tokens at the model it would be sent (in.model, else the agent's
// model for it; nullopt when that model has no price). Nothing otherwise.
void price_chain(policy::SelectionInput& in, const Config& config, const std::string& agent,
                 uint64_t input_tokens, uint64_t output_tokens);

}  // namespace tollgate
