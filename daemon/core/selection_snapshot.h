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

}  // namespace tollgate
