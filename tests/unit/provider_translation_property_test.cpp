// Property tests: random valid neutral conversations and replies (fixed
// seeds, so a failure reproduces) survive translation to each provider
// format and back: unchanged through Anthropic, and through OpenAI up to the
// normalisations docs/providers.md lists (expected_after_openai below).
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "protocol/anthropic_format.h"
#include "protocol/openai_format.h"

using namespace tollgate::protocol;
using Type = ContentBlock::Type;

namespace {

constexpr uint32_t kCases = 400;

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  ChatParts conversation() {
    ChatParts parts;
    parts.model = pick({"claude-sonnet-4-5", "gpt-4.1", "llama3"});
    add_system(parts);
    for (int i = 0, n = below(4); i < n; ++i) parts.tools.push_back(tool(i));
    if (chance(2)) parts.tool_choice = tool_choice(parts.tools);
    for (int i = 0, n = below(4); i < n; ++i) parts.stop_sequences.push_back(text());
    if (chance(2)) parts.top_p = below(101) / 100.0;
    if (chance(2)) parts.temperature = below(201) / 100.0;
    if (chance(2)) parts.max_tokens = 1 + below(4096);
    std::vector<std::string> pending;  // tool_use ids the next user turn answers
    for (int turn = 0, n = 1 + below(8); turn < n; ++turn) {
      parts.messages.push_back(turn % 2 == 0 ? user_turn(pending) : assistant_turn(pending));
    }
    return parts;
  }

  ChatReply reply() {
    ChatReply r;
    r.id = "msg_" + std::to_string(below(100000));
    r.model = pick({"claude-sonnet-4-5", "gpt-4.1"});
    for (int i = 0, n = below(5); i < n; ++i) {
      r.content.push_back(chance(2) ? ContentBlock::make_text(text()) : tool_use());
    }
    if (chance(4)) r.stop_reason = static_cast<StopReason>(below(5));
    if (chance(4)) {
      TokenUsage u;
      if (chance(2)) u.cache_creation_input_tokens = below(1000);
      if (chance(2)) u.cache_read_input_tokens = below(1000);
      u.input_tokens = u.cache_creation_input_tokens.value_or(0) +
                       u.cache_read_input_tokens.value_or(0) + below(1000);
      u.output_tokens = below(1000);
      u.total_tokens = u.input_tokens + u.output_tokens;
      r.usage = u;
    }
    return r;
  }

