// Providers are a list (docs/configuration.md, "A third provider"): a
// TOML-defined third provider in the chain, an agent's own chain and
// default model, and a call's model skipping the providers that do not
// accept it, through the real daemon and fake-provider.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/integration/call_harness.h"

using namespace tollgate::testing;
using nlohmann::json;

namespace {

// anthropic and openai take only their own model; "local" speaks the
// OpenAI API on the same fake with its own key variable and two models;
// the batch agent walks local, then anthropic, and sends local-b to local.
std::string toml_text(const FakeProviderProcess& fake) {
  return "[providers.anthropic]\nmodels = [\"claude-sonnet-4-5\"]\n"
         "[providers.openai]\nmodels = [\"gpt-4.1\"]\n"
         "[providers.local]\napi = \"openai\"\nbase_url = \"" + fake.base_url() + "/v1\"\n"
         "model = \"local-a\"\nmodels = [\"local-a\", \"local-b\"]\nmonthly_limit = 100000\n"
         "[agents.batch]\nchain = [\"local\", \"anthropic\"]\nmodels = { local = \"local-b\" }\n";
}

struct Daemon {
  TempDir dir;
  FakeProviderProcess fake;
  std::unique_ptr<TollgatedProcess> d;
  zmq::context_t ctx;
  std::unique_ptr<TestClient> client;

  explicit Daemon(const Env& extra = {}) {
    const std::string toml = dir.path() + "/tollgate.toml";
    std::ofstream(toml) << toml_text(fake);
    d = std::make_unique<TollgatedProcess>(merge(merge(fake.provider_env(), {{"LOCAL_API_KEY", "local-key"}}), extra),
                                           std::vector<std::string>{"--config", toml});
    client = std::make_unique<TestClient>(ctx, d->requests());
  }
};

json call_with_model(const std::string& agent, const std::string& model) {
  json body = call_body(agent, "hello", 20);
  body["model"] = model;
  return body;
}

}  // namespace

TEST_CASE("a third provider in the chain answers when the first two have no budget") {
  Daemon t({{"ANTHROPIC_MONTHLY_LIMIT", "0"}, {"OPENAI_MONTHLY_LIMIT", "0"}});
  auto reply = t.client->request(call_body("imperium", "hello", 20));
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "local");
  CHECK(reply["model"] == "local-a");
  CHECK(reply["reason"] == "fallback_threshold");
  CHECK(attempt_codes(reply) ==
        "anthropic:skipped:fallback_threshold openai:skipped:fallback_threshold local:ok ");
}

TEST_CASE("an agent's chain and default model choose the provider and the model sent") {
  Daemon t;
  auto reply = t.client->request(call_body("batch", "hello", 20));
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "local");
  CHECK(reply["model"] == "local-b");
  CHECK(reply["reason"] == "primary");
  auto other = t.client->request(call_body("imperium", "hello", 20));
  REQUIRE(other["ok"] == true);
  CHECK(other["provider"] == "anthropic");
  auto status = t.client->request({{"op", "provider_status"}, {"ai_name", "batch"}});
  REQUIRE(status["agents"].size() == 1);
  CHECK(status["agents"][0]["recommended"] == "local");
  CHECK(status["agents"][0]["providers"].size() == 2);
  CHECK_FALSE(status["agents"][0]["providers"].contains("openai"));
}

TEST_CASE("a call naming a model only the third provider accepts skips the others") {
  Daemon t;
  auto reply = t.client->request(call_with_model("imperium", "local-b"));
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "local");
  CHECK(reply["model"] == "local-b");
  CHECK(reply["reason"] == "primary");
  CHECK(attempt_codes(reply) ==
        "anthropic:skipped:model_not_accepted openai:skipped:model_not_accepted local:ok ");
}

TEST_CASE("a call naming a model no provider accepts is a bad request naming the model") {
  Daemon t;
  auto reply = t.client->request(call_with_model("batch", "gpt-5"));
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "bad_request");
  const std::string message = reply["error"]["message"];
  CHECK(message.find("model: no provider in the chain of agent batch accepts it") == 0);
  CHECK(message.find("local: does not accept model gpt-5 (it accepts local-a, local-b)") != std::string::npos);
  CHECK(message.find("anthropic: does not accept model gpt-5") != std::string::npos);
}
