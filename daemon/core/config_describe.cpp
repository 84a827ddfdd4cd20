// describe_config (config.h): the effective configuration for --check-config.
#include <sstream>

#include "daemon/core/config.h"

namespace tollgate {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

void describe_provider(std::ostream& o, const ProviderConfig& p) {
  auto opt = [](const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "(none)"; };
  auto opt_usd = [](const std::optional<double>& v) {
    if (!v) return std::string("(none)");
    std::ostringstream s;
    s << *v;
    return s.str();
  };
  const std::string k = "provider." + p.name + ".";
  o << k << "api=" << p.api << "\n";
  if (p.keyless) {
    o << k << "keyless=true (sends no key; "
      << (p.configured() ? std::string("configured") : "not configured: " + p.missing_variable() + " not set")
      << ")\n";
  } else {
    o << k << p.api_key_env << "=" << (p.api_key.empty() ? "(not set)" : "(set, redacted)") << "\n";
  }
  o << k << "base_url=" << p.base_url << "\n"
    << k << "model=" << p.model << "\n"
    << k << "models=" << (p.models.empty() ? "(any)" : joined(p.models)) << "\n"
    << k << "image_urls=" << (p.image_urls ? "true" : "false") << "\n"
    << k << "monthly_limit=" << p.monthly_limit << "\n"
    << k << "global_monthly_limit=" << opt(p.global_monthly_limit) << "\n"
    << k << "monthly_limit_usd=" << opt_usd(p.monthly_limit_usd) << "\n"
    << k << "global_monthly_limit_usd=" << opt_usd(p.global_monthly_limit_usd) << "\n"
    << k << "rpm=" << p.rpm << "\n"
    << k << "rpd=" << p.rpd << "\n"
    << k << "gateway_5xx_served=" << (p.gateway_5xx_charged() ? "true" : "false")
    << (p.gateway_5xx_served ? " (set)"
        : vendor_api_host(p.api, p.base_url) ? " (auto: the vendor's own API host)"
                                             : " (auto: not the vendor's own API host)")
    << "\n";
}

void describe_agent(std::ostream& o, const std::string& name, const AgentConfig& a) {
  for (const auto& [prov, lim] : a.monthly_limits) o << "agent." << name << "." << prov << "=" << lim << "\n";
  for (const auto& [prov, usd] : a.monthly_limits_usd) {
    o << "agent." << name << ".limits_usd." << prov << "=" << usd << "\n";
  }
  if (!a.chain.empty()) o << "agent." << name << ".chain=" << joined(a.chain) << "\n";
  if (a.cache) o << "agent." << name << ".cache=true\n";
  for (const auto& [prov, model] : a.models) o << "agent." << name << ".model." << prov << "=" << model << "\n";
}

// A URL up to its host and port: a webhook's path may itself be a secret
// (Slack's is).
std::string url_origin(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "(set)";
  const auto path = url.find('/', scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path) + "/...";
}

// TOLLGATE_LEDGER without a password (postgresql://user:pw@host/db and
// ?password=... both hidden).
std::string ledger_uri_for_display(const std::string& ledger) {
  if (ledger == "lmdb") return ledger;
  std::string out = ledger;
  const auto scheme = out.find("://");
  const auto at = out.find('@');
  if (scheme != std::string::npos && at != std::string::npos) {
    const auto colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  const auto param = out.find("password=");
  if (param != std::string::npos) {
    const auto end = out.find('&', param);
    out.replace(param + 9, end == std::string::npos ? std::string::npos : end - param - 9, "***");
  }
  return out;
}

void describe_notify(std::ostream& o, const NotifyConfig& n) {
  for (const auto& d : n.destinations) {
    const std::string k = "notify." + d.name + ".";
    if (d.kind == NotifyDestination::Kind::kWebhook) {
      o << k << "webhook=" << url_origin(d.url) << "\n"
        << k << "format=" << d.format << "\n"
        << k << "secret=" << (d.secret.empty() ? "(not set: unsigned)" : "(set, redacted)") << "\n";
    } else {
      o << k << "smtp_url=" << url_origin(d.smtp_url) << "\n"
        << k << "from=" << d.from << "\n"
        << k << "to=" << joined(d.to) << "\n"
        << k << "starttls=" << d.starttls << "\n"
        << k << "login=" << (d.username.empty() ? "(none)" : d.username + " (password redacted)") << "\n";
    }
    o << k << "levels=" << (d.levels.empty() ? "(all)" : joined(d.levels)) << "\n"
      << k << "timeout_ms=" << d.timeout_ms << "\n"
      << k << "give_up_after=" << d.give_up_after << "\n";
  }
  o << "TOLLGATE_NOTIFY_RETRY_MIN_MS=" << n.retry_min_ms << "\n"
    << "TOLLGATE_NOTIFY_RETRY_MAX_MS=" << n.retry_max_ms << "\n"
    << "TOLLGATE_NOTIFY_TIMEOUT_MS=" << n.timeout_ms << "\n";
}

}  // namespace

std::string describe_config(const Config& c) {
  std::ostringstream o;
  auto secret = [](const std::string& v) { return v.empty() ? "(not set)" : "(set, redacted)"; };
  for (const auto& p : c.providers) describe_provider(o, p);
  for (const auto& [name, a] : c.agents) describe_agent(o, name, a);
  for (const auto& [model, p] : c.prices) {
    o << "price." << model << "=" << p.input_per_million << "/" << p.output_per_million
      << " USD per Mtok (cache write " << p.cache_write() << (p.cache_write_per_million ? "" : " = input")
      << ", cache read " << p.cache_read() << (p.cache_read_per_million ? "" : " = input") << ")\n";
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
    << "TOLLGATE_LEDGER=" << ledger_uri_for_display(c.ledger) << "\n"
    << "TOLLGATE_LEDGER_REDO_LOG=" << (c.ledger_redo_log ? "true" : "false") << "\n"
    << "TOLLGATE_LEASE_SECONDS=" << c.lease_seconds << "\n"
    << "TOLLGATE_PLAN_REUSE_MS=" << c.plan_reuse_ms << "\n"
    << "TOLLGATE_DAEMON_ID=" << (c.daemon_id.empty() ? "(the host name)" : c.daemon_id) << "\n"
    << "TOLLGATE_MAX_ATTEMPTS=" << c.max_attempts << "\n"
    << "TOLLGATE_CIRCUIT_FAILURES=" << c.circuit_failures << "\n"
    << "TOLLGATE_CIRCUIT_OPEN_SECONDS=" << c.circuit_open_seconds << "\n"
    << "TOLLGATE_ALLOW_INSECURE_BIND=" << (c.allow_insecure_bind ? "1" : "0") << "\n"
    << "TOLLGATE_HTTP=" << c.http << "\n"
    << "TOLLGATE_HTTP_ADMIN_TOKEN=" << secret(c.http_admin_token) << "\n"
    << "TOLLGATE_AGENT_KEYS_FILE=" << c.agent_keys_file << "\n"
    << "TOLLGATE_HTTP_MAX_CALLS=" << c.http_max_calls << "\n"
    << "TOLLGATE_HTTP_READ_TIMEOUT_MS=" << c.http_read_timeout_ms << "\n"
    << "TOLLGATE_CURVE_SECRET_KEY_FILE=" << c.curve_secret_key_file << "\n"
    << "TOLLGATE_CURVE_CLIENTS_FILE=" << c.curve_clients_file << "\n"
    << "TOLLGATE_MAX_REQUEST_BYTES=" << c.max_request_bytes << "\n"
    << "TOLLGATE_EVENTS_HWM=" << c.events_hwm << "\n"
    << "TOLLGATE_EVENTS_SNDBUF=" << c.events_sndbuf << "\n"
    << "TOLLGATE_REPLIES_HWM=" << c.replies_hwm << "\n"
    << "TOLLGATE_LOG_LEVEL=" << c.log_level << "\n"
    << "TOLLGATE_WORKERS=" << c.workers << "\n"
    << "TOLLGATE_SCHED_BATCH=" << (c.sched_batch ? "true" : "false") << "\n"
    << "TOLLGATE_CALL_TIMEOUT_MS=" << c.call_timeout_ms << "\n"
    << "TOLLGATE_MAX_INFLIGHT=" << c.max_inflight << "\n"
    << "TOLLGATE_ADMISSION_WAIT_MS=" << c.admission_wait_ms << "\n"
    << "TOLLGATE_STREAM_IDLE_MS=" << c.stream_idle_ms << "\n"
    << "TOLLGATE_SHUTDOWN_DRAIN_MS=" << c.shutdown_drain_ms << "\n"
    << "TOLLGATE_EXHAUSTED_FRACTION=" << c.exhausted_fraction << "\n"
    << "TOLLGATE_SELECTION=" << c.selection << "\n"
    << "TOLLGATE_FORECAST_WINDOW_DAYS=" << c.forecast_window_days << "\n"
    << "TOLLGATE_FORECAST_CHECK_SECONDS=" << c.forecast_check_seconds << "\n";
  describe_notify(o, c.notify);
  o << "TOLLGATE_CACHE_TTL_SECONDS=" << c.cache_ttl_seconds
    << (c.cache_ttl_seconds ? "" : " (off)") << "\n"
    << "TOLLGATE_CACHE_MAX_MB=" << c.cache_max_mb << "\n"
    << "TOLLGATE_CACHE_PER_AGENT=" << (c.cache_per_agent ? "true" : "false") << "\n";
  return o.str();
}

}  // namespace tollgate
