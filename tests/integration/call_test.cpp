// The call path end to end: real tollgated, real fake-provider over HTTP.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <thread>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;
using Events = std::vector<std::pair<std::string, json>>;

TEST_CASE("a call goes to Anthropic first and is charged what the provider reported") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);

  auto reply = client.request(call_body("imperium", "hello there, how are you today?"));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "anthropic");
  CHECK(reply["reason"] == "primary");
  CHECK(reply["text"].get<std::string>().find("echo:") == 0);
  CHECK(reply["replayed"] == false);
  auto stats = fake.stats();
  const uint64_t served = stats["anthropic"]["input_tokens"].get<uint64_t>() +
                          stats["anthropic"]["output_tokens"].get<uint64_t>();
  CHECK(reply["usage"]["total_tokens"] == served);
  CHECK(reply["cost_usd"].get<double>() > 0);
  CHECK(attempt_codes(reply) == "anthropic:ok ");

  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["used"] == served);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["anthropic"]["requests"] == 1);

  REQUIRE(events.wait_until([](const Events& evs) {
    for (const auto& e : evs) if (e.first == "usage.imperium") return true;
    return false;
  }, 5s));
  auto usage_events = events.with_prefix("usage.imperium");
  CHECK(usage_events[0]["total_tokens"] == served);
  CHECK(usage_events[0]["provider"] == "anthropic");
}

TEST_CASE("an agent at 95 percent of its Anthropic budget falls back to OpenAI with alerts") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "3000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "100000"},
                                                 {"ANTHROPIC_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);

  bool fell_back = false;
  for (int i = 0; i < 200 && !fell_back; ++i) {
    auto reply = client.request(call_body("imperium", "status report please", 20));
    INFO(reply.dump());
    REQUIRE(reply["ok"] == true);
    if (reply["provider"] == "openai") {
      fell_back = true;
      CHECK(reply["reason"] == "fallback_threshold");
      CHECK(attempt_codes(reply) == "anthropic:skipped:fallback_threshold openai:ok ");
    }
  }
  REQUIRE(fell_back);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  const auto used = usage["providers"]["anthropic"]["used"].get<uint64_t>();
  CHECK(used <= 3000);
  CHECK(used >= 2850);  // the fallback came at 95%, not before
  REQUIRE(events.wait_until([](const Events& evs) {
    int n = 0;
    for (const auto& e : evs) n += e.first == "alert.warning" || e.first == "alert.critical";
    return n >= 2;
  }, 5s));
  auto warning = events.with_prefix("alert.warning");
  REQUIRE(warning.size() == 1);
  CHECK(warning[0]["ai_name"] == "imperium");
  CHECK(warning[0]["provider"] == "anthropic");
  auto alerts = client.request({{"op", "alerts"}, {"ai_name", "imperium"}});
  CHECK(alerts["alerts"].size() >= 2);
}

TEST_CASE("a provider reporting more than the reservation raises over_reservation once") {
  // The fake reports 5000 output tokens past max_tokens (20).
  FakeProviderProcess fake({"--fault", "anthropic:extra_output_tokens=5000"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  for (int i = 0; i < 2; ++i) {
    auto reply = client.request(call_body("imperium", "say a lot", 20));
    INFO(reply.dump());
    REQUIRE(reply["ok"] == true);
    CHECK(reply["usage"]["output_tokens"] == 5020);
  }
  REQUIRE(events.wait_until([](const Events& evs) {
    int usage = 0;
    for (const auto& e : evs) usage += e.first == "usage.imperium";
    return usage >= 2;
  }, 5s));
  auto over = events.with_prefix("alert.over_reservation");
  REQUIRE(over.size() == 1);
  CHECK(over[0]["level"] == "over_reservation");
  CHECK(over[0]["ai_name"] == "imperium");
  CHECK(over[0]["provider"] == "anthropic");
  CHECK(over[0]["message"].get<std::string>().find("more than its reservation") != std::string::npos);
  auto alerts = client.request({{"op", "alerts"}, {"ai_name", "imperium"}});
  INFO(alerts.dump());
  int kept = 0;
  for (const auto& a : alerts["alerts"]) kept += a["level"] == "over_reservation";
  CHECK(kept == 1);
  // Not a threshold level: 10000 of 140000 tokens is still normal.
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["level"] == "normal");
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(client.request({{"op", "emergency_status"}})["level"] == "normal");
}

TEST_CASE("when both providers are exhausted the call gets budget_exhausted naming both_exhausted") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "300"},
                                                 {"OPENAI_MONTHLY_LIMIT", "300"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json last;
  for (int i = 0; i < 40; ++i) {
    last = client.request(call_body("guardian", "x", 100));
    if (last["ok"] == false) break;
  }
  INFO(last.dump());
  REQUIRE(last["ok"] == false);
  CHECK(last["error"]["code"] == "budget_exhausted");
  CHECK(last["error"]["message"].get<std::string>().find("both_exhausted") != std::string::npos);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "guardian"}});
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() <= 300);
  CHECK(usage["providers"]["openai"]["used"].get<uint64_t>() <= 300);
  // Not exhausted (under 1% left) perhaps, but too little left for this
  // call: the message says what it needs and what is left of each.
  const std::string message = last["error"]["message"].get<std::string>();
  CHECK(message.find("anthropic: needs ") != std::string::npos);
  CHECK(message.find("openai: needs ") != std::string::npos);
}

