// The fake provider's streams, as pure functions: the events of a reply in
// each API's wire format, the pieces of text and JSON, the output count
// each event carries, and the stream fault keys.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tools/fake-provider/fake_stream.h"
#include "tools/fake-provider/fault_script.h"

using nlohmann::json;
using namespace tollgate::fake_provider;

namespace {

ReplySpec text_reply() {
  // Strings built whole: g++ 12 warns (-Wrestrict) on assigning literals here.
  ReplySpec s;
  s.id = std::string("msg_1");
  s.model = std::string("m");
  s.text = std::string("echo: hello there world");
  s.input_tokens = 10;
  s.output_tokens = 9;
  return s;
}

ReplySpec tool_reply() {
  ReplySpec s = text_reply();
  s.text = std::string("calling get_weather");
  s.tool_calls = {{"toolu_a", "get_weather", {{"city", "Zürich"}}}};
  s.stop_reason = "tool_use";
  return s;
}

// Each event as {event name, data}; checks every event ends with its blank line.
std::vector<std::pair<std::string, std::string>> split_events(
    const std::vector<WireEvent>& events) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const WireEvent& e : events) {
    REQUIRE(e.bytes.size() > 2);
    REQUIRE(e.bytes.substr(e.bytes.size() - 2) == "\n\n");
    std::string name;
    std::string rest = e.bytes.substr(0, e.bytes.size() - 2);
    if (rest.rfind("event: ", 0) == 0) {
      const size_t nl = rest.find('\n');
      name = rest.substr(7, nl - 7);
      rest = rest.substr(nl + 1);
    }
    REQUIRE(rest.rfind("data: ", 0) == 0);
    REQUIRE(rest.find('\n') == std::string::npos);
    out.emplace_back(name, rest.substr(6));
  }
  return out;
}

std::vector<std::string> names(const std::vector<WireEvent>& events) {
  std::vector<std::string> out;
  for (const auto& [name, data] : split_events(events)) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("text pieces are words with their leading space and join to the text") {
  CHECK(text_pieces("echo: hi  there") == std::vector<std::string>{"echo:", " hi", " ", " there"});
  CHECK(text_pieces("").empty());
  const std::string long_word(150, 'x');
  CHECK(text_pieces(long_word) ==
        std::vector<std::string>{std::string(64, 'x'), std::string(64, 'x'), std::string(22, 'x')});
}

TEST_CASE("pieces never split a utf8 character") {
  std::string cjk;
  for (int i = 0; i < 30; ++i) cjk += "\xe6\xbc\xa2";  // 90 bytes, no space
  const auto text = text_pieces(cjk);
  REQUIRE(text.size() == 2);
  CHECK(text[0].size() == 63);
  const auto pieces = json_pieces("{\"a\":\"\xe6\xbc\xa2\xe5\xad\x97\"}");
  std::string joined;
  for (const auto& p : pieces) {
    CHECK(p.size() <= 8);
    CHECK_FALSE(p.empty());
    CHECK((static_cast<unsigned char>(p[0]) & 0xC0) != 0x80);
    joined += p;
  }
  CHECK(joined == "{\"a\":\"\xe6\xbc\xa2\xe5\xad\x97\"}");
}

TEST_CASE("an anthropic text stream has the documented events in order") {
  const auto events = anthropic_stream(text_reply());
  CHECK(names(events) == std::vector<std::string>{
                             "message_start", "content_block_start", "ping", "content_block_delta",
                             "content_block_delta", "content_block_delta", "content_block_delta",
                             "content_block_stop", "message_delta", "message_stop"});
  const auto split = split_events(events);
  const json start = json::parse(split[0].second);
  CHECK(start["message"]["usage"] == json{{"input_tokens", 10}, {"output_tokens", 1}});
  CHECK(start["message"]["content"] == json::array());
  CHECK(start["message"]["id"] == "msg_1");
  CHECK(json::parse(split[3].second)["delta"] == json{{"type", "text_delta"}, {"text", "echo:"}});
  CHECK(json::parse(split[8].second) ==
        json{{"type", "message_delta"},
             {"delta", {{"stop_reason", "end_turn"}, {"stop_sequence", nullptr}}},
             {"usage", {{"output_tokens", 9}}}});
}

TEST_CASE("an anthropic stream reports cache counts at its start only when they are not zero") {
  ReplySpec s = text_reply();
  s.cache_read_input_tokens = 1024;
  const json start = json::parse(split_events(anthropic_stream(s))[0].second);
  CHECK(start["message"]["usage"] ==
        json{{"input_tokens", 10}, {"cache_read_input_tokens", 1024}, {"output_tokens", 1}});
}

TEST_CASE("an anthropic tool use block starts with an empty input and sends its json in pieces") {
  const auto split = split_events(anthropic_stream(tool_reply()));
  std::string input;
  bool started = false;
  for (const auto& [name, data] : split) {
    const json j = json::parse(data);
    if (name == "content_block_start" && j["index"] == 1) {
      CHECK(j["content_block"] == json{{"type", "tool_use"},
                                       {"id", "toolu_a"},
                                       {"name", "get_weather"},
                                       {"input", json::object()}});
      started = true;
    }
    if (name == "content_block_delta" && j["index"] == 1)
      input += j["delta"]["partial_json"].get<std::string>();
  }
  CHECK(started);
  CHECK(json::parse(input) == json{{"city", "Zürich"}});
}

TEST_CASE("an anthropic stream without usage leaves the usage out of message_delta") {
  ReplySpec s = text_reply();
  s.with_usage = false;
  const auto split = split_events(anthropic_stream(s));
  CHECK_FALSE(json::parse(split[split.size() - 2].second).contains("usage"));
}

TEST_CASE("an empty anthropic reply streams no block and still pings") {
  ReplySpec s = text_reply();
  s.text.clear();
  CHECK(names(anthropic_stream(s)) ==
        std::vector<std::string>{"message_start", "ping", "message_delta", "message_stop"});
}

TEST_CASE("openai chunks carry usage null and end with the usage chunk when usage is included") {
  const auto split = split_events(openai_stream(text_reply(), true));
  REQUIRE(split.size() == 8);  // role, 4 words, finish, usage, done
  for (size_t i = 0; i + 2 < split.size(); ++i) {
    const json j = json::parse(split[i].second);
    CHECK(j["object"] == "chat.completion.chunk");
    CHECK(j.contains("usage"));
    CHECK(j["usage"].is_null());
  }
  CHECK(json::parse(split[0].second)["choices"][0]["delta"] ==
        json{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}});
  CHECK(json::parse(split[5].second)["choices"][0]["finish_reason"] == "stop");
  const json usage = json::parse(split[6].second);
  CHECK(usage["choices"] == json::array());
  CHECK(usage["usage"] ==
        json{{"prompt_tokens", 10}, {"completion_tokens", 9}, {"total_tokens", 19}});
  CHECK(split[7].second == "[DONE]");
}

