#include "tools/fake-provider/fake_tools.h"

#include <algorithm>

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;

constexpr size_t kEchoBytes = 200;
constexpr size_t kMaxMarkerJsonBytes = 64 * 1024;
constexpr int kMaxSchemaDepth = 16;
const std::string kMarker = "[call_tool ";

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

size_t skip_spaces(const std::string& text, size_t p) {
  while (p < text.size() && text[p] == ' ') ++p;
  return p;
}

// The JSON object that starts at `p` and is followed by `]`; sets `end` past
// the `]`. Tries each `}` that a `]` follows, so braces inside strings work.
std::optional<json> marker_json(const std::string& text, size_t p, size_t& end) {
  const size_t limit = std::min(text.size(), p + kMaxMarkerJsonBytes);
  for (size_t q = text.find('}', p); q != std::string::npos && q < limit; q = text.find('}', q + 1)) {
    const size_t r = skip_spaces(text, q + 1);
    if (r >= text.size() || text[r] != ']') continue;
    json j = json::parse(text.substr(p, q - p + 1), nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object()) {
      end = r + 1;
      return j;
    }
  }
  return std::nullopt;
}

// A value for one property schema.
json placeholder(const json& schema, int depth) {
  if (!schema.is_object()) return "fake";
  if (schema.contains("const")) return schema["const"];
  if (schema.contains("default")) return schema["default"];
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array() && !e->empty()) return (*e)[0];
  for (const char* key : {"anyOf", "oneOf"}) {
    if (auto alt = schema.find(key); alt != schema.end() && alt->is_array() && !alt->empty()) {
      return depth >= kMaxSchemaDepth ? json("fake") : placeholder((*alt)[0], depth + 1);
    }
  }
  std::string type;
  const json t = schema.value("type", json());
  if (t.is_string()) type = t;
  for (const auto& each : t.is_array() ? t : json::array()) {
    if (each.is_string() && each != "null" && type.empty()) type = each;
  }
  if (type == "integer" || type == "number") return 1;
  if (type == "boolean") return true;
  if (type == "array") return json::array();
  if (type == "null") return nullptr;
  if (type == "object") {
    if (depth >= kMaxSchemaDepth) return json::object();
    json out = json::object();
    const json props = schema.value("properties", json::object());
    for (const auto& r : schema.value("required", json::array())) {
      if (!r.is_string()) continue;
      const std::string name = r.get<std::string>();
      const json property = props.is_object() ? props.value(name, json::object()) : json::object();
      out[name] = placeholder(property, depth + 1);
    }
    return out;
  }
  return "fake";
}

const ToolDef* find_tool(const ParsedCall& call, const std::string& name) {
  for (const auto& t : call.tools) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string echo(const std::string& prompt, const std::string& prefix) {
  std::string cut = prompt.substr(0, kEchoBytes);
  // Do not end inside a UTF-8 sequence.
  while (!cut.empty() && cut.size() < prompt.size() &&
         (static_cast<unsigned char>(prompt[cut.size()]) & 0xC0) == 0x80) {
    cut.pop_back();
  }
  return prefix + cut;
}

}  // namespace

std::vector<PlannedCall> find_tool_markers(const std::string& text) {
  std::vector<PlannedCall> found;
  size_t pos = 0;
  while ((pos = text.find(kMarker, pos)) != std::string::npos) {
    size_t p = skip_spaces(text, pos + kMarker.size());
    const size_t name_start = p;
    while (p < text.size() && name_char(text[p])) ++p;
    std::string name = text.substr(name_start, p - name_start);
    p = skip_spaces(text, p);
    pos = p;
    if (name.empty() || p >= text.size()) continue;
    if (text[p] == ']') {
      found.push_back({std::move(name), json()});
      pos = p + 1;
    } else if (text[p] == '{') {
      if (auto input = marker_json(text, p, pos)) found.push_back({std::move(name), std::move(*input)});
    }
  }
  return found;
}

json input_from_schema(const json& schema) {
  json object_schema = schema.is_object() ? schema : json::object();
  object_schema["type"] = "object";
  return placeholder(object_schema, 0);
}

ToolPlan plan_tool_calls(const ParsedCall& call) {
  ToolPlan plan;
  if (call.tools.empty() || call.tool_mode == ToolMode::kNone) return plan;
  for (auto& marker : find_tool_markers(call.final_user_text)) {
    const ToolDef* tool = find_tool(call, marker.name);
    if (!tool || (call.tool_mode == ToolMode::kTool && marker.name != call.tool_name)) continue;
    if (marker.input.is_null()) marker.input = input_from_schema(tool->input_schema);
    plan.calls.push_back(std::move(marker));
  }
  plan.from_markers = !plan.calls.empty();
  if (plan.calls.empty() && call.tool_mode != ToolMode::kAuto) {
    const ToolDef* tool =
        call.tool_mode == ToolMode::kTool ? find_tool(call, call.tool_name) : &call.tools.front();
    if (tool) plan.calls.push_back({tool->name, input_from_schema(tool->input_schema)});
  }
  if (!call.parallel_tools && plan.calls.size() > 1) plan.calls.resize(1);
  return plan;
}

std::string answer_text(const ParsedCall& call) {
  if (call.tool_results.empty()) return echo(call.last_user_text, "echo: ");
  std::string text;
  for (const auto& result : call.tool_results) {
    if (!text.empty()) text.push_back('\n');
    text.append(echo(result, ""));
  }
  if (!call.final_user_text.empty()) text.append("\n").append(echo(call.final_user_text, "echo: "));
  return text;
}

StopCut cut_at_stop(const std::string& text, const std::vector<std::string>& stops) {
  StopCut cut{text, std::nullopt};
  size_t best = std::string::npos;
  for (const auto& stop : stops) {
    if (stop.empty()) continue;
    const size_t at = text.find(stop);
    if (at < best) {
      best = at;
      cut.sequence = stop;
    }
  }
  if (cut.sequence) cut.text = text.substr(0, best);
  return cut;
}

}  // namespace tollgate::fake_provider
