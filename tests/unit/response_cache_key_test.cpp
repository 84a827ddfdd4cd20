// The response cache's key (daemon/core/response_cache_key.h): equal for
// calls that would send the same request to the same models, different
// when the content, a parameter or the agent's model chain differs; and
// the per-agent `cache = true` TOML key and the cache settings.
#include <catch2/catch.hpp>

#include <string>

#include "daemon/core/response_cache_key.h"
#include "tests/unit/config_test_util.h"

using tollgate::Config;
using tollgate::response_cache_key;
using tollgate::protocol::CallRequest;
using namespace tollgate::config_testing;

namespace {

CallRequest base_request(const std::string& agent = "imperium") {
  CallRequest r;
  r.ai_name = agent;
  r.prompt = "summarise the log";
  r.system = "be brief";
  r.max_tokens = 300;
  r.cache = true;
  return r;
}

constexpr const char* kAgentsToml = R"(
[agents.imperium]
[agents.guardian]
cache = true
[agents.batch]
chain = ["openai"]
[agents.writer]
models = { anthropic = "claude-haiku-4-5" }
)";

}  // namespace

TEST_CASE("what does not reach a provider leaves the cache key unchanged") {
  const Config c = load_env({});
  const auto key = response_cache_key(base_request(), c);
  CHECK(key.size() == tollgate::kResponseCacheKeyBytes);
  CallRequest other = base_request();
  other.idempotency_key = "k-1";
  other.timeout_ms = 5000;
  other.stream = true;
  other.cache = false;
  CHECK(response_cache_key(other, c) == key);
  // The configured defaults written out are what the provider gets anyway.
  CallRequest defaults = base_request();
  defaults.max_tokens.reset();
  CallRequest explicit_defaults = base_request();
  explicit_defaults.max_tokens = c.default_max_tokens;
  explicit_defaults.temperature = c.default_temperature;
  CHECK(response_cache_key(defaults, c) == response_cache_key(explicit_defaults, c));
}

TEST_CASE("content and parameters each change the cache key") {
  const Config c = load_env({});
  const auto key = response_cache_key(base_request(), c);
  auto changed = [&](auto edit) {
    CallRequest r = base_request();
    edit(r);
    return response_cache_key(r, c) != key;
  };
  CHECK(changed([](CallRequest& r) { r.prompt = "summarise the logs"; }));
  CHECK(changed([](CallRequest& r) { r.system.reset(); }));
  CHECK(changed([](CallRequest& r) { r.max_tokens = 301; }));
  CHECK(changed([](CallRequest& r) { r.temperature = 0.2; }));
  CHECK(changed([](CallRequest& r) { r.top_p = 0.5; }));
  CHECK(changed([](CallRequest& r) { r.stop_sequences = {"END"}; }));
  CHECK(changed([](CallRequest& r) { r.model = "claude-haiku-4-5"; }));
  CHECK(changed([](CallRequest& r) { r.preferred_provider = "openai"; }));
}

TEST_CASE("agents share cache keys only when their model chains match") {
  const Config c = toml_config("cache-agents.toml", kAgentsToml);
  const auto imperium = response_cache_key(base_request("imperium"), c);
  CHECK(response_cache_key(base_request("guardian"), c) == imperium);
  CHECK(response_cache_key(base_request("batch"), c) != imperium);
  CHECK(response_cache_key(base_request("writer"), c) != imperium);
  // A provider's model changed by configuration misses too.
  const Config other_model =
      toml_config("cache-model.toml", kAgentsToml, {"ANTHROPIC_MODEL=claude-opus-4-1"});
  CHECK(response_cache_key(base_request("imperium"), other_model) != imperium);
}

TEST_CASE("with TOLLGATE_CACHE_PER_AGENT each agent has its own cache keys") {
  const Config c =
      toml_config("cache-per-agent.toml", kAgentsToml, {"TOLLGATE_CACHE_PER_AGENT=true"});
  CHECK(response_cache_key(base_request("imperium"), c) !=
        response_cache_key(base_request("guardian"), c));
}

TEST_CASE("an agent with cache true in TOML uses the cache unless the TTL is 0") {
  const Config c = toml_config("cache-on.toml", kAgentsToml);
  CHECK(c.cache_ttl_seconds == 3600);
  CHECK(c.cache_max_mb == 256);
  CHECK(c.uses_cache("guardian", false));
  CHECK_FALSE(c.uses_cache("imperium", false));
  CHECK(c.uses_cache("imperium", true));
  CHECK(c.uses_cache("someone-else", true));
  const Config off = toml_config("cache-off.toml", kAgentsToml, {"TOLLGATE_CACHE_TTL_SECONDS=0"});
  CHECK_FALSE(off.uses_cache("guardian", false));
  CHECK_FALSE(off.uses_cache("imperium", true));
}

TEST_CASE("an agent's cache key must be a boolean") {
  const auto message = toml_error_at("cache-bad.toml", "[agents.imperium]\ncache = \"yes\"\n", 2);
  CHECK(message.find("agents.imperium.cache: must be a boolean") != std::string::npos);
}
