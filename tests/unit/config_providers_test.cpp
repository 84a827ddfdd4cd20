// Providers as a list (docs/configuration.md, "The TOML file"): keyless
// providers, the models a provider accepts, image_urls, the <NAME>_*
// variables of TOML providers, per-agent chains and default models, and the
// prompt-cache prices; each key read, each bad value an error naming where.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/config_test_util.h"

using tollgate::Config;
using tollgate::protocol::Result;
using namespace tollgate::config_testing;

namespace {

const std::string kOllama =
    "[providers.ollama]\napi = \"openai\"\nkeyless = true\nmodel = \"llama3.1:8b\"\n"
    "monthly_limit = 1000\n";

Result<Config> load_toml(const std::string& text, std::vector<std::string> env = {},
                         const std::string& env_file = "") {
  return load_toml_text("providers.toml", text, std::move(env), env_file);
}

Config loaded(const std::string& text, std::vector<std::string> env = {}) {
  return toml_config("providers.toml", text, std::move(env));
}

std::string error_at(const std::string& text, int line, std::vector<std::string> env = {}) {
  return toml_error_at("providers.toml", text, line, std::move(env));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a keyless provider with a base URL is configured and has no key") {
  auto c = loaded(kOllama + "base_url = \"http://127.0.0.1:11434/v1\"\n");
  const auto* p = c.provider("ollama");
  REQUIRE(p != nullptr);
  CHECK(p->keyless);
  CHECK(p->configured());
  CHECK(p->api_key.empty());
  CHECK(p->api_key_env.empty());
  CHECK(p->base_url == "http://127.0.0.1:11434/v1");
  CHECK_FALSE(c.provider("anthropic")->keyless);
  CHECK_FALSE(c.provider("anthropic")->configured());
}

TEST_CASE("a keyless provider without a base URL is configured once its base URL variable is set") {
  auto unset = loaded(kOllama);
  REQUIRE(unset.provider("ollama") != nullptr);
  CHECK_FALSE(unset.provider("ollama")->configured());
  CHECK(unset.provider("ollama")->missing_variable() == "OLLAMA_BASE_URL");
  auto set = loaded(kOllama, {"OLLAMA_BASE_URL=http://127.0.0.1:11434/v1"});
  CHECK(set.provider("ollama")->configured());
  CHECK(set.provider("ollama")->base_url == "http://127.0.0.1:11434/v1");
  CHECK(set.warnings.empty());
}

TEST_CASE("a keyless provider with a key in its table is an error naming the line and the key") {
  auto msg = error_at(kOllama + "api_key = \"sk-x\"\n", 6);
  CHECK(contains(msg, "providers.ollama.api_key: a keyless provider sends no key"));
  msg = error_at(kOllama + "api_key_env = \"OLLAMA_KEY\"\n", 6);
  CHECK(contains(msg, "providers.ollama.api_key_env: a keyless provider sends no key"));
}

TEST_CASE("a keyless built-in provider ignores its key variable with a warning") {
  auto c = loaded("[providers.openai]\nkeyless = true\nbase_url = \"http://127.0.0.1:8000/v1\"\n",
                  {"OPENAI_API_KEY=sk-zzSECRETzz"});
  const auto* p = c.provider("openai");
  CHECK(p->keyless);
  CHECK(p->configured());
  CHECK(p->api_key.empty());
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0] == "providers.openai is keyless: OPENAI_API_KEY is set and never sent");
}

TEST_CASE("a provider with a key still needs a base URL from its table or its variable") {
  const std::string mistral = "[providers.mistral]\napi = \"openai\"\nmodel = \"m\"\n";
  auto c = load_toml(mistral);
  REQUIRE_FALSE(c.ok());
  CHECK(contains(c.error().message, "providers.mistral.base_url: required (in the table, or MISTRAL_BASE_URL)"));
  auto from_env = loaded(mistral, {"MISTRAL_BASE_URL=https://api.mistral.ai/v1", "MISTRAL_API_KEY=k"});
  CHECK(from_env.provider("mistral")->base_url == "https://api.mistral.ai/v1");
  CHECK(from_env.provider("mistral")->configured());
}

TEST_CASE("a new provider needs a model from its table or its variable") {
  const std::string table = "[providers.vllm]\napi = \"openai\"\nkeyless = true\n";
  auto c = load_toml(table);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message == "providers.vllm.model: required (in the table, or VLLM_MODEL)");
  CHECK(loaded(table, {"VLLM_MODEL=qwen"}).provider("vllm")->model == "qwen");
}

