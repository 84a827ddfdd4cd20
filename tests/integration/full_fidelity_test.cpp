// Full-fidelity calls (PROTOCOL.md section 8) end to end: real tollgated,
// real fake-provider speaking both wire formats over HTTP, which validates
// tool and image parts the way the real APIs do.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

json weather_tools() {
  return json::array({{{"name", "get_weather"},
                       {"description", "Current weather in a city"},
                       {"input_schema",
                        {{"type", "object"},
                         {"properties", {{"city", {{"type", "string"}}}}},
                         {"required", {"city"}}}}}});
}

json tool_call(const std::string& agent, const json& messages) {
  json body = {{"op", "call"}, {"ai_name", agent}, {"messages", messages},
               {"tools", weather_tools()}, {"max_tokens", 200}};
  return body;
}

json forced(json body) {
  body["tool_choice"] = {{"type", "tool"}, {"name", "get_weather"}};
  return body;
}

// The user turn answering every tool_use block of `reply`.
json results_for(const json& reply, const std::string& result) {
  json blocks = json::array();
  for (const auto& b : reply["content"]) {
    if (b["type"] != "tool_use") continue;
    blocks.push_back({{"type", "tool_result"}, {"tool_use_id", b["id"]}, {"content", result}});
  }
  return {{"role", "user"}, {"content", blocks}};
}

const json kFirstTurn = {{"role", "user"}, {"content", "What is the weather in Paris?"}};

// Runs a forced tool call on `provider`, answers it, and returns both replies.
std::pair<json, json> two_turns(TestClient& client, const std::string& provider) {
  json messages = json::array({kFirstTurn});
  json body = forced(tool_call("imperium", messages));
  body["preferred_provider"] = provider;
  json first = client.request(body);
  INFO(first.dump());
  REQUIRE(first["ok"] == true);
  messages.push_back({{"role", "assistant"}, {"content", first["content"]}});
  messages.push_back(results_for(first, "18 celsius and clear"));
  body = tool_call("imperium", messages);
  body["preferred_provider"] = provider;
  json second = client.request(body);
  return {first, second};
}

}  // namespace

TEST_CASE("a two-turn tool conversation works on Anthropic") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto [first, second] = two_turns(client, "anthropic");
  INFO(first.dump() << "\n" << second.dump());
  CHECK(first["provider"] == "anthropic");
  CHECK(first["stop_reason"] == "tool_use");
  REQUIRE(first["content"].size() >= 1);
  const json& use = first["content"].back();
  CHECK(use["type"] == "tool_use");
  CHECK(use["name"] == "get_weather");
  CHECK(use["id"].get<std::string>().rfind("toolu_", 0) == 0);
  CHECK(use["input"].is_object());
  REQUIRE(second["ok"] == true);
  CHECK(second["provider"] == "anthropic");
  CHECK(second["stop_reason"] == "end_turn");
  CHECK(second["text"].get<std::string>().find("18 celsius") != std::string::npos);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["used"] ==
        first["usage"]["total_tokens"].get<uint64_t>() + second["usage"]["total_tokens"].get<uint64_t>());
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
}

TEST_CASE("a two-turn tool conversation works on OpenAI") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto [first, second] = two_turns(client, "openai");
  INFO(first.dump() << "\n" << second.dump());
  CHECK(first["provider"] == "openai");
  CHECK(first["stop_reason"] == "tool_use");
  const json& use = first["content"].back();
  CHECK(use["type"] == "tool_use");
  CHECK(use["name"] == "get_weather");
  CHECK(use["id"].get<std::string>().rfind("call_", 0) == 0);
  REQUIRE(second["ok"] == true);
  CHECK(second["provider"] == "openai");
  CHECK(second["stop_reason"] == "end_turn");
  CHECK(second["text"].get<std::string>().find("18 celsius") != std::string::npos);
}

TEST_CASE("a tool conversation started on Anthropic continues on OpenAI after a fallback") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json messages = json::array({kFirstTurn});
  json first = client.request(forced(tool_call("imperium", messages)));
  INFO(first.dump());
  REQUIRE(first["ok"] == true);
  REQUIRE(first["provider"] == "anthropic");
  // Anthropic now rejects the key: the next call passes to OpenAI, which
  // gets Anthropic's tool ids in its tool_calls and tool messages.
  fake.set_faults(json::array({"anthropic:status=401"}));
  messages.push_back({{"role", "assistant"}, {"content", first["content"]}});
  messages.push_back(results_for(first, "18 celsius and clear"));
  json second = client.request(tool_call("imperium", messages));
  INFO(second.dump());
  REQUIRE(second["ok"] == true);
  CHECK(second["provider"] == "openai");
  CHECK(second["reason"] == "fallback_error");
  CHECK(second["stop_reason"] == "end_turn");
  CHECK(second["text"].get<std::string>().find("18 celsius") != std::string::npos);
}

