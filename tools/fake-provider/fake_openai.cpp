// The OpenAI Chat Completions format: request checks (with the messages,
// params and codes the real service answers) and the reply body.
#include <algorithm>
#include <set>

#include "tools/fake-provider/api_formats.h"
#include "tools/fake-provider/image_tokens.h"

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;
using Error = std::optional<ApiError>;

constexpr size_t kMaxStop = 4;
constexpr size_t kMaxTools = 128;
// OpenAI publishes no count for the prompt its tools become; the
// openai-cookbook's tiktoken recipe adds 12 tokens on top of the definitions.
constexpr uint64_t kToolsOverhead = 12;

ApiError bad(const std::string& message, const std::string& param,
             const std::optional<std::string>& code = "invalid_value") {
  return openai_error(400, message, "invalid_request_error", param, code);
}

ApiError missing(const std::string& param) {
  return bad("Missing required parameter: '" + param + "'.", param, "missing_required_parameter");
}

std::string a_type(const json& j) {
  const std::string name = j.type_name();
  return (name == "object" || name == "array" ? "an " : "a ") + name;
}

ApiError bad_type(const std::string& param, const std::string& expected, const json& got) {
  return bad("Invalid type for '" + param + "': expected " + expected + ", but got " + a_type(got) +
                 " instead.",
             param, "invalid_type");
}

// What one message holds, for the checks between messages.
struct ChatTurn {
  std::string role;
  std::string text;
  std::vector<std::string> tool_call_ids;  // assistant
  std::string answers;                     // tool: tool_call_id
};

Error check_image_url(const json& part, const std::string& at, const std::string& role,
                      PromptSize& size) {
  if (role != "user") {
    return bad("Image URLs are only allowed for messages with role 'user', but this message with role '" +
                   role + "' contains an image URL.",
               at + ".type");
  }
  auto image = part.find("image_url");
  if (image == part.end() || !image->is_object()) return missing(at + ".image_url");
  auto url = image->find("url");
  if (url == image->end() || !url->is_string()) return missing(at + ".image_url.url");
  const json detail_value = image->value("detail", json("auto"));
  const std::string detail = detail_value.is_string() ? detail_value.get<std::string>() : "";
  if (detail != "auto" && detail != "low" && detail != "high") {
    return bad("Invalid value: '" + detail + "'. Supported values are: 'auto', 'low', and 'high'.",
               at + ".image_url.detail");
  }
  const std::string& u = url->get_ref<const std::string&>();
  if (u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0) {
    size.fixed_tokens += detail == "low" ? kOpenAiLowDetailTokens : kOpenAiUrlImageTokens;
    return std::nullopt;
  }
  const size_t comma = u.find(',');
  const std::string head = u.substr(0, comma);
  const bool known = head == "data:image/png;base64" || head == "data:image/jpeg;base64" ||
                     head == "data:image/gif;base64" || head == "data:image/webp;base64";
  if (comma == std::string::npos || !known) {
    return bad("Invalid '" + at + ".image_url.url'. Expected a base64-encoded data URL with an image "
               "MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value.",
               at + ".image_url.url");
  }
  auto bytes = decode_base64(std::string_view(u).substr(comma + 1));
  auto info = bytes ? read_image_info(*bytes) : std::nullopt;
  if (!info) {
    return openai_error(400,
                        "You uploaded an unsupported image. Please make sure your image has of one "
                        "the following formats: ['png', 'jpeg', 'gif', 'webp'].",
                        "invalid_request_error", std::nullopt, "invalid_image_format");
  }
  size.fixed_tokens += detail == "low" ? kOpenAiLowDetailTokens : openai_image_tokens(info->width, info->height);
  return std::nullopt;
}

