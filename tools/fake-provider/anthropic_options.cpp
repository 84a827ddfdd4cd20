#include <algorithm>
#include <map>
#include <set>

#include "tools/fake-provider/fake_anthropic.h"

namespace tollgate::fake_provider::anthropic_detail {

using nlohmann::json;

ApiError invalid(const std::string& message) {
  return anthropic_error(400, "invalid_request_error", message);
}

bool is_string(const json& j, const char* key) { return j.contains(key) && j[key].is_string(); }

// The checks below take members by reference (contains, then at), not by
// iterator: g++ 12 reports null dereferences in json iterators here.

Error check_tools(const json& body, ParsedCall& call) {
  if (!body.contains("tools")) return std::nullopt;
  const json& tools = body.at("tools");
  if (!tools.is_array()) return invalid("tools: Input should be a valid list");
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    const std::string at = "tools." + std::to_string(i) + ".custom";
    if (!t.is_object()) return invalid("tools." + std::to_string(i) + ": Input should be a valid dictionary");
    if (t.contains("type") && t["type"] != "custom") {
      return invalid("tools." + std::to_string(i) + ": Input tag '" + dump(t["type"]) +
                     "' found using 'type' does not match any of the expected tags: 'custom'");
    }
    if (!is_string(t, "name")) return invalid(at + ".name: Field required");
    if (!detail::valid_tool_name(t["name"])) {
      return invalid(at + ".name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
    }
    if (t.contains("description") && !t["description"].is_string()) {
      return invalid(at + ".description: Input should be a valid string");
    }
    if (!t.contains("input_schema")) return invalid(at + ".input_schema: Field required");
    const json& schema = t["input_schema"];
    if (!schema.is_object()) return invalid(at + ".input_schema: Input should be a valid dictionary");
    if (schema.value("type", json()) != "object") {
      return invalid(at + ".input_schema.type: Input should be 'object'");
    }
    if (!names.insert(t["name"]).second) return invalid("tools: Tool names must be unique.");
    call.tools.push_back({t["name"], schema});
  }
  return std::nullopt;
}

Error check_tool_choice(const json& body, ParsedCall& call) {
  if (!body.contains("tool_choice")) return std::nullopt;
  const json& choice = body.at("tool_choice");
  if (!choice.is_object() || !is_string(choice, "type")) return invalid("tool_choice.type: Field required");
  const std::string type = choice.at("type");
  static const std::map<std::string, ToolMode> kModes = {
      {"auto", ToolMode::kAuto}, {"any", ToolMode::kAny}, {"none", ToolMode::kNone}, {"tool", ToolMode::kTool}};
  auto mode = kModes.find(type);
  if (mode == kModes.end()) {
    return invalid("tool_choice: Input tag '" + type +
                   "' found using 'type' does not match any of the expected tags: 'auto', 'any', "
                   "'tool', 'none'");
  }
  const std::string at = "tool_choice." + type;
  call.tool_mode = mode->second;
  if (call.tool_mode == ToolMode::kTool) {
    if (!is_string(choice, "name")) return invalid(at + ".name: Field required");
    call.tool_name = choice.at("name");
    const bool known = std::any_of(call.tools.begin(), call.tools.end(),
                                   [&](const ToolDef& t) { return t.name == call.tool_name; });
    if (!known) return invalid(at + ".name: tool '" + call.tool_name + "' is not one of the tools provided");
  } else if (choice.contains("name")) {
    return invalid(at + ".name: Extra inputs are not permitted");
  }
  if (choice.contains("disable_parallel_tool_use")) {
    const json& d = choice.at("disable_parallel_tool_use");
    if (!d.is_boolean() || call.tool_mode == ToolMode::kNone) {
      return invalid(at + ".disable_parallel_tool_use: Input should be a valid boolean");
    }
    call.parallel_tools = !d.get<bool>();
  }
  if (call.tools.empty() && (call.tool_mode == ToolMode::kAny || call.tool_mode == ToolMode::kTool)) {
    return invalid("tool_choice: tool_choice may only be specified while providing tools");
  }
  return std::nullopt;
}

Error check_sampling(const json& body, ParsedCall& call) {
  if (auto t = body.find("temperature"); t != body.end()) {
    if (!t->is_number()) return invalid("temperature: Input should be a valid number");
    if (t->get<double>() < 0) return invalid("temperature: Input should be greater than or equal to 0");
    if (t->get<double>() > 1) return invalid("temperature: Input should be less than or equal to 1");
  }
  if (body.contains("top_p")) {
    const json& p = body.at("top_p");
    if (!p.is_number()) return invalid("top_p: Input should be a valid number");
    if (p.get<double>() < 0) return invalid("top_p: Input should be greater than or equal to 0");
    if (p.get<double>() > 1) return invalid("top_p: Input should be less than or equal to 1");
  }
  if (!body.contains("stop_sequences")) return std::nullopt;
  const json& stops = body.at("stop_sequences");
  if (!stops.is_array()) return invalid("stop_sequences: Input should be a valid list");
  for (size_t i = 0; i < stops.size(); ++i) {
    const json& s = stops[i];
    if (!s.is_string()) {
      return invalid("stop_sequences." + std::to_string(i) + ": Input should be a valid string");
    }
    if (s.get<std::string>().find_first_not_of(" \t\r\n") == std::string::npos) {
      return invalid("stop_sequences: each stop sequence must contain non-whitespace");
    }
    call.stop_sequences.push_back(s);
  }
  return std::nullopt;
}

Error check_stream(const json& body, ParsedCall& call, bool count) {
  if (!body.contains("stream") || body["stream"].is_null()) return std::nullopt;
  const json& stream = body["stream"];
  if (count) return invalid("stream: Extra inputs are not permitted");
  if (!stream.is_boolean()) return invalid("stream: Input should be a valid boolean");
  call.stream = stream.get<bool>();
  return std::nullopt;
}

Error check_max_tokens(const json& body, ParsedCall& call, bool count) {
  auto max_tokens = body.find("max_tokens");
  if (count) {
    if (max_tokens != body.end()) return invalid("max_tokens: Extra inputs are not permitted");
    return std::nullopt;
  }
  if (max_tokens == body.end()) return invalid("max_tokens: Field required");
  if (!max_tokens->is_number_integer()) return invalid("max_tokens: Input should be a valid integer");
  if (max_tokens->get<int64_t>() < 1) return invalid("max_tokens: Input should be greater than or equal to 1");
  call.max_tokens = max_tokens->get<uint64_t>();
  return std::nullopt;
}

}  // namespace tollgate::fake_provider::anthropic_detail
