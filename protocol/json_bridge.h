// msgpack <-> JSON, for tools (tollctl --json), tests and the HTTP mirror.
//
// to_json converts any single msgpack value under the same hostile-input
// limits as the request decoder; it never throws. Map keys that are
// numbers, booleans or nil become their JSON text, keys that are containers,
// bin or ext become "msgpack:<hex of their bytes>" (so the output stays
// linear in the input at any nesting); bin and ext values become JSON binary
// values; invalid UTF-8 in strings is replaced by U+FFFD so the result can
// always be dumped. from_json writes integers in their smallest form and
// every float as float64; it recurses once per level of nesting, so a caller
// holding untrusted JSON bounds its depth first (the HTTP listener does).
//
// reply_json and error_reply_json write a reply straight from its value:
// the same JSON as to_json(encode_reply(...)) (invalid UTF-8 replaced the
// same way), without encoding msgpack first. The HTTP listener answers with
// them, so a reply is encoded once, at the edge.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocol/error.h"
#include "protocol/replies.h"
#include "protocol/request_id.h"

namespace tollgate::protocol {

// bad_request when `body` is not exactly one msgpack value (within
// max_depth levels of nesting).
Result<nlohmann::json> to_json(std::string_view body, size_t max_depth = 64);

std::string from_json(const nlohmann::json& value);
// The same keeping each object's keys in their order (section 8: the order
// of a tool's input_schema properties is part of what the model sees).
std::string from_ordered_json(const nlohmann::ordered_json& value);

// {v: 1, id, ok: true, <fields of the reply>}, as JSON.
nlohmann::json reply_json(const RequestId& id, const ReplyBody& reply);
// The same with `stale: {as_of_ms, reason}`, as encode_stale_reply.
nlohmann::json stale_reply_json(const RequestId& id, const ReplyBody& reply,
                                const Staleness& stale);
// {v: 1, id, ok: false[, partial], error: {code, message[, retry_after_ms]
// [, partial]}}, as JSON (encode_error_reply's message).
nlohmann::json error_reply_json(const RequestId& id, const Error& error);

}  // namespace tollgate::protocol
