// The fake provider's pure parts: image headers and token formulas, tool
// markers, inputs built from schemas, tool plans, stop sequences.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tests/integration/test_images.h"
#include "tools/fake-provider/fake_tools.h"
#include "tools/fake-provider/image_tokens.h"

using nlohmann::json;
using namespace tollgate::fake_provider;
using namespace tollgate::testing;

TEST_CASE("base64 decodes with or without padding and refuses other characters") {
  for (const std::string& bytes : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x80", 3)}) {
    auto decoded = decode_base64(base64(bytes));
    REQUIRE(decoded);
    CHECK(*decoded == bytes);
  }
  CHECK(decode_base64("YWI") == "ab");
  CHECK_FALSE(decode_base64("YW I="));
  CHECK_FALSE(decode_base64("Y"));
  CHECK_FALSE(decode_base64("YWI=YWI="));
}

TEST_CASE("the image size is read from png jpeg gif and webp headers") {
  auto png = read_image_info(png_header(640, 480));
  REQUIRE(png);
  CHECK(png->media_type == "image/png");
  CHECK((png->width == 640 && png->height == 480));
  auto jpeg = read_image_info(jpeg_header(3000, 2000));
  REQUIRE(jpeg);
  CHECK(jpeg->media_type == "image/jpeg");
  CHECK((jpeg->width == 3000 && jpeg->height == 2000));
  auto gif = read_image_info(gif_header(12, 34));
  REQUIRE(gif);
  CHECK((gif->media_type == "image/gif" && gif->width == 12 && gif->height == 34));
  auto webp = read_image_info(webp_header(5000, 70000));
  REQUIRE(webp);
  CHECK((webp->media_type == "image/webp" && webp->width == 5000 && webp->height == 70000));
}

TEST_CASE("lossy and lossless webp headers give their size") {
  const std::string lossy = "RIFF" + le32(22) + "WEBPVP8 " + le32(10) + std::string("\0\0\0\x9d\x01\x2a", 6) +
                            le16(320) + le16(200);
  auto a = read_image_info(lossy);
  REQUIRE(a);
  CHECK((a->width == 320 && a->height == 200));
  const uint32_t bits = (99u) | (49u << 14);  // 100 x 50
  const std::string lossless = "RIFF" + le32(22) + "WEBPVP8L" + le32(10) + "\x2f" + le32(bits) + std::string(5, '\0');
  auto b = read_image_info(lossless);
  REQUIRE(b);
  CHECK((b->width == 100 && b->height == 50));
}

TEST_CASE("bytes that are no image or too short to hold a size give no image") {
  CHECK_FALSE(read_image_info("hello world"));
  CHECK_FALSE(read_image_info(png_header(10, 10).substr(0, 20)));
  CHECK_FALSE(read_image_info(png_header(0, 10)));
  CHECK_FALSE(read_image_info(jpeg_header(10, 10).substr(0, 24)));
  CHECK_FALSE(read_image_info(std::string("\xff\xd8\xff\xd9", 4)));
  CHECK_FALSE(read_image_info("RIFF" + le32(4) + "WAVEfmt "));
}

TEST_CASE("anthropic image tokens scale the long edge to 1568 px then divide the pixels by 750") {
  CHECK(anthropic_image_tokens(1000, 500) == 667);
  CHECK(anthropic_image_tokens(750, 1) == 1);
  CHECK(anthropic_image_tokens(1568, 1568) == 3279);
  CHECK(anthropic_image_tokens(3136, 3136) == 3279);
  CHECK(anthropic_image_tokens(1568, 3136) == 1640);
}

TEST_CASE("openai image tokens fit 2048 px then 768 px on the short side and count 512 px tiles") {
  CHECK(openai_image_tokens(1024, 1024) == 765);
  CHECK(openai_image_tokens(2048, 4096) == 1105);
  CHECK(openai_image_tokens(4096, 8192) == 1105);
  CHECK(openai_image_tokens(512, 512) == 255);
  CHECK(openai_image_tokens(100, 100) == 255);
  CHECK(openai_image_tokens(2048, 700) == 85 + 170 * 8);
}

