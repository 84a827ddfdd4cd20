// SIGHUP: tollgated re-reads limits and thresholds from its TOML file while
// calls are in flight, and keeps the running configuration when the new
// file is broken.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// Polls `op` until pred holds for its reply or the time is up.
template <class Pred>
json poll_until(TestClient& client, const json& op, Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  json reply = client.request(op);
  while (!pred(reply) && std::chrono::steady_clock::now() < deadline) reply = client.request(op);
  return reply;
}

const json kUsage = {{"op", "usage"}, {"ai_name", "imperium"}};

}  // namespace

TEST_CASE("SIGHUP applies new limits and thresholds without dropping a call in flight") {
  TempDir dir;
  const std::string toml = dir.path() + "/tollgate.toml";
  write_file(toml, "[agents.imperium]\nanthropic = 100000\n");
  // The first Anthropic request waits two seconds: it is in flight across
  // the reload.
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=2000:times=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_RPM", "0"}}), {"--config", toml});
  zmq::context_t ctx;
  TestClient control(ctx, d.requests());
  TestClient caller(ctx, d.requests());
  REQUIRE(control.request(kUsage)["providers"]["anthropic"]["limit"] == 100000);

  caller.send(call_body("imperium", "slow one", 20));
  auto reserving = poll_until(control, kUsage, [](const json& u) {
    return u["providers"]["anthropic"]["reserved"].get<uint64_t>() > 0;
  });
  REQUIRE(reserving["providers"]["anthropic"]["reserved"].get<uint64_t>() > 0);

  write_file(toml,
             "[settings]\nALERT_WARNING_THRESHOLD = 0.20\n\n"
             "[agents.imperium]\nanthropic = 200\n");
  d.process().signal(SIGHUP);
  auto reloaded = poll_until(control, kUsage, [](const json& u) {
    return u["providers"]["anthropic"]["limit"] == 200;
  });
  CHECK(reloaded["providers"]["anthropic"]["limit"] == 200);

  // The call that was in flight is answered and charged.
  auto slow = caller.receive(15s);
  REQUIRE(slow.has_value());
  INFO(slow->dump());
  REQUIRE((*slow)["ok"] == true);
  CHECK((*slow)["provider"] == "anthropic");
  const uint64_t first = (*slow)["usage"]["total_tokens"].get<uint64_t>();
  REQUIRE(first * 5 < 200);  // below the new warning threshold on its own

  // One more call crosses 20 percent of 200: under the old 80 percent
  // threshold it would not alert.
  auto second = control.request(call_body("imperium", "second one", 20));
  INFO(second.dump());
  REQUIRE(second["ok"] == true);
  auto usage = control.request(kUsage);
  const uint64_t used = usage["providers"]["anthropic"]["used"].get<uint64_t>();
  CHECK(used == first + second["usage"]["total_tokens"].get<uint64_t>());
  CHECK(used * 100 >= 20 * 200);
  auto alerts = control.request({{"op", "alerts"}, {"ai_name", "imperium"}});
  INFO(alerts.dump());
  bool warned = false;
  for (const auto& a : alerts["alerts"]) {
    if (a["level"] == "warning" && a["provider"] == "anthropic") warned = true;
  }
  CHECK(warned);
}

TEST_CASE("SIGHUP with a broken file keeps the running configuration") {
  TempDir dir;
  const std::string toml = dir.path() + "/tollgate.toml";
  write_file(toml, "[agents.imperium]\nanthropic = 4000\n");
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env(), {"--config", toml});
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());

  write_file(toml, "[agents.imperium]\nanthropic = -5\n");
  d.process().signal(SIGHUP);
  // The refusal is logged; wait for it through pings (the loop handles the
  // signal between requests).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (d.process().output().find("reload refused") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    REQUIRE(client.request({{"op", "ping"}})["ok"] == true);
  }
  const std::string out = d.process().output();
  INFO(out);
  CHECK(out.find("reload refused, keeping the running configuration") != std::string::npos);
  CHECK(client.request(kUsage)["providers"]["anthropic"]["limit"] == 4000);
  CHECK(client.request(call_body("imperium", "still serving", 10))["ok"] == true);
}

TEST_CASE("SIGHUP re-reads the env file given with --env-file") {
  // The systemd unit passes --env-file=-/etc/tollgate/tollgate.env: edits
  // to that file must take effect on `systemctl reload`.
  TempDir dir;
  const std::string env = dir.path() + "/tollgate.env";
  write_file(env, "ANTHROPIC_MONTHLY_LIMIT=5000\nALERT_WARNING_THRESHOLD=0.5\n");
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env(), {"--env-file=-" + env});
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  REQUIRE(client.request(kUsage)["providers"]["anthropic"]["limit"] == 5000);

  write_file(env, "# raised\nANTHROPIC_MONTHLY_LIMIT=6000\n");
  d.process().signal(SIGHUP);
  auto reloaded = poll_until(client, kUsage, [](const json& u) {
    return u["providers"]["anthropic"]["limit"] == 6000;
  });
  CHECK(reloaded["providers"]["anthropic"]["limit"] == 6000);
}
