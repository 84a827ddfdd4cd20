// tollgated: the daemon's entry point. Reads the configuration, binds the
// sockets, runs the server loop until SIGTERM/SIGINT, then shuts down in
// order: stop intake, drain, close.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include <sched.h>
#include <unistd.h>

#include "daemon/cache/response_store.h"
#include "daemon/cache/shared_answer_store.h"
#include "daemon/server/budget_collector.h"
#include "daemon/core/config.h"
#include "daemon/server/curve_keys.h"
#include "daemon/server/dispatcher.h"
#include "daemon/core/endpoint.h"
#include "daemon/server/agent_keys.h"
#include "daemon/server/http_api.h"
#include "daemon/ledger/lmdb/data_dir_lock.h"
#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/postgres/pg_ledger.h"
#include "daemon/server/metrics.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/core/reports.h"
#include "daemon/server/request_metrics.h"
#include "daemon/server/server.h"
#include "daemon/server/signals.h"
#include "daemon/server/status_reader.h"
#include "workers/calls/call_pool.h"
#include "workers/notify/ledger_outbox.h"
#include "workers/notify/notifier.h"
#include "workers/providers/adapter_registry.h"

extern char** environ;

namespace {

std::vector<std::string> process_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stdout_logger_mt("tollgated");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
  // Log lines are rare at info; flushing each keeps them in order with the
  // service manager's view and lets scripts read "ready" at once.
  spdlog::flush_on(spdlog::level::trace);
}

// A commit kept while the ledger was degraded, applied once it recovered:
// its alerts (and a rollover it started) are published then.
std::function<void(const tollgate::ledger::LateSettlement&)> publish_late(tollgate::Mailbox& mailbox) {
  return [&mailbox](const tollgate::ledger::LateSettlement& late) {
    if (!late.commit) return;
    tollgate::LoopMessage m;
    if (late.commit->rollover) {
      m.events.emplace_back(tollgate::rollover_event(*late.commit->rollover, tollgate::system_now_ms()));
    }
    tollgate::append_alert_events(late.commit->alerts, m.events);
    if (!m.events.empty()) mailbox.post(std::move(m));
  };
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "tollgated";
  return name;
}

// TOLLGATE_LEDGER=postgresql://...: the ledger that several daemons share.
tollgate::protocol::Result<std::unique_ptr<tollgate::ledger::Ledger>> open_pg_ledger(
    const tollgate::Config& config, tollgate::Mailbox& mailbox) {
  tollgate::ledger::PgLedgerOptions options;
  options.uri = config.ledger;
  options.daemon_id = config.daemon_id.empty() ? host_name() : config.daemon_id;
  options.lease = std::chrono::seconds(config.lease_seconds);
  options.snapshot_reuse = std::chrono::milliseconds(config.plan_reuse_ms);
  options.spool_dir = config.data_dir;
  options.on_late_settlement = publish_late(mailbox);
  // Alerts fired on the other daemons: published here too, with this
  // daemon's seq (PROTOCOL.md section 12).
  options.on_remote_alert = [&mailbox](const tollgate::ledger::Alert& alert) {
    tollgate::LoopMessage m;
    tollgate::append_alert_events({alert}, m.events);
    mailbox.post(std::move(m));
  };
  options.on_remote_record = [&mailbox](const tollgate::ledger::LedgerRecord& record) {
    tollgate::LoopMessage m;
    m.events.emplace_back(tollgate::ledger_event(record));
    mailbox.post(std::move(m));
  };
  auto opened = tollgate::ledger::PgLedger::open(options, tollgate::budget_policy(config),
                                                 tollgate::system_now_ms());
  if (!opened) return opened.error();
  spdlog::info("ledger: PostgreSQL, daemon id {}, leases of {} s", options.daemon_id,
               config.lease_seconds);
  return std::unique_ptr<tollgate::ledger::Ledger>(std::move(opened).value());
}

tollgate::protocol::Result<std::unique_ptr<tollgate::ledger::Ledger>> open_ledger(
    const tollgate::Config& config, tollgate::metrics::DaemonMetrics& metrics,
    tollgate::Mailbox& mailbox) {
  if (config.ledger != "lmdb") return open_pg_ledger(config, mailbox);
  tollgate::ledger::LmdbLedgerOptions options;
  options.dir = config.data_dir;
  options.redo_log = config.ledger_redo_log;
  options.on_batch = [&metrics](size_t ops, double commit_seconds) {
    metrics.ledger_batch_ops.observe(static_cast<double>(ops));
    metrics.ledger_fsync_duration.observe(commit_seconds);
  };
  options.on_late_settlement = publish_late(mailbox);
  auto opened = tollgate::ledger::LmdbLedger::open(options, tollgate::budget_policy(config),
                                                   tollgate::system_now_ms());
  if (!opened) return opened.error();
  return std::unique_ptr<tollgate::ledger::Ledger>(std::move(opened).value());
}

