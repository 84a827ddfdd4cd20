// Anthropic Messages API JSON <-> neutral chat parts.
#include "protocol/anthropic_format.h"

#include <algorithm>
#include <cctype>

#include "protocol/format_support.h"

namespace tollgate::protocol {
namespace {

using namespace format;  // NOLINT: the readers of format_support.h

JsonValue image_source_json(const ImageSource& s) {
  JsonValue j = JsonValue::object();
  if (s.kind == ImageSource::Kind::kUrl) {
    j["type"] = "url";
    j["url"] = s.url;
  } else {
    j["type"] = "base64";
    j["media_type"] = s.media_type;
    j["data"] = s.data;
  }
  return j;
}

JsonValue blocks_json(const std::vector<ContentBlock>& blocks);

JsonValue block_json(const ContentBlock& b) {
  JsonValue j = JsonValue::object();
  j["type"] = block_type_name(b.type);
  switch (b.type) {
    case ContentBlock::Type::kText:
      j["text"] = b.text;
      break;
    case ContentBlock::Type::kImage:
      j["source"] = image_source_json(b.image);
      break;
    case ContentBlock::Type::kToolUse:
      j["id"] = b.id;
      j["name"] = b.name;
      j["input"] = b.input.is_null() ? JsonValue::object() : b.input;
      break;
    case ContentBlock::Type::kToolResult:
      j["tool_use_id"] = b.tool_use_id;
      if (b.content_is_string) {
        j["content"] = joined_text(b.content);
      } else if (!b.content.empty()) {
        j["content"] = blocks_json(b.content);
      }
      if (b.is_error) j["is_error"] = true;
      break;
  }
  if (!b.cache_control.is_null()) j["cache_control"] = b.cache_control;
  return j;
}

JsonValue blocks_json(const std::vector<ContentBlock>& blocks) {
  JsonValue out = JsonValue::array();
  for (const auto& b : blocks) out.push_back(block_json(b));
  return out;
}

JsonValue messages_json(const std::vector<ChatMessage>& messages) {
  JsonValue out = JsonValue::array();
  for (const auto& m : messages) {
    JsonValue j = JsonValue::object();
    if (m.has_blocks()) {
      j["content"] = blocks_json(m.blocks);
    } else {
      j["content"] = m.content;
    }
    j["role"] = m.role;
    out.push_back(std::move(j));
  }
  return out;
}

JsonValue tool_choice_json(const ToolChoice& c) {
  static constexpr const char* kNames[] = {"auto", "any", "none", "tool"};
  JsonValue j = JsonValue::object();
  j["type"] = kNames[static_cast<int>(c.type)];
  if (c.type == ToolChoice::Type::kTool) j["name"] = c.name;
  return j;
}

JsonValue tools_json(const std::vector<ToolSpec>& tools) {
  JsonValue out = JsonValue::array();
  for (const auto& t : tools) {
    JsonValue j = JsonValue::object();
    j["name"] = t.name;
    if (!t.description.empty()) j["description"] = t.description;
    j["input_schema"] = t.input_schema.is_null() ? JsonValue::object() : t.input_schema;
    if (!t.cache_control.is_null()) j["cache_control"] = t.cache_control;
    out.push_back(std::move(j));
  }
  return out;
}

// system, tool_choice and tools, in that (alphabetical) order.
void put_system_and_tools(JsonValue& body, const ChatParts& parts, bool with_stop) {
  if (with_stop && !parts.stop_sequences.empty()) body["stop_sequences"] = parts.stop_sequences;
  if (!parts.system_blocks.empty()) {
    body["system"] = blocks_json(parts.system_blocks);
  } else if (parts.system) {
    body["system"] = *parts.system;
  }
}

void put_tools(JsonValue& body, const ChatParts& parts) {
  if (parts.tool_choice) body["tool_choice"] = tool_choice_json(*parts.tool_choice);
  if (!parts.tools.empty()) body["tools"] = tools_json(parts.tools);
}

bool tool_id_ok(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-';
  });
}

