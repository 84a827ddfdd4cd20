#include "daemon/server/http_api.h"

#include <httplib.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <set>
#include <optional>

#include <nlohmann/json.hpp>

#include "daemon/core/call_fingerprint.h"
#include "daemon/server/agent_keys.h"
#include "daemon/server/dashboard.h"
#include "daemon/server/ingress.h"
#include "protocol/codec.h"
#include "protocol/json_bridge.h"

namespace tollgate {

using nlohmann::json;
using protocol::Error;

namespace {

constexpr const char* kApi = "/api/token-usage";
constexpr int64_t kResetWaitMs = 30'000;

const std::map<std::string_view, int, std::less<>> kStatusForCode = {
    {"bad_request", 400},       {"unsupported_version", 400}, {"unknown_op", 404},
    {"unknown_agent", 404},     {"too_large", 413},           {"budget_exhausted", 402},
    {"rate_limited", 429},      {"provider_error", 502},      {"not_configured", 503},
    {"emergency_shutdown", 503}, {"unauthorized", 403},       {"timeout", 504},
    {"overloaded", 503},        {"internal", 500},        {"cancelled", 499},
    {"ledger_unavailable", 503},
};

// The error reply of the protocol, as JSON.
std::string error_json(const Error& e) { return protocol::error_reply_json(protocol::RequestId{}, e).dump(); }

// Retry-After is in whole seconds: round the protocol's milliseconds up.
void set_retry_after(httplib::Response& res, int64_t retry_after_ms) {
  res.set_header("Retry-After", std::to_string(std::max<int64_t>(0, (retry_after_ms + 999) / 1000)));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_form(const httplib::Request& req) {
  return req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0;
}

void send_error(httplib::Response& res, int status, const Error& e) {
  res.status = status;
  res.set_content(error_json(e), kJsonContentType);
  if (e.retry_after_ms) set_retry_after(res, *e.retry_after_ms);
}

// A reply as the HTTP answer: its JSON (written from the value: the reply
// is encoded once, here) and the status its code maps to.
void send_reply(httplib::Response& res, const protocol::RequestId& id, const Reply& reply) {
  res.status = 200;
  if (!reply.ok()) {
    res.status = http_status_for(reply.code());
    if (reply.error().retry_after_ms) set_retry_after(res, *reply.error().retry_after_ms);
  }
  res.set_content(json_reply(id, reply).dump(), kJsonContentType);
}

// A query parameter as a JSON integer; nullopt with `error` set when it is
// not one (the decoder checks the range).
std::optional<int64_t> integer_param(const std::string& name, const std::string& text, Error& error) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    error = Error::bad_request(name + ": must be a whole number, got '" + text + "'");
    return std::nullopt;
  }
  return value;
}

// httplib calls this for every status >= 400; only fill what no handler
// answered (unknown paths, bodies over the size cap).
void answer_unanswered(const httplib::Request& req, httplib::Response& res) {
  if (!res.body.empty()) return;
  if (req.path.starts_with("/v1/")) return Ingress::answer_unrouted(req, res);
  if (res.status == 404) {
    send_error(res, 404, Error::unknown_op("no such endpoint: " + req.method + " " + req.path));
  } else if (res.status == 413 && is_form(req)) {
    // httplib parses form bodies itself and caps them at 8 KiB (a build
    // constant of the library), whatever TOLLGATE_MAX_REQUEST_BYTES says.
    send_error(res, 413, Error::too_large("request body: a Content-Type of "
                                          "application/x-www-form-urlencoded is limited to "
                                          "8192 bytes; send JSON as application/json"));
  } else if (res.status == 413) {
    send_error(res, 413, Error::too_large("request body is over TOLLGATE_MAX_REQUEST_BYTES"));
  } else if (res.status == 414) {
    send_error(res, 414, Error::bad_request("the request URL is too long (over 8192 bytes)"));
  } else if (req.method == "POST" && !req.has_header("Content-Length") &&
             !req.has_header("Transfer-Encoding")) {
    send_error(res, res.status,
               Error::bad_request("a POST needs a Content-Length header, even for an empty body"));
  } else {
    send_error(res, res.status,
               Error::bad_request("the HTTP request could not be read (a malformed request "
                                  "line or header, or a header line over 8192 bytes)"));
  }
}

// Before any body is read: a method a path does not take gets 405 with
// Allow at once (a PUT without a body would otherwise wait for one).
httplib::Server::HandlerResponse refuse_other_methods(const httplib::Request& req,
                                                      httplib::Response& res) {
  const std::string allow = http_allowed_methods(req.path);
  const bool head_of_get = req.method == "HEAD" && allow == "GET, HEAD";
  if (allow.empty()) {
    if (req.method == "GET" || req.method == "POST" || req.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;  // 404 from the error handler
    }
    send_error(res, 404, Error::unknown_op("no such endpoint: " + req.method + " " + req.path));
    return httplib::Server::HandlerResponse::Handled;
  }
  if (allow.find(req.method) != std::string::npos || head_of_get) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  res.set_header("Allow", allow);
  send_error(res, 405, Error::bad_request(req.method + " " + req.path + ": method not allowed; use " +
                                          allow));
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

int http_status_for(std::string_view code) {
  auto it = kStatusForCode.find(code);
  return it == kStatusForCode.end() ? 500 : it->second;
}

// A POST handed to the loop: the loop thread fills `reply`, stop() sets
// `cancelled`; the HTTP thread waits for either.
struct HttpApi::Waiter {
  Mutex mu;
  CondVar cv{mu};
  std::optional<Reply> reply GUARDED_BY(mu);
  bool cancelled GUARDED_BY(mu) = false;
};

HttpApi::HttpApi(std::shared_ptr<const Config> config, Deps deps)
    : deps_(std::move(deps)),
      limits_{config->max_request_bytes, config->max_tokens_per_request},
      http_(std::make_unique<httplib::Server>()),
      config_(std::move(config)) {}

HttpApi::~HttpApi() { stop(); }

protocol::Result<std::unique_ptr<HttpApi>> HttpApi::start(const HttpAddress& address,
                                                          std::shared_ptr<const Config> config,
                                                          Deps deps) {
  std::unique_ptr<HttpApi> api(new HttpApi(config, std::move(deps)));
  auto ingress = Ingress::create({api->deps_.server, [raw = api.get()] { return raw->config(); }, api->limits_},
                                 *config);
  if (!ingress) return ingress.error();
  api->ingress_ = std::move(ingress).value();
  // A thread per open connection: every /v1 call a client waits on holds one.
  api->http_->new_task_queue = [n = config->http_max_calls + 8] { return new httplib::ThreadPool(n); };
  // The SDKs keep their connections open for many requests (httplib's
  // default closes one after 5).
  api->http_->set_keep_alive_max_count(1000);
  api->routes();
  const std::string host_port = address.host + ":" + std::to_string(address.port);
  int port = address.port;
  if (port == 0) {
    port = api->http_->bind_to_any_port(address.host);
    if (port < 0) port = 0;
  } else if (!api->http_->bind_to_port(address.host, port)) {
    port = 0;
  }
  if (port == 0) {
    return Error::internal("TOLLGATE_HTTP=" + host_port +
                           ": cannot listen there (address in use, or not an address of this "
                           "host; TOLLGATE_HTTP=off disables the listener)");
  }
  const bool v6 = address.host.find(':') != std::string::npos;
  api->bound_ = (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(port);
  api->thread_ = std::thread([raw = api.get()] {
    if (!raw->http_->listen_after_bind()) spdlog::error("HTTP listener stopped unexpectedly");
    raw->listen_returned_ = true;
  });
  // httplib's stop() does nothing until listen_after_bind() has marked the
  // server running: a SIGTERM right after the ready line would then leave
  // the listener (and the join in stop()) running for ever. Return only
  // once it runs (or has already given up).
  while (!api->http_->is_running() && !api->listen_returned_) std::this_thread::yield();
  return api;
}

void HttpApi::set_config(std::shared_ptr<const Config> config) {
  if (ingress_) ingress_->reload(*config);
  MutexLock lock(config_mu_);
  config_ = std::move(config);
}

std::shared_ptr<const Config> HttpApi::config() const {
  MutexLock lock(config_mu_);
  return config_;
}

void HttpApi::stop() {
  {
    MutexLock lock(waiters_mu_);
    if (stopped_) return;
    stopped_ = true;
    for (const auto& w : waiters_) {
      MutexLock wl(w->mu);
      w->cancelled = true;
      w->cv.signal_all();
    }
  }
  if (ingress_) ingress_->stop();
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpApi::routes() {
  auto& s = *http_;
  // httplib's default sets SO_REUSEPORT, which lets a second tollgated bind
  // the same port and silently take half the requests. SO_REUSEADDR alone
  // still allows a restart while old connections sit in TIME_WAIT.
  // TCP_NODELAY, inherited by accepted sockets: with Nagle a response's
  // body waited for the delayed ACK of its headers, ~40 ms a keep-alive
  // request (tests/integration/http_keepalive_test.cpp).
  s.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  });
  const auto read_ms = static_cast<time_t>(config()->http_read_timeout_ms);
  s.set_read_timeout(read_ms / 1000, (read_ms % 1000) * 1000);
  s.set_write_timeout(5, 0);
  s.set_keep_alive_timeout(5);
  s.set_payload_max_length(config()->max_request_bytes);
  s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("http {} {} -> {}", req.method, req.path, res.status);
  });
  s.set_error_handler(answer_unanswered);
  s.set_pre_routing_handler(refuse_other_methods);

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", kJsonContentType);
  });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    auto why = deps_.not_ready ? deps_.not_ready() : std::nullopt;
    res.status = why ? 503 : 200;
    res.set_content(json{{"ready", !why}, {"reason", why ? json(*why) : json(nullptr)}}.dump(), kJsonContentType);
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(deps_.metrics ? deps_.metrics->render_prometheus() : std::string(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get(R"(/|/index\.html|/app\.js|/style\.css)", [](const httplib::Request& req, httplib::Response& res) {
    const auto* asset = dashboard::find_asset(req.path);
    if (!asset) return;  // 404 from the error handler
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
  });

  const std::string api = kApi;
  const std::set<std::string> none;
  s.Get(api + "/summary", [this, none](const auto& q, auto& r) { status_op(q, r, "summary", "", none); });
  s.Get(api + "/emergency-status",
        [this, none](const auto& q, auto& r) { status_op(q, r, "emergency_status", "", none); });
  s.Get(api + "/provider-status",
        [this, none](const auto& q, auto& r) { status_op(q, r, "provider_status", "", none); });
  s.Get(api + "/provider-status/([^/]+)", [this, none](const auto& q, auto& r) {
    status_op(q, r, "provider_status", q.matches[1], none);
  });
  s.Get(api + "/ai/([^/]+)",
        [this, none](const auto& q, auto& r) { status_op(q, r, "usage", q.matches[1], none); });
  s.Get(api + "/recommend/([^/]+)",
        [this, none](const auto& q, auto& r) { status_op(q, r, "recommend", q.matches[1], none); });
  s.Get(api + "/history/([^/]+)", [this](const auto& q, auto& r) {
    status_op(q, r, "history", q.matches[1], {"months"});
  });
  s.Get(api + "/alerts", [this](const auto& q, auto& r) {
    status_op(q, r, "alerts", "", {"limit", "since_ms", "ai_name"});
  });
  s.Get(api + "/ledger-events", [this](const auto& q, auto& r) {
    status_op(q, r, "ledger_events", "", {"limit", "since_ms"});
  });
  // Section 10.
  s.Get(api + "/limits", [this, none](const auto& q, auto& r) { status_op(q, r, "limits", "", none); });
  s.Put(api + "/limits/([^/]+)",
        [this](const auto& q, auto& r) { admin_op(q, r, "set_limit", q.matches[1]); });
  s.Get(api + "/forecast", [this, none](const auto& q, auto& r) { status_op(q, r, "forecast", "", none); });
  s.Get(api + "/forecast/([^/]+)",
        [this, none](const auto& q, auto& r) { status_op(q, r, "forecast", q.matches[1], none); });
  s.Get(api + "/daily", [this](const auto& q, auto& r) { status_op(q, r, "daily", "", {"days"}); });
  s.Get(api + "/daily/([^/]+)",
        [this](const auto& q, auto& r) { status_op(q, r, "daily", q.matches[1], {"days"}); });
  s.Post(api + "/test-ai-call", [this](const auto& q, auto& r) { admin_op(q, r, "call", ""); });
  s.Post(api + "/reset/([^/]+)", [this](const auto& q, auto& r) { admin_op(q, r, "reset", q.matches[1]); });
  ingress_->install(s);
}

void HttpApi::status_op(const httplib::Request& req, httplib::Response& res, const std::string& op,
                        const std::string& ai_name, const std::set<std::string>& params) {
  const auto started = std::chrono::steady_clock::now();
  json request = {{"v", 1}, {"op", op}};
  if (!ai_name.empty()) request["ai_name"] = ai_name;
  for (const auto& [name, value] : req.params) {
    if (!params.count(name)) {
      send_error(res, 400, Error::bad_request("query parameter '" + name + "' is not known here"));
      return;
    }
    if (name == "ai_name") {
      request[name] = value;
      continue;
    }
    Error error = Error::bad_request("");
    auto number = integer_param(name, value, error);
    if (!number) {
      send_error(res, 400, error);
      return;
    }
    request[name] = *number;
  }
  auto decoded = decode(protocol::from_json(request), res);
  if (!decoded) return;
  const auto cfg = config();
  auto reply = deps_.status->answer(*cfg, *decoded->body);
  if (!reply) {
    send_error(res, 500, Error::internal(op + ": not a status op"));
    return;
  }
  send_reply(res, decoded->id, *reply);
  if (deps_.requests) {
    deps_.requests->replied(
        kHttpTransport, op, *reply,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), false);
  }
}

