#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/core/config.h"
#include "daemon/core/endpoint.h"
#include "daemon/core/nearest_name.h"
#include "tests/unit/config_test_util.h"

using tollgate::Config;
using tollgate::ConfigSources;
using tollgate::known_variables;
using tollgate::load_config;

using namespace tollgate::config_testing;

TEST_CASE("defaults match the protocol configuration table") {
  auto c = load_env({});
  REQUIRE(c.providers.size() == 2);
  CHECK(c.providers[0].name == "anthropic");
  CHECK(c.providers[0].monthly_limit == 140000);
  CHECK(c.providers[0].base_url == "https://api.anthropic.com");
  CHECK(c.providers[1].name == "openai");
  CHECK(c.providers[1].monthly_limit == 9000);
  CHECK(c.providers[1].model == "gpt-4.1");
  CHECK(c.providers[1].base_url == "https://api.openai.com/v1");
  CHECK_FALSE(c.providers[0].global_monthly_limit.has_value());
  CHECK(c.providers[0].rpm == 42);
  CHECK(c.providers[1].rpd == 3400);
  CHECK(c.default_max_tokens == 1024);
  CHECK(c.default_temperature == Approx(0.7));
  CHECK(c.fallback_threshold == Approx(0.95));
  CHECK(c.warning_threshold == Approx(0.80));
  CHECK(c.emergency_threshold == Approx(0.98));
  CHECK(c.max_tokens_per_request == 17000);
  CHECK(c.listen == "tcp://127.0.0.1:5555");
  CHECK(c.events == "tcp://127.0.0.1:5556");
  CHECK(c.data_dir == "./var");
  CHECK(c.max_attempts == 3);
  CHECK(c.circuit_failures == 5);
  CHECK(c.circuit_open_seconds == 30);
  CHECK(c.http == "127.0.0.1:4000");
  CHECK(c.max_request_bytes == 1048576);
}

TEST_CASE("environment variables override the defaults") {
  auto c = load_env({"ANTHROPIC_API_KEY=sk-ant-1", "OPENAI_MONTHLY_LIMIT=500",
                     "ANTHROPIC_GLOBAL_MONTHLY_LIMIT=1000000", "OPENAI_FALLBACK_THRESHOLD=0.9",
                     "SHUTDOWN_ON_EMERGENCY=true", "TOLLGATE_LISTEN=ipc:///tmp/tg.sock"});
  CHECK(c.providers[0].api_key == "sk-ant-1");
  CHECK(c.providers[1].monthly_limit == 500);
  CHECK(c.providers[0].global_monthly_limit == 1000000u);
  CHECK(c.fallback_threshold == Approx(0.9));
  CHECK(c.shutdown_on_emergency);
  CHECK(c.listen == "ipc:///tmp/tg.sock");
}

TEST_CASE("a threshold over 1 is refused naming the variable") {
  auto msg = load_error({"OPENAI_FALLBACK_THRESHOLD=1.7"});
  CHECK(msg.find("OPENAI_FALLBACK_THRESHOLD=1.7") != std::string::npos);
  CHECK(msg.find("from 0 to 1") != std::string::npos);
}

TEST_CASE("alert thresholds out of order are refused naming each variable and value") {
  auto msg = load_error({"ALERT_WARNING_THRESHOLD=0.99", "ALERT_EMERGENCY_THRESHOLD=0.5"});
  CHECK(msg.find("ALERT_WARNING_THRESHOLD=0.99") != std::string::npos);
  CHECK(msg.find("OPENAI_FALLBACK_THRESHOLD=0.95 (default)") != std::string::npos);
  CHECK(msg.find("ALERT_EMERGENCY_THRESHOLD=0.5") != std::string::npos);
  CHECK(msg.find("must rise") != std::string::npos);
  CHECK(load_error({"OPENAI_FALLBACK_THRESHOLD=0.7"}).find("OPENAI_FALLBACK_THRESHOLD=0.7") != std::string::npos);
  CHECK(load_error({"OPENAI_FALLBACK_THRESHOLD=0.98"}).find("must rise") != std::string::npos);
  CHECK(load_error({"ALERT_EMERGENCY_THRESHOLD=1"}).find("ALERT_EMERGENCY_THRESHOLD=1") != std::string::npos);
  auto c = load_env({"ALERT_WARNING_THRESHOLD=0.5", "OPENAI_FALLBACK_THRESHOLD=0.6",
                     "ALERT_EMERGENCY_THRESHOLD=0.7", "TOLLGATE_EXHAUSTED_FRACTION=0.29"});
  CHECK(c.emergency_threshold == Approx(0.7));
}

