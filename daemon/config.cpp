#include "daemon/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/endpoint.h"
#include "daemon/policy/recommend.h"

namespace tollgate {

using protocol::Error;
using protocol::Result;

namespace {

constexpr const char* kDefaultAnthropicModel = "claude-sonnet-4-5";
constexpr const char* kDefaultOpenAIModel = "gpt-4.1";

// One setting's value and where it came from.
struct Setting {
  std::string value;
  std::string origin;  // "FILE:LINE" from the .env or TOML file; empty: the environment
  std::string label;   // its name in errors when not the variable's (a TOML provider key)
};

// Name -> setting, later sources overriding earlier ones.
using Settings = std::map<std::string, Setting>;

Error bad_setting(const std::string& name, const std::string& value, const std::string& rule) {
  return Error::bad_request(name + "=" + value + ": " + rule);
}

// As bad_setting, after the FILE:LINE the setting came from, if any.
Error bad_setting(const Setting& s, const std::string& name, const std::string& rule) {
  const std::string& label = s.label.empty() ? name : s.label;
  return Error::bad_request((s.origin.empty() ? "" : s.origin + ": ") + label + "=" + s.value + ": " + rule);
}

std::optional<uint64_t> parse_uint(const std::string& v, uint64_t min, uint64_t max) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || out < min || out > max) {
    return std::nullopt;
  }
  return out;
}

std::optional<double> parse_double(const std::string& v, double min, double max) {
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !(out >= min && out <= max)) {
    return std::nullopt;
  }
  return out;
}

std::optional<bool> parse_bool(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
  if (l == "0" || l == "false" || l == "no" || l == "off") return false;
  return std::nullopt;
}

// Reads typed settings from the merged map, remembering the first error.
class SettingReader {
 public:
  explicit SettingReader(const Settings& s) : s_(s) {}

  const std::string* find(const std::string& name) const {
    const auto* s = setting(name);
    return s ? &s->value : nullptr;
  }
  const Setting* setting(const std::string& name) const {
    auto it = s_.find(name);
    return it == s_.end() ? nullptr : &it->second;
  }
  // The error for `name`'s value: the FILE:LINE it came from, its name, its
  // value and the rule.
  Error bad(const std::string& name, const std::string& value, const std::string& rule) const {
    const auto* s = setting(name);
    return s ? bad_setting(*s, name, rule) : bad_setting(name, value, rule);
  }
  void str(const std::string& name, std::string& out) const {
    if (const auto* v = find(name)) out = *v;
  }
  template <class T>
  void uint(const std::string& name, T& out, uint64_t min, uint64_t max, const std::string& rule) {
    const auto* v = find(name);
    if (!v || error_) return;
    auto r = parse_uint(*v, min, max);
    if (!r) error_ = bad(name, *v, rule);
    else out = static_cast<T>(*r);
  }
  void fraction(const std::string& name, double& out) {
    number(name, out, 0.0, 1.0, "must be a number from 0 to 1");
  }
  void number(const std::string& name, double& out, double min, double max, const std::string& rule) {
    const auto* v = find(name);
    if (!v || error_) return;
    auto r = parse_double(*v, min, max);
    if (!r) error_ = bad(name, *v, rule);
    else out = *r;
  }
  void boolean(const std::string& name, bool& out) {
    const auto* v = find(name);
    if (!v || error_) return;
    auto r = parse_bool(*v);
    if (!r) error_ = bad(name, *v, "must be true or false");
    else out = *r;
  }
  void optional_uint(const std::string& name, std::optional<uint64_t>& out) {
    const auto* v = find(name);
    if (!v || error_ || v->empty()) return;
    auto r = parse_uint(*v, 0, UINT64_MAX);
    if (!r) error_ = bad(name, *v, "must be a whole number of tokens");
    else out = *r;
  }
  const std::optional<Error>& error() const { return error_; }

 private:
  const Settings& s_;
  std::optional<Error> error_;
};

