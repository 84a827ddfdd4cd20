// Small functions over the message structs: op names, event kinds and
// topics, request ids.
#include <array>
#include <string_view>
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

namespace {

// What an id's bytes hold, read by msgpack's parser without building an
// object (no zone: ids are read for every log line of every call).
class IdReader : public msgpack::null_visitor {
 public:
  bool visit_str(const char* v, uint32_t size) {
    str = std::string_view(v, size);
    kind = Kind::kStr;
    return true;
  }
  bool visit_positive_integer(uint64_t v) {
    u64 = v;
    kind = Kind::kUnsigned;
    return true;
  }
  bool visit_negative_integer(int64_t v) {
    i64 = v;
    kind = Kind::kSigned;
    return true;
  }
  // Anything else (raw not built by this library) reads as no value.
  bool start_array(uint32_t) { return false; }
  bool start_map(uint32_t) { return false; }
  void parse_error(size_t, size_t) { kind = Kind::kNone; }
  void insufficient_bytes(size_t, size_t) { kind = Kind::kNone; }

  enum class Kind { kNone, kStr, kUnsigned, kSigned };
  Kind kind = Kind::kNone;
  std::string_view str;
  uint64_t u64 = 0;
  int64_t i64 = 0;
};

IdReader read_id(const std::string& raw) {
  IdReader r;
  size_t off = 0;
  if (raw.empty() || !msgpack::parse(raw.data(), raw.size(), off, r) || off != raw.size()) {
    r.kind = IdReader::Kind::kNone;
  }
  return r;
}

}  // namespace

std::optional<int64_t> RequestId::as_int() const {
  IdReader r = read_id(raw);
  if (r.kind == IdReader::Kind::kSigned) return r.i64;
  if (r.kind == IdReader::Kind::kUnsigned && r.u64 <= INT64_MAX) return static_cast<int64_t>(r.u64);
  return std::nullopt;
}

std::optional<std::string> RequestId::as_string() const {
  IdReader r = read_id(raw);
  if (r.kind == IdReader::Kind::kStr) return std::string(r.str);
  return std::nullopt;
}

std::string RequestId::to_display() const {
  if (raw.empty()) return "nil";
  IdReader r = read_id(raw);
  switch (r.kind) {
    case IdReader::Kind::kStr: return std::string(r.str);
    case IdReader::Kind::kUnsigned: return std::to_string(r.u64);
    case IdReader::Kind::kSigned: return std::to_string(r.i64);
    case IdReader::Kind::kNone: break;
  }
  return "?";
}

}  // namespace tollgate::protocol
