// Per-agent chains and default models ([agents.NAME] chain, models), the
// prompt-cache prices ([prices."MODEL"] cache_write, cache_read), what
// --check-config shows of them, and the third-provider example of
// docs/configuration.md, which must load as written.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/config_test_util.h"

using tollgate::Config;
using namespace tollgate::config_testing;

namespace {

const std::string kThree =
    "[providers.ollama]\napi = \"openai\"\nkeyless = true\nbase_url = \"http://127.0.0.1:11434/v1\"\n"
    "model = \"llama3.1:8b\"\nmodels = [\"llama3.1:8b\", \"qwen2.5:7b\"]\nmonthly_limit = 1000\n";

Config loaded(const std::string& text, std::vector<std::string> env = {}) {
  return toml_config("agents.toml", text, std::move(env));
}

std::string error_at(const std::string& text, int line, std::vector<std::string> env = {}) {
  return toml_error_at("agents.toml", text, line, std::move(env));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> names(const std::vector<const tollgate::ProviderConfig*>& chain) {
  std::vector<std::string> out;
  for (const auto* p : chain) out.push_back(p->name);
  return out;
}

}  // namespace

TEST_CASE("an agent's chain orders its calls and others keep the configured chain") {
  auto c = loaded(kThree + "[agents.batch]\nchain = [\"ollama\", \"anthropic\"]\nanthropic = 500\n");
  CHECK(names(c.chain_for("batch")) == std::vector<std::string>{"ollama", "anthropic"});
  CHECK(names(c.chain_for("imperium")) == std::vector<std::string>{"anthropic", "openai", "ollama"});
  CHECK(c.last_in_chain("batch", "anthropic"));
  CHECK_FALSE(c.last_in_chain("batch", "ollama"));
  CHECK(c.last_in_chain("imperium", "ollama"));
  CHECK(c.agent_limit("batch", "anthropic") == 500);
  CHECK(c.agent_limit("batch", "openai") == 9000);
}

TEST_CASE("an agent's chain with an unknown or repeated provider is an error naming the line") {
  CHECK(contains(error_at(kThree + "[agents.batch]\nchain = [\"olama\"]\n", 9),
                 "agents.batch.chain: unknown provider olama (the closest is ollama)"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nchain = [\"ollama\", \"ollama\"]\n", 9),
                 "agents.batch.chain: provider ollama listed twice"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nchain = []\n", 9),
                 "agents.batch.chain: must name at least one provider (leave it out for the configured chain)"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nchain = \"ollama\"\n", 9),
                 "agents.batch.chain: must be an array of provider names, not a string"));
}

TEST_CASE("an agent's chain may name only providers of the configured chain") {
  auto msg = error_at("chain = [\"anthropic\"]\n" + kThree + "[agents.batch]\nchain = [\"ollama\"]\n", 10);
  CHECK(contains(msg, "agents.batch.chain: provider ollama is not in the configured chain"));
}

TEST_CASE("disabling the OpenAI fallback drops openai from an agent's chain too") {
  auto c = loaded(kThree + "[agents.batch]\nchain = [\"openai\", \"ollama\"]\n", {"ENABLE_OPENAI_FALLBACK=false"});
  CHECK(names(c.chain_for("batch")) == std::vector<std::string>{"ollama"});
  auto msg = error_at("[agents.batch]\nchain = [\"openai\"]\n", 2, {"ENABLE_OPENAI_FALLBACK=false"});
  CHECK(contains(msg, "agents.batch.chain: no provider left to call"));
}

TEST_CASE("an agent's default models choose the model its calls send to each provider") {
  auto c = loaded(kThree + "[agents.batch]\nmodels = { ollama = \"qwen2.5:7b\", openai = \"gpt-4.1-mini\" }\n");
  CHECK(c.model_for("batch", "ollama") == "qwen2.5:7b");
  CHECK(c.model_for("batch", "openai") == "gpt-4.1-mini");
  CHECK(c.model_for("batch", "anthropic") == "claude-sonnet-4-5");
  CHECK(c.model_for("imperium", "ollama") == "llama3.1:8b");
  CHECK(c.model_for("batch", "nowhere").empty());
}

TEST_CASE("an agent's default model must be one its provider accepts") {
  auto msg = error_at(kThree + "[agents.batch]\nmodels = { ollama = \"gpt-4.1\" }\n", 9);
  CHECK(contains(msg, "agents.batch.models.ollama=gpt-4.1: ollama does not accept it"));
  CHECK(contains(msg, "llama3.1:8b or qwen2.5:7b"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nmodels = { olama = \"x\" }\n", 9),
                 "agents.batch.models.olama: olama is not a configured provider (the closest is ollama)"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nmodels = { ollama = \"\" }\n", 9),
                 "agents.batch.models.ollama: must name a model"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nmodels = { ollama = 3 }\n", 9),
                 "agents.batch.models.ollama: must be a model name, not an integer"));
  CHECK(contains(error_at(kThree + "[agents.batch]\nmodels = [\"x\"]\n", 9),
                 "agents.batch.models: must be a table of PROVIDER = \"model\", not an array"));
}

TEST_CASE("cache prices are read per model and default to the input price") {
  auto c = loaded("[prices.\"claude-x\"]\ninput = 3\noutput = 15\ncache_write = 3.75\ncache_read = 0.3\n"
                  "[prices.\"plain\"]\ninput = 2\noutput = 8\n");
  const auto& x = c.prices.at("claude-x");
  CHECK(x.cache_write() == Approx(3.75));
  CHECK(x.cache_read() == Approx(0.3));
  const auto& plain = c.prices.at("plain");
  CHECK_FALSE(plain.cache_write_per_million.has_value());
  CHECK(plain.cache_write() == Approx(2.0));
  CHECK(plain.cache_read() == Approx(2.0));
}

