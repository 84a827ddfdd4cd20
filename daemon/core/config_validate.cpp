#include "daemon/core/config_validate.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "daemon/core/config_provider.h"
#include "daemon/core/endpoint.h"
#include "daemon/core/name_match.h"
#include "daemon/core/nearest_name.h"
#include "daemon/core/policy/recommend.h"

namespace tollgate::config_detail {

using protocol::Error;
using protocol::Result;

namespace {

// "NAME=VALUE (FILE:LINE)" as set, or "NAME=VALUE (default)".
std::string shown(const SettingReader& r, const std::string& name, double value) {
  if (const auto* s = r.setting(name)) {
    return name + "=" + s->value + (s->origin.empty() ? "" : " (" + s->origin + ")");
  }
  std::ostringstream o;
  o << name << "=" << value << " (default)";
  return o.str();
}

// The levels of PROTOCOL.md section 4 must come in order, or a typo turns
// into a different budget (a warning at 99% and an emergency at 50%).
Result<void> check_thresholds(const SettingReader& r, const Config& c) {
  const std::string warning = shown(r, "ALERT_WARNING_THRESHOLD", c.warning_threshold);
  const std::string critical = shown(r, "OPENAI_FALLBACK_THRESHOLD", c.fallback_threshold);
  const std::string emergency = shown(r, "ALERT_EMERGENCY_THRESHOLD", c.emergency_threshold);
  if (!(c.warning_threshold < c.fallback_threshold && c.fallback_threshold < c.emergency_threshold &&
        c.emergency_threshold < 1.0)) {
    return Error::bad_request(warning + ", " + critical + ", " + emergency +
                              ": the levels must rise: ALERT_WARNING_THRESHOLD < OPENAI_FALLBACK_THRESHOLD "
                              "(critical) < ALERT_EMERGENCY_THRESHOLD < 1");
  }
  if (!(c.exhausted_fraction < 1.0 - c.emergency_threshold)) {
    return Error::bad_request(shown(r, "TOLLGATE_EXHAUSTED_FRACTION", c.exhausted_fraction) + ", " +
                              emergency +
                              ": TOLLGATE_EXHAUSTED_FRACTION must be below 1 - ALERT_EMERGENCY_THRESHOLD, "
                              "so that a budget is exhausted only after its emergency level");
  }
  return {};
}

// A call with the default max_tokens and a short prompt (what `recommend`
// answers for) must fit under the per-request cap, or every such call is
// too_large while `recommend` says a provider is available.
Result<void> check_default_max_tokens(const SettingReader& r, const Config& c) {
  const uint64_t room = policy::recommendation_reservation(c.default_max_tokens);
  if (room <= c.max_tokens_per_request) return {};
  return Error::bad_request(
      shown(r, "OPENAI_MAX_TOKENS", static_cast<double>(c.default_max_tokens)) + ", " +
      shown(r, "MAX_TOKENS_PER_REQUEST", static_cast<double>(c.max_tokens_per_request)) +
      ": every call with the default max_tokens would be too_large; OPENAI_MAX_TOKENS must leave " +
      std::to_string(policy::kShortPromptTokens) + " tokens of MAX_TOKENS_PER_REQUEST for the input (at most " +
      std::to_string(c.max_tokens_per_request > policy::kShortPromptTokens
                         ? c.max_tokens_per_request - policy::kShortPromptTokens
                         : 0) +
      ")");
}

// "tcp://host:0" and "tcp://host:*" bind a fresh port each time.
bool zmq_ephemeral(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0 &&
         (endpoint.ends_with(":0") || endpoint.ends_with(":*"));
}

// The log level, the ZeroMQ endpoints, the data directory, the HTTP address.
Result<void> check_endpoints(const SettingReader& r, const Config& c) {
  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end()) {
    return r.bad("TOLLGATE_LOG_LEVEL", c.log_level, "must be trace, debug, info, warn, error, critical or off");
  }
  if (c.selection != "chain" && c.selection != "cheapest") {
    return r.bad("TOLLGATE_SELECTION", c.selection, "must be chain or cheapest");
  }
  for (const auto& [name, value] : {std::pair{"TOLLGATE_LISTEN", c.listen}, std::pair{"TOLLGATE_EVENTS", c.events}}) {
    if (auto why = zmq_bind_problem(value)) return r.bad(name, value, *why);
  }
  if (c.listen == c.events && !zmq_ephemeral(c.listen)) {
    return r.bad("TOLLGATE_EVENTS", c.events, "must differ from TOLLGATE_LISTEN");
  }
  if (c.data_dir.empty()) return r.bad("TOLLGATE_DATA_DIR", "", "must name a directory");
  if (c.ledger != "lmdb" && !c.ledger.starts_with("postgresql://") &&
      !c.ledger.starts_with("postgres://")) {
    // Not echoed: a URI may carry a password.
    return r.bad("TOLLGATE_LEDGER", "", "must be lmdb or a postgresql:// URI");
  }
  // The HTTP checks name TOLLGATE_HTTP themselves; say which file set it.
  auto located = [&r](const std::string& name, Error e) {
    if (const auto* s = r.setting(name); s && !s->origin.empty()) e.message = s->origin + ": " + e.message;
    return e;
  };
  if (auto http = parse_http_address(c.http); !http) {
    return located("TOLLGATE_HTTP", http.error());
  } else if (*http) {
    if (auto e = check_http_bind_allowed(**http, c.allow_insecure_bind); !e) {
      return located("TOLLGATE_HTTP", e.error());
    }
  }
  return {};
}

// Names the whole configuration knows: the variables read, the key variable
// of each provider, and the variables of tollctl and the tests.
std::vector<std::string> known_names(const SettingReader& r,
                                     const std::map<std::string, ProviderConfig>& providers) {
  std::set<std::string> names(r.names_read().begin(), r.names_read().end());
  for (const auto& [name, p] : providers) {
    const auto vars = provider_variables(p);
    names.insert(vars.begin(), vars.end());
  }
  names.insert(other_tools_variables().begin(), other_tools_variables().end());
  return {names.begin(), names.end()};
}

bool is_known(const std::vector<std::string>& known, const std::string& name) {
  return std::binary_search(known.begin(), known.end(), name);
}

std::string not_read(const std::string& name, const std::vector<std::string>& known) {
  const auto near = nearest_name(name, known);
  return name + " is not a tollgated variable and is ignored" +
         (near.name.empty() ? "" : " (the closest known one is " + near.name + ")");
}

// A name in the process environment that looks meant for tollgated: one of
// its prefixes, or a couple of typos away from a known name.
bool looks_like_ours(const std::string& name, const std::vector<std::string>& known) {
  for (const char* prefix : {"ANTHROPIC_", "OPENAI_", "TOLLGATE_"}) {
    if (name.starts_with(prefix)) return true;
  }
  return nearest_name(name, known).distance <= 2;
}

}  // namespace

