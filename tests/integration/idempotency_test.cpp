// Idempotency against the real daemon and fake provider (PROTOCOL.md
// section 3 `call`, DESIGN.md invariant 4): a key never reaches a provider
// twice, not across a SIGKILL between reserve and commit; repeats are
// answered from the record even when new calls are refused; a key reused
// for another request is refused; a reply too large to keep is never run
// again. What reached the provider is read from fake-provider's stats.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <string>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

json keyed_call(const std::string& agent, const std::string& prompt, const std::string& key,
                uint64_t max_tokens = 50) {
  json body = call_body(agent, prompt, max_tokens);
  body["idempotency_key"] = key;
  return body;
}

uint64_t provider_requests(const FakeProviderProcess& fake) {
  const auto stats = fake.stats();
  return stats["anthropic"]["requests"].get<uint64_t>() + stats["openai"]["requests"].get<uint64_t>();
}

// Waits until the agent has tokens reserved (a call is at its provider).
void wait_for_reservation(TestClient& client, const std::string& agent) {
  json u;
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  do {
    u = client.request({{"op", "usage"}, {"ai_name", agent}});
  } while (u["providers"]["anthropic"]["reserved"] == 0 && std::chrono::steady_clock::now() < deadline);
  REQUIRE(u["providers"]["anthropic"]["reserved"].get<uint64_t>() > 0);
}

}  // namespace

TEST_CASE("a key whose call failed runs again but one cut short by a crash never reaches the provider twice") {
  TempDir data;
  FakeProviderProcess fake;
  const Env env = merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()}});
  zmq::context_t ctx;
  uint64_t used_before = 0;
  {
    TollgatedProcess d(env);
    TestClient client(ctx, d.requests());
    // A failed call is not remembered: its repeat runs again.
    fake.set_faults(json::array({"anthropic:status=400:times=1"}));
    auto failed = client.request(keyed_call("imperium", "first try", "retry-me"));
    INFO(failed.dump());
    REQUIRE(failed["ok"] == false);
    CHECK(failed["error"]["code"] == "provider_error");
    auto again = client.request(keyed_call("imperium", "first try", "retry-me"));
    CHECK(again["ok"] == true);
    CHECK(again["replayed"] == false);
    CHECK(fake.stats()["anthropic"]["requests"] == 2);
    used_before = again["usage"]["total_tokens"].get<uint64_t>();

    // The next call hangs at the provider; the daemon dies before its commit.
    fake.set_faults(json::array({"anthropic:delay_ms=120000:times=1"}));
    client.send(keyed_call("imperium", "cut short", "crash-key", 100));
    wait_for_reservation(client, "imperium");
    d.process().signal(SIGKILL);
    REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
  }
  TollgatedProcess again(env);
  TestClient client(ctx, again.requests());
  auto repeat = client.request(keyed_call("imperium", "cut short", "crash-key", 100));
  INFO(repeat.dump());
  REQUIRE(repeat["ok"] == false);
  CHECK(repeat["error"]["code"] == "internal");
  const auto message = repeat["error"]["message"].get<std::string>();
  CHECK(message.find("crash-key") != std::string::npos);
  CHECK(message.find("outcome is unknown") != std::string::npos);
  CHECK(message.find("charged in full") != std::string::npos);
  // The first request still hangs in the fake (counted when it answers):
  // nothing else reached a provider.
  auto stats = fake.stats();
  INFO(stats.dump());
  CHECK(stats["anthropic"]["requests"] == 2);
  CHECK(stats["openai"]["requests"] == 0);
  // Recovery charged the cut call's reservation (max_tokens 100 plus its
  // input bound) in full; nothing is held.
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() > used_before + 100);
}

