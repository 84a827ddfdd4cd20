// The Anthropic Messages format: request checks (with the messages the real
// service answers) and the reply body. Paths in messages are the service's:
// `messages.1.content.0.tool_use.id`.
#include <algorithm>
#include <set>

#include "tools/fake-provider/api_formats.h"
#include "tools/fake-provider/fake_anthropic.h"
#include "tools/fake-provider/image_tokens.h"

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;
using Error = std::optional<ApiError>;

using anthropic_detail::invalid;
using anthropic_detail::is_string;

constexpr int kMaxCacheMarks = 4;
constexpr size_t kMaxImageBase64Bytes = 5 * 1024 * 1024;
// The tool-use system prompt Anthropic adds when tools are given (its
// documented count for current models): tool_choice auto or none / any or tool.
constexpr uint64_t kToolPromptAuto = 346;
constexpr uint64_t kToolPromptForced = 313;

// What the prompt holds so far, walked in the service's cache order: tools,
// system, messages.
struct Walk {
  ParsedCall& call;
  detail::PrefixHash hash;
  int cache_marks = 0;
};

// What one message holds, for the checks between turns.
struct Turn {
  bool assistant = false;
  std::vector<std::string> tool_use_ids;
  std::vector<std::string> result_ids;
  size_t leading_results = 0;  // tool_result blocks before any other block
  bool other_block = false;    // a block other than tool_result seen
  std::vector<std::string> results;  // "tool result: ..." / "tool error: ..."
  std::string text;
};

bool has(const std::vector<std::string>& ids, size_t first_n, const std::string& id) {
  auto end = ids.begin() + static_cast<std::ptrdiff_t>(std::min(first_n, ids.size()));
  return std::find(ids.begin(), end, id) != end;
}