bool HttpApi::authorized(const httplib::Request& req, httplib::Response& res) const {
  const auto cfg = config();
  if (cfg->http_admin_token.empty()) {
    send_error(res, 403, Error::unauthorized(
        "admin endpoints are disabled: TOLLGATE_HTTP_ADMIN_TOKEN is not set"));
    return false;
  }
  const std::string header = req.get_header_value("Authorization");
  // The scheme is case-insensitive (RFC 7235 section 2.1).
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size() || !iequals(std::string_view(header).substr(0, kBearer.size()), kBearer) ||
      !constant_time_equal(std::string_view(header).substr(kBearer.size()), cfg->http_admin_token)) {
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, Error::unauthorized(
        header.empty() ? "missing Authorization: Bearer <TOLLGATE_HTTP_ADMIN_TOKEN>"
                       : "the bearer token is not TOLLGATE_HTTP_ADMIN_TOKEN"));
    return false;
  }
  return true;
}

void HttpApi::admin_op(const httplib::Request& req, httplib::Response& res, const std::string& op,
                       const std::string& ai_name) {
  if (!authorized(req, res)) return;
  json request = json::object();
  if (!req.body.empty()) {
    // nlohmann parses any depth without recursing, but from_json recurses
    // per level: a 1 MiB body of '[' would overflow the stack. Deeper than
    // the decoder allows is refused here, with the decoder's message.
    // A key given twice is refused, as the msgpack decoder refuses it
    // (nlohmann would keep the last one silently).
    bool too_deep = false;
    std::vector<std::set<std::string>> keys;  // per open object
    std::optional<std::string> duplicate;
    const auto guard = [&](int depth, json::parse_event_t event, json& parsed) {
      if (static_cast<size_t>(depth) > limits_.max_depth) too_deep = true;
      if (event == json::parse_event_t::object_start) {
        keys.emplace_back();
      } else if (event == json::parse_event_t::object_end && !keys.empty()) {
        keys.pop_back();
      } else if (event == json::parse_event_t::key && !keys.empty() && parsed.is_string() &&
                 !keys.back().insert(parsed.get<std::string>()).second && !duplicate) {
        duplicate = (keys.size() == 1 ? "" : "request body: key ") + parsed.get<std::string>();
      }
      return !too_deep;
    };
    request = json::parse(req.body, guard, /*allow_exceptions=*/false);
    if (too_deep) {
      send_error(res, 400, protocol::too_deep("request body", limits_.max_depth));
      return;
    }
    if (duplicate) {
      send_error(res, 400, Error::bad_request(*duplicate + ": given more than once"));
      return;
    }
    if (request.is_discarded() || !request.is_object()) {
      send_error(res, 400, Error::bad_request("request body: must be a JSON object"));
      return;
    }
  }
  request["op"] = op;
  if (!ai_name.empty()) request["ai_name"] = ai_name;
  if (!request.contains("id")) request["id"] = "http-" + std::to_string(next_id_++);
  run_on_loop(protocol::from_json(request), res);
}

