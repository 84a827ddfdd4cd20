#include "tools/tollctl/commands.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <sstream>

#include "tools/tollctl/client.h"
#include "tools/tollctl/render.h"

namespace tollgate::tools {
namespace {

using nlohmann::json;
using Render = std::function<void(const json& reply, const Style& style)>;

bool is_ok(const json& reply) { return reply.contains("ok") && reply["ok"] == true; }

// The exit code of an error reply.
int error_exit_code(const json& reply) {
  const json& err = reply.contains("error") ? reply["error"] : json::object();
  // The daemon gave up on the call at its deadline: not "no answer" (3).
  return field_str(err, "code") == "timeout" ? kExitTimeout : kExitDaemonError;
}

int no_answer(const GlobalOptions& o, int64_t wait_ms) {
  std::cerr << "tollctl: no answer from " << o.endpoint << " within " << wait_ms << " ms\n";
  // A refused CurveZMQ handshake looks exactly like silence to a client.
  if (o.curve) {
    std::cerr << "tollctl: with --key: is this client's public key ("
              << o.curve->public_z85.substr(0, 8)
              << "...) in the daemon's TOLLGATE_CURVE_CLIENTS_FILE, and --server-key the daemon's?\n";
  }
  return kExitNoAnswer;
}

// Sends `body`, waits up to wait_ms (default --timeout) for the reply, maps
// the outcome to an exit code, and renders an ok reply.
int run_request(const GlobalOptions& o, const protocol::RequestBody& body, const Render& render,
                std::optional<int64_t> wait_ms = std::nullopt) {
  const int64_t wait = wait_ms.value_or(o.timeout_ms);
  std::optional<json> reply;
  try {
    zmq::context_t ctx(1);
    Client client(ctx, o.endpoint, o.curve);
    reply = client.request(body, std::chrono::milliseconds(wait));
  } catch (const zmq::error_t& e) {
    // A malformed endpoint is the user's argument.
    std::cerr << "tollctl: " << o.endpoint << ": " << e.what() << "\n";
    return kExitUsage;
  }
  if (!reply) return no_answer(o, wait);
  if (!is_ok(*reply)) {
    const json& err = reply->contains("error") ? (*reply)["error"] : json::object();
    std::cerr << "tollctl: " << field_str(err, "code") << ": " << field_str(err, "message") << "\n";
    return error_exit_code(*reply);
  }
  if (o.json) {
    std::cout << reply->dump(2) << "\n";
  } else {
    render(*reply, detect_style());
  }
  std::cout.flush();
  // A reply answered from what the daemon last read (the ledger cannot be
  // read now): said on stderr, so scripts reading stdout are unchanged.
  if (reply->contains("stale") && (*reply)["stale"].is_object()) {
    const json& stale = (*reply)["stale"];
    std::cerr << "tollctl: the ledger cannot be read now; this is what the daemon read at "
              << format_time_ms(stale.value("as_of_ms", int64_t{0})) << " UTC ("
              << field_str(stale, "reason") << ")\n";
  }
  return kExitOk;
}

// How long `call` waits for its reply: past the daemon's deadline for it.
int64_t call_reply_wait_ms(const GlobalOptions& o, const protocol::CallRequest& req) {
  return std::max<int64_t>(o.timeout_ms,
                           req.timeout_ms.value_or(kDaemonCallTimeoutMs) + kCallReplyMarginMs);
}

// `call --stream` (PROTOCOL.md section 9): prints each part as it arrives
// (--json: each message as one line), then the reply as `call` does. The
// whole call waits as long as `call`; --timeout bounds the wait between
// parts (before the first, retries and fallback may take their time).
int run_stream(const GlobalOptions& o, const protocol::CallRequest& req) {
  const int64_t wait = call_reply_wait_ms(o, req);
  StreamOutput state;
  StreamEnd end;
  try {
    zmq::context_t ctx(1);
    Client client(ctx, o.endpoint, o.curve);
    const StreamWaits waits{std::chrono::milliseconds(wait),
                            std::chrono::milliseconds(o.timeout_ms)};
    end = client.stream(req, waits, [&](const json& part) {
      if (o.json) {
        std::cout << part.dump() << "\n" << std::flush;
      } else {
        render_part(part, state, std::cout);
      }
    });
  } catch (const zmq::error_t& e) {
    std::cerr << "tollctl: " << o.endpoint << ": " << e.what() << "\n";
    return kExitUsage;
  }
  if (!end.reply) {
    if (state.line_open) std::cout << "\n" << std::flush;
    if (!end.stalled) return no_answer(o, wait);
    std::cerr << "tollctl: the stream from " << o.endpoint << " stopped: nothing after part "
              << end.parts << " within " << o.timeout_ms << " ms (--timeout)\n";
    return kExitNoAnswer;
  }
  if (!is_ok(*end.reply)) {
    render_stream_error(*end.reply, state, std::cout, std::cerr);
    return error_exit_code(*end.reply);
  }
  if (o.json) {
    std::cout << end.reply->dump() << "\n";
  } else {
    render_stream_reply(*end.reply, state, std::cout, std::cerr);
  }
  std::cout.flush();
  return kExitOk;
}

// --since as unix milliseconds into `out` (left empty when not given);
// false after printing the usage error when it is neither form.
bool since_ms(const std::optional<std::string>& since, std::optional<int64_t>& out) {
  if (!since) return true;
  out = parse_time_ms(*since);
  if (out) return true;
  std::cerr << "tollctl: --since " << *since
            << ": expected unix milliseconds or an ISO-8601 UTC date/time like 2026-11-27T01:36:00Z\n";
  return false;
}

// The call of `tollctl call --request FILE`: the file's JSON object (key
// order kept, so tool schemas reach the model as written) with AGENT and
// the options given set over it, checked here as the daemon will check it
// (except for its own limits), so a mistake is reported with its path
// before anything is sent. nullopt after printing the problem.
std::optional<protocol::CallRequest> call_from_file(const CallArgs& args) {
  std::ifstream in(*args.request_file);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!in || j.is_discarded() || !j.is_object()) {
    std::cerr << "tollctl: --request " << *args.request_file << ": not a readable JSON object\n";
    return std::nullopt;
  }
  j["op"] = "call";
  j["ai_name"] = args.agent;
  if (args.provider) j["preferred_provider"] = *args.provider;
  if (args.max_tokens) j["max_tokens"] = *args.max_tokens;
  if (args.system) j["system"] = *args.system;
  if (args.idempotency_key) j["idempotency_key"] = *args.idempotency_key;
  if (args.call_timeout_ms) j["timeout_ms"] = *args.call_timeout_ms;
  if (args.stream) j["stream"] = true;
  if (args.cache) j["cache"] = true;
  protocol::DecodeLimits limits;
  limits.max_request_bytes = std::numeric_limits<size_t>::max();
  limits.max_tokens_per_request = std::numeric_limits<uint64_t>::max();
  auto decoded = protocol::decode_request(protocol::from_ordered_json(j), limits);
  if (!decoded.body) {
    std::cerr << "tollctl: --request " << *args.request_file << ": " << decoded.body.error().message << "\n";
    return std::nullopt;
  }
  return std::get<protocol::CallRequest>(*decoded.body);
}

// Asks on the terminal; true only for an answer starting with y or Y.
bool confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

}  // namespace