Result<void> check_daemon_settings(const SettingReader& r, const Config& c) {
  if (auto e = check_thresholds(r, c); !e) return e.error();
  if (auto e = check_default_max_tokens(r, c); !e) return e.error();
  return check_endpoints(r, c);
}

Result<void> check_agent_providers(const TomlExtras& extras,
                                   const std::map<std::string, ProviderConfig>& providers) {
  std::vector<std::string> names;
  for (const auto& [name, p] : providers) names.push_back(name);
  for (const auto& [limit, agent] : extras.agent_limits) {
    if (providers.count(limit.name)) continue;
    const auto near = nearest_name(limit.name, names);
    return Error::bad_request(limit.origin + ": agents." + agent + "." + limit.name + ": " + limit.name +
                              " is not a configured provider (the closest is " + near.name + ")");
  }
  return {};
}

namespace {

std::string closest_provider(const std::string& name, const std::map<std::string, ProviderConfig>& providers) {
  std::vector<std::string> names;
  for (const auto& [n, p] : providers) names.push_back(n);
  return nearest_name(name, names).name;
}

// One agent's chain, as the providers left to call.
Result<std::vector<std::string>> agent_chain(const std::string& agent, const ListAt& chain,
                                             const std::map<std::string, ProviderConfig>& providers,
                                             const Config& c) {
  const std::string key = chain.origin + ": agents." + agent + ".chain: ";
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& name : chain.names) {
    if (!providers.count(name)) {
      return Error::bad_request(key + "unknown provider " + name + " (the closest is " +
                                closest_provider(name, providers) + ")");
    }
    if (!seen.insert(name).second) return Error::bad_request(key + "provider " + name + " listed twice");
    if (name == "openai" && !c.enable_openai_fallback) continue;
    if (!c.provider(name)) {
      return Error::bad_request(key + "provider " + name +
                                " is not in the configured chain (an agent's chain orders providers of "
                                "`chain`; add it there)");
    }
    out.push_back(name);
  }
  if (out.empty()) {
    return Error::bad_request(key + "no provider left to call (ENABLE_OPENAI_FALLBACK=false drops openai)");
  }
  return out;
}

}  // namespace

Result<void> check_agent_chains(const TomlExtras& extras, const std::map<std::string, ProviderConfig>& providers,
                                Config& c) {
  for (const auto& [agent, chain] : extras.agent_chains) {
    auto names = agent_chain(agent, chain, providers, c);
    if (!names) return names.error();
    c.agents[agent].chain = std::move(*names);
  }
  return {};
}

Result<void> check_agent_models(const TomlExtras& extras, const std::map<std::string, ProviderConfig>& providers) {
  for (const auto& m : extras.agent_models) {
    const std::string key = m.provider.origin + ": agents." + m.agent + ".models." + m.provider.name;
    auto p = providers.find(m.provider.name);
    if (p == providers.end()) {
      return Error::bad_request(key + ": " + m.provider.name + " is not a configured provider (the closest is " +
                                closest_provider(m.provider.name, providers) + ")");
    }
    if (!p->second.accepts(m.model)) {
      return Error::bad_request(key + "=" + m.model + ": " + m.provider.name + " does not accept it (its models: " +
                                alternatives(p->second.models) + ")");
    }
  }
  return {};
}

Result<void> check_names(const SettingReader& r, const std::map<std::string, ProviderConfig>& providers,
                         const TomlExtras& extras, const EnvFileRead& env_file,
                         const std::vector<std::string>& environment, std::vector<std::string>& warnings) {
  const auto known = known_names(r, providers);
  for (const auto& s : extras.settings) {
    if (!is_known(known, s.name)) return unknown_name(s.origin, "settings." + s.name, s.name, "variable", known);
  }
  for (const auto& e : env_file.entries) {
    if (!is_known(known, e.name)) {
      warnings.push_back(env_file.path + ":" + std::to_string(e.line) + ": " + not_read(e.name, known));
    }
  }
  for (const auto& line : environment) {
    const std::string name = line.substr(0, line.find('='));
    if (!name.empty() && !is_known(known, name) && looks_like_ours(name, known)) {
      warnings.push_back("environment: " + not_read(name, known));
    }
  }
  return {};
}

}  // namespace tollgate::config_detail