TEST_CASE("an exhausted fraction that reaches into the emergency level is refused") {
  auto msg = load_error({"TOLLGATE_EXHAUSTED_FRACTION=0.05"});
  CHECK(msg.find("TOLLGATE_EXHAUSTED_FRACTION=0.05") != std::string::npos);
  CHECK(msg.find("ALERT_EMERGENCY_THRESHOLD=0.98 (default)") != std::string::npos);
  CHECK(load_env({"TOLLGATE_EXHAUSTED_FRACTION=0.015"}).exhausted_fraction == Approx(0.015));
  CHECK(load_env({"TOLLGATE_EXHAUSTED_FRACTION=0.3", "ALERT_WARNING_THRESHOLD=0.4",
                  "OPENAI_FALLBACK_THRESHOLD=0.5", "ALERT_EMERGENCY_THRESHOLD=0.6"})
            .exhausted_fraction == Approx(0.3));
}

TEST_CASE("a default max_tokens that leaves no room under the per-request cap is refused naming both") {
  auto over = load_error({"OPENAI_MAX_TOKENS=20000"});
  CHECK(over.find("OPENAI_MAX_TOKENS=20000") != std::string::npos);
  CHECK(over.find("MAX_TOKENS_PER_REQUEST=17000 (default)") != std::string::npos);
  CHECK(over.find("too_large") != std::string::npos);
  auto cap = load_error({"MAX_TOKENS_PER_REQUEST=1000"});
  CHECK(cap.find("OPENAI_MAX_TOKENS=1024 (default)") != std::string::npos);
  CHECK(cap.find("MAX_TOKENS_PER_REQUEST=1000") != std::string::npos);
  CHECK(cap.find("at most 936") != std::string::npos);
  CHECK_FALSE(load_config(ConfigSources{"", "", {"OPENAI_MAX_TOKENS=17000"}, kApis}).ok());
  CHECK(load_env({"OPENAI_MAX_TOKENS=16936"}).default_max_tokens == 16936);
  CHECK(load_env({"OPENAI_MAX_TOKENS=100", "MAX_TOKENS_PER_REQUEST=164"}).max_tokens_per_request == 164);
}

TEST_CASE("a limit that is not a number is refused naming the variable") {
  auto msg = load_error({"ANTHROPIC_MONTHLY_LIMIT=lots"});
  CHECK(msg.find("ANTHROPIC_MONTHLY_LIMIT=lots") != std::string::npos);
  CHECK(load_error({"OPENAI_RPM=-1"}).find("OPENAI_RPM") != std::string::npos);
  CHECK(load_error({"ENABLE_OPENAI_FALLBACK=maybe"}).find("ENABLE_OPENAI_FALLBACK") != std::string::npos);
  CHECK(load_error({"TOLLGATE_LOG_LEVEL=loud"}).find("TOLLGATE_LOG_LEVEL") != std::string::npos);
  CHECK(load_error({"TOLLGATE_LISTEN=127.0.0.1:5555"}).find("TOLLGATE_LISTEN") != std::string::npos);
}

TEST_CASE("disabling the OpenAI fallback leaves only Anthropic in the chain") {
  auto c = load_env({"ENABLE_OPENAI_FALLBACK=false"});
  REQUIRE(c.providers.size() == 1);
  CHECK(c.providers[0].name == "anthropic");
}