// Content: a string or an array of parts; user messages may have image_url
// parts, the others text (and refusal for assistant) only.
Error check_content(const json& content, const std::string& at, ChatTurn& turn, PromptSize& size) {
  if (content.is_string()) {
    turn.text = content.get<std::string>();
    detail::add_text(size, turn.text);
    return std::nullopt;
  }
  if (!content.is_array()) return bad_type(at, "one of a string or array of objects", content);
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string pat = at + "[" + std::to_string(j) + "]";
    if (!part.is_object() || !part.contains("type")) return missing(pat + ".type");
    const std::string type = part["type"].is_string() ? part["type"].get<std::string>() : "";
    if (type == "image_url") {
      if (auto e = check_image_url(part, pat, turn.role, size)) return e;
    } else if (type == "text" || (type == "refusal" && turn.role == "assistant")) {
      auto t = part.find(type);
      if (t == part.end() || !t->is_string()) return missing(pat + "." + type);
      if (type == "text") turn.text += t->get<std::string>();
      detail::add_text(size, t->get<std::string>());
    } else {
      return bad("Invalid value: '" + type + "'. Supported values are: 'text' and 'image_url'.",
                 pat + ".type");
    }
  }
  return std::nullopt;
}

Error check_tool_calls(const json& calls, const std::string& at, ChatTurn& turn, PromptSize& size) {
  if (!calls.is_array()) return bad_type(at, "an array", calls);
  for (size_t k = 0; k < calls.size(); ++k) {
    const json& c = calls[k];
    const std::string cat = at + "[" + std::to_string(k) + "]";
    if (!c.is_object() || !c.contains("id")) return missing(cat + ".id");
    if (!c["id"].is_string()) return bad_type(cat + ".id", "a string", c["id"]);
    if (!c.contains("type")) return missing(cat + ".type");
    if (c["type"] != "function") {
      return bad("Invalid value: " + dump(c["type"]) + ". Supported values are: 'function'.", cat + ".type");
    }
    if (!c.contains("function") || !c["function"].is_object()) return missing(cat + ".function");
    const json& f = c["function"];
    if (!f.contains("name") || !f["name"].is_string()) return missing(cat + ".function.name");
    if (!f.contains("arguments")) return missing(cat + ".function.arguments");
    if (!f["arguments"].is_string()) return bad_type(cat + ".function.arguments", "a string", f["arguments"]);
    turn.tool_call_ids.push_back(c["id"]);
    detail::add_text(size, f["name"].get<std::string>());
    detail::add_text(size, f["arguments"].get<std::string>());
  }
  return std::nullopt;
}

Error check_message(const json& m, const std::string& at, ChatTurn& turn, PromptSize& size) {
  static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
  auto role = m.is_object() ? m.find("role") : m.end();
  if (!m.is_object() || role == m.end() || !role->is_string() || !kRoles.count(*role)) {
    return bad("Invalid value for '" + at +
                   ".role'. Supported values are: 'system', 'assistant', 'user', 'tool' and "
                   "'developer'.",
               at + ".role");
  }
  turn.role = *role;
  ++size.messages;
  const bool with_calls = turn.role == "assistant" && m.contains("tool_calls") && !m["tool_calls"].is_null();
  if (with_calls) {
    if (auto e = check_tool_calls(m["tool_calls"], at + ".tool_calls", turn, size)) return e;
  }
  if (turn.role == "tool") {
    if (!m.contains("tool_call_id")) return missing(at + ".tool_call_id");
    if (!m["tool_call_id"].is_string()) return bad_type(at + ".tool_call_id", "a string", m["tool_call_id"]);
    turn.answers = m["tool_call_id"];
  }
  auto content = m.find("content");
  if (with_calls && (content == m.end() || content->is_null())) return std::nullopt;
  if (content == m.end()) return missing(at + ".content");
  return check_content(*content, at + ".content", turn, size);
}

