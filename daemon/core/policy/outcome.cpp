#include "daemon/core/policy/outcome.h"

#include <algorithm>
#include <utility>

namespace tollgate::policy {
namespace {

bool skipped_for(const AttemptRecord& r, Reason reason) {
  return r.outcome == Outcome::kSkipped && r.skip_reason == reason;
}

std::string join_details(const std::vector<AttemptRecord>& attempts, Reason reason) {
  std::string out;
  for (const auto& r : attempts) {
    if (!skipped_for(r, reason)) continue;
    if (!out.empty()) out += "; ";
    out += r.message;
  }
  return out;
}

std::optional<protocol::Error> rate_limited(const std::vector<AttemptRecord>& attempts) {
  std::optional<int64_t> wait;
  for (const auto& r : attempts) {
    if (!skipped_for(r, Reason::kFallbackRateLimit)) continue;
    const int64_t w = std::max<int64_t>(r.retry_after_ms.value_or(0), 0);
    wait = wait ? std::min(*wait, w) : w;
  }
  if (!wait) return std::nullopt;
  return protocol::Error::rate_limited(
      "every provider with budget left is at its local rate limit (" +
          join_details(attempts, Reason::kFallbackRateLimit) + ")",
      *wait);
}

std::optional<protocol::Error> provider_failed(const std::vector<AttemptRecord>& attempts) {
  const AttemptRecord* last = nullptr;
  for (const auto& r : attempts) {
    if (r.outcome == Outcome::kError || skipped_for(r, Reason::kFallbackCircuitOpen) ||
        skipped_for(r, Reason::kFallbackError)) {
      last = &r;
    }
  }
  if (last == nullptr) return std::nullopt;
  std::string detail = last->message;
  // Skip details already start with the provider's name.
  if (last->outcome == Outcome::kError) detail = last->provider + ": " + detail;
  return protocol::Error::provider_error("every candidate provider failed; last was " + detail);
}

std::optional<protocol::Error> budget_exhausted(std::string_view agent,
                                                const std::vector<AttemptRecord>& attempts) {
  bool any = false;
  bool anthropic = false;
  bool openai = false;
  for (const auto& r : attempts) {
    if (!skipped_for(r, Reason::kFallbackThreshold)) continue;
    any = true;
    anthropic = anthropic || r.provider == kAnthropic;
    openai = openai || r.provider == kOpenAi;
  }
  if (!any) return std::nullopt;
  std::string head = "agent " + std::string(agent) + ": ";
  head += anthropic && openai ? "both_exhausted: anthropic and openai have no budget left"
                              : "no provider has budget left";
  return protocol::Error::budget_exhausted(head + " for this call (" +
                                           join_details(attempts, Reason::kFallbackThreshold) +
                                           ")");
}

// Every provider considered was skipped because it does not accept the
// call's model (the details name it): the request asks for what the chain
// cannot serve.
std::optional<protocol::Error> model_not_accepted(std::string_view agent,
                                                  const std::vector<AttemptRecord>& attempts) {
  if (attempts.empty()) return std::nullopt;
  for (const auto& r : attempts) {
    if (!skipped_for(r, Reason::kModelNotAccepted)) return std::nullopt;
  }
  return protocol::Error::bad_request("model: no provider in the chain of agent " + std::string(agent) +
                                      " accepts it (" + join_details(attempts, Reason::kModelNotAccepted) +
                                      ")");
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kSkipped: return "skipped";
    case Outcome::kError: return "error";
  }
  return "error";
}

AttemptRecord skip_record(const PlanStep& step) {
  return skip_record(step.provider, Skip{step.reason, step.detail, step.retry_after_ms});
}

AttemptRecord skip_record(std::string provider, Skip skip) {
  AttemptRecord r;
  r.provider = std::move(provider);
  r.outcome = Outcome::kSkipped;
  r.skip_reason = skip.reason;
  r.message = std::move(skip.detail);
  r.retry_after_ms = skip.retry_after_ms;
  return r;
}

AttemptRecord error_record(std::string provider, std::string error_code, std::string message,
                           double latency_ms) {
  AttemptRecord r;
  r.provider = std::move(provider);
  r.outcome = Outcome::kError;
  r.error_code = std::move(error_code);
  r.message = std::move(message);
  r.latency_ms = latency_ms;
  return r;
}

AttemptRecord ok_record(std::string provider, double latency_ms) {
  AttemptRecord r;
  r.provider = std::move(provider);
  r.outcome = Outcome::kOk;
  r.latency_ms = latency_ms;
  return r;
}

std::string attempt_code(const AttemptRecord& record) {
  switch (record.outcome) {
    case Outcome::kOk: return "";
    case Outcome::kSkipped: return std::string(reason_name(record.skip_reason));
    case Outcome::kError: return record.error_code;
  }
  return "";
}

Reason reason_after(const std::vector<AttemptRecord>& before, bool preferred) {
  for (auto it = before.rbegin(); it != before.rend(); ++it) {
    if (skipped_for(*it, Reason::kModelNotAccepted)) continue;  // no candidate for this call
    return it->outcome == Outcome::kSkipped ? it->skip_reason : reason_after_failure();
  }
  return preferred ? Reason::kPreferred : Reason::kPrimary;
}

protocol::Error final_error(std::string_view agent, const std::vector<AttemptRecord>& attempts) {
  for (const auto& r : attempts) {
    if (r.outcome == Outcome::kOk) {
      return protocol::Error::internal("final_error called for a call that " + r.provider +
                                       " answered");
    }
  }
  if (auto e = model_not_accepted(agent, attempts)) return *e;
  if (auto e = rate_limited(attempts)) return *e;
  if (auto e = provider_failed(attempts)) return *e;
  if (auto e = budget_exhausted(agent, attempts)) return *e;
  std::string missing = join_details(attempts, Reason::kFallbackNotConfigured);
  if (missing.empty()) missing = "no provider is configured for agent " + std::string(agent);
  return protocol::Error::not_configured(missing);
}

}  // namespace tollgate::policy
