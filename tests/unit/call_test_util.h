// What the unit tests of the call code (CallRun, CallPool) run on, with no
// thread, no socket and no sleep: one ManualClock that everything reads;
// two ManualCallLoops (tasks and timers stepped by the test, each with a
// FakeTransport the test answers); a MemoryLedger on the same clock (it
// answers on the submitting thread, and a wait ends when the test moves
// the clock); a CallSink that records; a configuration with Anthropic then
// OpenAI; and the providers' answers. Test thread only.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/config.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/ledger/memory/memory_ledger.h"
#include "daemon/server/call_sink.h"
#include "tests/unit/fake_transport.h"
#include "tests/unit/manual_call_loop.h"
#include "tests/unit/memory_ledger_util.h"
#include "workers/calls/call_run.h"
#include "workers/calls/live_calls.h"
#include "workers/providers/adapter_registry.h"

namespace tollgate::workers::testing {

inline constexpr const char* kAgent = "imperium";

// A 200 answer of each API with this text and usage.
inline std::string anthropic_ok(uint64_t input_tokens, uint64_t output_tokens,
                                const std::string& text = "Hi") {
  return R"({"content":[{"type":"text","text":")" + text + R"("}],"model":"claude-test",)" +
         R"("usage":{"input_tokens":)" + std::to_string(input_tokens) +
         R"(,"output_tokens":)" + std::to_string(output_tokens) + "}}";
}
inline std::string openai_ok(uint64_t input_tokens, uint64_t output_tokens,
                             const std::string& text = "Hello") {
  return R"({"model":"gpt-test","choices":[{"message":{"role":"assistant","content":")" + text +
         R"("}}],"usage":{"prompt_tokens":)" + std::to_string(input_tokens) +
         R"(,"completion_tokens":)" + std::to_string(output_tokens) + "}}";
}
inline constexpr const char* kOverloadedBody =
    R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
inline constexpr const char* kServerErrorBody =
    R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})";

// Every outcome under its token, and every event published outside a
// reply. `after` runs at once: here the test's thread is the loop.
class RecordingSink final : public CallSink {
 public:
  struct Delivery {
    uint64_t token = 0;
    CallOutcome outcome;
  };

  void deliver(uint64_t token, CallOutcome outcome, std::function<void()> after) override {
    deliveries.push_back(Delivery{token, std::move(outcome)});
    if (after) after();
  }
  void part(uint64_t token, protocol::CallPartReply part) override {
    parts.push_back({token, std::move(part)});
  }
  void publish(std::vector<protocol::Event> events) override {
    for (auto& e : events) published.push_back(std::move(e));
  }

  size_t count(uint64_t token) const {
    size_t n = 0;
    for (const auto& d : deliveries) n += d.token == token ? 1 : 0;
    return n;
  }
  // The one outcome under `token` (the test fails unless there is exactly one).
  const CallOutcome& outcome(uint64_t token) const {
    REQUIRE(count(token) == 1);
    for (const auto& d : deliveries) {
      if (d.token == token) return d.outcome;
    }
    throw std::logic_error("unreachable");
  }
  const protocol::CallReply& reply(uint64_t token) const {
    const CallOutcome& o = outcome(token);
    INFO((o.reply ? std::string("ok") : o.reply.error().message));
    REQUIRE(o.reply.ok());
    return o.reply.value();
  }
  // The error's wire code and message.
  std::pair<std::string, std::string> error(uint64_t token) const {
    const CallOutcome& o = outcome(token);
    REQUIRE_FALSE(o.reply.ok());
    return {std::string(protocol::code_name(o.reply.error().code)), o.reply.error().message};
  }

  std::vector<Delivery> deliveries;
  std::vector<std::pair<uint64_t, protocol::CallPartReply>> parts;  // in the order sent
  std::vector<protocol::Event> published;
};