std::string joined(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

// Hashes one part of the prompt (without its cache mark, so moving the mark
// keeps the prefix) and, when it carries cache_control, records the prefix
// up to it as cacheable.
Error add_part(Walk& w, const json& part, const std::string& at) {
  json bare = part;
  if (bare.is_object()) bare.erase("cache_control");
  w.hash.add(dump(bare));
  if (!part.is_object() || !part.contains("cache_control")) return std::nullopt;
  const json& cc = part["cache_control"];
  if (!cc.is_object() || !is_string(cc, "type") || cc["type"] != "ephemeral") {
    return invalid(at + ".cache_control.type: Input should be 'ephemeral'");
  }
  if (cc.contains("ttl") && cc["ttl"] != "5m" && cc["ttl"] != "1h") {
    return invalid(at + ".cache_control.ttl: Input should be '5m' or '1h'");
  }
  if (++w.cache_marks > kMaxCacheMarks) {
    return invalid("A maximum of 4 blocks with cache_control may be provided. Found " +
                   std::to_string(w.cache_marks) + ".");
  }
  w.call.cache_points.push_back({w.hash.value(), w.call.size});
  return std::nullopt;
}

Error check_base64_image(const json& source, const std::string& at, Walk& w) {
  const std::string path = at + ".source.base64";
  static const std::set<std::string> kTypes = {"image/jpeg", "image/png", "image/gif", "image/webp"};
  if (!is_string(source, "media_type") || !kTypes.count(source["media_type"])) {
    return invalid(path +
                   ".media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
  }
  if (!is_string(source, "data")) return invalid(path + ".data: Field required");
  const std::string& data = source["data"].get_ref<const std::string&>();
  if (data.size() > kMaxImageBase64Bytes) {
    return invalid(path + ": image exceeds 5 MB maximum: " + std::to_string(data.size()) +
                   " bytes > " + std::to_string(kMaxImageBase64Bytes) + " bytes");
  }
  auto bytes = decode_base64(data);
  if (!bytes) return invalid(path + ".data: invalid base64 data");
  auto image = read_image_info(*bytes);
  if (!image) return invalid(path + ".data: Could not process image");
  if (image->media_type != source["media_type"]) {
    return invalid(path + ".data: Image does not match the provided media type " +
                   source["media_type"].get<std::string>());
  }
  if (image->width > kMaxImageEdge || image->height > kMaxImageEdge) {
    return invalid(path + ".data: At least one of the image dimensions exceed max allowed size: 8000 pixels");
  }
  w.call.size.fixed_tokens += anthropic_image_tokens(image->width, image->height);
  return std::nullopt;
}

Error check_image(const json& block, const std::string& at, Walk& w) {
  auto source = block.find("source");
  if (source == block.end() || !source->is_object()) return invalid(at + ".source: Field required");
  const std::string type = is_string(*source, "type") ? (*source)["type"].get<std::string>() : "";
  if (type == "base64") return check_base64_image(*source, at, w);
  if (type != "url") {
    return invalid(at + ".source: Input tag '" + type +
                   "' found using 'type' does not match any of the expected tags: 'base64', 'url'");
  }
  if (!is_string(*source, "url")) return invalid(at + ".source.url.url: Field required");
  const std::string url = (*source)["url"];
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return invalid(at + ".source.url.url: Input should be a valid URL");
  }
  w.call.size.fixed_tokens += kAnthropicUrlImageTokens;
  return std::nullopt;
}

Error check_text(const json& block, const std::string& at, Walk& w, std::string& text) {
  if (!is_string(block, "text")) return invalid(at + ".text: Field required");
  const std::string& t = block["text"].get_ref<const std::string&>();
  detail::add_text(w.call.size, t);
  text += t;
  return std::nullopt;
}

Error check_tool_use(const json& block, const std::string& at, Walk& w, Turn& turn) {
  if (!is_string(block, "id")) return invalid(at + ".id: Field required");
  const std::string id = block["id"];
  static const char* kIdChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
  if (id.empty() || id.find_first_not_of(kIdChars) != std::string::npos) {
    return invalid(at + ".id: String should match pattern '^[a-zA-Z0-9_-]+$'");
  }
  if (!is_string(block, "name")) return invalid(at + ".name: Field required");
  if (!block.contains("input")) return invalid(at + ".input: Field required");
  if (!block["input"].is_object()) return invalid(at + ".input: Input should be a valid dictionary");
  if (has(turn.tool_use_ids, turn.tool_use_ids.size(), id)) {
    return invalid(at + ": tool_use ids must be unique");
  }
  turn.tool_use_ids.push_back(id);
  detail::add_text(w.call.size, block["name"].get<std::string>());
  detail::add_text(w.call.size, dump(block["input"]));
  return std::nullopt;
}

Error check_tool_result(const json& block, const std::string& at, Walk& w, Turn& turn) {
  if (!is_string(block, "tool_use_id")) return invalid(at + ".tool_use_id: Field required");
  if (block.contains("is_error") && !block["is_error"].is_boolean()) {
    return invalid(at + ".is_error: Input should be a valid boolean");
  }
  std::string text;
  if (block.contains("content") && block["content"].is_string()) {
    text = block["content"];
    detail::add_text(w.call.size, text);
  } else if (block.contains("content")) {
    const json& content = block["content"];
    if (!content.is_array()) return invalid(at + ".content: Input should be a valid string or list");
    for (size_t k = 0; k < content.size(); ++k) {
      const json& part = content[k];
      const std::string pat = at + ".content." + std::to_string(k);
      const std::string type =
          part.is_object() && is_string(part, "type") ? part["type"].get<std::string>() : "";
      Error e;
      if (type == "text") e = check_text(part, pat + ".text", w, text);
      else if (type == "image") e = check_image(part, pat + ".image", w);
      else e = invalid(pat + ": Input tag '" + type +
                       "' found using 'type' does not match any of the expected tags: 'text', 'image'");
      if (e) return e;
    }
  }
  turn.result_ids.push_back(block["tool_use_id"]);
  const bool error = block.value("is_error", false);
  turn.results.push_back((error ? "tool error: " : "tool result: ") + text);
  return std::nullopt;
}

Error check_block(const json& block, const std::string& at, Walk& w, Turn& turn) {
  if (!block.is_object()) return invalid(at + ": Input should be a valid dictionary");
  if (!block.contains("type")) return invalid(at + ".type: Field required");
  const std::string type = block["type"].is_string() ? block["type"].get<std::string>() : "";
  Error e;
  if (type != "tool_result") turn.other_block = true;
  if (type == "text") {
    e = check_text(block, at + ".text", w, turn.text);
  } else if (type == "image") {
    e = check_image(block, at + ".image", w);
  } else if (type == "tool_use") {
    if (!turn.assistant) return invalid(at + ": tool_use blocks can only be in assistant messages");
    e = check_tool_use(block, at + ".tool_use", w, turn);
  } else if (type == "tool_result") {
    if (turn.assistant) return invalid(at + ": tool_result blocks can only be in user messages");
    e = check_tool_result(block, at + ".tool_result", w, turn);
    if (!e && !turn.other_block) ++turn.leading_results;
  } else {
    return invalid(at + ": Input tag '" + type +
                   "' found using 'type' does not match any of the expected tags: 'text', "
                   "'image', 'tool_use', 'tool_result'");
  }
  if (e) return e;
  return add_part(w, block, at);
}

Error check_message(const json& m, const std::string& at, Walk& w, Turn& turn) {
  if (!m.is_object()) return invalid(at + ": Input should be a valid dictionary");
  auto role = m.find("role");
  if (role == m.end() || !role->is_string() || (*role != "user" && *role != "assistant")) {
    return invalid(at + ".role: Input should be 'user' or 'assistant'");
  }
  turn.assistant = *role == "assistant";
  ++w.call.size.messages;
  w.hash.add(role->get<std::string>());
  auto content = m.find("content");
  if (content != m.end() && content->is_string()) {
    detail::add_text(w.call.size, content->get<std::string>());
    turn.text = content->get<std::string>();
    w.hash.add(turn.text);
    return std::nullopt;
  }
  if (content == m.end() || !content->is_array()) {
    return invalid(at + ".content: Input should be a valid string or list");
  }
  for (size_t j = 0; j < content->size(); ++j) {
    if (auto e = check_block((*content)[j], at + ".content." + std::to_string(j), w, turn)) return e;
  }
  return std::nullopt;
}

// Every tool_result answers a tool_use of the assistant message just
// before (checked first: a wrong id is reported as such, not as the
// tool_use it leaves unanswered).
Error check_results_answer(const std::vector<Turn>& turns) {
  const std::vector<std::string> none;
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].assistant) continue;
    const auto& asked = i > 0 && turns[i - 1].assistant ? turns[i - 1].tool_use_ids : none;
    std::vector<std::string> unexpected;
    for (const auto& id : turns[i].result_ids) {
      if (!has(asked, asked.size(), id)) unexpected.push_back(id);
    }
    if (unexpected.empty()) continue;
    return invalid("messages." + std::to_string(i) +
                   ".content.0: unexpected `tool_use_id` found in `tool_result` blocks: " +
                   joined(unexpected) +
                   ". Each `tool_result` block must have a corresponding `tool_use` block in the "
                   "previous message.");
  }
  return std::nullopt;
}

