// decode_reply, the client's side of the messages a `call` or `cancel` gets
// back: call replies, the parts of a streamed call and the cancel's reply
// (section 9) decode to the values they were encoded from, error replies
// to their Error (with partial), and a message that does not read names
// the field.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/codec.h"
#include "tests/unit/protocol_test_util.h"

using namespace tollgate::protocol;
using nlohmann::json;

namespace {

// Decodes `body` as a reply to `op`; the message must read.
DecodedReply decoded(const std::string& body, std::string_view op) {
  auto r = decode_reply(body, op);
  if (!r) INFO(r.error().message);
  REQUIRE(r.ok());
  return std::move(*r);
}

template <class Reply>
Reply reply_of(const std::string& body, std::string_view op) {
  DecodedReply d = decoded(body, op);
  if (!d.body) INFO(d.body.error().message);
  REQUIRE(d.body.ok());
  REQUIRE(std::holds_alternative<Reply>(*d.body));
  return std::get<Reply>(*d.body);
}

// The message `body` converted to JSON, changed by `edit`, and back.
std::string edited(const std::string& body, void (*edit)(json&)) {
  auto j = to_json(body);
  REQUIRE(j.ok());
  edit(*j);
  return from_json(*j);
}

// Requires `body` not to read as a reply to `op`, with a message starting
// with `prefix`.
void require_unreadable(const std::string& body, std::string_view op,
                        const std::string& prefix) {
  auto r = decode_reply(body, op);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().code == ErrorCode::kBadRequest);
  CHECK(r.error().message.rfind(prefix, 0) == 0);
}

CallPartReply text_part() {
  return {1, {StreamChunk::Type::kTextDelta, 0, "Bonjour \xc3\xa9", "", ""}};
}

std::vector<CallPartReply> every_chunk_type() {
  return {text_part(), {2, {StreamChunk::Type::kToolUseStart, 1, "", "toolu_1", "get_weather"}},
          {3, {StreamChunk::Type::kInputJsonDelta, 1, "{\"city\": \"Pa", "", ""}},
          {4, {StreamChunk::Type::kTextDelta, 2, "", "", ""}}};
}

}  // namespace

TEST_CASE("every part of a streamed call decodes back to its value with its id") {
  for (const RequestId& id : {RequestId::from_int(7), RequestId::from_string("c-1"), RequestId{}}) {
    for (const CallPartReply& part : every_chunk_type()) {
      const std::string body = encode_reply(id, part);
      CHECK(decoded(body, "call").id == id);
      CHECK(reply_of<CallPartReply>(body, "call") == part);
    }
  }
}

TEST_CASE("the last message of a call decodes as the call reply") {
  CallReply r;
  r.text = "Bonjour";
  r.provider = "anthropic";
  r.model = "claude";
  r.reason = "primary";
  r.usage = {3, 2, 5};
  r.cost_usd = 0.001;
  r.attempts = {{"anthropic", "ok", std::nullopt, 12.5}};
  r.content = {ContentBlock::make_text("Bonjour")};
  r.stop_reason = StopReason::kEndTurn;
  CHECK(reply_of<CallReply>(encode_reply(RequestId::from_int(1), r), "call") == r);
  // What decode_call_reply reads (a stored reply) reads here as well.
  CHECK(decode_call_reply(encode_reply(RequestId{}, r)).ok());
  // Section 10: cached is written only when true, and reads back.
  CHECK_FALSE(to_json(encode_reply(RequestId{}, r))->contains("cached"));
  r.cached = true;
  CHECK((*to_json(encode_reply(RequestId{}, r)))["cached"] == true);
  CHECK(reply_of<CallReply>(encode_reply(RequestId::from_int(2), r), "call") == r);
}

TEST_CASE("the reply to cancel decodes with found") {
  const std::string found = encode_reply(RequestId::from_int(2), CancelReply{true});
  CHECK(reply_of<CancelReply>(found, "cancel").found);
  const std::string not_found = encode_reply(RequestId::from_int(2), CancelReply{false});
  CHECK_FALSE(reply_of<CancelReply>(not_found, "cancel").found);
  require_unreadable(edited(found, [](json& j) { j.erase("found"); }), "cancel", "found: required");
  require_unreadable(edited(found, [](json& j) { j["found"] = 1; }), "cancel",
                     "found: true or false");
}

