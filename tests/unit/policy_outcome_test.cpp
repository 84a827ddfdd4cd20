#include <catch2/catch.hpp>

#include <vector>

#include "daemon/core/policy/outcome.h"
#include "daemon/core/policy/recommend.h"
#include "tests/unit/policy_test_util.h"

using namespace tollgate::policy::testing;
using tollgate::policy::AttemptRecord;
using tollgate::policy::error_record;
using tollgate::policy::final_error;
using tollgate::policy::ok_record;
using tollgate::policy::Outcome;
using tollgate::policy::Reason;
using tollgate::policy::SelectionInput;
using tollgate::policy::Skip;
using tollgate::policy::skip_record;
using tollgate::protocol::ErrorCode;

namespace {

AttemptRecord skipped(const char* provider, Reason why, std::optional<int64_t> wait = {}) {
  return skip_record(provider, Skip{why, std::string(provider) + ": detail", wait});
}

// What a call with this input would record if it called nobody.
std::vector<AttemptRecord> plan_records(const SelectionInput& in) {
  std::vector<AttemptRecord> out;
  for (const auto& step : tollgate::policy::select_providers(in).steps) {
    REQUIRE(step.skip);
    out.push_back(skip_record(step));
  }
  return out;
}

bool contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("the first provider considered answers as primary or preferred") {
  using tollgate::policy::reason_after;
  CHECK(reason_after({}, false) == Reason::kPrimary);
  CHECK(reason_after({}, true) == Reason::kPreferred);
}

TEST_CASE("a provider answering after a skip reports the skip reason") {
  using tollgate::policy::reason_after;
  CHECK(reason_after({skipped("anthropic", Reason::kFallbackRateLimit, 10)}, false) ==
        Reason::kFallbackRateLimit);
  CHECK(reason_after({skipped("anthropic", Reason::kFallbackNotConfigured)}, false) ==
        Reason::kFallbackNotConfigured);
}

TEST_CASE("a provider answering after a failed one reports fallback_error") {
  using tollgate::policy::reason_after;
  std::vector<AttemptRecord> before{skipped("a", Reason::kFallbackCircuitOpen),
                                    error_record("b", "provider_error", "HTTP 503", 12.5)};
  CHECK(reason_after(before, false) == Reason::kFallbackError);
  CHECK(tollgate::policy::reason_after_failure() == Reason::kFallbackError);
}

TEST_CASE("attempt entries carry their wire outcome and code") {
  using tollgate::policy::attempt_code;
  using tollgate::policy::outcome_name;
  auto s = skipped("anthropic", Reason::kFallbackThreshold);
  auto e = error_record("openai", "timeout", "no reply in 30000 ms", 30000.0);
  auto o = ok_record("openai", 812.0);
  CHECK(outcome_name(s.outcome) == "skipped");
  CHECK(attempt_code(s) == "fallback_threshold");
  CHECK(outcome_name(e.outcome) == "error");
  CHECK(attempt_code(e) == "timeout");
  CHECK(e.latency_ms == 30000.0);
  CHECK(outcome_name(o.outcome) == "ok");
  CHECK(attempt_code(o).empty());
}

TEST_CASE("a rate limit skip makes the final error rate_limited with the smallest wait") {
  std::vector<AttemptRecord> attempts{
      skipped("anthropic", Reason::kFallbackRateLimit, 4000),
      error_record("openai", "provider_error", "HTTP 500", 20.0),
      skipped("mistral", Reason::kFallbackRateLimit, 1500),
  };
  auto e = final_error("imperium", attempts);
  CHECK(e.code == ErrorCode::kRateLimited);
  CHECK(e.retry_after_ms == 1500);
  CHECK(contains(e.message, "anthropic"));
}

TEST_CASE("a failure outranks budget and names the last failed provider and its error") {
  std::vector<AttemptRecord> attempts{
      error_record("anthropic", "provider_error", "HTTP 529: overloaded", 10.0),
      skipped("openai", Reason::kFallbackThreshold),
      error_record("mistral", "timeout", "no reply in 30000 ms", 30000.0),
  };
  auto e = final_error("imperium", attempts);
  CHECK(e.code == ErrorCode::kProviderError);
  CHECK(contains(e.message, "mistral: no reply in 30000 ms"));
  CHECK_FALSE(e.retry_after_ms.has_value());
}

TEST_CASE("an open circuit alone makes the final error provider_error") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].circuit_allows = false;
  in.chain[kOpenAi].configured = false;
  auto e = final_error("imperium", plan_records(in));
  CHECK(e.code == ErrorCode::kProviderError);
  CHECK(contains(e.message, "anthropic: circuit breaker is open"));
}

