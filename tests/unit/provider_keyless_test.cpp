// A keyless provider (a local vLLM or Ollama, ProviderConfig::keyless)
// reaches the adapters as an empty api_key: no key header is sent at all,
// not an empty one; with a key the headers are as before.
#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/provider_test_util.h"
#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

ProviderCall call_with_key(std::string key) {
  ProviderCall call;
  call.api_key = std::move(key);
  call.base_url = "http://127.0.0.1:11434/v1";
  call.model = "llama3.1:8b";
  call.messages = {{"user", "Hello"}};
  call.max_tokens = 16;
  call.temperature = 0.5;
  return call;
}

}  // namespace

TEST_CASE("an openai request without a key sends no Authorization header") {
  const OpenAiAdapter adapter;
  const auto req = adapter.build_request(call_with_key(""));
  CHECK(header_value(req, "Authorization") == "<absent>");
  CHECK(header_value(req, "content-type") == "application/json");
  CHECK(req.headers.size() == 1);
  CHECK(header_value(adapter.build_request(call_with_key("sk-1")), "Authorization") == "Bearer sk-1");
}

TEST_CASE("an anthropic request without a key sends no x-api-key header") {
  const AnthropicAdapter adapter;
  const auto req = adapter.build_request(call_with_key(""));
  CHECK(header_value(req, "x-api-key") == "<absent>");
  CHECK(header_value(req, "anthropic-version") == "2023-06-01");
  CHECK(req.headers.size() == 2);
  auto count = adapter.build_count_request(call_with_key(""));
  REQUIRE(count.has_value());
  CHECK(header_value(*count, "x-api-key") == "<absent>");
  CHECK(header_value(adapter.build_request(call_with_key("sk-ant-1")), "x-api-key") == "sk-ant-1");
}
