// StreamAccumulator: the events of one streamed answer (as an adapter's
// parse_stream_event reads them, in order) turned into what PROTOCOL.md
// section 9 sends: the parts, as they arrive, and at the end the same
// ProviderResult the non-streamed answer would have given.
//
// Blocks are numbered in the order they first appear, counting only the
// ones a reply keeps (text and tool_use; Anthropic thinking and server tool
// blocks are skipped, as parse_response skips them). A tool_use block's
// input is its JSON pieces joined and read like OpenAI arguments
// (protocol::tool_arguments_input: empty is {}, text that is not an object
// is kept whole). A refusal (OpenAI delta.refusal) is text, and makes the
// stop reason refusal.
//
// Usage is what the provider reported: usage_reported() once the final
// counts came (Anthropic message_delta, the OpenAI usage chunk);
// input_tokens() as soon as any count of the input came (message_start), so
// a stream cut before the end can still be charged the input the provider
// reported. An error event ends the answer as failed; events after the end
// are ignored.
//
// One accumulator per answer, used by one thread; plain values, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/replies.h"
#include "workers/providers/provider_adapter.h"

namespace tollgate::workers {

// One part of a streamed reply (section 9 `chunk`).
using StreamPart = protocol::StreamChunk;

class StreamAccumulator {
 public:
  // Reads the next event of the answer, appending the parts it gives.
  void add(const StreamEvent& event, std::vector<StreamPart>& parts);

  bool done() const { return done_; }      // the provider said the answer is complete
  bool failed() const { return failed_; }  // the provider ended it with an error
  bool usage_reported() const { return usage_reported_; }
  // All input tokens (cache included) the provider reported so far.
  std::optional<uint64_t> input_tokens() const { return input_tokens_; }

  // kFailed with the provider's failure after an error; otherwise the reply
  // so far, kOk with its usage when reported, kUsageMissing (tokens 0)
  // when not: a complete answer reads as the non-streamed one.
  ProviderResult result() const;

 private:
  struct Block {
    protocol::ContentBlock block;
    std::string input_json;  // tool_use: the pieces so far
  };

  void apply(const StreamDelta& delta, std::vector<StreamPart>& parts);
  Block* find(uint64_t provider_block, protocol::ContentBlock::Type type);
  Block& open(uint64_t provider_block, protocol::ContentBlock::Type type);
  void take_usage(const StreamEvent& event);

  std::map<uint64_t, size_t> index_of_;  // provider block -> index in blocks_
  std::vector<Block> blocks_;
  std::string model_;
  std::optional<protocol::StopReason> stop_reason_;
  bool refusal_ = false;
  std::optional<uint64_t> input_tokens_;
  std::optional<uint64_t> output_tokens_;
  std::optional<uint64_t> cache_creation_;
  std::optional<uint64_t> cache_read_;
  bool usage_reported_ = false;
  bool done_ = false;
  bool failed_ = false;
  ProviderFailure failure_;
};

}  // namespace tollgate::workers