// Each tool message answers a tool_call of the assistant message before
// its run of tool messages, and every such tool_call is answered.
Error check_tool_pairs(const std::vector<ChatTurn>& turns) {
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].role == "tool") {
      return bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                 "message with 'tool_calls'.",
                 "messages.[" + std::to_string(i) + "].role", std::nullopt);
    }
    if (turns[i].tool_call_ids.empty()) continue;
    std::set<std::string> open(turns[i].tool_call_ids.begin(), turns[i].tool_call_ids.end());
    size_t j = i + 1;
    for (; j < turns.size() && turns[j].role == "tool"; ++j) {
      if (!open.erase(turns[j].answers)) {
        return bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                   "message with 'tool_calls'.",
                   "messages.[" + std::to_string(j) + "].role", std::nullopt);
      }
    }
    if (!open.empty()) {
      std::string ids;
      for (const auto& id : open) ids += (ids.empty() ? "" : ", ") + id;
      return bad("An assistant message with 'tool_calls' must be followed by tool messages "
                 "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                 "response messages: " + ids,
                 "messages.[" + std::to_string(i) + "].role", std::nullopt);
    }
    i = j - 1;
  }
  return std::nullopt;
}

Error check_messages(const json& messages, ParsedCall& call, detail::PrefixHash& hash) {
  if (!messages.is_array()) {
    return bad("Invalid type for 'messages': expected an array of objects.", "messages", "invalid_type");
  }
  if (messages.empty()) {
    return bad("Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
               "an empty array instead.",
               "messages", "empty_array");
  }
  std::vector<ChatTurn> turns(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    if (auto e = check_message(messages[i], "messages[" + std::to_string(i) + "]", turns[i], call.size)) return e;
    hash.add(dump(messages[i]));
    call.cache_points.push_back({hash.value(), call.size});
  }
  if (auto e = check_tool_pairs(turns)) return e;
  for (const ChatTurn& t : turns) {
    if (t.role == "user") call.last_user_text = t.text;
  }
  if (turns.back().role == "user") call.final_user_text = turns.back().text;
  size_t first_tool = turns.size();  // the trailing run of tool messages
  while (first_tool > 0 && turns[first_tool - 1].role == "tool") --first_tool;
  for (size_t i = first_tool; i < turns.size(); ++i) {
    call.tool_results.push_back("tool result: " + turns[i].text);
  }
  return std::nullopt;
}

Error check_tools(const json& body, ParsedCall& call, detail::PrefixHash& hash) {
  auto tools = body.find("tools");
  if (tools == body.end() || tools->is_null()) return std::nullopt;
  if (!tools->is_array()) return bad_type("tools", "an array", *tools);
  if (tools->size() > kMaxTools) {
    return bad("Invalid 'tools': array too long. Expected an array with maximum length 128, but got "
               "an array with length " + std::to_string(tools->size()) + " instead.",
               "tools", "array_above_max_length");
  }
  for (size_t i = 0; i < tools->size(); ++i) {
    const json& t = (*tools)[i];
    const std::string at = "tools[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("type")) return missing(at + ".type");
    if (t["type"] != "function") {
      return bad("Invalid value: " + dump(t["type"]) + ". Supported values are: 'function'.", at + ".type");
    }
    if (!t.contains("function") || !t["function"].is_object()) return missing(at + ".function");
    const json& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string()) return missing(at + ".function.name");
    if (!detail::valid_tool_name(f["name"])) {
      return bad("Invalid '" + at + ".function.name': string does not match pattern. Expected a "
                 "string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.",
                 at + ".function.name");
    }
    if (f.contains("description") && !f["description"].is_string()) {
      return bad_type(at + ".function.description", "a string", f["description"]);
    }
    json params = f.value("parameters", json::object());
    if (!params.is_object()) return bad_type(at + ".function.parameters", "an object", params);
    call.tools.push_back({f["name"], params});
    detail::add_text(call.size, dump(f));
  }
  if (!call.tools.empty()) call.size.fixed_tokens += kToolsOverhead;
  hash.add(dump(*tools));
  return std::nullopt;
}

