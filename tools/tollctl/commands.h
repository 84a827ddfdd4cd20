// tollctl's subcommands: each builds one request (protocol/requests.h),
// sends it with Client, and prints the reply as a table (render.h) or, with
// --json, as pretty JSON. Every run_* returns the process exit code.
// Called from main's thread only; each run owns its ZeroMQ context.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/tollctl/curve_client.h"

namespace tollgate::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDaemonError = 1;  // the daemon answered ok: false
inline constexpr int kExitUsage = 2;        // bad arguments, refused confirmation
inline constexpr int kExitNoAnswer = 3;     // no reply within --timeout
inline constexpr int kExitTimeout = 4;      // the daemon answered `timeout`: the call's deadline passed

// `call` does not send timeout_ms unless --call-timeout-ms is given, so the
// daemon's TOLLGATE_CALL_TIMEOUT_MS applies (kDaemonCallTimeoutMs is its
// default). tollctl waits for the reply that long plus kCallReplyMarginMs
// (or --timeout, if longer): the daemon answers first, and a call it
// charged is not reported as "no answer".
inline constexpr int64_t kDaemonCallTimeoutMs = 120'000;
inline constexpr int64_t kCallReplyMarginMs = 5'000;

struct GlobalOptions {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string events_endpoint = "tcp://127.0.0.1:5556";
  int timeout_ms = 5000;
  bool json = false;
  std::string key_file;    // --key: this client's CurveZMQ secret key
  std::string server_key;  // --server-key / $TOLLGATE_CURVE_SERVER_KEY
  // Loaded from the two above by main before any run_*; nullopt: no CurveZMQ.
  std::optional<CurveClientKeys> curve;
};

struct AlertsArgs {
  std::optional<std::string> agent;
  std::optional<std::string> since;  // unix ms or ISO-8601, see parse_time_ms
  std::optional<uint32_t> limit;
};

struct LedgerEventsArgs {
  std::optional<std::string> since;  // unix ms or ISO-8601, see parse_time_ms
  std::optional<uint32_t> limit;
};

struct ResetArgs {
  std::string agent;
  std::optional<std::string> provider;
  bool yes = false;
  bool force = false;  // an agent with no usage in the ledger too
};

struct CallArgs {
  std::string agent;
  std::string prompt;  // empty with request_file
  // --request FILE: the call's fields as a JSON object (messages with
  // content blocks, system, tools, tool_choice, stop_sequences, top_p, ...,
  // as in PROTOCOL.md section 8). AGENT and the options given override it.
  std::optional<std::string> request_file;
  std::optional<std::string> provider;
  std::optional<uint64_t> max_tokens;
  std::optional<std::string> system;
  std::optional<std::string> idempotency_key;
  std::optional<int64_t> call_timeout_ms;  // sent as timeout_ms when given
  // --stream: `stream: true` (PROTOCOL.md section 9); the parts are printed
  // as they arrive (--json: one JSON line each, then the reply's line).
  bool stream = false;
  // --cache: `cache: true` (PROTOCOL.md section 10).
  bool cache = false;
};

// `set-limit AGENT PROVIDER LIMIT` (PROTOCOL.md section 10): AGENT may be
// "*" (the global budget); LIMIT is a whole number of tokens or "default"
// (clear the override: the configured limit applies again).
struct SetLimitArgs {
  std::string agent;
  std::string provider;
  std::string limit;
};

// `report [AGENT] [--days N] [--csv]`: the `daily` op.
struct ReportArgs {
  std::optional<std::string> agent;  // every agent together when absent
  std::optional<uint32_t> days;      // the daemon's default (31) when absent
  bool csv = false;                  // CSV on stdout instead of a table (wins over --json)
};

struct EventsArgs {
  std::vector<std::string> prefixes;  // subscribe to everything when empty
  std::optional<uint64_t> count;      // exit after this many events
  // --timeout given: no first event within it exits kExitNoAnswer.
  std::optional<int> first_event_timeout_ms;
};

// Unix epoch milliseconds from "1764200000000" or an ISO-8601 UTC date or
// date-time ("2026-11-27", "2026-11-27T01:36", "2026-11-27T01:36:44Z",
// "2026-11-27 01:36:44"). nullopt when it is neither.
std::optional<int64_t> parse_time_ms(std::string_view text);

int run_ping(const GlobalOptions& o);
int run_summary(const GlobalOptions& o);
int run_usage(const GlobalOptions& o, const std::string& agent);
int run_provider_status(const GlobalOptions& o, const std::optional<std::string>& agent);
int run_recommend(const GlobalOptions& o, const std::string& agent);
int run_emergency_status(const GlobalOptions& o);
int run_alerts(const GlobalOptions& o, const AlertsArgs& args);
int run_history(const GlobalOptions& o, const std::string& agent, std::optional<uint32_t> months);
int run_ledger_events(const GlobalOptions& o, const LedgerEventsArgs& args);
int run_reset(const GlobalOptions& o, const ResetArgs& args);
int run_call(const GlobalOptions& o, const CallArgs& args);
// Section 10 operator ops.
int run_set_limit(const GlobalOptions& o, const SetLimitArgs& args);
int run_limits(const GlobalOptions& o);
int run_forecast(const GlobalOptions& o, const std::optional<std::string>& agent);
int run_report(const GlobalOptions& o, const ReportArgs& args);
// Prints events until SIGINT/SIGTERM or args.count events (event_stream.cpp).
int run_events(const GlobalOptions& o, const EventsArgs& args);

}  // namespace tollgate::tools
