// Streamed calls (PROTOCOL.md section 9) end to end: real tollgated, the
// fake provider streaming server-sent events in each API's format, with
// scripted faults (cut after N events, error event, stall, odd splits,
// delays). In every case the ledger, what the provider reported, the
// final reply and the usage event agree: a complete stream is charged its
// usage; a cut one the input the provider reported plus max_tokens.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kAgent = "imperium";
// "echo: " and these eight words: a reply of nine text deltas.
constexpr const char* kPrompt = "one two three four five six seven eight";

json stream_body(const std::string& prompt = kPrompt, uint64_t max_tokens = 40) {
  json body = call_body(kAgent, prompt, max_tokens);
  body["stream"] = true;
  return body;
}

// A streamed call that must call get_weather (forced tool_choice).
json weather_tool_call() {
  json body = stream_body();
  body.erase("prompt");
  body["messages"] = json::array({{{"role", "user"}, {"content", "weather in Paris?"}}});
  body["tools"] = json::array({{{"name", "get_weather"},
                                {"input_schema",
                                 {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}});
  body["tool_choice"] = {{"type", "tool"}, {"name", "get_weather"}};
  return body;
}

// Receives until `n` parts came (of any call on the socket).
void wait_for_parts(TestClient& client, size_t n) {
  size_t parts = 0;
  while (parts < n) {
    auto m = client.receive(scaled(10s));
    REQUIRE(m);
    if (m->contains("chunk")) ++parts;
  }
}

struct Streamed {
  std::vector<json> parts;
  json reply;
  Clock::duration first_part{};  // from the request to the first part
  Clock::duration whole{};       // from the request to the final reply
  std::string text() const {
    std::string out;
    for (const auto& p : parts) {
      if (p["chunk"]["type"] == "text_delta") out += p["chunk"]["text"].get<std::string>();
    }
    return out;
  }
};

// Sends `body` (with its `id`) and collects the messages of that id: parts
// until the final reply.
Streamed stream_call(TestClient& client, json body, std::chrono::milliseconds timeout = 30s) {
  static int64_t next_id = 1000;
  if (!body.contains("id")) body["id"] = next_id++;
  const json id = body["id"];
  Streamed s;
  const auto start = Clock::now();
  client.send(body);
  const auto deadline = start + scaled(timeout);
  while (Clock::now() < deadline) {
    auto m = client.receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!m) break;
    if ((*m)["id"] != id) continue;
    if (m->contains("chunk")) {
      if (s.parts.empty()) s.first_part = Clock::now() - start;
      s.parts.push_back(*m);
      continue;
    }
    s.whole = Clock::now() - start;
    s.reply = *m;
    return s;
  }
  FAIL("no final reply for request " << id.dump() << " after " << s.parts.size() << " parts");
  return s;
}

json usage_of(TestClient& client) { return client.request({{"op", "usage"}, {"ai_name", kAgent}}); }

uint64_t used(const json& usage, const std::string& provider) {
  return usage["providers"][provider]["used"].get<uint64_t>();
}

// The usage events published for `agent`, by provider: their tokens summed.
std::map<std::string, uint64_t> usage_event_tokens(const EventCollector& events) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : events.with_prefix("usage.")) {
    out[e["provider"].get<std::string>()] += e["total_tokens"].get<uint64_t>();
  }
  return out;
}

// The fake provider's stats once `done` holds for them (it notices a client
// gone only at its next write), or as they are after 10 s (scaled). A ping
// round trip to tollgated paces the polling.
template <class Pred>
json stats_when(const FakeProviderProcess& fake, TestClient& client, Pred done) {
  const auto deadline = Clock::now() + scaled(10s);
  json stats = fake.stats();
  while (!done(stats) && Clock::now() < deadline) {
    client.request({{"op", "ping"}});
    stats = fake.stats();
  }
  return stats;
}

// Every part numbered 1, 2, ... in order.
void check_numbering(const Streamed& s) {
  for (size_t i = 0; i < s.parts.size(); ++i) {
    CHECK(s.parts[i]["part"] == i + 1);
    CHECK(s.parts[i]["ok"] == true);
    CHECK(s.parts[i]["v"] == 1);
  }
}

}  // namespace