std::map<std::string, uint64_t> day_counts(const tollgate::ledger::Ledger& ledger,
                                           const tollgate::Config& config, int64_t now) {
  std::map<std::string, uint64_t> counts;
  for (const auto& p : config.providers) {
    if (auto n = ledger.requests_today(p.name, now)) counts[p.name] = *n;
  }
  return counts;
}

// The response cache's store in <data_dir>/cache/ (PROTOCOL.md section
// 10), its metrics registered; nullptr when TOLLGATE_CACHE_TTL_SECONDS is 0.
tollgate::protocol::Result<std::unique_ptr<tollgate::cache::AnswerStore>> open_cache(
    const tollgate::Config& config, tollgate::metrics::Registry& registry) {
  if (config.cache_ttl_seconds == 0) return std::unique_ptr<tollgate::cache::AnswerStore>();
  auto m = tollgate::metrics::register_cache_metrics(registry);
  tollgate::cache::StoreOptions options;
  options.dir = (std::filesystem::path(config.data_dir) / "cache").string();
  options.max_bytes = config.cache_max_mb << 20;
  options.on_write = [m](const tollgate::cache::StoreStats& now, uint64_t evicted,
                         uint64_t expired) {
    m.entries.set(static_cast<double>(now.entries));
    m.bytes.set(static_cast<double>(now.bytes));
    if (evicted) m.evictions.with({"size"}).inc(static_cast<double>(evicted));
    if (expired) m.evictions.with({"expired"}).inc(static_cast<double>(expired));
  };
  auto store = tollgate::cache::ResponseStore::open(options);
  if (!store) return store.error();
  m.entries.set(static_cast<double>((*store)->stats().entries));
  m.bytes.set(static_cast<double>((*store)->stats().bytes));
  spdlog::info("response cache: {} entries, {} of {} bytes, ttl {} s", (*store)->stats().entries,
               (*store)->stats().bytes, options.max_bytes, config.cache_ttl_seconds);
  if (config.ledger == "lmdb") return std::unique_ptr<tollgate::cache::AnswerStore>(std::move(store).value());
  // Several daemons on one PostgreSQL ledger share their answers.
  tollgate::cache::SharedStoreOptions shared;
  shared.uri = config.ledger;
  shared.max_bytes = options.max_bytes;
  auto both = tollgate::cache::SharedAnswerStore::open(shared, std::move(store).value());
  if (!both) return both.error();
  spdlog::info("response cache: shared with the other daemons in PostgreSQL");
  return std::unique_ptr<tollgate::cache::AnswerStore>(std::move(both).value());
}