std::optional<std::string> block_unsupported(const ContentBlock& b, const std::string& path,
                                             bool url_images) {
  using Type = ContentBlock::Type;
  if (b.type == Type::kImage && b.image.kind == ImageSource::Kind::kUrl && !url_images) {
    return path + ": image by url cannot be sent to this provider (image_urls = false)";
  }
  const std::string* id = b.type == Type::kToolUse      ? &b.id
                          : b.type == Type::kToolResult ? &b.tool_use_id
                                                        : nullptr;
  if (id != nullptr && !tool_id_ok(*id)) {
    return path + ": tool id \"" + *id +
           "\" cannot be sent in the Anthropic format (only A-Z, a-z, 0-9, _ and -)";
  }
  for (size_t k = 0; k < b.content.size(); ++k) {
    if (auto why = block_unsupported(b.content[k], at_index(path + ".content", k), url_images)) {
      return why;
    }
  }
  return std::nullopt;
}


ContentBlock parse_block(const JsonValue& j, const std::string& path, bool in_tool_result);

std::vector<ContentBlock> parse_blocks(const JsonValue& arr, const std::string& path,
                                       bool in_tool_result) {
  need_array(arr, path);
  std::vector<ContentBlock> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    out.push_back(parse_block(arr[i], at_index(path, i), in_tool_result));
  }
  return out;
}

ImageSource parse_image_source(const JsonValue& j, const std::string& path) {
  need_object(j, path);
  ImageSource s;
  const std::string type = need_string(j, "type", path);
  if (type == "base64") {
    s.media_type = need_string(j, "media_type", path);
    s.data = need_string(j, "data", path);
  } else if (type == "url") {
    s.kind = ImageSource::Kind::kUrl;
    s.url = need_string(j, "url", path);
  } else {
    fail(at_key(path, "type"), "unknown image source type \"" + type + "\"");
  }
  return s;
}

void parse_tool_result(const JsonValue& j, const std::string& path, ContentBlock& b) {
  b.tool_use_id = need_string(j, "tool_use_id", path);
  if (const JsonValue* c = find(j, "content")) {
    if (c->is_string()) {
      b.content = {ContentBlock::make_text(c->get<std::string>())};
      b.content_is_string = true;
    } else {
      b.content = parse_blocks(*c, at_key(path, "content"), /*in_tool_result=*/true);
    }
  }
  b.is_error = maybe_bool(j, "is_error", path).value_or(false);
}

ContentBlock parse_block(const JsonValue& j, const std::string& path, bool in_tool_result) {
  need_object(j, path);
  ContentBlock b;
  const std::string type = need_string(j, "type", path);
  if (type == "text") {
    b.text = need_string(j, "text", path);
  } else if (type == "image") {
    b.type = ContentBlock::Type::kImage;
    b.image = parse_image_source(need(j, "source", path), at_key(path, "source"));
  } else if (type == "tool_use" && !in_tool_result) {
    b.type = ContentBlock::Type::kToolUse;
    b.id = need_string(j, "id", path);
    b.name = need_string(j, "name", path);
    b.input = need(j, "input", path);
    need_object(b.input, at_key(path, "input"));
  } else if (type == "tool_result" && !in_tool_result) {
    b.type = ContentBlock::Type::kToolResult;
    parse_tool_result(j, path, b);
  } else if (in_tool_result) {
    fail(at_key(path, "type"), "a tool_result holds text and image blocks only, not \"" + type + "\"");
  } else {
    fail(at_key(path, "type"), "unknown block type \"" + type + "\"");
  }
  if (const JsonValue* cc = find(j, "cache_control")) b.cache_control = *cc;
  return b;
}

