// A finished reply (ReplySpec) as the server-sent events each API streams
// it in, byte for byte the real services' wire formats (the examples in
// tests/unit/fixtures/streams/), so a stream reads as the same reply as
// the answer not streamed.
//
// Anthropic (`event: NAME\ndata: JSON\n\n`): message_start (the message
// with its id, model, empty content and usage: input_tokens, the cache
// counts when non-zero, output_tokens 1); per block content_block_start,
// content_block_delta pieces (text_delta per word; tool_use: the block
// starts with input {}, then input_json_delta pieces of its JSON, the
// first one empty) and content_block_stop; a ping after the first
// content_block_start (after message_start when there is no block);
// message_delta (stop_reason, stop_sequence, usage.output_tokens: the
// final count; no usage object when spec.with_usage is false);
// message_stop.
//
// OpenAI (`data: JSON\n\n`): chat.completion.chunk objects: the first with
// delta.role assistant (content "" before text, null before tool calls
// only), the text per word, per tool call a chunk with its index, id, type
// function, function.name and empty arguments then chunks of argument
// pieces, a chunk with finish_reason; when include_usage, every chunk has
// "usage": null and a last chunk has choices [] and the usage (unless
// spec.with_usage is false); then `data: [DONE]`.
//
// Each event carries the output tokens generated up to it (for the stats
// of a stream cut short): the content deltas share the reply's output
// count (delta i of n: ceil(output * i / n)); the stop event (Anthropic
// message_delta, OpenAI's finish_reason chunk) and those after it carry
// the whole count, the events before the first delta 0.
//
// Pure functions; callable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/fake-provider/api_formats.h"

namespace tollgate::fake_provider {

// One server-sent event, ready to write.
struct WireEvent {
  std::string bytes;           // the whole event, ending with its blank line
  uint64_t output_tokens = 0;  // output tokens generated up to and including it
};

std::vector<WireEvent> anthropic_stream(const ReplySpec& spec);
std::vector<WireEvent> openai_stream(const ReplySpec& spec, bool include_usage);

// The API's mid-stream error event. Anthropic: an overloaded_error `error`
// event; OpenAI: a data line holding an `error` object of type server_error.
std::string stream_error_event(const std::string& api);

// Text in pieces as a model streams it: one per word (a piece starts at a
// space), none over 64 bytes, never splitting a UTF-8 character. Joined
// they give `text`; empty text gives no piece.
std::vector<std::string> text_pieces(std::string_view text);
// JSON text in pieces of at most 8 bytes, never splitting a UTF-8 character.
std::vector<std::string> json_pieces(std::string_view json_text);

}  // namespace tollgate::fake_provider
