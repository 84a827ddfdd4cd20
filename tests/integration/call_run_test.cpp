// CallRun against a ledger that does not answer: a call's deadline holds
// whatever the ledger does, and what the ledger does later still settles
// the call's reservation. A real Ledger (LMDB in a temporary directory)
// whose write batches the test holds, one real Worker, and the fake
// provider over loopback HTTP. Waiting is on the reply, the published
// events and the call objects' count, never on sleep.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/core/reports.h"
#include "daemon/server/mailbox_sink.h"
#include "protocol/json_bridge.h"
#include "tests/integration/call_harness.h"
#include "workers/calls/call_run.h"
#include "workers/calls/worker.h"

using namespace std::chrono_literals;
using namespace tollgate;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Holds every ledger write batch from the hold_from-th on (the 1st is the
// one that opens the ledger) until release().
class BatchGate {
 public:
  explicit BatchGate(int hold_from) : hold_from_(hold_from) {}
  // Writer thread (and the opening thread, for the 1st batch).
  void before_batch() {
    std::unique_lock lock(mu_);
    ++batches_;
    cv_.wait(lock, [&] { return open_ || batches_ < hold_from_; });
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  const int hold_from_;
  std::mutex mu_;
  std::condition_variable cv_;
  int batches_ = 0;    // guarded by mu_
  bool open_ = false;  // guarded by mu_
};

// One worker running calls for agent imperium against the fake's Anthropic
// API, with its ledger behind a BatchGate. Collects the reply and the
// events published after it. Main test thread only, except the callbacks.
class CallBench {
 public:
  CallBench(const FakeProviderProcess& fake, int hold_from) : gate_(hold_from) {
    ConfigSources sources;
    sources.environment = {"ANTHROPIC_API_KEY=" + std::string(kTestAnthropicKey),
                           "ANTHROPIC_BASE_URL=" + fake.base_url(), "ENABLE_OPENAI_FALLBACK=false",
                           "TOLLGATE_DATA_DIR=" + dir_.path()};
    auto loaded = load_config(sources);
    REQUIRE(loaded.ok());
    config_ = std::make_shared<const Config>(std::move(loaded).value());
    ledger::LmdbLedgerOptions options;
    options.dir = dir_.path();
    options.durable = false;
    options.before_batch = [this] { gate_.before_batch(); };
    auto opened = ledger::LmdbLedger::open(options, budget_policy(*config_), wall_ms());
    REQUIRE(opened.ok());
    ledger_ = std::move(opened).value();
    runtime_ = std::make_unique<ProviderRuntime>(*config_, std::map<std::string, uint64_t>{},
                                                 wall_ms());
    env_.ledger = ledger_.get();
    env_.runtime = runtime_.get();
    env_.stopping = &stopping_;
    env_.draining = &draining_;
    env_.alive = &alive_;
    env_.finish = [this](const workers::CallSpec& spec, CallOutcome outcome) {
      std::lock_guard lock(mu_);
      reply_ = wire_reply(spec.id, reply_of(std::move(outcome.reply)));
      cv_.notify_all();
    };
    env_.publish = [this](std::vector<protocol::Event> events) {
      std::lock_guard lock(mu_);
      for (auto& e : events) published_.push_back(std::move(e));
      cv_.notify_all();
    };
    worker_ = std::make_unique<workers::Worker>();
  }

  // Lets the ledger go and waits until no call object is left, so that no
  // ledger callback can reach the worker once it is gone.
  ~CallBench() {
    gate_.release();
    wait_idle();
    worker_.reset();
  }

  void start(int64_t timeout_ms) {
    workers::CallSpec spec;
    spec.token = 1;
    spec.id = protocol::RequestId::from_int(7);
    spec.request.ai_name = "imperium";
    spec.request.prompt = "hello over a slow ledger";
    spec.request.max_tokens = 20;
    spec.request.timeout_ms = timeout_ms;
    spec.config = config_;
    spec.received_ms = wall_ms();
    spec.received = std::chrono::steady_clock::now();
    spec.reservation = 200;
    workers::Worker& worker = *worker_;
    const workers::CallEnvironment& env = env_;
    worker.post([&worker, &env, spec = std::move(spec)]() mutable {
      std::make_shared<workers::CallRun>(std::move(spec), env, worker)->start();
    });
  }

  // The reply as JSON, or nullopt when none came within `bound`.
  std::optional<json> wait_reply(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, bound, [&] { return reply_.has_value(); })) return std::nullopt;
    auto decoded = protocol::to_json(*reply_);
    if (!decoded) return std::nullopt;
    return *decoded;
  }

  // The usage events published after the reply, once there is one.
  std::vector<protocol::UsageEvent> wait_late_usage(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    std::vector<protocol::UsageEvent> out;
    cv_.wait_for(lock, bound, [&] {
      out.clear();
      for (const auto& e : published_) {
        if (const auto* u = std::get_if<protocol::UsageEvent>(&e)) out.push_back(*u);
      }
      return !out.empty();
    });
    return out;
  }

  void wait_idle() { alive_.wait_none(); }

  BatchGate& gate() { return gate_; }
  ledger::Ledger& ledger() { return *ledger_; }

 private:
  tollgate::testing::TempDir dir_;
  BatchGate gate_;
  std::shared_ptr<const Config> config_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<ProviderRuntime> runtime_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  workers::LiveCalls alive_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> reply_;              // guarded by mu_
  std::vector<protocol::Event> published_;        // guarded by mu_
  workers::CallEnvironment env_;
  std::unique_ptr<workers::Worker> worker_;  // last: stopped first
};

