// Small functions over the message structs: op names, event kinds and
// topics, request ids.
#include <array>
#include <msgpack.hpp>

#include "protocol/events.h"
#include "protocol/packer.h"
#include "protocol/replies.h"
#include "protocol/request_id.h"
#include "protocol/requests.h"

namespace tollgate::protocol {
namespace {

// Index i is the op of RequestBody alternative i.
constexpr std::array<std::string_view, std::variant_size_v<RequestBody>> kOpNames = {
    "ping",   "call",    "usage",           "summary", "provider_status", "recommend",
    "emergency_status", "alerts", "history", "reset", "ledger_events",
    "cancel", "set_limit", "limits", "forecast", "daily"};

}  // namespace

std::string_view op_name(const RequestBody& body) { return kOpNames[body.index()]; }

std::string_view chunk_type_name(StreamChunk::Type type) {
  switch (type) {
    case StreamChunk::Type::kTextDelta: return "text_delta";
    case StreamChunk::Type::kToolUseStart: return "tool_use_start";
    case StreamChunk::Type::kInputJsonDelta: return "input_json_delta";
  }
  return "text_delta";
}

std::string_view ledger_kind(const LedgerEvent& event) {
  constexpr std::array<std::string_view, 4> kKinds = {"reset", "rollover", "recovered", "limit"};
  return kKinds[event.data.index()];
}

std::string event_topic(const Event& event) {
  struct Topic {
    std::string operator()(const UsageEvent& e) const { return "usage." + e.ai_name; }
    std::string operator()(const AlertEvent& e) const { return "alert." + e.level; }
    std::string operator()(const ProviderEvent& e) const { return "provider." + e.provider; }
    std::string operator()(const LedgerEvent&) const { return "ledger"; }
  };
  return std::visit(Topic{}, event);
}

RequestId RequestId::from_int(int64_t id) {
  detail::Packer p(detail::Absent::kNil, 9);
  p.put(id);
  return RequestId{p.take()};
}

RequestId RequestId::from_string(std::string_view id) {
  detail::Packer p(detail::Absent::kNil, id.size() + 5);
  p.str(id);
  return RequestId{p.take()};
}

std::optional<int64_t> RequestId::as_int() const {
  if (raw.empty()) return std::nullopt;
  try {
    msgpack::object_handle h = msgpack::unpack(raw.data(), raw.size());
    const msgpack::object& o = h.get();
    if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
    if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
      return static_cast<int64_t>(o.via.u64);
    }
  } catch (const msgpack::unpack_error&) {
    // raw was not built by this library; treat as no integer.
  }
  return std::nullopt;
}

std::optional<std::string> RequestId::as_string() const {
  if (raw.empty()) return std::nullopt;
  try {
    msgpack::object_handle h = msgpack::unpack(raw.data(), raw.size());
    const msgpack::object& o = h.get();
    if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
  } catch (const msgpack::unpack_error&) {
    // as above
  }
  return std::nullopt;
}

std::string RequestId::to_display() const {
  if (auto s = as_string()) return *s;
  if (auto i = as_int()) return std::to_string(*i);
  if (raw.empty()) return "nil";
  // A uint64 above INT64_MAX.
  try {
    msgpack::object_handle h = msgpack::unpack(raw.data(), raw.size());
    if (h.get().type == msgpack::type::POSITIVE_INTEGER) return std::to_string(h.get().via.u64);
  } catch (const msgpack::unpack_error&) {
    // fall through
  }
  return "?";
}

}  // namespace tollgate::protocol
