// Crash under load: tollgated is SIGKILLed at a random moment while 100
// clients call, then restarted on the same ledger, 20 times. After each
// restart nothing is reserved, every call that got a reply is charged, and
// usage is never below what the provider served.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/load_clients.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

constexpr int kClients = 100;
constexpr int kRounds = 20;
const std::vector<std::string> kProviders = {"anthropic", "openai"};

}  // namespace

TEST_CASE("SIGKILL under load from 100 clients never loses or leaks usage across 20 restarts") {
  FakeProviderProcess fake;
  TempDir data;
  const Env env = merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()},
                                              {"ANTHROPIC_MONTHLY_LIMIT", "100000000"},
                                              {"OPENAI_MONTHLY_LIMIT", "100000000"},
                                              {"ANTHROPIC_RPM", "0"},
                                              {"OPENAI_RPM", "0"},
                                              {"ANTHROPIC_RPD", "0"},
                                              {"OPENAI_RPD", "0"}});
  zmq::context_t ctx;
  ReplyTally replies;
  std::mt19937 rng(Catch::rngSeed());
  std::uniform_int_distribution<uint64_t> moment(1, 300);
  uint64_t recovered_rounds = 0;

  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    {
      TollgatedProcess d(env);
      std::atomic<bool> stop{false};
      const uint64_t target = replies.replies + moment(rng);
      {
        std::vector<std::jthread> clients;
        for (int c = 0; c < kClients; ++c) {
          clients.emplace_back([&, c] {
            call_until_stopped(ctx, d.requests(), "agent" + std::to_string(c % 5), "crash round", stop,
                               replies);
          });
        }
        const bool replied = replies.wait_for_replies(target, scaled(30s));
        if (!replied) stop = true;  // or the clients never end and the test hangs
        INFO(d.process().output());
        REQUIRE(replied);
        d.process().signal(SIGKILL);
        REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
        stop = true;
      }
    }
    TollgatedProcess d(env);
    if (d.process().output().find("recovered") != std::string::npos) ++recovered_rounds;
    TestClient client(ctx, d.requests());
    auto summary = client.request({{"op", "summary"}});
    auto stats = fake.stats();
    INFO(summary.dump());
    INFO(stats.dump());
    auto replied = replies.tokens_by_provider();
    for (const auto& p : kProviders) {
      const auto& totals = summary["providers"][p];
      CHECK(totals["reserved"] == 0);
      CHECK(totals["used"].get<uint64_t>() >= served(stats, p));
      CHECK(totals["used"].get<uint64_t>() >= replied[p]);
    }
    for (const auto& agent : summary["agents"]) {
      auto usage = client.request({{"op", "usage"}, {"ai_name", agent["ai_name"]}});
      for (const auto& p : kProviders) CHECK(usage["providers"][p]["reserved"] == 0);
    }
  }
  // The kills landed with calls in flight: some restarts had reservations
  // to recover (otherwise this test would not be testing recovery).
  CHECK(recovered_rounds > 0);
}

TEST_CASE("a second tollgated on the same data directory exits naming the first one's pid and charges nothing") {
  TempDir data;
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=20000"});
  TollgatedProcess first(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()}}));
  zmq::context_t ctx;
  TestClient caller(ctx, first.requests());
  TestClient client(ctx, first.requests());
  // A call in flight holds a reservation: what a second daemon's crash
  // recovery would charge in full.
  caller.send(call_body("imperium", "this call is still running", 100));
  json u;
  auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  do {
    u = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  } while (u["providers"]["anthropic"]["reserved"] == 0 && std::chrono::steady_clock::now() < deadline);
  const uint64_t reserved = u["providers"]["anthropic"]["reserved"].get<uint64_t>();
  REQUIRE(reserved > 0);

  // Its own endpoints, the same data directory.
  ChildProcess second(bin_dir() + "/tollgated", {},
                      merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()},
                                                  {"TOLLGATE_LISTEN", "tcp://127.0.0.1:0"},
                                                  {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
                                                  {"TOLLGATE_HTTP", "off"}}));
  auto status = second.wait_exit(scaled(20s));
  const std::string out = second.output();
  INFO(out);
  REQUIRE(status.has_value());
  CHECK(*status == 2);
  CHECK(out.find("in use by another tollgated (pid " + std::to_string(first.process().pid()) + ",") !=
        std::string::npos);
  CHECK(out.find("ready") == std::string::npos);
  CHECK(out.find("recovered") == std::string::npos);

  // The first keeps serving, its reservation untouched.
  auto after = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(after["providers"]["anthropic"]["reserved"] == reserved);
  CHECK(after["providers"]["anthropic"]["used"] == 0);
  CHECK(client.request({{"op", "ping"}})["pid"] == first.process().pid());
}