TEST_CASE("a streamed anthropic text reply comes in parts that add up to the final reply and its charge") {
  FakeProviderProcess fake({"--fault", "anthropic:split=3"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);

  Streamed s = stream_call(client, stream_body());
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == true);
  CHECK_FALSE(s.reply.contains("chunk"));
  CHECK(s.reply["provider"] == "anthropic");
  CHECK(s.parts.size() == 9);  // "echo:" and the eight words
  check_numbering(s);
  CHECK(s.text() == s.reply["text"]);
  CHECK(s.reply["text"] == std::string("echo: ") + kPrompt);
  CHECK(s.reply["stop_reason"] == "end_turn");

  const auto stats = fake.stats();
  CHECK(stats["anthropic"]["streams"] == 1);
  CHECK(stats["anthropic"]["streams_cut"] == 0);
  const auto usage = usage_of(client);
  CHECK(used(usage, "anthropic") == s.reply["usage"]["total_tokens"]);
  CHECK(used(usage, "anthropic") == served(stats, "anthropic"));
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  REQUIRE(events.wait_until([](const auto& ev) { return !ev.empty() && ev.back().first.rfind("usage.", 0) == 0; },
                            scaled(5s)));
  CHECK(usage_event_tokens(events)["anthropic"] == used(usage, "anthropic"));
}

TEST_CASE("a streamed openai tool call comes as tool_use_start and input_json_delta parts") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());

  json body = weather_tool_call();
  body["preferred_provider"] = "openai";
  Streamed s = stream_call(client, body);
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == true);
  CHECK(s.reply["provider"] == "openai");
  check_numbering(s);
  REQUIRE_FALSE(s.parts.empty());
  const json& start = s.parts[0]["chunk"];
  CHECK(start["type"] == "tool_use_start");
  CHECK(start["name"] == "get_weather");
  std::string arguments;
  for (size_t i = 1; i < s.parts.size(); ++i) {
    CHECK(s.parts[i]["chunk"]["type"] == "input_json_delta");
    CHECK(s.parts[i]["chunk"]["index"] == start["index"]);
    arguments += s.parts[i]["chunk"]["partial_json"].get<std::string>();
  }
  const json& block = s.reply["content"][start["index"].get<size_t>()];
  CHECK(block["type"] == "tool_use");
  CHECK(block["id"] == start["id"]);
  CHECK(json::parse(arguments) == block["input"]);
  CHECK(s.reply["stop_reason"] == "tool_use");
  CHECK(used(usage_of(client), "openai") == served(fake.stats(), "openai"));
}