// Anthropic then OpenAI with keys, .test base URLs and 100,000 tokens a
// month each; `extra` lines override or add settings.
inline std::shared_ptr<const Config> test_config(const std::vector<std::string>& extra = {}) {
  ConfigSources sources;
  sources.environment = {"ANTHROPIC_API_KEY=sk-ant-test-zzKEYzz",
                         "ANTHROPIC_BASE_URL=http://anthropic.test",
                         "ANTHROPIC_MONTHLY_LIMIT=100000",
                         "OPENAI_API_KEY=sk-openai-test-zzKEYzz",
                         "OPENAI_BASE_URL=http://openai.test/v1",
                         "OPENAI_MONTHLY_LIMIT=100000"};
  for (const auto& line : extra) sources.environment.push_back(line);
  sources.apis = AdapterRegistry::builtin().names();
  auto loaded = load_config(sources);
  INFO((loaded ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return std::make_shared<const Config>(std::move(loaded).value());
}

inline protocol::CallRequest call_request(const std::string& prompt = "hello",
                                          uint64_t max_tokens = 20) {
  protocol::CallRequest r;
  r.ai_name = kAgent;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  return r;
}

// The fakes, declared so that each outlives what reaches it: the ledger
// (whose last answers post to a loop) goes first, then the loops (whose
// queued tasks hold calls, which read `env` and count themselves in
// `alive`). `env` is what a CallRun started by the test runs with (a pool
// has its own): outcomes and late events go to `sink`.
class CallFakes {
 public:
  explicit CallFakes(const std::vector<std::string>& settings = {})
      : config(test_config(settings)),
        runtime(*config, std::map<std::string, uint64_t>{}, clock.wall_ms()) {
    ledger = tollgate::testing::open_memory_ledger(*config, clock);
    env.ledger = ledger.get();
    env.runtime = &runtime;
    env.clock = &clock;
    env.stopping = &stopping;
    env.draining = &draining;
    env.alive = &alive;
    env.finish = [this](const CallSpec& spec, CallOutcome outcome) {
      sink.deliver(spec.token, std::move(outcome), {});
    };
    env.publish = [this](std::vector<protocol::Event> events) { sink.publish(std::move(events)); };
    env.part = [this](const CallSpec& spec, protocol::CallPartReply part) {
      sink.part(spec.token, std::move(part));
    };
  }

  FakeTransport& transport() { return loop.fake(); }

  // Starts a call under `token` on `loop` with `env`, as the pool would
  // (its spec, received now), and runs what it does at once.
  std::shared_ptr<CallRun> start(uint64_t token, protocol::CallRequest request,
                                 uint64_t reservation = 200) {
    CallSpec spec;
    spec.token = token;
    spec.id = protocol::RequestId::from_int(static_cast<int64_t>(token));
    spec.request = std::move(request);
    spec.config = config;
    spec.received_ms = clock.wall_ms();
    spec.received = clock.steady_now();
    spec.reservation = reservation;
    auto run = std::make_shared<CallRun>(std::move(spec), env, loop);
    run->start();
    loop.run_ready();
    return run;
  }
  // Answers request i of `loop` and runs what follows.
  void answer(size_t i, long status, std::string body) {
    transport().reply(i, status, std::move(body));
    loop.run_ready();
  }

  // The agent's budget at `provider` now.
  ledger::BudgetUsage usage(const std::string& provider) const {
    return tollgate::testing::usage_of(*ledger, kAgent, provider, clock.wall_ms());
  }
  // Charges `tokens` to the agent at `provider` as an earlier call would.
  void charge(const std::string& provider, uint64_t tokens) {
    tollgate::testing::charge(*ledger, kAgent, provider, tokens, clock.wall_ms());
  }

  ManualClock clock;
  std::shared_ptr<const Config> config;
  RecordingSink sink;
  LiveCalls alive;
  std::atomic<bool> stopping{false};
  std::atomic<bool> draining{false};
  ProviderRuntime runtime;
  CallEnvironment env;
  ManualCallLoop loop{clock};
  ManualCallLoop other_loop{clock};
  std::unique_ptr<ledger::MemoryLedger> ledger;
};

// A reply's attempts as "provider outcome [code]" lines.
inline std::vector<std::string> attempts_of(const protocol::CallReply& reply) {
  std::vector<std::string> out;
  for (const auto& a : reply.attempts) {
    out.push_back(a.provider + " " + a.outcome + (a.code ? " " + *a.code : ""));
  }
  return out;
}

// The events of one type among `events`.
template <class T>
std::vector<T> events_of(const std::vector<protocol::Event>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (const auto* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

}  // namespace tollgate::workers::testing
