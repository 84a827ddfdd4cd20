// Crash under load: tollgated is SIGKILLed at a random moment while 100
// clients call, then restarted on the same ledger, 20 times. After each
// restart nothing is reserved, every call that got a reply is charged, and
// usage is never below what the provider served.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "protocol/json_bridge.h"
#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

constexpr int kClients = 100;
constexpr int kRounds = 20;
const std::vector<std::string> kProviders = {"anthropic", "openai"};

// What the clients saw: tokens in ok replies by provider, and how many
// replies of any kind arrived. Shared by the client threads.
struct Replies {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, uint64_t> tokens;  // provider -> total_tokens replied
  uint64_t count = 0;

  void add(const json& reply) {
    std::lock_guard lock(mu);
    if (reply.value("ok", false)) {
      tokens[reply["provider"].get<std::string>()] += reply["usage"]["total_tokens"].get<uint64_t>();
    }
    ++count;
    cv.notify_all();
  }
  // Waits until `n` replies arrived in total; false on timeout.
  bool wait_for(uint64_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return count >= n; });
  }
};

// One client: calls one after another on its own DEALER until `stop`.
// No Catch2 assertions here (they are not thread-safe); replies are
// checked by the main thread through `replies`.
void client_loop(zmq::context_t& ctx, const std::string& endpoint, int index, const std::atomic<bool>& stop,
                 Replies& replies) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  const std::string agent = "agent" + std::to_string(index % 5);
  int64_t id = 0;
  while (!stop.load()) {
    json body = call_body(agent, "crash round call " + std::to_string(id), 30);
    body["id"] = ++id;
    auto bytes = tollgate::protocol::from_json(body);
    if (!s.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) continue;
    while (!stop.load()) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 100ms);
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      if (!s.recv(m)) continue;
      auto reply = tollgate::protocol::to_json(m.to_string());
      if (reply.ok()) replies.add(*reply);
      break;
    }
  }
}

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
  Replies replies;
  std::mt19937 rng(Catch::rngSeed());
  std::uniform_int_distribution<uint64_t> moment(1, 300);
  uint64_t recovered_rounds = 0;

  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    {
      TollgatedProcess d(env);
      std::atomic<bool> stop{false};
      const uint64_t target = replies.count + moment(rng);
      {
        std::vector<std::jthread> clients;
        for (int c = 0; c < kClients; ++c) {
          clients.emplace_back([&, c] { client_loop(ctx, d.requests(), c, stop, replies); });
        }
        REQUIRE(replies.wait_for(target, scaled(30s)));
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
    std::map<std::string, uint64_t> replied;
    {
      std::lock_guard lock(replies.mu);
      replied = replies.tokens;
    }
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