TEST_CASE("Anthropic overloaded 529 after retries falls back with fallback_error") {
  FakeProviderProcess fake({"--fault", "anthropic:status=529:times=3"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body("imperium", "hello"));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "openai");
  CHECK(reply["reason"] == "fallback_error");
  CHECK(attempt_codes(reply) == "anthropic:error:provider_error openai:ok ");
  CHECK(fake.stats()["anthropic"]["requests"] == 3);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
}

TEST_CASE("a 429 with Retry-After is retried after the wait it asks for") {
  FakeProviderProcess fake({"--fault", "anthropic:status=429:retry_after=1:times=1"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body("imperium", "hello"));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "anthropic");
  CHECK(reply["latency_ms"].get<double>() >= 1000.0);
  CHECK(fake.stats()["anthropic"]["requests"] == 2);
}

TEST_CASE("a 400 from the provider ends the call with its message and is neither retried nor passed on") {
  FakeProviderProcess fake({"--fault", "anthropic:status=400:times=1"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body("imperium", "hello"));
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "provider_error");
  const std::string message = reply["error"]["message"];
  CHECK(message.find("anthropic HTTP 400 invalid_request_error: Invalid request") != std::string::npos);
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  CHECK(fake.stats()["openai"]["requests"] == 0);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
}

TEST_CASE("provider 400s never open the circuit for other calls") {
  FakeProviderProcess fake({"--fault", "anthropic:status=400"});
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_CIRCUIT_FAILURES", "5"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  for (int i = 0; i < 7; ++i) {
    auto r = client.request(call_body("mallory", "a request the provider refuses"));
    INFO(r.dump());
    CHECK(r["error"]["code"] == "provider_error");
  }
  CHECK(fake.stats()["anthropic"]["requests"] == 7);
  auto status = client.request({{"op", "provider_status"}});
  CHECK(status["providers"]["anthropic"]["circuit"] == "closed");
  fake.set_faults(json::array());
  auto good = client.request(call_body("imperium", "hello"));
  INFO(good.dump());
  REQUIRE(good["ok"] == true);
  CHECK(good["provider"] == "anthropic");
  CHECK(good["reason"] == "primary");
}

