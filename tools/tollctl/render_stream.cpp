// The streamed `tollctl call --stream` of render.h: each part as it
// arrives (PROTOCOL.md section 9), then the call's summary or its error.
// Like the other renderers, a missing or mistyped field never throws.
#include <string>

#include "tools/tollctl/render.h"

namespace tollgate::tools {
namespace {

using nlohmann::json;

const json* find_member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool flag(const json& obj, const char* key) {
  const json* v = find_member(obj, key);
  return v && v->is_boolean() && v->get<bool>();
}

// A text field as it is ("" when absent or not a string: a delta adds nothing).
std::string text_of(const json& obj, const char* key) {
  const json* v = find_member(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

// The piece of text a part adds, or nullopt for a chunk type not known here.
std::optional<std::string> part_text(const json& chunk) {
  const std::string type = text_of(chunk, "type");
  if (type == "text_delta") return text_of(chunk, "text");
  if (type == "input_json_delta") return text_of(chunk, "partial_json");
  if (type == "tool_use_start") {
    return "[tool_use " + field_str(chunk, "name") + " id=" + field_str(chunk, "id") + "]\n";
  }
  return std::nullopt;
}

std::optional<uint64_t> index_of(const json& chunk) {
  const json* v = find_member(chunk, "index");
  if (!v || !v->is_number_unsigned()) return std::nullopt;
  return v->get<uint64_t>();
}

void end_line(StreamOutput& state, std::ostream& out) {
  if (state.line_open) out << "\n";
  state.line_open = false;
}

}  // namespace

bool is_stream_part(const json& message) {
  const json* chunk = find_member(message, "chunk");
  return flag(message, "ok") && chunk && chunk->is_object();
}

void render_part(const json& part, StreamOutput& state, std::ostream& out) {
  ++state.parts;
  const json* chunk = find_member(part, "chunk");
  auto text = chunk ? part_text(*chunk) : std::nullopt;
  if (!text) return;
  // A new content block starts on a line of its own, and so does each tool call.
  const auto index = index_of(*chunk);
  if (index != state.index || text_of(*chunk, "type") == "tool_use_start") end_line(state, out);
  state.index = index;
  out << *text;
  if (!text->empty()) state.line_open = text->back() != '\n';
  out.flush();
}

void render_stream_reply(const json& reply, StreamOutput& state, std::ostream& out,
                         std::ostream& info) {
  if (state.parts == 0) {
    render_call(reply, out, info);
    return;
  }
  end_line(state, out);
  out.flush();
  render_call_summary(reply, info);
}

void render_stream_error(const json& reply, StreamOutput& state, std::ostream& out,
                         std::ostream& err) {
  end_line(state, out);
  out.flush();
  const json* found = find_member(reply, "error");
  const json error = found && found->is_object() ? *found : json::object();
  err << "tollctl: " << field_str(error, "code") << ": " << field_str(error, "message") << "\n";
  if (flag(reply, "partial") || flag(error, "partial")) {
    err << "tollctl: the reply was partial: "
        << (state.parts == 1 ? std::string("the part printed above is")
                             : "the " + std::to_string(state.parts) + " parts printed above are")
        << " all that came\n";
  }
}

}  // namespace tollgate::tools
