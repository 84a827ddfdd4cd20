// tollgate/client.hpp: a header-only C++20 client for tollgated (the
// wire protocol of docs/protocol.md), needing only cppzmq and msgpack-cxx
// (define MSGPACK_NO_BOOST; the CMake target tollgate::client does).
//
//   tollgate::Client client("tcp://127.0.0.1:5555");
//   tollgate::CallOptions call;
//   call.ai_name = "imperium";
//   call.prompt = "Say hello";
//   auto r = client.call(call);
//   if (r.ok()) std::cout << r->text << "\n";
//   else std::cerr << r.error().code << ": " << r.error().message << "\n";
//
// Every method is synchronous: it sends one request (with a unique `id`)
// and waits for the reply with that id, up to Options::timeout (Options,
// with the CurveZMQ keys, is in transport.hpp; the call types in call.hpp,
// the typed status replies in ops.hpp, Value in value.hpp). Nothing
// throws (a callback's own exceptions pass through): failures are
// Result errors, the daemon's codes or the client's own (result.hpp).
//
// Threading: a Client is NOT locked. Use each Client from one thread at a
// time (typically one Client per thread; they are cheap: one ZeroMQ
// context and one DEALER socket each). The one re-entrant use allowed is
// calling cancel() (or any other method) from inside a stream() callback,
// on the same Client, which is how a stream is cancelled.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "tollgate/call.hpp"
#include "tollgate/ops.hpp"
#include "tollgate/result.hpp"
#include "tollgate/transport.hpp"
#include "tollgate/value.hpp"

namespace tollgate {

// The tollgate release this header ships with (a test keeps it equal to
// the project's version).
inline constexpr const char* kClientVersion = "0.1.0";

class Client {
 public:
  using PartCallback = std::function<void(const Chunk&)>;

  // Connects lazily (ZeroMQ): a daemon that is not up yet is not an error;
  // a request to it times out. A bad endpoint or key makes every method
  // return a `transport` error.
  explicit Client(const std::string& endpoint, Options options = {})
      : options_(std::move(options)), transport_(endpoint, options_) {}

  // `call`: every field of CallOptions that is set. Resends after a
  // client_timeout up to `retries` times with the same idempotency key.
  Result<CallResult> call(const CallOptions& o) { return run_call(o, nullptr); }

  // `call` with stream: true. `on_part` sees each part as it arrives; the
  // result is the final reply (or the error that ended the stream, with
  // `partial` when parts came first). Resends (`retries`) happen only
  // while no part has come.
  Result<CallResult> stream(const CallOptions& o, const PartCallback& on_part) {
    return run_call(o, on_part ? &on_part : nullptr);
  }

  // Aborts the call with id `target` sent on this client (Chunk::request_id,
  // CallResult::request_id, Error::request_id). True when it was found.
  Result<bool> cancel(const std::string& target) {
    auto r = request("cancel", Value::Map{{"target", target}});
    if (!r.ok()) return r.error();
    return r->operator[]("found").as_bool();
  }

  Result<PingInfo> ping() { return convert(request("ping", {}), detail::ping_from); }
  Result<UsageReport> usage(const std::string& ai_name) {
    return convert(request("usage", Value::Map{{"ai_name", ai_name}}), detail::usage_from);
  }
  Result<Value> summary() { return request("summary", {}); }
  Result<Value> provider_status(const std::optional<std::string>& ai_name = {}) {
    return request("provider_status", optional_field({}, "ai_name", ai_name));
  }
  Result<Recommendation> recommend(const std::string& ai_name) {
    return convert(request("recommend", Value::Map{{"ai_name", ai_name}}), detail::recommendation_from);
  }
  Result<Value> emergency_status() { return request("emergency_status", {}); }
  Result<Value> alerts(const AlertsQuery& q = {}) {
    Value f = optional_field({}, "limit", q.limit);
    f = optional_field(std::move(f), "since_ms", q.since_ms);
    return request("alerts", optional_field(std::move(f), "ai_name", q.ai_name));
  }
  Result<Value> history(const std::string& ai_name, std::optional<int64_t> months = {}) {
    return request("history", optional_field(Value::Map{{"ai_name", ai_name}}, "months", months));
  }
  // Admin (CurveZMQ: an admin key). `force` resets an agent without usage.
  Result<Value> reset(const std::string& ai_name, const std::optional<std::string>& provider = {},
                      bool force = false) {
    Value f = optional_field(Value::Map{{"ai_name", ai_name}}, "provider", provider);
    if (force) f["force"] = true;
    return request("reset", std::move(f));
  }
  // Admin. `limit` nullopt goes back to the configured default; ai_name
  // "*" is the global budget. Reply: the budget as in `usage`.
  Result<Value> set_limit(const std::string& ai_name, const std::string& provider,
                          std::optional<uint64_t> limit, std::optional<double> limit_usd = {}) {
    Value f = Value::Map{{"ai_name", ai_name}, {"provider", provider}};
    f["limit"] = limit ? Value(*limit) : Value();
    return request("set_limit", optional_field(std::move(f), "limit_usd", limit_usd));
  }
  Result<Value> limits() { return request("limits", {}); }
  Result<Value> forecast(const std::optional<std::string>& ai_name = {}) {
    return request("forecast", optional_field({}, "ai_name", ai_name));
  }
  Result<Value> daily(const std::optional<std::string>& ai_name = {}, std::optional<int64_t> days = {}) {
    return request("daily", optional_field(optional_field({}, "ai_name", ai_name), "days", days));
  }
  Result<Value> ledger_events(std::optional<int64_t> limit = {}, std::optional<int64_t> since_ms = {}) {
    return request("ledger_events", optional_field(optional_field({}, "limit", limit), "since_ms", since_ms));
  }

