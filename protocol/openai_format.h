// Translation between the neutral parts of a chat (chat_parts.h) and the
// OpenAI Chat Completions JSON (also spoken by vLLM, Ollama and other
// OpenAI-compatible servers), both ways, for requests and replies, by the
// rules of PROTOCOL.md section 8. docs/providers.md has the table and the
// normalisations a round trip through this format makes (system blocks
// joined, an assistant turn's text joined before its tool calls, tool
// results before the user text of their turn, cache_control and is_error
// dropped).
//
// Pure functions over nlohmann JSON (ordered: tool inputs and schemas keep
// their key order); any thread. Readers never throw: a body they cannot
// read is an Error naming the path of the field (bad_request for a
// request, provider_error for a reply).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/chat_parts.h"
#include "protocol/error.h"

namespace tollgate::protocol {

// The body of POST /chat/completions. Top-level keys in alphabetical
// order and a string turn as {content, role}, so a text-only call has the
// same bytes as before section 8. temperature is clamped to 0..2.
JsonValue openai_request(const ChatParts& parts);
// A Chat Completions request body back to neutral parts (leading system or
// developer messages become the system prompt; tool messages and the user
// message after them one user turn).
Result<ChatParts> parse_openai_request(const JsonValue& body);

// The first choice of a Chat Completions reply: its text, then its
// tool_calls as tool_use blocks (ids unchanged; a missing id becomes
// call_<reply id>_<index>), finish_reason as a stop reason (a `refusal`
// makes it refusal, and its text the reply's text), usage
// (prompt_tokens_details.cached_tokens as cache_read_input_tokens; it is
// already part of prompt_tokens).
Result<ChatReply> parse_openai_response(const JsonValue& body);
// A neutral reply as a Chat Completions reply; `created` is its unix time
// in seconds.
JsonValue openai_response(const ChatReply& reply, int64_t created);

// Why the call cannot be sent to an OpenAI-format provider, naming the
// block (messages[i].content[j]...), or nullopt: a url image when the
// provider takes none, an image inside a tool_result or in an assistant
// turn, a tool_use in a user turn, a tool_result in an assistant turn.
std::optional<std::string> openai_unsupported(const std::vector<ChatMessage>& messages,
                                              bool url_images);

// The id given to a tool call the reply left without one:
// call_<reply id, [A-Za-z0-9_-] only>_<index in tool_calls>.
std::string openai_synthetic_call_id(std::string_view reply_id, size_t index);

// finish_reason stop/length/tool_calls/function_call/content_filter ->
// end_turn/max_tokens/tool_use/tool_use/refusal; anything else nullopt.
std::optional<StopReason> openai_finish_reason(std::string_view name);
// end_turn and stop_sequence -> "stop", max_tokens -> "length", tool_use ->
// "tool_calls", refusal -> "content_filter".
std::string_view openai_finish_reason_name(StopReason reason);

// A tool_use input as OpenAI `arguments` text, and back (see
// kRawArgumentsKey in chat_parts.h for arguments that are not an object).
std::string tool_arguments_text(const JsonValue& input);
JsonValue tool_arguments_input(std::string_view arguments);

// "data:<media_type>;base64,<data>" for a base64 image, the url otherwise;
// and back (a data: URL that is not base64 stays a url).
std::string image_url_text(const ImageSource& image);
ImageSource image_from_url(std::string_view url);

}  // namespace tollgate::protocol