// "FILE:LINE" of a TOML node.
std::string toml_origin(const std::string& path, const toml::node& n) {
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

// Structured parts of the TOML file that the environment cannot express.
struct TomlExtras {
  std::vector<ProviderConfig> extra_providers;
  std::vector<std::string> chain;
  std::map<std::string, AgentConfig> agents;
  std::map<std::string, Price> prices;
  std::map<std::string, Settings> provider_settings;  // provider -> key -> value
  std::optional<bool> restrict_agents;
};

Result<void> read_toml(const std::string& path, Settings& settings, TomlExtras& extras) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << path << ":" << e.source().begin.line << ": " << e.description();
    return Error::bad_request(o.str());
  }
  if (auto* t = root["settings"].as_table()) {
    for (const auto& [k, v] : *t) {
      auto s = toml_scalar(v);
      if (s.empty() && !v.is_string()) {
        return Error::bad_request(path + ": settings." + std::string(k.str()) +
                                  ": must be a string, number or boolean");
      }
      settings[std::string(k.str())] = Setting{s, toml_origin(path, v), ""};
    }
  }
  if (auto* t = root["providers"].as_table()) {
    for (const auto& [name, node] : *t) {
      auto* pt = node.as_table();
      if (!pt) return Error::bad_request(path + ": providers." + std::string(name.str()) + ": must be a table");
      auto& ps = extras.provider_settings[std::string(name.str())];
      for (const auto& [k, v] : *pt) {
        ps[std::string(k.str())] = Setting{toml_scalar(v), toml_origin(path, v),
                                           "providers." + std::string(name.str()) + "." + std::string(k.str())};
      }
    }
  }
  if (auto* a = root["chain"].as_array()) {
    for (const auto& n : *a) {
      auto s = n.value<std::string>();
      if (!s) return Error::bad_request(path + ": chain: must be an array of provider names");
      extras.chain.push_back(*s);
    }
  }
  if (auto* t = root["agents"].as_table()) {
    for (const auto& [name, node] : *t) {
      AgentConfig agent;
      if (auto* at = node.as_table()) {
        for (const auto& [prov, lim] : *at) {
          auto v = lim.value<int64_t>();
          if (!v || *v < 0) {
            return Error::bad_request(path + ": agents." + std::string(name.str()) + "." +
                                      std::string(prov.str()) + ": must be a whole number of tokens");
          }
          agent.monthly_limits[std::string(prov.str())] = static_cast<uint64_t>(*v);
        }
      }
      extras.agents[std::string(name.str())] = agent;
    }
  }
  if (auto v = root["restrict_agents"].value<bool>()) extras.restrict_agents = *v;
  if (auto* t = root["prices"].as_table()) {
    for (const auto& [model, node] : *t) {
      auto* mt = node.as_table();
      auto in = mt ? (*mt)["input"].value<double>() : std::nullopt;
      auto out = mt ? (*mt)["output"].value<double>() : std::nullopt;
      if (!in || !out || *in < 0 || *out < 0) {
        return Error::bad_request(path + ": prices." + std::string(model.str()) +
                                  ": needs input and output, dollars per million tokens");
      }
      extras.prices[std::string(model.str())] = Price{*in, *out};
    }
  }
  return {};
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::bad_request(path + ": cannot read file");
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

void add_environment(const std::vector<std::string>& lines, Settings& settings) {
  for (const auto& line : lines) {
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    settings[line.substr(0, eq)] = Setting{line.substr(eq + 1), "", ""};
  }
}

void add_env_file(const std::vector<EnvEntry>& entries, const std::string& path, Settings& settings) {
  for (const auto& e : entries) {
    settings[e.name] = Setting{e.value, path + ":" + std::to_string(e.line), ""};
  }
}

// Reads the builtin provider `p` (prefix ANTHROPIC_ or OPENAI_) from settings.
void read_builtin_provider(SettingReader& r, const std::string& prefix, ProviderConfig& p) {
  r.str(prefix + "API_KEY", p.api_key);
  r.str(prefix + "BASE_URL", p.base_url);
  r.str(prefix + "MODEL", p.model);
  r.uint(prefix + "MONTHLY_LIMIT", p.monthly_limit, 0, UINT64_MAX, "must be a whole number of tokens");
  r.optional_uint(prefix + "GLOBAL_MONTHLY_LIMIT", p.global_monthly_limit);
  r.uint(prefix + "RPM", p.rpm, 0, UINT32_MAX, "must be a whole number of requests (0 = unlimited)");
  r.uint(prefix + "RPD", p.rpd, 0, UINT32_MAX, "must be a whole number of requests (0 = unlimited)");
}

