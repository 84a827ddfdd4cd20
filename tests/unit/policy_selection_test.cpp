#include <catch2/catch.hpp>

#include "daemon/core/policy/selection.h"
#include "tests/unit/policy_test_util.h"

using namespace tollgate::policy::testing;
using tollgate::policy::grouped_number;
using tollgate::policy::Plan;
using tollgate::policy::Reason;
using tollgate::policy::select_providers;
using tollgate::policy::SelectionInput;

namespace {

void require_call(const Plan& plan, size_t i, const char* provider, Reason reason) {
  REQUIRE(plan.steps.size() > i);
  CHECK(plan.steps[i].provider == provider);
  CHECK_FALSE(plan.steps[i].skip);
  CHECK(plan.steps[i].reason == reason);
}

void require_skip(const Plan& plan, size_t i, const char* provider, Reason reason) {
  REQUIRE(plan.steps.size() > i);
  CHECK(plan.steps[i].provider == provider);
  CHECK(plan.steps[i].skip);
  CHECK(plan.steps[i].reason == reason);
}

}  // namespace

TEST_CASE("with budget everywhere the first provider in the chain is primary") {
  Plan plan = select_providers(default_input());
  REQUIRE(plan.steps.size() == 2);
  require_call(plan, 0, "anthropic", Reason::kPrimary);
  require_call(plan, 1, "openai", Reason::kFallbackError);
  CHECK(plan.skipped().empty());
  CHECK(plan.candidates().size() == 2);
  CHECK(plan.has_candidate());
}

TEST_CASE("usage just under the fallback threshold stays on the primary") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 132999;  // 94.9993 percent of 140000
  Plan plan = select_providers(in);
  require_call(plan, 0, "anthropic", Reason::kPrimary);
}

TEST_CASE("usage at exactly the fallback threshold skips the provider") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 133000;  // exactly 95 percent
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  require_call(plan, 1, "openai", Reason::kFallbackThreshold);
  CHECK(plan.steps[0].detail.find("fallback threshold") != std::string::npos);
  REQUIRE(plan.candidates().size() == 1);
  CHECK(plan.candidates()[0].provider == "openai");
  REQUIRE(plan.skipped().size() == 1);
  CHECK(plan.skipped()[0].provider == "anthropic");
}

TEST_CASE("the plan's threshold test counts used tokens only and leaves reserved ones to admission") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 132999;
  in.chain[kAnthropic].agent.reserved = 7000;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
  in.chain[kAnthropic].agent.used = 133000;
  in.chain[kAnthropic].agent.reserved = 0;
  require_skip(select_providers(in), 0, "anthropic", Reason::kFallbackThreshold);
}

TEST_CASE("a fractional threshold is compared exactly at the boundary") {
  SelectionInput in = default_input();
  in.fallback_threshold = 0.8;
  in.chain[kAnthropic].agent.limit = 1000;
  in.chain[kAnthropic].agent.used = 799;
  in.reservation = 10;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
  in.chain[kAnthropic].agent.used = 800;
  require_skip(select_providers(in), 0, "anthropic", Reason::kFallbackThreshold);
}

TEST_CASE("the last provider in the chain is used past the threshold up to its limit") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.chain[kOpenAi].agent.used = 8800;  // 97.8 percent
  in.reservation = 200;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  require_call(plan, 1, "openai", Reason::kFallbackThreshold);
}

TEST_CASE("the last provider is skipped once its budget is used up") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.chain[kOpenAi].agent.used = 9000;
  in.reservation = 0;
  Plan plan = select_providers(in);
  require_skip(plan, 1, "openai", Reason::kFallbackThreshold);
  CHECK_FALSE(plan.has_candidate());
}

TEST_CASE("a lone provider is the last in its chain and is used up to its limit") {
  SelectionInput in = default_input();
  in.chain.pop_back();  // ENABLE_OPENAI_FALLBACK=false: the caller leaves openai out
  in.chain[kAnthropic].agent.used = 138000;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
}

TEST_CASE("a reservation that does not fit the agent budget skips the provider") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.limit = 10000;
  in.chain[kAnthropic].agent.used = 8000;  // 80 percent: under the threshold
  in.reservation = 2001;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  CHECK(plan.steps[0].detail.find("does not fit") != std::string::npos);
  in.reservation = 2000;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
}

TEST_CASE("a reservation that does not fit the last provider skips it too") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].configured = false;
  in.chain[kOpenAi].agent.used = 8000;
  in.reservation = 1001;
  require_skip(select_providers(in), 1, "openai", Reason::kFallbackThreshold);
  in.reservation = 1000;
  require_call(select_providers(in), 1, "openai", Reason::kFallbackNotConfigured);
}

TEST_CASE("a reservation that can never fit the global budget skips the provider") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].global.limit = 50000;
  in.chain[kAnthropic].global.used = 48000;
  in.chain[kAnthropic].global.reserved = 900;  // in flight: admission waits for it
  in.reservation = 2001;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  CHECK(plan.steps[0].detail.find("global") != std::string::npos);
  in.reservation = 2000;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
}

