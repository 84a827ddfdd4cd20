// OpenAI Chat Completions request JSON -> neutral chat parts (the reverse
// of openai_request, for round-trip tests and the HTTP ingress).
#include <utility>

#include "protocol/format_support.h"
#include "protocol/openai_format.h"

namespace tollgate::protocol {
namespace {

using namespace format;  // NOLINT: the readers of format_support.h
using Type = ContentBlock::Type;

// Text (and refusal) parts, and image_url parts when images_allowed.
std::vector<ContentBlock> read_parts(const JsonValue& content, const std::string& path,
                                     bool images_allowed) {
  need_array(content, path);
  std::vector<ContentBlock> out;
  out.reserve(content.size());
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string part_path = at_index(path, i);
    const JsonValue& part = content[i];
    need_object(part, part_path);
    const std::string type = need_string(part, "type", part_path);
    if (type == "text" || type == "refusal") {
      out.push_back(ContentBlock::make_text(need_string(part, type, part_path)));
    } else if (type == "image_url" && images_allowed) {
      const JsonValue& image = need(part, "image_url", part_path);
      const std::string image_path = at_key(part_path, "image_url");
      ContentBlock b;
      b.type = Type::kImage;
      b.image = image_from_url(image.is_string() ? image.get<std::string>()
                                                 : need_string(image, "url", image_path));
      out.push_back(std::move(b));
    } else {
      fail(at_key(part_path, "type"), "a \"" + type + "\" part cannot be read here");
    }
  }
  return out;
}

// A string or text parts, as one text.
std::string read_text(const JsonValue& content, const std::string& path) {
  if (content.is_string()) return content.get<std::string>();
  return joined_text(read_parts(content, path, /*images_allowed=*/false));
}

ContentBlock read_tool_message(const JsonValue& m, const std::string& path) {
  ContentBlock b;
  b.type = Type::kToolResult;
  b.tool_use_id = need_string(m, "tool_call_id", path);
  const JsonValue* content = find(m, "content");
  if (content == nullptr || content->is_string()) {
    b.content = {ContentBlock::make_text(content ? content->get<std::string>() : "")};
    b.content_is_string = true;
  } else {
    b.content = read_parts(*content, at_key(path, "content"), /*images_allowed=*/false);
  }
  return b;
}

ChatMessage read_assistant(const JsonValue& m, const std::string& path) {
  ChatMessage out;
  out.role = "assistant";
  const JsonValue* content = find(m, "content");
  const std::string text = content ? read_text(*content, at_key(path, "content")) : "";
  const JsonValue* calls = find(m, "tool_calls");
  if (calls == nullptr || calls->empty()) {
    out.content = text;
    return out;
  }
  const std::string calls_path = at_key(path, "tool_calls");
  need_array(*calls, calls_path);
  out.blocks.reserve(calls->size() + 1);
  if (!text.empty()) out.blocks.push_back(ContentBlock::make_text(text));
  for (size_t i = 0; i < calls->size(); ++i) {
    const std::string call_path = at_index(calls_path, i);
    const JsonValue& call = (*calls)[i];
    need_object(call, call_path);
    const JsonValue& fn = need(call, "function", call_path);
    need_object(fn, at_key(call_path, "function"));
    ContentBlock b;
    b.type = Type::kToolUse;
    b.id = need_string(call, "id", call_path);
    b.name = need_string(fn, "name", at_key(call_path, "function"));
    const auto args = maybe_string(fn, "arguments", at_key(call_path, "function"));
    b.input = tool_arguments_input(args.value_or(""));
    out.blocks.push_back(std::move(b));
  }
  return out;
}

// The turns: leading system messages are the system prompt; tool messages
// open a user turn that the user message right after them joins.
void read_messages(const JsonValue& arr, ChatParts& parts) {
  need_array(arr, "messages");
  std::vector<std::string> system;
  bool tool_turn_open = false;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string path = at_index("messages", i);
    const JsonValue& m = arr[i];
    need_object(m, path);
    const std::string role = need_string(m, "role", path);
    if (role == "system" || role == "developer") {
      if (!parts.messages.empty()) fail(at_key(path, "role"), "a system message after the first turn");
      system.push_back(read_text(need(m, "content", path), at_key(path, "content")));
      continue;
    }
    if (role == "tool") {
      if (!tool_turn_open) parts.messages.push_back(ChatMessage{"user", "", {}});
      tool_turn_open = true;
      parts.messages.back().blocks.push_back(read_tool_message(m, path));
      continue;
    }
    if (role == "assistant") {
      parts.messages.push_back(read_assistant(m, path));
    } else if (role == "user") {
      const JsonValue& content = need(m, "content", path);
      std::vector<ContentBlock> blocks;
      if (!content.is_string()) blocks = read_parts(content, at_key(path, "content"), true);
      if (tool_turn_open) {
        auto& turn = parts.messages.back().blocks;
        if (content.is_string()) blocks = {ContentBlock::make_text(content.get<std::string>())};
        turn.insert(turn.end(), blocks.begin(), blocks.end());
      } else {
        parts.messages.push_back(ChatMessage{"user", content.is_string() ? content.get<std::string>() : "",
                                             std::move(blocks)});
      }
    } else {
      fail(at_key(path, "role"), "unknown role \"" + role + "\"");
    }
    tool_turn_open = false;
  }
  if (system.size() == 1) {
    parts.system = system.front();
  } else {
    for (auto& s : system) parts.system_blocks.push_back(ContentBlock::make_text(std::move(s)));
  }
}