TEST_CASE("TOML agents override the default limits per provider") {
  auto toml = write_temp("agents.toml",
                         "restrict_agents = true\n[agents.imperium]\nanthropic = 500000\n"
                         "[agents.guardian]\n[prices.\"gpt-4.1\"]\ninput = 1.5\noutput = 6\n");
  ConfigSources s{toml, "", {}, kApis};
  auto c = load_config(s);
  REQUIRE(c.ok());
  CHECK(c->restrict_agents);
  CHECK(c->agent_limit("imperium", "anthropic") == 500000);
  CHECK(c->agent_limit("imperium", "openai") == 9000);
  CHECK(c->agent_limit("guardian", "anthropic") == 140000);
  CHECK(c->agents.count("guardian") == 1);
  CHECK(c->prices.at("gpt-4.1").input_per_million == Approx(1.5));
  std::remove(toml.c_str());
}

TEST_CASE("TOML can add a provider to the chain with its own key variable") {
  auto toml = write_temp("prov.toml",
                         "chain = [\"anthropic\", \"openai\", \"mistral\"]\n"
                         "[providers.mistral]\napi = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"
                         "model = \"mistral-large\"\nmonthly_limit = 5000\n");
  ConfigSources s{toml, "", {"MISTRAL_API_KEY=m-key"}, kApis};
  auto c = load_config(s);
  REQUIRE(c.ok());
  REQUIRE(c->providers.size() == 3);
  CHECK(c->providers[2].name == "mistral");
  CHECK(c->providers[2].api_key == "m-key");
  CHECK(c->providers[2].monthly_limit == 5000);
  std::remove(toml.c_str());
}

TEST_CASE("a TOML syntax error names the file and line") {
  auto toml = write_temp("bad.toml", "[settings]\nOPENAI_RPM = = 3\n");
  ConfigSources s{toml, "", {}, kApis};
  auto c = load_config(s);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find(toml + ":2") != std::string::npos);
  std::remove(toml.c_str());
}

TEST_CASE("describe_config never prints API keys") {
  auto c = load_env({"ANTHROPIC_API_KEY=sk-ant-zzKEY1zz", "OPENAI_API_KEY=sk-zzKEY2zz",
                     "TOLLGATE_HTTP_ADMIN_TOKEN=tok-zzKEY3zz"});
  auto text = tollgate::describe_config(c);
  CHECK(text.find("zzKEY") == std::string::npos);
  CHECK(text.find("ANTHROPIC_API_KEY=(set, redacted)") != std::string::npos);
  CHECK(text.find("OPENAI_FALLBACK_THRESHOLD=0.95") != std::string::npos);
}

TEST_CASE("only loopback and ipc endpoints bind without CurveZMQ") {
  using tollgate::check_bind_allowed;
  CHECK(check_bind_allowed("L", "tcp://127.0.0.1:5555", false, false).ok());
  CHECK(check_bind_allowed("L", "tcp://localhost:5555", false, false).ok());
  CHECK(check_bind_allowed("L", "tcp://[::1]:5555", false, false).ok());
  CHECK(check_bind_allowed("L", "ipc:///run/tollgate.sock", false, false).ok());
  auto refused = check_bind_allowed("TOLLGATE_LISTEN", "tcp://0.0.0.0:5555", false, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("TOLLGATE_LISTEN=tcp://0.0.0.0:5555") != std::string::npos);
  CHECK(check_bind_allowed("L", "tcp://*:5555", false, true).ok());
  CHECK(check_bind_allowed("L", "tcp://10.1.2.3:5555", true, false).ok());
}

TEST_CASE("port 0 becomes the ZeroMQ ephemeral port form") {
  CHECK(tollgate::zmq_bind_form("tcp://127.0.0.1:0") == "tcp://127.0.0.1:*");
  CHECK(tollgate::zmq_bind_form("tcp://127.0.0.1:5555") == "tcp://127.0.0.1:5555");
  CHECK(tollgate::zmq_bind_form("ipc:///tmp/x0") == "ipc:///tmp/x0");
}

TEST_CASE("TOLLGATE_HTTP takes HOST PORT or off and names itself when malformed") {
  using tollgate::parse_http_address;
  auto off = parse_http_address("off");
  REQUIRE(off.ok());
  CHECK_FALSE(off->has_value());
  auto v4 = parse_http_address("127.0.0.1:4000");
  REQUIRE(v4.ok());
  REQUIRE(v4->has_value());
  CHECK((*v4)->host == "127.0.0.1");
  CHECK((*v4)->port == 4000);
  auto v6 = parse_http_address("[::1]:0");
  REQUIRE(v6.ok());
  CHECK((*v6)->host == "::1");
  CHECK((*v6)->port == 0);
  for (const char* bad : {"4000", ":4000", "localhost:", "localhost:65536", "localhost:4x", "::1:4000",
                          "[::1:4000", "on"}) {
    INFO(bad);
    auto r = parse_http_address(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("TOLLGATE_HTTP=") == 0);
  }
}