TEST_CASE("a budget skip says what the call needs and what is left") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.needed = 3320;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  CHECK(plan.steps[0].detail.find("anthropic: needs 3,320, 0 left") == 0);
  CHECK(grouped_number(0) == "0");
  CHECK(grouped_number(999) == "999");
  CHECK(grouped_number(1000) == "1,000");
  CHECK(grouped_number(1234567) == "1,234,567");
}

TEST_CASE("the fallback threshold does not apply to the global budget") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].global.limit = 100000;
  in.chain[kAnthropic].global.used = 97000;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
}

TEST_CASE("an agent limit of zero means no budget") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.limit = 0;
  in.reservation = 0;
  require_skip(select_providers(in), 0, "anthropic", Reason::kFallbackThreshold);
}

TEST_CASE("a provider marked exhausted for the period is skipped for its budget") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].exhausted = true;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  require_call(plan, 1, "openai", Reason::kFallbackThreshold);
}

TEST_CASE("a usable preferred provider goes first") {
  SelectionInput in = default_input();
  in.preferred_provider = "openai";
  Plan plan = select_providers(in);
  REQUIRE(plan.steps.size() == 2);
  require_call(plan, 0, "openai", Reason::kPreferred);
  CHECK(plan.steps[0].preferred);
  require_call(plan, 1, "anthropic", Reason::kFallbackError);
  CHECK_FALSE(plan.steps[1].preferred);
}

TEST_CASE("preferring the primary reports preferred") {
  SelectionInput in = default_input();
  in.preferred_provider = "anthropic";
  Plan plan = select_providers(in);
  require_call(plan, 0, "anthropic", Reason::kPreferred);
  require_call(plan, 1, "openai", Reason::kFallbackError);
}

TEST_CASE("a preferred provider that is not configured leaves normal selection") {
  SelectionInput in = default_input();
  in.chain[kOpenAi].configured = false;
  in.preferred_provider = "openai";
  Plan plan = select_providers(in);
  REQUIRE(plan.steps.size() == 2);
  require_call(plan, 0, "anthropic", Reason::kPrimary);
  require_skip(plan, 1, "openai", Reason::kFallbackNotConfigured);
}

TEST_CASE("a preferred provider over its threshold leaves normal selection") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 135000;
  in.preferred_provider = "anthropic";
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  require_call(plan, 1, "openai", Reason::kFallbackThreshold);
}

TEST_CASE("an unknown preferred provider is ignored") {
  SelectionInput in = default_input();
  in.preferred_provider = "mistral";
  Plan plan = select_providers(in);
  REQUIRE(plan.steps.size() == 2);
  require_call(plan, 0, "anthropic", Reason::kPrimary);
}

TEST_CASE("a provider at its local rate limit is skipped with its wait") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].rate = {false, 1234};
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackRateLimit);
  CHECK(plan.steps[0].retry_after_ms == 1234);
  require_call(plan, 1, "openai", Reason::kFallbackRateLimit);
}

TEST_CASE("a provider with an open circuit is skipped") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].circuit_allows = false;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackCircuitOpen);
  require_call(plan, 1, "openai", Reason::kFallbackCircuitOpen);
}

TEST_CASE("a provider without an API key is skipped as not configured") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].configured = false;
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackNotConfigured);
  CHECK(plan.steps[0].detail == "ANTHROPIC_API_KEY environment variable not set");
  require_call(plan, 1, "openai", Reason::kFallbackNotConfigured);
}

TEST_CASE("the key variable defaults to the upper-cased provider name") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].configured = false;
  in.chain[kAnthropic].api_key_env.clear();
  in.chain[kAnthropic].name = "my-llm";
  CHECK(select_providers(in).steps[0].detail == "MY_LLM_API_KEY environment variable not set");
}

TEST_CASE("a provider without budget is reported for its budget rather than its rate limit") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].agent.used = 140000;
  in.chain[kAnthropic].rate = {false, 500};
  in.chain[kAnthropic].circuit_allows = false;
  require_skip(select_providers(in), 0, "anthropic", Reason::kFallbackThreshold);
}

TEST_CASE("an open circuit is reported before a full rate window") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].rate = {false, 500};
  in.chain[kAnthropic].circuit_allows = false;
  require_skip(select_providers(in), 0, "anthropic", Reason::kFallbackCircuitOpen);
}

TEST_CASE("a candidate reports the reason of the provider just before it") {
  SelectionInput in = default_input();
  in.chain.push_back(provider("mistral", "MISTRAL_API_KEY", 50000));
  in.chain[kOpenAi].rate = {false, 100};
  Plan plan = select_providers(in);
  REQUIRE(plan.steps.size() == 3);
  require_call(plan, 0, "anthropic", Reason::kPrimary);
  require_skip(plan, 1, "openai", Reason::kFallbackRateLimit);
  require_call(plan, 2, "mistral", Reason::kFallbackRateLimit);
}

