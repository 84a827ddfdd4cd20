// Translation between the neutral parts of a chat (chat_parts.h) and the
// Anthropic Messages API JSON, both ways, for requests and replies. The
// neutral form is the Anthropic shape, so blocks pass through as they are
// (cache_control and is_error included); docs/providers.md has the table.
//
// Pure functions over nlohmann JSON (ordered: tool inputs and schemas keep
// the client's key order); any thread. Readers never throw: a body they
// cannot read is an Error naming the path of the field (bad_request for a
// request, provider_error for a reply).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/chat_parts.h"
#include "protocol/error.h"

namespace tollgate::protocol {

// The body of POST /v1/messages. The top-level keys are written in
// alphabetical order and a string turn as {content, role}, so a text-only
// call has the same bytes as before section 8. temperature is clamped to
// 0..1; max_tokens, system, temperature, top_p, tools, tool_choice and
// stop_sequences are written only when set.
JsonValue anthropic_request(const ChatParts& parts);
// The body of POST /v1/messages/count_tokens: model, messages, system,
// tools and tool_choice (what the input is made of).
JsonValue anthropic_count_request(const ChatParts& parts);
// A Messages API request body back to neutral parts.
Result<ChatParts> parse_anthropic_request(const JsonValue& body);

// A Messages API reply: content blocks (text and tool_use; other block
// kinds, such as thinking, are skipped), stop_reason (pause_turn reads as
// end_turn), model, id and usage (input_tokens = input + cache creation +
// cache reads; the two cache counts kept when reported).
Result<ChatReply> parse_anthropic_response(const JsonValue& body);
// A neutral reply as a Messages API reply (usage.input_tokens without the
// cache counts, as Anthropic reports it).
JsonValue anthropic_response(const ChatReply& reply);

// Why the call cannot be sent to an Anthropic-format provider, naming the
// block (messages[i].content[j]...), or nullopt: a url image when the
// provider takes none (url_images false), a tool id outside [A-Za-z0-9_-]
// (ids from other providers can contain anything).
std::optional<std::string> anthropic_unsupported(const std::vector<ChatMessage>& messages,
                                                 bool url_images);

// stop_reason names: end_turn, max_tokens, stop_sequence, tool_use,
// refusal; pause_turn is end_turn; anything else nullopt.
std::optional<StopReason> anthropic_stop_reason(std::string_view name);

}  // namespace tollgate::protocol
