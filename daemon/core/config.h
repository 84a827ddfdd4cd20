// tollgated's effective configuration: PROTOCOL.md section 5.
//
// Built once at start (and again on SIGHUP) from, in increasing priority:
// built-in defaults, the TOML file given with --config, the .env file given
// with --env-file, the process environment. Plain data; after loading it is
// immutable and may be shared read-only between threads (hold it through a
// std::shared_ptr<const Config>).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/env_file.h"
#include "daemon/core/budget.h"
#include "protocol/error.h"

namespace tollgate {

// One LLM provider in the selection chain.
struct ProviderConfig {
  std::string name;         // "anthropic", "openai", or a TOML-defined name
  std::string api;          // wire format: "anthropic" or "openai"
  std::string api_key;      // empty: not configured (unless keyless); never sent when empty
  std::string api_key_env;  // variable that sets the key, for error messages; empty when keyless
  std::string base_url;     // anthropic: <base>/v1/messages; openai: <base>/chat/completions
  std::string model;        // the model a call sends when neither it nor its agent names one
  // The prefix of the environment variables that set it: "ANTHROPIC_",
  // "OPENAI_", or the upper-cased name of a TOML-defined provider and "_"
  // (<NAME>_API_KEY, <NAME>_BASE_URL, <NAME>_MODEL, ...).
  std::string env_prefix;
  // A local server that needs no key (vLLM, Ollama): configured when its
  // base URL is set, sends no Authorization / x-api-key header. TOML keyless.
  bool keyless = false;
  // The models it accepts; empty: any. A call naming another model skips
  // it (model_not_accepted). TOML models.
  std::vector<std::string> models;
  // Does it accept images by URL (PROTOCOL.md section 8)? A call with a
  // url image is refused before reserving when the provider would get it
  // and this is false. TOML image_urls.
  bool image_urls = true;
  uint64_t monthly_limit = 0;                  // per agent per month, tokens
  std::optional<uint64_t> global_monthly_limit;  // all agents; nullopt = unlimited
  // Section 10: the same budgets in US dollars (nullopt: none). A call
  // must fit both its token and its dollar budgets.
  std::optional<double> monthly_limit_usd;         // per agent per month
  std::optional<double> global_monthly_limit_usd;  // all agents
  uint32_t rpm = 42;                           // requests per minute, 0 = unlimited
  uint32_t rpd = 3400;                         // requests per UTC day, 0 = unlimited
  // May a 502 or 504 answer to a sent request have been served upstream
  // (then it is charged in full)? *_GATEWAY_5XX_SERVED, TOML
  // gateway_5xx_served; nullopt ("auto"): decided by the base URL's host.
  std::optional<bool> gateway_5xx_served;

