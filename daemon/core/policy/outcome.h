// What happened to each provider a call considered, and what that means:
// the `attempts` array, the `reason` of the provider that answered, and
// the final error when none did (PROTOCOL.md section 3, `call`, rule 5).
//
// The worker appends one AttemptRecord per provider it considers, in
// order: the plan's skip steps, runtime refusals (circuit allow() refused,
// rate window full, ledger reserve refused: record them as skips with
// fallback_circuit_open, fallback_rate_limit, fallback_threshold), a
// provider that failed after its retries (an error record), and finally
// the one that answered (an ok record).
//
// Pure functions over plain data; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/policy/selection.h"
#include "protocol/error.h"

namespace tollgate::policy {

enum class Outcome { kOk, kSkipped, kError };

// "ok", "skipped", "error".
std::string_view outcome_name(Outcome outcome);

struct AttemptRecord {
  std::string provider;
  Outcome outcome = Outcome::kSkipped;
  Reason skip_reason = Reason::kFallbackNotConfigured;  // kSkipped only
  // kError only: the wire code for the attempts entry, e.g.
  // "provider_error", "timeout", "rate_limited" (a 429 after retries).
  std::string error_code;
  // kSkipped: the skip detail; kError: the provider's error, one line,
  // e.g. "HTTP 503: overloaded" (never prompt text or keys).
  std::string message;
  double latency_ms = 0;
  std::optional<int64_t> retry_after_ms;  // rate-limit skips
};

AttemptRecord skip_record(const PlanStep& step);
AttemptRecord skip_record(std::string provider, Skip skip);
AttemptRecord error_record(std::string provider, std::string error_code, std::string message,
                           double latency_ms);
AttemptRecord ok_record(std::string provider, double latency_ms);

// The `code` of the attempts entry: the skip reason's name for a skip,
// error_code for an error, "" for ok (written as nil on the wire).
std::string attempt_code(const AttemptRecord& record);

// The `reason` to report for a provider that answers after `before` (the
// records of the providers considered ahead of it): primary (or preferred,
// when it was moved first as the preferred provider) when it is the first
// considered; else the reason the provider just before it was passed
// over: its skip reason, or fallback_error when it was called and failed.
// Providers skipped for model_not_accepted were no candidates: they are
// left out of this.
Reason reason_after(const std::vector<AttemptRecord>& before, bool preferred);

// The reason the next candidate gets when a called provider failed after
// its retries.
inline constexpr Reason reason_after_failure() { return Reason::kFallbackError; }

// The names of the two default providers, for both_exhausted.
inline constexpr std::string_view kAnthropic = "anthropic";
inline constexpr std::string_view kOpenAi = "openai";

// Rule 5, applied to every record of a call that no provider answered:
// - bad_request when every provider was skipped for model_not_accepted:
//   "model: no provider in the chain of agent A accepts it (P: does not
//   accept model M (it accepts ...); ...)"; otherwise such skips count
//   for nothing below;
// - rate_limited if any provider was skipped for its local rate limit;
//   retry_after_ms = the smallest wait among them;
// - else provider_error if any failed, had its circuit open or was
//   skipped as failed earlier (fallback_error: its key was rejected); the
//   message names the last such provider and its error;
// - else budget_exhausted if any was skipped for its budget; the message
//   names the agent and contains "both_exhausted" when anthropic and
//   openai were both skipped for their budgets;
// - else not_configured: "<VAR> environment variable not set" for each
//   provider skipped for a missing key (joined with "; "), or "no provider
//   is configured" when the chain was empty.
// A record with outcome ok means the call succeeded: that is a caller bug
// and gives internal.
protocol::Error final_error(std::string_view agent, const std::vector<AttemptRecord>& attempts);

}  // namespace tollgate::policy
