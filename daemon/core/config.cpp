#include "daemon/core/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/core/config_toml.h"
#include "daemon/core/config_validate.h"
#include "daemon/core/name_match.h"
#include "daemon/core/nearest_name.h"
#include "daemon/core/setting_reader.h"

namespace tollgate {

using config_detail::check_agent_providers;
using config_detail::check_daemon_settings;
using config_detail::check_names;
using config_detail::EnvFileRead;
using config_detail::kTomlPriceKeys;
using config_detail::kTomlTopLevel;
using config_detail::read_toml;
using config_detail::Setting;
using config_detail::SettingReader;
using config_detail::Settings;
using config_detail::TomlExtras;
using config_detail::unknown_name;
using protocol::Error;
using protocol::Result;

namespace {

constexpr const char* kDefaultAnthropicModel = "claude-sonnet-4-5";
constexpr const char* kDefaultOpenAIModel = "gpt-4.1";

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
  r.url(prefix + "BASE_URL", p.base_url);
  r.nonempty(prefix + "MODEL", p.model, "must name a model");
  r.uint(prefix + "MONTHLY_LIMIT", p.monthly_limit, 0, UINT64_MAX, "must be a whole number of tokens");
  r.optional_uint(prefix + "GLOBAL_MONTHLY_LIMIT", p.global_monthly_limit);
  r.uint(prefix + "RPM", p.rpm, 0, UINT32_MAX, "must be a whole number of requests (0 = unlimited)");
  r.uint(prefix + "RPD", p.rpd, 0, UINT32_MAX, "must be a whole number of requests (0 = unlimited)");
  r.optional_bool(prefix + "GATEWAY_5XX_SERVED", p.gateway_5xx_served);
}

// The host of a URL: after "scheme://" and any "user@", before the port,
// path, query or fragment; lower case, without a trailing dot.
std::string url_host(std::string_view url) {
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    url = url.substr(0, url.find(']') + 1);  // an IPv6 literal keeps its colons
  } else {
    url = url.substr(0, url.find(':'));
  }
  std::string host(url);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

// The keys of a [providers.NAME] table, as "P_KEY" (upper case).
void read_provider_table(SettingReader& r, ProviderConfig& p) {
  r.str("P_API", p.api);
  r.str("P_API_KEY_ENV", p.api_key_env);
  r.str("P_API_KEY", p.api_key);
  read_builtin_provider(r, "P_", p);
}

// The TOML keys read_provider_table asks for ("base_url", ...), sorted.
std::vector<std::string> provider_table_keys(const SettingReader& r) {
  std::vector<std::string> keys;
  for (const auto& n : r.names_read()) {
    if (!n.starts_with("P_")) continue;
    std::string key = n.substr(2);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    keys.push_back(key);
  }
  return keys;
}

Result<ProviderConfig> toml_provider(const std::string& name, const Settings& s,
                                     const ProviderConfig* base, const Settings& env,
                                     const std::vector<std::string>& apis) {
  ProviderConfig p = base ? *base : ProviderConfig{};
  p.name = name;
  Settings prefixed;
  for (const auto& [k, v] : s) {
    std::string up = k;
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
    prefixed["P_" + up] = v;
  }
  SettingReader r(prefixed);
  read_provider_table(r, p);
  if (r.error()) return *r.error();
  const auto keys = provider_table_keys(r);
  for (const auto& [k, v] : s) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      return unknown_name(v.origin, v.label, k, "key", keys);
    }
  }
  if (std::find(apis.begin(), apis.end(), p.api) == apis.end()) {
    return Error::bad_request("providers." + name + ".api=" + p.api + ": " +
                              (apis.empty() ? "no provider API is known (no adapter registered)"
                                            : "must be " + alternatives(apis)));
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

}  // namespace

bool vendor_api_host(std::string_view api, std::string_view base_url) {
  const std::string host = url_host(base_url);
  if (api == "anthropic") return host == "api.anthropic.com";
  if (api == "openai") return host == "api.openai.com";
  return false;
}

bool ProviderConfig::gateway_5xx_charged() const {
  return gateway_5xx_served.value_or(!vendor_api_host(api, base_url));
}

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

// Every variable the daemon reads, into `c` and the two built-in providers.
void read_settings(SettingReader& r, Config& c, ProviderConfig& anthropic, ProviderConfig& openai) {
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
}

namespace {

// The TOML file, the .env file and the environment, in that order, into
// `settings` (later sources win).
Result<void> read_sources(const ConfigSources& sources, Settings& settings, TomlExtras& extras,
                          EnvFileRead& env_file) {
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
      env_file.entries = std::move(entries).value();
      env_file.path = path;
    }
  }
  add_environment(sources.environment, settings);
  return {};
}

