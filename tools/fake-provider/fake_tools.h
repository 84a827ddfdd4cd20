// What the fake answers, decided from a checked request: tool calls (when
// tool_choice forces one, or the final user message asks with a marker),
// otherwise text (an echo, or the tool results the turn carried), cut at
// the first stop sequence it contains.
//
// Marker: `[call_tool NAME]` or `[call_tool NAME {"json": "object"}]` in
// the text of the final message when that is a user message. Each marker
// is one tool call, in order (two markers: parallel calls); the input is
// the JSON object when given, else built from the tool's input schema (its
// required properties, with placeholder values of their types). A marker
// naming a tool the request does not offer is ignored; tool_choice none
// ignores them all; a named tool_choice keeps only markers of that tool.
//
// Pure functions; callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/fake-provider/api_formats.h"

namespace tollgate::fake_provider {

struct PlannedCall {
  std::string name;
  nlohmann::json input;  // an object
};

struct ToolPlan {
  std::vector<PlannedCall> calls;  // empty: answer with text
  bool from_markers = false;       // the final user message asked for them
};

// The markers in `text`, in order, with their JSON input when given
// (null otherwise). A marker whose JSON is not an object is skipped.
std::vector<PlannedCall> find_tool_markers(const std::string& text);

// An input object for `schema`: every required property with a value of
// its type (its const, default or first enum value when it has one).
nlohmann::json input_from_schema(const nlohmann::json& schema);

ToolPlan plan_tool_calls(const ParsedCall& call);

// The text answer: "echo: " + the last user message's first 200 bytes, or,
// when the final turn carried tool results, one line per result
// ("tool result: ..." / "tool error: ...") and then the echo of the final
// user message's own text, if it has any.
std::string answer_text(const ParsedCall& call);

struct StopCut {
  std::string text;
  std::optional<std::string> sequence;  // the stop sequence found, if any
};

// `text` up to the earliest occurrence of any of `stops` (the first listed
// wins a tie).
StopCut cut_at_stop(const std::string& text, const std::vector<std::string>& stops);

}  // namespace tollgate::fake_provider