std::vector<ChatMessage> parse_messages(const JsonValue& arr) {
  need_array(arr, "messages");
  std::vector<ChatMessage> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string path = at_index("messages", i);
    need_object(arr[i], path);
    ChatMessage m;
    m.role = need_string(arr[i], "role", path);
    const JsonValue& content = need(arr[i], "content", path);
    if (content.is_string()) {
      m.content = content.get<std::string>();
    } else {
      m.blocks = parse_blocks(content, at_key(path, "content"), /*in_tool_result=*/false);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<ToolSpec> parse_tools(const JsonValue& arr) {
  need_array(arr, "tools");
  std::vector<ToolSpec> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string path = at_index("tools", i);
    need_object(arr[i], path);
    ToolSpec t;
    t.name = need_string(arr[i], "name", path);
    t.description = maybe_string(arr[i], "description", path).value_or("");
    t.input_schema = need(arr[i], "input_schema", path);
    need_object(t.input_schema, at_key(path, "input_schema"));
    if (const JsonValue* cc = find(arr[i], "cache_control")) t.cache_control = *cc;
    out.push_back(std::move(t));
  }
  return out;
}

ToolChoice parse_tool_choice(const JsonValue& j) {
  need_object(j, "tool_choice");
  ToolChoice c;
  const std::string type = need_string(j, "type", "tool_choice");
  if (type == "auto") {
    c.type = ToolChoice::Type::kAuto;
  } else if (type == "any") {
    c.type = ToolChoice::Type::kAny;
  } else if (type == "none") {
    c.type = ToolChoice::Type::kNone;
  } else if (type == "tool") {
    c.type = ToolChoice::Type::kTool;
    c.name = need_string(j, "name", "tool_choice");
  } else {
    fail("tool_choice.type", "unknown tool choice \"" + type + "\"");
  }
  return c;
}

ChatParts parse_request(const JsonValue& body) {
  need_object(body, "body");
  ChatParts parts;
  parts.model = maybe_string(body, "model", "").value_or("");
  parts.messages = parse_messages(need(body, "messages", ""));
  if (const JsonValue* system = find(body, "system")) {
    if (system->is_string()) {
      parts.system = system->get<std::string>();
    } else {
      parts.system_blocks = parse_blocks(*system, "system", /*in_tool_result=*/true);
      for (size_t i = 0; i < parts.system_blocks.size(); ++i) {
        if (parts.system_blocks[i].type != ContentBlock::Type::kText) {
          fail(at_index("system", i) + ".type", "system blocks are text blocks");
        }
      }
    }
  }
  if (const JsonValue* n = find(body, "max_tokens")) {
    if (!n->is_number_unsigned()) fail("max_tokens", "not a positive integer");
    parts.max_tokens = n->get<uint64_t>();
  }
  parts.temperature = maybe_number(body, "temperature", "");
  parts.top_p = maybe_number(body, "top_p", "");
  if (const JsonValue* tools = find(body, "tools")) parts.tools = parse_tools(*tools);
  if (const JsonValue* choice = find(body, "tool_choice")) parts.tool_choice = parse_tool_choice(*choice);
  if (const JsonValue* stops = find(body, "stop_sequences")) {
    append_strings(*stops, "stop_sequences", parts.stop_sequences);
  }
  return parts;
}

}  // namespace

Result<ChatParts> parse_anthropic_request(const JsonValue& body) {
  return guarded([&] { return parse_request(body); }, &Error::bad_request);
}

JsonValue anthropic_request(const ChatParts& parts) {
  JsonValue body = JsonValue::object();
  if (parts.max_tokens) body["max_tokens"] = *parts.max_tokens;
  body["messages"] = messages_json(parts.messages);
  body["model"] = parts.model;
  put_system_and_tools(body, parts, /*with_stop=*/true);
  if (parts.temperature) body["temperature"] = std::clamp(*parts.temperature, 0.0, 1.0);
  put_tools(body, parts);
  if (parts.top_p) body["top_p"] = *parts.top_p;
  return body;
}

JsonValue anthropic_count_request(const ChatParts& parts) {
  JsonValue body = JsonValue::object();
  body["messages"] = messages_json(parts.messages);
  body["model"] = parts.model;
  put_system_and_tools(body, parts, /*with_stop=*/false);
  put_tools(body, parts);
  return body;
}

