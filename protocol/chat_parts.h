// The provider-neutral parts of one chat request and one chat reply
// (PROTOCOL.md section 8), as the provider formats (anthropic_format.h,
// openai_format.h) translate them to and from each provider's JSON.
//
// ChatParts is what a provider request body carries, without routing,
// budgets or credentials: the adapters build it from a workers::ProviderCall
// and the HTTP ingress will build it from a provider-shaped request body.
// ChatReply is what a provider answer carries. Plain data; safe to copy
// between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/content.h"
#include "protocol/replies.h"
#include "protocol/requests.h"

namespace tollgate::protocol {

struct ChatParts {
  std::string model{};
  std::optional<std::string> system{};
  std::vector<ContentBlock> system_blocks{};  // when non-empty, used instead of `system`
  std::vector<ChatMessage> messages{};
  std::optional<uint64_t> max_tokens{};
  std::optional<double> temperature{};  // clamped to the provider's range when sent
  std::vector<ToolSpec> tools{};
  std::optional<ToolChoice> tool_choice{};
  std::vector<std::string> stop_sequences{};
  std::optional<double> top_p{};
  bool operator==(const ChatParts&) const = default;
};

struct ChatReply {
  std::string id{};     // the provider's id (msg_..., chatcmpl-...); may be empty
  std::string model{};  // as the provider reports it
  std::vector<ContentBlock> content{};  // text and tool_use blocks, in order
  std::optional<StopReason> stop_reason{};  // nullopt: not said, or unknown
  // nullopt when the provider reported no usage (Anthropic: no
  // usage.output_tokens; OpenAI: no prompt_tokens or completion_tokens).
  // input_tokens includes the cache counts.
  std::optional<TokenUsage> usage{};
  bool operator==(const ChatReply&) const = default;
};

// No real call reports anywhere near this many tokens: a larger count is a
// malformed answer, never a number added up (sums cannot overflow).
inline constexpr uint64_t kMaxReportedTokens = uint64_t{1} << 40;

// OpenAI tool call arguments that are not a JSON object (not JSON at all, or
// an array, string, number) are kept whole as the tool_use input
// {kRawArgumentsKey: "<the arguments text>"}, and an input of exactly that
// shape is sent back to OpenAI as the same text. Empty arguments are {}.
inline constexpr const char* kRawArgumentsKey = "__tollgate_raw_arguments";

// The text blocks of `blocks` joined (no separator), as CallReply::text.
std::string joined_text(const std::vector<ContentBlock>& blocks);

}  // namespace tollgate::protocol
