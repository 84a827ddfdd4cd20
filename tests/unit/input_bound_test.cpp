// The input size of a whole call: a text-only call measures as it always
// did, every block kind, image and tool raises the bound by what it can
// cost, and the bound stays above what any provider formula counts.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "daemon/core/budget.h"
#include "daemon/core/image_size.h"
#include "daemon/core/image_tokens.h"
#include "daemon/core/input_bound.h"
#include "tests/unit/image_headers.h"

using namespace tollgate::ledger;
using tollgate::protocol::CallRequest;
using tollgate::protocol::ChatMessage;
using tollgate::protocol::ContentBlock;
using tollgate::protocol::ImageSource;
using tollgate::protocol::JsonValue;
using tollgate::protocol::ToolChoice;
using tollgate::protocol::ToolSpec;
namespace t = tollgate::test;

namespace {

CallRequest call_with(std::vector<ChatMessage> messages) {
  CallRequest r;
  r.ai_name = "agent";
  r.messages = std::move(messages);
  return r;
}

ChatMessage text_message(std::string role, std::string content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

ChatMessage block_message(std::string role, std::vector<ContentBlock> blocks) {
  ChatMessage m;
  m.role = std::move(role);
  m.blocks = std::move(blocks);
  return m;
}

ContentBlock tool_use(std::string id, std::string name, JsonValue input) {
  ContentBlock b;
  b.type = ContentBlock::Type::kToolUse;
  b.id = std::move(id);
  b.name = std::move(name);
  b.input = std::move(input);
  return b;
}

ContentBlock tool_result(std::string tool_use_id, std::vector<ContentBlock> content) {
  ContentBlock b;
  b.type = ContentBlock::Type::kToolResult;
  b.tool_use_id = std::move(tool_use_id);
  b.content = std::move(content);
  return b;
}

ContentBlock base64_image(std::string bytes) {
  ContentBlock b;
  b.type = ContentBlock::Type::kImage;
  b.image.kind = ImageSource::Kind::kBase64;
  b.image.media_type = "image/png";
  b.image.data = t::base64(bytes);
  return b;
}

ContentBlock url_image(std::string url) {
  ContentBlock b;
  b.type = ContentBlock::Type::kImage;
  b.image.kind = ImageSource::Kind::kUrl;
  b.image.url = std::move(url);
  return b;
}

ToolSpec weather_tool() {
  ToolSpec tool;
  tool.name = "get_weather";
  tool.description = "Current weather";
  tool.input_schema = JsonValue::parse(
      R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})");
  return tool;
}

const CallRequest kQuestion = call_with({text_message("user", "What is the weather in Paris?")});

// bound and estimate of `r` above those of kQuestion.
InputSize added_by(const CallRequest& r) {
  const InputSize base = input_size(kQuestion);
  const InputSize with = input_size(r);
  return InputSize{with.estimate - base.estimate, with.bound - base.bound};
}

}  // namespace

TEST_CASE("a text only call measures exactly as its string contents did") {
  CallRequest prompt_call;
  prompt_call.prompt = "Summarise this: \xE6\x97\xA5\xE6\x9C\xAC";
  prompt_call.system = "You are terse.";
  CHECK(input_size(prompt_call).bound == input_size("You are terse.", {*prompt_call.prompt}).bound);
  CHECK(input_size(prompt_call).estimate ==
        input_size("You are terse.", {*prompt_call.prompt}).estimate);

  CallRequest chat = call_with({text_message("user", "hi"), text_message("assistant", "hello"),
                                text_message("user", std::string(1001, 'x'))});
  const std::vector<std::string> contents = {"hi", "hello", std::string(1001, 'x')};
  CHECK(input_size(chat).bound == input_size("", contents).bound);
  CHECK(input_size(chat).estimate == input_size("", contents).estimate);
  CHECK(token_upper_bound(chat, 700) == token_upper_bound("", contents, 700));
}

TEST_CASE("a text block costs a block overhead more than the same string") {
  const ContentBlock question = ContentBlock::make_text("What is the weather in Paris?");
  const CallRequest blocks = call_with({block_message("user", {question})});
  CHECK(input_size(blocks).bound == input_size(kQuestion).bound + kPerBlockOverhead);
  CHECK(input_size(blocks).estimate == input_size(kQuestion).estimate);
}