  // gateway_5xx_served, or when it is not set: true unless base_url's host
  // is the vendor's own API host (vendor_api_host).
  bool gateway_5xx_charged() const;
  // Can it be called: a key is set, or it is keyless and has a base URL.
  bool configured() const;
  // The variable whose absence leaves it unconfigured, for not_configured
  // messages: its key variable, or <NAME>_BASE_URL when keyless.
  std::string missing_variable() const;
  // Does it accept `model` (models is empty, or lists it)?
  bool accepts(const std::string& model) const;
};

// Is base_url's host the vendor's own API host for this wire format
// (api.anthropic.com for "anthropic", api.openai.com for "openai", the
// defaults)? Those hosts answer 502/504 only for requests they did not
// serve; anything else (a proxy, another gateway, a compatible service)
// may have served the request behind it.
bool vendor_api_host(std::string_view api, std::string_view base_url);

// Per-agent overrides from the TOML file ([agents.NAME]).
struct AgentConfig {
  std::map<std::string, uint64_t> monthly_limits;  // provider name -> tokens
  std::map<std::string, double> monthly_limits_usd;  // provider name -> US dollars (limits_usd)
  // This agent's chain order (provider names, each in Config::providers);
  // empty: the configured chain.
  std::vector<std::string> chain;
  // This agent's default model per provider (provider name -> model), sent
  // when the call names no model; providers not listed use their own.
  std::map<std::string, std::string> models;
  // Every call of this agent asks for the response cache, as if it said
  // `cache: true` (PROTOCOL.md section 10). TOML cache = true.
  bool cache = false;
};

// One place alert notifications go (PROTOCOL.md section 10): a webhook or
// an SMTP server. TOML [[notify.webhook]] / [[notify.email]], or the
// TOLLGATE_WEBHOOK_* / TOLLGATE_SMTP_* variables (docs/configuration.md).
// `secret` and `password` are never logged or shown.
struct NotifyDestination {
  enum class Kind { kWebhook, kEmail };
  Kind kind = Kind::kWebhook;
  std::string name;                 // unique; the outbox rows' destination
  std::vector<std::string> levels;  // the alert levels it gets; empty: all
  uint64_t timeout_ms = 10000;      // one delivery attempt, connect included
  // Consecutive refusals (a 4xx other than 408/425/429, an SMTP 5xx) after
  // which one alert is given up (logged, counted as failed); 0: never.
  uint32_t give_up_after = 20;
  // Webhook: POST to url, body "json" (the alert event) or "slack" ({text}),
  // signed with HMAC-SHA256 when secret is set.
  std::string url;
  std::string format = "json";
  std::string secret;
  // E-mail: smtp://host:port or smtps://host:port; STARTTLS "try",
  // "require" or "none"; login when username is set.
  std::string smtp_url;
  std::string from;
  std::vector<std::string> to;
  std::string username;
  std::string password;
  std::string starttls = "try";
};

// Alert notifications: where they go and how often a failing one is retried.
struct NotifyConfig {
  std::vector<NotifyDestination> destinations;
  uint64_t retry_min_ms = 1000;    // TOLLGATE_NOTIFY_RETRY_MIN_MS: first backoff ceiling
  uint64_t retry_max_ms = 300000;  // TOLLGATE_NOTIFY_RETRY_MAX_MS: backoff cap
  uint64_t timeout_ms = 10000;     // TOLLGATE_NOTIFY_TIMEOUT_MS: default timeout_ms
};

// Dollars per million tokens, by model name.
using Price = ledger::Price;

struct Config {
  std::vector<ProviderConfig> providers;  // chain order; first is primary

  // Agents named in TOML. When restrict_agents is true, only these may call.
  std::map<std::string, AgentConfig> agents;
  bool restrict_agents = false;

  std::map<std::string, Price> prices;  // by model

  uint32_t default_max_tokens = 1024;   // OPENAI_MAX_TOKENS
  double default_temperature = 0.7;     // OPENAI_TEMPERATURE
  bool enable_openai_fallback = true;   // ENABLE_OPENAI_FALLBACK
  double fallback_threshold = 0.95;     // OPENAI_FALLBACK_THRESHOLD (critical)
  double warning_threshold = 0.80;      // ALERT_WARNING_THRESHOLD
  double emergency_threshold = 0.98;    // ALERT_EMERGENCY_THRESHOLD
  bool shutdown_on_emergency = false;   // SHUTDOWN_ON_EMERGENCY
  uint64_t max_tokens_per_request = 17000;  // MAX_TOKENS_PER_REQUEST

