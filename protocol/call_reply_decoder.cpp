// decode_call_reply: the inverse of encode_reply for a CallReply, so that an
// idempotent repeat answered from the ledger's stored reply (encoded bytes,
// durable data) is decoded once and then handled as a value like any other
// reply. decode_reply: the client's side of the same, for every message a
// `call` or `cancel` may get back: the call's reply, the parts of a
// streamed call (section 9), the cancel's reply, and error replies.
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

// The fields of a call reply (`ok` is the caller's).
void read_call_reply(detail::FieldReader& f, CallReply& r) {
  f.string("text", 0, kAny, r.text);
  f.string("provider", 0, kAny, r.provider);
  f.string("model", 0, kAny, r.model);
  f.string("reason", 0, kAny, r.reason);
  read_usage(f, r.usage);
  f.number("cost_usd", 0, kMaxNumber, r.cost_usd);
  read_attempts(f, r.attempts);
  f.number("latency_ms", 0, kMaxNumber, r.latency_ms);
  f.boolean("replayed", r.replayed);
  f.boolean("cached", r.cached);  // section 10
  read_content(f, r);
}

// Section 9: `chunk` of a part; each type has its own fields.
void read_chunk(detail::FieldReader& f, StreamChunk& out) {
  const msgpack::object* o = f.find("chunk");
  if (!o || o->type != msgpack::type::MAP) {
    f.fail("chunk", "map with type and index");
    return;
  }
  detail::FieldReader c(*o, f.path_of("chunk"));
  std::string type;
  c.string("type", 1, kAny, type);
  bool known = false;
  for (auto t : {StreamChunk::Type::kTextDelta, StreamChunk::Type::kToolUseStart,
                 StreamChunk::Type::kInputJsonDelta}) {
    if (chunk_type_name(t) == type) {
      out.type = t;
      known = true;
    }
  }
  if (c.ok() && !known) c.fail("type", "text_delta, tool_use_start or input_json_delta");
  c.uint("index", 0, kMaxU, out.index);
  switch (out.type) {
    case StreamChunk::Type::kTextDelta: c.string("text", 0, kAny, out.text); break;
    case StreamChunk::Type::kToolUseStart:
      c.string("id", 0, kAny, out.id);
      c.string("name", 0, kAny, out.name);
      break;
    case StreamChunk::Type::kInputJsonDelta: c.string("partial_json", 0, kAny, out.text); break;
  }
  if (!c.ok()) f.fail_with(c.error());
}

// `ok: false`: the Error the daemon answered. `partial` may be at the top
// level, in `error`, or both (encode_error_reply writes both).
Error read_error(detail::FieldReader& f) {
  Error e = Error::internal("");
  const msgpack::object* o = f.find("error");
  if (!o || o->type != msgpack::type::MAP) {
    f.fail("error", "map with code and message");
    return e;
  }
  detail::FieldReader ef(*o, f.path_of("error"));
  std::string code;
  ef.string("code", 1, kAny, code);
  if (auto known = code_from_name(code)) {
    e.code = *known;
  } else if (ef.ok()) {
    ef.fail("code", "an error code of PROTOCOL.md section 3");
  }
  ef.string("message", 0, kAny, e.message);
  ef.int64("retry_after_ms", 0, std::numeric_limits<int64_t>::max(), e.retry_after_ms);
  bool partial = false;
  ef.boolean("partial", partial);
  f.boolean("partial", e.partial);
  e.partial = e.partial || partial;
  if (!ef.ok()) f.fail_with(ef.error());
  return e;
}

// `ok: true`: the reply of `op` ("call" or "cancel").
ReplyBody read_reply_body(detail::FieldReader& f, std::string_view op) {
  if (op == "call") {
    if (f.find("chunk")) {
      CallPartReply part;
      f.uint("part", 1, kMaxU, part.part);
      read_chunk(f, part.chunk);
      return ReplyBody(std::move(part));
    }
    CallReply r;
    read_call_reply(f, r);
    return ReplyBody(std::move(r));
  }
  CancelReply r;
  if (f.ok() && !f.find("found")) f.fail("found", "required; true or false");
  f.boolean("found", r.found);
  return ReplyBody(r);
}

Result<msgpack::object> unpack_map(msgpack::zone& zone, std::string_view body, const char* what) {
  auto unpacked = detail::unpack_bounded(zone, body, kMaxDepth, what);
  if (!unpacked) return unpacked.error();
  if (unpacked->object.type != msgpack::type::MAP || unpacked->consumed != body.size()) {
    return Error::bad_request(std::string(what) + ": must be exactly one msgpack map");
  }
  return unpacked->object;
}

}  // namespace

Result<CallReply> decode_call_reply(std::string_view body) {
  try {
    msgpack::zone zone(detail::zone_chunk_size(body.size()));
    auto map = unpack_map(zone, body, "call reply");
    if (!map) return map.error();
    detail::FieldReader f(*map);
    CallReply r;
    if (f.check_string_keys()) {
      bool ok = false;
      f.boolean("ok", ok);
      if (f.ok() && !ok) f.fail("ok", "true (a call reply, not an error reply)");
      read_call_reply(f, r);
    }
    if (!f.ok()) return f.error();
    return r;
  } catch (const std::exception& e) {
    return Error::internal(std::string("call reply: decoding failed: ") + e.what());
  }
}

Result<DecodedReply> decode_reply(std::string_view body, std::string_view op) {
  if (op != "call" && op != "cancel") {
    return Error::bad_request("op: replies to " + std::string(op.substr(0, 64)) +
                              " are not decoded here (to_json reads any reply)");
  }
  try {
    msgpack::zone zone(detail::zone_chunk_size(body.size()));
    auto map = unpack_map(zone, body, "reply");
    if (!map) return map.error();
    detail::FieldReader f(*map);
    if (!f.check_string_keys()) return f.error();
    auto id = detail::read_request_id(f, "id");
    if (!id) return id.error();
    if (!f.find("ok")) f.fail("ok", "required; true or false");
    bool ok = false;
    f.boolean("ok", ok);
    if (!f.ok()) return f.error();
    DecodedReply out{std::move(*id), Error::internal("")};
    if (ok) {
      out.body = read_reply_body(f, op);
    } else {
      out.body = read_error(f);
    }
    if (!f.ok()) return f.error();
    return out;
  } catch (const std::exception& e) {
    return Error::internal(std::string("reply: decoding failed: ") + e.what());
  }
}

}  // namespace tollgate::protocol