TEST_CASE("the plain HTTP listener binds beyond loopback only with TOLLGATE_ALLOW_INSECURE_BIND") {
  CHECK(load_env({"TOLLGATE_HTTP=127.0.0.1:4000"}).http == "127.0.0.1:4000");
  CHECK(load_env({"TOLLGATE_HTTP=[::1]:4000"}).http == "[::1]:4000");
  const auto refused = load_error({"TOLLGATE_HTTP=0.0.0.0:4000"});
  CHECK(refused.find("TOLLGATE_HTTP=0.0.0.0:4000") != std::string::npos);
  CHECK(refused.find("TOLLGATE_ALLOW_INSECURE_BIND") != std::string::npos);
  CHECK(load_env({"TOLLGATE_HTTP=0.0.0.0:4000", "TOLLGATE_ALLOW_INSECURE_BIND=1"}).http == "0.0.0.0:4000");
  CHECK(load_error({"TOLLGATE_HTTP=nonsense"}).find("TOLLGATE_HTTP=nonsense") != std::string::npos);
}

TEST_CASE("a 502 or 504 is charged in full unless the base URL is the vendor's own API host") {
  using tollgate::vendor_api_host;
  CHECK(vendor_api_host("anthropic", "https://api.anthropic.com"));
  CHECK(vendor_api_host("anthropic", "https://API.Anthropic.com.:443/"));
  CHECK(vendor_api_host("openai", "https://api.openai.com/v1"));
  CHECK(vendor_api_host("openai", "https://user@api.openai.com/v1?x=1"));
  CHECK_FALSE(vendor_api_host("openai", "https://api.anthropic.com"));
  CHECK_FALSE(vendor_api_host("anthropic", "http://127.0.0.1:8080"));
  CHECK_FALSE(vendor_api_host("anthropic", "https://api.anthropic.com.proxy.example/v1"));
  CHECK_FALSE(vendor_api_host("openai", "https://gateway.example/api.openai.com/v1"));
  CHECK_FALSE(vendor_api_host("openai", "http://[::1]:8080/v1"));

  auto defaults = load_env({});
  CHECK_FALSE(defaults.providers[0].gateway_5xx_served.has_value());
  CHECK_FALSE(defaults.providers[0].gateway_5xx_charged());
  CHECK_FALSE(defaults.providers[1].gateway_5xx_charged());
  auto proxied = load_env({"ANTHROPIC_BASE_URL=http://127.0.0.1:8080",
                           "OPENAI_BASE_URL=https://llm-gateway.internal/openai/v1"});
  CHECK(proxied.providers[0].gateway_5xx_charged());
  CHECK(proxied.providers[1].gateway_5xx_charged());
  auto text = tollgate::describe_config(proxied);
  CHECK(text.find("provider.anthropic.gateway_5xx_served=true (auto: not the vendor's own API host)") !=
        std::string::npos);
  CHECK(tollgate::describe_config(defaults).find(
            "provider.openai.gateway_5xx_served=false (auto: the vendor's own API host)") !=
        std::string::npos);

  // The per-provider setting wins either way; auto goes back to the host.
  auto set = load_env({"ANTHROPIC_BASE_URL=http://127.0.0.1:8080", "ANTHROPIC_GATEWAY_5XX_SERVED=false",
                       "OPENAI_GATEWAY_5XX_SERVED=true"});
  CHECK_FALSE(set.providers[0].gateway_5xx_charged());
  CHECK(set.providers[1].gateway_5xx_charged());
  CHECK(tollgate::describe_config(set).find("provider.openai.gateway_5xx_served=true (set)") !=
        std::string::npos);
  auto automatic = load_env({"ANTHROPIC_BASE_URL=http://127.0.0.1:8080", "ANTHROPIC_GATEWAY_5XX_SERVED=auto"});
  CHECK(automatic.providers[0].gateway_5xx_charged());
  CHECK(load_error({"OPENAI_GATEWAY_5XX_SERVED=sometimes"}) ==
        "OPENAI_GATEWAY_5XX_SERVED=sometimes: must be true, false or auto");
}