TEST_CASE("a tool use block counts its name and id and its input as json") {
  CallRequest r = kQuestion;
  r.messages.push_back(block_message(
      "assistant", {tool_use("toolu_01", "get_weather", JsonValue::parse(R"({"city":"Paris"})"))}));
  const uint64_t json_bytes = std::string(R"({"city":"Paris"})").size();
  const uint64_t text = 8 + 11 + json_bytes;
  CHECK(added_by(r).bound == kPerMessageOverhead + kPerToolBlockOverhead + text +
                                 kPerJsonValueAllowance + kToolUseSystemOverhead);
  CHECK(input_size(r).estimate == (29 + text) / 4);  // the question is 29 bytes
}

TEST_CASE("a tool result counts its id and its text content") {
  CallRequest r = kQuestion;
  r.messages.push_back(block_message(
      "user", {tool_result("toolu_01", {ContentBlock::make_text("18 degrees and sunny")})}));
  CHECK(added_by(r).bound == kPerMessageOverhead + kPerToolBlockOverhead + 8 +
                                 kPerBlockOverhead + 20 + kToolUseSystemOverhead);
}

TEST_CASE("an image costs its formula tokens and never its base64 bytes") {
  // A 100 x 100 PNG followed by a megabyte of pixel data.
  const std::string png = t::png_header(100, 100) + std::string(1 << 20, '\x7f');
  CallRequest r = kQuestion;
  r.messages.push_back(block_message("user", {base64_image(png)}));
  const ImageTokens tokens = image_tokens(ImageDimensions{100, 100});
  CHECK(added_by(r).bound == kPerMessageOverhead + kPerBlockOverhead + tokens.bound);
  CHECK(added_by(r).estimate == tokens.estimate);
  CHECK(input_size(r).bound < 20000);  // a megabyte is not 250k tokens
}

TEST_CASE("an image inside a tool result is priced as an image") {
  CallRequest r = kQuestion;
  r.messages.push_back(block_message(
      "user", {tool_result("t1", {base64_image(t::jpeg_header(2000, 1000))})}));
  const ImageTokens tokens = image_tokens(ImageDimensions{2000, 1000});
  CHECK(added_by(r).bound == kPerMessageOverhead + kPerToolBlockOverhead + 2 +
                                 kPerBlockOverhead + tokens.bound + kToolUseSystemOverhead);
}

TEST_CASE("an image of unknown size costs the largest value of every formula") {
  const ImageTokens unknown = image_tokens(std::nullopt);
  CHECK(unknown.bound == max_openai_tile_tokens(kGpt4oMiniTileRates) + kPerImageOverhead);
  CHECK(unknown.estimate == max_anthropic_image_tokens(kClaudeImageLimits));
  for (const ContentBlock& image :
       {url_image("https://example.com/cat.png"), base64_image("not an image header")}) {
    CallRequest r = kQuestion;
    r.messages.push_back(block_message("user", {image}));
    CHECK(added_by(r).bound == kPerMessageOverhead + kPerBlockOverhead + unknown.bound);
    CHECK(added_by(r).estimate == unknown.estimate);
  }
}

TEST_CASE("system blocks count like a system string plus a block overhead each") {
  CallRequest as_string = kQuestion;
  as_string.system = "Be brief.Be kind.";
  CallRequest as_blocks = kQuestion;
  as_blocks.system_blocks = {ContentBlock::make_text("Be brief."),
                             ContentBlock::make_text("Be kind.")};
  CHECK(input_size(as_blocks).bound == input_size(as_string).bound + 2 * kPerBlockOverhead);
  CHECK(input_size(as_blocks).estimate == input_size(as_string).estimate);
}

TEST_CASE("tools count their schema and the tool use system prompt once") {
  const ToolSpec tool = weather_tool();
  const uint64_t schema_bytes = tool.input_schema.dump().size();
  const uint64_t schema_values = 6;  // type properties city type required city
  const uint64_t one_tool = kPerToolOverhead + tool.name.size() + tool.description.size() +
                            schema_bytes + schema_values * kPerJsonValueAllowance;
  CallRequest r = kQuestion;
  r.tools = {tool};
  CHECK(added_by(r).bound == one_tool + kToolUseSystemOverhead);
  r.tools.push_back(tool);
  CHECK(added_by(r).bound == 2 * one_tool + kToolUseSystemOverhead);
  CHECK(added_by(r).estimate > 0);
}