std::optional<int64_t> parse_time_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) {
    return ms >= 0 ? std::optional<int64_t>(ms) : std::nullopt;
  }
  std::string s(text);
  if (s.back() == 'Z' || s.back() == 'z') s.pop_back();
  for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                             "%Y-%m-%d"}) {
    std::tm tm{};
    const char* rest = strptime(s.c_str(), format, &tm);
    if (rest == nullptr || *rest != '\0') continue;
    const std::time_t t = timegm(&tm);
    if (t < 0) return std::nullopt;
    return static_cast<int64_t>(t) * 1000;
  }
  return std::nullopt;
}

int run_ping(const GlobalOptions& o) {
  return run_request(o, protocol::PingRequest{},
                     [&](const json& r, const Style&) { render_ping(r, o.endpoint, std::cout); });
}

int run_summary(const GlobalOptions& o) {
  return run_request(o, protocol::SummaryRequest{},
                     [](const json& r, const Style& s) { render_summary(r, s, std::cout); });
}

int run_usage(const GlobalOptions& o, const std::string& agent) {
  return run_request(o, protocol::UsageRequest{agent},
                     [](const json& r, const Style& s) { render_usage(r, s, std::cout); });
}

int run_provider_status(const GlobalOptions& o, const std::optional<std::string>& agent) {
  return run_request(o, protocol::ProviderStatusRequest{agent},
                     [](const json& r, const Style& s) { render_provider_status(r, s, std::cout); });
}

int run_recommend(const GlobalOptions& o, const std::string& agent) {
  return run_request(o, protocol::RecommendRequest{agent},
                     [&](const json& r, const Style&) { render_recommend(agent, r, std::cout); });
}

int run_emergency_status(const GlobalOptions& o) {
  return run_request(o, protocol::EmergencyStatusRequest{},
                     [](const json& r, const Style& s) { render_emergency_status(r, s, std::cout); });
}