  std::string listen = "tcp://127.0.0.1:5555";  // TOLLGATE_LISTEN
  std::string events = "tcp://127.0.0.1:5556";  // TOLLGATE_EVENTS
  std::string data_dir = "./var";               // TOLLGATE_DATA_DIR
  // "lmdb" (in data_dir) or a PostgreSQL URI shared by several daemons
  // (PROTOCOL.md section 12).
  std::string ledger = "lmdb";                  // TOLLGATE_LEDGER
  bool ledger_redo_log = true;                  // TOLLGATE_LEDGER_REDO_LOG
  uint32_t lease_seconds = 30;                  // TOLLGATE_LEASE_SECONDS
  // With PostgreSQL: how long a call's plan may reuse its agent's budgets
  // as last read (PgLedger::snapshot); 0: read them for every call.
  uint32_t plan_reuse_ms = 100;                 // TOLLGATE_PLAN_REUSE_MS
  std::string daemon_id;                        // TOLLGATE_DAEMON_ID ("": the host name)
  uint32_t max_attempts = 3;                    // TOLLGATE_MAX_ATTEMPTS
  uint32_t circuit_failures = 5;                // TOLLGATE_CIRCUIT_FAILURES
  uint32_t circuit_open_seconds = 30;           // TOLLGATE_CIRCUIT_OPEN_SECONDS
  bool allow_insecure_bind = false;             // TOLLGATE_ALLOW_INSECURE_BIND
  std::string http = "127.0.0.1:4000";          // TOLLGATE_HTTP ("off" disables)
  std::string http_admin_token;                 // TOLLGATE_HTTP_ADMIN_TOKEN
  // The agents' keys for /v1/* on the HTTP listener (PROTOCOL.md section
  // 11; daemon/server/agent_keys.h); re-read on reload.
  std::string agent_keys_file;                  // TOLLGATE_AGENT_KEYS_FILE
  // Calls the /v1/* endpoints run at once; more get overloaded (503).
  uint64_t http_max_calls = 64;                 // TOLLGATE_HTTP_MAX_CALLS
  // Each read of an HTTP request (headers, body) waits at most this long;
  // a /v1 body must arrive whole within 10 times it (slow clients).
  uint64_t http_read_timeout_ms = 5000;         // TOLLGATE_HTTP_READ_TIMEOUT_MS
  std::string curve_secret_key_file;            // TOLLGATE_CURVE_SECRET_KEY_FILE
  std::string curve_clients_file;               // TOLLGATE_CURVE_CLIENTS_FILE
  uint64_t max_request_bytes = 1 << 20;         // TOLLGATE_MAX_REQUEST_BYTES
  // Events queued per subscriber before PUB drops them (ZMQ_SNDHWM); a
  // subscriber that falls this far behind sees a gap in `seq`.
  uint64_t events_hwm = 10000;                  // TOLLGATE_EVENTS_HWM
  // The kernel send buffer of each subscriber's connection (ZMQ_SNDBUF),
  // bytes; 0: the OS default, which Linux grows up to net.ipv4.tcp_wmem's
  // maximum (4 MiB on Debian) before the HWM above even starts to fill.
  uint64_t events_sndbuf = 0;                   // TOLLGATE_EVENTS_SNDBUF
  // Replies and streamed parts queued for one client connection (ROUTER
  // ZMQ_SNDHWM); a streamed call whose part finds it full is cut.
  uint64_t replies_hwm = 100000;                // TOLLGATE_REPLIES_HWM
  std::string log_level = "info";               // TOLLGATE_LOG_LEVEL
  uint32_t workers = 0;                         // TOLLGATE_WORKERS, 0 = the CPUs it may run on
  // Every thread of the daemon under SCHED_BATCH: a thread one of the
  // others wakes does not preempt it, it runs once the other blocks
  // (tools/tollgated/main.cpp, docs/benchmarks.md). false: the policy it
  // was started with.
  bool sched_batch = true;                      // TOLLGATE_SCHED_BATCH
  uint64_t call_timeout_ms = 120000;            // TOLLGATE_CALL_TIMEOUT_MS
  uint64_t max_inflight = 10000;                // TOLLGATE_MAX_INFLIGHT
  // How long a call may queue for other calls' reservations to settle
  // (PROTOCOL.md section 3, rule 6); capped by the call's deadline.
  uint64_t admission_wait_ms = 30000;           // TOLLGATE_ADMISSION_WAIT_MS
  // A streamed answer with no bytes from the provider for this long ends
  // (PROTOCOL.md section 9).
  uint64_t stream_idle_ms = 60000;              // TOLLGATE_STREAM_IDLE_MS
  // At SIGTERM, how long calls in flight may run on before what is still
  // at a provider is cut (and charged as it may have been served).
  uint64_t shutdown_drain_ms = 10000;           // TOLLGATE_SHUTDOWN_DRAIN_MS
  // A budget with less than this fraction of its limit left is exhausted.
  double exhausted_fraction = 0.01;             // TOLLGATE_EXHAUSTED_FRACTION
  // Forecasts (PROTOCOL.md section 10): the burn rate's window, and how
  // often every budget's projection is checked for alert.forecast (0: never).
  // How a call's providers are ordered (PROTOCOL.md section 10): "chain",
  // the agent's chain order; "cheapest", by the call's expected cost.
  std::string selection = "chain";              // TOLLGATE_SELECTION
  uint32_t forecast_window_days = 7;            // TOLLGATE_FORECAST_WINDOW_DAYS
  uint32_t forecast_check_seconds = 300;        // TOLLGATE_FORECAST_CHECK_SECONDS
  // Alert notification destinations ([[notify.*]], TOLLGATE_WEBHOOK_*, ...).
  NotifyConfig notify;
  // The response cache (PROTOCOL.md section 10): how long an answer is
  // served again (0: the cache is off and `cache: true` is ignored), the
  // most bytes of answers kept in <data_dir>/cache (oldest evicted first),
  // and whether an answer is served only to the agent whose call made it.
  uint64_t cache_ttl_seconds = 3600;            // TOLLGATE_CACHE_TTL_SECONDS
  uint64_t cache_max_mb = 256;                  // TOLLGATE_CACHE_MAX_MB
  bool cache_per_agent = false;                 // TOLLGATE_CACHE_PER_AGENT

