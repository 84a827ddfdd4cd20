// The rules CallRun's files share (call_run.cpp, call_run_settle.cpp,
// call_run_stream.cpp): how a failure reads in a reply, which failures end
// the call or make a provider unusable, and what tokens cost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/core/config.h"
#include "daemon/core/policy/selection.h"
#include "daemon/ledger/ledger.h"
#include "protocol/error.h"
#include "workers/providers/provider_types.h"

namespace tollgate::workers {

inline constexpr int64_t kBackoffBaseMs = 200;
inline constexpr int64_t kBackoffCapMs = 5000;

// The `code` of an attempts entry for a provider that failed.
inline std::string failure_code(const ProviderFailure& f) {
  if (f.kind == FailureKind::kTimeout) return "timeout";
  if (f.kind == FailureKind::kRateLimited) return "rate_limited";
  return "provider_error";
}

inline protocol::Error shutdown_error() {
  return protocol::Error::internal("tollgated is shutting down");
}

// PROTOCOL.md section 3, rule 3: a provider that rejected its key or is out
// of credit is passed over (the call moves on) and skipped until a reload.
inline std::optional<policy::Skip> unusable_after(const std::string& provider,
                                                  const ProviderFailure& f) {
  if (f.kind == FailureKind::kAuth) {
    return policy::Skip{policy::Reason::kFallbackError,
                        provider + ": API key rejected (HTTP " + std::to_string(f.http_status) +
                            "); skipped until a reload",
                        std::nullopt};
  }
  if (f.kind == FailureKind::kOutOfCredit) {
    return policy::Skip{policy::Reason::kFallbackThreshold,
                        provider + ": the account is out of credit; skipped until a reload",
                        std::nullopt};
  }
  return std::nullopt;
}

// A 4xx other than 429, key rejected or out of credit ends the call: no
// retry, no fallback.
inline bool ends_call(const ProviderFailure& f) { return f.kind == FailureKind::kBadRequest; }

// Dollars for these tokens at the configured prices of `model`, else of
// `fallback_model` (the model asked for, when the provider reports another
// name); 0 when neither has a price.
// Cache tokens (part of input_tokens) are priced at the model's cache
// rates when the provider reported them.
inline double priced(const Config& config, const std::string& model,
                     const std::string& fallback_model, uint64_t input_tokens,
                     uint64_t output_tokens, std::optional<uint64_t> cache_creation = std::nullopt,
                     std::optional<uint64_t> cache_read = std::nullopt) {
  auto price = config.prices.find(model);
  if (price == config.prices.end()) price = config.prices.find(fallback_model);
  if (price == config.prices.end()) return 0.0;
  return ledger::cost_usd(price->second, ledger::split_usage(input_tokens, cache_creation,
                                                             cache_read, output_tokens));
}

}  // namespace tollgate::workers
