// OpenAI Chat Completions JSON <-> neutral chat parts: building requests,
// reading and writing replies (reading requests: openai_request_reader.cpp).
#include "protocol/openai_format.h"

#include <algorithm>
#include <cctype>

#include "protocol/format_support.h"

namespace tollgate::protocol {
namespace {

using namespace format;  // NOLINT: the readers of format_support.h
using Type = ContentBlock::Type;

constexpr std::string_view kSystemBlockSeparator = "\n\n";

JsonValue text_part(const std::string& text) {
  JsonValue j = JsonValue::object();
  j["type"] = "text";
  j["text"] = text;
  return j;
}

JsonValue image_part(const ImageSource& image) {
  JsonValue url = JsonValue::object();
  url["url"] = image_url_text(image);
  JsonValue j = JsonValue::object();
  j["type"] = "image_url";
  j["image_url"] = std::move(url);
  return j;
}

JsonValue message(std::string_view role, JsonValue content) {
  JsonValue j = JsonValue::object();
  j["content"] = std::move(content);
  j["role"] = role;
  return j;
}

JsonValue tool_call_json(const ContentBlock& b) {
  JsonValue fn = JsonValue::object();
  fn["name"] = b.name;
  fn["arguments"] = tool_arguments_text(b.input);
  JsonValue j = JsonValue::object();
  j["id"] = b.id;
  j["type"] = "function";
  j["function"] = std::move(fn);
  return j;
}

// A tool_result: a `tool` message (text only; images are refused before).
JsonValue tool_message(const ContentBlock& b) {
  JsonValue content;
  if (b.content_is_string || b.content.empty()) {
    content = joined_text(b.content);
  } else {
    content = JsonValue::array();
    for (const auto& part : b.content) {
      if (part.type == Type::kText) content.push_back(text_part(part.text));
    }
  }
  JsonValue j = message("tool", std::move(content));
  j["tool_call_id"] = b.tool_use_id;
  return j;
}

// A user turn: its tool_results as tool messages, in order, then the rest
// of the turn (text and images) as one user message.
void append_user(JsonValue& out, const ChatMessage& m) {
  JsonValue parts = JsonValue::array();
  for (const auto& b : m.blocks) {
    if (b.type == Type::kToolResult) {
      out.push_back(tool_message(b));
    } else if (b.type == Type::kText) {
      parts.push_back(text_part(b.text));
    } else if (b.type == Type::kImage) {
      parts.push_back(image_part(b.image));
    }
  }
  if (!parts.empty()) out.push_back(message("user", std::move(parts)));
}

// An assistant turn: its text joined as the content (null when it only
// calls tools), its tool_use blocks as tool_calls.
void append_assistant(JsonValue& out, const ChatMessage& m) {
  JsonValue calls = JsonValue::array();
  for (const auto& b : m.blocks) {
    if (b.type == Type::kToolUse) calls.push_back(tool_call_json(b));
  }
  const std::string text = joined_text(m.blocks);
  JsonValue j = message("assistant", calls.empty() || !text.empty() ? JsonValue(text) : JsonValue());
  if (!calls.empty()) j["tool_calls"] = std::move(calls);
  out.push_back(std::move(j));
}

JsonValue messages_json(const ChatParts& parts) {
  JsonValue out = JsonValue::array();
  if (!parts.system_blocks.empty()) {
    std::string system;
    for (size_t i = 0; i < parts.system_blocks.size(); ++i) {
      if (i > 0) system += kSystemBlockSeparator;
      system += parts.system_blocks[i].text;
    }
    out.push_back(message("system", system));
  } else if (parts.system) {
    out.push_back(message("system", *parts.system));
  }
  for (const auto& m : parts.messages) {
    if (!m.has_blocks()) {
      out.push_back(message(m.role, m.content));
    } else if (m.role == "assistant") {
      append_assistant(out, m);
    } else {
      append_user(out, m);
    }
  }
  return out;
}

JsonValue tool_choice_json(const ToolChoice& c) {
  switch (c.type) {
    case ToolChoice::Type::kAuto: return "auto";
    case ToolChoice::Type::kNone: return "none";
    case ToolChoice::Type::kAny: return "required";
    case ToolChoice::Type::kTool: break;
  }
  JsonValue fn = JsonValue::object();
  fn["name"] = c.name;
  JsonValue j = JsonValue::object();
  j["type"] = "function";
  j["function"] = std::move(fn);
  return j;
}

JsonValue tools_json(const std::vector<ToolSpec>& tools) {
  JsonValue out = JsonValue::array();
  for (const auto& t : tools) {
    JsonValue fn = JsonValue::object();
    fn["name"] = t.name;
    if (!t.description.empty()) fn["description"] = t.description;
    fn["parameters"] = t.input_schema.is_null() ? JsonValue::object() : t.input_schema;
    JsonValue j = JsonValue::object();
    j["type"] = "function";
    j["function"] = std::move(fn);
    out.push_back(std::move(j));
  }
  return out;
}

ContentBlock tool_use_from_call(const JsonValue& call, const std::string& path,
                                std::string_view reply_id, size_t index) {
  need_object(call, path);
  const JsonValue& fn = need(call, "function", path);
  const std::string fn_path = at_key(path, "function");
  need_object(fn, fn_path);
  ContentBlock b;
  b.type = Type::kToolUse;
  b.id = maybe_string(call, "id", path).value_or("");
  if (b.id.empty()) b.id = openai_synthetic_call_id(reply_id, index);
  b.name = need_string(fn, "name", fn_path);
  const JsonValue* args = find(fn, "arguments");
  if (args == nullptr) {
    b.input = JsonValue::object();
  } else if (args->is_string()) {
    b.input = tool_arguments_input(args->get_ref<const std::string&>());
  } else if (args->is_object()) {
    b.input = *args;  // some compatible servers send the object itself
  } else {
    b.input = tool_arguments_input(args->dump());
  }
  return b;
}

// message.content (string, null or text parts) and message.refusal.
void read_reply_text(const JsonValue& message, ChatReply& reply, bool& refused) {
  const std::string path = "choices[0].message";
  if (const JsonValue* content = find(message, "content")) {
    if (content->is_string()) {
      if (!content->get_ref<const std::string&>().empty()) {
        reply.content.push_back(ContentBlock::make_text(content->get<std::string>()));
      }
    } else {
      fail(at_key(path, "content"), "not a string");
    }
  }
  if (auto refusal = maybe_string(message, "refusal", path); refusal && !refusal->empty()) {
    refused = true;
    if (reply.content.empty()) reply.content.push_back(ContentBlock::make_text(*refusal));
  }
}

void read_tool_calls(const JsonValue& message, ChatReply& reply) {
  const std::string path = "choices[0].message";
  if (const JsonValue* calls = find(message, "tool_calls")) {
    const std::string calls_path = at_key(path, "tool_calls");
    need_array(*calls, calls_path);
    reply.content.reserve(reply.content.size() + calls->size());
    for (size_t i = 0; i < calls->size(); ++i) {
      reply.content.push_back(tool_use_from_call((*calls)[i], at_index(calls_path, i), reply.id, i));
    }
  } else if (const JsonValue* fn = find(message, "function_call")) {
    JsonValue call = JsonValue::object();
    call["function"] = *fn;
    reply.content.push_back(tool_use_from_call(call, path, reply.id, 0));
  }
}

std::optional<TokenUsage> read_usage(const JsonValue& body) {
  auto usage = body.find("usage");
  if (usage == body.end() || !usage->is_object()) return std::nullopt;
  const auto in = maybe_count(*usage, "prompt_tokens", "usage");
  const auto out = maybe_count(*usage, "completion_tokens", "usage");
  if (!in || !out) return std::nullopt;
  TokenUsage u;
  u.input_tokens = *in;
  u.output_tokens = *out;
  u.total_tokens = *in + *out;
  if (const JsonValue* details = find(*usage, "prompt_tokens_details"); details && details->is_object()) {
    u.cache_read_input_tokens = maybe_count(*details, "cached_tokens", "usage.prompt_tokens_details");
  }
  return u;
}

ChatReply read_response(const JsonValue& body) {
  need_object(body, "body");
  ChatReply reply;
  reply.id = maybe_string(body, "id", "").value_or("");
  reply.model = maybe_string(body, "model", "").value_or("");
  const JsonValue& choices = need(body, "choices", "");
  need_array(choices, "choices");
  if (choices.empty()) fail("choices", "empty");
  need_object(choices[0], "choices[0]");
  const JsonValue& message = need(choices[0], "message", "choices[0]");
  need_object(message, "choices[0].message");
  bool refused = false;
  read_reply_text(message, reply, refused);
  read_tool_calls(message, reply);
  if (auto finish = maybe_string(choices[0], "finish_reason", "choices[0]")) {
    reply.stop_reason = openai_finish_reason(*finish);
  }
  if (refused) reply.stop_reason = StopReason::kRefusal;
  reply.usage = read_usage(body);
  return reply;
}

}  // namespace

JsonValue openai_request(const ChatParts& parts) {
  JsonValue body = JsonValue::object();
  if (parts.max_tokens) body["max_tokens"] = *parts.max_tokens;
  body["messages"] = messages_json(parts);
  body["model"] = parts.model;
  if (!parts.stop_sequences.empty()) body["stop"] = parts.stop_sequences;
  if (parts.temperature) body["temperature"] = std::clamp(*parts.temperature, 0.0, 2.0);
  if (parts.tool_choice) body["tool_choice"] = tool_choice_json(*parts.tool_choice);
  if (!parts.tools.empty()) body["tools"] = tools_json(parts.tools);
  if (parts.top_p) body["top_p"] = *parts.top_p;
  return body;
}

Result<ChatReply> parse_openai_response(const JsonValue& body) {
  return guarded([&] { return read_response(body); }, &Error::provider_error);
}

JsonValue openai_response(const ChatReply& reply, int64_t created) {
  JsonValue calls = JsonValue::array();
  for (const auto& b : reply.content) {
    if (b.type == Type::kToolUse) calls.push_back(tool_call_json(b));
  }
  const std::string text = joined_text(reply.content);
  JsonValue message = JsonValue::object();
  message["role"] = "assistant";
  message["content"] = calls.empty() || !text.empty() ? JsonValue(text) : JsonValue();
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  JsonValue choice = JsonValue::object();
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["finish_reason"] = reply.stop_reason
                                ? JsonValue(openai_finish_reason_name(*reply.stop_reason))
                                : JsonValue();
  JsonValue j = JsonValue::object();
  j["id"] = reply.id;
  j["object"] = "chat.completion";
  j["created"] = created;
  j["model"] = reply.model;
  j["choices"] = JsonValue::array({std::move(choice)});
  if (reply.usage) {
    JsonValue usage = JsonValue::object();
    usage["prompt_tokens"] = reply.usage->input_tokens;
    usage["completion_tokens"] = reply.usage->output_tokens;
    usage["total_tokens"] = reply.usage->input_tokens + reply.usage->output_tokens;
    if (reply.usage->cache_read_input_tokens) {
      JsonValue details = JsonValue::object();
      details["cached_tokens"] = *reply.usage->cache_read_input_tokens;
      usage["prompt_tokens_details"] = std::move(details);
    }
    j["usage"] = std::move(usage);
  }
  return j;
}

std::string openai_synthetic_call_id(std::string_view reply_id, size_t index) {
  std::string id = "call_";
  for (char c : reply_id) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') id += c;
  }
  if (id.size() > 5) id += '_';
  return id + std::to_string(index);
}