TEST_CASE("an error reply decodes to its error with partial from either level") {
  Error e = Error::provider_error("anthropic: connection cut after part 3");
  e.partial = true;
  for (std::string_view op : {"call", "cancel"}) {
    DecodedReply d = decoded(encode_error_reply(RequestId::from_string("s-1"), e), op);
    CHECK(d.id == RequestId::from_string("s-1"));
    REQUIRE_FALSE(d.body.ok());
    CHECK(d.body.error().code == ErrorCode::kProviderError);
    CHECK(d.body.error().message == e.message);
    CHECK(d.body.error().partial);
    CHECK_FALSE(d.body.error().retry_after_ms.has_value());
  }
  const std::string body = encode_error_reply(RequestId{}, e);
  auto top_only = decoded(edited(body, [](json& j) { j["error"].erase("partial"); }), "call");
  CHECK(top_only.body.error().partial);
  auto inner_only = decoded(edited(body, [](json& j) { j.erase("partial"); }), "call");
  CHECK(inner_only.body.error().partial);

  auto cancelled =
      decoded(encode_error_reply(RequestId::from_int(4), Error::cancelled("cancelled")), "call");
  CHECK(cancelled.body.error().code == ErrorCode::kCancelled);
  CHECK_FALSE(cancelled.body.error().partial);
  auto later = decoded(encode_error_reply(RequestId{}, Error::rate_limited("later", 1500)), "call");
  CHECK(later.body.error().retry_after_ms == 1500);
}

TEST_CASE("a part that does not read names the field") {
  const std::string part = encode_reply(RequestId::from_int(1), text_part());
  require_unreadable(edited(part, [](json& j) { j["chunk"]["type"] = "thinking_delta"; }), "call",
                     "chunk.type: text_delta, tool_use_start or input_json_delta");
  require_unreadable(edited(part, [](json& j) { j["chunk"].erase("type"); }), "call",
                     "chunk.type: required");
  require_unreadable(edited(part, [](json& j) { j["chunk"].erase("text"); }), "call",
                     "chunk.text: required");
  require_unreadable(edited(part, [](json& j) { j["chunk"]["index"] = -1; }), "call",
                     "chunk.index: ");
  require_unreadable(edited(part, [](json& j) { j["chunk"] = "hi"; }), "call", "chunk: map");
  require_unreadable(edited(part, [](json& j) { j["part"] = 0; }), "call", "part: integer from 1");
  require_unreadable(edited(part, [](json& j) { j.erase("part"); }), "call", "part: required");
  const std::string tool = encode_reply(RequestId{}, every_chunk_type()[1]);
  require_unreadable(edited(tool, [](json& j) { j["chunk"].erase("name"); }), "call",
                     "chunk.name: required");
  const std::string input = encode_reply(RequestId{}, every_chunk_type()[2]);
  require_unreadable(edited(input, [](json& j) { j["chunk"]["partial_json"] = 5; }), "call",
                     "chunk.partial_json: string");
}

TEST_CASE("a message that is not a reply does not decode as one") {
  require_unreadable("", "call", "reply: ");
  require_unreadable(encode_reply(RequestId{}, CancelReply{}) + "\x01", "cancel", "reply: ");
  const std::string ok = encode_reply(RequestId{}, CancelReply{true});
  require_unreadable(edited(ok, [](json& j) { j.erase("ok"); }), "cancel", "ok: required");
  require_unreadable(edited(ok, [](json& j) { j["id"] = 1.5; }), "cancel", "id: ");
  const std::string err = encode_error_reply(RequestId{}, Error::internal("x"));
  require_unreadable(edited(err, [](json& j) { j["error"]["code"] = "no_such_code"; }), "call",
                     "error.code: ");
  require_unreadable(edited(err, [](json& j) { j.erase("error"); }), "call", "error: map");
  require_unreadable(edited(err, [](json& j) { j["partial"] = "yes"; }), "call",
                     "partial: true or false");
  require_unreadable(encode_reply(RequestId{}, PingReply{}), "ping", "op: replies to ping");
}