TEST_CASE("a provider skipped for a rejected key makes the final error provider_error") {
  std::vector<AttemptRecord> records = {skipped("anthropic", Reason::kFallbackError),
                                        skipped("openai", Reason::kFallbackThreshold)};
  auto e = final_error("imperium", records);
  CHECK(e.code == ErrorCode::kProviderError);
  CHECK(contains(e.message, "anthropic: detail"));
}

TEST_CASE("both default providers out of budget give budget_exhausted with both_exhausted") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.chain[kOpenAi].agent.used = 9000;
  auto e = final_error("imperium", plan_records(in));
  CHECK(e.code == ErrorCode::kBudgetExhausted);
  CHECK(contains(e.message, "both_exhausted"));
  CHECK(contains(e.message, "imperium"));
}

TEST_CASE("the primary at its threshold and the fallback full are both_exhausted") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 133000;
  in.chain[kOpenAi].agent.used = 8500;  // 1100 more does not fit
  auto e = final_error("guardian", plan_records(in));
  CHECK(e.code == ErrorCode::kBudgetExhausted);
  CHECK(contains(e.message, "both_exhausted"));
  CHECK(contains(e.message, "guardian"));
}

TEST_CASE("one provider out of budget is budget_exhausted without both_exhausted") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.chain[kOpenAi].configured = false;
  auto e = final_error("imperium", plan_records(in));
  CHECK(e.code == ErrorCode::kBudgetExhausted);
  CHECK_FALSE(contains(e.message, "both_exhausted"));
  CHECK(contains(e.message, "imperium"));
  CHECK(contains(e.message, "anthropic"));
}

TEST_CASE("budget outranks a missing key") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].configured = false;
  in.chain[kOpenAi].agent.used = 9000;
  CHECK(final_error("imperium", plan_records(in)).code == ErrorCode::kBudgetExhausted);
}

TEST_CASE("a missing OpenAI key is named in the not_configured message") {
  SelectionInput in = default_input();
  in.chain.erase(in.chain.begin());
  in.chain[0].configured = false;
  auto e = final_error("imperium", plan_records(in));
  CHECK(e.code == ErrorCode::kNotConfigured);
  CHECK(e.message == "OPENAI_API_KEY environment variable not set");
}

TEST_CASE("both missing keys are named in the not_configured message") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].configured = false;
  in.chain[kOpenAi].configured = false;
  auto e = final_error("imperium", plan_records(in));
  CHECK(e.code == ErrorCode::kNotConfigured);
  CHECK(contains(e.message, "ANTHROPIC_API_KEY environment variable not set"));
  CHECK(contains(e.message, "OPENAI_API_KEY environment variable not set"));
}

TEST_CASE("an empty chain is not_configured") {
  auto e = final_error("imperium", {});
  CHECK(e.code == ErrorCode::kNotConfigured);
  CHECK(contains(e.message, "imperium"));
}

TEST_CASE("asking for a final error after a success is an internal error") {
  auto e = final_error("imperium", {ok_record("anthropic", 3.0)});
  CHECK(e.code == ErrorCode::kInternal);
}

TEST_CASE("recommend names the provider a default call would get") {
  using tollgate::policy::recommend;
  SelectionInput in = default_input();
  in.reservation = tollgate::policy::recommendation_reservation(1024);
  auto r = recommend(in);
  CHECK(r.available);
  CHECK(r.provider == "anthropic");
  CHECK(r.reason == "primary");
  CHECK_FALSE(r.error.has_value());

  in.chain[kAnthropic].agent.used = 133000;
  r = recommend(in);
  CHECK(r.available);
  CHECK(r.provider == "openai");
  CHECK(r.reason == "fallback_threshold");
}

TEST_CASE("recommend reports both_exhausted when neither default provider has budget") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.chain[kOpenAi].agent.used = 9000;
  auto r = tollgate::policy::recommend(in);
  CHECK_FALSE(r.available);
  CHECK_FALSE(r.provider.has_value());
  CHECK(r.reason == "both_exhausted");
  REQUIRE(r.error.has_value());
  CHECK(r.error->code == ErrorCode::kBudgetExhausted);
}

TEST_CASE("recommend reports the error code a call would get when nothing is available") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].rate = {false, 700};
  in.chain[kOpenAi].configured = false;
  auto r = tollgate::policy::recommend(in);
  CHECK_FALSE(r.available);
  CHECK(r.reason == "rate_limited");
  REQUIRE(r.error.has_value());
  CHECK(r.error->retry_after_ms == 700);
}
