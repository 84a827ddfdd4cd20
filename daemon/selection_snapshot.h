// Builds provider selection's input (policy::SelectionInput) from one
// ledger snapshot, the configuration and the providers' live state.
// Any thread (ProviderRuntime locks itself).
#pragma once

#include <optional>
#include <string>

#include "daemon/config.h"
#include "daemon/ledger/ledger_types.h"
#include "daemon/policy/selection.h"
#include "daemon/provider_runtime.h"

namespace tollgate {

policy::SelectionInput selection_input(const Config& config, const ledger::BudgetSnapshot& budgets,
                                       const ProviderRuntime& runtime, const std::string& agent,
                                       uint64_t reservation,
                                       std::optional<std::string> preferred_provider,
                                       int64_t now_ms);

}  // namespace tollgate
