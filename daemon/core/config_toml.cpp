#include "daemon/core/config_toml.h"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

#include "daemon/core/config_notify_toml.h"
#include "daemon/core/nearest_name.h"

namespace tollgate::config_detail {

using protocol::Error;
using protocol::Result;

const std::vector<std::string> kTomlTopLevel = {"agents", "chain", "notify", "prices", "providers",
                                                "restrict_agents", "settings"};
const std::vector<std::string> kTomlPriceKeys = {"cache_read", "cache_write", "input", "output"};
const std::vector<std::string> kTomlAgentKeys = {"cache", "chain", "limits_usd", "models"};

Error unknown_name(const std::string& origin, const std::string& key, const std::string& word,
                   const std::string& what, const std::vector<std::string>& known) {
  const auto near = nearest_name(word, known);
  return Error::bad_request(origin + ": " + key + ": unknown " + what +
                            (near.name.empty() ? "" : " (the closest known one is " + near.name + ")"));
}

namespace {

// "FILE:LINE" of a TOML node or key.
template <class Node>
std::string toml_origin(const std::string& path, const Node& n) {
  return path + ":" + std::to_string(n.source().begin.line);
}

std::string toml_scalar(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  if (n.is_integer()) return std::to_string(*n.value<int64_t>());
  if (n.is_floating_point()) {
    std::ostringstream o;
    o << *n.value<double>();
    return o.str();
  }
  return {};
}

bool toml_is_scalar(const toml::node& n) {
  return n.is_string() || n.is_integer() || n.is_floating_point() || n.is_boolean();
}

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

// "FILE:LINE: KEY: must be EXPECTED, not a string".
Error wrong_type(const std::string& path, const std::string& key, const toml::node& n,
                 const std::string& expected) {
  return Error::bad_request(toml_origin(path, n) + ": " + key + ": must be " + expected + ", not " +
                            toml_type_name(n));
}

Result<void> read_toml_prices(const std::string& path, const toml::node& node, TomlExtras& extras) {
  const auto* t = node.as_table();
  if (!t) return wrong_type(path, "prices", node, "a table of models");
  for (const auto& [model, price] : *t) {
    const std::string key = "prices." + std::string(model.str());
    const auto* mt = price.as_table();
    if (!mt) return wrong_type(path, key, price, "a table with input and output");
    for (const auto& [k, v] : *mt) {
      const std::string word(k.str());
      if (std::find(kTomlPriceKeys.begin(), kTomlPriceKeys.end(), word) == kTomlPriceKeys.end()) {
        return unknown_name(toml_origin(path, k), key + "." + word, word, "key", kTomlPriceKeys);
      }
      if (!v.is_integer() && !v.is_floating_point()) {
        return wrong_type(path, key + "." + word, v, "a number of dollars per million tokens");
      }
    }
    auto in = (*mt)["input"].value<double>();
    auto out = (*mt)["output"].value<double>();
    if (!in || !out) {
      return Error::bad_request(toml_origin(path, price) + ": " + key +
                                ": needs input and output, dollars per million tokens");
    }
    for (const auto& [k, v] : *mt) {
      if (*v.value<double>() < 0) {
        return Error::bad_request(toml_origin(path, v) + ": " + key + "." + std::string(k.str()) + "=" +
                                  toml_scalar(v) + ": must be a number of dollars per million tokens (0 or more)");
      }
    }
    extras.prices[std::string(model.str())] =
        Price{*in, *out, (*mt)["cache_write"].value<double>(), (*mt)["cache_read"].value<double>()};
  }
  return {};
}

// A non-empty array of non-empty strings (`what`: "provider names",
// "models"); `empty_rule` says what an empty array means instead.
Result<std::vector<std::string>> string_list(const std::string& path, const std::string& key,
                                             const toml::node& node, const std::string& what,
                                             const std::string& empty_rule) {
  const auto* a = node.as_array();
  if (!a) return wrong_type(path, key, node, "an array of " + what);
  if (a->empty()) return Error::bad_request(toml_origin(path, node) + ": " + key + ": " + empty_rule);
  std::vector<std::string> out;
  for (const auto& e : *a) {
    auto v = e.value_exact<std::string>();
    if (!v) return wrong_type(path, key, e, "an array of " + what);
    if (v->empty()) return Error::bad_request(toml_origin(path, e) + ": " + key + ": an empty name");
    out.push_back(*v);
  }
  return out;
}

// [agents.NAME] models = { PROVIDER = "model" }.
Result<void> read_agent_models(const std::string& path, const std::string& agent_name,
                               const toml::node& node, AgentConfig& agent, TomlExtras& extras) {
  const std::string key = "agents." + agent_name + ".models";
  const auto* t = node.as_table();
  if (!t) return wrong_type(path, key, node, "a table of PROVIDER = \"model\"");
  for (const auto& [prov, model] : *t) {
    const std::string provider(prov.str());
    auto v = model.value_exact<std::string>();
    if (!v) return wrong_type(path, key + "." + provider, model, "a model name");
    if (v->empty()) {
      return Error::bad_request(toml_origin(path, model) + ": " + key + "." + provider + ": must name a model");
    }
    agent.models[provider] = *v;
    extras.agent_models.push_back({agent_name, NameAt{provider, toml_origin(path, prov)}, *v});
  }
  return {};
}

// The reserved keys of an [agents.NAME] table: cache, chain and models.
// [agents.NAME] limits_usd = { PROVIDER = dollars, ... } (section 10).
Result<void> read_agent_limits_usd(const std::string& path, const std::string& agent_name,
                                   const toml::node& v, AgentConfig& agent, TomlExtras& extras) {
  const std::string key = "agents." + agent_name + ".limits_usd";
  const auto* t = v.as_table();
  if (!t) return wrong_type(path, key, v, "a table of PROVIDER = US dollars");
  for (const auto& [prov, lim] : *t) {
    const std::string name(prov.str());
    auto d = lim.value<double>();
    if (!d || !lim.is_number()) return wrong_type(path, key + "." + name, lim, "a number of US dollars");
    if (*d < 0 || *d > 1e9) {
      return Error::bad_request(toml_origin(path, lim) + ": " + key + "." + name +
                                ": must be a number of US dollars from 0 to 1000000000");
    }
    agent.monthly_limits_usd[name] = *d;
    extras.agent_limits.push_back({NameAt{name, toml_origin(path, prov)}, agent_name});
  }
  return {};
}

Result<void> read_agent_key(const std::string& path, const std::string& agent_name, const std::string& word,
                            const toml::node& v, AgentConfig& agent, TomlExtras& extras) {
  if (word == "models") return read_agent_models(path, agent_name, v, agent, extras);
  if (word == "limits_usd") return read_agent_limits_usd(path, agent_name, v, agent, extras);
  if (word == "cache") {
    auto on = v.value_exact<bool>();
    if (!on) return wrong_type(path, "agents." + agent_name + ".cache", v, "a boolean (true or false)");
    agent.cache = *on;
    return {};
  }
  auto chain = string_list(path, "agents." + agent_name + ".chain", v, "provider names",
                           "must name at least one provider (leave it out for the configured chain)");
  if (!chain) return chain.error();
  agent.chain = *chain;
  extras.agent_chains[agent_name] = ListAt{*chain, toml_origin(path, v)};
  return {};
}

Result<void> read_toml_agents(const std::string& path, const toml::node& node, TomlExtras& extras) {
  const auto* t = node.as_table();
  if (!t) return wrong_type(path, "agents", node, "a table of agents");
  for (const auto& [name, agent_node] : *t) {
    const std::string agent_name(name.str());
    const auto* at = agent_node.as_table();
    if (!at) return wrong_type(path, "agents." + agent_name, agent_node, "a table of PROVIDER = tokens");
    AgentConfig agent;
    for (const auto& [prov, lim] : *at) {
      const std::string word(prov.str());
      if (std::find(kTomlAgentKeys.begin(), kTomlAgentKeys.end(), word) != kTomlAgentKeys.end()) {
        if (auto r = read_agent_key(path, agent_name, word, lim, agent, extras); !r) return r;
        continue;
      }
      const std::string key = "agents." + agent_name + "." + std::string(prov.str());
      auto v = lim.value_exact<int64_t>();
      if (!v) return wrong_type(path, key, lim, "a whole number of tokens");
      if (*v < 0) {
        return Error::bad_request(toml_origin(path, lim) + ": " + key + "=" + std::to_string(*v) +
                                  ": must be a whole number of tokens (0 or more)");
      }
      agent.monthly_limits[std::string(prov.str())] = static_cast<uint64_t>(*v);
      extras.agent_limits.push_back({NameAt{std::string(prov.str()), toml_origin(path, prov)}, agent_name});
    }
    extras.agents[agent_name] = agent;
  }
  return {};
}

}  // namespace

Result<void> read_toml(const std::string& path, Settings& settings, TomlExtras& extras) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << path << ":" << e.source().begin.line << ": " << e.description();
    return Error::bad_request(o.str());
  }
  for (const auto& [k, v] : root) {
    const std::string word(k.str());
    if (std::find(kTomlTopLevel.begin(), kTomlTopLevel.end(), word) == kTomlTopLevel.end()) {
      return unknown_name(toml_origin(path, k), word, word, "key", kTomlTopLevel);
    }
  }
  if (auto* n = root.get("settings")) {
    auto* t = n->as_table();
    if (!t) return wrong_type(path, "settings", *n, "a table of variables");
    for (const auto& [k, v] : *t) {
      if (!toml_is_scalar(v)) {
        return wrong_type(path, "settings." + std::string(k.str()), v, "a string, number or boolean");
      }
      settings[std::string(k.str())] = Setting{toml_scalar(v), toml_origin(path, v), ""};
      extras.settings.push_back({std::string(k.str()), toml_origin(path, k)});
    }
  }
  if (auto* n = root.get("providers")) {
    auto* t = n->as_table();
    if (!t) return wrong_type(path, "providers", *n, "a table of providers");
    for (const auto& [name, node] : *t) {
      auto* pt = node.as_table();
      if (!pt) return wrong_type(path, "providers." + std::string(name.str()), node, "a table");
      auto& ps = extras.provider_settings[std::string(name.str())];
      for (const auto& [k, v] : *pt) {
        const std::string key = "providers." + std::string(name.str()) + "." + std::string(k.str());
        if (k.str() == "models") {
          auto models = string_list(path, key, v, "models", "must name at least one model (leave it out to accept any)");
          if (!models) return models.error();
          extras.provider_models[std::string(name.str())] = ListAt{*models, toml_origin(path, v)};
          continue;
        }
        if (!toml_is_scalar(v)) return wrong_type(path, key, v, "a string, number or boolean");
        ps[std::string(k.str())] = Setting{toml_scalar(v), toml_origin(path, v), key};
      }
    }
  }
  if (auto* n = root.get("chain")) {
    auto chain = string_list(path, "chain", *n, "provider names",
                             "must name at least one provider (leave it out for the default chain)");
    if (!chain) return chain.error();
    extras.chain = *chain;
    extras.chain_origin = toml_origin(path, *n);
  }
  if (auto* n = root.get("agents")) {
    if (auto r = read_toml_agents(path, *n, extras); !r) return r;
  }
  if (auto* n = root.get("restrict_agents")) {
    auto v = n->value_exact<bool>();
    if (!v) return wrong_type(path, "restrict_agents", *n, "a boolean (true or false)");
    extras.restrict_agents = *v;
  }
  if (auto* n = root.get("prices")) {
    if (auto r = read_toml_prices(path, *n, extras); !r) return r;
  }
  if (auto* n = root.get("notify")) {
    if (auto r = read_toml_notify(path, *n, extras.notify); !r) return r;
  }
  return {};
}

}  // namespace tollgate::config_detail