  // Any op, for ops newer than this header: `fields` (a map) besides v, id
  // and op. The reply when ok, else its error.
  Result<Value> request(const std::string& op, Value fields, std::optional<std::chrono::milliseconds> timeout = {}) {
    const std::string id = transport_.next_id();
    last_id_ = id;
    if (auto err = transport_.send(id, op, fields)) return *err;
    auto reply = transport_.receive(id, detail::Clock::now() + timeout.value_or(options_.timeout));
    if (!reply.ok()) return reply;
    return finish(std::move(reply).value(), id);
  }

  // The id of the last request sent (e.g. to cancel() a call that timed
  // out on the client side while the daemon still runs it).
  const std::string& last_request_id() const { return last_id_; }
  // Messages discarded because no request waited for them (late replies).
  uint64_t stale_replies() const { return transport_.stale(); }

 private:
  template <class F>
  static auto convert(Result<Value> r, F f) -> Result<decltype(f(Value()))> {
    if (!r.ok()) return r.error();
    return f(std::move(r).value());
  }

  template <class T>
  static Value optional_field(Value f, const char* key, const std::optional<T>& v) {
    if (f.is_null()) f = Value::Map{};
    if (v) f[key] = *v;
    return f;
  }

  // An error reply as an Error; an ok reply as itself.
  static Result<Value> finish(Value reply, const std::string& id) {
    if (reply["ok"].as_bool()) return reply;
    const Value& e = reply["error"];
    Error err{e["code"].as_string(), e["message"].as_string(), std::nullopt, id,
              reply["partial"].as_bool() || e["partial"].as_bool()};
    if (e["retry_after_ms"].is_int()) err.retry_after_ms = e["retry_after_ms"].as_int();
    if (err.code.empty()) err = Error{kBadReply, "a reply with ok false and no error code", std::nullopt, id, false};
    return err;
  }

  // One send of a call and its wait: parts go to on_part (counted in
  // `parts`), the final message is returned.
  Result<Value> call_once(const std::string& id, const Value& body, std::chrono::milliseconds wait,
                          const PartCallback* on_part, int& parts) {
    if (auto err = transport_.send(id, "call", body)) return *err;
    struct Open {  // keeps the stream's messages while a callback cancels
      detail::Transport& t;
      const std::string& id;
      ~Open() { t.close_stream(id); }
    } open{transport_, id};
    if (on_part) transport_.open_stream(id);
    for (;;) {
      auto msg = transport_.receive(id, detail::Clock::now() + wait);
      if (!msg.ok()) return msg;
      const Value& m = msg.value();
      if (!m["ok"].as_bool() || !m["chunk"].is_map()) return finish(std::move(msg).value(), id);
      ++parts;
      if (on_part) (*on_part)(detail::chunk_from(m, id));
    }
  }

  Result<CallResult> run_call(const CallOptions& o, const PartCallback* on_part) {
    const std::string key = o.idempotency_key.value_or(transport_.random_key());
    const Value body = detail::call_body(o, key, on_part != nullptr);
    const auto wait = o.client_timeout.value_or(options_.timeout);
    int parts = 0;
    for (int send = 1;; ++send) {
      const std::string id = transport_.next_id();
      last_id_ = id;
      auto reply = call_once(id, body, wait, on_part, parts);
      const bool resend = !reply.ok() && reply.error().code == kClientTimeout && parts == 0 && send <= o.retries;
      if (resend) continue;
      if (!reply.ok()) return reply.error();
      CallResult r = detail::call_result_from(std::move(reply).value());
      r.request_id = id;
      r.sends = send;
      return r;
    }
  }

  Options options_;
  detail::Transport transport_;
  std::string last_id_;
};

}  // namespace tollgate