std::optional<StopReason> openai_finish_reason(std::string_view name) {
  if (name == "stop") return StopReason::kEndTurn;
  if (name == "length") return StopReason::kMaxTokens;
  if (name == "tool_calls" || name == "function_call") return StopReason::kToolUse;
  if (name == "content_filter") return StopReason::kRefusal;
  return std::nullopt;
}

std::string_view openai_finish_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kEndTurn:
    case StopReason::kStopSequence: return "stop";
    case StopReason::kMaxTokens: return "length";
    case StopReason::kToolUse: return "tool_calls";
    case StopReason::kRefusal: return "content_filter";
  }
  return "stop";
}

std::string tool_arguments_text(const JsonValue& input) {
  if (input.is_null()) return "{}";
  if (input.is_object() && input.size() == 1) {
    auto raw = input.find(kRawArgumentsKey);
    if (raw != input.end() && raw->is_string()) return raw->get<std::string>();
  }
  return input.dump(-1, ' ', /*ensure_ascii=*/false, JsonValue::error_handler_t::replace);
}

JsonValue tool_arguments_input(std::string_view arguments) {
  if (arguments.find_first_not_of(" \t\r\n") == std::string_view::npos) return JsonValue::object();
  JsonValue parsed = JsonValue::parse(arguments, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) return parsed;
  JsonValue raw = JsonValue::object();
  raw[kRawArgumentsKey] = std::string(arguments);
  return raw;
}

