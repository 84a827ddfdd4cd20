// The response cache (PROTOCOL.md section 10, `cache: true`) against the
// real daemon and fake provider: a hit costs no tokens and no provider
// request and says so in its reply and usage event; concurrent identical
// calls make one provider call; entries expire; errors and cut streams are
// never cached; other parameters or another model chain miss; an agent's
// TOML `cache = true`. What reached the provider is read from
// fake-provider's stats, hits and misses from /metrics.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <fstream>
#include <map>
#include <string>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;
using Events = std::vector<std::pair<std::string, json>>;

namespace {

constexpr const char* kPrompt = "what is in the cache today?";

json cached_call(const std::string& agent, const std::string& prompt = kPrompt,
                 uint64_t max_tokens = 50) {
  json body = call_body(agent, prompt, max_tokens);
  body["cache"] = true;
  return body;
}

uint64_t provider_requests(const FakeProviderProcess& fake) {
  const auto stats = fake.stats();
  return stats["anthropic"]["requests"].get<uint64_t>() +
         stats["openai"]["requests"].get<uint64_t>();
}

// The daemon with the HTTP listener (for /metrics) and no local rate limit.
Env cache_env(const FakeProviderProcess& fake, Env extra = {}) {
  return merge(
      merge(fake.provider_env(),
            {{"TOLLGATE_HTTP", "127.0.0.1:0"}, {"ANTHROPIC_RPM", "0"}, {"OPENAI_RPM", "0"}}),
      extra);
}

// The value of an unlabelled sample in GET /metrics (-1 when absent).
double metric(TollgatedProcess& d, const std::string& name) {
  httplib::Client http("http://" + d.http());
  auto res = http.Get("/metrics");
  REQUIRE(res);
  const std::string needle = "\n" + name + " ";
  const auto at = res->body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(res->body.substr(at + needle.size()));
}

// Sends every body at once on one connection, then collects one reply each,
// by id.
std::map<int64_t, json> send_all(TestClient& client, std::vector<json> bodies) {
  for (size_t i = 0; i < bodies.size(); ++i) {
    bodies[i]["id"] = static_cast<int64_t>(5000 + i);
    client.send(bodies[i]);
  }
  std::map<int64_t, json> replies;
  while (replies.size() < bodies.size()) {
    auto m = client.receive(scaled(30s));
    REQUIRE(m);
    if (m->contains("chunk")) continue;
    replies[(*m)["id"].get<int64_t>()] = *m;
  }
  return replies;
}

std::string write_toml(const TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/tollgate.toml";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE(
    "a cache hit costs no tokens and no provider request and says cached in its reply and usage "
    "event") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);

  auto first = client.request(cached_call("imperium"));
  INFO(first.dump());
  REQUIRE(first["ok"] == true);
  CHECK_FALSE(first.contains("cached"));
  const json usage_before = client.request({{"op", "usage"}, {"ai_name", "imperium"}})["providers"];
  const uint64_t served_before = provider_requests(fake);
  CHECK(served_before == 1);

  auto hit = client.request(cached_call("imperium"));
  INFO(hit.dump());
  REQUIRE(hit["ok"] == true);
  CHECK(hit["cached"] == true);
  CHECK(hit["replayed"] == false);
  CHECK(hit["text"] == first["text"]);
  CHECK(hit["provider"] == first["provider"]);
  CHECK(hit["model"] == first["model"]);
  CHECK(hit["usage"] == first["usage"]);  // the original answer's, as reported then
  CHECK(provider_requests(fake) == served_before);
  CHECK(client.request({{"op", "usage"}, {"ai_name", "imperium"}})["providers"] == usage_before);

  // The usage events: the first charged, the hit with zero tokens and cost.
  REQUIRE(events.wait_until(
      [](const Events& evs) {
        return std::count_if(evs.begin(), evs.end(),
                             [](const auto& e) { return e.first == "usage.imperium"; }) >= 2;
      },
      scaled(5s)));
  auto usage_events = events.with_prefix("usage.imperium");
  CHECK_FALSE(usage_events[0].contains("cached"));
  CHECK(usage_events[0]["total_tokens"] == first["usage"]["total_tokens"]);
  CHECK(usage_events[1]["cached"] == true);
  CHECK(usage_events[1]["total_tokens"] == 0);
  CHECK(usage_events[1]["input_tokens"] == 0);
  CHECK(usage_events[1]["cost_usd"] == 0.0);
  CHECK(usage_events[1]["provider"] == first["provider"]);
  CHECK(usage_events[1]["model"] == first["model"]);

  // Without cache: true the same call runs.
  auto uncached = client.request(call_body("imperium", kPrompt, 50));
  CHECK_FALSE(uncached.contains("cached"));
  CHECK(provider_requests(fake) == served_before + 1);
  CHECK(metric(d, "tollgate_cache_hits_total") == 1);
  CHECK(metric(d, "tollgate_cache_misses_total") == 1);
  CHECK(metric(d, "tollgate_cache_entries") == 1);
  CHECK(metric(d, "tollgate_cache_bytes") > 0);
}

