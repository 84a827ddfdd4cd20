// decode_request: one untrusted request body -> a validated RequestBody.
//
// Order of checks (each failure ends decoding): empty, too large,
// msgpack structure (bounded_unpack.h), first value is a map, id, trailing
// bytes, string keys, v, op, then the op's fields. The id is read before
// anything that can fail afterwards so that error replies echo it.
#include <array>
#include <limits>

#include "protocol/bounded_unpack.h"
#include "protocol/codec.h"
#include "protocol/content_decoder.h"
#include "protocol/field_reader.h"
#include "protocol/packer.h"

namespace tollgate::protocol {
namespace {

using detail::FieldReader;

constexpr size_t kAnyLength = std::numeric_limits<size_t>::max();
constexpr size_t kMaxProviderName = 128;
constexpr size_t kMaxModelName = 256;

DecodedRequest failure(RequestId id, Error error) { return {std::move(id), std::move(error)}; }

// nullopt when `v` is absent or 1.
std::optional<Error> check_version(FieldReader& fields) {
  const msgpack::object* v = fields.find("v");
  if (!fields.ok()) return fields.error();
  if (!v) return std::nullopt;
  if (v->type == msgpack::type::POSITIVE_INTEGER) {
    if (v->via.u64 == static_cast<uint64_t>(kProtocolVersion)) return std::nullopt;
    return Error::unsupported_version("v: protocol version " + std::to_string(v->via.u64) +
                                      " is not supported; this daemon speaks version 1");
  }
  if (v->type == msgpack::type::NEGATIVE_INTEGER) {
    return Error::unsupported_version("v: protocol version " + std::to_string(v->via.i64) +
                                      " is not supported; this daemon speaks version 1");
  }
  return Error::bad_request("v: integer protocol version (1)");
}

// For messages: at most 64 printable ASCII characters of untrusted text.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

void read_messages(FieldReader& f, std::vector<ChatMessage>& out) {
  const msgpack::object* o = f.find("messages");
  if (!o) return;
  constexpr std::string_view kRule = "non-empty array of {role, content} maps";
  if (o->type != msgpack::type::ARRAY || o->via.array.size == 0) {
    f.fail("messages", kRule);
    return;
  }
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& m = o->via.array.ptr[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (m.type != msgpack::type::MAP) {
      f.fail(where, "map with role and content");
      return;
    }
    FieldReader mf(m, f.path_of(where));
    ChatMessage msg;
    if (mf.check_string_keys()) {
      mf.string("role", 1, 16, msg.role);
      if (mf.ok() && msg.role != "user" && msg.role != "assistant") mf.fail("role", "user or assistant");
      detail::read_message_content(mf, msg);
    }
    if (!mf.ok()) {
      f.fail_with(mf.error());  // keeps the nested path
      return;
    }
    out.push_back(std::move(msg));
  }
  // Providers refuse a conversation that opens with the assistant's turn
  // (Anthropic: 400): refused here, before anything is reserved or sent.
  if (out.front().role != "user") f.fail("messages[0].role", "a conversation starts with a user message");
}

RequestBody decode_call(FieldReader& f, const DecodeLimits& limits) {
  CallRequest r;
  f.agent_name("ai_name", r.ai_name);
  f.string("prompt", 1, kAnyLength, r.prompt);
  read_messages(f, r.messages);
  if (f.ok() && r.prompt.has_value() == !r.messages.empty()) {
    f.fail("call", "exactly one of prompt or messages");
  }
  // system, and the other parts of section 8 (content_decoder.h).
  detail::read_call_content(f, r);
  f.uint("max_tokens", 1, limits.max_tokens_per_request, r.max_tokens);
  f.number("temperature", 0, 2, r.temperature);
  f.string("preferred_provider", 1, kMaxProviderName, r.preferred_provider);
  f.string("model", 1, kMaxModelName, r.model);
  f.string("idempotency_key", 1, kMaxIdempotencyKeyBytes, r.idempotency_key);
  f.int64("timeout_ms", 1, kMaxTimeoutMs, r.timeout_ms);
  f.boolean("stream", r.stream);  // section 9
  f.boolean("cache", r.cache);    // section 10
  if (f.ok()) {
    if (auto e = detail::check_conversation(r)) f.fail_with(*e);
  }
  return r;
}

RequestBody decode_ping(FieldReader&, const DecodeLimits&) { return PingRequest{}; }
RequestBody decode_summary(FieldReader&, const DecodeLimits&) { return SummaryRequest{}; }
RequestBody decode_emergency(FieldReader&, const DecodeLimits&) { return EmergencyStatusRequest{}; }

RequestBody decode_usage(FieldReader& f, const DecodeLimits&) {
  UsageRequest r;
  f.agent_name("ai_name", r.ai_name);
  return r;
}

RequestBody decode_recommend(FieldReader& f, const DecodeLimits&) {
  RecommendRequest r;
  f.agent_name("ai_name", r.ai_name);
  return r;
}

RequestBody decode_provider_status(FieldReader& f, const DecodeLimits&) {
  ProviderStatusRequest r;
  f.agent_name("ai_name", r.ai_name);
  return r;
}

RequestBody decode_alerts(FieldReader& f, const DecodeLimits&) {
  AlertsRequest r;
  f.uint("limit", 1, kMaxAlertsLimit, r.limit);
  f.int64("since_ms", 0, std::numeric_limits<int64_t>::max(), r.since_ms);
  f.agent_name("ai_name", r.ai_name, /*allow_star=*/true);
  return r;
}

RequestBody decode_history(FieldReader& f, const DecodeLimits&) {
  HistoryRequest r;
  f.agent_name("ai_name", r.ai_name);
  f.uint("months", 1, kMaxHistoryMonths, r.months);
  return r;
}

RequestBody decode_reset(FieldReader& f, const DecodeLimits&) {
  ResetRequest r;
  f.agent_name("ai_name", r.ai_name);
  f.string("provider", 1, kMaxProviderName, r.provider);
  f.boolean("force", r.force);
  return r;
}

RequestBody decode_ledger_events(FieldReader& f, const DecodeLimits&) {
  LedgerEventsRequest r;
  f.uint("limit", 1, kMaxLedgerEventsLimit, r.limit);
  f.int64("since_ms", 0, std::numeric_limits<int64_t>::max(), r.since_ms);
  return r;
}

// Section 9: the call to abort is named by its id, read by the rules of `id`.
RequestBody decode_cancel(FieldReader& f, const DecodeLimits&) {
  CancelRequest r;
  auto target = detail::read_request_id(f, "target");
  if (!target) {
    f.fail_with(target.error());
  } else if (target->is_nil()) {
    f.fail("target", "required; the id of a call in flight on this connection (string or integer)");
  } else {
    r.target = std::move(*target);
  }
  return r;
}

// Section 10. ai_name "*" names the global budget.
RequestBody decode_set_limit(FieldReader& f, const DecodeLimits&) {
  SetLimitRequest r;
  f.agent_name("ai_name", r.ai_name, /*allow_star=*/true);
  f.string("provider", 1, kMaxProviderName, r.provider);
  f.uint("limit", 0, kMaxLimitTokens, r.limit);
  f.number("limit_usd", 0, kMaxLimitUsd, r.limit_usd);
  return r;
}

RequestBody decode_limits(FieldReader&, const DecodeLimits&) { return LimitsRequest{}; }

RequestBody decode_forecast(FieldReader& f, const DecodeLimits&) {
  ForecastRequest r;
  f.agent_name("ai_name", r.ai_name, /*allow_star=*/true);
  return r;
}

RequestBody decode_daily(FieldReader& f, const DecodeLimits&) {
  DailyRequest r;
  f.agent_name("ai_name", r.ai_name);
  f.uint("days", 1, kMaxDailyDays, r.days);
  return r;
}

struct OpDecoder {
  std::string_view name;
  RequestBody (*decode)(FieldReader&, const DecodeLimits&);
};

// Same order as RequestBody's alternatives (checked in the tests).
constexpr std::array<OpDecoder, 16> kOps = {{
    {"ping", decode_ping},
    {"call", decode_call},
    {"usage", decode_usage},
    {"summary", decode_summary},
    {"provider_status", decode_provider_status},
    {"recommend", decode_recommend},
    {"emergency_status", decode_emergency},
    {"alerts", decode_alerts},
    {"history", decode_history},
    {"reset", decode_reset},
    {"ledger_events", decode_ledger_events},
    {"cancel", decode_cancel},
    {"set_limit", decode_set_limit},
    {"limits", decode_limits},
    {"forecast", decode_forecast},
    {"daily", decode_daily},
}};
static_assert(kOps.size() == std::variant_size_v<RequestBody>, "one decoder per op");

Result<RequestBody> decode_op(FieldReader& fields, const DecodeLimits& limits) {
  if (auto e = check_version(fields)) return *e;
  const msgpack::object* op = fields.find("op");
  if (!fields.ok()) return fields.error();
  if (!op) return Error::bad_request("op: required; string naming the operation");
  if (op->type != msgpack::type::STR) return Error::bad_request("op: string naming the operation");
  std::string_view name(op->via.str.ptr, op->via.str.size);
  for (const auto& entry : kOps) {
    if (entry.name != name) continue;
    RequestBody body = entry.decode(fields, limits);
    if (!fields.ok()) return fields.error();
    return body;
  }
  return Error::unknown_op("op: unknown operation \"" + printable(name) + "\"");
}

DecodedRequest decode_unpacked(std::string_view body, const DecodeLimits& limits) {
  msgpack::zone zone(detail::zone_chunk_size(body.size()));
  auto unpacked = detail::unpack_bounded(zone, body, limits.max_depth, "request body");
  if (!unpacked) return failure({}, unpacked.error());
  const msgpack::object& root = unpacked->object;
  if (root.type != msgpack::type::MAP) {
    return failure({}, Error::bad_request("request body: must be a msgpack map, not " +
                                          std::string(detail::type_name(root))));
  }
  FieldReader fields(root);
  auto id = detail::read_request_id(fields, "id");
  if (!id) return failure({}, id.error());
  if (unpacked->consumed != body.size()) {
    return failure(std::move(*id), Error::bad_request(
        "request body: " + std::to_string(body.size() - unpacked->consumed) +
        " trailing bytes after the map"));
  }
  if (!fields.check_string_keys()) return failure(std::move(*id), fields.error());
  auto decoded = decode_op(fields, limits);
  return {std::move(*id), std::move(decoded)};
}

}  // namespace

Error too_deep(std::string_view what, size_t max_depth) {
  return Error::bad_request(std::string(what) + ": nests containers deeper than " +
                            std::to_string(max_depth) + " levels");
}

DecodedRequest decode_request(std::string_view body, const DecodeLimits& limits) {
  if (body.empty()) return failure({}, Error::bad_request("request body: empty"));
  if (body.size() > limits.max_request_bytes) {
    return failure({}, Error::too_large("request body: " + std::to_string(body.size()) +
                                        " bytes is over max_request_bytes (" +
                                        std::to_string(limits.max_request_bytes) + ")"));
  }
  try {
    return decode_unpacked(body, limits);
  } catch (const std::exception& e) {
    // Only allocation failure can get here; still an answer, never a crash.
    return failure({}, Error::internal(std::string("request body: decoding failed: ") + e.what()));
  }
}

}  // namespace tollgate::protocol
