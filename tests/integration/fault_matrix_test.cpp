// The provider fault matrix: real tollgated, real fake-provider (or a dead
// address), one fault per test. Each must end in the right error or
// fallback, leave no reservation behind and keep the ledger at or above
// what the provider served.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

// The agent every test here calls for; one agent keeps the fake's totals
// comparable with the ledger's.
constexpr const char* kAgent = "imperium";

// Nothing reserved, and for each provider the ledger charged at least what
// the fake served. Returns the agent's usage reply for further checks.
json check_ledger_consistent(TestClient& client, const FakeProviderProcess& fake) {
  auto usage = client.request({{"op", "usage"}, {"ai_name", kAgent}});
  INFO(usage.dump());
  auto stats = fake.stats();
  INFO(stats.dump());
  for (const std::string p : {"anthropic", "openai"}) {
    CHECK(usage["providers"][p]["reserved"] == 0);
    CHECK(usage["providers"][p]["used"].get<uint64_t>() >= served(stats, p));
  }
  auto summary = client.request({{"op", "summary"}});
  for (const std::string p : {"anthropic", "openai"}) {
    CHECK(summary["providers"][p]["reserved"] == 0);
  }
  return usage;
}

// A call that must fall back from a faulty Anthropic to a healthy OpenAI.
json call_expecting_fallback(TestClient& client, const FakeProviderProcess& fake, int64_t timeout_ms = 20000) {
  auto body = call_body(kAgent, "what does a toll gate do?", 40);
  // A bound on a call that must succeed: stretched under sanitizers.
  body["timeout_ms"] = scaled(std::chrono::milliseconds(timeout_ms)).count();
  auto reply = client.request(body);
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "openai");
  CHECK(reply["reason"] == "fallback_error");
  CHECK(reply["usage"]["total_tokens"] == served(fake.stats(), "openai"));
  return reply;
}

// Env for a daemon whose Anthropic base URL is `url` (OpenAI stays on the fake).
Env anthropic_at(const FakeProviderProcess& fake, const std::string& url) {
  return merge(fake.provider_env(), {{"ANTHROPIC_BASE_URL", url}});
}

}  // namespace

TEST_CASE("a reply slower than the deadline ends in timeout and is charged in full") {
  FakeProviderProcess fake({"--fault", "*:delay_ms=5000"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto body = call_body(kAgent, "slow please", 30);
  body["timeout_ms"] = 400;
  auto reply = client.request(body);
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "timeout");
  auto usage = check_ledger_consistent(client, fake);
  // The request reached the provider, which may bill it: the reservation
  // (input bound + max_tokens) stays charged.
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() >= 30);
}

TEST_CASE("an attempt that times out after it was sent is charged in full at the model price") {
  FakeProviderProcess fake({"--fault", "*:delay_ms=5000"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  auto body = call_body(kAgent, "slow and priced", 30);
  body["timeout_ms"] = 400;
  auto reply = client.request(body);
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "timeout");
  REQUIRE(events.wait_until([](const auto& evs) {
    for (const auto& e : evs) if (e.first == std::string("usage.") + kAgent) return true;
    return false;
  }, scaled(5s)));
  auto charged = events.with_prefix(std::string("usage.") + kAgent);
  REQUIRE(charged.size() == 1);
  INFO(charged[0].dump());
  CHECK(charged[0]["reason"] == "unconfirmed");
  CHECK(charged[0]["output_tokens"] == 30);
  // The default Anthropic model's price: $3 in, $15 out per million tokens.
  const double expected = (charged[0]["input_tokens"].get<double>() * 3.0 +
                           charged[0]["output_tokens"].get<double>() * 15.0) / 1e6;
  CHECK(charged[0]["cost_usd"].get<double>() > 0);
  CHECK(charged[0]["cost_usd"].get<double>() == Approx(expected));
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == charged[0]["total_tokens"]);
  CHECK(usage["providers"]["anthropic"]["cost_usd"].get<double>() == Approx(expected));
}