TEST_CASE("fifty concurrent identical cache calls make one provider call") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  // The first answer takes a while, so the others arrive while it runs.
  fake.set_faults(json::array({"anthropic:delay_ms=1000:times=1"}));
  auto replies = send_all(client, std::vector<json>(50, cached_call("imperium")));
  size_t cached = 0;
  for (const auto& [id, r] : replies) {
    INFO(r.dump());
    REQUIRE(r["ok"] == true);
    CHECK(r["text"] == replies.begin()->second["text"]);
    if (r.value("cached", false)) ++cached;
  }
  CHECK(cached == 49);
  CHECK(provider_requests(fake) == 1);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["requests"] == 1);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(metric(d, "tollgate_cache_hits_total") == 49);
  CHECK(metric(d, "tollgate_cache_misses_total") == 1);
}

TEST_CASE("calls waiting for a failed identical call run again and never get its error") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  // The first call fails (a 400: no retry, no fallback) after the others
  // have joined it.
  fake.set_faults(json::array({"anthropic:delay_ms=1000:status=400:times=1"}));
  auto replies = send_all(client, std::vector<json>(5, cached_call("imperium")));
  size_t failed = 0, ran = 0, cached = 0;
  for (const auto& [id, r] : replies) {
    INFO(r.dump());
    if (r["ok"] == false) {
      CHECK(r["error"]["code"] == "provider_error");
      ++failed;
    } else {
      ++(r.value("cached", false) ? cached : ran);
    }
  }
  CHECK(failed == 1);
  CHECK(ran == 1);  // the first waiter led the key again
  CHECK(cached == 3);
  CHECK(provider_requests(fake) == 2);
}