ledger::BudgetUsage anthropic_usage(ledger::Ledger& l) {
  auto period = l.current_period(wall_ms());
  REQUIRE(period.ok());
  auto usage = l.usage("imperium", *period);
  REQUIRE(usage.ok());
  return usage.value()["anthropic"];
}

}  // namespace

TEST_CASE("a call whose reservation the ledger never answers gets timeout at its deadline") {
  FakeProviderProcess fake;
  CallBench bench(fake, 2);  // the reservation's batch is held
  bench.start(300);
  auto reply = bench.wait_reply(scaled(5s));
  REQUIRE(reply.has_value());
  INFO(reply->dump());
  CHECK((*reply)["ok"] == false);
  CHECK((*reply)["error"]["code"] == "timeout");
  CHECK((*reply)["error"]["message"].get<std::string>().find("waiting for the ledger (reserve)") !=
        std::string::npos);

  // The ledger answers at last: the reservation it made is released, and
  // nothing was sent.
  bench.gate().release();
  bench.wait_idle();
  REQUIRE(bench.ledger().probe().ok());  // after the release the late answer queued
  const auto usage = anthropic_usage(bench.ledger());
  CHECK(usage.reserved == 0);
  CHECK(usage.used == 0);
  CHECK(fake.stats()["anthropic"]["requests"] == 0);
}

TEST_CASE("a served call whose charge outlives its deadline gets timeout and is charged what was served") {
  FakeProviderProcess fake;
  CallBench bench(fake, 3);  // the reservation passes; the commit's batch is held
  bench.start(2000);
  auto reply = bench.wait_reply(scaled(10s));
  REQUIRE(reply.has_value());
  INFO(reply->dump());
  CHECK((*reply)["error"]["code"] == "timeout");
  CHECK((*reply)["error"]["message"].get<std::string>().find("waiting for the ledger (commit)") !=
        std::string::npos);

  bench.gate().release();
  auto usage_events = bench.wait_late_usage(scaled(5s));
  REQUIRE(usage_events.size() == 1);
  const uint64_t served_tokens = served(fake.stats(), "anthropic");
  CHECK(served_tokens > 0);
  CHECK(usage_events[0].total_tokens == served_tokens);
  CHECK(usage_events[0].cost_usd > 0);
  bench.wait_idle();
  const auto usage = anthropic_usage(bench.ledger());
  CHECK(usage.reserved == 0);
  CHECK(usage.used == served_tokens);
}
