// Server-sent events for the provider-compatible endpoints (PROTOCOL.md
// section 11): a streamed `call`'s parts (section 9) written in the
// endpoint's own dialect, so the official SDKs read them as they read the
// provider's stream:
// - OpenAI: `data: <chat.completion.chunk>` lines (the role first, text
//   deltas as delta.content, tool calls as delta.tool_calls with their
//   index among the tool calls), a last chunk with finish_reason, the
//   usage chunk when stream_options.include_usage asked for it, then
//   `data: [DONE]`.
// - Anthropic: message_start, content_block_start/delta/stop per block,
//   message_delta (stop_reason and usage), message_stop.
// A failure after the first part ends the stream with the dialect's
// error event (the HTTP status was already 200).
//
// One writer per response; not thread-safe (the HTTP thread that writes
// the response owns it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/server/ingress_format.h"
#include "protocol/error.h"
#include "protocol/replies.h"

namespace tollgate::ingress {

class SseWriter {
 public:
  virtual ~SseWriter() = default;
  // `id` and `model` head every event; `created` is unix seconds.
  static std::unique_ptr<SseWriter> make(Dialect dialect, std::string id, std::string model,
                                         int64_t created, bool include_usage);
  // The events before the first part.
  virtual std::string begin() = 0;
  virtual std::string part(const protocol::StreamChunk& chunk) = 0;
  // The end of a stream that succeeded: stop reason and usage.
  virtual std::string finish(const protocol::CallReply& reply) = 0;
  // The end of a stream that failed after it began.
  virtual std::string fail(const protocol::Error& error) = 0;
  // Written while no part comes (a provider thinking, or stalled), so that
  // a client that went away is noticed by a failed write: Anthropic's ping
  // event, an SSE comment for OpenAI (both SDKs skip them).
  virtual std::string ping() const = 0;
  // A whole reply as a stream (an idempotent replay or a cache hit: the
  // call sent no parts): begin, one part per block, finish.
  std::string replay(const protocol::CallReply& reply);
};

}  // namespace tollgate::ingress