TEST_CASE("openai chunks have no usage key and no usage chunk unless usage is included") {
  const auto split = split_events(openai_stream(text_reply(), false));
  REQUIRE(split.size() == 7);
  for (size_t i = 0; i + 1 < split.size(); ++i)
    CHECK_FALSE(json::parse(split[i].second).contains("usage"));
  ReplySpec s = text_reply();
  s.with_usage = false;
  CHECK(split_events(openai_stream(s, true)).size() == 7);
}

TEST_CASE("an openai tool call starts with its id and name and sends its arguments in pieces") {
  const auto split = split_events(openai_stream(tool_reply(), true));
  std::string arguments;
  int firsts = 0;
  for (const auto& [name, data] : split) {
    if (data == "[DONE]") continue;
    const json j = json::parse(data);
    if (j["choices"].empty() || !j["choices"][0]["delta"].contains("tool_calls")) continue;
    const json call = j["choices"][0]["delta"]["tool_calls"][0];
    CHECK(call["index"] == 0);
    if (call.contains("id")) {
      ++firsts;
      CHECK(call == json{{"index", 0},
                         {"id", "toolu_a"},
                         {"type", "function"},
                         {"function", {{"name", "get_weather"}, {"arguments", ""}}}});
    }
    arguments += call["function"]["arguments"].get<std::string>();
  }
  CHECK(firsts == 1);
  CHECK(json::parse(arguments) == json{{"city", "Zürich"}});
  CHECK(json::parse(split[split.size() - 3].second)["choices"][0]["finish_reason"] == "tool_calls");
}

TEST_CASE("events carry the output tokens generated up to them") {
  ReplySpec s = text_reply();  // 4 text deltas
  s.output_tokens = 10;
  std::vector<uint64_t> counts;
  for (const WireEvent& e : anthropic_stream(s)) counts.push_back(e.output_tokens);
  CHECK(counts == std::vector<uint64_t>{0, 0, 0, 3, 5, 8, 10, 10, 10, 10});
}

TEST_CASE("the mid stream errors have each api's shape") {
  CHECK(stream_error_event("anthropic") ==
        "event: error\ndata: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\"},"
        "\"type\":\"error\"}\n\n");
  const json openai = json::parse(stream_error_event("openai").substr(6));
  CHECK(openai["error"]["type"] == "server_error");
  CHECK(openai["error"]["code"].is_null());
}

TEST_CASE("stream fault keys parse from the command line and json and fire on streams only") {
  std::string error;
  auto f = parse_fault("anthropic:stream_cut_after=3:split=2:event_delay_ms=5", error);
  REQUIRE(f);
  CHECK(f->stream_cut_after == 3u);
  CHECK(f->split == 2u);
  CHECK(f->event_delay_ms == 5);
  CHECK(f->to_json() ==
        json{{"api", "anthropic"}, {"stream_cut_after", 3}, {"split", 2}, {"event_delay_ms", 5}});
  auto list =
      parse_faults(json::parse(R"([{"api": "openai", "stream_stall_after": 2, "stall_ms": 100},
                                             "openai:stream_error_after=0"])"),
                   error);
  REQUIRE(list);
  CHECK((*list)[0].stream_stall_after == 2u);
  CHECK((*list)[1].stream_error_after == 0u);
  CHECK_FALSE(parse_fault("openai:split=0", error));
  CHECK_FALSE(parse_fault("openai:stream_stall_after=2", error));
  CHECK(error == "fault keys 'stream_stall_after' and 'stall_ms' go together");
  CHECK_FALSE(parse_fault("openai:stall_ms=10", error));

  FaultScript script;
  script.replace({*f});
  CHECK_FALSE(script.next("anthropic", false));
  CHECK(script.next("anthropic", true));
}