TEST_CASE("a rejected key passes the call to openai and anthropic is skipped until a reload") {
  FakeProviderProcess fake({"--fault", "anthropic:status=401:times=1"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto first = client.request(call_body("imperium", "hello"));
  INFO(first.dump());
  REQUIRE(first["ok"] == true);
  CHECK(first["provider"] == "openai");
  CHECK(first["reason"] == "fallback_error");
  CHECK(attempt_codes(first) == "anthropic:error:provider_error openai:ok ");

  // The fault is spent, but anthropic is not asked again before a reload.
  auto second = client.request(call_body("imperium", "hello again"));
  INFO(second.dump());
  REQUIRE(second["ok"] == true);
  CHECK(attempt_codes(second) == "anthropic:skipped:fallback_error openai:ok ");
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  auto status = client.request({{"op", "provider_status"}, {"ai_name", "imperium"}});
  INFO(status.dump());
  CHECK(status["providers"]["anthropic"]["circuit"] == "closed");
  CHECK(status["agents"][0]["providers"]["anthropic"]["available"] == false);
  CHECK(status["agents"][0]["providers"]["anthropic"]["why"] == "fallback_error");

  d.process().signal(SIGHUP);
  REQUIRE(d.process().wait_for_line("configuration reloaded", scaled(10s)));
  auto after = client.request(call_body("imperium", "new key"));
  INFO(after.dump());
  REQUIRE(after["ok"] == true);
  CHECK(after["provider"] == "anthropic");
  CHECK(after["reason"] == "primary");
}

TEST_CASE("the circuit opens after consecutive failures and closes after a good probe") {
  FakeProviderProcess fake({"--fault", "anthropic:status=500:times=2"});
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_CIRCUIT_FAILURES", "2"},
                                                 {"TOLLGATE_CIRCUIT_OPEN_SECONDS", "1"},
                                                 {"TOLLGATE_MAX_ATTEMPTS", "1"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  for (int i = 0; i < 2; ++i) {
    auto r = client.request(call_body("imperium", "hello"));
    CHECK(r["provider"] == "openai");
  }
  auto skipped = client.request(call_body("imperium", "hello"));
  CHECK(attempt_codes(skipped) == "anthropic:skipped:fallback_circuit_open openai:ok ");
  auto status = client.request({{"op", "provider_status"}});
  // Open, or already half-open when this loaded machine took over the 1 s.
  CHECK(status["providers"]["anthropic"]["circuit"] != "closed");
  // After the open period one probe goes through; calls until it does.
  json probe;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    events.poll(50ms);
    probe = client.request(call_body("imperium", "hello"));
  } while (probe["provider"] != "anthropic" && std::chrono::steady_clock::now() < deadline);
  CHECK(probe["provider"] == "anthropic");
  REQUIRE(events.wait_until([](const Events& evs) {
    for (const auto& e : evs) if (e.first == "provider.anthropic" && e.second["circuit"] == "closed") return true;
    return false;
  }, 5s));
  auto transitions = events.with_prefix("provider.anthropic");
  REQUIRE(transitions.size() == 3);
  CHECK(transitions[0]["circuit"] == "open");
  CHECK(transitions[1]["circuit"] == "half_open");
  CHECK(transitions[2]["circuit"] == "closed");
}

TEST_CASE("a provider at its local rate limit is skipped and then rate_limited is returned") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_RPM", "2"}, {"OPENAI_RPM", "1"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  CHECK(client.request(call_body("imperium", "a"))["provider"] == "anthropic");
  CHECK(client.request(call_body("imperium", "b"))["provider"] == "anthropic");
  auto third = client.request(call_body("imperium", "c"));
  CHECK(third["provider"] == "openai");
  CHECK(third["reason"] == "fallback_rate_limit");
  auto fourth = client.request(call_body("imperium", "d"));
  REQUIRE(fourth["ok"] == false);
  CHECK(fourth["error"]["code"] == "rate_limited");
  CHECK(fourth["error"]["retry_after_ms"].get<int64_t>() > 0);
}

TEST_CASE("a call with no provider key set gets not_configured naming the variable") {
  TollgatedProcess d;
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body("imperium", "hello"));
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "not_configured");
  CHECK(reply["error"]["message"].get<std::string>().find("ANTHROPIC_API_KEY environment variable not set") != std::string::npos);
}

TEST_CASE("a repeated idempotency key is answered from the first call and charged once") {
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=300:times=1"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto body = call_body("imperium", "hello");
  body["idempotency_key"] = "order-42";
  // Two at once: the second waits for the first.
  body["id"] = "first";
  client.send(body);
  body["id"] = "second";
  client.send(body);
  std::map<std::string, json> replies;
  for (int i = 0; i < 2; ++i) {
    auto r = client.receive(10s);
    REQUIRE(r.has_value());
    replies[(*r)["id"].get<std::string>()] = *r;
  }
  CHECK(replies["first"]["replayed"] == false);
  CHECK(replies["second"]["replayed"] == true);
  CHECK(replies["second"]["text"] == replies["first"]["text"]);
  body.erase("id");
  auto third = client.request(body);
  CHECK(third["replayed"] == true);
  CHECK(third["usage"] == replies["first"]["usage"]);
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["requests"] == 1);
}

