#include "daemon/server/ingress.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "daemon/core/call_fingerprint.h"
#include "daemon/server/http_api.h"
#include "daemon/server/ingress_sse.h"

namespace tollgate {

using ingress::Dialect;
using protocol::Error;

namespace {

// A stream waits for its next part in slices this long, so that a
// shutdown or the deadline is noticed between parts.
constexpr auto kStreamSlice = std::chrono::milliseconds(250);
// After this long without a part a stream writes a ping (SseWriter::ping):
// the second write to a closed connection fails, so a client gone while
// the provider is silent is noticed within about twice this.
constexpr auto kPingAfter = std::chrono::seconds(1);

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_error(Dialect dialect, httplib::Response& res, const Error& e) {
  const auto a = ingress::error_answer(dialect, e);
  res.status = a.status;
  res.set_content(a.body, kJsonContentType);
  if (a.retry_after_ms) {
    // Whole seconds, rounded up (RFC 9110); the SDKs prefer retry-after-ms.
    res.set_header("retry-after", std::to_string(std::max<int64_t>(0, (*a.retry_after_ms + 999) / 1000)));
    res.set_header("retry-after-ms", std::to_string(std::max<int64_t>(0, *a.retry_after_ms)));
  }
  res.set_header("x-should-retry", a.should_retry ? "true" : "false");
  res.set_header("x-tollgate-error", std::string(protocol::code_name(e.code)));
}

// 403 for a key that may not use the model it asked for.
void send_forbidden(Dialect dialect, httplib::Response& res, const std::string& message) {
  Error e = Error::unauthorized(message);
  send_error(dialect, res, e);
  res.status = 403;
  protocol::JsonValue body = protocol::JsonValue::parse(res.body);
  body["error"]["type"] = "permission_error";
  res.set_content(body.dump(), kJsonContentType);
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// The key the request presents: x-api-key (Anthropic), else the bearer
// token of Authorization (OpenAI); either works on every endpoint.
std::string presented_key(const httplib::Request& req) {
  if (req.has_header("x-api-key")) return req.get_header_value("x-api-key");
  const std::string auth = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "bearer ";
  if (!iequals_prefix(auth, kBearer)) return "";
  return auth.substr(kBearer.size());
}

// A call's slot among TOLLGATE_HTTP_MAX_CALLS, released with the last
// owner (the handler, or the stream it left running).
struct CallSlot {
  explicit CallSlot(std::shared_ptr<std::atomic<uint64_t>> n) : active(std::move(n)) {}
  ~CallSlot() { active->fetch_sub(1); }
  std::shared_ptr<std::atomic<uint64_t>> active;
};

}  // namespace

// One request's traffic with the loop: the loop thread adds parts and the
// final reply, the HTTP thread takes them; stop() sets `stopped`.
struct Ingress::Exchange {
  Mutex mu;
  CondVar cv{mu};
  std::deque<protocol::StreamChunk> parts GUARDED_BY(mu);
  std::optional<Reply> final GUARDED_BY(mu);
  bool gone GUARDED_BY(mu) = false;  // the client cannot take more: cut the stream
  bool stopped GUARDED_BY(mu) = false;
  std::chrono::steady_clock::time_point deadline{};  // set before it is shared
  protocol::RequestId id;                             // likewise
};

Ingress::Ingress(Deps deps, std::shared_ptr<const AgentKeys> keys)
    : deps_(std::move(deps)), keys_(std::move(keys)) {}

protocol::Result<std::unique_ptr<Ingress>> Ingress::create(Deps deps, const Config& config) {
  auto keys = AgentKeys::load(config.agent_keys_file);
  if (!keys) return keys.error();
  if (!config.agent_keys_file.empty()) {
    spdlog::info("agent keys: {} from {}", keys->size(), config.agent_keys_file);
  }
  return std::unique_ptr<Ingress>(
      new Ingress(std::move(deps), std::make_shared<const AgentKeys>(std::move(keys).value())));
}

void Ingress::reload(const Config& config) {
  auto keys = AgentKeys::load(config.agent_keys_file);
  if (!keys) {
    spdlog::error("reload: {}; the agent keys in use are kept", keys.error().message);
    return;
  }
  const size_t count = keys->size();
  {
    MutexLock lock(keys_mu_);
    keys_ = std::make_shared<const AgentKeys>(std::move(keys).value());
  }
  // Logged once the keys are in use: a request after this line sees them.
  spdlog::info("reload: {} agent keys", count);
}

void Ingress::stop() {
  MutexLock lock(exchanges_mu_);
  stopped_ = true;
  for (const auto& e : exchanges_) {
    MutexLock el(e->mu);
    e->stopped = true;
    e->cv.signal_all();
  }
}

std::string Ingress::allowed_methods(std::string_view path) {
  if (path == "/v1/chat/completions" || path == "/v1/messages") return "POST";
  if (path == "/v1/models") return "GET, HEAD";
  return "";
}

void Ingress::answer_unrouted(const httplib::Request& req, httplib::Response& res) {
  const Dialect dialect = req.path == "/v1/messages" || req.has_header("anthropic-version")
                              ? Dialect::kAnthropic
                              : Dialect::kOpenAI;
  const int status = res.status;
  if (status == 413) {
    send_error(dialect, res, Error::too_large("request body is over TOLLGATE_MAX_REQUEST_BYTES"));
  } else if (status == 404) {
    send_error(dialect, res, Error::unknown_op("no such endpoint: " + req.method + " " + req.path));
  } else {
    send_error(dialect, res, Error::bad_request("the HTTP request could not be read"));
  }
  res.status = status;
}

void Ingress::install(httplib::Server& http) {
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& c) {
              serve(Dialect::kOpenAI, q, r, c);
            });
  http.Post("/v1/messages",
            [this](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& c) {
              serve(Dialect::kAnthropic, q, r, c);
            });
  http.Get("/v1/models", [this](const auto& q, auto& r) { models(q, r); });
}