Result<ProviderConfig> toml_provider(const std::string& name, const Settings& s,
                                     const ProviderConfig* base, const Settings& env) {
  ProviderConfig p = base ? *base : ProviderConfig{};
  p.name = name;
  Settings prefixed;
  for (const auto& [k, v] : s) {
    std::string up = k;
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
    prefixed["P_" + up] = v;
  }
  SettingReader r(prefixed);
  r.str("P_API", p.api);
  r.str("P_API_KEY_ENV", p.api_key_env);
  r.str("P_API_KEY", p.api_key);
  read_builtin_provider(r, "P_", p);
  if (r.error()) return *r.error();
  if (p.api != "anthropic" && p.api != "openai") {
    return Error::bad_request("providers." + name + ".api=" + p.api + ": must be anthropic or openai");
  }
  if (!base) {
    if (p.base_url.empty()) return Error::bad_request("providers." + name + ".base_url: required");
    if (p.model.empty()) return Error::bad_request("providers." + name + ".model: required");
    if (p.api_key_env.empty()) {
      std::string up = name;
      std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
      p.api_key_env = up + "_API_KEY";
    }
    if (auto it = env.find(p.api_key_env); it != env.end()) p.api_key = it->second.value;
  }
  return p;
}

// Why `v` is not an endpoint tollgated can bind, or nullopt.
std::optional<std::string> endpoint_problem(const std::string& v) {
  if (v.rfind("tcp://", 0) == 0 || v.rfind("ipc://", 0) == 0 || v.rfind("inproc://", 0) == 0) {
    return std::nullopt;
  }
  return "must be a ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)";
}

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

}  // namespace