int run_alerts(const GlobalOptions& o, const AlertsArgs& args) {
  protocol::AlertsRequest req;
  req.limit = args.limit;
  req.ai_name = args.agent;
  if (!since_ms(args.since, req.since_ms)) return kExitUsage;
  return run_request(o, req, [](const json& r, const Style& s) { render_alerts(r, s, std::cout); });
}

int run_ledger_events(const GlobalOptions& o, const LedgerEventsArgs& args) {
  protocol::LedgerEventsRequest req;
  req.limit = args.limit;
  if (!since_ms(args.since, req.since_ms)) return kExitUsage;
  return run_request(o, req, [](const json& r, const Style& s) { render_ledger_events(r, s, std::cout); });
}

int run_history(const GlobalOptions& o, const std::string& agent, std::optional<uint32_t> months) {
  return run_request(o, protocol::HistoryRequest{agent, months},
                     [](const json& r, const Style& s) { render_history(r, s, std::cout); });
}

int run_reset(const GlobalOptions& o, const ResetArgs& args) {
  if (!args.yes) {
    // The question goes to stderr and the answer comes from stdin, so both
    // must be a terminal; a script has to say --yes.
    if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDERR_FILENO) != 1) {
      std::cerr << "tollctl: reset needs confirmation: run it on a terminal or pass --yes\n";
      return kExitUsage;
    }
    const std::string what = args.provider ? *args.provider : "all providers";
    if (!confirm("reset " + args.agent + "'s usage of " + what + "?")) {
      std::cerr << "tollctl: reset not confirmed; nothing changed\n";
      return kExitUsage;
    }
  }
  return run_request(o, protocol::ResetRequest{args.agent, args.provider, args.force},
                     [](const json& r, const Style&) { render_reset(r, std::cout); });
}

int run_call(const GlobalOptions& o, const CallArgs& args) {
  protocol::CallRequest req;
  if (args.request_file) {
    auto from_file = call_from_file(args);
    if (!from_file) return kExitUsage;
    req = std::move(*from_file);
  } else {
    req.ai_name = args.agent;
    req.prompt = args.prompt;
    req.system = args.system;
    req.max_tokens = args.max_tokens;
    req.preferred_provider = args.provider;
    req.idempotency_key = args.idempotency_key;
    // The daemon's deadline, not --timeout: a call cut at tollctl's short
    // wait would be charged in full for a reply nobody reads.
    req.timeout_ms = args.call_timeout_ms;
    req.stream = args.stream;
    req.cache = args.cache;
  }
  // A --request file may ask for the stream itself.
  if (req.stream) return run_stream(o, req);
  return run_request(
      o, req, [](const json& r, const Style&) { render_call(r, std::cout, std::cerr); },
      call_reply_wait_ms(o, req));
}

int run_set_limit(const GlobalOptions& o, const SetLimitArgs& args) {
  protocol::SetLimitRequest req;
  req.ai_name = args.agent;
  req.provider = args.provider;
  if (args.limit != "default") {
    uint64_t tokens = 0;
    const char* end = args.limit.data() + args.limit.size();
    auto [at, ec] = std::from_chars(args.limit.data(), end, tokens);
    if (args.limit.empty() || ec != std::errc() || at != end ||
        tokens > protocol::kMaxLimitTokens) {
      std::cerr << "tollctl: set-limit LIMIT " << args.limit
                << ": expected a whole number of tokens (at most " << protocol::kMaxLimitTokens
                << ") or default\n";
      return kExitUsage;
    }
    req.limit = tokens;
  }
  return run_request(o, req,
                     [](const json& r, const Style& s) { render_usage(r, s, std::cout); });
}

int run_limits(const GlobalOptions& o) {
  return run_request(o, protocol::LimitsRequest{},
                     [](const json& r, const Style& s) { render_limits(r, s, std::cout); });
}

int run_forecast(const GlobalOptions& o, const std::optional<std::string>& agent) {
  return run_request(o, protocol::ForecastRequest{agent},
                     [](const json& r, const Style& s) { render_forecast(r, s, std::cout); });
}

int run_report(const GlobalOptions& o, const ReportArgs& args) {
  const protocol::DailyRequest req{args.agent, args.days};
  if (!args.csv) {
    return run_request(o, req,
                       [](const json& r, const Style& s) { render_daily(r, s, std::cout); });
  }
  GlobalOptions csv = o;
  csv.json = false;  // --csv: only the CSV on stdout
  return run_request(csv, req,
                     [](const json& r, const Style&) { render_daily_csv(r, std::cout); });
}

}  // namespace tollgate::tools