TEST_CASE("TOML sets gateway_5xx_served per provider and the environment overrides it") {
  auto toml = write_temp("gateway.toml",
                         "chain = [\"anthropic\", \"openai\", \"mistral\"]\n"
                         "[providers.anthropic]\ngateway_5xx_served = true\n"
                         "[providers.mistral]\napi = \"openai\"\nbase_url = \"https://api.mistral.ai/v1\"\n"
                         "model = \"mistral-large\"\ngateway_5xx_served = false\n");
  ConfigSources s{toml, "", {"OPENAI_GATEWAY_5XX_SERVED=true"}, kApis};
  auto c = load_config(s);
  REQUIRE(c.ok());
  CHECK(c->providers[0].gateway_5xx_charged());  // api.anthropic.com, but set
  CHECK(c->providers[1].gateway_5xx_charged());
  CHECK_FALSE(c->providers[2].gateway_5xx_charged());
  ConfigSources env_wins{toml, "", {"ANTHROPIC_GATEWAY_5XX_SERVED=false"}, kApis};
  auto e = load_config(env_wins);
  REQUIRE(e.ok());
  CHECK_FALSE(e->providers[0].gateway_5xx_charged());
  std::remove(toml.c_str());
}

namespace {

// The message of the error loading `toml_text` (with `env`) gives.
std::string toml_error(const std::string& name, const std::string& toml_text,
                       std::vector<std::string> env = {}) {
  const auto toml = write_temp(name, toml_text);
  auto c = load_config(ConfigSources{toml, "", std::move(env), kApis});
  std::remove(toml.c_str());
  REQUIRE_FALSE(c.ok());
  return c.error().message;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return contains(l, part); });
}

}  // namespace

TEST_CASE("a base URL that is not http or https with a host is refused naming the variable") {
  for (const char* bad : {"notaurl", "ftp://x", "http://", "https:///v1", "http://:80", "http://host:0",
                          "http://host:99999", "http://a b", "api.anthropic.com"}) {
    INFO(bad);
    auto msg = load_error({std::string("ANTHROPIC_BASE_URL=") + bad});
    CHECK(msg.find(std::string("ANTHROPIC_BASE_URL=") + bad + ": must be an http:// or https:// URL") == 0);
  }
  CHECK(contains(load_error({"OPENAI_BASE_URL=notaurl"}), "OPENAI_BASE_URL=notaurl"));
  for (const char* good : {"https://api.anthropic.com", "http://127.0.0.1:9", "http://127.0.0.1:9/v1",
                           "http://[::1]:8080/v1", "https://x.example/"}) {
    INFO(good);
    CHECK(load_env({std::string("ANTHROPIC_BASE_URL=") + good}).providers[0].base_url == good);
  }
  auto prov = toml_error("url.toml", "[providers.mistral]\napi = \"openai\"\nbase_url = \"ftp://x\"\nmodel = \"m\"\n");
  CHECK(contains(prov, ":3: providers.mistral.base_url=ftp://x: must be an http:// or https:// URL"));
}

TEST_CASE("an empty model is refused") {
  CHECK(load_error({"ANTHROPIC_MODEL="}) == "ANTHROPIC_MODEL=: must name a model");
  CHECK(load_error({"OPENAI_MODEL="}) == "OPENAI_MODEL=: must name a model");
  CHECK(contains(toml_error("model.toml", "[providers.anthropic]\nmodel = \"\"\n"),
                 ":2: providers.anthropic.model=: must name a model"));
}

TEST_CASE("an empty TOML chain is an error rather than the default chain") {
  auto msg = toml_error("chain.toml", "chain = []\n");
  CHECK(contains(msg, "chain.toml"));
  CHECK(contains(msg, ":1: chain: must name at least one provider"));
}