  // Not settings: what loading noticed and accepted, each a line for the
  // log at start and on reload and for --check-config (e.g. a variable
  // tollgated does not read, with the closest one it does).
  std::vector<std::string> warnings;

  const ProviderConfig* provider(const std::string& name) const;
  // The chain an agent's calls walk, in order: its [agents.NAME] chain, or
  // every provider (the configured chain). Pointers into `providers`.
  std::vector<const ProviderConfig*> chain_for(const std::string& agent) const;
  // Is `provider` the last one of the agent's chain (no fallback threshold)?
  bool last_in_chain(const std::string& agent, const std::string& provider) const;
  // The model a call of `agent` sends to `provider` when the call names
  // none: the agent's default for it, else the provider's model ("" for a
  // provider that is not configured).
  std::string model_for(const std::string& agent, const std::string& provider) const;
  // The agent's monthly limit for a provider: TOML override or the default.
  uint64_t agent_limit(const std::string& agent, const std::string& provider) const;
  // The agent's monthly dollar limit for a provider: TOML limits_usd or the
  // provider's MONTHLY_LIMIT_USD; nullopt: none.
  std::optional<double> agent_limit_usd(const std::string& agent, const std::string& provider) const;
  // Does a call of `agent` use the response cache (it asked, or its TOML
  // table says cache = true, and the cache is on)?
  bool uses_cache(const std::string& agent, bool asked) const;
};

// Where configuration comes from. Empty paths are not read.
struct ConfigSources {
  std::string toml_path;
  std::string env_file_path;  // "-PATH": optional (missing file is no error)
  // The process environment as NAME=VALUE strings (environ), read by the
  // caller so that tests can pass their own.
  std::vector<std::string> environment;
  // The wire formats a provider's `api` may name: the names of the
  // provider adapters, which live above core (the composition root passes
  // its AdapterRegistry's names()). A provider with any other api is a
  // configuration error naming the provider, its api and these names.
  std::vector<std::string> apis;
};

// Loads and validates. A bad value gives an Error whose message names the
// variable (or TOML key), its value and the rule, after the FILE:LINE it
// came from when it came from a file, e.g.
// "OPENAI_FALLBACK_THRESHOLD=1.7: must be a number from 0 to 1" or
// "/etc/tollgate/tollgate.env:12: OPENAI_RPM=ten: must be a whole number ...".
protocol::Result<Config> load_config(const ConfigSources& sources);

// The variables load_config reads (from the environment, the .env file or
// the TOML file's [settings]), sorted: the names it asks for, so the list
// cannot drift from the loader. Besides these it reads the key variable of
// each TOML-defined provider (`api_key_env`, default <NAME>_API_KEY) and its
// <NAME>_BASE_URL, <NAME>_MODEL, <NAME>_MONTHLY_LIMIT, ... (the variables
// of the built-in providers, with its own prefix).
// Other variables from the .env file, and variables in the environment
// with the prefixes ANTHROPIC_, OPENAI_ or TOLLGATE_ (or a typo or two
// away from a known name), get a warning in Config::warnings; in the TOML
// file's [settings] they are an error.
std::vector<std::string> known_variables();

// Variables with the daemon's prefixes that other parts of tollgate read
// (tollctl, the test harness), not tollgated: never warned about.
const std::vector<std::string>& other_tools_variables();

// The keys the TOML file may hold, sorted: top level (including the tables
// `settings`, `agents`, `providers`, `prices`), in a [providers.NAME] table
// (the names the loader asks for), in a [prices."MODEL"] table, and the
// reserved keys of an [agents.NAME] table (its other keys are provider
// names). Any other key is an error naming the closest known one.
struct TomlKeys {
  std::vector<std::string> top_level;
  std::vector<std::string> provider;
  std::vector<std::string> price;
  // Keys of an [agents.NAME] table that are not provider names (chain, models).
  std::vector<std::string> agent;
};
TomlKeys known_toml_keys();

// The effective configuration as KEY=VALUE lines, API keys and tokens
// redacted, for --check-config.
std::string describe_config(const Config& config);

}  // namespace tollgate