Error check_tool_choice(const json& body, ParsedCall& call) {
  for (const char* key : {"tool_choice", "parallel_tool_calls"}) {
    if (body.contains(key) && !body[key].is_null() && call.tools.empty()) {
      return bad(std::string("Invalid value for '") + key + "': '" + key +
                     "' is only allowed when 'tools' are specified.",
                 key, std::nullopt);
    }
  }
  if (auto p = body.find("parallel_tool_calls"); p != body.end() && !p->is_null()) {
    if (!p->is_boolean()) return bad_type("parallel_tool_calls", "a boolean", *p);
    call.parallel_tools = p->get<bool>();
  }
  auto choice = body.find("tool_choice");
  if (choice == body.end() || choice->is_null()) return std::nullopt;
  if (choice->is_string()) {
    if (*choice == "auto") call.tool_mode = ToolMode::kAuto;
    else if (*choice == "none") call.tool_mode = ToolMode::kNone;
    else if (*choice == "required") call.tool_mode = ToolMode::kAny;
    else return bad("Invalid value: " + dump(*choice) +
                    ". Supported values are: 'none', 'auto', and 'required'.", "tool_choice");
    return std::nullopt;
  }
  if (!choice->is_object() || choice->value("type", json()) != "function") return missing("tool_choice.type");
  auto f = choice->find("function");
  if (f == choice->end() || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) {
    return missing("tool_choice.function.name");
  }
  call.tool_mode = ToolMode::kTool;
  call.tool_name = (*f)["name"];
  const bool known = std::any_of(call.tools.begin(), call.tools.end(),
                                 [&](const ToolDef& t) { return t.name == call.tool_name; });
  if (!known) {
    return bad("Invalid value for 'tool_choice': function '" + call.tool_name + "' is not one of the 'tools'.",
               "tool_choice.function.name");
  }
  return std::nullopt;
}

Error check_sampling(const json& body, ParsedCall& call) {
  if (auto t = body.find("temperature"); t != body.end() && !t->is_null()) {
    if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 2) {
      return bad("Invalid 'temperature': decimal out of range. Expected a value between 0 and 2.",
                 "temperature", "decimal_above_max_value");
    }
  }
  if (auto p = body.find("top_p"); p != body.end() && !p->is_null()) {
    if (!p->is_number() || p->get<double>() < 0 || p->get<double>() > 1) {
      return bad("Invalid 'top_p': decimal out of range. Expected a value between 0 and 1.", "top_p",
                 "decimal_above_max_value");
    }
  }
  auto stop = body.find("stop");
  if (stop == body.end() || stop->is_null()) return std::nullopt;
  if (stop->is_string()) {
    call.stop_sequences.push_back(*stop);
    return std::nullopt;
  }
  if (!stop->is_array()) return bad_type("stop", "one of a string or array of strings", *stop);
  if (stop->size() > kMaxStop) {
    return bad("Invalid 'stop': array too long. Expected an array with maximum length 4, but got an "
               "array with length " + std::to_string(stop->size()) + " instead.",
               "stop", "array_above_max_length");
  }
  for (size_t i = 0; i < stop->size(); ++i) {
    if (!(*stop)[i].is_string()) return bad_type("stop[" + std::to_string(i) + "]", "a string", (*stop)[i]);
    call.stop_sequences.push_back((*stop)[i]);
  }
  return std::nullopt;
}

// stream, and stream_options only with a stream (as the service checks).
Error check_stream(const json& body, ParsedCall& call) {
  if (auto stream = body.find("stream"); stream != body.end() && !stream->is_null()) {
    if (!stream->is_boolean()) return bad_type("stream", "a boolean", *stream);
    call.stream = stream->get<bool>();
  }
  auto options = body.find("stream_options");
  if (options == body.end() || options->is_null()) return std::nullopt;
  if (!call.stream) {
    return bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
               "stream_options", std::nullopt);
  }
  if (!options->is_object()) return bad_type("stream_options", "an object", *options);
  auto usage = options->find("include_usage");
  if (usage == options->end() || usage->is_null()) return std::nullopt;
  if (!usage->is_boolean()) return bad_type("stream_options.include_usage", "a boolean", *usage);
  call.include_usage = usage->get<bool>();
  return std::nullopt;
}

