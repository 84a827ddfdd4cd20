// Reply: the answer to one request, typed until the edge encodes it.
//
// Whatever answers a request (the status reader, the dispatcher, the
// ledger's writer for a reset, the call workers, an idempotent replay)
// hands the server loop a Reply value: the op's reply or an error. Only the
// edge encodes it, once: the ROUTER as msgpack (wire_reply), the HTTP
// listener as JSON (json_reply). Metrics read the code and a call's reason
// from the value, never from bytes.
//
// Plain data: safe to move between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/error.h"
#include "protocol/replies.h"
#include "protocol/request_id.h"

namespace tollgate {

class Reply {
 public:
  // An error reply (`ok: false`).
  Reply(protocol::Error error) : v_(std::in_place_index<1>, std::move(error)) {}
  // An op's reply (`ok: true`): PingReply, CallReply, UsageReply, ...
  template <class Body>
    requires std::is_constructible_v<protocol::ReplyBody, Body&&>
  Reply(Body&& body) : v_(std::in_place_index<0>, std::forward<Body>(body)) {}

  bool ok() const { return v_.index() == 0; }
  const protocol::ReplyBody& body() const { return std::get<0>(v_); }
  const protocol::Error& error() const { return std::get<1>(v_); }
  // "ok", or the error's wire code ("budget_exhausted", ...).
  std::string_view code() const;
  // A call reply's `reason` (primary, preferred, fallback_*); "" otherwise.
  std::string_view reason() const;

  // An ok reply answered from what was last read (protocol::Staleness).
  void mark_stale(protocol::Staleness stale) { stale_ = std::move(stale); }
  const std::optional<protocol::Staleness>& stale() const { return stale_; }

 private:
  std::variant<protocol::ReplyBody, protocol::Error> v_;
  std::optional<protocol::Staleness> stale_;
};

// The reply body frame (msgpack) for request `id`: the ROUTER edge.
std::string wire_reply(const protocol::RequestId& id, const Reply& reply);
// The same reply as JSON: the HTTP edge.
nlohmann::json json_reply(const protocol::RequestId& id, const Reply& reply);

}  // namespace tollgate