TEST_CASE("a TOML value of the wrong type names the key and the expected type") {
  CHECK(contains(toml_error("t1.toml", "restrict_agents = \"yes\"\n"),
                 ":1: restrict_agents: must be a boolean (true or false), not a string"));
  CHECK(contains(toml_error("t2.toml", "chain = \"anthropic\"\n"),
                 ":1: chain: must be an array of provider names, not a string"));
  CHECK(contains(toml_error("t3.toml", "chain = [\"anthropic\", 2]\n"),
                 "chain: must be an array of provider names, not an integer"));
  CHECK(contains(toml_error("t4.toml", "[agents]\nbob = 5\n"),
                 ":2: agents.bob: must be a table of PROVIDER = tokens, not an integer"));
  CHECK(contains(toml_error("t5.toml", "[agents.bob]\nanthropic = \"100\"\n"),
                 ":2: agents.bob.anthropic: must be a whole number of tokens, not a string"));
  CHECK(contains(toml_error("t5b.toml", "[agents.bob]\nanthropic = -5\n"),
                 ":2: agents.bob.anthropic=-5: must be a whole number of tokens (0 or more)"));
  CHECK(contains(toml_error("t6.toml", "[agents.bob]\nanthropic = 1.5\n"),
                 "agents.bob.anthropic: must be a whole number of tokens, not a floating-point number"));
  CHECK(contains(toml_error("t7.toml", "[providers.anthropic]\nmodel = [\"a\"]\n"),
                 ":2: providers.anthropic.model: must be a string, number or boolean, not an array"));
  CHECK(contains(toml_error("t8.toml", "settings = 3\n"), ":1: settings: must be a table of variables"));
  CHECK(contains(toml_error("t9.toml", "[prices.m]\ninput = \"2\"\noutput = 1\n"),
                 ":2: prices.m.input: must be a number of dollars per million tokens, not a string"));
}

TEST_CASE("an agent limit for a provider that is not configured names the closest provider") {
  auto msg = toml_error("agent.toml", "[agents.bob]\nanthropc = 100\n");
  CHECK(contains(msg, "agent.toml:2: agents.bob.anthropc: anthropc is not a configured provider "
                      "(the closest is anthropic)"));
  auto defined = write_temp("agent-ok.toml",
                            "[agents.bob]\nmistral = 7\n[providers.mistral]\napi = \"openai\"\n"
                            "base_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\n");
  auto ok = load_config(ConfigSources{defined, "", {}, kApis});
  std::remove(defined.c_str());
  REQUIRE(ok.ok());
  CHECK(ok->agent_limit("bob", "mistral") == 7);
}

TEST_CASE("unknown TOML keys and sections are errors naming the closest known key") {
  CHECK(contains(toml_error("k1.toml", "chian = [\"anthropic\"]\n"),
                 "k1.toml:1: chian: unknown key (the closest known one is chain)"));
  CHECK(contains(toml_error("k2.toml", "[setings]\nOPENAI_RPM = 3\n"),
                 ":1: setings: unknown key (the closest known one is settings)"));
  CHECK(contains(toml_error("k3.toml", "[providers.anthropic]\nmodle = \"m\"\n"),
                 ":2: providers.anthropic.modle: unknown key (the closest known one is model)"));
  CHECK(contains(toml_error("k4.toml", "[providers.anthropic]\nMODEL = \"m\"\n"),
                 "providers.anthropic.MODEL: unknown key (the closest known one is model)"));
  CHECK(contains(toml_error("k5.toml", "[prices.m]\ninput = 1\noutput = 2\ninptu = 3\n"),
                 ":4: prices.m.inptu: unknown key (the closest known one is input)"));
  CHECK(contains(toml_error("k6.toml", "[settings]\nANTHROPIC_MONTLY_LIMIT = 5\n"),
                 ":2: settings.ANTHROPIC_MONTLY_LIMIT: unknown variable (the closest known one is "
                 "ANTHROPIC_MONTHLY_LIMIT)"));
}