TEST_CASE("the built-in prices have the vendors' cache rates") {
  auto c = loaded("");
  CHECK(c.prices.at("claude-sonnet-4-5").cache_write() == Approx(3.75));
  CHECK(c.prices.at("claude-sonnet-4-5").cache_read() == Approx(0.30));
  CHECK(c.prices.at("gpt-4.1").cache_read() == Approx(0.50));
  CHECK(c.prices.at("gpt-4.1").cache_write() == Approx(2.0));
}

TEST_CASE("a bad cache price is an error naming the line the key and the rule") {
  CHECK(contains(error_at("[prices.\"m\"]\ninput = 1\noutput = 2\ncache_read = -1\n", 4),
                 "prices.m.cache_read=-1: must be a number of dollars per million tokens (0 or more)"));
  CHECK(contains(error_at("[prices.\"m\"]\ninput = 1\noutput = 2\ncache_write = \"x\"\n", 4),
                 "prices.m.cache_write: must be a number of dollars per million tokens, not a string"));
  CHECK(contains(error_at("[prices.\"m\"]\ninput = 1\noutput = 2\ncache_reads = 1\n", 4),
                 "prices.m.cache_reads: unknown key (the closest known one is cache_read)"));
  CHECK(contains(error_at("[prices.\"m\"]\ninput = -1\noutput = 2\n", 2),
                 "prices.m.input=-1: must be a number of dollars per million tokens (0 or more)"));
}

TEST_CASE("a top-level chain error names the file and line") {
  CHECK(contains(error_at("chain = [\"anthropic\", \"opnai\"]\n", 1),
                 "chain: unknown provider opnai (the closest is openai)"));
  CHECK(contains(error_at("chain = [\"anthropic\", \"anthropic\"]\n", 1), "chain: provider anthropic listed twice"));
}

TEST_CASE("check config shows keyless providers models image urls agent chains and cache prices") {
  auto c = loaded(kThree + "image_urls = false\n[agents.batch]\nchain = [\"ollama\", \"anthropic\"]\n"
                  "models = { ollama = \"qwen2.5:7b\" }\n[prices.\"m\"]\ninput = 1\noutput = 2\n");
  const auto text = tollgate::describe_config(c);
  INFO(text);
  CHECK(contains(text, "provider.ollama.keyless=true (sends no key; configured)\n"));
  CHECK(contains(text, "provider.ollama.models=llama3.1:8b,qwen2.5:7b\n"));
  CHECK(contains(text, "provider.ollama.image_urls=false\n"));
  CHECK(contains(text, "provider.anthropic.models=(any)\n"));
  CHECK(contains(text, "provider.anthropic.image_urls=true\n"));
  CHECK(contains(text, "provider.anthropic.ANTHROPIC_API_KEY=(not set)\n"));
  CHECK(contains(text, "agent.batch.chain=ollama,anthropic\n"));
  CHECK(contains(text, "agent.batch.model.ollama=qwen2.5:7b\n"));
  CHECK(contains(text, "price.claude-sonnet-4-5=3/15 USD per Mtok (cache write 3.75, cache read 0.3)\n"));
  CHECK(contains(text, "price.m=1/2 USD per Mtok (cache write 1 = input, cache read 1 = input)\n"));
  auto unset = loaded("[providers.ollama]\napi = \"openai\"\nkeyless = true\nmodel = \"m\"\n");
  CHECK(contains(tollgate::describe_config(unset),
                 "provider.ollama.keyless=true (sends no key; not configured: OLLAMA_BASE_URL not set)\n"));
}

namespace {

// The first ```toml block after `heading` in docs/configuration.md.
std::string doc_toml_after(const std::string& heading) {
  std::ifstream in(std::string(TOLLGATE_DOCS_DIR) + "/configuration.md");
  REQUIRE(in);
  std::ostringstream o;
  o << in.rdbuf();
  const std::string doc = o.str();
  const auto at = doc.find(heading);
  REQUIRE(at != std::string::npos);
  const auto open = doc.find("```toml\n", at);
  REQUIRE(open != std::string::npos);
  const auto close = doc.find("```", open + 8);
  return doc.substr(open + 8, close - open - 8);
}

}  // namespace

TEST_CASE("the third provider example of the configuration docs loads as documented") {
  auto c = loaded(doc_toml_after("### A third provider"));
  REQUIRE(c.providers.size() == 3);
  CHECK(c.providers[2].name == "ollama");
  CHECK(c.providers[2].keyless);
  CHECK(c.providers[2].configured());
  CHECK_FALSE(c.providers[2].image_urls);
  CHECK(names(c.chain_for("batch")) == std::vector<std::string>{"ollama", "anthropic"});
  CHECK(names(c.chain_for("imperium")) == std::vector<std::string>{"anthropic", "openai", "ollama"});
  CHECK(c.model_for("batch", "ollama") == "qwen2.5:7b");
  CHECK_FALSE(c.provider("anthropic")->accepts("qwen2.5:7b"));
  const auto text = tollgate::describe_config(c);
  for (const char* line : {"provider.ollama.keyless=true (sends no key; configured)",
                           "provider.ollama.models=llama3.1:8b,qwen2.5:7b", "agent.batch.chain=ollama,anthropic",
                           "agent.batch.model.ollama=qwen2.5:7b", "agent.batch.anthropic=20000"}) {
    CHECK(contains(text, std::string(line) + "\n"));
  }
}
