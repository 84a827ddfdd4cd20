// The .env file parser and the order of configuration sources
// (daemon/core/env_file.h, daemon/core/config.h).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "tests/unit/config_test_util.h"

using tollgate::Config;
using tollgate::ConfigSources;
using tollgate::load_config;
using namespace tollgate::config_testing;

TEST_CASE("the env file accepts comments quotes and the export prefix") {
  auto lines = tollgate::parse_env_file(
      "# comment\n\nexport ANTHROPIC_API_KEY=\"sk ant\"\nOPENAI_MODEL='gpt x' \n"
      "OPENAI_RPM=10 # inline\n  SPACED = value \n",
      ".env");
  REQUIRE(lines.ok());
  CHECK(env_lines(*lines) ==
        std::vector<std::string>{"ANTHROPIC_API_KEY=sk ant", "OPENAI_MODEL=gpt x", "OPENAI_RPM=10",
                                 "SPACED=value"});
  CHECK((*lines)[0].line == 3);
  CHECK((*lines)[3].line == 6);
}

TEST_CASE("a malformed env file line is reported with its line number") {
  auto bad = tollgate::parse_env_file("A=1\nthis is not a setting\n", "x.env");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "x.env:2: expected KEY=VALUE");
  auto open = tollgate::parse_env_file("A=\"unterminated\n", "y.env");
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().message == "y.env:1: A: unterminated quoted value");
}

TEST_CASE("a byte order mark at the start of the env file is skipped") {
  auto lines = tollgate::parse_env_file("\xEF\xBB\xBFOPENAI_RPM=7\r\nA=b\r\n", "bom.env");
  REQUIRE(lines.ok());
  CHECK(env_lines(*lines) == std::vector<std::string>{"OPENAI_RPM=7", "A=b"});
}

TEST_CASE("text after a closing quote in the env file is an error unless it is a comment") {
  auto junk = tollgate::parse_env_file("A=1\nOPENAI_RPM=\"7\" junk\n", "q.env");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().message.find("q.env:2: OPENAI_RPM: unexpected text after the closing quote") == 0);
  auto glued = tollgate::parse_env_file("A='7'#x\n", "q.env");
  REQUIRE_FALSE(glued.ok());
  CHECK(glued.error().message.find("q.env:1: A:") == 0);
  auto comment = tollgate::parse_env_file("A=\"7\" # seven\nB='8'\t# eight\nC=\"9\"   \n", "q.env");
  REQUIRE(comment.ok());
  CHECK(env_lines(*comment) == std::vector<std::string>{"A=7", "B=8", "C=9"});
}

TEST_CASE("a tab before a hash starts a comment after an unquoted env file value") {
  auto lines = tollgate::parse_env_file("A=7\t# seven\nB=x#y\nC=#z\n", "c.env");
  REQUIRE(lines.ok());
  CHECK(env_lines(*lines) == std::vector<std::string>{"A=7", "B=x#y", "C=#z"});
}

TEST_CASE("double quotes in the env file understand escapes and single quotes keep backslashes") {
  auto lines = tollgate::parse_env_file(
      "A=\"x\\ty\"\nB=\"l1\\nl2\"\nC=\"q\\\"q \\\\ \\$HOME \\d\"\nD='x\\ty $HOME'\nE=x\\ty\n", "e.env");
  REQUIRE(lines.ok());
  CHECK(env_lines(*lines) == std::vector<std::string>{"A=x\ty", "B=l1\nl2", "C=q\"q \\ $HOME \\d",
                                                      "D=x\\ty $HOME", "E=x\\ty"});
}

TEST_CASE("a bad value from the env file or the TOML file names the file and line") {
  auto env = write_temp("line.env", "# limits\nANTHROPIC_MONTHLY_LIMIT=300\nOPENAI_RPM=ten\n");
  auto from_env = load_config(ConfigSources{"", env, {}, kApis});
  REQUIRE_FALSE(from_env.ok());
  CHECK(from_env.error().message.find(env + ":3: OPENAI_RPM=ten: must be a whole number") == 0);
  auto level = write_temp("level.env", "TOLLGATE_LOG_LEVEL=loud\n");
  auto from_level = load_config(ConfigSources{"", level, {}, kApis});
  REQUIRE_FALSE(from_level.ok());
  CHECK(from_level.error().message.find(level + ":1: TOLLGATE_LOG_LEVEL=loud") == 0);
  auto toml = write_temp("line.toml", "[settings]\nOPENAI_RPM = 3\nANTHROPIC_RPD = -4\n");
  auto from_toml = load_config(ConfigSources{toml, "", {}, kApis});
  REQUIRE_FALSE(from_toml.ok());
  CHECK(from_toml.error().message.find(toml + ":3: ANTHROPIC_RPD=-4") == 0);
  auto prov = write_temp("prov-line.toml", "[providers.anthropic]\nmodel = \"m\"\nrpm = \"fast\"\n");
  auto from_prov = load_config(ConfigSources{prov, "", {}, kApis});
  REQUIRE_FALSE(from_prov.ok());
  CHECK(from_prov.error().message.find(prov + ":3: providers.anthropic.rpm=fast") == 0);
  for (const auto& f : {env, level, toml, prov}) std::remove(f.c_str());
}

TEST_CASE("the environment overrides the env file which overrides TOML") {
  auto toml = write_temp("a.toml",
                         "[settings]\nOPENAI_MONTHLY_LIMIT = 100\nANTHROPIC_MONTHLY_LIMIT = 200\n"
                         "OPENAI_RPM = 7\n");
  auto env = write_temp("a.env", "ANTHROPIC_MONTHLY_LIMIT=300\nOPENAI_RPM=8\n");
  ConfigSources s{toml, env, {"OPENAI_RPM=9"}, kApis};
  auto c = load_config(s);
  REQUIRE(c.ok());
  CHECK(c->providers[1].monthly_limit == 100);
  CHECK(c->providers[0].monthly_limit == 300);
  CHECK(c->providers[1].rpm == 9);
  std::remove(toml.c_str());
  std::remove(env.c_str());
}

TEST_CASE("an env file path with a leading dash may be missing but not unreadable") {
  const auto env = write_temp("b.env", "ANTHROPIC_MONTHLY_LIMIT=300\n");
  auto present = load_config(ConfigSources{"", "-" + env, {}, kApis});
  REQUIRE(present.ok());
  CHECK(present->providers[0].monthly_limit == 300);
  std::remove(env.c_str());
  auto optional = load_config(ConfigSources{"", "-" + env, {}, kApis});
  REQUIRE(optional.ok());
  CHECK(optional->providers[0].monthly_limit == 140000);
  auto required = load_config(ConfigSources{"", env, {}, kApis});
  REQUIRE_FALSE(required.ok());
  CHECK(required.error().message.find(env) != std::string::npos);
}
