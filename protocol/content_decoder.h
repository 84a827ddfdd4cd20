// Internal to protocol/: reading the parts of PROTOCOL.md section 8 from
// a decoded msgpack body (content blocks, system blocks, tools, tool
// choice, stop sequences, top_p) and the conversation rules providers
// enforce with a 400 (tool_use only in assistant turns, each tool_result
// answering a tool_use of the turn before, ...).
//
// Every error names the full path of the offending value, e.g.
// "messages[2].content[0].tool_use_id: required; ...". Size limits of
// content.h give too_large, everything else bad_request. Tool inputs,
// input schemas and cache_control become JsonValue with their keys in the
// client's order; bin/ext values, non-string keys and invalid UTF-8 in
// them are refused. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "protocol/content.h"
#include "protocol/error.h"
#include "protocol/field_reader.h"
#include "protocol/requests.h"

namespace tollgate::protocol::detail {

// How strictly blocks are read: a request from a client, or a reply the
// daemon stored itself (read back as written: any text, any tool input depth).
enum class BlockMode { kRequest, kStoredReply };

// A JSON value from msgpack, keys in order, at most `max_depth` levels of
// containers (the value itself is level 1; deeper is too_large).
std::optional<Error> read_json_value(const msgpack::object& o, const std::string& path,
                                     size_t max_depth, JsonValue& out);

// `o` is the array at `path`; each element one block.
std::optional<Error> read_blocks(const msgpack::object& o, const std::string& path, BlockMode mode,
                                 std::vector<ContentBlock>& out);

// messages[i].content: a string (msg.content) or a non-empty array of blocks (msg.blocks).
void read_message_content(FieldReader& mf, ChatMessage& msg);

// system, tools, tool_choice, stop_sequences, top_p of a call.
void read_call_content(FieldReader& f, CallRequest& r);

// The rules across messages and fields (see the header comment); nullopt
// when the call keeps them. Cheap for a text-only call.
std::optional<Error> check_conversation(const CallRequest& r);

}  // namespace tollgate::protocol::detail