std::optional<protocol::DecodedRequest> HttpApi::decode(const std::string& request,
                                                        httplib::Response& res) const {
  auto decoded = protocol::decode_request(request, limits_);
  if (!decoded.body) {
    send_error(res, http_status_for(protocol::code_name(decoded.body.error().code)),
               decoded.body.error());
    return std::nullopt;
  }
  return decoded;
}

void HttpApi::run_on_loop(const std::string& request, httplib::Response& res) {
  auto decoded = decode(request, res);
  if (!decoded) return;
  const auto cfg = config();
  int64_t wait_ms = kResetWaitMs;
  if (const auto* call = std::get_if<protocol::CallRequest>(&*decoded->body)) {
    wait_ms = call->timeout_ms.value_or(static_cast<int64_t>(cfg->call_timeout_ms)) + kHttpLoopMarginMs;
  }
  auto waiter = std::make_shared<Waiter>();
  {
    MutexLock lock(waiters_mu_);
    if (stopped_) {
      send_error(res, 503, Error::internal("tollgated is shutting down"));
      return;
    }
    waiters_.insert(waiter);
  }
  // Only authorized() callers get here: the admin token is the caller.
  curve::Caller caller{curve::ClientRole::kAdmin, "http:" + secret_digest(cfg->http_admin_token)};
  deps_.server->submit(decoded->id, std::move(*decoded->body), std::move(caller),
                       [waiter](const Reply& reply) {
                         MutexLock lock(waiter->mu);
                         waiter->reply = reply;
                         waiter->cv.signal_all();
                       });
  std::optional<Reply> reply;
  bool cancelled = false;
  bool done = false;
  {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    MutexLock lock(waiter->mu);
    while (!waiter->reply && !waiter->cancelled && waiter->cv.wait_until(deadline)) {
    }
    done = waiter->reply || waiter->cancelled;
    reply = std::move(waiter->reply);
    cancelled = waiter->cancelled;
  }
  {
    MutexLock wl(waiters_mu_);
    waiters_.erase(waiter);
  }
  if (reply) {
    send_reply(res, decoded->id, *reply);
  } else if (cancelled) {
    send_error(res, 503, Error::internal("tollgated is shutting down; the request may still complete"));
  } else if (!done) {
    send_error(res, 504, Error::timeout("no reply from the daemon within " + std::to_string(wait_ms) + " ms"));
  }
}

}  // namespace tollgate
