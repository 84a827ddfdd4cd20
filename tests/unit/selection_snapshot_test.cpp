// selection_input() builds the chain an agent's call walks from the
// configuration: the agent's own chain, keyless providers configured by
// their base URL, the models each provider accepts; select_providers()
// then skips a provider that does not accept the call's model.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/core/policy/outcome.h"
#include "daemon/core/policy/selection.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/core/selection_snapshot.h"
#include "tests/unit/config_test_util.h"

using tollgate::Config;
using tollgate::policy::Reason;
using namespace tollgate::config_testing;

namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// anthropic and openai with keys, then a keyless local server; the batch
// agent walks ollama then anthropic.
const std::string kToml =
    "[providers.anthropic]\nmodels = [\"claude-sonnet-4-5\"]\n"
    "[providers.ollama]\napi = \"openai\"\nkeyless = true\nbase_url = \"http://127.0.0.1:11434/v1\"\n"
    "model = \"llama3.1:8b\"\nmodels = [\"llama3.1:8b\", \"qwen2.5:7b\"]\nmonthly_limit = 100000\n"
    "[agents.batch]\nchain = [\"ollama\", \"anthropic\"]\n";

Config config() { return toml_config("selection.toml", kToml, {"ANTHROPIC_API_KEY=a", "OPENAI_API_KEY=o"}); }

tollgate::policy::SelectionInput input_for(const Config& c, const std::string& agent,
                                           std::optional<std::string> model = std::nullopt) {
  tollgate::ProviderRuntime runtime(c, {}, kNow);
  auto in = tollgate::selection_input(c, tollgate::ledger::BudgetSnapshot{}, runtime, agent, 1000,
                                      std::nullopt, kNow);
  in.model = std::move(model);
  return in;
}

std::vector<std::string> chain_names(const tollgate::policy::SelectionInput& in) {
  std::vector<std::string> out;
  for (const auto& p : in.chain) out.push_back(p.name);
  return out;
}

}  // namespace

TEST_CASE("an agent with its own chain is planned over that chain in its order") {
  const auto c = config();
  CHECK(chain_names(input_for(c, "batch")) == std::vector<std::string>{"ollama", "anthropic"});
  CHECK(chain_names(input_for(c, "imperium")) == std::vector<std::string>{"anthropic", "openai", "ollama"});
  auto plan = tollgate::policy::select_providers(input_for(c, "batch"));
  REQUIRE(plan.steps.size() == 2);
  CHECK(plan.steps[0].provider == "ollama");
  CHECK(plan.steps[0].reason == Reason::kPrimary);
}

TEST_CASE("a keyless provider with a base URL is configured and one without names its base URL variable") {
  const auto c = config();
  auto in = input_for(c, "imperium");
  CHECK(in.chain[2].configured);
  const auto unset = toml_config("keyless.toml", "[providers.ollama]\napi = \"openai\"\nkeyless = true\nmodel = \"m\"\n");
  auto plan = tollgate::policy::select_providers(input_for(unset, "imperium"));
  REQUIRE(plan.steps.size() == 3);
  CHECK(plan.steps[2].reason == Reason::kFallbackNotConfigured);
  CHECK(plan.steps[2].detail == "OLLAMA_BASE_URL environment variable not set");
}

TEST_CASE("the agent's chain decides which of its providers has no fallback threshold") {
  const auto c = config();
  auto in = input_for(c, "batch");
  in.chain[1].agent.used = 139000;  // anthropic at 99 percent, last in batch's chain
  in.chain[1].agent.limit = 140000;
  in.reservation = 100;
  in.chain[0].configured = false;
  auto plan = tollgate::policy::select_providers(in);
  REQUIRE(plan.steps.size() == 2);
  CHECK_FALSE(plan.steps[1].skip);
  CHECK(c.last_in_chain("batch", "anthropic"));
  CHECK_FALSE(c.last_in_chain("imperium", "anthropic"));
}

TEST_CASE("a call naming a model skips the providers that do not accept it") {
  const auto c = config();
  auto plan = tollgate::policy::select_providers(input_for(c, "imperium", "qwen2.5:7b"));
  REQUIRE(plan.steps.size() == 3);
  CHECK(plan.steps[0].skip);
  CHECK(plan.steps[0].reason == Reason::kModelNotAccepted);
  CHECK(plan.steps[0].detail == "anthropic: does not accept model qwen2.5:7b (it accepts claude-sonnet-4-5)");
  CHECK_FALSE(plan.steps[1].skip);  // openai has no models list: any model
  CHECK(plan.steps[1].reason == Reason::kPrimary);
  CHECK_FALSE(plan.steps[2].skip);
}

TEST_CASE("a model no provider of the agent's chain accepts ends the call as a bad request naming it") {
  const auto c = config();
  auto plan = tollgate::policy::select_providers(input_for(c, "batch", "gpt-4.1"));
  REQUIRE(plan.steps.size() == 2);
  CHECK_FALSE(plan.has_candidate());
  std::vector<tollgate::policy::AttemptRecord> records;
  for (const auto& s : plan.steps) records.push_back(tollgate::policy::skip_record(s));
  const auto e = tollgate::policy::final_error("batch", records);
  CHECK(e.code == tollgate::protocol::ErrorCode::kBadRequest);
  CHECK(e.message.find("model: no provider in the chain of agent batch accepts it") == 0);
  CHECK(e.message.find("ollama: does not accept model gpt-4.1") != std::string::npos);
  CHECK(tollgate::policy::attempt_code(records[0]) == "model_not_accepted");
}

TEST_CASE("an attempt admitted but never sent gives back its rate slot and its count of the day") {
  Config c = config();
  for (auto& p : c.providers) {
    if (p.name == "anthropic") p.rpm = 1;
  }
  tollgate::ProviderRuntime runtime(c, {}, kNow);
  auto first = runtime.admit("anthropic", kNow);
  REQUIRE(first.allowed);
  CHECK_FALSE(runtime.admit("anthropic", kNow + 1).allowed);
  // Its reservation was refused (a budget, or another daemon took the
  // shared minute): nothing went out.
  runtime.unsent("anthropic", first.permit, kNow);
  CHECK(runtime.state("anthropic", kNow + 2).rate.day_used == 0);
  auto second = runtime.admit("anthropic", kNow + 2);
  CHECK(second.allowed);
  CHECK(runtime.state("anthropic", kNow + 3).rate.minute_used == 1);
}
