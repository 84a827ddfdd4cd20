#include "daemon/core/config_provider.h"

#include <algorithm>
#include <cctype>

#include "daemon/core/name_match.h"

namespace tollgate {

namespace {

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

bool ProviderConfig::configured() const { return keyless ? !base_url.empty() : !api_key.empty(); }

std::string ProviderConfig::missing_variable() const {
  if (keyless) return env_prefix + "BASE_URL";
  return api_key_env.empty() ? env_prefix + "API_KEY" : api_key_env;
}

bool ProviderConfig::accepts(const std::string& m) const {
  return models.empty() || std::find(models.begin(), models.end(), m) != models.end();
}

namespace config_detail {

using protocol::Error;
using protocol::Result;

std::string env_prefix(const std::string& name) {
  std::string out;
  for (unsigned char c : name) out += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  return out + "_";
}

void read_provider_variables(SettingReader& r, const std::string& prefix, const std::string& key_variable,
                             ProviderConfig& p) {
  if (!key_variable.empty()) r.str(key_variable, p.api_key);
  r.url(prefix + "BASE_URL", p.base_url);
  r.nonempty(prefix + "MODEL", p.model, "must name a model");
  r.uint(prefix + "MONTHLY_LIMIT", p.monthly_limit, 0, UINT64_MAX, "must be a whole number of tokens");
  r.optional_uint(prefix + "GLOBAL_MONTHLY_LIMIT", p.global_monthly_limit);
  r.optional_number(prefix + "MONTHLY_LIMIT_USD", p.monthly_limit_usd, 0, 1e9,
                    "must be a number of US dollars from 0 to 1000000000");
  r.optional_number(prefix + "GLOBAL_MONTHLY_LIMIT_USD", p.global_monthly_limit_usd, 0, 1e9,
                    "must be a number of US dollars from 0 to 1000000000");
  r.uint(prefix + "RPM", p.rpm, 0, UINT32_MAX, "must be a whole number of requests (0 = unlimited)");
  r.uint(prefix + "RPD", p.rpd, 0, UINT32_MAX, "must be a whole number of requests (0 = unlimited)");
  r.optional_bool(prefix + "GATEWAY_5XX_SERVED", p.gateway_5xx_served);
}

std::vector<std::string> provider_variables(const ProviderConfig& p) {
  const Settings none;
  SettingReader r(none);
  ProviderConfig scratch;
  read_provider_variables(r, p.env_prefix, p.keyless ? "" : p.missing_variable(), scratch);
  return {r.names_read().begin(), r.names_read().end()};
}

namespace {

constexpr const char* kModelsKey = "models";  // an array: read_toml keeps it apart

// The keys of a [providers.NAME] table, as "P_KEY" (upper case).
void read_provider_table(SettingReader& r, ProviderConfig& p) {
  r.str("P_API", p.api);
  r.str("P_API_KEY_ENV", p.api_key_env);
  r.boolean("P_KEYLESS", p.keyless);
  r.boolean("P_IMAGE_URLS", p.image_urls);
  read_provider_variables(r, "P_", "P_API_KEY", p);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// A keyless provider sends no key: a key in its table is a mistake.
Result<void> check_keyless(const std::string& name, const Settings& s) {
  for (const char* key : {"api_key", "api_key_env"}) {
    if (auto it = s.find(key); it != s.end()) {
      return Error::bad_request(it->second.origin + ": providers." + name + "." + key +
                                ": a keyless provider sends no key (drop keyless = true, or this key)");
    }
  }
  return {};
}

// One [providers.NAME] table on top of `base` (a built-in provider), or
// of nothing (a new provider).
Result<ProviderConfig> toml_provider(const std::string& name, const Settings& s, const ProviderConfig* base,
                                     const std::vector<std::string>& apis, const ListAt* models) {
  ProviderConfig p = base ? *base : ProviderConfig{};
  p.name = name;
  if (!base) p.env_prefix = env_prefix(name);
  Settings prefixed;
  for (const auto& [k, v] : s) prefixed["P_" + upper(k)] = v;
  SettingReader r(prefixed);
  read_provider_table(r, p);
  if (r.error()) return *r.error();
  const auto keys = provider_table_keys();
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
  if (p.keyless) {
    if (auto e = check_keyless(name, s); !e) return e.error();
  }
  if (models) p.models = models->names;
  return p;
}

// What a provider needs once every source is read: a new provider its
// model and (unless keyless: then it is configured once it is set) its
// base URL; a list of models that includes its own model.
Result<void> check_provider(const ProviderConfig& p, bool is_new, const ListAt* models) {
  const std::string key = "providers." + p.name;
  if (is_new && p.model.empty()) {
    return Error::bad_request(key + ".model: required (in the table, or " + p.env_prefix + "MODEL)");
  }
  if (is_new && p.base_url.empty() && !p.keyless) {
    return Error::bad_request(key + ".base_url: required (in the table, or " + p.env_prefix +
                              "BASE_URL); only a keyless provider may leave it unset (not configured)");
  }
  if (!p.accepts(p.model)) {
    return Error::bad_request((models ? models->origin + ": " : std::string()) + key + ".models: " +
                              "must include the provider's model " + p.model +
                              " (the model calls send when they name none)");
  }
  return {};
}

}  // namespace

std::vector<std::string> provider_table_keys() {
  const Settings none;
  SettingReader r(none);
  ProviderConfig p;
  read_provider_table(r, p);
  std::vector<std::string> keys = {kModelsKey};
  for (const auto& n : r.names_read()) {
    if (!n.starts_with("P_")) continue;
    std::string key = n.substr(2);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

Result<std::map<std::string, ProviderConfig>> all_providers(const TomlExtras& extras, const Settings& settings,
                                                            std::map<std::string, ProviderConfig> known,
                                                            const std::vector<std::string>& apis,
                                                            std::vector<std::string>& warnings) {
  for (const auto& [name, ps] : extras.provider_settings) {
    auto it = known.find(name);
    const bool is_new = it == known.end();
    const auto m = extras.provider_models.find(name);
    const ListAt* models = m == extras.provider_models.end() ? nullptr : &m->second;
    auto p = toml_provider(name, ps, is_new ? nullptr : &it->second, apis, models);
    if (!p) return p.error();
    if (!p->keyless && p->api_key_env.empty()) p->api_key_env = p->env_prefix + "API_KEY";
    // The environment, the .env file and [settings] override the table.
    SettingReader env_r(settings);
    read_provider_variables(env_r, p->env_prefix, p->keyless ? "" : p->api_key_env, *p);
    if (env_r.error()) return *env_r.error();
    if (p->keyless) {
      if (!p->api_key.empty()) {
        warnings.push_back("providers." + name + " is keyless: " + p->api_key_env + " is set and never sent");
      }
      p->api_key.clear();
      p->api_key_env.clear();
    }
    if (auto e = check_provider(*p, is_new, models); !e) return e.error();
    known[name] = *p;
  }
  return known;
}

}  // namespace config_detail
}  // namespace tollgate
