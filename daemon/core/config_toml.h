// The TOML file of --config, read for daemon/core/config.cpp (docs/configuration.md,
// "The TOML file"): the [settings] table becomes settings like the
// environment's, the structured parts go to TomlExtras. Every key is
// checked here against the file's shape: an unknown key or a value of the
// wrong type is an error naming FILE:LINE, the key and, for an unknown key,
// the closest known one. Not for use outside the configuration loader.
// Pure apart from reading the file.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/core/config_notify.h"
#include "daemon/core/setting_reader.h"
#include "protocol/error.h"

namespace tollgate::config_detail {

// The keys allowed at the top level and in a [prices."MODEL"] table, and
// the keys of an [agents.NAME] table that are not provider names, sorted.
extern const std::vector<std::string> kTomlTopLevel;
extern const std::vector<std::string> kTomlPriceKeys;
extern const std::vector<std::string> kTomlAgentKeys;

// A name and the FILE:LINE that set it, for checks that need the whole
// configuration first.
struct NameAt {
  std::string name;
  std::string origin;
};

// A list of names (providers, models) and the FILE:LINE that set it.
struct ListAt {
  std::vector<std::string> names;
  std::string origin;
};

// One [agents.NAME] models entry: PROVIDER = "model".
struct AgentModelAt {
  std::string agent;
  NameAt provider;  // the provider's name and where
  std::string model;
};

// Structured parts of the TOML file that the environment cannot express.
struct TomlExtras {
  std::vector<ProviderConfig> extra_providers;
  std::vector<std::string> chain;
  std::string chain_origin;  // FILE:LINE of `chain`, when set
  std::map<std::string, ListAt> provider_models;  // [providers.NAME] models, by provider
  std::map<std::string, ListAt> agent_chains;     // [agents.NAME] chain, by agent
  std::vector<AgentModelAt> agent_models;         // [agents.NAME] models
  std::map<std::string, AgentConfig> agents;
  std::vector<std::pair<NameAt, std::string>> agent_limits;  // (provider, where), agent
  std::map<std::string, Price> prices;
  std::map<std::string, Settings> provider_settings;  // provider -> key -> value
  std::optional<bool> restrict_agents;
  std::vector<NameAt> settings;  // the names under [settings]
  std::vector<NotifyAt> notify;  // [[notify.webhook]], [[notify.email]]
};

// "ORIGIN: KEY: unknown WHAT (the closest known one is X)".
protocol::Error unknown_name(const std::string& origin, const std::string& key, const std::string& word,
                             const std::string& what, const std::vector<std::string>& known);

// Reads `path` into `settings` ([settings]; provider tables go to extras,
// each value labelled providers.NAME.key) and `extras`.
protocol::Result<void> read_toml(const std::string& path, Settings& settings, TomlExtras& extras);

}  // namespace tollgate::config_detail