TEST_CASE("the key variable of a TOML provider may be set in the TOML settings") {
  auto toml = write_temp("key.toml",
                         "[settings]\nMISTRAL_API_KEY = \"m-key\"\n[providers.mistral]\napi = \"openai\"\n"
                         "base_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nmonthly_limit = 5\n");
  auto c = load_config(ConfigSources{toml, "", {"MISTRAL_API_KEY=env-key"}, kApis});
  std::remove(toml.c_str());
  REQUIRE(c.ok());
  CHECK(c->provider("mistral")->api_key == "env-key");
  CHECK(c->warnings.empty());
}

TEST_CASE("unknown variables with the daemon's prefixes get a warning naming the closest known one") {
  auto c = load_env({"ANTHROPIC_MONTLY_LIMIT=5", "TOLLGATE_LISTN=tcp://127.0.0.1:7", "ALERT_WARNING_TRESHOLD=0.5",
                     "PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "INVOCATION_ID=abc", "CACHE_DIRECTORY=/x",
                     "LOGS_DIRECTORY=/y", "RUNTIME_DIRECTORY=/z", "NOTIFY_SOCKET=/run/n"});
  REQUIRE(c.warnings.size() == 3);
  CHECK(any_contains(c.warnings, "environment: ANTHROPIC_MONTLY_LIMIT is not a tollgated variable and is "
                                 "ignored (the closest known one is ANTHROPIC_MONTHLY_LIMIT)"));
  CHECK(any_contains(c.warnings, "TOLLGATE_LISTN is not a tollgated variable and is ignored (the closest "
                                 "known one is TOLLGATE_LISTEN)"));
  CHECK(any_contains(c.warnings, "ALERT_WARNING_TRESHOLD is not a tollgated variable and is ignored (the "
                                 "closest known one is ALERT_WARNING_THRESHOLD)"));
  CHECK(c.providers[0].monthly_limit == 140000);
}

TEST_CASE("an unknown variable in the env file gets a warning naming the file and line") {
  auto env = write_temp("warn.env", "OPENAI_RPM=5\n\nOPENAI_RMP=6\nSOMETHING_ELSE=1\n");
  auto c = load_config(ConfigSources{"", env, {}, kApis});
  std::remove(env.c_str());
  REQUIRE(c.ok());
  REQUIRE(c->warnings.size() == 2);
  CHECK(c->warnings[0] == env + ":3: OPENAI_RMP is not a tollgated variable and is ignored (the closest "
                                "known one is OPENAI_RPM)");
  CHECK(contains(c->warnings[1], env + ":4: SOMETHING_ELSE is not a tollgated variable"));
}

TEST_CASE("variables that systemd and tollgate's own tools set never warn") {
  auto c = load_env({"STATE_DIRECTORY=/var/lib/tollgate", "TOLLGATE_BIN_DIR=/b", "TOLLGATE_TEST_TIME_SCALE=4",
                     "TOLLGATE_CURVE_SERVER_KEY=k", "TOLLGATE_CURVE_SECRET_KEY_FILE=", "TOLLGATE_CURVE_CLIENTS_FILE="});
  CHECK(c.warnings.empty());
  // Every variable of the stock env file, uncommented, is known (MISTRAL_API_KEY
  // once a mistral provider is defined).
  std::ifstream example(std::string(TOLLGATE_DOCS_DIR) + "/../systemd/tollgate.env.example");
  REQUIRE(example);
  std::string text, line;
  while (std::getline(example, line)) {
    if (line.size() > 1 && line[0] == '#' && std::isupper(static_cast<unsigned char>(line[1])) &&
        line.find('=') != std::string::npos) {
      text += line.substr(1) + "\n";
    }
  }
  const auto env = write_temp("example.env", text);
  const auto toml = write_temp("example.toml",
                               "[providers.mistral]\napi = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"
                               "model = \"m\"\n");
  auto loaded = load_config(ConfigSources{toml, env, {}, kApis});
  std::remove(env.c_str());
  std::remove(toml.c_str());
  REQUIRE(loaded.ok());
  INFO(text);
  CHECK(loaded->warnings.empty());
  CHECK(text.find("TOLLGATE_LISTEN=") != std::string::npos);
}

