// Provider selection for one call: PROTOCOL.md section 3, `call`,
// "Provider selection" rules 1, 2 and the `reason` field.
//
// select_providers() is a pure function of a snapshot the caller builds
// from the ledger, the rate windows and the circuit breakers at now_ms. It
// returns the order in which providers are considered: each step is either
// a provider to call (with the `reason` the reply reports if that provider
// answers) or a provider passed over (with the reason, which is also the
// `code` of its `skipped` entry in `attempts`).
//
// The snapshot can be stale by the time a provider is called (other calls
// reserve, the probe is taken, the minute fills). The ledger's reserve, the
// breaker's allow() and the window's try_acquire() are the authorities:
// when one refuses, the worker records a skip with the matching reason
// (outcome.h) and moves on; the reason of whoever answers is then computed
// from what actually happened with reason_after() (outcome.h), which gives
// the same answer as the plan when nothing changed.
//
// Choices the protocol leaves open (also in docs/protocol.md):
// - The plan looks at `used` only: a budget whose room is held by calls in
//   flight is still a candidate, and the call queues for it at reserve
//   time (rule 6). The ledger's reserve then applies the threshold to
//   used + reserved (budget.h fit()), so concurrent calls cannot all slip
//   under the threshold while each one's reservation is pending.
// - "At or over": used / limit >= threshold. A limit of 0 means no budget:
//   the provider is always skipped for that scope.
// - "The last provider in the chain" is the last one in configured chain
//   order (usually openai); it is used up to 100% even when a preferred
//   provider was moved in front of it.
// - A call naming a model a provider does not accept (its `models`) skips
//   it first of all (model_not_accepted): it is no candidate for this
//   call, so it does not change the `reason` of whoever answers (the first
//   candidate after such skips only is primary). "The last provider" is
//   still the chain's last, even when the call's model skips it.
// - The chain is the agent's (Config::chain_for): its [agents.NAME] chain
//   or the configured one; selection_input() builds it.
// - When several skip rules apply, the reason reported is the first of:
//   model not accepted, not configured, unusable until reload (key rejected, out of credit),
//   budget (exhausted flag, threshold, reservation does not fit the
//   agent's or the global budget), circuit open, rate limit. A
//   provider without budget is therefore never counted as rate limited,
//   matching "rate_limited: every provider that has budget is at its local
//   rate limit".
// - The caller builds the chain: openai is left out when
//   ENABLE_OPENAI_FALLBACK is false.
// - A preferred_provider that is not in the chain, or is not usable, is
//   ignored: normal selection.
//
// Pure; safe to call from any thread on its own input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/policy/rate_window.h"

namespace tollgate::policy {

// The `reason` of a call reply, and (for the fallback_* values) the code of
// a skipped attempt.
enum class Reason {
  kPrimary,
  kPreferred,
  kFallbackThreshold,
  kFallbackRateLimit,
  kFallbackError,
  kFallbackCircuitOpen,
  kFallbackNotConfigured,
  // A skip code only, never a reply's reason: the call names a model the
  // provider does not accept. Such a provider is no candidate for the
  // call, so whoever answers reports the reason it would have without it.
  kModelNotAccepted,
};

// "primary", "preferred", "fallback_threshold", "fallback_rate_limit",
// "fallback_error", "fallback_circuit_open", "fallback_not_configured",
// "model_not_accepted".
std::string_view reason_name(Reason reason);

// 3320 -> "3,320": token counts in messages a person reads.
std::string grouped_number(uint64_t n);

// Tokens of one budget scope in the current period.
struct BudgetUsage {
  uint64_t used = 0;
  uint64_t reserved = 0;
  std::optional<uint64_t> limit;  // nullopt: no limit (usage still tracked)
};

// Why a provider cannot be used now.
struct Skip {
  Reason reason = Reason::kFallbackNotConfigured;
  std::string detail;  // one line naming the provider and the numbers
  std::optional<int64_t> retry_after_ms;  // rate-limit skips only
};

// One provider as selection sees it at now_ms.
struct ProviderSnapshot {
  std::string name;
  // The variable whose absence leaves it unconfigured, for the
  // not_configured message (ProviderConfig::missing_variable(): the key
  // variable, or the base URL variable of a keyless provider). Empty:
  // upper-cased name + "_API_KEY".
  std::string api_key_env;
  bool configured = false;  // API key set (keyless: base URL set)
  // The models it accepts (ProviderConfig::models); empty: any.
  std::vector<std::string> models;
  BudgetUsage agent;        // this agent; limit = Config::agent_limit(...)
  BudgetUsage global;       // all agents; limit = global_monthly_limit
  // The provider said it is out of credit, or one of the budgets is
  // exhausted (empty: ledger::exhausted()): a budget skip.
  bool exhausted = false;
  // The provider refused this daemon and is skipped until a reload
  // (ProviderRuntime::mark_unusable): key rejected (fallback_error), out of
  // credit (fallback_threshold, a budget skip).
  std::optional<Skip> unusable;
  RateDecision rate;            // RateWindow::check(now_ms, day_count)
  bool circuit_allows = true;   // CircuitBreaker::would_allow(now_ms)
  // What the call would cost here at most (its reservation at this
  // provider's model prices); nullopt: no price known.
  std::optional<double> expected_cost_usd;
};

struct SelectionInput {
  std::string agent;                    // ai_name, for messages
  std::vector<ProviderSnapshot> chain;  // configured chain order
  uint64_t reservation = 0;             // input bound + max_tokens
  // What the call needs (input bound + max_tokens), for messages only: a
  // budget skip then says "needs N, M left". 0: not said.
  uint64_t needed = 0;
  double fallback_threshold = 0.95;     // OPENAI_FALLBACK_THRESHOLD
  std::optional<std::string> preferred_provider;
  // The model the call names; a provider that does not accept it is
  // skipped with model_not_accepted. nullopt: each provider's own model.
  std::optional<std::string> model;
  // TOLLGATE_SELECTION=cheapest: providers are considered by their
  // expected_cost_usd, cheapest first (ties and unpriced ones, last, in
  // chain order); every other rule is the same (the threshold exemption
  // stays with the chain's last provider).
  bool cheapest = false;
};

struct PlanStep {
  std::string provider;
  bool skip = false;
  // skip: why it is passed over. call: the reason reported if it answers,
  // assuming every earlier call step failed.
  Reason reason = Reason::kPrimary;
  bool preferred = false;  // moved to the front as the preferred provider
  std::string detail;      // skip only
  std::optional<int64_t> retry_after_ms;  // rate-limit skips only
};

struct Plan {
  std::vector<PlanStep> steps;  // the order providers are considered in

  std::vector<PlanStep> candidates() const;  // call steps, in order
  std::vector<PlanStep> skipped() const;     // skip steps, in order
  bool has_candidate() const;
};

// Applies rule 2 to chain[index]; nullopt when it is usable now.
std::optional<Skip> evaluate_provider(const SelectionInput& input, size_t index);

Plan select_providers(const SelectionInput& input);

// The chain's indices in the order selection considers them (chain order,
// or by expected cost when input.cheapest).
std::vector<size_t> consideration_order(const SelectionInput& input);

// One provider's availability for provider_status (`available`, `why`),
// evaluated at its own chain position.
struct ProviderAvailability {
  std::string provider;
  bool available = false;
  std::optional<Reason> why;  // nullopt when available
  std::string detail;         // empty when available
};
std::vector<ProviderAvailability> provider_availability(const SelectionInput& input);

}  // namespace tollgate::policy
