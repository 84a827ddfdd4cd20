// Budgets that are spent, not stranded (PROTOCOL.md section 3, rules 4 and
// 6; section 4, "exhausted"): bursts of concurrent calls through the real
// tollgated and a fake provider that counts one token per character (as
// real tokenizers do on CJK text and digits), checked against the ledger,
// the replies and what the provider served.
#include <catch2/catch.hpp>

#include <signal.h>

#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

// 200 CJK characters (600 bytes) and some digits: ~226 tokens as the fake
// counts them, about 155 as bytes / 4 would guess.
std::string cjk_prompt(int n) {
  std::string p;
  for (int i = 0; i < 200; ++i) p += "\xe6\xbc\xa2";
  return p + " " + std::to_string(1000000 + n) + "0123456789";
}

struct BurstResult {
  std::map<std::string, uint64_t> reply_tokens;  // provider -> tokens in ok replies
  std::map<std::string, int> codes;              // "ok" or the error code
  int unanswered = 0;
};

// `clients` DEALERs at once, each sending `calls` calls one after another.
BurstResult burst(zmq::context_t& ctx, const TollgatedProcess& d, int clients, int calls,
                  const std::function<json(int client, int call)>& body) {
  BurstResult out;
  std::mutex mu;
  std::vector<std::jthread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(ctx, d.requests());
      for (int i = 0; i < calls; ++i) {
        // No Catch2 assertions on this thread: results are collected.
        auto r = client.try_request(body(c, i), scaled(60s));
        std::lock_guard lock(mu);
        if (!r) {
          ++out.unanswered;
        } else if ((*r)["ok"] == true) {
          ++out.codes["ok"];
          out.reply_tokens[(*r)["provider"].get<std::string>()] +=
              (*r)["usage"]["total_tokens"].get<uint64_t>();
        } else {
          ++out.codes[(*r)["error"]["code"].get<std::string>()];
        }
      }
    });
  }
  threads.clear();  // joins
  return out;
}

// Every budget of `agent` is within `slack` of its limit and not over it,
// nothing stays reserved, and the ledger, the replies and the provider agree.
void check_spent(TestClient& control, const FakeProviderProcess& fake, const std::string& agent,
                 const BurstResult& r, uint64_t slack) {
  auto u = control.request({{"op", "usage"}, {"ai_name", agent}});
  INFO(u.dump());
  auto stats = fake.stats();
  for (const auto& provider : {"anthropic", "openai"}) {
    INFO(provider);
    const auto& p = u["providers"][provider];
    const uint64_t used = p["used"].get<uint64_t>();
    const uint64_t limit = p["limit"].get<uint64_t>();
    CHECK(p["reserved"] == 0);
    CHECK(used <= limit);
    CHECK(limit - used < slack);
    auto it = r.reply_tokens.find(provider);
    CHECK(used == (it == r.reply_tokens.end() ? 0 : it->second));
    CHECK(used == served(stats, provider));
  }
}

// Sends a call whose answer the fake holds back (a delay fault), and
// returns once its reservation holds room in imperium's anthropic budget.
void hold_room(TestClient& slow, TestClient& status) {
  slow.send(call_body("imperium", "the slow one", 800));  // holds 800+ of 1000
  const auto give_up = std::chrono::steady_clock::now() + scaled(10s);
  while (status.request({{"op", "usage"}, {"ai_name", "imperium"}})["providers"]["anthropic"]
             ["reserved"] == 0) {
    REQUIRE(std::chrono::steady_clock::now() < give_up);
  }
}

