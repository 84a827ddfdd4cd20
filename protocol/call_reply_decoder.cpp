// decode_call_reply: the inverse of encode_reply for a CallReply, so that an
// idempotent repeat answered from the ledger's stored reply (encoded bytes,
// durable data) is decoded once and then handled as a value like any other
// reply.
#include <limits>

#include "protocol/bounded_unpack.h"
#include "protocol/codec.h"
#include "protocol/content_decoder.h"
#include "protocol/field_reader.h"

namespace tollgate::protocol {
namespace {

constexpr size_t kAny = std::numeric_limits<size_t>::max();
constexpr uint64_t kMaxU = std::numeric_limits<uint64_t>::max();
constexpr double kMaxNumber = std::numeric_limits<double>::max();
// A tool_use input in `content` nests as deep as the provider sent it.
constexpr size_t kMaxDepth = 64;

void read_usage(detail::FieldReader& f, TokenUsage& out) {
  const msgpack::object* o = f.find("usage");
  if (!o || o->type != msgpack::type::MAP) {
    f.fail("usage", "map of input_tokens, output_tokens, total_tokens");
    return;
  }
  detail::FieldReader u(*o, f.path_of("usage"));
  u.uint("input_tokens", 0, kMaxU, out.input_tokens);
  u.uint("output_tokens", 0, kMaxU, out.output_tokens);
  u.uint("total_tokens", 0, kMaxU, out.total_tokens);
  u.uint("cache_creation_input_tokens", 0, kMaxU, out.cache_creation_input_tokens);
  u.uint("cache_read_input_tokens", 0, kMaxU, out.cache_read_input_tokens);
  if (!u.ok()) f.fail_with(u.error());
}

void read_attempts(detail::FieldReader& f, std::vector<CallAttempt>& out) {
  const msgpack::object* o = f.find("attempts");
  if (!o || o->type != msgpack::type::ARRAY) {
    f.fail("attempts", "array of attempt maps");
    return;
  }
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& m = o->via.array.ptr[i];
    const std::string where = "attempts[" + std::to_string(i) + "]";
    if (m.type != msgpack::type::MAP) {
      f.fail(where, "map with provider, outcome, code and latency_ms");
      return;
    }
    detail::FieldReader af(m, f.path_of(where));
    CallAttempt a;
    af.string("provider", 0, kAny, a.provider);
    af.string("outcome", 0, kAny, a.outcome);
    af.string("code", 0, kAny, a.code);
    af.number("latency_ms", 0, kMaxNumber, a.latency_ms);
    if (!af.ok()) {
      f.fail_with(af.error());
      return;
    }
    out.push_back(std::move(a));
  }
}

// Section 8's `content` and `stop_reason`; a reply stored before they
// existed has neither (empty content, unknown stop reason).
void read_content(detail::FieldReader& f, CallReply& out) {
  if (const msgpack::object* o = f.find("content")) {
    if (auto e = detail::read_blocks(*o, f.path_of("content"), detail::BlockMode::kStoredReply, out.content)) {
      f.fail_with(*e);
    }
  }
  std::optional<std::string> reason;
  f.string("stop_reason", 1, kAny, reason);
  if (!reason) return;
  for (auto r : {StopReason::kEndTurn, StopReason::kMaxTokens, StopReason::kStopSequence, StopReason::kToolUse,
                 StopReason::kRefusal}) {
    if (stop_reason_name(r) == *reason) out.stop_reason = r;
  }
  if (!out.stop_reason) f.fail("stop_reason", "end_turn, max_tokens, stop_sequence, tool_use or refusal");
}

}  // namespace

Result<CallReply> decode_call_reply(std::string_view body) {
  try {
    msgpack::zone zone(detail::zone_chunk_size(body.size()));
    auto unpacked = detail::unpack_bounded(zone, body, kMaxDepth, "call reply");
    if (!unpacked) return unpacked.error();
    if (unpacked->object.type != msgpack::type::MAP || unpacked->consumed != body.size()) {
      return Error::bad_request("call reply: must be exactly one msgpack map");
    }
    detail::FieldReader f(unpacked->object);
    CallReply r;
    if (f.check_string_keys()) {
      bool ok = false;
      f.boolean("ok", ok);
      if (f.ok() && !ok) f.fail("ok", "true (a call reply, not an error reply)");
      f.string("text", 0, kAny, r.text);
      f.string("provider", 0, kAny, r.provider);
      f.string("model", 0, kAny, r.model);
      f.string("reason", 0, kAny, r.reason);
      read_usage(f, r.usage);
      f.number("cost_usd", 0, kMaxNumber, r.cost_usd);
      read_attempts(f, r.attempts);
      f.number("latency_ms", 0, kMaxNumber, r.latency_ms);
      f.boolean("replayed", r.replayed);
      read_content(f, r);
    }
    if (!f.ok()) return f.error();
    return r;
  } catch (const std::exception& e) {
    return Error::internal(std::string("call reply: decoding failed: ") + e.what());
  }
}

}  // namespace tollgate::protocol
