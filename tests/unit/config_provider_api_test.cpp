// A provider's `api` must name a wire format some adapter reads: the
// loader checks it against the API names it is given (tollgated passes its
// adapter registry's names), never against a list of its own.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/unit/config_test_util.h"

using tollgate::ConfigSources;
using tollgate::load_config;
using namespace tollgate::config_testing;

namespace {

const std::string kGeminiProvider =
    "[providers.gemini]\napi = \"gemini\"\nbase_url = \"http://127.0.0.1:9\"\nmodel = \"g-1\"\n";

// Loads `toml_text` with these API names known.
tollgate::protocol::Result<tollgate::Config> load_with(const std::string& toml_text,
                                                       std::vector<std::string> apis) {
  const auto toml = write_temp("api.toml", toml_text);
  auto c = load_config(ConfigSources{toml, "", {}, std::move(apis)});
  std::remove(toml.c_str());
  return c;
}

}  // namespace

TEST_CASE("a provider whose api no adapter reads is a configuration error naming the known apis") {
  auto c = load_with(kGeminiProvider, kApis);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message == "providers.gemini.api=gemini: must be anthropic or openai");
}

TEST_CASE("a built-in provider given an unknown api in TOML is a configuration error") {
  auto c = load_with("[providers.openai]\napi = \"opena1\"\n", kApis);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message == "providers.openai.api=opena1: must be anthropic or openai");
}

TEST_CASE("the api names the loader is given decide which apis a provider may name") {
  const std::vector<std::string> three = {"anthropic", "gemini", "openai"};
  auto c = load_with(kGeminiProvider, three);
  REQUIRE(c.ok());
  REQUIRE(c->provider("gemini") != nullptr);
  CHECK(c->provider("gemini")->api == "gemini");

  auto typo = load_with("[providers.mistral]\napi = \"mistral\"\nbase_url = \"http://127.0.0.1:9\"\n"
                        "model = \"m\"\n",
                        three);
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.error().message ==
        "providers.mistral.api=mistral: must be anthropic, gemini or openai");
}

TEST_CASE("with no api names given every provider table is a configuration error") {
  auto c = load_with("[providers.anthropic]\nmodel = \"claude-x\"\n", {});
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message ==
        "providers.anthropic.api=anthropic: no provider API is known (no adapter registered)");
}
