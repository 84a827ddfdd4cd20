// tollctl: the operator's command line for tollgated (PROTOCOL.md ops).
//
// main wires CLI11 to the subcommands in commands.h; rendering lives in
// render.h; CurveZMQ keys (--key, --server-key, keygen) in curve_client.h.
// Exit codes: 0 ok, 1 the daemon answered an error (printed as
// "tollctl: CODE: MESSAGE"), 2 usage error, 3 no answer within --timeout,
// 4 the daemon answered `timeout` (a call's deadline passed).
// CLI11 2.1 trips g++ 12's -Wnull-dereference inside its own templates.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <cstdlib>
#include <iostream>
#include <optional>

#include "protocol/requests.h"
#include "tools/tollctl/commands.h"
#include "tools/tollctl/migrate_ledger.h"

namespace {

using tollgate::tools::GlobalOptions;

template <class T>
std::optional<T> if_given(const CLI::Option* opt, const T& value) {
  return opt->count() > 0 ? std::optional<T>(value) : std::nullopt;
}

// The subcommands and the values CLI11 parses into; run() dispatches.
class Cli {
 public:
  explicit Cli(CLI::App& app) {
    if (const char* ep = std::getenv("TOLLGATE_LISTEN")) o_.endpoint = ep;
    if (const char* ep = std::getenv("TOLLGATE_EVENTS")) o_.events_endpoint = ep;
    if (const char* key = std::getenv("TOLLGATE_CURVE_SERVER_KEY")) o_.server_key = key;
    app.add_option("--endpoint,-e", o_.endpoint, "tollgated request endpoint ($TOLLGATE_LISTEN)")
        ->capture_default_str();
    app.add_option("--events", o_.events_endpoint, "tollgated events endpoint ($TOLLGATE_EVENTS)")
        ->capture_default_str();
    timeout_opt_ = app.add_option("--timeout", o_.timeout_ms,
                   "milliseconds to wait for an answer (call: at least its deadline + 5000; "
                   "call --stream: also the longest wait between parts)")
        ->capture_default_str()
        ->check(CLI::Range(1, static_cast<int>(tollgate::protocol::kMaxTimeoutMs)));
    app.add_flag("--json", o_.json, "print replies as JSON (events: one object per line)");
    app.add_option("--key", o_.key_file, "this client's CurveZMQ secret key file (from tollctl keygen --out)")
        ->type_name("FILE");
    app.add_option("--server-key", o_.server_key,
                   "the daemon's CurveZMQ public key, or a file holding it ($TOLLGATE_CURVE_SERVER_KEY)")
        ->type_name("KEY_OR_FILE");
    app.require_subcommand(1);
    add_status_commands(app);
    add_action_commands(app);
    add_operator_commands(app);
    add_migrate_command(app);
  }