// Every tool_use is answered by a tool_result at the start of the next message.
Error check_uses_answered(const std::vector<Turn>& turns) {
  for (size_t i = 0; i < turns.size(); ++i) {
    std::vector<std::string> missing;
    for (const auto& id : turns[i].tool_use_ids) {
      const bool answered = i + 1 < turns.size() && !turns[i + 1].assistant &&
                            has(turns[i + 1].result_ids, turns[i + 1].leading_results, id);
      if (!answered) missing.push_back(id);
    }
    if (missing.empty()) continue;
    return invalid("messages." + std::to_string(i) +
                   ": `tool_use` ids were found without `tool_result` blocks immediately after: " +
                   joined(missing) +
                   ". Each `tool_use` block must have a corresponding `tool_result` block in the "
                   "next message.");
  }
  return std::nullopt;
}

Error check_messages(const json& messages, Walk& w) {
  if (!messages.is_array()) return invalid("messages: Input should be a valid list");
  if (messages.empty()) return invalid("messages: at least one message is required");
  std::vector<Turn> turns(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    if (auto e = check_message(messages[i], "messages." + std::to_string(i), w, turns[i])) return e;
  }
  if (auto e = check_results_answer(turns)) return e;
  if (auto e = check_uses_answered(turns)) return e;
  ParsedCall& call = w.call;
  for (const Turn& t : turns) {
    if (!t.assistant) call.last_user_text = t.text;
  }
  if (!turns.back().assistant) {
    call.final_user_text = turns.back().text;
    call.tool_results = turns.back().results;
  }
  return std::nullopt;
}