namespace {

// The backquoted names in the first column of the Markdown table in `doc`
// whose header row starts with `| HEADER |`; `<NAME>`-style rows skipped.
std::set<std::string> table_names(const std::string& doc, const std::string& header) {
  std::set<std::string> names;
  std::istringstream in(doc);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line.rfind("| " + header + " |", 0) == 0;
      continue;
    }
    if (line.rfind("|", 0) != 0) break;
    const auto open = line.find('`');
    const auto cell_end = line.find('|', 1);
    if (open == std::string::npos || open > cell_end) continue;
    const auto close = line.find('`', open + 1);
    const std::string name = line.substr(open + 1, close - open - 1);
    if (name.find('<') == std::string::npos) names.insert(name);
  }
  return names;
}

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(TOLLGATE_DOCS_DIR) + "/" + name);
  REQUIRE(in);
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("docs configuration lists exactly the variables and TOML keys the loader reads") {
  const auto doc = read_doc("configuration.md");
  const auto variables = known_variables();
  CHECK(std::is_sorted(variables.begin(), variables.end()));
  CHECK(variables.size() > 40);
  CHECK(table_names(doc, "variable") == as_set(variables));
  const auto keys = tollgate::known_toml_keys();
  CHECK(table_names(doc, "key") == as_set(keys.top_level));
  CHECK(table_names(doc, "`[providers.NAME]` key") == as_set(keys.provider));
  CHECK(table_names(doc, "`[prices.\"MODEL\"]` key") == as_set(keys.price));
  CHECK(table_names(doc, "`[agents.NAME]` key") == as_set(keys.agent));
  CHECK(as_set(keys.provider).count("base_url") == 1);
  for (const auto& v : tollgate::other_tools_variables()) CHECK(std::find(variables.begin(), variables.end(), v) == variables.end());
}

TEST_CASE("the closest name counts swapped letters as one edit and ignores case") {
  CHECK(tollgate::edit_distance("TOLLGATE_LISTN", "TOLLGATE_LISTEN") == 1);
  CHECK(tollgate::edit_distance("chian", "chain") == 1);
  CHECK(tollgate::edit_distance("", "abc") == 3);
  CHECK(tollgate::edit_distance("kitten", "sitting") == 3);
  CHECK(tollgate::nearest_name("anthropc", {"openai", "anthropic", "mistral"}).name == "anthropic");
  CHECK(tollgate::nearest_name("x", {}).name.empty());
  CHECK(tollgate::nearest_name("openai_rpm", {"OPENAI_RPD", "OPENAI_RPM"}).distance == 0);
  CHECK(tollgate::nearest_name("openai_rpm", {"OPENAI_RPD", "OPENAI_RPM"}).name == "OPENAI_RPM");
}

TEST_CASE("a ZeroMQ endpoint that cannot be bound is refused at load with the reason") {
  using tollgate::zmq_bind_problem;
  for (const char* good : {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:0", "tcp://127.0.0.1:*", "tcp://*:5555",
                           "tcp://0.0.0.0:65535", "tcp://[::1]:5555", "tcp://lo:0", "ipc:///run/tollgate.sock",
                           "inproc://x"}) {
    INFO(good);
    CHECK_FALSE(zmq_bind_problem(good).has_value());
  }
  for (const char* bad : {"127.0.0.1:5555", "tcp://127.0.0.1", "tcp://127.0.0.1:abc", "tcp://127.0.0.1:70000",
                          "tcp://[::1]", "tcp://[nonsense]:1", "ipc://", "udp://127.0.0.1:1"}) {
    INFO(bad);
    CHECK(zmq_bind_problem(bad).has_value());
  }
  auto localhost = load_error({"TOLLGATE_LISTEN=tcp://localhost:0"});
  CHECK(localhost.find("TOLLGATE_LISTEN=tcp://localhost:0: 'localhost' is not an IP address") == 0);
  CHECK(contains(localhost, "use 127.0.0.1"));
  CHECK(contains(load_error({"TOLLGATE_EVENTS=tcp://127.0.0.1:70000"}),
                 "TOLLGATE_EVENTS=tcp://127.0.0.1:70000: the port must be a number from 0 to 65535"));
  CHECK(contains(load_error({"TOLLGATE_LISTEN=tcp://127.0.0.1"}), "needs a port"));
}