std::optional<StopReason> anthropic_stop_reason(std::string_view name) {
  if (name == "end_turn" || name == "pause_turn") return StopReason::kEndTurn;
  if (name == "max_tokens") return StopReason::kMaxTokens;
  if (name == "stop_sequence") return StopReason::kStopSequence;
  if (name == "tool_use") return StopReason::kToolUse;
  if (name == "refusal") return StopReason::kRefusal;
  return std::nullopt;
}

std::optional<std::string> anthropic_unsupported(const std::vector<ChatMessage>& messages,
                                                 bool url_images) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string path = at_index("messages", i) + ".content";
    for (size_t j = 0; j < messages[i].blocks.size(); ++j) {
      if (auto why = block_unsupported(messages[i].blocks[j], at_index(path, j), url_images)) {
        return why;
      }
    }
  }
  return std::nullopt;
}

Result<ChatReply> parse_anthropic_response(const JsonValue& body) {
  return guarded(
      [&] {
        ChatReply reply;
        need_object(body, "body");
        const JsonValue& content = need(body, "content", "");
        need_array(content, "content");
        reply.content.reserve(content.size());
        for (size_t i = 0; i < content.size(); ++i) {
          const std::string path = at_index("content", i);
          const JsonValue& block = content[i];
          need_object(block, path);
          const std::string type = maybe_string(block, "type", path).value_or("");
          if (type == "text") {
            reply.content.push_back(ContentBlock::make_text(need_string(block, "text", path)));
          } else if (type == "tool_use") {
            ContentBlock b;
            b.type = ContentBlock::Type::kToolUse;
            b.id = need_string(block, "id", path);
            b.name = need_string(block, "name", path);
            b.input = need(block, "input", path);
            need_object(b.input, at_key(path, "input"));
            reply.content.push_back(std::move(b));
          }  // thinking, server tool blocks, ...: not part of the neutral reply
        }
        reply.id = maybe_string(body, "id", "").value_or("");
        reply.model = maybe_string(body, "model", "").value_or("");
        if (auto stop = maybe_string(body, "stop_reason", "")) {
          reply.stop_reason = anthropic_stop_reason(*stop);
        }
        auto usage = body.find("usage");
        if (usage != body.end() && usage->is_object() && usage->contains("output_tokens")) {
          TokenUsage u;
          u.cache_creation_input_tokens = maybe_count(*usage, "cache_creation_input_tokens", "usage");
          u.cache_read_input_tokens = maybe_count(*usage, "cache_read_input_tokens", "usage");
          u.input_tokens = maybe_count(*usage, "input_tokens", "usage").value_or(0) +
                           u.cache_creation_input_tokens.value_or(0) +
                           u.cache_read_input_tokens.value_or(0);
          u.output_tokens = maybe_count(*usage, "output_tokens", "usage").value_or(0);
          u.total_tokens = u.input_tokens + u.output_tokens;
          reply.usage = u;
        }
        return reply;
      },
      &Error::provider_error);
}

JsonValue anthropic_response(const ChatReply& reply) {
  JsonValue j = JsonValue::object();
  j["id"] = reply.id;
  j["type"] = "message";
  j["role"] = "assistant";
  j["model"] = reply.model;
  j["content"] = blocks_json(reply.content);
  j["stop_reason"] = reply.stop_reason ? JsonValue(stop_reason_name(*reply.stop_reason))
                                       : JsonValue(nullptr);
  j["stop_sequence"] = nullptr;
  if (reply.usage) {
    const TokenUsage& u = *reply.usage;
    const uint64_t cached = u.cache_creation_input_tokens.value_or(0) +
                            u.cache_read_input_tokens.value_or(0);
    JsonValue usage = JsonValue::object();
    usage["input_tokens"] = u.input_tokens > cached ? u.input_tokens - cached : 0;
    usage["output_tokens"] = u.output_tokens;
    if (u.cache_creation_input_tokens) {
      usage["cache_creation_input_tokens"] = *u.cache_creation_input_tokens;
    }
    if (u.cache_read_input_tokens) usage["cache_read_input_tokens"] = *u.cache_read_input_tokens;
    j["usage"] = std::move(usage);
  }
  return j;
}

}  // namespace tollgate::protocol