// The built-in providers as read into `builtin`, refined and joined by the
// TOML file's [providers.NAME] tables, by name.
Result<std::map<std::string, ProviderConfig>> all_providers(const TomlExtras& extras, const Settings& settings,
                                                            std::map<std::string, ProviderConfig> known,
                                                            const std::vector<std::string>& apis) {
  for (const auto& [name, ps] : extras.provider_settings) {
    auto it = known.find(name);
    auto p = toml_provider(name, ps, it == known.end() ? nullptr : &it->second, settings, apis);
    if (!p) return p.error();
    if (it != known.end()) {
      // The environment overrides TOML: re-apply it on top.
      SettingReader env_r(settings);
      read_builtin_provider(env_r, name == "anthropic" ? "ANTHROPIC_" : "OPENAI_", *p);
      if (env_r.error()) return *env_r.error();
    }
    known[name] = *p;
  }
  return known;
}

// The chain to call, in order: the TOML file's `chain`, or the built-in
// providers then the others by name.
std::vector<std::string> chain_names(const TomlExtras& extras, const std::map<std::string, ProviderConfig>& known) {
  std::vector<std::string> chain = extras.chain;
  if (chain.empty()) {
    chain = {"anthropic", "openai"};
    for (const auto& [name, p] : known) {
      if (name != "anthropic" && name != "openai") chain.push_back(name);
    }
  }
  return chain;
}

// c.providers from the chain's names.
Result<void> add_chain(const std::vector<std::string>& chain, const std::map<std::string, ProviderConfig>& known,
                       Config& c) {
  for (const auto& name : chain) {
    auto it = known.find(name);
    if (it == known.end()) {
      std::vector<std::string> names;
      for (const auto& [n, p] : known) names.push_back(n);
      return Error::bad_request("chain: unknown provider " + name + " (the closest is " +
                                nearest_name(name, names).name + ")");
    }
    if (name == "openai" && !c.enable_openai_fallback) continue;
    if (c.provider(name)) return Error::bad_request("chain: provider " + name + " listed twice");
    c.providers.push_back(it->second);
  }
  if (c.providers.empty()) return Error::bad_request("chain: no provider left to call");
  return {};
}

}  // namespace

Result<Config> load_config(const ConfigSources& sources) {
  Settings settings;
  TomlExtras extras;
  EnvFileRead env_file;
  if (auto e = read_sources(sources, settings, extras, env_file); !e) return e.error();

  Config c;
  SettingReader r(settings);
  ProviderConfig anthropic{"anthropic", "anthropic", "", "ANTHROPIC_API_KEY",
                           "https://api.anthropic.com", kDefaultAnthropicModel, 140000, {}, 42, 3400,
                           std::nullopt};
  ProviderConfig openai{"openai", "openai", "", "OPENAI_API_KEY",
                        "https://api.openai.com/v1", kDefaultOpenAIModel, 9000, {}, 42, 3400,
                        std::nullopt};
  read_settings(r, c, anthropic, openai);
  if (r.error()) return *r.error();
  if (auto e = check_daemon_settings(r, c); !e) return e.error();

  // Built-in providers may be refined in TOML ([providers.anthropic]).
  auto known = all_providers(extras, settings, {{"anthropic", anthropic}, {"openai", openai}}, sources.apis);
  if (!known) return known.error();
  const std::vector<std::string> chain = chain_names(extras, *known);
  if (auto e = check_agent_providers(extras, *known); !e) return e.error();
  if (auto e = check_names(r, *known, extras, env_file, sources.environment, c.warnings); !e) return e.error();
  if (auto e = add_chain(chain, *known, c); !e) return e.error();

  c.agents = extras.agents;
  c.restrict_agents = extras.restrict_agents.value_or(false);
  c.prices = {{kDefaultAnthropicModel, {3.0, 15.0}}, {kDefaultOpenAIModel, {2.0, 8.0}}};
  for (const auto& [model, price] : extras.prices) c.prices[model] = price;
  return c;
}

std::vector<std::string> known_variables() {
  const Settings none;
  SettingReader r(none);
  Config c;
  ProviderConfig anthropic, openai;
  read_settings(r, c, anthropic, openai);
  return {r.names_read().begin(), r.names_read().end()};
}

const std::vector<std::string>& other_tools_variables() {
  // tollctl's server key; the test harness's binary directory and time scale.
  static const std::vector<std::string> kNames = {"TOLLGATE_BIN_DIR", "TOLLGATE_CURVE_SERVER_KEY",
                                                  "TOLLGATE_TEST_TIME_SCALE"};
  return kNames;
}

TomlKeys known_toml_keys() {
  const Settings none;
  SettingReader r(none);
  ProviderConfig p;
  read_provider_table(r, p);
  auto provider = provider_table_keys(r);
  std::sort(provider.begin(), provider.end());
  return TomlKeys{kTomlTopLevel, provider, kTomlPriceKeys};
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
      << "provider." << p.name << ".rpd=" << p.rpd << "\n"
      << "provider." << p.name << ".gateway_5xx_served=" << (p.gateway_5xx_charged() ? "true" : "false")
      << (p.gateway_5xx_served ? " (set)"
          : vendor_api_host(p.api, p.base_url) ? " (auto: the vendor's own API host)"
                                               : " (auto: not the vendor's own API host)")
      << "\n";
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