// TOLLGATE_WORKERS=0: one worker per CPU this process may run on (its
// affinity: taskset, systemd's CPUAffinity=, a container's cpuset), not per
// CPU of the machine. A daemon pinned to one core with a worker per CPU of
// the machine only switches between its workers (docs/benchmarks.md).
size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<size_t>(CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// The call pool, its provider attempts and cache hits counted in the
// metrics (`cache` may be null: no response cache).
std::unique_ptr<tollgate::workers::CallPool> make_call_pool(
    const tollgate::Config& config, tollgate::ledger::Ledger& ledger,
    tollgate::ProviderRuntime& runtime, tollgate::CallSink& sink, tollgate::metrics::DaemonMetrics& metrics,
    tollgate::metrics::Registry& registry, tollgate::cache::AnswerStore* cache) {
  const size_t workers = config.workers ? config.workers : usable_cpus();
  auto calls = std::make_unique<tollgate::workers::CallPool>(ledger, runtime, sink,
                                                             tollgate::SystemClock::instance(), workers);
  calls->set_attempt_observer([&metrics](const std::string& provider, double seconds) {
    metrics.provider_request_duration.with({provider}).observe(seconds);
  });
  calls->set_times_observer([&metrics](const tollgate::workers::CallTimes& t) {
    metrics.call_ledger_wait.observe(t.ledger_wait);
    metrics.call_other.observe(t.other());
  });
  if (cache) {
    auto m = tollgate::metrics::register_cache_metrics(registry);  // the families open_cache made
    calls->set_cache(cache, [m](bool hit) { (hit ? m.hits : m.misses).inc(); });
  }
  return calls;
}

// What start-up refuses short of binding and opening the ledger: the bind
// policy of PROTOCOL.md section 6 with the CurveZMQ key files as they are,
// and an ipc:// endpoint in a directory that does not exist. load_config
// has checked everything else (addresses, the HTTP listener's bind).
// --check-config runs the same, so that it passes only what start-up takes.
tollgate::protocol::Result<void> check_before_binding(const tollgate::Config& config) {
  auto keys = tollgate::curve::load_curve_keys(config.curve_secret_key_file, config.curve_clients_file);
  if (!keys) return keys.error();
  if (auto agent_keys = tollgate::AgentKeys::load(config.agent_keys_file); !agent_keys) {
    return agent_keys.error();
  }
  for (const auto& [name, ep] : {std::pair{"TOLLGATE_LISTEN", config.listen},
                                 std::pair{"TOLLGATE_EVENTS", config.events}}) {
    auto allowed = tollgate::check_bind_allowed(name, ep, keys->has_value(), config.allow_insecure_bind);
    if (!allowed) return allowed.error();
    if (ep.rfind("ipc://", 0) == 0) {
      const auto dir = std::filesystem::path(ep.substr(6)).parent_path();
      std::error_code ec;
      if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
        return tollgate::protocol::Error::bad_request(std::string(name) + "=" + ep + ": the directory " +
                                                      dir.string() + " does not exist");
      }
    }
  }
  return {};
}

int critical(const tollgate::protocol::Error& error, int exit_code) {
  spdlog::critical("{}", error.message);
  return exit_code;
}

int configuration_error(const std::string& message, bool check_only) {
  std::cerr << "tollgated: configuration error: " << message << "\n";
  if (check_only) std::cerr << "tollgated: start-up would refuse this configuration\n";
  return 2;
}

// SIGHUP: the same sources, read again (the environment as it was at start
// plus the files as they are now).
tollgate::protocol::Result<tollgate::Config> reload_config(const tollgate::ConfigSources& sources) {
  return tollgate::load_config(sources);
}

// What opening the ledger found: crash recovery, a new month, alerts. The
// events carry the time the ledger logged them at (the `ledger_events` op).
void publish_open_report(const tollgate::ledger::OpenReport& report,
                         tollgate::EventPublisher& events) {
  if (report.rollover) events.publish(tollgate::rollover_event(*report.rollover, report.at_ms));
  if (!report.charges.empty()) {
    spdlog::warn("recovered {} tokens of reservations left by a crash; charged in full",
                 report.recovered_tokens);
    events.publish(tollgate::recovered_event(report, report.at_ms));
  }
  std::vector<tollgate::protocol::Event> alerts;
  tollgate::append_alert_events(report.alerts, alerts);
  for (const auto& a : alerts) events.publish(a);
}

// The command line: --version and --help answered here (their exit code
// returned), the rest into `sources` and `check_config`.
std::optional<int> parse_command_line(int argc, char** argv, tollgate::ConfigSources& sources,
                                      bool& check_config) {
  CLI::App app{"tollgated: shared LLM provider gateway with hard token budgets"};
  bool version = false;
  app.add_option("--config", sources.toml_path, "TOML configuration file");
  app.add_option("--env-file", sources.env_file_path,
                 ".env file (KEY=VALUE lines), re-read on SIGHUP; --env-file=-PATH: "
                 "a missing file is no error");
  app.add_flag("--check-config", check_config,
               "print the effective configuration (secrets redacted) and exit");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // A mistyped option is a usage error: exit 2 like a bad setting.
    std::cerr << "tollgated: " << e.what() << "\n"
              << CLI::Formatter().make_usage(&app, "tollgated") << "Run with --help for more information.\n";
    return 2;
  }
  if (version) {
    std::cout << "tollgated " << TOLLGATE_VERSION << "\n";
    return 0;
  }
  return std::nullopt;
}