TEST_CASE("a call past its deadline gets timeout and leaves nothing reserved") {
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=3000", "--fault", "openai:delay_ms=3000"});
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto body = call_body("imperium", "hello");
  body["timeout_ms"] = 300;
  auto reply = client.request(body);
  INFO(reply.dump());
  REQUIRE(reply["ok"] == false);
  CHECK(reply["error"]["code"] == "timeout");
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["openai"]["reserved"] == 0);
}

TEST_CASE("concurrent calls never overshoot a budget and every token is accounted") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "4000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "2500"},
                                                 {"ANTHROPIC_RPM", "0"}, {"OPENAI_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient control(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(control);
  constexpr int kClients = 40;
  constexpr int kCalls = 10;
  const std::vector<std::string> agents = {"a1", "a2", "a3", "a4"};
  std::map<std::string, uint64_t> reply_tokens;  // agent|provider -> tokens
  std::mutex mu;
  int unanswered = 0;  // guarded by mu
  std::vector<std::jthread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(ctx, d.requests());
      for (int i = 0; i < kCalls; ++i) {
        const auto& agent = agents[c % agents.size()];
        // No Catch2 assertions on this thread: failures are counted.
        auto r = client.try_request(call_body(agent, "concurrent call number " + std::to_string(i), 60));
        std::lock_guard lock(mu);
        if (!r) {
          ++unanswered;
        } else if ((*r)["ok"] == true) {
          reply_tokens[agent + "|" + (*r)["provider"].get<std::string>()] +=
              (*r)["usage"]["total_tokens"].get<uint64_t>();
        }
      }
    });
  }
  threads.clear();  // joins
  CHECK(unanswered == 0);
  uint64_t replied_total = 0;
  for (const auto& [k, v] : reply_tokens) replied_total += v;
  uint64_t ledger_total = 0;
  for (const auto& agent : agents) {
    auto u = control.request({{"op", "usage"}, {"ai_name", agent}});
    for (const auto& [provider, p] : u["providers"].items()) {
      INFO(agent << " " << provider);
      CHECK(p["reserved"] == 0);
      CHECK(p["used"].get<uint64_t>() <= p["limit"].get<uint64_t>());
      CHECK(p["used"].get<uint64_t>() == reply_tokens[agent + "|" + provider]);
      ledger_total += p["used"].get<uint64_t>();
    }
  }
  auto stats = fake.stats();
  uint64_t served = 0;
  for (const auto& api : {"anthropic", "openai"}) {
    served += stats[api]["input_tokens"].get<uint64_t>() + stats[api]["output_tokens"].get<uint64_t>();
  }
  CHECK(ledger_total == replied_total);
  CHECK(ledger_total == served);
  REQUIRE(events.wait_until([&](const Events& evs) {
    uint64_t sum = 0;
    for (const auto& [topic, body] : evs) {
      if (topic.rfind("usage.", 0) == 0) sum += body["total_tokens"].get<uint64_t>();
    }
    return sum == served;
  }, 10s));
}

namespace {

// The whole output of a daemon at `level` that served one call, after it
// stopped.
std::string output_of_one_call(const std::string& level, const std::string& prompt) {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_LOG_LEVEL", level}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto reply = client.request(call_body("imperium", prompt));
  REQUIRE(reply["ok"] == true);
  d.process().signal(SIGTERM);
  REQUIRE(d.process().wait_exit(scaled(10s)) == 0);
  return d.process().output();
}

size_t lines_in(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

TEST_CASE("the trace log level adds per-request lines without keys or prompt text") {
  const std::string prompt = "zzPROMPTzz please keep this sentence out of the logs";
  const std::string debug = output_of_one_call("debug", prompt);
  const std::string trace = output_of_one_call("trace", prompt);
  INFO("debug:\n" << debug << "trace:\n" << trace);
  CHECK(lines_in(trace) > lines_in(debug));
  for (const char* line : {"decoded op call ai_name imperium via zmq", "ledger reserve ",
                           "ledger reserved ", "anthropic attempt 1 start: model ",
                           "anthropic attempt 1 end: HTTP 200 in ", "ledger charged ",
                           "call answered by anthropic (primary)", "reply to call: "}) {
    CHECK(trace.find(line) != std::string::npos);
    CHECK(debug.find(line) == std::string::npos);
  }
  CHECK(trace.find("zzPROMPTzz") == std::string::npos);
  CHECK(trace.find(kTestAnthropicKey) == std::string::npos);
}