std::string image_url_text(const ImageSource& image) {
  if (image.kind == ImageSource::Kind::kUrl) return image.url;
  return "data:" + image.media_type + ";base64," + image.data;
}

ImageSource image_from_url(std::string_view url) {
  ImageSource s;
  constexpr std::string_view kData = "data:";
  constexpr std::string_view kBase64 = ";base64,";
  const size_t marker = url.find(kBase64);
  if (url.substr(0, kData.size()) == kData && marker != std::string_view::npos) {
    s.media_type = std::string(url.substr(kData.size(), marker - kData.size()));
    s.data = std::string(url.substr(marker + kBase64.size()));
    return s;
  }
  s.kind = ImageSource::Kind::kUrl;
  s.url = std::string(url);
  return s;
}

std::optional<std::string> openai_unsupported(const std::vector<ChatMessage>& messages,
                                              bool url_images) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const bool assistant = messages[i].role == "assistant";
    const std::string path = at_index("messages", i) + ".content";
    for (size_t j = 0; j < messages[i].blocks.size(); ++j) {
      const ContentBlock& b = messages[i].blocks[j];
      const std::string where = at_index(path, j);
      const std::string role = assistant ? "an assistant" : "a user";
      if ((b.type == Type::kImage && assistant) || (b.type == Type::kToolUse && !assistant) ||
          (b.type == Type::kToolResult && assistant)) {
        return where + ": " + std::string(block_type_name(b.type)) + " in " + role +
               " turn cannot be sent in the OpenAI format";
      }
      if (b.type == Type::kImage && b.image.kind == ImageSource::Kind::kUrl && !url_images) {
        return where + ": image by url cannot be sent to this provider (image_urls = false)";
      }
      for (size_t k = 0; k < b.content.size(); ++k) {
        if (b.content[k].type == Type::kImage) {
          return at_index(where + ".content", k) +
                 ": an image inside a tool_result cannot be sent in the OpenAI format";
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace tollgate::protocol