// tools, then system: sizes, hash and cache marks in the service's order.
Error walk_tools_and_system(const json& body, Walk& w) {
  if (!w.call.tools.empty()) {
    const bool forced = w.call.tool_mode == ToolMode::kAny || w.call.tool_mode == ToolMode::kTool;
    w.call.size.fixed_tokens += forced ? kToolPromptForced : kToolPromptAuto;
    const json& tools = body["tools"];
    for (size_t i = 0; i < tools.size(); ++i) {
      const json& t = tools[i];
      detail::add_text(w.call.size, t["name"].get<std::string>());
      if (t.contains("description")) detail::add_text(w.call.size, t["description"].get<std::string>());
      detail::add_text(w.call.size, dump(t["input_schema"]));
      if (auto e = add_part(w, t, "tools." + std::to_string(i))) return e;
    }
  }
  auto system = body.find("system");
  if (system == body.end()) return std::nullopt;
  if (system->is_string()) {
    detail::add_text(w.call.size, system->get<std::string>());
    w.hash.add(system->get<std::string>());
    return std::nullopt;
  }
  if (!system->is_array()) return invalid("system: Input should be a valid string or list");
  for (size_t i = 0; i < system->size(); ++i) {
    const json& block = (*system)[i];
    const std::string at = "system." + std::to_string(i);
    if (!block.is_object() || block.value("type", json()) != "text") {
      return invalid(at + ".type: Input should be 'text'");
    }
    std::string ignored;
    if (auto e = check_text(block, at, w, ignored)) return e;
    if (auto e = add_part(w, block, at)) return e;
  }
  return std::nullopt;
}

// count: the body of POST /v1/messages/count_tokens, which has no max_tokens.
Error check_body(const json& body, ParsedCall& call, bool count) {
  auto model = body.find("model");
  if (model == body.end()) return invalid("model: Field required");
  if (!model->is_string()) return invalid("model: Input should be a valid string");
  call.model = model->get<std::string>();
  if (auto e = anthropic_detail::check_max_tokens(body, call, count)) return e;
  if (auto e = anthropic_detail::check_sampling(body, call)) return e;
  if (auto e = anthropic_detail::check_stream(body, call, count)) return e;
  if (auto e = anthropic_detail::check_tools(body, call)) return e;
  if (auto e = anthropic_detail::check_tool_choice(body, call)) return e;
  Walk w{call, {}, 0};
  w.hash.add(call.model);
  if (auto e = walk_tools_and_system(body, w)) return e;
  auto messages = body.find("messages");
  if (messages == body.end()) return invalid("messages: Field required");
  return check_messages(*messages, w);
}

}  // namespace

CheckResult check_anthropic(const httplib::Request& req, const std::string& required_key, bool no_auth,
                            bool count) {
  std::string key = req.get_header_value("x-api-key");
  if (key.empty() && !no_auth) return anthropic_error(401, "authentication_error", "x-api-key header is required");
  if (!key.empty() && !required_key.empty() && key != required_key) {
    return anthropic_error(401, "authentication_error", "invalid x-api-key");
  }
  if (req.get_header_value("anthropic-version").empty()) {
    return invalid("anthropic-version: header is required");
  }
  auto body = detail::parse_body(req);
  if (!body) return invalid("There was an error parsing the body of your request: invalid JSON");
  ParsedCall call;
  if (auto e = check_body(*body, call, count)) return *e;
  return call;
}

json anthropic_reply(const ReplySpec& s) {
  json content = json::array();
  if (!s.text.empty()) content.push_back({{"type", "text"}, {"text", s.text}});
  for (const auto& t : s.tool_calls) {
    content.push_back({{"type", "tool_use"}, {"id", t.id}, {"name", t.name}, {"input", t.input}});
  }
  json j = {{"id", s.id},
            {"type", "message"},
            {"role", "assistant"},
            {"model", s.model},
            {"content", content},
            {"stop_reason", s.stop_reason},
            {"stop_sequence", s.stop_sequence ? json(*s.stop_sequence) : json(nullptr)}};
  if (s.with_usage) j["usage"] = anthropic_usage(s);
  return j;
}

json anthropic_usage(const ReplySpec& s) {
  return {{"input_tokens", s.input_tokens},
          {"output_tokens", s.output_tokens},
          {"cache_creation_input_tokens", s.cache_creation_input_tokens},
          {"cache_read_input_tokens", s.cache_read_input_tokens}};
}

}  // namespace tollgate::fake_provider