TEST_CASE("line breaks in descriptions and schema strings add a line allowance each") {
  ToolSpec tool = weather_tool();
  CallRequest flat = kQuestion;
  flat.tools = {tool};
  tool.description = "Current\nweather";
  tool.input_schema["properties"]["city"]["description"] = "a\nb\nc";
  CallRequest lines = kQuestion;
  lines.tools = {tool};
  const uint64_t added_json = std::string(R"(,"description":"a\nb\nc")").size();
  CHECK(input_size(lines).bound - input_size(flat).bound ==
        kPerLineAllowance + added_json + kPerJsonValueAllowance + 2 * kPerLineAllowance);
}

TEST_CASE("json input counts non ascii characters in their escaped form") {
  CallRequest r = kQuestion;
  r.messages.push_back(block_message(
      "assistant", {tool_use("a", "b", JsonValue::parse("{\"k\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}"))}));
  const uint64_t escaped = std::string(R"({"k":"\u65e5\u672c"})").size();
  CHECK(added_by(r).bound == kPerMessageOverhead + kPerToolBlockOverhead + 2 + escaped +
                                 kPerJsonValueAllowance + kToolUseSystemOverhead);
}

TEST_CASE("invalid utf8 in json input is measured instead of thrown") {
  CallRequest r = kQuestion;
  JsonValue input;
  input["k"] = std::string("\xFF\xFE", 2);
  r.messages.push_back(block_message("assistant", {tool_use("a", "b", input)}));
  // Each invalid byte becomes U+FFFD, escaped.
  const uint64_t escaped = std::string(R"({"k":"\ufffd\ufffd"})").size();
  CHECK(added_by(r).bound == kPerMessageOverhead + kPerToolBlockOverhead + 2 + escaped +
                                 kPerJsonValueAllowance + kToolUseSystemOverhead);
}

TEST_CASE("stop sequences and top p are no input") {
  CallRequest r = kQuestion;
  r.stop_sequences = {"\n\nHuman:", "END"};
  r.top_p = 0.9;
  CHECK(input_size(r).bound == input_size(kQuestion).bound);
  CHECK(input_size(r).estimate == input_size(kQuestion).estimate);
}

TEST_CASE("a tool choice adds its tool name and the tool use system prompt") {
  CallRequest r = kQuestion;
  ToolChoice choice;
  choice.type = ToolChoice::Type::kTool;
  choice.name = "get_weather";
  r.tool_choice = choice;
  CHECK(added_by(r).bound == 11 + kToolUseSystemOverhead);
}

TEST_CASE("the bound with max tokens saturates instead of wrapping") {
  CHECK(token_upper_bound(kQuestion, UINT64_MAX) == UINT64_MAX);
  CHECK(token_upper_bound(kQuestion, 100) == input_size(kQuestion).bound + 100);
}

TEST_CASE("the anthropic formula gives the documented token counts") {
  CHECK(anthropic_image_tokens({200, 200}, kClaudeImageLimits) == 54);
  CHECK(anthropic_image_tokens({1000, 1000}, kClaudeImageLimits) == 1334);
  CHECK(anthropic_image_tokens({1092, 1092}, kClaudeImageLimits) == 1590);
  // Over the long edge: scaled to 1568 x 40 first.
  CHECK(anthropic_image_tokens({4000, 100}, kClaudeImageLimits) == 84);
  // Over the pixel limit: scaled to at most 1600 tokens.
  CHECK(anthropic_image_tokens({3000, 3000}, kClaudeImageLimits) == 1600);
  CHECK(anthropic_image_tokens({8000, 8000}, kClaudeImageLimits) == 1600);
  // High resolution models read more of the same image.
  CHECK(anthropic_image_tokens({2576, 1000}, kClaudeHighResImageLimits) == 3435);
  CHECK(anthropic_image_tokens({2000, 2000}, kClaudeHighResImageLimits) == 5000);
  CHECK(anthropic_image_tokens({1, 1}, kClaudeHighResImageLimits) == 1);
}

