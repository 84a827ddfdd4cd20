// libFuzzer target: arbitrary bytes as a request body. decode_request must
// return a value (never crash, throw or hang), a decoded request must
// survive a re-encode round trip, and the reply/JSON paths must accept
// whatever the decoder accepted, with JSON text linear in the body's size.
// A decoded call's text and tool_use blocks (section 8) also go through a
// call reply: stored (encode_reply -> decode_call_reply) and as JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.h"

namespace protocol = tollgate::protocol;

namespace {

// The call's text and tool_use blocks as a reply's content, stored and read
// back as an idempotent repeat would, and written as JSON as the HTTP edge does.
void check_reply_content(const protocol::CallRequest& call) {
  protocol::CallReply reply;
  for (const auto& m : call.messages) {
    for (const auto& b : m.blocks) {
      if (b.type == protocol::ContentBlock::Type::kText || b.type == protocol::ContentBlock::Type::kToolUse) {
        reply.content.push_back(b);
      }
    }
  }
  if (reply.content.empty()) return;
  reply.stop_reason = protocol::StopReason::kToolUse;
  reply.usage.cache_read_input_tokens = 1;
  const std::string stored = protocol::encode_reply(protocol::RequestId{}, reply);
  auto back = protocol::decode_call_reply(stored);
  if (!back || !(*back == reply)) std::abort();
  auto converted = protocol::to_json(stored);
  if (!converted || protocol::reply_json(protocol::RequestId{}, reply) != *converted) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  protocol::DecodedRequest decoded = protocol::decode_request(body);
  if (!decoded.body) {
    const auto code = decoded.body.error().code;
    if (code != protocol::ErrorCode::kBadRequest && code != protocol::ErrorCode::kTooLarge &&
        code != protocol::ErrorCode::kUnsupportedVersion && code != protocol::ErrorCode::kUnknownOp) {
      std::abort();
    }
    (void)protocol::encode_error_reply(decoded.id, decoded.body.error());
    return 0;
  }
  const std::string reply = protocol::encode_reply(decoded.id, protocol::PingReply{"fuzz", 1, 2});
  auto reply_json = protocol::to_json(reply);
  if (!reply_json) std::abort();
  auto body_json = protocol::to_json(body);
  if (!body_json) std::abort();  // the decoder accepted it, so it is one msgpack value
  // Output linear in the input: the largest growth per input byte is an
  // empty bin (2 bytes) becoming {"bytes":[],"subtype":null} (27). A
  // blow-up fails here instead of as an out-of-memory.
  if (body_json->dump().size() > 16 * size + 64) std::abort();

  auto again = protocol::decode_request(protocol::encode_request(decoded.id, *decoded.body));
  if (!again.body || !(*again.body == *decoded.body) || !(again.id == decoded.id)) std::abort();
  if (const auto* call = std::get_if<protocol::CallRequest>(&*decoded.body)) check_reply_content(*call);
  return 0;
}
