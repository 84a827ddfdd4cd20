#include "daemon/core/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/core/config_notify.h"
#include "daemon/core/config_provider.h"
#include "daemon/core/config_toml.h"
#include "daemon/core/config_validate.h"
#include "daemon/core/name_match.h"
#include "daemon/core/nearest_name.h"
#include "daemon/core/setting_reader.h"

namespace tollgate {

using config_detail::all_providers;
using config_detail::check_agent_chains;
using config_detail::check_agent_models;
using config_detail::check_agent_providers;
using config_detail::check_daemon_settings;
using config_detail::check_names;
using config_detail::EnvFileRead;
using config_detail::kTomlAgentKeys;
using config_detail::kTomlPriceKeys;
using config_detail::kTomlTopLevel;
using config_detail::read_provider_variables;
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
  read_provider_variables(r, prefix, prefix + "API_KEY", p);
}

}  // namespace

const ProviderConfig* Config::provider(const std::string& name) const {
  for (const auto& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<const ProviderConfig*> Config::chain_for(const std::string& agent) const {
  std::vector<const ProviderConfig*> out;
  if (auto a = agents.find(agent); a != agents.end() && !a->second.chain.empty()) {
    for (const auto& name : a->second.chain) {
      if (const auto* p = provider(name)) out.push_back(p);
    }
    return out;
  }
  for (const auto& p : providers) out.push_back(&p);
  return out;
}

bool Config::last_in_chain(const std::string& agent, const std::string& provider_name) const {
  const auto chain = chain_for(agent);
  return !chain.empty() && chain.back()->name == provider_name;
}

std::string Config::model_for(const std::string& agent, const std::string& provider_name) const {
  if (auto a = agents.find(agent); a != agents.end()) {
    if (auto m = a->second.models.find(provider_name); m != a->second.models.end()) return m->second;
  }
  const auto* p = provider(provider_name);
  return p ? p->model : std::string();
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

std::optional<double> Config::agent_limit_usd(const std::string& agent,
                                              const std::string& provider_name) const {
  if (auto a = agents.find(agent); a != agents.end()) {
    if (auto l = a->second.monthly_limits_usd.find(provider_name);
        l != a->second.monthly_limits_usd.end()) {
      return l->second;
    }
  }
  const auto* p = provider(provider_name);
  return p ? p->monthly_limit_usd : std::nullopt;
}

bool Config::uses_cache(const std::string& agent, bool asked) const {
  if (cache_ttl_seconds == 0) return false;
  if (asked) return true;
  auto a = agents.find(agent);
  return a != agents.end() && a->second.cache;
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
  r.str("TOLLGATE_LEDGER", c.ledger);
  r.boolean("TOLLGATE_LEDGER_REDO_LOG", c.ledger_redo_log);
  r.uint("TOLLGATE_LEASE_SECONDS", c.lease_seconds, 3, 3600, "must be a whole number of seconds from 3 to 3600");
  r.uint("TOLLGATE_PLAN_REUSE_MS", c.plan_reuse_ms, 0, 10000, "must be a whole number of milliseconds from 0 to 10000");
  r.str("TOLLGATE_DAEMON_ID", c.daemon_id);
  r.uint("TOLLGATE_MAX_ATTEMPTS", c.max_attempts, 1, 20, "must be a whole number from 1 to 20");
  r.uint("TOLLGATE_CIRCUIT_FAILURES", c.circuit_failures, 1, 1000, "must be a whole number from 1 to 1000");
  r.uint("TOLLGATE_CIRCUIT_OPEN_SECONDS", c.circuit_open_seconds, 1, 86400, "must be a whole number of seconds from 1 to 86400");
  r.boolean("TOLLGATE_ALLOW_INSECURE_BIND", c.allow_insecure_bind);
  r.str("TOLLGATE_HTTP", c.http);
  r.str("TOLLGATE_HTTP_ADMIN_TOKEN", c.http_admin_token);
  r.str("TOLLGATE_AGENT_KEYS_FILE", c.agent_keys_file);
  r.uint("TOLLGATE_HTTP_READ_TIMEOUT_MS", c.http_read_timeout_ms, 50, 600'000,
         "must be a whole number from 50 to 600000");
  r.uint("TOLLGATE_HTTP_MAX_CALLS", c.http_max_calls, 1, 100'000, "must be a whole number from 1 to 100000");
  r.str("TOLLGATE_CURVE_SECRET_KEY_FILE", c.curve_secret_key_file);
  r.str("TOLLGATE_CURVE_CLIENTS_FILE", c.curve_clients_file);
  r.uint("TOLLGATE_MAX_REQUEST_BYTES", c.max_request_bytes, 64, 16u << 20, "must be a whole number of bytes from 64 to 16777216");
  r.uint("TOLLGATE_EVENTS_HWM", c.events_hwm, 1, 10'000'000, "must be a whole number of events from 1 to 10000000");
  r.uint("TOLLGATE_EVENTS_SNDBUF", c.events_sndbuf, 0, 64u << 20, "must be a whole number of bytes from 0 (the OS default) to 67108864");
  r.uint("TOLLGATE_REPLIES_HWM", c.replies_hwm, 1, 10'000'000, "must be a whole number of messages from 1 to 10000000");
  r.str("TOLLGATE_LOG_LEVEL", c.log_level);
  r.uint("TOLLGATE_WORKERS", c.workers, 0, 256, "must be a whole number from 0 (one per CPU the daemon may run on) to 256");
  r.boolean("TOLLGATE_SCHED_BATCH", c.sched_batch);
  r.uint("TOLLGATE_CALL_TIMEOUT_MS", c.call_timeout_ms, 1, 3'600'000, "must be a whole number of milliseconds from 1 to 3600000");
  r.uint("TOLLGATE_MAX_INFLIGHT", c.max_inflight, 1, 10'000'000, "must be a whole number from 1");
  r.uint("TOLLGATE_ADMISSION_WAIT_MS", c.admission_wait_ms, 0, 3'600'000, "must be a whole number of milliseconds from 0 to 3600000");
  r.uint("TOLLGATE_STREAM_IDLE_MS", c.stream_idle_ms, 1, 3'600'000, "must be a whole number of milliseconds from 1 to 3600000");
  r.uint("TOLLGATE_SHUTDOWN_DRAIN_MS", c.shutdown_drain_ms, 0, 600'000, "must be a whole number of milliseconds from 0 to 600000");
  r.number("TOLLGATE_EXHAUSTED_FRACTION", c.exhausted_fraction, 0, 0.5, "must be a number from 0 to 0.5");
  r.str("TOLLGATE_SELECTION", c.selection);
  r.uint("TOLLGATE_FORECAST_WINDOW_DAYS", c.forecast_window_days, 1, 90, "must be a whole number of days from 1 to 90");
  r.uint("TOLLGATE_FORECAST_CHECK_SECONDS", c.forecast_check_seconds, 0, 86400, "must be a whole number of seconds from 0 (never) to 86400");
  config_detail::read_notify_variables(r, c.notify);
  r.uint("TOLLGATE_CACHE_TTL_SECONDS", c.cache_ttl_seconds, 0, 31'536'000, "must be a whole number of seconds from 0 (off) to 31536000");
  r.uint("TOLLGATE_CACHE_MAX_MB", c.cache_max_mb, 1, 65'536, "must be a whole number of MiB from 1 to 65536");
  r.boolean("TOLLGATE_CACHE_PER_AGENT", c.cache_per_agent);
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
Result<void> add_chain(const std::vector<std::string>& chain, const std::string& origin,
                       const std::map<std::string, ProviderConfig>& known, Config& c) {
  const std::string at = origin.empty() ? "" : origin + ": ";
  for (const auto& name : chain) {
    auto it = known.find(name);
    if (it == known.end()) {
      std::vector<std::string> names;
      for (const auto& [n, p] : known) names.push_back(n);
      return Error::bad_request(at + "chain: unknown provider " + name + " (the closest is " +
                                nearest_name(name, names).name + ")");
    }
    if (name == "openai" && !c.enable_openai_fallback) continue;
    if (c.provider(name)) return Error::bad_request(at + "chain: provider " + name + " listed twice");
    c.providers.push_back(it->second);
  }
  if (c.providers.empty()) return Error::bad_request(at + "chain: no provider left to call");
  return {};
}

ProviderConfig builtin_provider(const std::string& name, const std::string& base_url, const std::string& model,
                                uint64_t monthly_limit) {
  ProviderConfig p;
  p.name = name;
  p.api = name;
  p.env_prefix = config_detail::env_prefix(name);
  p.api_key_env = p.env_prefix + "API_KEY";
  p.base_url = base_url;
  p.model = model;
  p.monthly_limit = monthly_limit;
  return p;
}

// The built-in price table, dollars per million tokens, with the vendors'
// published prompt-cache rates: Anthropic writes at 1.25 x input and reads
// at 0.1 x; OpenAI charges no write and reads cached input at 0.25 x.
std::map<std::string, Price> default_prices() {
  return {{kDefaultAnthropicModel, Price{3.0, 15.0, 3.75, 0.30}},
          {kDefaultOpenAIModel, Price{2.0, 8.0, 2.0, 0.50}}};
}

}  // namespace

Result<Config> load_config(const ConfigSources& sources) {
  Settings settings;
  TomlExtras extras;
  EnvFileRead env_file;
  if (auto e = read_sources(sources, settings, extras, env_file); !e) return e.error();

  Config c;
  SettingReader r(settings);
  ProviderConfig anthropic = builtin_provider("anthropic", "https://api.anthropic.com", kDefaultAnthropicModel, 140000);
  ProviderConfig openai = builtin_provider("openai", "https://api.openai.com/v1", kDefaultOpenAIModel, 9000);
  read_settings(r, c, anthropic, openai);
  if (r.error()) return *r.error();
  if (auto e = check_daemon_settings(r, c); !e) return e.error();

  // Built-in providers may be refined in TOML ([providers.anthropic]).
  auto known = all_providers(extras, settings, {{"anthropic", anthropic}, {"openai", openai}}, sources.apis,
                             c.warnings);
  if (!known) return known.error();
  const std::vector<std::string> chain = chain_names(extras, *known);
  if (auto e = check_agent_providers(extras, *known); !e) return e.error();
  if (auto e = config_detail::check_notify(r, extras.notify, c); !e) return e.error();
  if (auto e = check_names(r, *known, extras, env_file, sources.environment, c.warnings); !e) return e.error();
  if (auto e = add_chain(chain, extras.chain_origin, *known, c); !e) return e.error();

  c.agents = extras.agents;
  if (auto e = check_agent_chains(extras, *known, c); !e) return e.error();
  if (auto e = check_agent_models(extras, *known); !e) return e.error();
  c.restrict_agents = extras.restrict_agents.value_or(false);
  c.prices = default_prices();
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
  return TomlKeys{kTomlTopLevel, config_detail::provider_table_keys(), kTomlPriceKeys, kTomlAgentKeys};
}

}  // namespace tollgate
