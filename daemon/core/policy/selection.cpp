#include "daemon/core/policy/selection.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <utility>

#include "daemon/core/policy/saturating.h"

namespace tollgate::policy {
namespace {

std::string key_env(const ProviderSnapshot& p) {
  if (!p.api_key_env.empty()) return p.api_key_env;
  std::string env;
  for (char c : p.name) {
    env += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return env + "_API_KEY";
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
  return buf;
}

std::string numbers(const BudgetUsage& u) {
  return std::to_string(u.used) + " used + " + std::to_string(u.reserved) + " reserved of " +
         std::to_string(*u.limit);
}

Skip budget_skip(std::string detail) {
  return Skip{Reason::kFallbackThreshold, std::move(detail), std::nullopt};
}

// "anthropic: needs 3,320, 1,210 left" when the call's need is known, else
// "anthropic:"; the reason follows.
std::string needs(const std::string& provider, const BudgetUsage& u, uint64_t needed) {
  if (needed == 0 || !u.limit) return provider + ":";
  const uint64_t left = u.used >= *u.limit ? 0 : *u.limit - u.used;
  return provider + ": needs " + grouped_number(needed) + ", " + grouped_number(left) + " left;";
}

// The budget part of rule 2 for one scope ("the agent's" or "the global").
// Only `used` counts here: room held by calls in flight is not a reason to
// pass a provider over, since the call queues for it at reserve time
// (rule 6), where the ledger also applies the threshold to used + reserved.
std::optional<Skip> check_budget(const std::string& provider, const char* scope,
                                 const BudgetUsage& u, uint64_t reservation, uint64_t needed,
                                 std::optional<double> threshold) {
  if (!u.limit) return std::nullopt;
  const uint64_t limit = *u.limit;
  if (u.used >= limit) {
    return budget_skip(needs(provider, u, needed) + " " + scope + " budget is used up (" +
                       numbers(u) + ")");
  }
  const double fraction = static_cast<double>(u.used) / static_cast<double>(limit);
  if (threshold && fraction >= *threshold) {
    return budget_skip(needs(provider, u, needed) + " " + scope + " usage " + percent(fraction) +
                       " is at or over the fallback threshold " + percent(*threshold) + " (" +
                       numbers(u) + ")");
  }
  if (saturating_add(u.used, reservation) > limit) {
    return budget_skip(provider + ": reservation of " + std::to_string(reservation) +
                       " tokens does not fit " + scope + " remaining budget (" + numbers(u) +
                       ")");
  }
  return std::nullopt;
}

PlanStep skip_step(const ProviderSnapshot& p, Skip s) {
  PlanStep step;
  step.provider = p.name;
  step.skip = true;
  step.reason = s.reason;
  step.detail = std::move(s.detail);
  step.retry_after_ms = s.retry_after_ms;
  return step;
}

// The reason a call step reports: see reason_after() in outcome.h. A
// provider skipped for the model was no candidate: it is passed over.
Reason call_reason(const std::vector<PlanStep>& before, bool preferred) {
  for (auto it = before.rbegin(); it != before.rend(); ++it) {
    if (it->skip && it->reason == Reason::kModelNotAccepted) continue;
    return it->skip ? it->reason : Reason::kFallbackError;
  }
  return preferred ? Reason::kPreferred : Reason::kPrimary;
}

std::string model_list(const std::vector<std::string>& models) {
  std::string out;
  for (const auto& m : models) out += (out.empty() ? "" : ", ") + m;
  return out;
}

void append(std::vector<PlanStep>& steps, const SelectionInput& input, size_t index,
            bool preferred) {
  const ProviderSnapshot& p = input.chain[index];
  if (!preferred) {
    if (auto skip = evaluate_provider(input, index)) {
      steps.push_back(skip_step(p, std::move(*skip)));
      return;
    }
  }
  PlanStep step;
  step.provider = p.name;
  step.preferred = preferred;
  step.reason = call_reason(steps, preferred);
  steps.push_back(std::move(step));
}

}  // namespace

std::string_view reason_name(Reason reason) {
  switch (reason) {
    case Reason::kPrimary: return "primary";
    case Reason::kPreferred: return "preferred";
    case Reason::kFallbackThreshold: return "fallback_threshold";
    case Reason::kFallbackRateLimit: return "fallback_rate_limit";
    case Reason::kFallbackError: return "fallback_error";
    case Reason::kFallbackCircuitOpen: return "fallback_circuit_open";
    case Reason::kFallbackNotConfigured: return "fallback_not_configured";
    case Reason::kModelNotAccepted: return "model_not_accepted";
  }
  return "primary";
}

std::string grouped_number(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::optional<Skip> evaluate_provider(const SelectionInput& input, size_t index) {
  const ProviderSnapshot& p = input.chain.at(index);
  if (input.model && !p.models.empty() &&
      std::find(p.models.begin(), p.models.end(), *input.model) == p.models.end()) {
    return Skip{Reason::kModelNotAccepted,
                p.name + ": does not accept model " + *input.model + " (it accepts " + model_list(p.models) + ")",
                std::nullopt};
  }
  if (!p.configured) {
    return Skip{Reason::kFallbackNotConfigured, key_env(p) + " environment variable not set",
                std::nullopt};
  }
  if (p.unusable) return *p.unusable;
  if (p.exhausted) {
    return budget_skip(needs(p.name, p.agent, input.needed) +
                       " budget exhausted for this period (" +
                       (p.agent.limit ? numbers(p.agent) : std::string("out of credit")) + ")");
  }
  // The last provider in the chain has nothing to fall back to: no threshold.
  const bool last = index + 1 == input.chain.size();
  std::optional<double> threshold;
  if (!last) threshold = input.fallback_threshold;
  if (auto s = check_budget(p.name, "the agent's", p.agent, input.reservation, input.needed,
                            threshold)) {
    return s;
  }
  if (auto s = check_budget(p.name, "the global", p.global, input.reservation, input.needed,
                            std::nullopt)) {
    return s;
  }
  if (!p.circuit_allows) {
    return Skip{Reason::kFallbackCircuitOpen, p.name + ": circuit breaker is open",
                std::nullopt};
  }
  if (!p.rate.allowed) {
    return Skip{Reason::kFallbackRateLimit,
                p.name + ": local rate limit is full; retry in " +
                    std::to_string(p.rate.retry_after_ms) + " ms",
                p.rate.retry_after_ms};
  }
  return std::nullopt;
}

std::vector<size_t> consideration_order(const SelectionInput& input) {
  std::vector<size_t> order(input.chain.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!input.cheapest) return order;
  const auto cost = [&](size_t i) {
    return input.chain[i].expected_cost_usd.value_or(std::numeric_limits<double>::infinity());
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost(a) < cost(b); });
  return order;
}

Plan select_providers(const SelectionInput& input) {
  std::optional<size_t> preferred;
  if (input.preferred_provider) {
    for (size_t i = 0; i < input.chain.size(); ++i) {
      if (input.chain[i].name == *input.preferred_provider && !evaluate_provider(input, i)) {
        preferred = i;
        break;
      }
    }
  }
  Plan plan;
  if (preferred) append(plan.steps, input, *preferred, true);
  for (size_t i : consideration_order(input)) {
    if (preferred && i == *preferred) continue;
    append(plan.steps, input, i, false);
  }
  return plan;
}

std::vector<PlanStep> Plan::candidates() const {
  std::vector<PlanStep> out;
  for (const auto& s : steps) {
    if (!s.skip) out.push_back(s);
  }
  return out;
}

std::vector<PlanStep> Plan::skipped() const {
  std::vector<PlanStep> out;
  for (const auto& s : steps) {
    if (s.skip) out.push_back(s);
  }
  return out;
}

bool Plan::has_candidate() const {
  for (const auto& s : steps) {
    if (!s.skip) return true;
  }
  return false;
}

std::vector<ProviderAvailability> provider_availability(const SelectionInput& input) {
  std::vector<ProviderAvailability> out;
  for (size_t i = 0; i < input.chain.size(); ++i) {
    ProviderAvailability a;
    a.provider = input.chain[i].name;
    if (auto s = evaluate_provider(input, i)) {
      a.why = s->reason;
      a.detail = std::move(s->detail);
    } else {
      a.available = true;
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace tollgate::policy