TEST_CASE("the openai tile formula gives the documented token counts") {
  CHECK(openai_tile_tokens({1024, 1024}, kGpt4oTileRates) == 765);
  CHECK(openai_tile_tokens({2048, 4096}, kGpt4oTileRates) == 1105);
  CHECK(openai_tile_tokens({4096, 8192}, kGpt4oTileRates) == 1105);
  CHECK(openai_tile_tokens({512, 512}, kGpt4oTileRates) == 255);
  CHECK(openai_tile_tokens({100, 100}, kGpt4oTileRates) == 255);
  CHECK(openai_tile_tokens({2049, 513}, kGpt4oTileRates) == 1445);
  CHECK(openai_tile_tokens({768, 2048}, kGpt4oTileRates) ==
        max_openai_tile_tokens(kGpt4oTileRates));
  CHECK(openai_tile_tokens({1024, 1024}, kGpt4oMiniTileRates) == 2833 + 4 * 5667);
}

TEST_CASE("the openai patch formula counts 32 pixel patches up to the budget") {
  CHECK(openai_patch_tokens({1024, 1024}, 1000) == 1024);
  CHECK(openai_patch_tokens({1024, 1024}, 1620) == 1659);
  CHECK(openai_patch_tokens({33, 1}, 1000) == 2);
  // Documented as 1452 after the provider's resize: the budget bounds it.
  CHECK(openai_patch_tokens({1800, 2400}, 1000) == 1536);
  CHECK(openai_patch_tokens({1800, 2400}, kOpenAiMaxPatchMultiplierPermille) ==
        max_openai_patch_tokens(kOpenAiMaxPatchMultiplierPermille));
}

TEST_CASE("formulas stay finite on the largest sizes a header can claim") {
  const ImageDimensions huge{UINT32_MAX, UINT32_MAX};
  CHECK(anthropic_image_tokens(huge, kClaudeHighResImageLimits) == 5000);
  CHECK(openai_tile_tokens(huge, kGpt4oTileRates) == 765);
  CHECK(openai_patch_tokens(huge, 1000) == 1536);
  CHECK(image_tokens(huge).bound <= image_tokens(std::nullopt).bound);
}

namespace {

// Every formula a provider may bill an image by, with its largest value.
struct Formula {
  std::function<uint64_t(ImageDimensions)> tokens;
  uint64_t max = 0;
};
std::vector<Formula> provider_formulas() {
  std::vector<Formula> out;
  for (AnthropicImageLimits limits : {kClaudeImageLimits, kClaudeHighResImageLimits}) {
    out.push_back({[limits](ImageDimensions d) { return anthropic_image_tokens(d, limits); },
                   max_anthropic_image_tokens(limits)});
  }
  for (OpenAiTileRates rates : {kGpt4oTileRates, OpenAiTileRates{75, 150}, kGpt4oMiniTileRates}) {
    out.push_back({[rates](ImageDimensions d) { return openai_tile_tokens(d, rates); },
                   max_openai_tile_tokens(rates)});
  }
  for (uint64_t multiplier : {1000u, 1620u, 1720u, 2460u}) {
    out.push_back({[multiplier](ImageDimensions d) { return openai_patch_tokens(d, multiplier); },
                   max_openai_patch_tokens(multiplier)});
  }
  return out;
}

ImageDimensions random_size(std::mt19937_64& rng) {
  std::uniform_int_distribution<uint32_t> small(1, 5000);
  std::uniform_int_distribution<uint32_t> any(1, UINT32_MAX);
  std::bernoulli_distribution rare(0.05);
  return {rare(rng) ? any(rng) : small(rng), rare(rng) ? any(rng) : small(rng)};
}

}  // namespace

TEST_CASE("every image size is bounded above every formula and below the unknown bound") {
  std::mt19937_64 rng(750);
  const auto formulas = provider_formulas();
  const ImageTokens unknown = image_tokens(std::nullopt);
  for (int round = 0; round < 20000; ++round) {
    const ImageDimensions size = random_size(rng);
    const ImageTokens tokens = image_tokens(size);
    INFO(size.width << " x " << size.height);
    REQUIRE(tokens.bound >= tokens.estimate);
    REQUIRE(tokens.bound <= unknown.bound);
    REQUIRE(tokens.estimate <= unknown.estimate);
    for (const auto& f : formulas) {
      REQUIRE(tokens.bound >= f.tokens(size) + kPerImageOverhead);
      REQUIRE(f.tokens(size) <= f.max);
    }
  }
}

