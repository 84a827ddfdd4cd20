// The `recommend` op (and `recommended` in usage/provider_status): which
// provider a `call` with a short prompt and the default max_tokens would
// get now. Changes nothing.
//
// The caller builds the SelectionInput exactly as for a call, with
// reservation = the input bound of a short prompt + Config::
// default_max_tokens (recommendation_reservation() below) and no
// preferred provider. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/core/policy/selection.h"
#include "protocol/error.h"

namespace tollgate::policy {

// Input tokens assumed for "a short prompt" (a sentence and the per-message
// overhead); the recommendation's reservation is this + max_tokens.
inline constexpr uint64_t kShortPromptTokens = 64;
inline constexpr uint64_t recommendation_reservation(uint64_t default_max_tokens) {
  return kShortPromptTokens + default_max_tokens;
}

struct Recommendation {
  std::optional<std::string> provider;  // nullopt when none is available
  bool available = false;
  // Available: the call reason ("primary", "fallback_threshold", ...).
  // Unavailable: the code of the error a call would get ("rate_limited",
  // "provider_error", "budget_exhausted", "not_configured"), except
  // "both_exhausted" when anthropic and openai are both out of budget.
  std::string reason;
  std::optional<protocol::Error> error;  // unavailable: that error
};

Recommendation recommend(const SelectionInput& input);

}  // namespace tollgate::policy