TEST_CASE("an idempotent repeat is answered from its record during emergency shutdown") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_GLOBAL_MONTHLY_LIMIT", "150"},
                                                 {"OPENAI_GLOBAL_MONTHLY_LIMIT", "150"},
                                                 {"ALERT_WARNING_THRESHOLD", "0.2"},
                                                 {"OPENAI_FALLBACK_THRESHOLD", "0.3"},
                                                 {"ALERT_EMERGENCY_THRESHOLD", "0.4"},
                                                 {"TOLLGATE_EXHAUSTED_FRACTION", "0.5"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto first = client.request(keyed_call("agent-0", "hello", "before-shutdown", 40));
  REQUIRE(first["ok"] == true);
  json last;
  for (int i = 0; i < 30; ++i) {
    last = client.request(call_body("agent-" + std::to_string(i % 3), "hello", 40));
    if (last["ok"] == false && last["error"]["code"] == "emergency_shutdown") break;
  }
  INFO(last.dump());
  REQUIRE(last["error"]["code"] == "emergency_shutdown");
  const uint64_t served_before = provider_requests(fake);

  auto repeat = client.request(keyed_call("agent-0", "hello", "before-shutdown", 40));
  INFO(repeat.dump());
  CHECK(repeat["ok"] == true);
  CHECK(repeat["replayed"] == true);
  CHECK(repeat["text"] == first["text"]);
  CHECK(repeat["usage"] == first["usage"]);
  // A new key is still refused.
  auto fresh = client.request(keyed_call("agent-0", "hello", "during-shutdown", 40));
  CHECK(fresh["error"]["code"] == "emergency_shutdown");
  CHECK(provider_requests(fake) == served_before);
}

TEST_CASE("an idempotent repeat is answered from its record while calls are overloaded") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_MAX_INFLIGHT", "1"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto first = client.request(keyed_call("imperium", "hello", "served"));
  REQUIRE(first["ok"] == true);

  // One slow call fills the in-flight queue; requests from one DEALER are
  // handled in order, so the next call finds it full.
  fake.set_faults(json::array({"anthropic:delay_ms=120000:times=1"}));
  client.send(call_body("imperium", "a slow call"));
  auto refused = client.request(call_body("imperium", "one too many"));
  INFO(refused.dump());
  REQUIRE(refused["ok"] == false);
  REQUIRE(refused["error"]["code"] == "overloaded");

  auto repeat = client.request(keyed_call("imperium", "hello", "served"));
  INFO(repeat.dump());
  CHECK(repeat["ok"] == true);
  CHECK(repeat["replayed"] == true);
  CHECK(repeat["text"] == first["text"]);
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
}

TEST_CASE("a key reused with a different request gets bad_request and never reaches the provider") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto first = client.request(keyed_call("imperium", "hello", "order-42"));
  REQUIRE(first["ok"] == true);
  for (const json& other : {keyed_call("imperium", "hello again", "order-42"),
                            keyed_call("imperium", "hello", "order-42", 51)}) {
    auto reply = client.request(other);
    INFO(reply.dump());
    REQUIRE(reply["ok"] == false);
    CHECK(reply["error"]["code"] == "bad_request");
    CHECK(reply["error"]["message"] == "idempotency_key reused with a different request");
  }
  // The same request with another id and deadline is a repeat.
  auto same = keyed_call("imperium", "hello", "order-42");
  same["timeout_ms"] = 60000;
  CHECK(client.request(same)["replayed"] == true);

  // While the first call with a key still runs, a different request with
  // that key is refused at once instead of waiting for it.
  fake.set_faults(json::array({"anthropic:delay_ms=2000:times=1"}));
  auto slow = keyed_call("imperium", "slow", "order-43");
  slow["id"] = "first";
  client.send(slow);
  auto changed = keyed_call("imperium", "slow but changed", "order-43");
  changed["id"] = "second";
  client.send(changed);
  auto early = client.receive(scaled(10s));
  REQUIRE(early.has_value());
  INFO(early->dump());
  CHECK((*early)["id"] == "second");
  CHECK((*early)["error"]["code"] == "bad_request");
  auto late = client.receive(scaled(10s));
  REQUIRE(late.has_value());
  CHECK((*late)["id"] == "first");
  CHECK((*late)["ok"] == true);
  CHECK(fake.stats()["anthropic"]["requests"] == 2);
}

TEST_CASE("a reply too large to keep is never run again for a repeat") {
  // The reply text is padded to 1.2 MB: over the 1 MiB kept for repeats.
  FakeProviderProcess fake({"--fault", "anthropic:body_bytes=1200000:times=1"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto first = client.request(keyed_call("imperium", "a long answer please", "big"));
  REQUIRE(first["ok"] == true);
  CHECK(first["text"].get<std::string>().size() >= 1200000);

  auto repeat = client.request(keyed_call("imperium", "a long answer please", "big"));
  INFO(repeat.dump());
  REQUIRE(repeat["ok"] == false);
  CHECK(repeat["error"]["code"] == "internal");
  CHECK(repeat["error"]["message"].get<std::string>().find("kept for repeats") != std::string::npos);
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  CHECK(d.process().output().find("over the 1048576 kept for repeats") != std::string::npos);
}
