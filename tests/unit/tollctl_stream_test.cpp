// `tollctl call --stream`'s printing (tools/tollctl/render.h, render_stream.cpp):
// the parts of a streamed call as they arrive, then the summary of its reply
// or its error, each checked on the exact text written.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "tools/tollctl/render.h"

using nlohmann::json;
using tollgate::tools::is_stream_part;
using tollgate::tools::render_part;
using tollgate::tools::render_stream_error;
using tollgate::tools::render_stream_reply;
using tollgate::tools::StreamOutput;

namespace {

json part(uint64_t n, json chunk) {
  return {{"v", 1}, {"id", "tollctl-1-1"}, {"ok", true}, {"part", n}, {"chunk", std::move(chunk)}};
}

json text(uint64_t index, const std::string& t) {
  return {{"type", "text_delta"}, {"index", index}, {"text", t}};
}

json final_reply(const std::string& text_value) {
  return {{"v", 1}, {"id", "tollctl-1-1"}, {"ok", true}, {"text", text_value},
          {"provider", "anthropic"}, {"model", "claude-test"}, {"reason", "primary"},
          {"usage", {{"input_tokens", 10}, {"output_tokens", 5}, {"total_tokens", 15}}},
          {"cost_usd", 0.25}, {"stop_reason", "end_turn"},
          {"content", {{{"type", "text"}, {"text", text_value}}}}};
}

// Prints `parts` in order; returns what they wrote.
std::string print_parts(const std::vector<json>& parts, StreamOutput& state) {
  std::ostringstream out;
  for (const auto& p : parts) render_part(p, state, out);
  return out.str();
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Counts flushes (std::ostream::flush calls sync).
struct CountingBuf : std::stringbuf {
  int syncs = 0;
  int sync() override {
    ++syncs;
    return std::stringbuf::sync();
  }
};

}  // namespace

TEST_CASE("streamed text prints as it arrives and the reply adds only its summary") {
  StreamOutput state;
  CHECK(print_parts({part(1, text(0, "Hel")), part(2, text(0, "lo, ")), part(3, text(0, "world"))},
                    state) == "Hello, world");
  CHECK(state.parts == 3);
  CHECK(state.line_open);
  std::ostringstream out;
  std::ostringstream info;
  render_stream_reply(final_reply("Hello, world"), state, out, info);
  CHECK(out.str() == "\n");  // the open line is ended; the text is not printed twice
  INFO(info.str());
  CHECK(has(info.str(), "provider anthropic  model claude-test  reason primary"));
  CHECK(has(info.str(), "tokens 10 in + 5 out = 15"));
  CHECK(has(info.str(), "cost $0.2500"));
  CHECK(has(info.str(), "stop end_turn"));
}

TEST_CASE("each part is flushed as soon as it is printed") {
  CountingBuf buf;
  std::ostream out(&buf);
  StreamOutput state;
  render_part(part(1, text(0, "a")), state, out);
  CHECK(buf.syncs == 1);
  render_part(part(2, text(0, "b")), state, out);
  CHECK(buf.syncs == 2);
  CHECK(buf.str() == "ab");
}

TEST_CASE("a tool call in a stream prints its start line and its input pieces raw") {
  StreamOutput state;
  const std::string printed = print_parts(
      {part(1, text(0, "Checking.")),
       part(2, {{"type", "tool_use_start"}, {"index", 1}, {"id", "toolu_1"}, {"name", "get_weather"}}),
       part(3, {{"type", "input_json_delta"}, {"index", 1}, {"partial_json", "{\"city\":"}}),
       part(4, {{"type", "input_json_delta"}, {"index", 1}, {"partial_json", " \"Paris\"}"}}),
       part(5, {{"type", "tool_use_start"}, {"index", 2}, {"id", "toolu_2"}, {"name", "get_time"}}),
       part(6, {{"type", "input_json_delta"}, {"index", 2}, {"partial_json", "{}"}}),
       part(7, text(3, "Done."))},
      state);
  CHECK(printed ==
        "Checking.\n"
        "[tool_use get_weather id=toolu_1]\n"
        "{\"city\": \"Paris\"}\n"
        "[tool_use get_time id=toolu_2]\n"
        "{}\n"
        "Done.");
  std::ostringstream out;
  std::ostringstream info;
  json reply = final_reply("Checking.Done.");
  reply["stop_reason"] = "tool_use";
  render_stream_reply(reply, state, out, info);
  CHECK(out.str() == "\n");
  CHECK(has(info.str(), "stop tool_use"));
}

TEST_CASE("a text ending its own line leaves no empty line before the summary") {
  StreamOutput state;
  CHECK(print_parts({part(1, text(0, "one\n")), part(2, text(0, "two\n"))}, state) == "one\ntwo\n");
  CHECK_FALSE(state.line_open);
  std::ostringstream out;
  std::ostringstream info;
  render_stream_reply(final_reply("one\ntwo\n"), state, out, info);
  CHECK(out.str().empty());
}

TEST_CASE("a streamed call answered without parts prints its whole reply as call does") {
  // A repeat of an idempotent call gets the stored reply, with no parts.
  StreamOutput state;
  json reply = final_reply("stored answer");
  reply["replayed"] = true;
  std::ostringstream out;
  std::ostringstream info;
  render_stream_reply(reply, state, out, info);
  std::ostringstream call_out;
  std::ostringstream call_info;
  tollgate::tools::render_call(reply, call_out, call_info);
  CHECK(out.str() == "stored answer\n");
  CHECK(out.str() == call_out.str());
  CHECK(info.str() == call_info.str());
  CHECK(has(info.str(), "(replayed)"));
}

TEST_CASE("a partial error after parts ends the line and says the reply was partial") {
  StreamOutput state;
  CHECK(print_parts({part(1, text(0, "The first")), part(2, text(0, " half"))}, state) ==
        "The first half");
  const json error = {{"v", 1}, {"id", "tollctl-1-1"}, {"ok", false}, {"partial", true},
                      {"error", {{"code", "provider_error"},
                                 {"message", "anthropic: connection cut"},
                                 {"partial", true}}}};
  std::ostringstream out;
  std::ostringstream err;
  render_stream_error(error, state, out, err);
  CHECK(out.str() == "\n");
  CHECK(err.str() ==
        "tollctl: provider_error: anthropic: connection cut\n"
        "tollctl: the reply was partial: the 2 parts printed above are all that came\n");
  // Either level of `partial` is enough.
  json inner_only = error;
  inner_only.erase("partial");
  StreamOutput one;
  one.parts = 1;
  std::ostringstream out2;
  std::ostringstream err2;
  render_stream_error(inner_only, one, out2, err2);
  CHECK(has(err2.str(), "the part printed above is all that came"));
}

TEST_CASE("an error that is not partial prints only the error") {
  StreamOutput state;
  const json cancelled = {{"v", 1}, {"id", "x"}, {"ok", false},
                          {"error", {{"code", "cancelled"}, {"message", "cancelled by request c-2"}}}};
  std::ostringstream out;
  std::ostringstream err;
  render_stream_error(cancelled, state, out, err);
  CHECK(out.str().empty());
  CHECK(err.str() == "tollctl: cancelled: cancelled by request c-2\n");
}

TEST_CASE("only messages with ok and a chunk map are parts") {
  CHECK(is_stream_part(part(1, text(0, "a"))));
  CHECK_FALSE(is_stream_part(final_reply("a")));
  CHECK_FALSE(is_stream_part({{"ok", false}, {"chunk", text(0, "a")}}));
  CHECK_FALSE(is_stream_part({{"ok", "true"}, {"chunk", text(0, "a")}}));
  CHECK_FALSE(is_stream_part({{"ok", true}, {"chunk", nullptr}}));
  CHECK_FALSE(is_stream_part(json::array()));
}

TEST_CASE("unknown chunk types and mistyped fields print nothing and never throw") {
  StreamOutput state;
  std::string printed;
  CHECK_NOTHROW(printed = print_parts(
                    {part(1, {{"type", "thinking_delta"}, {"index", 0}, {"thinking", "hmm"}}),
                     part(2, {{"type", "text_delta"}, {"index", "zero"}, {"text", 5}}),
                     part(3, {{"type", 7}}), part(4, json::array()),
                     part(5, {{"type", "tool_use_start"}, {"index", 1}})},
                    state));
  CHECK(printed == "[tool_use - id=-]\n");
  CHECK(state.parts == 5);
}