  int run() {
    namespace t = tollgate::tools;
    if (keygen_->parsed()) return t::run_keygen(if_given(keygen_out_, keygen_path_));
    if (migrate_->parsed()) return run_migrate();
    auto curve = t::load_client_keys(o_.key_file, o_.server_key);
    if (!curve) {
      std::cerr << "tollctl: " << curve.error().message << "\n";
      return t::kExitUsage;
    }
    o_.curve = std::move(*curve);
    if (ping_->parsed()) return t::run_ping(o_);
    if (summary_->parsed()) return t::run_summary(o_);
    if (usage_->parsed()) return t::run_usage(o_, agent_);
    if (provider_status_->parsed()) return t::run_provider_status(o_, if_given(optional_agent_, agent_));
    if (recommend_->parsed()) return t::run_recommend(o_, agent_);
    if (emergency_->parsed()) return t::run_emergency_status(o_);
    if (alerts_->parsed()) {
      return t::run_alerts(o_, {if_given(alerts_agent_, agent_), if_given(since_opt_, since_),
                                if_given(limit_opt_, limit_)});
    }
    if (history_->parsed()) return t::run_history(o_, agent_, if_given(months_opt_, months_));
    if (ledger_events_->parsed()) {
      return t::run_ledger_events(o_, {if_given(ledger_since_opt_, since_), if_given(ledger_limit_opt_, limit_)});
    }
    if (reset_->parsed()) return t::run_reset(o_, {agent_, if_given(provider_opt_reset_, provider_), yes_, force_});
    if (call_->parsed()) {
      if ((prompt_opt_->count() > 0) == (request_opt_->count() > 0)) {
        std::cerr << "tollctl: call needs a PROMPT or --request FILE (one of them)\n";
        return t::kExitUsage;
      }
      return t::run_call(o_, {agent_, prompt_, if_given(request_opt_, request_file_),
                              if_given(provider_opt_call_, provider_),
                              if_given(max_tokens_opt_, max_tokens_), if_given(system_opt_, system_),
                              if_given(idem_opt_, idempotency_key_),
                              if_given(call_timeout_opt_, call_timeout_ms_), stream_, cache_});
    }
    if (set_limit_->parsed()) return t::run_set_limit(o_, {agent_, provider_, limit_text_});
    if (limits_->parsed()) return t::run_limits(o_);
    if (forecast_->parsed()) return t::run_forecast(o_, if_given(forecast_agent_, agent_));
    if (report_->parsed()) {
      return t::run_report(o_, {if_given(report_agent_, agent_), if_given(days_opt_, days_), csv_});
    }
    if (events_->parsed()) {
      return t::run_events(o_, {prefixes_, if_given(count_opt_, count_),
                                if_given(timeout_opt_, o_.timeout_ms)});
    }
    return tollgate::tools::kExitUsage;
  }

 private:
  void add_status_commands(CLI::App& app) {
    ping_ = app.add_subcommand("ping", "check that tollgated answers; print version and uptime");
    summary_ = app.add_subcommand("summary", "usage of every provider and agent this month");
    usage_ = app.add_subcommand("usage", "one agent's usage, level and recommended provider");
    usage_->add_option("AGENT", agent_, "agent name")->required();
    provider_status_ = app.add_subcommand("provider-status", "circuits, rate limits and availability");
    optional_agent_ = provider_status_->add_option("AGENT", agent_, "only this agent");
    recommend_ = app.add_subcommand("recommend", "the provider a call would use now");
    recommend_->add_option("AGENT", agent_, "agent name")->required();
    emergency_ = app.add_subcommand("emergency-status", "emergency level, reasons and agents at risk");
    alerts_ = app.add_subcommand("alerts", "budget alerts, newest first");
    alerts_agent_ = alerts_->add_option("--agent", agent_, "only this agent (\"*\" for global alerts)");
    since_opt_ = alerts_->add_option("--since", since_, "unix ms or ISO-8601 UTC date/time");
    limit_opt_ = alerts_->add_option("--limit", limit_, "at most this many")
                     ->check(CLI::Range(1u, tollgate::protocol::kMaxAlertsLimit));
    history_ = app.add_subcommand("history", "monthly usage of an agent");
    history_->add_option("AGENT", agent_, "agent name")->required();
    months_opt_ = history_->add_option("--months", months_, "how many months (default 6)")
                      ->check(CLI::Range(1u, tollgate::protocol::kMaxHistoryMonths));
    ledger_events_ = app.add_subcommand(
        "ledger-events",
        "resets, limit changes, month rollovers and crash recoveries, newest first "
        "(kept across restarts)");
    ledger_since_opt_ = ledger_events_->add_option("--since", since_, "unix ms or ISO-8601 UTC date/time");
    ledger_limit_opt_ = ledger_events_->add_option("--limit", limit_, "at most this many (default 100)")
                            ->check(CLI::Range(1u, tollgate::protocol::kMaxLedgerEventsLimit));
  }