std::optional<Ingress::Agent> Ingress::authenticate(Dialect dialect, const httplib::Request& req,
                                                    httplib::Response& res) const {
  std::shared_ptr<const AgentKeys> keys;
  {
    MutexLock lock(keys_mu_);
    keys = keys_;
  }
  const std::string key = presented_key(req);
  const AgentKey* found = key.empty() ? nullptr : keys->find(key);
  if (!found) {
    // Never the key itself, at any level.
    send_error(dialect, res, Error::unauthorized(
        keys->empty() ? "no agent keys are configured (TOLLGATE_AGENT_KEYS_FILE)"
        : key.empty() ? "missing API key: send Authorization: Bearer <key> or x-api-key"
                      : "invalid API key"));
    res.set_header("WWW-Authenticate", "Bearer");
    return std::nullopt;
  }
  return Agent{found->ai_name, "agent-key:" + secret_digest(found->key), found->models};
}

void Ingress::models(const httplib::Request& req, httplib::Response& res) {
  const Dialect dialect = req.has_header("anthropic-version") ? Dialect::kAnthropic : Dialect::kOpenAI;
  if (!authenticate(dialect, req, res)) return;
  res.set_content(ingress::models_body(dialect, *deps_.config()), kJsonContentType);
}

std::optional<protocol::CallRequest> Ingress::prepare(Dialect dialect, const Agent& agent,
                                                      const httplib::Request& req,
                                                      const std::string& body, httplib::Response& res,
                                                      ingress::ClientRequest& read) const {
  auto parsed = ingress::read_request(dialect, body, deps_.limits.max_depth);
  if (!parsed) {
    send_error(dialect, res, parsed.error());
    return std::nullopt;
  }
  read = std::move(parsed).value();
  if (!AgentKey{"", agent.ai_name, agent.models}.allows(read.model)) {
    send_forbidden(dialect, res, "this key may not use model '" + read.model + "'");
    return std::nullopt;
  }
  const auto config = deps_.config();
  auto route = ingress::route_model(*config, read.model);
  if (!route) {
    send_error(dialect, res, route.error());
    return std::nullopt;
  }
  std::optional<std::string> idempotency_key;
  if (req.has_header("Idempotency-Key")) idempotency_key = req.get_header_value("Idempotency-Key");
  protocol::RequestBody call = ingress::make_call(read, agent.ai_name, *route, std::move(idempotency_key));
  // The decoder's checks and limits, exactly as a ZeroMQ client's call gets them.
  auto decoded = protocol::decode_request(protocol::encode_request(protocol::RequestId{}, call), deps_.limits);
  if (!decoded.body) {
    send_error(dialect, res, decoded.body.error());
    return std::nullopt;
  }
  return std::get<protocol::CallRequest>(std::move(*decoded.body));
}