// Polls provider_status until `n` calls wait for anthropic; false after 10 s.
bool waiting_for_anthropic(TestClient& status, uint64_t n) {
  const auto give_up = std::chrono::steady_clock::now() + scaled(10s);
  while (std::chrono::steady_clock::now() < give_up) {
    if (status.request({{"op", "provider_status"}})["providers"]["anthropic"]["waiting"] == n) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a burst of concurrent calls spends each budget to within one call of its limit and never over it") {
  FakeProviderProcess fake({"--tokenizer", "chars"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "5000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "2000"},
                                                 {"ANTHROPIC_RPM", "0"},
                                                 {"OPENAI_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient control(ctx, d.requests());
  // 24 clients, 8 calls each, all at once.
  auto r = burst(ctx, d, 24, 8, [](int c, int i) {
    return call_body("imperium", cjk_prompt(c * 100 + i), 50);
  });
  INFO("ok " << r.codes["ok"] << ", budget_exhausted " << r.codes["budget_exhausted"]);
  CHECK(r.unanswered == 0);
  CHECK(r.codes["ok"] + r.codes["budget_exhausted"] == 192);
  // One call reserves at most 600 + 20 + 11 bytes + overheads + 50 = 705.
  check_spent(control, fake, "imperium", r, 705);
  // Anthropic was spent past its 95% fallback threshold, never stranded.
  auto u = control.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(u["providers"]["anthropic"]["used"].get<uint64_t>() >= 4750);
  // The counting endpoint was used only near the edge, not once per call.
  CHECK(fake.stats()["anthropic"]["count_requests"].get<uint64_t>() < 192 / 4);
  // After the burst the agent is not locked out: a call that fits is served.
  auto small = control.request(call_body("imperium", "ok?", 5));
  INFO(small.dump());
  CHECK(small["ok"] == true);
}

TEST_CASE("four hundred calls of mixed sizes from forty threads never overshoot and strand nothing") {
  FakeProviderProcess fake({"--tokenizer", "chars"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "20000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "6000"},
                                                 {"ANTHROPIC_RPM", "0"},
                                                 {"OPENAI_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient control(ctx, d.requests());
  auto r = burst(ctx, d, 40, 10, [](int c, int i) {
    // Sizes from a short question to ~700 tokens, max_tokens 20..200.
    std::string prompt = (c + i) % 3 == 0 ? "short " + std::to_string(i) : cjk_prompt(c * 10 + i);
    if ((c + i) % 5 == 0) prompt += prompt;
    return call_body("fleet", prompt, static_cast<uint64_t>(20 + (c * 7 + i * 11) % 181));
  });
  CHECK(r.unanswered == 0);
  CHECK(r.codes["ok"] + r.codes["budget_exhausted"] == 400);
  // The largest call reserves 2 * 631 + 24 + 200 bytes-bound tokens.
  check_spent(control, fake, "fleet", r, 1500);
}

TEST_CASE("a call too large for what is left gets budget_exhausted saying so while the next small call succeeds") {
  FakeProviderProcess fake({"--tokenizer", "chars", "--output-tokens", "10"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "1000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "400"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto big = client.request(call_body("imperium", "tell me a long story", 2000));
  INFO(big.dump());
  REQUIRE(big["ok"] == false);
  CHECK(big["error"]["code"] == "budget_exhausted");
  const std::string message = big["error"]["message"].get<std::string>();
  CHECK(message.find("both_exhausted") != std::string::npos);
  CHECK(message.find("anthropic: needs 2,0") != std::string::npos);
  CHECK(message.find("1,000 left") != std::string::npos);
  CHECK(message.find("openai: needs 2,0") != std::string::npos);
  CHECK(message.find("400 left") != std::string::npos);
  auto small = client.request(call_body("imperium", "a short one", 50));
  INFO(small.dump());
  CHECK(small["ok"] == true);
  CHECK(small["provider"] == "anthropic");
  // The refusal marked nothing exhausted.
  auto u = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(u["level"] == "normal");
  CHECK(client.request({{"op", "alerts"}})["alerts"].empty());
}

TEST_CASE("a call queued for room held by a slow call gets timeout at its deadline") {
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=4000:times=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "1000"},
                                                 {"ENABLE_OPENAI_FALLBACK", "false"}}));
  zmq::context_t ctx;
  TestClient slow(ctx, d.requests());
  TestClient client(ctx, d.requests());
  hold_room(slow, client);
  auto body = call_body("imperium", "a queued one", 300);
  body["timeout_ms"] = 500;
  const auto started = std::chrono::steady_clock::now();
  auto r = client.request(body);
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(r.dump());
  CHECK(r["ok"] == false);
  CHECK(r["error"]["code"] == "timeout");
  CHECK(took >= 450ms);
  CHECK(took < scaled(3s));
  auto slow_reply = slow.receive(scaled(20s));
  REQUIRE(slow_reply);
  CHECK((*slow_reply)["ok"] == true);
  auto u = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(u["providers"]["anthropic"]["reserved"] == 0);
}

TEST_CASE("a queued call whose admission wait ends falls back and shows in provider_status while it waits") {
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=3000:times=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "1000"},
                                                 {"TOLLGATE_ADMISSION_WAIT_MS", "1500"}}));
  zmq::context_t ctx;
  TestClient slow(ctx, d.requests());
  TestClient client(ctx, d.requests());
  TestClient status(ctx, d.requests());
  hold_room(slow, status);
  client.send(call_body("imperium", "a queued one", 300));
  CHECK(waiting_for_anthropic(status, 1));
  auto r = client.receive(scaled(20s));
  REQUIRE(r);
  INFO(r->dump());
  CHECK((*r)["ok"] == true);
  CHECK((*r)["provider"] == "openai");
  CHECK((*r)["reason"] == "fallback_threshold");
  CHECK(attempt_codes(*r) == "anthropic:skipped:fallback_threshold openai:ok ");
  REQUIRE(slow.receive(scaled(20s)));
}

TEST_CASE("SIGTERM with calls queued for budget room answers every one of them") {
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=30000:times=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "1000"},
                                                 {"ENABLE_OPENAI_FALLBACK", "false"},
                                                 {"TOLLGATE_SHUTDOWN_DRAIN_MS", "500"}}));
  zmq::context_t ctx;
  TestClient slow(ctx, d.requests());
  TestClient client(ctx, d.requests());
  TestClient status(ctx, d.requests());
  hold_room(slow, status);
  for (int i = 0; i < 3; ++i) client.send(call_body("imperium", "queued " + std::to_string(i), 300));
  REQUIRE(waiting_for_anthropic(status, 3));
  d.process().signal(SIGTERM);
  for (int i = 0; i < 3; ++i) {
    auto r = client.receive(scaled(5s));  // at once, not after the drain
    REQUIRE(r);
    INFO(r->dump());
    CHECK((*r)["ok"] == false);
    CHECK((*r)["error"]["message"].get<std::string>().find("shutting down") != std::string::npos);
  }
  // The slow call is cut after TOLLGATE_SHUTDOWN_DRAIN_MS (500 ms), well
  // before the default drain of 10 s would end.
  CHECK(d.process().wait_exit(scaled(5s)) == 0);
  auto u = fake.stats();
  CHECK(u["anthropic"]["requests"] <= 1);  // the queued calls never reached it
}
