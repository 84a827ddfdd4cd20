// The fake-provider binary's token counts for the full formats: images by
// the providers' formulas, tool definitions and the tool-use system prompt,
// and prompt-cache counts on a repeated prefix.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/fake_provider_client.h"
#include "tests/integration/test_images.h"

using nlohmann::json;
using tollgate::testing::base64;
using tollgate::testing::call;
using tollgate::testing::FakeProviderProcess;

namespace {

// 22 bytes: 6 tokens with the default tokenizer.
const std::string kQuestion = "What is in the picture";

json anthropic_image(const std::string& media_type, const std::string& bytes) {
  json image = {{"type", "image"},
                {"source", {{"type", "base64"}, {"media_type", media_type}, {"data", base64(bytes)}}}};
  json question = {{"type", "text"}, {"text", kQuestion}};
  json message = {{"role", "user"}, {"content", json::array({image, question})}};
  return {{"model", "claude-test"}, {"messages", json::array({message})}};
}

json openai_image(const json& image_url) {
  json image = {{"type", "image_url"}, {"image_url", image_url}};
  json question = {{"type", "text"}, {"text", kQuestion}};
  json message = {{"role", "user"}, {"content", json::array({image, question})}};
  return {{"model", "gpt-test"}, {"messages", json::array({message})}};
}

// The input count /v1/messages charges for `body`, checked against what
// /v1/messages/count_tokens answers for it.
uint64_t anthropic_input(httplib::Client& c, json body) {
  json counted = call(c, "/v1/messages/count_tokens", body);
  body["max_tokens"] = 10;
  json usage = call(c, "/v1/messages", body)["usage"];
  CHECK(counted["input_tokens"] == usage["input_tokens"]);
  return usage["input_tokens"];
}

struct ImageCase {
  std::string media_type;
  std::string bytes;
  uint64_t tokens;  // of the image alone
};

}  // namespace

TEST_CASE("anthropic images count width times height over 750 after scaling to 1568 px") {
  using namespace tollgate::testing;
  const std::vector<ImageCase> cases = {
      {"image/png", png_header(1000, 500), 667},     // 500000 / 750 = 666.7
      {"image/jpeg", jpeg_header(3136, 1568), 1640}, // scaled to 1568 x 784: 1639.1
      {"image/gif", gif_header(200, 100), 27},       // 26.7
      {"image/webp", webp_header(750, 750), 750},
  };
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  for (const auto& image : cases) {
    INFO(image.media_type);
    CHECK(anthropic_input(c, anthropic_image(image.media_type, image.bytes)) == 6 + image.tokens);
  }
  json url = anthropic_image("image/png", png_header(1, 1));
  url["messages"][0]["content"][0]["source"] = {{"type", "url"}, {"url", "https://example.com/cat.png"}};
  CHECK(anthropic_input(c, url) == 6 + 1600);
}

TEST_CASE("openai images count 85 plus 170 per 512 px tile and 85 at low detail") {
  using namespace tollgate::testing;
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  auto prompt_tokens = [&](const json& image_url) {
    return call(c, "/v1/chat/completions", openai_image(image_url))["usage"]["prompt_tokens"].get<uint64_t>();
  };
  const std::string square = "data:image/png;base64," + base64(png_header(1024, 1024));
  const std::string tall = "data:image/jpeg;base64," + base64(jpeg_header(2048, 4096));
  CHECK(prompt_tokens({{"url", square}}) == 6 + 765);           // 768 x 768: 4 tiles
  CHECK(prompt_tokens({{"url", tall}, {"detail", "high"}}) == 6 + 1105);  // 768 x 1536: 6 tiles
  CHECK(prompt_tokens({{"url", tall}, {"detail", "low"}}) == 6 + 85);
  CHECK(prompt_tokens({{"url", "https://example.com/cat.png"}}) == 6 + 1445);
}

TEST_CASE("tool definitions and the tool use system prompt add to the input count") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  // "hi" and the tool's name and schema: 2 + 1 + 17 bytes, 5 tokens.
  json body = {{"model", "claude-test"},
               {"tools", json::array({{{"name", "t"}, {"input_schema", {{"type", "object"}}}}})},
               {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  CHECK(anthropic_input(c, body) == 5 + 346);
  body["tool_choice"] = {{"type", "any"}};
  CHECK(anthropic_input(c, body) == 5 + 313);
  // OpenAI: "hi" and {"name":"t"} are 14 bytes, 4 tokens, and 12 for the tools.
  json o = {{"model", "gpt-test"},
            {"tools", json::array({{{"type", "function"}, {"function", {{"name", "t"}}}}})},
            {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  CHECK(call(c, "/v1/chat/completions", o)["usage"]["prompt_tokens"] == 4 + 12);
}

TEST_CASE("an anthropic prefix marked for caching is written once then read on a repeat") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  // A 400-byte system block (100 tokens) marked for caching, then "hi".
  json system = {{"type", "text"}, {"text", std::string(400, 's')}, {"cache_control", {{"type", "ephemeral"}}}};
  json body = {{"model", "claude-test"},
               {"max_tokens", 10},
               {"system", json::array({system})},
               {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  auto usage = [&](const json& b) { return call(c, "/v1/messages", b)["usage"]; };
  CHECK(usage(body) == json{{"input_tokens", 1}, {"output_tokens", 10},
                            {"cache_creation_input_tokens", 100}, {"cache_read_input_tokens", 0}});
  CHECK(usage(body) == json{{"input_tokens", 1}, {"output_tokens", 10},
                            {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", 100}});
  // Another question after the same prefix still reads it.
  body["messages"][0]["content"] = "hello";
  CHECK(usage(body)["cache_read_input_tokens"] == 100);
  // Stats count every prompt token: (1 + 100) * 2 + 102.
  CHECK(tollgate::testing::stats(c)["anthropic"]["input_tokens"] == 304);
  REQUIRE(c.Post("/_control/reset"));
  CHECK(usage(body)["cache_creation_input_tokens"] == 100);
  // count_tokens counts the whole prompt and caches nothing.
  body.erase("max_tokens");
  CHECK(call(c, "/v1/messages/count_tokens", body)["input_tokens"] == 102);
}

TEST_CASE("openai reports cached tokens for a repeated prefix of at least 1024 tokens") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  // A 6000-byte system message (1500 tokens) then "hi": 1501 prompt tokens.
  json body = {{"model", "gpt-test"},
               {"messages", json::array({{{"role", "system"}, {"content", std::string(6000, 's')}},
                                         {{"role", "user"}, {"content", "hi"}}})}};
  json first = call(c, "/v1/chat/completions", body)["usage"];
  CHECK(first["prompt_tokens"] == 1501);
  CHECK_FALSE(first.contains("prompt_tokens_details"));
  json second = call(c, "/v1/chat/completions", body)["usage"];
  CHECK(second["prompt_tokens"] == 1501);
  // Cached in steps of 128 past 1024: 1024 + 3 * 128.
  CHECK(second["prompt_tokens_details"] == json{{"cached_tokens", 1408}});
  // A short prompt is never cached.
  body["messages"][0]["content"] = "short";
  call(c, "/v1/chat/completions", body);
  CHECK_FALSE(call(c, "/v1/chat/completions", body)["usage"].contains("prompt_tokens_details"));
}