std::shared_ptr<Ingress::Exchange> Ingress::submit(const Agent& agent, protocol::CallRequest call) {
  const auto config = deps_.config();
  auto exchange = std::make_shared<Exchange>();
  const int64_t wait_ms = call.timeout_ms.value_or(static_cast<int64_t>(config->call_timeout_ms)) + kHttpLoopMarginMs;
  exchange->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  {
    MutexLock lock(exchanges_mu_);
    if (stopped_) return nullptr;
    exchanges_.insert(exchange);
  }
  exchange->id = protocol::RequestId::from_string("http-v1-" + std::to_string(next_id_++));
  curve::Caller caller{curve::ClientRole::kClient, agent.who};
  deps_.server->submit(
      exchange->id, std::move(call), std::move(caller),
      [exchange](const Reply& reply) {
        MutexLock lock(exchange->mu);
        exchange->final = reply;
        exchange->cv.signal_all();
      },
      [exchange](const Reply& reply) {
        MutexLock lock(exchange->mu);
        if (exchange->gone) return false;
        if (const auto* p = std::get_if<protocol::CallPartReply>(&reply.body())) {
          exchange->parts.push_back(p->chunk);
        }
        exchange->cv.signal_all();
        return true;
      });
  return exchange;
}

void Ingress::forget(const std::shared_ptr<Exchange>& exchange) {
  MutexLock lock(exchanges_mu_);
  exchanges_.erase(exchange);
}

std::string Ingress::response_id(Dialect dialect) {
  const std::string n = std::to_string(unix_seconds()) + std::to_string(next_id_++);
  return dialect == Dialect::kOpenAI ? "chatcmpl-tg" + n : "msg_tg" + n;
}