TEST_CASE("a cached answer is served until its TTL passes and then the call runs again") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake, {{"TOLLGATE_CACHE_TTL_SECONDS", "2"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  REQUIRE(client.request(cached_call("imperium"))["ok"] == true);
  auto hit = client.request(cached_call("imperium"));
  REQUIRE(hit["cached"] == true);
  CHECK(provider_requests(fake) == 1);
  // The TTL passes while another call is at the provider: the fake holds
  // it 2.5 s, and the test waits for its reply, not on a timer of its own.
  fake.set_faults(json::array({"anthropic:delay_ms=2500:times=1"}));
  REQUIRE(client.request(call_body("imperium", "a slow call in between"))["ok"] == true);
  CHECK(provider_requests(fake) == 2);
  auto expired = client.request(cached_call("imperium"));
  INFO(expired.dump());
  REQUIRE(expired["ok"] == true);
  CHECK_FALSE(expired.contains("cached"));
  CHECK(provider_requests(fake) == 3);
  // Stored again: the next one is a hit.
  CHECK(client.request(cached_call("imperium"))["cached"] == true);
  CHECK(provider_requests(fake) == 3);
  CHECK(metric(d, "tollgate_cache_evictions_total{reason=\"expired\"}") == 1);
}

TEST_CASE("the cache stays under TOLLGATE_CACHE_MAX_MB by evicting the oldest answers first") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake, {{"TOLLGATE_CACHE_MAX_MB", "1"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  // Prompts of 200 bytes: replies of about 600 bytes, so 2000 of them do
  // not fit 1 MiB.
  auto prompt = [](int i) { return "question " + std::to_string(i) + " " + std::string(180, 'x'); };
  REQUIRE(client.request(cached_call("imperium", prompt(0)))["ok"] == true);  // the oldest
  std::vector<json> burst;
  for (int i = 1; i <= 2000; ++i) burst.push_back(cached_call("imperium", prompt(i)));
  for (const auto& [id, r] : send_all(client, burst)) REQUIRE(r["ok"] == true);
  CHECK(provider_requests(fake) == 2001);
  CHECK(metric(d, "tollgate_cache_bytes") <= 1 << 20);
  CHECK(metric(d, "tollgate_cache_bytes") > (1 << 20) - 2000);
  CHECK(metric(d, "tollgate_cache_evictions_total{reason=\"size\"}") > 0);
  CHECK(metric(d, "tollgate_cache_entries") < 2001);
  // The oldest went first: asked again it runs (and is stored anew).
  auto oldest = client.request(cached_call("imperium", prompt(0)));
  CHECK_FALSE(oldest.contains("cached"));
  CHECK(provider_requests(fake) == 2002);
  CHECK(client.request(cached_call("imperium", prompt(0)))["cached"] == true);
}

TEST_CASE("an error or a cut stream is never cached") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  fake.set_faults(json::array({"anthropic:status=400:times=1"}));
  auto failed = client.request(cached_call("imperium"));
  REQUIRE(failed["ok"] == false);
  auto ran = client.request(cached_call("imperium"));
  REQUIRE(ran["ok"] == true);
  CHECK_FALSE(ran.contains("cached"));
  CHECK(provider_requests(fake) == 2);

  // A streamed call cut after its first parts (message_start, block start,
  // ping, two deltas): partial, not stored.
  fake.set_faults(json::array({"anthropic:stream_cut_after=5:times=1"}));
  json streamed = cached_call("imperium", "a streamed question");
  streamed["stream"] = true;
  auto cut = send_all(client, {streamed}).begin()->second;
  INFO(cut.dump());
  REQUIRE(cut["ok"] == false);
  CHECK(cut["partial"] == true);
  auto complete = send_all(client, {streamed}).begin()->second;
  REQUIRE(complete["ok"] == true);
  CHECK_FALSE(complete.contains("cached"));
  CHECK(provider_requests(fake) == 4);
  // The complete stream's answer is stored: a streamed hit is its final
  // reply alone (no parts), and an unstreamed call gets it too.
  json streamed_hit = streamed;
  streamed_hit["id"] = "streamed-hit";
  client.send(streamed_hit);
  auto first_message = client.receive(scaled(10s));
  REQUIRE(first_message);
  CHECK_FALSE(first_message->contains("chunk"));
  CHECK((*first_message)["cached"] == true);
  CHECK(client.request(cached_call("imperium", "a streamed question"))["cached"] == true);
  CHECK(provider_requests(fake) == 4);
}

TEST_CASE(
    "other parameters or another model chain miss and agents with the same chain share answers") {
  FakeProviderProcess fake;
  TempDir dir;
  const auto toml = write_toml(dir, R"(
[agents.imperium]
[agents.guardian]
cache = true
[agents.batch]
chain = ["openai"]
)");
  TollgatedProcess d(cache_env(fake), {"--config", toml});
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  REQUIRE(client.request(cached_call("imperium"))["ok"] == true);
  CHECK(provider_requests(fake) == 1);
  auto other_max = client.request(cached_call("imperium", kPrompt, 51));
  CHECK_FALSE(other_max.contains("cached"));
  json other_temperature = cached_call("imperium");
  other_temperature["temperature"] = 0.1;
  CHECK_FALSE(client.request(other_temperature).contains("cached"));
  CHECK(provider_requests(fake) == 3);
  // batch walks another chain (openai only): a miss, answered by openai.
  auto batch = client.request(cached_call("batch"));
  CHECK_FALSE(batch.contains("cached"));
  CHECK(batch["provider"] == "openai");
  CHECK(provider_requests(fake) == 4);
  // guardian has imperium's chain, and cache = true in TOML: it needs no
  // `cache` field and gets imperium's answer.
  auto guardian = client.request(call_body("guardian", kPrompt, 50));
  INFO(guardian.dump());
  CHECK(guardian["cached"] == true);
  CHECK(provider_requests(fake) == 4);
}

TEST_CASE("tollctl call with the cache flag asks for the cache and says when a reply was cached") {
  FakeProviderProcess fake;
  TollgatedProcess d(cache_env(fake));
  auto tollctl = [&] {
    ChildProcess p(
        bin_dir() + "/tollctl",
        {"--endpoint", d.requests(), "call", "imperium", "a question for tollctl", "--cache"}, {});
    auto status = p.wait_exit(scaled(20s));
    INFO("tollctl output:\n" << p.output());
    REQUIRE(status == 0);
    return p.output();
  };
  const std::string first = tollctl();
  CHECK(first.find("(cached)") == std::string::npos);
  const std::string second = tollctl();
  INFO(second);
  CHECK(second.find("(cached)") != std::string::npos);
  CHECK(provider_requests(fake) == 1);
}