TEST_CASE("a middle provider of a longer chain still honours the threshold") {
  SelectionInput in = default_input();
  in.chain.push_back(provider("mistral", "MISTRAL_API_KEY", 50000));
  in.chain[kAnthropic].configured = false;
  in.chain[kOpenAi].agent.used = 8600;  // 95.6 percent and not last any more
  in.reservation = 100;
  Plan plan = select_providers(in);
  require_skip(plan, 1, "openai", Reason::kFallbackThreshold);
  require_call(plan, 2, "mistral", Reason::kFallbackThreshold);
}

TEST_CASE("an empty chain has no candidate") {
  SelectionInput in = default_input();
  in.chain.clear();
  Plan plan = select_providers(in);
  CHECK(plan.steps.empty());
  CHECK_FALSE(plan.has_candidate());
}

TEST_CASE("provider availability reports why each provider is unavailable") {
  SelectionInput in = default_input();
  in.chain[kOpenAi].circuit_allows = false;
  auto a = tollgate::policy::provider_availability(in);
  REQUIRE(a.size() == 2);
  CHECK(a[0].provider == "anthropic");
  CHECK(a[0].available);
  CHECK_FALSE(a[0].why.has_value());
  CHECK(a[1].provider == "openai");
  CHECK_FALSE(a[1].available);
  CHECK(a[1].why == Reason::kFallbackCircuitOpen);
  CHECK_FALSE(a[1].detail.empty());
}

TEST_CASE("reasons have their wire names") {
  using tollgate::policy::reason_name;
  CHECK(reason_name(Reason::kPrimary) == "primary");
  CHECK(reason_name(Reason::kPreferred) == "preferred");
  CHECK(reason_name(Reason::kFallbackThreshold) == "fallback_threshold");
  CHECK(reason_name(Reason::kFallbackRateLimit) == "fallback_rate_limit");
  CHECK(reason_name(Reason::kFallbackError) == "fallback_error");
  CHECK(reason_name(Reason::kFallbackCircuitOpen) == "fallback_circuit_open");
  CHECK(reason_name(Reason::kFallbackNotConfigured) == "fallback_not_configured");
}

TEST_CASE("a provider that rejected its key is skipped with fallback_error before any other rule") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].unusable =
      tollgate::policy::Skip{Reason::kFallbackError, "anthropic: API key rejected (HTTP 401)", std::nullopt};
  in.chain[kAnthropic].circuit_allows = false;  // would say circuit open
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackError);
  CHECK(plan.steps[0].detail == "anthropic: API key rejected (HTTP 401)");
  require_call(plan, 1, "openai", Reason::kFallbackError);
}

TEST_CASE("an unusable provider is not moved first as the preferred provider") {
  SelectionInput in = default_input();
  in.preferred_provider = "openai";
  in.chain[kOpenAi].unusable =
      tollgate::policy::Skip{Reason::kFallbackThreshold, "openai: the account is out of credit", std::nullopt};
  Plan plan = select_providers(in);
  require_call(plan, 0, "anthropic", Reason::kPrimary);
  require_skip(plan, 1, "openai", Reason::kFallbackThreshold);
}

// ---- TOLLGATE_SELECTION=cheapest (PROTOCOL.md section 10)

TEST_CASE("cheapest selection puts the provider with the lowest expected cost first") {
  SelectionInput in = default_input();
  in.cheapest = true;
  in.chain[kAnthropic].expected_cost_usd = 0.020;
  in.chain[kOpenAi].expected_cost_usd = 0.008;
  Plan plan = select_providers(in);
  REQUIRE(plan.steps.size() == 2);
  require_call(plan, 0, "openai", Reason::kPrimary);
  require_call(plan, 1, "anthropic", Reason::kFallbackError);
}

TEST_CASE("cheapest selection keeps chain order for equal and unknown costs") {
  SelectionInput in = default_input();
  in.cheapest = true;
  in.chain[kAnthropic].expected_cost_usd = 0.01;
  in.chain[kOpenAi].expected_cost_usd = 0.01;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
  in.chain[kAnthropic].expected_cost_usd.reset();
  require_call(select_providers(in), 0, "openai", Reason::kPrimary);
}

TEST_CASE("cheapest selection still skips a cheap provider over its threshold") {
  SelectionInput in = default_input();
  in.cheapest = true;
  in.chain[kAnthropic].expected_cost_usd = 0.001;
  in.chain[kOpenAi].expected_cost_usd = 0.008;
  in.chain[kAnthropic].agent.used = 133000;  // at the fallback threshold
  Plan plan = select_providers(in);
  require_skip(plan, 0, "anthropic", Reason::kFallbackThreshold);
  require_call(plan, 1, "openai", Reason::kFallbackThreshold);
}

TEST_CASE("without cheapest selection expected costs change nothing") {
  SelectionInput in = default_input();
  in.chain[kAnthropic].expected_cost_usd = 0.020;
  in.chain[kOpenAi].expected_cost_usd = 0.008;
  require_call(select_providers(in), 0, "anthropic", Reason::kPrimary);
}
