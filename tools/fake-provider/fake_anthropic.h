// The Anthropic checks of a request's options, shared between the two
// files of the format (fake_anthropic.cpp walks the prompt;
// anthropic_options.cpp checks tools, tool_choice, sampling and
// max_tokens). Internal to the fake provider. Pure functions.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/fake-provider/api_formats.h"

namespace tollgate::fake_provider::anthropic_detail {

using Error = std::optional<ApiError>;

// A 400 invalid_request_error with `message`.
ApiError invalid(const std::string& message);
bool is_string(const nlohmann::json& j, const char* key);

// Tool definitions: fills call.tools (their sizes and cache marks are
// walked with the prompt).
Error check_tools(const nlohmann::json& body, ParsedCall& call);
// After check_tools: tool_choice against the tools given.
Error check_tool_choice(const nlohmann::json& body, ParsedCall& call);
// temperature, top_p, stop_sequences.
Error check_sampling(const nlohmann::json& body, ParsedCall& call);
// stream (a boolean; count_tokens takes none).
Error check_stream(const nlohmann::json& body, ParsedCall& call, bool count);
// count: the body of count_tokens, which takes no max_tokens.
Error check_max_tokens(const nlohmann::json& body, ParsedCall& call, bool count);

}  // namespace tollgate::fake_provider::anthropic_detail
