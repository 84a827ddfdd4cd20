// The provider-neutral parts of a full-fidelity call (PROTOCOL.md section
// 8): content blocks, tools and tool choice, in the Anthropic Messages
// shape. Requests carry them from the client to the provider adapters,
// replies carry the provider's blocks back. Translation to and from each
// provider's wire format lives in anthropic_format.h and openai_format.h.
//
// One flat ContentBlock with a type tag rather than a variant: most code
// switches on the type and reads two or three fields, and a tool_result
// nests blocks of its own. Tool inputs and schemas are JSON values kept in
// the client's key order (ordered_json): property order is part of what a
// model sees. Plain data; safe to copy between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tollgate::protocol {

// A JSON value in the client's key order: tool_use input, input_schema,
// cache_control. Null means absent.
using JsonValue = nlohmann::ordered_json;

struct ImageSource {
  enum class Kind { kBase64, kUrl };
  Kind kind = Kind::kBase64;
  std::string media_type{};  // kBase64: image/jpeg, image/png, image/gif or image/webp
  std::string data{};        // kBase64: the base64 text, as sent
  std::string url{};         // kUrl: http(s) URL
  bool operator==(const ImageSource&) const = default;
};

struct ContentBlock {
  enum class Type { kText, kImage, kToolUse, kToolResult };
  Type type = Type::kText;

  std::string text{};   // kText
  ImageSource image{};  // kImage

  // kToolUse (assistant turns, replies): the call's id, the tool's name and
  // its input (a JSON object).
  std::string id{};
  std::string name{};
  JsonValue input{};

  // kToolResult (user turns): the tool_use it answers, the result (text and
  // image blocks only; a string result is one text block with
  // content_is_string set, so it is sent back as a string) and is_error.
  std::string tool_use_id{};
  std::vector<ContentBlock> content{};
  bool content_is_string = false;
  bool is_error = false;

  // Anthropic prompt-caching marker ({type: "ephemeral"}), passed through to
  // Anthropic and dropped for OpenAI (which caches on its own). Null: none.
  JsonValue cache_control{};

  bool operator==(const ContentBlock&) const = default;

  static ContentBlock make_text(std::string text) {
    ContentBlock b;
    b.text = std::move(text);
    return b;
  }
};

// "text", "image", "tool_use", "tool_result".
std::string_view block_type_name(ContentBlock::Type type);

struct ToolSpec {
  std::string name{};          // 1-64 of [A-Za-z0-9_-]
  std::string description{};   // may be empty
  JsonValue input_schema{};    // a JSON Schema object
  JsonValue cache_control{};   // as ContentBlock::cache_control
  bool operator==(const ToolSpec&) const = default;
};

struct ToolChoice {
  enum class Type { kAuto, kAny, kNone, kTool };
  Type type = Type::kAuto;
  std::string name{};  // kTool only
  bool operator==(const ToolChoice&) const = default;
};

// Why the model stopped, in the neutral names of section 8.
enum class StopReason { kEndTurn, kMaxTokens, kStopSequence, kToolUse, kRefusal };
// "end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal".
std::string_view stop_reason_name(StopReason reason);

// Limits the decoder enforces on the parts of section 8 (too_large beyond
// them; they keep one request from costing the daemon more than its bytes).
inline constexpr size_t kMaxTools = 128;
inline constexpr size_t kMaxStopSequences = 8;
inline constexpr size_t kMaxStopSequenceBytes = 256;
inline constexpr size_t kMaxSchemaDepth = 16;             // nesting inside input_schema / input
inline constexpr size_t kMaxImageBytes = 5 * 1024 * 1024; // decoded bytes of one base64 image
inline constexpr size_t kMaxImagesPerCall = 100;
inline constexpr size_t kMaxUrlBytes = 2048;
inline constexpr size_t kMaxToolIdBytes = 256;

}  // namespace tollgate::protocol
