// The providers of the configuration, for daemon/core/config.cpp
// (docs/configuration.md, "The TOML file" and "Providers"): the built-in
// anthropic and openai read from their variables, refined and joined by
// the TOML file's [providers.NAME] tables, each then read from its own
// variables (<PREFIX>API_KEY, <PREFIX>BASE_URL, ...), which win over the
// TOML file. Every bad value is an error naming where it came from, the key
// and the rule. Not for use outside the configuration loader. Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/core/config_toml.h"
#include "daemon/core/setting_reader.h"
#include "protocol/error.h"

namespace tollgate::config_detail {

// "OLLAMA_" for "ollama", "MY_VLLM_" for "my-vllm": upper case, any
// character other than a letter or digit as "_".
std::string env_prefix(const std::string& name);

// The variables of a provider with this prefix ("ANTHROPIC_" reads
// ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, ...) into `p`; the key from
// `key_variable`.
void read_provider_variables(SettingReader& r, const std::string& prefix, const std::string& key_variable,
                             ProviderConfig& p);

// The variables read_provider_variables reads for `p` (its key variable
// unless keyless, and its prefix's others), for the names the
// configuration knows.
std::vector<std::string> provider_variables(const ProviderConfig& p);

// The keys of a [providers.NAME] table, sorted.
std::vector<std::string> provider_table_keys();

// The built-in providers `known` (as read from their variables), refined
// and joined by the TOML file's [providers.NAME] tables, by name; `apis`:
// the wire formats a provider may name. `warnings` gets a line for each
// key variable a keyless provider ignores.
protocol::Result<std::map<std::string, ProviderConfig>> all_providers(
    const TomlExtras& extras, const Settings& settings, std::map<std::string, ProviderConfig> known,
    const std::vector<std::string>& apis, std::vector<std::string>& warnings);

}  // namespace tollgate::config_detail
