// The input size of a whole call (PROTOCOL.md section 3 rules 2 and 4,
// section 8): the per-request cap's estimate and the reservation's bound
// (budget.h, InputSize), over every part a call can carry. Pure; safe
// from any thread.
//
// A text-only call (string prompt or message contents, string system)
// measures exactly as budget.h's input_size(system, contents) does: the
// bytes of every text, kPerMessageOverhead per message, kPerRequestOverhead
// once. The parts of section 8 add to both numbers:
// - text blocks (messages and system): their bytes, kPerBlockOverhead each;
// - tool_use: name, id and the input serialised as JSON; tool_result: the
//   tool_use_id and its text and image blocks; kPerToolBlockOverhead each
//   (OpenAI makes each tool result a message of its own);
// - images: by the providers' size formulas (image_tokens.h), read from
//   the image's header; the base64 bytes never count as text;
// - tools: name, description and input_schema serialised as JSON,
//   kPerToolOverhead each, and once kToolUseSystemOverhead, the tool-use
//   system prompt the providers add (also when the conversation holds tool
//   blocks or a tool_choice without tools);
// - tool_choice: the tool's name. Stop sequences, top_p and cache_control
//   are no input.
// JSON (tool inputs, schemas) is measured as serialised with every
// non-ASCII character escaped (\uXXXX), the longest rendering a provider
// may give it; the bound adds kPerJsonValueAllowance for every value in it
// (line breaks, indentation, XML parameter tags or TypeScript syntax of
// the provider's own rendering, e.g. OpenAI's functions namespace) and
// kPerLineAllowance for every line break in a description or string (a
// comment marker on each line).
//
// The bound stays at or above what a byte-level BPE provider reports for
// the same request (the fake provider counts tokens the same way: never
// more than this bound). The estimate counts text bytes / 4 (JSON and
// tool text included) plus the ordinary image formulas, and no overhead.
#pragma once

#include <cstdint>

#include "daemon/core/budget.h"
#include "protocol/requests.h"

namespace tollgate::ledger {

inline constexpr uint64_t kPerBlockOverhead = 8;
inline constexpr uint64_t kPerToolBlockOverhead = kPerBlockOverhead + kPerMessageOverhead;
inline constexpr uint64_t kPerToolOverhead = 32;
inline constexpr uint64_t kPerJsonValueAllowance = 8;
inline constexpr uint64_t kPerLineAllowance = 4;
// Anthropic documents its tool-use system prompt per model: 346 tokens
// (tool_choice auto or none) and 313 (any or tool) on Claude 4 models,
// up to 530 on Claude 3 Opus. OpenAI's rendering of the functions
// namespace around the tools is a few dozen.
inline constexpr uint64_t kToolUseSystemOverhead = 600;

// gpt4o_mini_images: the call may go to a model billing images at
// gpt-4o-mini's rates (bills_gpt4o_mini_image_rates); false lowers each
// image's bound from up to 48,185 tokens to up to about 5,000.
InputSize input_size(const protocol::CallRequest& request, bool gpt4o_mini_images = true);

// input_size(request).bound + max_tokens, saturating.
uint64_t token_upper_bound(const protocol::CallRequest& request, uint64_t max_tokens);

}  // namespace tollgate::ledger