  void add_action_commands(CLI::App& app) {
    reset_ = app.add_subcommand("reset", "clear an agent's usage this month (asks first)");
    reset_->add_option("AGENT", agent_, "agent name")->required();
    provider_opt_reset_ = reset_->add_option("--provider", provider_, "only this provider");
    reset_->add_flag("--yes,-y", yes_, "do not ask");
    reset_->add_flag("--force", force_, "reset an agent that has no usage in the ledger (a typo otherwise)");
    call_ = app.add_subcommand("call", "run a prompt (or a call given as JSON) through tollgated");
    call_->add_option("AGENT", agent_, "agent name")->required();
    prompt_opt_ = call_->add_option("PROMPT", prompt_, "the prompt (or --request)");
    request_opt_ = call_->add_option("--request", request_file_,
                                     "the call's fields as a JSON object: messages with content blocks, "
                                     "system, tools, tool_choice, stop_sequences, top_p, ... (PROTOCOL.md "
                                     "section 8); AGENT and the options given override it")
                       ->type_name("FILE")
                       ->check(CLI::ExistingFile);
    provider_opt_call_ = call_->add_option("--provider", provider_, "preferred provider");
    // The daemon judges the upper bound (MAX_TOKENS_PER_REQUEST); here only
    // "at least 1", said plainly (CLI::PositiveNumber printed a float range).
    max_tokens_opt_ = call_->add_option("--max-tokens", max_tokens_, "reply token limit (at least 1)")
                          ->check(CLI::Validator(
                              [](const std::string& v) {
                                return v.find_first_not_of("0123456789") == std::string::npos && !v.empty() &&
                                               v.find_first_not_of('0') != std::string::npos
                                           ? std::string()
                                           : "--max-tokens " + v + ": must be a whole number of at least 1";
                              },
                              "", "whole number >= 1"));
    system_opt_ = call_->add_option("--system", system_, "system prompt");
    idem_opt_ = call_->add_option("--idempotency-key", idempotency_key_, "repeat-safe key");
    call_timeout_opt_ =
        call_->add_option("--call-timeout-ms", call_timeout_ms_,
                          "the call's deadline (timeout_ms); default: the daemon's "
                          "TOLLGATE_CALL_TIMEOUT_MS. tollctl waits 5000 ms longer")
            ->check(CLI::Range(int64_t{1}, tollgate::protocol::kMaxTimeoutMs));
    call_->add_flag("--stream", stream_,
                    "print the reply as it is generated (PROTOCOL.md section 9), then the summary; "
                    "--timeout bounds the wait between parts (--json: one JSON line per message)");
    call_->add_flag("--cache", cache_,
                    "answer from the response cache when an identical call was answered within "
                    "TOLLGATE_CACHE_TTL_SECONDS (PROTOCOL.md section 10); charged nothing then");
    events_ = app.add_subcommand("events", "print events as they are published until interrupted");
    events_->add_option("PREFIX", prefixes_, "topic prefixes (default: all)");
    count_opt_ = events_->add_option("--count", count_, "exit after this many events")
                     ->check(CLI::PositiveNumber);
    keygen_ = app.add_subcommand("keygen", "make a CurveZMQ key pair (for the daemon or a client)");
    keygen_out_ = keygen_->add_option("--out", keygen_path_,
                                      "write the secret key to FILE (mode 0600) and the public key to FILE.pub")
                      ->type_name("FILE");
  }

  // Section 12: an LMDB ledger into PostgreSQL (no daemon involved).
  void add_migrate_command(CLI::App& app) {
    migrate_ = app.add_subcommand(
        "migrate-ledger", "copy a stopped tollgated's LMDB ledger into a new PostgreSQL ledger");
    migrate_->add_option("--data-dir", migrate_dir_, "the LMDB ledger's TOLLGATE_DATA_DIR")
        ->required();
    migrate_->add_option("--to", migrate_uri_, "the PostgreSQL URI (as TOLLGATE_LEDGER)")
        ->required();
  }

  int run_migrate() const {
    const auto r = tollgate::tools::migrate_ledger(migrate_dir_, migrate_uri_);
    if (!r) {
      std::cerr << "tollctl: " << tollgate::protocol::code_name(r.error().code) << ": "
                << r.error().message << "\n";
      return 1;
    }
    std::cout << "migrated " << r->rows << " rows and " << r->reservations
              << " open reservations (charged in full by the first daemon to start)\n";
    return 0;
  }