namespace {

// One call whose first Anthropic attempt gets a 502 and whose retry is
// answered; returns the usage events it published.
std::vector<json> call_through_one_502(TestClient& client, EventCollector& events,
                                       const FakeProviderProcess& fake, json& reply) {
  reply = client.request(call_body(kAgent, "through a gateway", 40));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "anthropic");
  CHECK(fake.stats()["anthropic"]["requests"] == 2);
  REQUIRE(events.wait_until([](const auto& evs) {
    for (const auto& e : evs) {
      if (e.first == std::string("usage.") + kAgent && e.second["reason"] != "unconfirmed") return true;
    }
    return false;
  }, scaled(5s)));
  return events.with_prefix(std::string("usage.") + kAgent);
}

}  // namespace

TEST_CASE("a 502 from a provider behind a gateway is charged in full") {
  // The fake's base URL is 127.0.0.1, not the vendor's API host: a 502 may
  // come from a gateway that passed the request on.
  FakeProviderProcess fake({"--fault", "anthropic:status=502:times=1"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  json reply;
  auto usage_events = call_through_one_502(client, events, fake, reply);
  REQUIRE(usage_events.size() == 2);
  CHECK(usage_events[0]["reason"] == "unconfirmed");
  CHECK(usage_events[0]["output_tokens"] == 40);
  CHECK(usage_events[0]["cost_usd"].get<double>() > 0);
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] ==
        usage_events[0]["total_tokens"].get<uint64_t>() + reply["usage"]["total_tokens"].get<uint64_t>());
  CHECK(d.process().output().find("failed after possibly serving it") != std::string::npos);
}