TEST_CASE("a tool_result that answers no tool_use is refused before anything is reserved") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json messages = json::array(
      {kFirstTurn,
       {{"role", "assistant"}, {"content", "Let me look."}},
       {{"role", "user"},
        {"content", json::array({{{"type", "tool_result"}, {"tool_use_id", "toolu_missing"},
                                  {"content", "18 celsius"}}})}}});
  json reply = client.request(tool_call("imperium", messages));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "bad_request");
  CHECK(reply["error"]["message"].get<std::string>().find("messages[2].content[0].tool_use_id") !=
        std::string::npos);
  CHECK(fake.stats()["anthropic"]["requests"] == 0);
}

TEST_CASE("images reach both providers and are counted as input") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  // A 1x1 PNG.
  const std::string png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
  for (const std::string provider : {"anthropic", "openai"}) {
    json content = json::array(
        {{{"type", "text"}, {"text", "What is in this picture?"}},
         {{"type", "image"},
          {"source", {{"type", "base64"}, {"media_type", "image/png"}, {"data", png}}}},
         {{"type", "image"}, {"source", {{"type", "url"}, {"url", "https://example.com/cat.jpg"}}}}});
    json body = {{"op", "call"}, {"ai_name", "imperium"}, {"preferred_provider", provider},
                 {"messages", json::array({{{"role", "user"}, {"content", content}}})},
                 {"max_tokens", 50}};
    json reply = client.request(body);
    INFO(reply.dump());
    REQUIRE(reply["ok"] == true);
    CHECK(reply["provider"] == provider);
    // Text alone is a handful of tokens; the images add their own.
    CHECK(reply["usage"]["input_tokens"].get<uint64_t>() > 60);
  }
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["openai"]["reserved"] == 0);
}

TEST_CASE("a stop sequence ends the reply with stop_reason stop_sequence") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json body = call_body("imperium", "first part HALT second part", 100);
  body["stop_sequences"] = json::array({"HALT"});
  json reply = client.request(body);
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["stop_reason"] == "stop_sequence");
  CHECK(reply["text"].get<std::string>().find("HALT") == std::string::npos);
  CHECK(reply["text"].get<std::string>().find("second part") == std::string::npos);
}

TEST_CASE("a text-only call answers with one text block and end_turn") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json reply = client.request(call_body("imperium", "hello there"));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  REQUIRE(reply["content"].size() == 1);
  CHECK(reply["content"][0]["type"] == "text");
  CHECK(reply["content"][0]["text"] == reply["text"]);
  CHECK(reply["stop_reason"] == "end_turn");
}

namespace {

// A tollgated whose TOML file is `toml`, on top of `env`.
struct ConfiguredDaemon {
  TempDir dir;
  std::unique_ptr<TollgatedProcess> d;
  zmq::context_t ctx;
  std::unique_ptr<TestClient> client;

  ConfiguredDaemon(const Env& env, const std::string& toml) {
    const std::string path = dir.path() + "/tollgate.toml";
    std::ofstream(path) << toml;
    d = std::make_unique<TollgatedProcess>(env, std::vector<std::string>{"--config", path});
    client = std::make_unique<TestClient>(ctx, d->requests());
  }
};

}  // namespace