TEST_CASE("call_tool markers give a call each with the json input when there is one") {
  auto calls = find_tool_markers(
      "do [call_tool a] then [call_tool  b {\"x\": \"}]\", \"n\": [1]}] and [call_tool c {not json}] [call_tool ]");
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].name == "a");
  CHECK(calls[0].input.is_null());
  CHECK(calls[1].name == "b");
  CHECK(calls[1].input == json{{"x", "}]"}, {"n", json::array({1})}});
  CHECK(find_tool_markers("[call_tool d [1, 2]]").empty());
  CHECK(find_tool_markers("[call_tool e").empty());
}

TEST_CASE("an input built from a schema has every required property with a value of its type") {
  json schema = json::parse(R"({
    "type": "object",
    "properties": {
      "s": {"type": "string"}, "i": {"type": "integer"}, "b": {"type": "boolean"},
      "a": {"type": "array"}, "e": {"enum": ["red", "blue"]}, "d": {"type": "number", "default": 2.5},
      "n": {"type": ["null", "integer"]},
      "o": {"type": "object", "properties": {"k": {"const": 7}}, "required": ["k"]},
      "optional": {"type": "string"}
    },
    "required": ["s", "i", "b", "a", "e", "d", "n", "o", "undeclared"]
  })");
  CHECK(input_from_schema(schema) == json::parse(R"({"s": "fake", "i": 1, "b": true, "a": [], "e": "red",
      "d": 2.5, "n": 1, "o": {"k": 7}, "undeclared": "fake"})"));
  CHECK(input_from_schema(json::object()) == json::object());
  CHECK(input_from_schema("not a schema") == json::object());
}

TEST_CASE("a tool plan follows tool choice and drops calls past the first when parallel calls are off") {
  ParsedCall call;
  call.tools = {{"one", {{"type", "object"}}}, {"two", {{"type", "object"}}}};
  call.final_user_text = "[call_tool two] [call_tool one] [call_tool three]";
  ToolPlan plan = plan_tool_calls(call);
  REQUIRE(plan.calls.size() == 2);
  CHECK(plan.from_markers);
  CHECK((plan.calls[0].name == "two" && plan.calls[1].name == "one"));
  call.tool_mode = ToolMode::kTool;
  call.tool_name = "one";
  plan = plan_tool_calls(call);
  REQUIRE(plan.calls.size() == 1);
  CHECK(plan.calls[0].name == "one");
  call.final_user_text = "no markers";
  plan = plan_tool_calls(call);
  REQUIRE(plan.calls.size() == 1);
  CHECK_FALSE(plan.from_markers);
  call.tool_mode = ToolMode::kAuto;
  CHECK(plan_tool_calls(call).calls.empty());
  call.tool_mode = ToolMode::kAny;
  call.final_user_text = "[call_tool two] [call_tool one]";
  call.parallel_tools = false;
  plan = plan_tool_calls(call);
  REQUIRE(plan.calls.size() == 1);
  CHECK(plan.calls[0].name == "two");
  call.tool_mode = ToolMode::kNone;
  CHECK(plan_tool_calls(call).calls.empty());
}

TEST_CASE("a reply is cut at the earliest stop sequence and the first listed wins a tie") {
  StopCut cut = cut_at_stop("one two three", {"three", "two"});
  CHECK(cut.text == "one ");
  CHECK(cut.sequence == "two");
  cut = cut_at_stop("one two three", {"two t", "two"});
  CHECK(cut.sequence == "two t");
  cut = cut_at_stop("one two", {"four", ""});
  CHECK(cut.text == "one two");
  CHECK_FALSE(cut.sequence);
}

TEST_CASE("the text answer echoes the user or lists the tool results of the final turn") {
  ParsedCall call;
  call.last_user_text = std::string(300, 'q');
  CHECK(answer_text(call) == "echo: " + std::string(200, 'q'));
  call.tool_results = {"tool result: 42", "tool error: boom"};
  CHECK(answer_text(call) == "tool result: 42\ntool error: boom");
  call.final_user_text = "thanks";
  CHECK(answer_text(call) == "tool result: 42\ntool error: boom\necho: thanks");
}
