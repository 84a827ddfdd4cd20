// Helpers shared by the configuration unit tests: load a configuration
// from environment lines (it must load, or must not), and temporary files.
// Test threads only (Catch2 REQUIRE).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/core/config.h"
#include "daemon/core/env_file.h"

namespace tollgate::config_testing {

// The API names tollgated's adapter registry has (core cannot ask it:
// workers/providers/adapter_registry.h is above core).
inline const std::vector<std::string> kApis = {"anthropic", "openai"};

inline Config load_env(std::vector<std::string> env) {
  ConfigSources s;
  s.environment = std::move(env);
  s.apis = kApis;
  auto c = load_config(s);
  REQUIRE(c.ok());
  return *c;
}

inline std::string load_error(std::vector<std::string> env) {
  ConfigSources s;
  s.environment = std::move(env);
  s.apis = kApis;
  auto c = load_config(s);
  REQUIRE_FALSE(c.ok());
  return c.error().message;
}

inline std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("tollgate-config-test-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

// Loads `text` as a TOML file named `name` (a temporary file, removed
// again) with these environment lines and .env file.
inline protocol::Result<Config> load_toml_text(const std::string& name, const std::string& text,
                                               std::vector<std::string> env = {},
                                               const std::string& env_file = "") {
  const auto toml = write_temp(name, text);
  auto c = load_config(ConfigSources{toml, env_file, std::move(env), kApis});
  std::filesystem::remove(toml);
  return c;
}

// load_toml_text, which must load.
inline Config toml_config(const std::string& name, const std::string& text, std::vector<std::string> env = {}) {
  auto c = load_toml_text(name, text, std::move(env));
  if (!c) FAIL(c.error().message);
  return *c;
}

// The error load_toml_text gives, which must name line `line` of the file.
inline std::string toml_error_at(const std::string& name, const std::string& text, int line,
                                 std::vector<std::string> env = {}) {
  auto c = load_toml_text(name, text, std::move(env));
  REQUIRE_FALSE(c.ok());
  INFO(c.error().message);
  CHECK(c.error().message.find(name + ":" + std::to_string(line) + ": ") != std::string::npos);
  return c.error().message;
}

inline std::vector<std::string> env_lines(const std::vector<EnvEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name + "=" + e.value);
  return out;
}

}  // namespace tollgate::config_testing