const ProviderConfig* Config::provider(const std::string& name) const {
  for (const auto& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

uint64_t Config::agent_limit(const std::string& agent, const std::string& provider_name) const {
  if (auto a = agents.find(agent); a != agents.end()) {
    if (auto l = a->second.monthly_limits.find(provider_name); l != a->second.monthly_limits.end()) {
      return l->second;
    }
  }
  const auto* p = provider(provider_name);
  return p ? p->monthly_limit : 0;
}

Result<Config> load_config(const ConfigSources& sources) {
  Settings settings;
  TomlExtras extras;
  if (!sources.toml_path.empty()) {
    if (auto r = read_toml(sources.toml_path, settings, extras); !r) return r.error();
  }
  if (!sources.env_file_path.empty()) {
    // "-PATH", as in systemd's EnvironmentFile=-PATH: a missing file is no error.
    const bool optional = sources.env_file_path[0] == '-';
    const std::string path = optional ? sources.env_file_path.substr(1) : sources.env_file_path;
    std::error_code ec;
    if (!optional || std::filesystem::exists(path, ec)) {
      auto text = read_file(path);
      if (!text) return text.error();
      auto entries = parse_env_file(*text, path);
      if (!entries) return entries.error();
      add_env_file(*entries, path, settings);
    }
  }
  add_environment(sources.environment, settings);

  Config c;
  SettingReader r(settings);
  ProviderConfig anthropic{"anthropic", "anthropic", "", "ANTHROPIC_API_KEY",
                           "https://api.anthropic.com", kDefaultAnthropicModel, 140000, {}, 42, 3400};
  ProviderConfig openai{"openai", "openai", "", "OPENAI_API_KEY",
                        "https://api.openai.com/v1", kDefaultOpenAIModel, 9000, {}, 42, 3400};
  read_builtin_provider(r, "ANTHROPIC_", anthropic);
  read_builtin_provider(r, "OPENAI_", openai);
  r.uint("OPENAI_MAX_TOKENS", c.default_max_tokens, 1, 1'000'000, "must be a whole number from 1");
  r.number("OPENAI_TEMPERATURE", c.default_temperature, 0, 2, "must be a number from 0 to 2");
  r.boolean("ENABLE_OPENAI_FALLBACK", c.enable_openai_fallback);
  r.fraction("OPENAI_FALLBACK_THRESHOLD", c.fallback_threshold);
  r.fraction("ALERT_WARNING_THRESHOLD", c.warning_threshold);
  r.fraction("ALERT_EMERGENCY_THRESHOLD", c.emergency_threshold);
  r.boolean("SHUTDOWN_ON_EMERGENCY", c.shutdown_on_emergency);
  r.uint("MAX_TOKENS_PER_REQUEST", c.max_tokens_per_request, 1, UINT32_MAX, "must be a whole number of tokens from 1");
  r.str("TOLLGATE_LISTEN", c.listen);
  r.str("TOLLGATE_EVENTS", c.events);
  if (const auto* sd = r.find("STATE_DIRECTORY"); sd && !sd->empty()) {
    c.data_dir = sd->substr(0, sd->find(':'));  // systemd may list several
  }
  r.str("TOLLGATE_DATA_DIR", c.data_dir);
  r.uint("TOLLGATE_MAX_ATTEMPTS", c.max_attempts, 1, 20, "must be a whole number from 1 to 20");
  r.uint("TOLLGATE_CIRCUIT_FAILURES", c.circuit_failures, 1, 1000, "must be a whole number from 1 to 1000");
  r.uint("TOLLGATE_CIRCUIT_OPEN_SECONDS", c.circuit_open_seconds, 1, 86400, "must be a whole number of seconds from 1 to 86400");
  r.boolean("TOLLGATE_ALLOW_INSECURE_BIND", c.allow_insecure_bind);
  r.str("TOLLGATE_HTTP", c.http);
  r.str("TOLLGATE_HTTP_ADMIN_TOKEN", c.http_admin_token);
  r.str("TOLLGATE_CURVE_SECRET_KEY_FILE", c.curve_secret_key_file);
  r.str("TOLLGATE_CURVE_CLIENTS_FILE", c.curve_clients_file);
  r.uint("TOLLGATE_MAX_REQUEST_BYTES", c.max_request_bytes, 64, 16u << 20, "must be a whole number of bytes from 64 to 16777216");
  r.uint("TOLLGATE_EVENTS_HWM", c.events_hwm, 1, 10'000'000, "must be a whole number of events from 1 to 10000000");
  r.str("TOLLGATE_LOG_LEVEL", c.log_level);
  r.uint("TOLLGATE_WORKERS", c.workers, 0, 256, "must be a whole number from 0 (CPU count) to 256");
  r.uint("TOLLGATE_CALL_TIMEOUT_MS", c.call_timeout_ms, 1, 3'600'000, "must be a whole number of milliseconds from 1 to 3600000");
  r.uint("TOLLGATE_MAX_INFLIGHT", c.max_inflight, 1, 10'000'000, "must be a whole number from 1");
  r.uint("TOLLGATE_ADMISSION_WAIT_MS", c.admission_wait_ms, 0, 3'600'000, "must be a whole number of milliseconds from 0 to 3600000");
  r.number("TOLLGATE_EXHAUSTED_FRACTION", c.exhausted_fraction, 0, 0.5, "must be a number from 0 to 0.5");
  if (r.error()) return *r.error();
  if (auto e = check_thresholds(r, c); !e) return e.error();
  if (auto e = check_default_max_tokens(r, c); !e) return e.error();

  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end()) {
    return r.bad("TOLLGATE_LOG_LEVEL", c.log_level, "must be trace, debug, info, warn, error, critical or off");
  }
  for (const auto& [name, value] : {std::pair{"TOLLGATE_LISTEN", c.listen}, std::pair{"TOLLGATE_EVENTS", c.events}}) {
    if (auto why = endpoint_problem(value)) return r.bad(name, value, *why);
  }
  if (c.listen == c.events && !zmq_ephemeral(c.listen)) {
    return r.bad("TOLLGATE_EVENTS", c.events, "must differ from TOLLGATE_LISTEN");
  }
  if (c.data_dir.empty()) return r.bad("TOLLGATE_DATA_DIR", "", "must name a directory");
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

  // Built-in providers may be refined in TOML ([providers.anthropic]).
  std::map<std::string, ProviderConfig> known = {{"anthropic", anthropic}, {"openai", openai}};
  for (const auto& [name, ps] : extras.provider_settings) {
    auto it = known.find(name);
    auto p = toml_provider(name, ps, it == known.end() ? nullptr : &it->second, settings);
    if (!p) return p.error();
    if (it != known.end()) {
      // The environment overrides TOML: re-apply it on top.
      SettingReader env_r(settings);
      read_builtin_provider(env_r, name == "anthropic" ? "ANTHROPIC_" : "OPENAI_", *p);
      if (env_r.error()) return *env_r.error();
    }
    known[name] = *p;
  }
  std::vector<std::string> chain = extras.chain;
  if (chain.empty()) {
    chain = {"anthropic", "openai"};
    for (const auto& [name, p] : known) {
      if (name != "anthropic" && name != "openai") chain.push_back(name);
    }
  }
  for (const auto& name : chain) {
    auto it = known.find(name);
    if (it == known.end()) return Error::bad_request("chain: unknown provider " + name);
    if (name == "openai" && !c.enable_openai_fallback) continue;
    if (c.provider(name)) return Error::bad_request("chain: provider " + name + " listed twice");
    c.providers.push_back(it->second);
  }
  if (c.providers.empty()) return Error::bad_request("chain: no provider left to call");

  c.agents = extras.agents;
  c.restrict_agents = extras.restrict_agents.value_or(false);
  c.prices = {{kDefaultAnthropicModel, {3.0, 15.0}}, {kDefaultOpenAIModel, {2.0, 8.0}}};
  for (const auto& [model, price] : extras.prices) c.prices[model] = price;
  return c;
}

std::string describe_config(const Config& c) {
  std::ostringstream o;
  auto secret = [](const std::string& v) { return v.empty() ? "(not set)" : "(set, redacted)"; };
  auto opt = [](const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "(none)"; };
  for (const auto& p : c.providers) {
    o << "provider." << p.name << ".api=" << p.api << "\n"
      << "provider." << p.name << "." << p.api_key_env << "=" << secret(p.api_key) << "\n"
      << "provider." << p.name << ".base_url=" << p.base_url << "\n"
      << "provider." << p.name << ".model=" << p.model << "\n"
      << "provider." << p.name << ".monthly_limit=" << p.monthly_limit << "\n"
      << "provider." << p.name << ".global_monthly_limit=" << opt(p.global_monthly_limit) << "\n"
      << "provider." << p.name << ".rpm=" << p.rpm << "\n"
      << "provider." << p.name << ".rpd=" << p.rpd << "\n";
  }
  for (const auto& [name, a] : c.agents) {
    for (const auto& [prov, lim] : a.monthly_limits) o << "agent." << name << "." << prov << "=" << lim << "\n";
  }
  for (const auto& [model, p] : c.prices) {
    o << "price." << model << "=" << p.input_per_million << "/" << p.output_per_million << " USD per Mtok\n";
  }
  o << "RESTRICT_AGENTS=" << (c.restrict_agents ? "true" : "false") << "\n"
    << "OPENAI_MAX_TOKENS=" << c.default_max_tokens << "\n"
    << "OPENAI_TEMPERATURE=" << c.default_temperature << "\n"
    << "ENABLE_OPENAI_FALLBACK=" << (c.enable_openai_fallback ? "true" : "false") << "\n"
    << "OPENAI_FALLBACK_THRESHOLD=" << c.fallback_threshold << "\n"
    << "ALERT_WARNING_THRESHOLD=" << c.warning_threshold << "\n"
    << "ALERT_EMERGENCY_THRESHOLD=" << c.emergency_threshold << "\n"
    << "SHUTDOWN_ON_EMERGENCY=" << (c.shutdown_on_emergency ? "true" : "false") << "\n"
    << "MAX_TOKENS_PER_REQUEST=" << c.max_tokens_per_request << "\n"
    << "TOLLGATE_LISTEN=" << c.listen << "\n"
    << "TOLLGATE_EVENTS=" << c.events << "\n"
    << "TOLLGATE_DATA_DIR=" << c.data_dir << "\n"
    << "TOLLGATE_MAX_ATTEMPTS=" << c.max_attempts << "\n"
    << "TOLLGATE_CIRCUIT_FAILURES=" << c.circuit_failures << "\n"
    << "TOLLGATE_CIRCUIT_OPEN_SECONDS=" << c.circuit_open_seconds << "\n"
    << "TOLLGATE_ALLOW_INSECURE_BIND=" << (c.allow_insecure_bind ? "1" : "0") << "\n"
    << "TOLLGATE_HTTP=" << c.http << "\n"
    << "TOLLGATE_HTTP_ADMIN_TOKEN=" << secret(c.http_admin_token) << "\n"
    << "TOLLGATE_CURVE_SECRET_KEY_FILE=" << c.curve_secret_key_file << "\n"
    << "TOLLGATE_CURVE_CLIENTS_FILE=" << c.curve_clients_file << "\n"
    << "TOLLGATE_MAX_REQUEST_BYTES=" << c.max_request_bytes << "\n"
    << "TOLLGATE_EVENTS_HWM=" << c.events_hwm << "\n"
    << "TOLLGATE_LOG_LEVEL=" << c.log_level << "\n"
    << "TOLLGATE_WORKERS=" << c.workers << "\n"
    << "TOLLGATE_CALL_TIMEOUT_MS=" << c.call_timeout_ms << "\n"
    << "TOLLGATE_MAX_INFLIGHT=" << c.max_inflight << "\n"
    << "TOLLGATE_ADMISSION_WAIT_MS=" << c.admission_wait_ms << "\n"
    << "TOLLGATE_EXHAUSTED_FRACTION=" << c.exhausted_fraction << "\n";
  return o.str();
}

}  // namespace tollgate