 private:
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int one_in) { return below(one_in) == 0; }
  std::string pick(std::initializer_list<const char*> options) {
    return *(options.begin() + below(static_cast<int>(options.size())));
  }

  std::string text() {
    static const char* const kPieces[] = {"hello", " ", "wörld", "\n", "\"quoted\"", "{\"json\":1}",
                                          "日本語", "\\", "tab\t", "", "😀", "END"};
    std::string s;
    for (int i = 0, n = below(5); i < n; ++i) s += kPieces[below(12)];
    return s;
  }

  std::string id() {
    static const char* const kPrefixes[] = {"toolu_01", "call_", "chatcmpl-tool-"};
    return kPrefixes[below(3)] + std::to_string(next_id_++) + std::to_string(below(1000000));
  }

  JsonValue value(int depth) {
    switch (depth > 2 ? below(4) : below(6)) {
      case 0: return text();
      case 1: return below(2000000) - 1000000;
      case 2: return chance(2);
      case 3: return nullptr;
      case 4: return object(depth + 1);
      default: {
        JsonValue a = JsonValue::array();
        for (int i = 0, n = below(4); i < n; ++i) a.push_back(value(depth + 1));
        return a;
      }
    }
  }

  JsonValue object(int depth) {
    JsonValue o = JsonValue::object();
    for (int i = 0, n = below(5); i < n; ++i) {
      std::string key = "k";
      key += std::to_string(below(50));
      key += text();
      o[key] = value(depth);
    }
    return o;
  }

  JsonValue cache_control() {
    return chance(3) ? JsonValue::parse(R"({"type":"ephemeral"})") : JsonValue();
  }

  void add_system(ChatParts& parts) {
    switch (below(3)) {
      case 0: return;
      case 1: parts.system = text(); return;
      default:
        for (int i = 0, n = 1 + below(3); i < n; ++i) {
          parts.system_blocks.push_back(ContentBlock::make_text(text()));
          parts.system_blocks.back().cache_control = cache_control();
        }
    }
  }

  ToolSpec tool(int i) {
    ToolSpec t;
    t.name = "tool_" + std::to_string(i);
    if (chance(2)) t.description = text();
    t.input_schema = JsonValue::parse(R"({"type":"object"})");
    t.input_schema["properties"] = object(1);
    t.cache_control = cache_control();
    return t;
  }

  ToolChoice tool_choice(const std::vector<ToolSpec>& tools) {
    ToolChoice c;
    c.type = static_cast<ToolChoice::Type>(below(4));
    if (c.type == ToolChoice::Type::kTool) c.name = tools.empty() ? "any_tool" : tools[0].name;
    return c;
  }

  ContentBlock image() {
    ContentBlock b;
    b.type = Type::kImage;
    if (chance(2)) {
      b.image.kind = ImageSource::Kind::kUrl;
      b.image.url = "https://example.com/" + std::to_string(below(1000)) + ".png";
    } else {
      b.image.media_type = pick({"image/png", "image/jpeg", "image/gif", "image/webp"});
      b.image.data = pick({"iVBORw0KGgo=", "/9j/4AAQ", "R0lGODlh"});
    }
    b.cache_control = cache_control();
    return b;
  }

  ContentBlock tool_use() {
    ContentBlock b;
    b.type = Type::kToolUse;
    b.id = id();
    b.name = "tool_" + std::to_string(below(4));
    if (chance(8)) {
      // Arguments a model sent that were not a JSON object.
      b.input = JsonValue::object();
      b.input[kRawArgumentsKey] = pick({"not json", "[1,2]", "\"s\"", "{\"cut\":"});
    } else {
      b.input = object(1);
    }
    return b;
  }

  ContentBlock tool_result(const std::string& for_id) {
    ContentBlock b;
    b.type = Type::kToolResult;
    b.tool_use_id = for_id;
    b.is_error = chance(4);
    if (chance(2)) {
      b.content = {ContentBlock::make_text(text())};
      b.content_is_string = true;
    } else {
      for (int i = 0, n = below(3); i < n; ++i) {
        b.content.push_back(ContentBlock::make_text(text()));
        b.content.back().cache_control = cache_control();
      }
    }
    b.cache_control = cache_control();
    return b;
  }

  ChatMessage user_turn(std::vector<std::string>& pending) {
    ChatMessage m;
    m.role = "user";
    for (const auto& id : pending) m.blocks.push_back(tool_result(id));
    const bool had_results = !pending.empty();
    pending.clear();
    if (!had_results && chance(2)) {
      m.content = text();
      return m;
    }
    for (int i = 0, n = (had_results ? 0 : 1) + below(3); i < n; ++i) {
      if (chance(3)) {
        m.blocks.push_back(image());
      } else {
        m.blocks.push_back(ContentBlock::make_text(text()));
        m.blocks.back().cache_control = cache_control();
      }
    }
    return m;
  }

  ChatMessage assistant_turn(std::vector<std::string>& pending) {
    ChatMessage m;
    m.role = "assistant";
    if (chance(3)) {
      m.content = text();
      return m;
    }
    for (int i = 0, n = below(3); i < n; ++i) m.blocks.push_back(ContentBlock::make_text(text()));
    for (int i = 0, n = (m.blocks.empty() ? 1 : 0) + below(3); i < n; ++i) {
      m.blocks.push_back(tool_use());
      pending.push_back(m.blocks.back().id);
    }
    return m;
  }

  std::mt19937 rng_;
  int next_id_ = 0;
};

void drop_cache_control(std::vector<ContentBlock>& blocks) {
  for (auto& b : blocks) {
    b.cache_control = nullptr;
    drop_cache_control(b.content);
  }
}

// What a neutral conversation reads back as after OpenAI (docs/providers.md).
ChatParts expected_after_openai(ChatParts p) {
  if (!p.system_blocks.empty()) {
    std::string system;
    for (size_t i = 0; i < p.system_blocks.size(); ++i) system += (i ? "\n\n" : "") + p.system_blocks[i].text;
    p.system = system;
    p.system_blocks.clear();
  }
  for (auto& t : p.tools) t.cache_control = nullptr;
  if (p.temperature) p.temperature = std::clamp(*p.temperature, 0.0, 2.0);
  for (auto& m : p.messages) {
    if (!m.has_blocks()) continue;
    drop_cache_control(m.blocks);
    std::vector<ContentBlock> results, rest;
    for (auto& b : m.blocks) {
      if (b.type == Type::kToolResult) {
        b.is_error = false;
        if (b.content.empty()) b.content_is_string = true, b.content = {ContentBlock::make_text("")};
        results.push_back(b);
      } else if (b.type == Type::kToolUse) {
        rest.push_back(b);
      } else if (m.role == "user") {
        rest.push_back(b);
      }
    }
    if (m.role == "assistant") {
      const std::string text = joined_text(m.blocks);
      m.blocks.clear();
      if (rest.empty()) {
        m.content = text;
        continue;
      }
      if (!text.empty()) m.blocks.push_back(ContentBlock::make_text(text));
      m.blocks.insert(m.blocks.end(), rest.begin(), rest.end());
    } else {
      m.blocks = results;
      m.blocks.insert(m.blocks.end(), rest.begin(), rest.end());
    }
  }
  return p;
}