TEST_CASE("a 502 is released when the provider is configured as not behind a gateway") {
  FakeProviderProcess fake({"--fault", "anthropic:status=502:times=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_GATEWAY_5XX_SERVED", "false"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  json reply;
  auto usage_events = call_through_one_502(client, events, fake, reply);
  REQUIRE(usage_events.size() == 1);
  CHECK(usage_events[0]["reason"] == "primary");
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == reply["usage"]["total_tokens"]);
  CHECK(d.process().output().find("attempt 1 failed before it was served") != std::string::npos);
}

TEST_CASE("a truncated body is retried then falls back and the cut attempts are charged") {
  FakeProviderProcess fake({"--fault", "anthropic:truncate"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  CHECK(fake.stats()["anthropic"]["requests"] == 3);
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() >= 3 * 40);
}

TEST_CASE("invalid JSON in a 200 answer falls back without retrying") {
  FakeProviderProcess fake({"--fault", "anthropic:invalid_json"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  check_ledger_consistent(client, fake);
}

TEST_CASE("a 200 answer without usage is charged the whole reservation and logged") {
  FakeProviderProcess fake({"--fault", "anthropic:no_usage"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body(kAgent, "count nothing", 40));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "anthropic");
  CHECK(reply["text"].get<std::string>().find("echo:") == 0);
  // The reply reports what was charged: the output bound is max_tokens,
  // priced like any charge.
  CHECK(reply["usage"]["output_tokens"] == 40);
  CHECK(reply["cost_usd"].get<double>() > 0);
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == reply["usage"]["total_tokens"]);
  CHECK(d.process().output().find("reported no usage; charging the reservation") != std::string::npos);
}

TEST_CASE("a connection reset mid-request is retried then falls back") {
  FakeProviderProcess fake({"--fault", "anthropic:drop"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  CHECK(fake.stats()["anthropic"]["requests"] == 3);
  check_ledger_consistent(client, fake);
}

TEST_CASE("a refused connection falls back and charges nothing to the unreachable provider") {
  FakeProviderProcess fake;
  // Port 1 on loopback: nothing listens there (privileged, unassigned).
  TollgatedProcess d(anthropic_at(fake, "http://127.0.0.1:1"));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
}

TEST_CASE("an unresolvable host falls back and charges nothing to it") {
  FakeProviderProcess fake;
  // RFC 2606 reserves .invalid: it never resolves.
  TollgatedProcess d(anthropic_at(fake, "http://anthropic.tollgate-test.invalid"));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  CHECK(d.process().output().find("resolve") != std::string::npos);
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
}

TEST_CASE("plain HTTP where TLS is expected fails the handshake and charges nothing") {
  FakeProviderProcess fake;
  TollgatedProcess d(anthropic_at(fake, "https://127.0.0.1:" + std::to_string(fake.port())));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
  // The handshake never got an HTTP request through.
  CHECK(fake.stats()["anthropic"]["requests"] == 0);
}

TEST_CASE("a response body over the size cap is refused and its attempt charged in full") {
  // Default cap 8 MiB; the fake pads the reply text to 10 MB.
  FakeProviderProcess fake({"--fault", "anthropic:body_bytes=10000000"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake);
  const auto codes = attempt_codes(reply);
  CHECK(codes.rfind("anthropic:error:provider_error ", 0) == 0);
  CHECK(d.process().output().find("response over 8388608 bytes") != std::string::npos);
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() >= served(fake.stats(), "anthropic"));
}

TEST_CASE("a Retry-After beyond the deadline moves on to the next provider at once") {
  // 100000 s: waiting for it would take the whole 20 s deadline and end in
  // timeout; the call must give up on Anthropic and use OpenAI instead.
  FakeProviderProcess fake({"--fault", "anthropic:status=429:retry_after=100000"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = call_expecting_fallback(client, fake, 20000);
  CHECK(attempt_codes(reply) == "anthropic:error:rate_limited openai:ok ");
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
}

TEST_CASE("when every provider fails the reply is provider_error and nothing stays reserved") {
  FakeProviderProcess fake({"--fault", "*:drop"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body(kAgent, "nobody home", 25));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "provider_error");
  CHECK(reply["error"]["message"].get<std::string>().find("last was openai") != std::string::npos);
  check_ledger_consistent(client, fake);
}

TEST_CASE("a rejected API key appears in no reply and no event") {
  // The fake accepts only another key: both providers answer 401, OpenAI
  // with its masked echo of the key as the real service does.
  FakeProviderProcess fake({"--api-key", "sk-the-only-right-key"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  auto reply = client.request(call_body(kAgent, "who am I", 10));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "provider_error");
  auto status = client.request({{"op", "provider_status"}});
  events.wait_until([](const auto& evs) { return evs.size() >= 2; }, 2s);
  std::string everything = reply.dump() + status.dump();
  for (const auto& [topic, body] : events.events()) everything += topic + body.dump();
  for (const char* key : {kTestAnthropicKey, kTestOpenAiKey}) {
    CHECK(everything.find(key) == std::string::npos);
  }
  // ~TollgatedProcess checks the log.
}

TEST_CASE("SIGTERM during a retry wait charges nothing for the retry that was never sent") {
  TempDir data;
  // One 503 asking for a wait longer than tollgated's drain at stop.
  FakeProviderProcess fake({"--fault", "anthropic:status=503:retry_after=30:times=1"});
  Env env = merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()},
                                        {"TOLLGATE_SHUTDOWN_DRAIN_MS", "500"}});
  {
    TollgatedProcess d(env);
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    auto body = call_body(kAgent, "wait for me", 40);
    body["timeout_ms"] = 120000;  // the retry fits in the deadline: the call waits
    client.send(body);
    // The 503's reservation is released, the retry timer set.
    REQUIRE(d.process().wait_for_line("attempt 1 failed before it was served", scaled(20s)));
    d.process().signal(SIGTERM);
    auto status = d.process().wait_exit(scaled(60s));
    INFO(d.process().output());
    REQUIRE(status.has_value());
    CHECK(*status == 0);
  }
  // Only the 503 reached the provider, and a 503 serves nothing.
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  TollgatedProcess again(env);
  zmq::context_t ctx;
  TestClient client(ctx, again.requests());
  auto usage = check_ledger_consistent(client, fake);
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
  CHECK(usage["providers"]["openai"]["used"] == 0);
  CHECK(again.process().output().find("recovered") == std::string::npos);
}