Error check_body(const json& body, ParsedCall& call) {
  auto model = body.find("model");
  if (model == body.end() || !model->is_string()) {
    return openai_error(400, "you must provide a model parameter", "invalid_request_error");
  }
  call.model = model->get<std::string>();
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto m = body.find(key);
    if (m == body.end() || m->is_null()) continue;
    if (!m->is_number_integer() || m->get<int64_t>() < 1) {
      return bad(std::string("Invalid '") + key + "': integer below minimum value. Expected a value >= 1.",
                 key, "integer_below_min_value");
    }
    call.max_tokens = m->get<uint64_t>();
  }
  if (auto e = check_sampling(body, call)) return e;
  if (auto e = check_stream(body, call)) return e;
  detail::PrefixHash hash;
  hash.add(call.model);
  if (auto e = check_tools(body, call, hash)) return e;
  if (auto e = check_tool_choice(body, call)) return e;
  auto messages = body.find("messages");
  if (messages == body.end()) return missing("messages");
  return check_messages(*messages, call, hash);
}

// "sk-abc...wxyz" as OpenAI masks keys in its errors.
std::string mask_key(const std::string& key) {
  if (key.size() <= 8) return "****";
  return key.substr(0, 3) + std::string(key.size() - 7, '*') + key.substr(key.size() - 4);
}

}  // namespace

CheckResult check_openai(const httplib::Request& req, const std::string& required_key, bool no_auth) {
  std::string auth = req.get_header_value("Authorization");
  const std::string bearer = "Bearer ";
  const bool keyless = no_auth && auth.empty();
  if (!keyless && (auth.rfind(bearer, 0) != 0 || auth.size() == bearer.size())) {
    return openai_error(401,
                        "You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                        "YOUR_KEY), or as the password field (with blank username) if you're "
                        "accessing the API from your browser and are prompted for a username "
                        "and password. You can obtain an API key from "
                        "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error");
  }
  std::string key = keyless ? std::string() : auth.substr(bearer.size());
  if (!keyless && !required_key.empty() && key != required_key) {
    return openai_error(401,
                        "Incorrect API key provided: " + mask_key(key) +
                            ". You can find your API key at "
                            "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error", std::nullopt, "invalid_api_key");
  }
  auto body = detail::parse_body(req);
  if (!body) {
    return openai_error(400,
                        "We could not parse the JSON body of your request. (HINT: This likely "
                        "means you aren't using your HTTP library correctly. The OpenAI API "
                        "expects a JSON payload, but what was sent was not valid JSON.",
                        "invalid_request_error");
  }
  ParsedCall call;
  if (auto e = check_body(*body, call)) return *e;
  return call;
}

json openai_reply(const ReplySpec& s) {
  json message = {{"role", "assistant"},
                  {"content", s.text.empty() && !s.tool_calls.empty() ? json(nullptr) : json(s.text)}};
  if (!s.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& t : s.tool_calls) {
      calls.push_back({{"id", t.id},
                       {"type", "function"},
                       {"function", {{"name", t.name}, {"arguments", dump(t.input)}}}});
    }
    message["tool_calls"] = calls;
  }
  const std::string finish = openai_finish_reason(s.stop_reason);
  json j = {{"id", s.id},
            {"object", "chat.completion"},
            {"created", s.created_s},
            {"model", s.model},
            {"choices", json::array({{{"index", 0}, {"message", message}, {"finish_reason", finish}}})}};
  if (s.with_usage) j["usage"] = openai_usage(s);
  return j;
}

json openai_usage(const ReplySpec& s) {
  json usage = {{"prompt_tokens", s.input_tokens},
                {"completion_tokens", s.output_tokens},
                {"total_tokens", s.input_tokens + s.output_tokens}};
  // Only when a prefix was cached, so text-only replies keep their exact shape.
  if (s.cached_tokens > 0) usage["prompt_tokens_details"] = {{"cached_tokens", s.cached_tokens}};
  return usage;
}

std::string openai_finish_reason(const std::string& stop_reason) {
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "max_tokens") return "length";
  return "stop";
}

}  // namespace tollgate::fake_provider