ChatReply expected_after_openai(ChatReply r) {
  std::vector<ContentBlock> blocks;
  const std::string text = joined_text(r.content);
  if (!text.empty()) blocks.push_back(ContentBlock::make_text(text));
  for (const auto& b : r.content) {
    if (b.type == Type::kToolUse) blocks.push_back(b);
  }
  r.content = blocks;
  if (r.stop_reason == StopReason::kStopSequence) r.stop_reason = StopReason::kEndTurn;
  if (r.usage) r.usage->cache_creation_input_tokens.reset();
  return r;
}

// Where two conversations first differ, for a failure message (the
// Anthropic dump of both does not show content_is_string or is_error).
std::string first_difference(const ChatParts& a, const ChatParts& e) {
  if (a.system != e.system || a.system_blocks != e.system_blocks) return "system";
  if (a.tools != e.tools || a.tool_choice != e.tool_choice) return "tools";
  if (a.messages.size() != e.messages.size()) return "number of messages";
  for (size_t i = 0; i < a.messages.size(); ++i) {
    const auto& x = a.messages[i];
    const auto& y = e.messages[i];
    if (x.content != y.content || x.blocks.size() != y.blocks.size()) return "messages[" + std::to_string(i) + "]";
    for (size_t j = 0; j < x.blocks.size(); ++j) {
      const auto& b = x.blocks[j];
      const auto& c = y.blocks[j];
      if (b == c) continue;
      return "messages[" + std::to_string(i) + "].content[" + std::to_string(j) + "]: content_is_string " +
             std::to_string(b.content_is_string) + "/" + std::to_string(c.content_is_string) + " is_error " +
             std::to_string(b.is_error) + "/" + std::to_string(c.is_error) + " input " + b.input.dump() +
             "/" + c.input.dump();
    }
  }
  return "model, max_tokens, temperature, top_p or stop_sequences";
}

}  // namespace

TEST_CASE("random neutral conversations survive anthropic and back unchanged") {
  for (uint32_t seed = 1; seed <= kCases; ++seed) {
    INFO("seed " << seed);
    const ChatParts parts = Generator(seed).conversation();
    auto back = parse_anthropic_request(JsonValue::parse(anthropic_request(parts).dump()));
    REQUIRE(back.ok());
    ChatParts expected = parts;
    if (expected.temperature) expected.temperature = std::min(*expected.temperature, 1.0);
    REQUIRE(back.value() == expected);
  }
}

TEST_CASE("random neutral conversations survive openai and back up to the documented normalisations") {
  for (uint32_t seed = 1; seed <= kCases; ++seed) {
    INFO("seed " << seed);
    const ChatParts parts = Generator(seed).conversation();
    const JsonValue body = JsonValue::parse(openai_request(parts).dump());
    auto back = parse_openai_request(body);
    REQUIRE(back.ok());
    const ChatParts expected = expected_after_openai(parts);
    if (!(back.value() == expected)) {
      FAIL(first_difference(back.value(), expected) << "\nread back "
           << anthropic_request(back.value()).dump() << "\nexpected " << anthropic_request(expected).dump());
    }
    // Sending what came back gives the same request: the normalisations are all there is.
    REQUIRE(openai_request(back.value()) == body);
  }
}

TEST_CASE("random replies survive both reply formats and back") {
  for (uint32_t seed = 1; seed <= kCases; ++seed) {
    INFO("seed " << seed);
    const ChatReply reply = Generator(seed).reply();
    auto anthropic = parse_anthropic_response(JsonValue::parse(anthropic_response(reply).dump()));
    REQUIRE(anthropic.ok());
    REQUIRE(anthropic.value() == reply);
    auto openai = parse_openai_response(JsonValue::parse(openai_response(reply, 1700000000).dump()));
    REQUIRE(openai.ok());
    REQUIRE(openai.value() == expected_after_openai(reply));
  }
}

TEST_CASE("the generator makes every block kind and tool arguments that are not objects") {
  int counts[4] = {0, 0, 0, 0};
  int raw = 0;
  for (uint32_t seed = 1; seed <= kCases; ++seed) {
    for (const auto& m : Generator(seed).conversation().messages) {
      for (const auto& b : m.blocks) {
        ++counts[static_cast<int>(b.type)];
        if (b.type == Type::kToolUse && b.input.contains(kRawArgumentsKey)) ++raw;
      }
    }
  }
  for (int count : counts) CHECK(count > 50);
  CHECK(raw > 5);
}