// The HTTP listener (TOLLGATE_HTTP), reading through its own StatusReader
// on its threads; nullptr when it is off. Exits the process when it cannot
// start, as a bind failure of the ZeroMQ sockets does.
tollgate::protocol::Result<std::unique_ptr<tollgate::HttpApi>> start_http(
    const std::shared_ptr<const tollgate::Config>& config, tollgate::HttpApi::Deps deps,
    tollgate::metrics::Registry& registry, tollgate::StatusReader& status,
    tollgate::Dispatcher& dispatcher) {
  auto address = tollgate::parse_http_address(config->http);
  if (!address || !*address) return std::unique_ptr<tollgate::HttpApi>();
  auto started = tollgate::HttpApi::start(**address, config, std::move(deps));
  if (!started) return started.error();
  auto http = std::move(started).value();
  tollgate::add_budget_collector(registry, status, [api = http.get()] { return api->config(); });
  dispatcher.add_config_listener(
      [api = http.get()](const std::shared_ptr<const tollgate::Config>& c) { api->set_config(c); });
  return http;
}

// Alert notifications (PROTOCOL.md section 10): a Notifier delivering the
// ledger's outbox to the configured destinations, started; nullptr when
// there are none (the outbox then gets no rows).
std::unique_ptr<tollgate::notify::Notifier> start_notifier(const tollgate::Config& config,
                                                           tollgate::notify::LedgerOutbox& outbox,
                                                           tollgate::metrics::Registry& registry) {
  std::vector<std::string> names;
  for (const auto& d : config.notify.destinations) names.push_back(d.name);
  outbox.drop_unconfigured(names);
  if (config.notify.destinations.empty()) return nullptr;
  auto notifier = std::make_unique<tollgate::notify::Notifier>(
      config.notify.destinations, outbox, tollgate::notify::notifier_options(config.notify, &registry));
  notifier->start();
  spdlog::info("alert notifications to {} destination(s)", config.notify.destinations.size());
  return notifier;
}

// Alert notifications: what a previous run left in the outbox goes out
// first; every alert published wakes the sender; a reload with other
// destinations replaces it (what it was sending is sent again, with the
// same delivery id). `notifier` must outlive the dispatcher's listeners.
void wire_notifications(const tollgate::Config& config, tollgate::notify::LedgerOutbox& outbox,
                        tollgate::metrics::Registry& registry, tollgate::Dispatcher& dispatcher,
                        std::unique_ptr<tollgate::notify::Notifier>& notifier) {
  notifier = start_notifier(config, outbox, registry);
  dispatcher.set_alert_listener([&notifier] {
    if (notifier) notifier->notify_new();
  });
  dispatcher.add_config_listener([&](const std::shared_ptr<const tollgate::Config>& c) {
    notifier.reset();
    notifier = start_notifier(*c, outbox, registry);
  });
}

// TOLLGATE_SCHED_BATCH: this thread, and every thread started after it
// (they inherit the policy), under SCHED_BATCH. A call passes from thread
// to thread (ZeroMQ's I/O thread, the server loop, a worker, the ledger's
// writer and back). Under the default policy each thread woken on a busy
// CPU preempts the one that woke it at once, so under load the loop sends
// one reply per wake-up and ZeroMQ's I/O thread writes one message per
// send. Under SCHED_BATCH the woken thread runs when the running one blocks
// or its time slice ends, and then finds several messages waiting: fewer
// switches and system calls per call (docs/benchmarks.md). A woken thread
// still runs at once on an idle CPU. Nothing to do when the service
// manager started it so (the shipped unit's CPUSchedulingPolicy=batch: its
// system call filter refuses sched_setscheduler); not fatal when refused.
void batch_scheduling() {
  if (sched_getscheduler(0) == SCHED_BATCH) return;
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
    spdlog::warn("TOLLGATE_SCHED_BATCH: cannot set SCHED_BATCH ({}); running under the policy it was "
                 "started with (under systemd: CPUSchedulingPolicy=batch in the unit)",
                 std::strerror(errno));
  }
}