TEST_CASE("the first part arrives while the provider is still streaming") {
  FakeProviderProcess fake({"--fault", "anthropic:event_delay_ms=150"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  Streamed s = stream_call(client, stream_body());
  REQUIRE(s.reply["ok"] == true);
  // 15 events 150 ms apart: the first delta is the fourth event (~0.45 s),
  // the reply comes after the last (~2.1 s).
  INFO("first part after " << std::chrono::duration<double>(s.first_part).count() << " s, reply after "
                           << std::chrono::duration<double>(s.whole).count() << " s");
  CHECK(s.whole >= 2000ms);
  CHECK(s.whole - s.first_part >= 1000ms);
}

TEST_CASE("a stream that fails before its first part falls back and its cut attempt is charged") {
  // After message_start (which reports the input): the overloaded error event.
  FakeProviderProcess fake({"--fault", "anthropic:stream_error_after=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_MAX_ATTEMPTS", "1"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);

  Streamed s = stream_call(client, stream_body("fall back please", 40));
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == true);
  CHECK(s.reply["provider"] == "openai");
  CHECK(s.reply["reason"] == "fallback_error");
  CHECK(attempt_codes(s.reply) == "anthropic:error:provider_error openai:ok ");
  CHECK(s.text() == s.reply["text"]);

  const auto stats = fake.stats();
  const auto usage = usage_of(client);
  // The cut attempt: the input Anthropic reported plus max_tokens.
  CHECK(used(usage, "anthropic") == stats["anthropic"]["stream_input_tokens"].get<uint64_t>() + 40);
  CHECK(used(usage, "openai") == served(stats, "openai"));
  CHECK(used(usage, "openai") == s.reply["usage"]["total_tokens"]);
  REQUIRE(events.wait_until([](const auto& ev) {
    return std::count_if(ev.begin(), ev.end(), [](const auto& e) { return e.first.rfind("usage.", 0) == 0; }) == 2;
  }, scaled(5s)));
  auto by_provider = usage_event_tokens(events);
  CHECK(by_provider["anthropic"] == used(usage, "anthropic"));
  CHECK(by_provider["openai"] == used(usage, "openai"));
}

TEST_CASE("a stream cut after its first part ends with a partial error and no fallback") {
  // message_start, block start, ping, two deltas, then the cut.
  FakeProviderProcess fake({"--fault", "anthropic:stream_cut_after=5"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);

  Streamed s = stream_call(client, stream_body());
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == false);
  CHECK(s.reply["partial"] == true);
  CHECK(s.reply["error"]["partial"] == true);
  CHECK(s.reply["error"]["code"] == "provider_error");
  CHECK(s.parts.size() == 2);
  const auto stats = fake.stats();
  CHECK(stats["openai"]["requests"] == 0);
  CHECK(stats["anthropic"]["streams_cut"] == 1);
  const auto usage = usage_of(client);
  CHECK(used(usage, "anthropic") == stats["anthropic"]["stream_input_tokens"].get<uint64_t>() + 40);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  REQUIRE(events.wait_until([](const auto& ev) { return !ev.empty() && ev.back().first.rfind("usage.", 0) == 0; },
                            scaled(5s)));
  CHECK(usage_event_tokens(events)["anthropic"] == used(usage, "anthropic"));
}

TEST_CASE("cancel ends a stream in flight with cancelled partial and charges it as cut") {
  FakeProviderProcess fake({"--fault", "anthropic:event_delay_ms=200"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());

  json body = stream_body();
  body["id"] = "to-cancel";
  client.send(body);
  // Wait for the first part, then cancel.
  std::optional<json> first;
  while (auto m = client.receive(scaled(10s))) {
    if (m->contains("chunk")) {
      first = *m;
      break;
    }
  }
  REQUIRE(first);
  client.send({{"op", "cancel"}, {"target", "to-cancel"}, {"id", "the-cancel"}});
  json cancel_reply, call_reply;
  while (cancel_reply.is_null() || call_reply.is_null()) {
    auto m = client.receive(scaled(10s));
    REQUIRE(m);
    if ((*m)["id"] == "the-cancel") cancel_reply = *m;
    if ((*m)["id"] == "to-cancel" && !m->contains("chunk")) call_reply = *m;
  }
  INFO(cancel_reply.dump() << "\n" << call_reply.dump());
  CHECK(cancel_reply["ok"] == true);
  CHECK(cancel_reply["found"] == true);
  CHECK(call_reply["ok"] == false);
  CHECK(call_reply["error"]["code"] == "cancelled");
  CHECK(call_reply["partial"] == true);
  // The provider sees its connection closed (at its next write).
  const json stats = stats_when(fake, client, [](const json& st) { return st["anthropic"]["streams_cut"] == 1; });
  INFO(stats.dump());
  const auto usage = usage_of(client);
  CHECK(used(usage, "anthropic") == stats["anthropic"]["stream_input_tokens"].get<uint64_t>() + 40);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);

  // A cancel of nothing in flight finds nothing.
  auto none = client.request({{"op", "cancel"}, {"target", "to-cancel"}});
  CHECK(none["ok"] == true);
  CHECK(none["found"] == false);
}

TEST_CASE("a streamed call past its timeout ends with timeout partial") {
  FakeProviderProcess fake({"--fault", "anthropic:event_delay_ms=200"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json body = stream_body();
  body["timeout_ms"] = 1500;  // the stream takes about 3 s
  Streamed s = stream_call(client, body);
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == false);
  CHECK(s.reply["error"]["code"] == "timeout");
  CHECK(s.reply["partial"] == true);
  CHECK_FALSE(s.parts.empty());
  const auto usage = usage_of(client);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(used(usage, "anthropic") >= 40);  // at least the output bound
}

TEST_CASE("a stream with no bytes for TOLLGATE_STREAM_IDLE_MS ends with timeout partial") {
  // Stalls after the first two deltas for far longer than the idle limit.
  FakeProviderProcess fake({"--fault", "anthropic:stream_stall_after=5:stall_ms=3000"});
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_STREAM_IDLE_MS", "500"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  Streamed s = stream_call(client, stream_body());
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == false);
  CHECK(s.reply["error"]["code"] == "timeout");
  CHECK(s.reply["error"]["message"].get<std::string>().find("TOLLGATE_STREAM_IDLE_MS") != std::string::npos);
  CHECK(s.reply["partial"] == true);
  CHECK(s.parts.size() == 2);
  const json stats = stats_when(fake, client, [](const json& st) { return st["anthropic"]["streams_cut"] == 1; });
  const auto usage = usage_of(client);
  CHECK(used(usage, "anthropic") == stats["anthropic"]["stream_input_tokens"].get<uint64_t>() + 40);
}

TEST_CASE("shutdown mid-stream answers partial and the charge survives the restart") {
  TempDir dir;
  FakeProviderProcess fake({"--fault", "anthropic:stream_stall_after=5:stall_ms=20000"});
  uint64_t charged = 0;
  {
    TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", dir.path()},
                                                   {"TOLLGATE_SHUTDOWN_DRAIN_MS", "500"}}));
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    client.send(stream_body());
    wait_for_parts(client, 2);
    d.process().signal(SIGTERM);
    // The drain waits TOLLGATE_SHUTDOWN_DRAIN_MS for calls in flight, then
    // cuts the stream.
    std::optional<json> reply;
    while (auto m = client.receive(scaled(30s))) {
      if (!m->contains("chunk")) {
        reply = *m;
        break;
      }
    }
    REQUIRE(reply);
    INFO(reply->dump());
    CHECK((*reply)["ok"] == false);
    CHECK((*reply)["partial"] == true);
    REQUIRE(d.process().wait_exit(scaled(20s)) == 0);
    // The input Anthropic reported in message_start (the fake counts a
    // byte-per-quarter-token: ceil(bytes / 4)) plus max_tokens.
    charged = (std::string(kPrompt).size() + 3) / 4 + 40;
  }
  TollgatedProcess again(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", dir.path()}}));
  zmq::context_t ctx;
  TestClient client(ctx, again.requests());
  const auto usage = usage_of(client);
  CHECK(used(usage, "anthropic") == charged);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
}

