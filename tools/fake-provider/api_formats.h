// What the real Anthropic Messages and OpenAI Chat Completions services
// accept and answer, as far as the fake provider mimics them: request
// checks with each service's exact error format, and reply bodies.
//
// The checks cover text, image, tool_use and tool_result content (and the
// OpenAI equivalents: image_url parts, assistant tool_calls, tool
// messages), tool definitions, tool_choice, stop sequences and
// cache_control, with the 400 each service answers (the pairing of tool
// calls with their results between turns included). fake_anthropic.cpp and
// fake_openai.cpp hold one format each; this file's .cpp the shared parts.
//
// Pure functions of their arguments; callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace tollgate::fake_provider {

// An answer other than success: HTTP status and the service's error body.
struct ApiError {
  int status = 400;
  nlohmann::json body;
};

// How big a prompt (or a prefix of it) is, in the units both tokenizers of
// FakeProvider need; fixed_tokens are parts counted by formula, not text:
// images and the tool-use system prompt.
struct PromptSize {
  uint64_t bytes = 0;         // UTF-8 bytes of all prompt text
  uint64_t chars = 0;         // UTF-8 code points of all prompt text
  uint64_t messages = 0;
  uint64_t fixed_tokens = 0;
};

// A cacheable prefix of the prompt: a hash of everything up to it and its
// size. Anthropic: one per cache_control mark (tools, system, messages
// order); OpenAI: one at the end of each message (automatic caching).
struct CachePoint {
  uint64_t hash = 0;
  PromptSize size;
};

// A tool the request offers.
struct ToolDef {
  std::string name;
  nlohmann::json input_schema;  // OpenAI: function.parameters
};

// tool_choice in Anthropic's terms (OpenAI "required" is kAny, a named
// function kTool).
enum class ToolMode { kAuto, kAny, kNone, kTool };

// The parts of a valid request the fake needs to answer it.
struct ParsedCall {
  std::string model;
  PromptSize size;
  std::optional<uint64_t> max_tokens;   // OpenAI may omit it
  std::string last_user_text;           // text of the last user message
  // Text of the final message when it is a user turn (tool markers are read
  // from it only, so a tool result does not trigger the same call again).
  std::string final_user_text;
  // Results the final turn carries (Anthropic tool_result blocks of the
  // final user message; OpenAI tool messages after the last assistant one).
  std::vector<std::string> tool_results;
  std::vector<ToolDef> tools;
  ToolMode tool_mode = ToolMode::kAuto;
  std::string tool_name;                // kTool
  bool parallel_tools = true;           // false: at most one tool call
  std::vector<std::string> stop_sequences;
  std::vector<CachePoint> cache_points;
  bool stream = false;         // "stream": true: answer in server-sent events
  bool include_usage = false;  // OpenAI stream_options.include_usage
};

using CheckResult = std::variant<ParsedCall, ApiError>;

// `required_key` empty: any non-empty key is accepted. count: the body of
// POST /v1/messages/count_tokens (no max_tokens).
// no_auth: a request without a key is accepted too (as a local server).
CheckResult check_anthropic(const httplib::Request& req, const std::string& required_key, bool no_auth,
                            bool count = false);
CheckResult check_openai(const httplib::Request& req, const std::string& required_key, bool no_auth);

ApiError anthropic_error(int status, const std::string& type, const std::string& message);
ApiError openai_error(int status, const std::string& message, const std::string& type,
                      const std::optional<std::string>& param = std::nullopt,
                      const std::optional<std::string>& code = std::nullopt);

// The error each service sends for an HTTP status (fault scripts).
ApiError status_error(const std::string& api, int status);
// Anthropic: 400 credit balance too low; OpenAI: 429 insufficient_quota.
ApiError out_of_credit_error(const std::string& api);

// One tool call of a reply: Anthropic tool_use block / OpenAI tool_calls entry.
struct ReplyToolCall {
  std::string id;
  std::string name;
  nlohmann::json input;  // an object; OpenAI sends its JSON text as `arguments`
};

struct ReplySpec {
  std::string id;
  std::string model;
  std::string text;                     // empty with tool calls: no text block
  std::vector<ReplyToolCall> tool_calls;
  // Anthropic's names: end_turn, tool_use, stop_sequence (OpenAI: stop,
  // tool_calls, stop).
  std::string stop_reason = "end_turn";
  std::optional<std::string> stop_sequence;
  uint64_t input_tokens = 0;            // Anthropic: excludes the cache counts
  uint64_t output_tokens = 0;
  uint64_t cache_creation_input_tokens = 0;  // Anthropic
  uint64_t cache_read_input_tokens = 0;      // Anthropic
  uint64_t cached_tokens = 0;           // OpenAI: part of input_tokens (prompt_tokens)
  bool with_usage = true;
  int64_t created_s = 0;  // OpenAI `created`
};

nlohmann::json anthropic_reply(const ReplySpec& spec);
nlohmann::json openai_reply(const ReplySpec& spec);
// The usage objects of the two replies (also sent at the end of a stream).
nlohmann::json anthropic_usage(const ReplySpec& spec);
nlohmann::json openai_usage(const ReplySpec& spec);
// stop_reason in OpenAI's terms: tool_calls, length or stop.
std::string openai_finish_reason(const std::string& stop_reason);

// JSON text that never throws (invalid UTF-8 is replaced).
std::string dump(const nlohmann::json& j);

// Shared by the two formats' checks.
namespace detail {

// The body as a JSON object; nullopt when it is not one.
std::optional<nlohmann::json> parse_body(const httplib::Request& req);
// Adds one piece of prompt text to a size.
void add_text(PromptSize& size, std::string_view text);
// 1-64 characters of [A-Za-z0-9_-] (both services' tool name rule).
bool valid_tool_name(const std::string& name);
// FNV-1a over the pieces of a prompt prefix, in order.
class PrefixHash {
 public:
  void add(std::string_view piece);
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 1469598103934665603ull;
};

}  // namespace detail

}  // namespace tollgate::fake_provider