namespace {

// A random call with blocks, and what a provider can count for it at most
// by the byte-level BPE rule: one token per byte of every text (JSON as
// compact UTF-8), plus each image by a formula.
struct RandomCall {
  CallRequest request;
  uint64_t text_bytes = 0;
  std::vector<std::optional<ImageDimensions>> images;
};

class CallGenerator {
 public:
  explicit CallGenerator(uint64_t seed) : rng_(seed) {}

  RandomCall next() {
    RandomCall call;
    out_ = &call;
    call.request.ai_name = "agent";
    if (chance(0.3)) call.request.system_blocks = {ContentBlock::make_text(text())};
    for (int i = 0, n = count(1, 6); i < n; ++i) {
      std::vector<ContentBlock> blocks;
      for (int j = 0, m = count(1, 4); j < m; ++j) blocks.push_back(block(true));
      call.request.messages.push_back(block_message(i % 2 == 0 ? "user" : "assistant", blocks));
    }
    for (int i = 0, n = count(0, 3); i < n; ++i) {
      ToolSpec tool = weather_tool();
      tool.description = text();
      call.request.tools.push_back(tool);
      call.text_bytes +=
          tool.name.size() + tool.description.size() + tool.input_schema.dump().size();
    }
    if (chance(0.5)) call.request.stop_sequences = {text()};
    return call;
  }

 private:
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int count(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string text() {
    static const std::vector<std::string> kPieces = {
        "hello ", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80", "12345", "\n", "{\"a\":1}"};
    std::string out;
    for (int i = 0, n = count(0, 40); i < n; ++i) out += kPieces[static_cast<size_t>(count(0, 5))];
    return out;
  }

  std::string counted(std::string s) {
    out_->text_bytes += s.size();
    return s;
  }

  ContentBlock image() {
    const uint32_t w = static_cast<uint32_t>(count(1, 16383));
    const uint32_t h = static_cast<uint32_t>(count(1, 16383));
    const std::vector<std::string> headers = {t::png_header(w, h), t::jpeg_header(w, h),
                                              t::gif_header(w, h), t::webp_vp8x(w, h)};
    const int kind = count(0, 5);
    if (kind == 4) {
      out_->images.push_back(std::nullopt);
      return url_image("https://example.com/a.png");
    }
    const std::string bytes = kind == 5 ? "garbage" : headers[static_cast<size_t>(kind)];
    out_->images.push_back(tollgate::ledger::image_dimensions(bytes));
    return base64_image(bytes);
  }

  ContentBlock block(bool nest) {
    switch (count(0, nest ? 3 : 1)) {
      case 0: return ContentBlock::make_text(counted(text()));
      case 1: return image();
      case 2: {
        JsonValue input;
        input["q"] = text();
        input["n"] = count(0, 1000);
        out_->text_bytes += input.dump().size();
        return tool_use(counted("toolu_" + std::to_string(count(0, 99))), counted("search"), input);
      }
      default: {
        std::vector<ContentBlock> content;
        for (int i = 0, n = count(0, 3); i < n; ++i) content.push_back(block(false));
        return tool_result(counted("toolu_" + std::to_string(count(0, 99))), content);
      }
    }
  }

  std::mt19937_64 rng_;
  RandomCall* out_ = nullptr;
};

}  // namespace

// The fake provider counts a request's tokens by these same rules (at most
// one token per byte of text, images by the providers' formulas): the
// bound stays at or above its count, as it must for every real provider.
TEST_CASE("random calls with blocks are bounded above the estimate and every provider formula") {
  CallGenerator generator(1313);
  const auto formulas = provider_formulas();
  for (int round = 0; round < 2000; ++round) {
    const RandomCall call = generator.next();
    const InputSize size = input_size(call.request);
    REQUIRE(size.bound >= size.estimate);
    for (const auto& f : formulas) {
      uint64_t count = call.text_bytes;
      for (const auto& image : call.images) count += image ? f.tokens(*image) : f.max;
      REQUIRE(size.bound >= count);
    }
    // The estimate prices images by the ordinary formulas, never by bytes.
    uint64_t images = 0;
    for (const auto& image : call.images) images += image_tokens(image).estimate;
    REQUIRE(size.estimate >= images);
  }
}