TEST_CASE("a keyless OpenAI-compatible third provider serves a tool conversation") {
  FakeProviderProcess fake;
  FakeProviderProcess local({"--no-auth"});
  // Anthropic's key is rejected and OpenAI has no budget: only the local
  // server (no key, as vLLM or Ollama) is left.
  fake.set_faults(json::array({"anthropic:status=401"}));
  ConfiguredDaemon c(merge(fake.provider_env(), {{"OPENAI_MONTHLY_LIMIT", "0"}}),
                     "chain = [\"anthropic\", \"openai\", \"local\"]\n"
                     "[providers.local]\napi = \"openai\"\nkeyless = true\nbase_url = \"" +
                         local.base_url() + "/v1\"\nmodel = \"qwen3\"\nmonthly_limit = 100000\n");
  json messages = json::array({kFirstTurn});
  json first = c.client->request(forced(tool_call("imperium", messages)));
  INFO(first.dump());
  REQUIRE(first["ok"] == true);
  CHECK(first["provider"] == "local");
  CHECK(first["model"] == "qwen3");
  CHECK(attempt_codes(first) ==
        "anthropic:error:provider_error openai:skipped:fallback_threshold local:ok ");
  CHECK(first["stop_reason"] == "tool_use");
  messages.push_back({{"role", "assistant"}, {"content", first["content"]}});
  messages.push_back(results_for(first, "18 celsius and clear"));
  json second = c.client->request(tool_call("imperium", messages));
  INFO(second.dump());
  REQUIRE(second["ok"] == true);
  CHECK(second["provider"] == "local");
  CHECK(second["text"].get<std::string>().find("18 celsius") != std::string::npos);
  CHECK(local.stats()["openai"]["requests"] == 2);
}

TEST_CASE("a url image to a provider without url images is refused before anything is reserved") {
  FakeProviderProcess fake;
  ConfiguredDaemon c(merge(fake.provider_env(), {{"ENABLE_OPENAI_FALLBACK", "false"}}),
                     "[providers.anthropic]\nimage_urls = false\n");
  json content = json::array(
      {{{"type", "text"}, {"text", "What is this?"}},
       {{"type", "image"}, {"source", {{"type", "url"}, {"url", "https://example.com/cat.jpg"}}}}});
  json reply = c.client->request({{"op", "call"}, {"ai_name", "imperium"}, {"max_tokens", 50},
                                  {"messages", json::array({{{"role", "user"}, {"content", content}}})}});
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "bad_request");
  CHECK(reply["error"]["message"].get<std::string>().find("messages[0].content[1]") != std::string::npos);
  CHECK(fake.stats()["anthropic"]["requests"] == 0);
  auto usage = c.client->request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
}

TEST_CASE("prompt cache reads are reported counted in the budget and priced at the cache rate") {
  FakeProviderProcess fake;
  ConfiguredDaemon c(fake.provider_env(),
                     "[prices.\"claude-sonnet-4-5\"]\ninput = 3.0\noutput = 15.0\n"
                     "cache_write = 3.75\ncache_read = 0.30\n");
  const std::string manual(3000, 'm');
  json system = json::array({{{"type", "text"}, {"text", "Operating manual: " + manual},
                              {"cache_control", {{"type", "ephemeral"}}}}});
  json body = call_body("imperium", "What does the manual say?", 20);
  body["system"] = system;
  json first = c.client->request(body);
  json second = c.client->request(body);
  INFO(first.dump() << "\n" << second.dump());
  REQUIRE(first["ok"] == true);
  REQUIRE(second["ok"] == true);
  CHECK(first["usage"]["cache_creation_input_tokens"].get<uint64_t>() > 700);
  const uint64_t read = second["usage"]["cache_read_input_tokens"].get<uint64_t>();
  CHECK(read > 700);
  const uint64_t in = second["usage"]["input_tokens"].get<uint64_t>();
  const uint64_t out = second["usage"]["output_tokens"].get<uint64_t>();
  REQUIRE(in >= read);
  const double expected = ((in - read) * 3.0 + read * 0.30 + out * 15.0) / 1e6;
  CHECK(second["cost_usd"].get<double>() == Approx(expected).epsilon(1e-9));
  auto usage = c.client->request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["used"] ==
        first["usage"]["total_tokens"].get<uint64_t>() + second["usage"]["total_tokens"].get<uint64_t>());
}

TEST_CASE("a repeated tool call with the same idempotency key gets the stored blocks") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json body = forced(tool_call("imperium", json::array({kFirstTurn})));
  body["idempotency_key"] = "weather-1";
  json first = client.request(body);
  json again = client.request(body);
  INFO(first.dump() << "\n" << again.dump());
  REQUIRE(first["ok"] == true);
  REQUIRE(again["ok"] == true);
  CHECK(again["replayed"] == true);
  CHECK(again["content"] == first["content"]);
  CHECK(again["stop_reason"] == "tool_use");
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  // The same key with other tools is another request.
  body["tools"][0]["description"] = "Weather, in Fahrenheit";
  json other = client.request(body);
  INFO(other.dump());
  REQUIRE(other["ok"] == false);
  CHECK(other["error"]["code"] == "bad_request");
  CHECK(other["error"]["message"].get<std::string>().find("idempotency_key reused") != std::string::npos);
}