TEST_CASE("the variables of a TOML provider override its table") {
  auto c = loaded(kOllama + "base_url = \"http://127.0.0.1:11434/v1\"\nrpm = 5\n",
                  {"OLLAMA_MODEL=qwen2.5:7b", "OLLAMA_RPM=7", "OLLAMA_MONTHLY_LIMIT=99",
                   "OLLAMA_BASE_URL=http://10.0.0.2:11434/v1", "OLLAMA_GATEWAY_5XX_SERVED=false"});
  const auto* p = c.provider("ollama");
  CHECK(p->model == "qwen2.5:7b");
  CHECK(p->rpm == 7);
  CHECK(p->monthly_limit == 99);
  CHECK(p->base_url == "http://10.0.0.2:11434/v1");
  CHECK(p->gateway_5xx_served == false);
  CHECK(c.warnings.empty());
}

TEST_CASE("a bad value in a TOML provider's variable names the variable and the rule") {
  auto c = load_toml(kOllama, {"OLLAMA_RPM=ten"});
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message == "OLLAMA_RPM=ten: must be a whole number of requests (0 = unlimited)");
  auto url = load_toml(kOllama, {"OLLAMA_BASE_URL=localhost:11434"});
  REQUIRE_FALSE(url.ok());
  CHECK(contains(url.error().message, "OLLAMA_BASE_URL=localhost:11434: "));
}

TEST_CASE("a TOML provider's variables in the env file are known names with no warning") {
  const auto env = write_temp("providers.env", "OLLAMA_BASE_URL=http://127.0.0.1:11434/v1\nOLLAMA_RPD=10\nOLLAMA_BASEURL=x\n");
  auto c = load_toml(kOllama, {}, env);
  std::remove(env.c_str());
  REQUIRE(c.ok());
  CHECK(c->provider("ollama")->rpd == 10);
  REQUIRE(c->warnings.size() == 1);
  CHECK(contains(c->warnings[0], "OLLAMA_BASEURL is not a tollgated variable"));
  CHECK(contains(c->warnings[0], "the closest known one is OLLAMA_BASE_URL"));
}

TEST_CASE("a provider name with other characters than letters and digits gets underscores in its variables") {
  auto c = loaded("[providers.my-vllm]\napi = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1\"\nmodel = \"m\"\n",
                  {"MY_VLLM_API_KEY=k"});
  CHECK(c.provider("my-vllm")->api_key_env == "MY_VLLM_API_KEY");
  CHECK(c.provider("my-vllm")->api_key == "k");
}

TEST_CASE("a provider's models list is read and accepts only those models") {
  auto c = loaded(kOllama + "models = [\"llama3.1:8b\", \"qwen2.5:7b\"]\n");
  const auto* p = c.provider("ollama");
  CHECK(p->models == std::vector<std::string>{"llama3.1:8b", "qwen2.5:7b"});
  CHECK(p->accepts("qwen2.5:7b"));
  CHECK_FALSE(p->accepts("gpt-4.1"));
  CHECK(c.provider("openai")->models.empty());
  CHECK(c.provider("openai")->accepts("anything"));
}

TEST_CASE("a models list must include the provider's own model") {
  auto msg = error_at(kOllama + "models = [\"qwen2.5:7b\"]\n", 6);
  CHECK(contains(msg, "providers.ollama.models: must include the provider's model llama3.1:8b"));
  auto builtin = error_at("[providers.anthropic]\nmodels = [\"claude-haiku-4-5\"]\n", 2);
  CHECK(contains(builtin, "providers.anthropic.models: must include the provider's model claude-sonnet-4-5"));
}

TEST_CASE("a models list that is empty or not strings is an error naming the line") {
  CHECK(contains(error_at(kOllama + "models = []\n", 6),
                 "providers.ollama.models: must name at least one model (leave it out to accept any)"));
  CHECK(contains(error_at(kOllama + "models = \"llama3.1:8b\"\n", 6),
                 "providers.ollama.models: must be an array of models, not a string"));
  CHECK(contains(error_at(kOllama + "models = [\"llama3.1:8b\", 3]\n", 6),
                 "providers.ollama.models: must be an array of models, not an integer"));
  CHECK(contains(error_at(kOllama + "models = [\"llama3.1:8b\", \"\"]\n", 6),
                 "providers.ollama.models: an empty name"));
}

TEST_CASE("image_urls defaults to true and may be turned off per provider") {
  auto c = loaded(kOllama + "image_urls = false\n");
  CHECK_FALSE(c.provider("ollama")->image_urls);
  CHECK(c.provider("anthropic")->image_urls);
  auto msg = error_at(kOllama + "image_urls = \"sometimes\"\n", 6);
  CHECK(contains(msg, "providers.ollama.image_urls=sometimes: must be true or false"));
  CHECK(contains(error_at("[providers.vllm]\napi = \"openai\"\nmodel = \"m\"\nkeyless = \"perhaps\"\n", 4),
                 "providers.vllm.keyless=perhaps: must be true or false"));
}
