// The models a provider accepts (ProviderSnapshot::models): a call naming
// another model skips it as model_not_accepted, which is no candidate and
// so leaves the reply's `reason` alone; a call that no provider accepts is
// a bad request naming the model.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/core/policy/outcome.h"
#include "daemon/core/policy/selection.h"
#include "tests/unit/policy_test_util.h"

using namespace tollgate::policy::testing;
using tollgate::policy::AttemptRecord;
using tollgate::policy::Plan;
using tollgate::policy::Reason;
using tollgate::policy::select_providers;
using tollgate::policy::SelectionInput;
using tollgate::policy::Skip;
using tollgate::protocol::ErrorCode;

namespace {

// anthropic accepts only claude models; openai any; ollama two local ones.
SelectionInput three_providers(std::optional<std::string> model) {
  SelectionInput in = default_input();
  in.chain[kAnthropic].models = {"claude-sonnet-4-5", "claude-haiku-4-5"};
  auto ollama = provider("ollama", "OLLAMA_BASE_URL", 100000);
  ollama.models = {"llama3.1:8b", "qwen2.5:7b"};
  in.chain.push_back(ollama);
  in.model = std::move(model);
  return in;
}

AttemptRecord model_skip(const char* provider) {
  return tollgate::policy::skip_record(provider, Skip{Reason::kModelNotAccepted,
                                                      std::string(provider) + ": does not accept model m",
                                                      std::nullopt});
}

}  // namespace

TEST_CASE("a provider whose models list lacks the call's model is skipped as model_not_accepted") {
  Plan plan = select_providers(three_providers("gpt-4.1"));
  REQUIRE(plan.steps.size() == 3);
  CHECK(plan.steps[0].skip);
  CHECK(plan.steps[0].reason == Reason::kModelNotAccepted);
  CHECK(plan.steps[0].detail ==
        "anthropic: does not accept model gpt-4.1 (it accepts claude-sonnet-4-5, claude-haiku-4-5)");
  CHECK_FALSE(plan.steps[1].skip);
  CHECK(plan.steps[2].skip);
  CHECK(plan.steps[2].reason == Reason::kModelNotAccepted);
}

TEST_CASE("a call naming no model is never skipped for a provider's models") {
  Plan plan = select_providers(three_providers(std::nullopt));
  REQUIRE(plan.steps.size() == 3);
  for (const auto& s : plan.steps) CHECK_FALSE(s.skip);
}

TEST_CASE("a model skip comes before a missing key") {
  SelectionInput in = three_providers("qwen2.5:7b");
  in.chain[kAnthropic].configured = false;
  Plan plan = select_providers(in);
  CHECK(plan.steps[0].reason == Reason::kModelNotAccepted);
}

TEST_CASE("the first provider that accepts the model answers as primary") {
  Plan plan = select_providers(three_providers("qwen2.5:7b"));
  REQUIRE(plan.steps.size() == 3);
  CHECK(plan.steps[1].reason == Reason::kPrimary);  // openai accepts any model
  CHECK(plan.steps[2].reason == Reason::kFallbackError);
  SelectionInput in = three_providers("qwen2.5:7b");
  in.chain[kOpenAi].models = {"gpt-4.1"};
  plan = select_providers(in);
  REQUIRE(plan.steps.size() == 3);
  CHECK(plan.steps[2].provider == "ollama");
  CHECK_FALSE(plan.steps[2].skip);
  CHECK(plan.steps[2].reason == Reason::kPrimary);
}

TEST_CASE("a candidate after a model skip reports the reason of the last real candidate before it") {
  SelectionInput in = three_providers("qwen2.5:7b");
  in.chain[kAnthropic].models.clear();
  in.chain[kAnthropic].agent.used = 133000;  // at the threshold
  in.chain[kOpenAi].models = {"gpt-4.1"};
  Plan plan = select_providers(in);
  REQUIRE(plan.steps.size() == 3);
  CHECK(plan.steps[0].reason == Reason::kFallbackThreshold);
  CHECK(plan.steps[1].reason == Reason::kModelNotAccepted);
  CHECK(plan.steps[2].reason == Reason::kFallbackThreshold);
}

TEST_CASE("a preferred provider that does not accept the model is not moved first") {
  SelectionInput in = three_providers("qwen2.5:7b");
  in.preferred_provider = "anthropic";
  Plan plan = select_providers(in);
  CHECK(plan.steps[0].provider == "anthropic");
  CHECK(plan.steps[0].skip);
  CHECK_FALSE(plan.steps[0].preferred);
}

TEST_CASE("provider availability ignores models since it asks for no model") {
  for (const auto& a : tollgate::policy::provider_availability(three_providers(std::nullopt))) CHECK(a.available);
}

TEST_CASE("the reason after model skips passes over them") {
  using tollgate::policy::reason_after;
  CHECK(reason_after({model_skip("anthropic")}, false) == Reason::kPrimary);
  CHECK(reason_after({model_skip("anthropic")}, true) == Reason::kPreferred);
  const AttemptRecord threshold =
      tollgate::policy::skip_record("anthropic", Skip{Reason::kFallbackThreshold, "anthropic: full", std::nullopt});
  CHECK(reason_after({threshold, model_skip("openai")}, false) == Reason::kFallbackThreshold);
  CHECK(tollgate::policy::reason_name(Reason::kModelNotAccepted) == "model_not_accepted");
}

TEST_CASE("a call whose model no provider accepts is a bad request naming the model") {
  const auto e = tollgate::policy::final_error("imperium", {model_skip("anthropic"), model_skip("openai")});
  CHECK(e.code == ErrorCode::kBadRequest);
  CHECK(e.message ==
        "model: no provider in the chain of agent imperium accepts it (anthropic: does not accept model m; "
        "openai: does not accept model m)");
}

TEST_CASE("model skips leave the final error to the providers that accept the model") {
  const AttemptRecord budget =
      tollgate::policy::skip_record("ollama", Skip{Reason::kFallbackThreshold, "ollama: full", std::nullopt});
  CHECK(tollgate::policy::final_error("imperium", {model_skip("anthropic"), budget}).code ==
        ErrorCode::kBudgetExhausted);
  const AttemptRecord missing = tollgate::policy::skip_record(
      "ollama", Skip{Reason::kFallbackNotConfigured, "OLLAMA_BASE_URL environment variable not set", std::nullopt});
  const auto e = tollgate::policy::final_error("imperium", {model_skip("anthropic"), missing});
  CHECK(e.code == ErrorCode::kNotConfigured);
  CHECK(e.message == "OLLAMA_BASE_URL environment variable not set");
}