TEST_CASE("a repeat of a streamed call with its idempotency key gets the stored final reply") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json body = stream_body();
  body["idempotency_key"] = "stream-once";
  Streamed first = stream_call(client, body);
  REQUIRE(first.reply["ok"] == true);
  Streamed again = stream_call(client, body);
  INFO(again.reply.dump());
  REQUIRE(again.reply["ok"] == true);
  CHECK(again.parts.empty());
  CHECK(again.reply["replayed"] == true);
  CHECK(again.reply["text"] == first.reply["text"]);
  CHECK(again.reply["usage"] == first.reply["usage"]);
  // The same key without stream is the same request.
  body.erase("stream");
  auto plain = client.request(body);
  CHECK(plain["replayed"] == true);
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  CHECK(used(usage_of(client), "anthropic") == first.reply["usage"]["total_tokens"]);
}

TEST_CASE("a client that goes away mid-stream has its call cancelled and charged as cut") {
  FakeProviderProcess fake({"--fault", "anthropic:event_delay_ms=200"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  {
    TestClient leaving(ctx, d.requests());
    leaving.send(stream_body());
    auto m = leaving.receive(scaled(10s));
    REQUIRE(m);
    REQUIRE(m->contains("chunk"));
  }  // the socket closes: its next part cannot be routed
  TestClient client(ctx, d.requests());
  // The provider sees the connection closed once tollgated cancels.
  const json stats = stats_when(fake, client, [](const json& st) { return st["anthropic"]["streams_cut"] == 1; });
  INFO(stats.dump());
  CHECK(stats["anthropic"]["streams_cut"] == 1);
  CHECK(stats["anthropic"]["streams_client_closed"] == 1);
  json usage;
  for (int i = 0; i < 200; ++i) {
    usage = usage_of(client);
    if (usage["providers"]["anthropic"]["reserved"] == 0) break;
  }
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(used(usage, "anthropic") == stats["anthropic"]["stream_input_tokens"].get<uint64_t>() + 40);
}

TEST_CASE("200 concurrent streams against a tight budget never go over it and every token is accounted") {
  FakeProviderProcess fake({"--fault", "*:split=7"});
  // Each call reserves its input bound plus 40; about a third of them fit.
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "3000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "3000"},
                                                 {"TOLLGATE_ADMISSION_WAIT_MS", "0"},
                                                 {"ANTHROPIC_RPM", "100000"},
                                                 {"OPENAI_RPM", "100000"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) {
    json body = stream_body(std::string(kPrompt) + " " + std::to_string(i), 40);
    body["id"] = i;
    client.send(body);
  }
  std::map<int, std::string> texts;
  std::map<int, json> replies;
  while (static_cast<int>(replies.size()) < kCalls) {
    auto m = client.receive(scaled(60s));
    REQUIRE(m);
    const int id = (*m)["id"].get<int>();
    if (m->contains("chunk")) {
      texts[id] += (*m)["chunk"].value("text", "");
    } else {
      replies[id] = *m;
    }
  }
  uint64_t replied_tokens = 0;
  int ok = 0;
  for (const auto& [id, reply] : replies) {
    INFO(reply.dump());
    if (reply["ok"] == true) {
      ++ok;
      replied_tokens += reply["usage"]["total_tokens"].get<uint64_t>();
      CHECK(texts[id] == reply["text"]);
    } else {
      CHECK(reply["error"]["code"] == "budget_exhausted");
      CHECK(texts[id].empty());
    }
  }
  CHECK(ok > 0);
  CHECK(ok < kCalls);
  const auto usage = usage_of(client);
  const uint64_t total = used(usage, "anthropic") + used(usage, "openai");
  CHECK(used(usage, "anthropic") <= 3000);
  CHECK(used(usage, "openai") <= 3000);
  CHECK(total == replied_tokens);
  const auto stats = fake.stats();
  CHECK(total == served(stats, "anthropic") + served(stats, "openai"));
  REQUIRE(events.wait_until([&](const auto&) {
    auto by = usage_event_tokens(events);
    return by["anthropic"] + by["openai"] >= total;
  }, scaled(10s)));
  auto by = usage_event_tokens(events);
  CHECK(by["anthropic"] == used(usage, "anthropic"));
  CHECK(by["openai"] == used(usage, "openai"));
}

TEST_CASE("a streamed openai text reply and a streamed anthropic tool call add up to their final replies") {
  FakeProviderProcess fake({"--fault", "*:split=5"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());

  json text = stream_body();
  text["preferred_provider"] = "openai";
  Streamed s = stream_call(client, text);
  INFO(s.reply.dump());
  REQUIRE(s.reply["ok"] == true);
  CHECK(s.reply["provider"] == "openai");
  check_numbering(s);
  CHECK(s.parts.size() == 9);
  CHECK(s.text() == s.reply["text"]);
  CHECK(s.reply["stop_reason"] == "end_turn");

  json tool = weather_tool_call();
  Streamed t = stream_call(client, tool);
  INFO(t.reply.dump());
  REQUIRE(t.reply["ok"] == true);
  CHECK(t.reply["provider"] == "anthropic");
  check_numbering(t);
  std::string arguments;
  size_t starts = 0;
  for (const auto& p : t.parts) {
    if (p["chunk"]["type"] == "tool_use_start") {
      ++starts;
      CHECK(p["chunk"]["name"] == "get_weather");
    }
    if (p["chunk"]["type"] == "input_json_delta") arguments += p["chunk"]["partial_json"].get<std::string>();
  }
  CHECK(starts == 1);
  const json& block = t.reply["content"].back();
  CHECK(block["type"] == "tool_use");
  CHECK(json::parse(arguments) == block["input"]);
  CHECK(t.reply["stop_reason"] == "tool_use");

  const auto stats = fake.stats();
  const auto usage = usage_of(client);
  CHECK(used(usage, "openai") == s.reply["usage"]["total_tokens"]);
  CHECK(used(usage, "anthropic") == t.reply["usage"]["total_tokens"]);
  CHECK(used(usage, "openai") == served(stats, "openai"));
  CHECK(used(usage, "anthropic") == served(stats, "anthropic"));
}

TEST_CASE("tollgated killed mid-stream has the reservation charged in full by recovery") {
  TempDir dir;
  FakeProviderProcess fake({"--fault", "anthropic:stream_stall_after=5:stall_ms=20000"});
  uint64_t reserved = 0;
  {
    TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", dir.path()}}));
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    client.send(stream_body());
    wait_for_parts(client, 2);
    reserved = usage_of(client)["providers"]["anthropic"]["reserved"].get<uint64_t>();
    CHECK(reserved >= (std::string(kPrompt).size() + 3) / 4 + 40);
    d.process().signal(SIGKILL);
    REQUIRE(d.process().wait_exit(scaled(10s)).has_value());
  }
  TollgatedProcess again(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", dir.path()}}));
  zmq::context_t ctx;
  TestClient client(ctx, again.requests());
  const auto usage = usage_of(client);
  // The whole reservation (input bound plus max_tokens): never less than used.
  CHECK(used(usage, "anthropic") == reserved);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
}