std::vector<ToolSpec> read_tools(const JsonValue& arr) {
  need_array(arr, "tools");
  std::vector<ToolSpec> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string path = at_index("tools", i);
    need_object(arr[i], path);
    const std::string type = need_string(arr[i], "type", path);
    if (type != "function") fail(at_key(path, "type"), "only function tools can be read");
    const JsonValue& fn = need(arr[i], "function", path);
    const std::string fn_path = at_key(path, "function");
    need_object(fn, fn_path);
    ToolSpec t;
    t.name = need_string(fn, "name", fn_path);
    t.description = maybe_string(fn, "description", fn_path).value_or("");
    const JsonValue* params = find(fn, "parameters");
    t.input_schema = params ? *params : JsonValue::parse(R"({"type":"object","properties":{}})");
    need_object(t.input_schema, at_key(fn_path, "parameters"));
    out.push_back(std::move(t));
  }
  return out;
}

ToolChoice read_tool_choice(const JsonValue& j) {
  ToolChoice c;
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "auto") return c;
    if (s == "none") c.type = ToolChoice::Type::kNone;
    else if (s == "required") c.type = ToolChoice::Type::kAny;
    else fail("tool_choice", "unknown tool choice \"" + s + "\"");
    return c;
  }
  need_object(j, "tool_choice");
  const JsonValue& fn = need(j, "function", "tool_choice");
  need_object(fn, "tool_choice.function");
  c.type = ToolChoice::Type::kTool;
  c.name = need_string(fn, "name", "tool_choice.function");
  return c;
}

ChatParts read_request(const JsonValue& body) {
  need_object(body, "body");
  ChatParts parts;
  parts.model = maybe_string(body, "model", "").value_or("");
  read_messages(need(body, "messages", ""), parts);
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const JsonValue* n = find(body, key)) {
      if (!n->is_number_unsigned()) fail(key, "not a positive integer");
      parts.max_tokens = n->get<uint64_t>();
    }
  }
  parts.temperature = maybe_number(body, "temperature", "");
  parts.top_p = maybe_number(body, "top_p", "");
  if (const JsonValue* tools = find(body, "tools")) parts.tools = read_tools(*tools);
  if (const JsonValue* choice = find(body, "tool_choice")) parts.tool_choice = read_tool_choice(*choice);
  if (const JsonValue* stop = find(body, "stop")) {
    if (stop->is_string()) {
      parts.stop_sequences.push_back(stop->get<std::string>());
    } else {
      append_strings(*stop, "stop", parts.stop_sequences);
    }
  }
  return parts;
}

}  // namespace

Result<ChatParts> parse_openai_request(const JsonValue& body) {
  return guarded([&] { return read_request(body); }, &Error::bad_request);
}

}  // namespace tollgate::protocol