// Runs the daemon with a valid configuration until SIGTERM/SIGINT; the
// process's exit code.
int run_daemon(const std::shared_ptr<const tollgate::Config>& config, const tollgate::ConfigSources& sources) {
  setup_logging(config->log_level);
  for (const auto& w : config->warnings) spdlog::warn("{}", w);
  if (config->sched_batch) batch_scheduling();
  // Before any thread starts, so every thread inherits the blocked mask.
  tollgate::SignalSource signals;

  // Outlives everything that updates or renders it.
  tollgate::metrics::Registry registry;
  auto metrics = tollgate::metrics::register_daemon_metrics(registry);
  tollgate::RequestMetrics request_metrics(metrics);

  // Before anything binds or opens the ledger: a second daemon on this
  // directory would charge the first one's live reservations as leftovers
  // of a crash. Held until this returns.
  auto dir_lock = tollgate::ledger::DataDirLock::acquire(config->data_dir);
  if (!dir_lock) return critical(dir_lock.error(), 2);

  zmq::context_t context(1);
  auto server = tollgate::Server::create(context, *config);
  if (!server) return critical(server.error(), 1);
  auto ledger = open_ledger(*config, metrics, (*server)->mailbox());
  if (!ledger) return critical(ledger.error(), 1);
  const int64_t now = tollgate::system_now_ms();
  tollgate::ProviderRuntime runtime(*config, day_counts(**ledger, *config, now), now);
  tollgate::Dispatcher dispatcher(config, **ledger, runtime, (*server)->mailbox());
  dispatcher.set_reloader([sources] { return reload_config(sources); });
  // Outlives the pool (declared before it).
  auto cache = open_cache(*config, registry);
  if (!cache) return critical(cache.error(), 1);
  auto calls = make_call_pool(*config, **ledger, runtime, (*server)->call_sink(), metrics, registry,
                              cache->get());
  dispatcher.set_call_service(calls.get());
  (*server)->set_handler(&dispatcher);
  (*server)->set_metrics(&request_metrics);

  tollgate::StatusReader status(**ledger, runtime, tollgate::system_now_ms);
  std::atomic<bool> serving{false};
  tollgate::HttpApi::Deps deps;
  deps.status = &status;
  deps.server = server->get();
  deps.metrics = &registry;
  deps.requests = &request_metrics;
  deps.not_ready = [&serving, &ledger]() -> std::optional<std::string> {
    if (!serving) return "not serving requests (starting or stopping)";
    if ((*ledger)->degraded()) return "the ledger is degraded: writes are refused";
    return std::nullopt;
  };
  auto http = start_http(config, std::move(deps), registry, status, dispatcher);
  if (!http) return critical(http.error(), 1);
  tollgate::notify::LedgerOutbox outbox(**ledger);
  std::unique_ptr<tollgate::notify::Notifier> notifier;
  wire_notifications(*config, outbox, registry, dispatcher, notifier);
  publish_open_report((*ledger)->report(), (*server)->events());
  // Ready before saying so: whoever reads the line may ask /readyz at once.
  serving = true;
  spdlog::info("tollgated {} ready requests={} events={} http={} pid={}", TOLLGATE_VERSION,
               (*server)->endpoints().requests, (*server)->endpoints().events,
               *http ? (*http)->bound() : std::string("off"), getpid());
  sd_notify(0, "READY=1");
  (*server)->run(signals);
  serving = false;
  sd_notify(0, "STOPPING=1");
  // Ordered shutdown: no new requests; in-flight calls (HTTP's too) finish
  // up to a deadline; the rest are cut and answered; then the listener stops
  // (a POST still waiting gets 503), the workers, the notifier, and the
  // ledger flushes its last batch as it closes.
  calls->stop_waiting();
  (*server)->drain(std::chrono::milliseconds(config->shutdown_drain_ms));
  // What is still at a provider (a long stream, a stalled provider) is cut
  // and charged as the provider may have served it; its answer (partial,
  // for a stream past its first part) still goes out.
  calls->abort_in_flight();
  (*server)->drain(std::chrono::seconds(5));
  if (*http) (*http)->stop();
  calls.reset();
  notifier.reset();
  spdlog::info("tollgated stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tollgate::ConfigSources sources;
  bool check_config = false;
  if (auto exit_code = parse_command_line(argc, argv, sources, check_config)) return *exit_code;
  sources.environment = process_environment();
  // A provider's api must be one an adapter reads (also on SIGHUP: the
  // reloader keeps these sources).
  sources.apis = tollgate::workers::AdapterRegistry::builtin().names();
  auto loaded = tollgate::load_config(sources);
  if (!loaded) return configuration_error(loaded.error().message, check_config);
  auto config = std::make_shared<const tollgate::Config>(std::move(loaded).value());
  if (auto ok = check_before_binding(*config); !ok) return configuration_error(ok.error().message, check_config);
  if (check_config) {
    for (const auto& w : config->warnings) std::cerr << "tollgated: warning: " << w << "\n";
    std::cout << tollgate::describe_config(*config);
    return 0;
  }
  return run_daemon(config, sources);
}
