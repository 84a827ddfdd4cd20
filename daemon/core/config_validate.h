// The checks load_config (daemon/core/config.cpp) runs once the settings are
// read: rules that span several settings (the alert levels rise, the
// default max_tokens fits the per-request cap), the endpoints, the agents'
// provider names, and names that no part of the configuration reads. Each
// error names the setting, its value and where it came from. Not for use
// outside the configuration loader. Pure apart from zmq_bind_problem asking
// the system for interface names.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/core/config_toml.h"
#include "daemon/core/env_file.h"
#include "daemon/core/setting_reader.h"
#include "protocol/error.h"

namespace tollgate::config_detail {

// The daemon's own settings in `c` (read through `r`), in this order: the
// alert levels and the exhausted fraction, the default max_tokens, the log
// level, the ZeroMQ endpoints, the data directory, the HTTP address.
protocol::Result<void> check_daemon_settings(const SettingReader& r, const Config& c);

// Every [agents.NAME] limit names a configured provider.
protocol::Result<void> check_agent_providers(const TomlExtras& extras,
                                             const std::map<std::string, ProviderConfig>& providers);

// Each [agents.NAME] chain names providers of the configured chain
// (c.providers), each once; openai is dropped from it when
// ENABLE_OPENAI_FALLBACK is false, and something must be left. Sets
// c.agents[NAME].chain to what is left.
protocol::Result<void> check_agent_chains(const TomlExtras& extras,
                                          const std::map<std::string, ProviderConfig>& providers, Config& c);

// Each [agents.NAME] models entry names a configured provider and a model
// that provider accepts.
protocol::Result<void> check_agent_models(const TomlExtras& extras,
                                          const std::map<std::string, ProviderConfig>& providers);

// The .env file as read: its entries and its path (both empty when none).
struct EnvFileRead {
  std::vector<EnvEntry> entries;
  std::string path;
};

// Names no part of the configuration reads (the names `r` was asked for,
// each provider's key variable, other_tools_variables()): an error in the
// TOML file's [settings] (where every key is meant for tollgated), a line
// in `warnings` from the .env file and, for names that look meant for
// tollgated, from the environment.
protocol::Result<void> check_names(const SettingReader& r,
                                   const std::map<std::string, ProviderConfig>& providers,
                                   const TomlExtras& extras, const EnvFileRead& env_file,
                                   const std::vector<std::string>& environment,
                                   std::vector<std::string>& warnings);

}  // namespace tollgate::config_detail