std::optional<std::string> Ingress::read_body(Dialect dialect, const httplib::ContentReader& reader,
                                             httplib::Response& res) const {
  // httplib bounds each read (TOLLGATE_HTTP_READ_TIMEOUT_MS); this bounds
  // the whole body, which a client sending a byte now and then would
  // otherwise stretch for ever while it holds a thread.
  const auto limit = std::chrono::milliseconds(deps_.config()->http_read_timeout_ms * 10);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string body;
  bool late = false;
  const bool whole = reader([&](const char* data, size_t size) {
    if (std::chrono::steady_clock::now() > deadline) {
      late = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (whole && !late) return body;
  const int status = res.status;
  if (status == 413) {
    send_error(dialect, res, Error::too_large("request body is over TOLLGATE_MAX_REQUEST_BYTES"));
  } else {
    send_error(dialect, res, Error::bad_request(
        late ? "the request body did not arrive within " + std::to_string(limit.count()) +
                   " ms (10 times TOLLGATE_HTTP_READ_TIMEOUT_MS)"
             : "the request body could not be read"));
    res.status = late ? 408 : 400;
  }
  return std::nullopt;
}

void Ingress::serve(Dialect dialect, const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& reader) {
  auto body = read_body(dialect, reader, res);
  if (!body) return;
  auto agent = authenticate(dialect, req, res);
  if (!agent) return;
  ingress::ClientRequest read;
  auto call = prepare(dialect, *agent, req, *body, res, read);
  if (!call) return;
  const auto max_calls = deps_.config()->http_max_calls;
  if (active_->fetch_add(1) >= max_calls) {
    active_->fetch_sub(1);
    send_error(dialect, res, Error::overloaded("more than TOLLGATE_HTTP_MAX_CALLS=" +
                                               std::to_string(max_calls) + " calls at once", 1000));
    return;
  }
  auto slot = std::make_shared<CallSlot>(active_);
  auto exchange = submit(*agent, std::move(*call));
  if (!exchange) {
    send_error(dialect, res, Error::internal("tollgated is shutting down"));
    return;
  }
  answer(dialect, read, std::move(exchange), std::move(slot), res);
}

void Ingress::answer(Dialect dialect, const ingress::ClientRequest& read,
                     std::shared_ptr<Exchange> exchange, std::shared_ptr<void> slot,
                     httplib::Response& res) {
  std::optional<Reply> final;
  bool has_parts = false;
  bool stopped = false;
  {
    MutexLock lock(exchange->mu);
    while (!exchange->final && exchange->parts.empty() && !exchange->stopped &&
           exchange->cv.wait_until(exchange->deadline)) {
    }
    final = exchange->final;
    has_parts = !exchange->parts.empty();
    stopped = exchange->stopped;
  }
  if (read.stream && (has_parts || (final && final->ok()))) {
    stream(dialect, read, std::move(exchange), std::move(slot), res);
    return;
  }
  forget(exchange);
  if (!final) {
    send_error(dialect, res, stopped ? Error::internal("tollgated is shutting down; the call may still complete")
                                     : Error::timeout("no reply from the daemon in time"));
    return;
  }
  if (!final->ok()) {
    send_error(dialect, res, final->error());
    return;
  }
  const auto& reply = std::get<protocol::CallReply>(final->body());
  res.set_header("x-tollgate-provider", reply.provider);
  res.set_header("x-tollgate-reason", reply.reason);
  if (reply.replayed) res.set_header("x-tollgate-replayed", "true");
  res.set_content(ingress::response_body(dialect, reply, response_id(dialect), unix_seconds()), kJsonContentType);
}

// What one streamed response has written so far (its HTTP thread only).
struct Ingress::StreamState {
  std::unique_ptr<ingress::SseWriter> writer;
  bool begun = false;
  bool done = false;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

std::string Ingress::next_events(Exchange& exchange, StreamState& state) {
  std::string out;
  MutexLock lock(exchange.mu);
  const auto until = std::min(exchange.deadline, std::chrono::steady_clock::now() + kStreamSlice);
  while (exchange.parts.empty() && !exchange.final && !exchange.stopped && exchange.cv.wait_until(until)) {
  }
  if (!state.begun && exchange.parts.empty() && exchange.final && exchange.final->ok()) {
    // No parts: an idempotent replay or a cache hit.
    state.begun = state.done = true;
    return state.writer->replay(std::get<protocol::CallReply>(exchange.final->body()));
  }
  if (!state.begun) out = state.writer->begin();
  state.begun = true;
  for (const auto& c : exchange.parts) out += state.writer->part(c);
  exchange.parts.clear();
  if (exchange.final) {
    out += exchange.final->ok() ? state.writer->finish(std::get<protocol::CallReply>(exchange.final->body()))
                                : state.writer->fail(exchange.final->error());
    state.done = true;
  } else if (exchange.stopped || std::chrono::steady_clock::now() >= exchange.deadline) {
    out += state.writer->fail(exchange.stopped ? Error::internal("tollgated is shutting down")
                                               : Error::timeout("no reply from the daemon in time"));
    state.done = true;
  }
  return out;
}

void Ingress::stream(Dialect dialect, const ingress::ClientRequest& read,
                     std::shared_ptr<Exchange> exchange, std::shared_ptr<void> slot,
                     httplib::Response& res) {
  auto state = std::make_shared<StreamState>();
  state->writer = ingress::SseWriter::make(dialect, response_id(dialect), read.model, unix_seconds(),
                                           read.include_usage);
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [exchange, state](size_t, httplib::DataSink& sink) {
        std::string out = next_events(*exchange, *state);
        const auto now = std::chrono::steady_clock::now();
        if (out.empty() && now - state->last_write >= kPingAfter) out = state->writer->ping();
        if (!out.empty()) {
          if (!sink.write(out.data(), out.size())) return false;
          state->last_write = now;
        }
        if (state->done) sink.done();
        return true;
      },
      [this, exchange, state, slot](bool) {
        {
          MutexLock lock(exchange->mu);
          exchange->gone = true;
        }
        // The client went away before the end: the call stops now rather
        // than at its next part (a provider may be silent for long).
        if (!state->done) {
          deps_.server->cancel_submitted(exchange->id,
                                         Error::cancelled("the HTTP client went away mid-stream"));
        }
        forget(exchange);
      });
}

}  // namespace tollgate
