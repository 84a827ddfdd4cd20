// The msgpack wire codec of PROTOCOL.md sections 2-4.
//
// Server side: decode_request validates one request body into a typed
// RequestBody; encode_reply / encode_error_reply / encode_event write reply
// and event bodies. Client side (tollctl, tollbench, tests): encode_request.
// None of these throws: undecodable input is an Error value, and hostile
// input (huge declared sizes, deep nesting, trailing bytes) is rejected
// before anything proportional to a declared size is allocated.
//
// Pure functions, no shared state: any thread may call them concurrently.
// Decoded strings are copies; the input buffer may be freed afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/error.h"
#include "protocol/events.h"
#include "protocol/json_bridge.h"
#include "protocol/replies.h"
#include "protocol/request_id.h"
#include "protocol/requests.h"

namespace tollgate::protocol {

inline constexpr int kProtocolVersion = 1;

struct DecodeLimits {
  size_t max_request_bytes = 1 << 20;        // larger bodies get too_large
  uint64_t max_tokens_per_request = 17000;   // upper bound of call.max_tokens
  size_t max_depth = 32;                     // container nesting in a body
};

struct DecodedRequest {
  RequestId id;  // what could be read of the id; nil otherwise
  Result<RequestBody> body;
};

// Decodes and validates one request body (the one frame after the
// envelope). Errors: bad_request, too_large, unsupported_version,
// unknown_op; every message names the field and the rule it broke.
DecodedRequest decode_request(std::string_view body, const DecodeLimits& limits = {});

// The decoder's bad_request for `what` ("request body") nesting containers
// deeper than `max_depth`; also for a caller that checks the depth of JSON
// before converting it to msgpack (the HTTP listener).
Error too_deep(std::string_view what, size_t max_depth);

// Builds a request body: {v: 1, id (left out when nil), op, fields}.
// Absent optional fields are left out.
std::string encode_request(const RequestId& id, const RequestBody& body);

// {v: 1, id, ok: true, <fields of the reply>}.
std::string encode_reply(const RequestId& id, const ReplyBody& reply);
// The same with `stale: {as_of_ms, reason}` (Staleness) after `ok`.
std::string encode_stale_reply(const RequestId& id, const ReplyBody& reply,
                               const Staleness& stale);
// The same for one alternative of ReplyBody (PingReply, CallReply, ...),
// without copying it into a variant first.
template <class Reply>
std::string encode_reply(const RequestId& id, const Reply& reply);

// {v: 1, id, ok: false[, partial], error: {code, message[, retry_after_ms]
// [, partial]}}: `partial: true` at both levels when Error::partial.
std::string encode_error_reply(const RequestId& id, const Error& error);

struct EncodedEvent {
  std::string topic;  // first frame
  std::string body;   // second frame: the event's fields plus `seq`
};

EncodedEvent encode_event(const Event& event, uint64_t seq);

// Decodes a call reply written by encode_reply (`ok: true`), e.g. the reply
// an idempotent call stored in the ledger; `v`, `id` and unknown keys are
// ignored. bad_request names the field that does not read.
Result<CallReply> decode_call_reply(std::string_view body);

// Client side (tollctl, tests): one message received for a request of
// `op`, "call" or "cancel". `body` is what the daemon answered: for a call,
// a CallPartReply when the message has `chunk` (a part of a streamed call,
// section 9) and the CallReply otherwise; for a cancel, the CancelReply;
// for `ok: false`, the Error (code, message, retry_after_ms, and partial
// when either `partial` says so). An error of the outer Result is a message
// that does not read as such a reply (bad_request naming the field, e.g.
// "chunk.type"), or another op (the other replies are read with to_json).
struct DecodedReply {
  RequestId id;  // the echo
  Result<ReplyBody> body;
};
Result<DecodedReply> decode_reply(std::string_view body, std::string_view op);

// Decodes an alert body (an `alert.*` event body or a stored copy of one);
// `seq` and unknown keys are ignored. For the daemon's alert log.
Result<AlertEvent> decode_alert_event(std::string_view body);

}  // namespace tollgate::protocol