  // Section 10: limits changed live, forecasts and daily reports.
  void add_operator_commands(CLI::App& app) {
    set_limit_ = app.add_subcommand(
        "set-limit", "change a budget's token limit now (admin; PROTOCOL.md section 10)");
    set_limit_->add_option("AGENT", agent_, "agent name, or \"*\" for the global budget")
        ->required();
    set_limit_->add_option("PROVIDER", provider_, "provider name")->required();
    set_limit_->add_option("LIMIT", limit_text_,
                           "tokens per period, or default: the configured limit applies again")
        ->required();
    limits_ = app.add_subcommand("limits", "the limits changed with set-limit: when and by whom");
    forecast_ = app.add_subcommand("forecast", "burn rate and projected usage of each budget");
    forecast_agent_ =
        forecast_->add_option("AGENT", agent_, "only this agent (\"*\": global budgets)");
    report_ = app.add_subcommand("report", "daily usage per provider, newest day first (UTC days)");
    report_agent_ = report_->add_option("AGENT", agent_, "only this agent (default: all together)");
    days_opt_ = report_->add_option("--days", days_, "how many days (default 31)")
                    ->check(CLI::Range(1u, tollgate::protocol::kMaxDailyDays));
    report_->add_flag("--csv", csv_,
                      "CSV on stdout: date,provider,used,requests,cost_usd (wins over --json)");
  }

  GlobalOptions o_;
  std::string migrate_dir_, migrate_uri_;
  CLI::App* migrate_ = nullptr;
  std::string agent_, since_, provider_, prompt_, system_, idempotency_key_, keygen_path_, request_file_;
  std::string limit_text_;
  uint32_t limit_ = 0, months_ = 0, days_ = 0;
  bool csv_ = false;
  uint64_t max_tokens_ = 0, count_ = 0;
  int64_t call_timeout_ms_ = 0;
  bool yes_ = false;
  bool force_ = false;
  bool stream_ = false;
  bool cache_ = false;
  std::vector<std::string> prefixes_;
  CLI::App *ping_, *summary_, *usage_, *provider_status_, *recommend_, *emergency_, *alerts_, *history_,
      *ledger_events_, *reset_, *call_, *events_, *keygen_, *set_limit_, *limits_, *forecast_,
      *report_;
  CLI::Option *forecast_agent_, *report_agent_, *days_opt_;
  CLI::Option *optional_agent_, *alerts_agent_, *since_opt_, *limit_opt_, *months_opt_, *ledger_since_opt_,
      *ledger_limit_opt_, *provider_opt_reset_, *provider_opt_call_, *max_tokens_opt_, *system_opt_, *idem_opt_,
      *call_timeout_opt_, *count_opt_, *keygen_out_, *timeout_opt_, *prompt_opt_, *request_opt_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tollctl: query and operate tollgated"};
  app.footer(
      "Exit codes: 0 ok; 1 the daemon answered an error (tollctl: CODE: MESSAGE); 2 usage error;\n"
      "3 no answer within --timeout (not running, wrong endpoint, key refused); 4 the daemon\n"
      "answered timeout: the call's deadline (--call-timeout-ms or TOLLGATE_CALL_TIMEOUT_MS) passed.");
  Cli cli(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // "tollctl bogus": CLI11 says only "A subcommand is required"; name the
    // word it did not know and the commands it does.
    if (app.get_subcommands().empty() && !app.remaining().empty() &&
        dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      std::string known;
      for (const auto* sub : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
      std::cerr << "tollctl: unknown command '" << app.remaining().front() << "'; commands: " << known
                << " (tollctl --help)\n";
      return tollgate::tools::kExitUsage;
    }
    const int rc = app.exit(e);
    return rc == 0 ? tollgate::tools::kExitOk : tollgate::tools::kExitUsage;
  }
  return cli.run();
}
