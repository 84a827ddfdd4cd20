// The Dispatcher on its own: a memory ledger behind its StatusReader, a
// fake CallService, the loop's Mailbox read by the test (an eventfd; no
// socket), and a manual clock for the ledger's time. What the dispatcher
// itself decides: which op goes where, who may reset what, the agents a
// restricted configuration lets in, the emergency state it tells the call
// service, and reloads. (An op the protocol does not define never reaches
// it: the codec answers unknown_op.)
#include <catch2/catch.hpp>

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/ledger/memory/memory_ledger.h"
#include "daemon/server/call_service.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/mailbox.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/memory_ledger_util.h"

using namespace tollgate;
using curve::ClientRole;

namespace {

constexpr const char* kAgent = "imperium";

// Records what the dispatcher asks of the service that runs calls.
class FakeCallService final : public CallService {
 public:
  std::optional<CallResult> start(uint64_t token, const protocol::RequestId&,
                                  protocol::CallRequest request,
                                  const std::shared_ptr<const Config>&) override {
    started.emplace_back(token, std::move(request));
    return answer;
  }
  void reconfigure(const std::shared_ptr<const Config>& config) override {
    reconfigured.push_back(config);
  }
  void set_shutdown(std::optional<std::string> reason) override { shutdown = std::move(reason); }
  void cancel(uint64_t token, protocol::Error why) override { cancelled.emplace_back(token, why); }

  std::optional<CallResult> answer;  // what start() answers now (nullopt: later)
  std::vector<std::pair<uint64_t, protocol::CallRequest>> started;
  std::vector<std::shared_ptr<const Config>> reconfigured;
  std::optional<std::string> shutdown;
  std::vector<std::pair<uint64_t, protocol::Error>> cancelled;
};

Config base_config(std::vector<std::string> extra = {}) {
  std::vector<std::string> env = {"ANTHROPIC_API_KEY=sk-ant-test-zzKEYzz",
                                  "OPENAI_API_KEY=sk-openai-test-zzKEYzz"};
  for (auto& line : extra) env.push_back(std::move(line));
  return config_testing::load_env(env);
}

// Declared so that each part outlives what reaches it: the mailbox (the
// ledger's answers post to it) and the ledger outlive the dispatcher.
struct DispatchBench {
  explicit DispatchBench(Config c)
      : config(std::make_shared<const Config>(std::move(c))),
        runtime(*config, {}, clock.wall_ms()) {
    ledger = testing::open_memory_ledger(*config, clock);
    dispatcher = std::make_unique<Dispatcher>(config, *ledger, runtime, mailbox,
                                              [this] { return clock.wall_ms(); });
  }

  std::optional<Reply> handle(protocol::RequestBody body, ClientRole role = ClientRole::kAdmin) {
    ++token;
    return dispatcher->handle(token, protocol::RequestId::from_int(static_cast<int64_t>(token)),
                              body, curve::Caller{role, "test"});
  }
  void charge(const std::string& agent, const std::string& provider, uint64_t tokens) {
    testing::charge(*ledger, agent, provider, tokens, clock.wall_ms());
  }
  uint64_t used(const std::string& agent, const std::string& provider) {
    return testing::usage_of(*ledger, agent, provider, clock.wall_ms()).used;
  }

  ManualClock clock;
  std::shared_ptr<const Config> config;
  Mailbox mailbox;
  ProviderRuntime runtime;
  std::unique_ptr<ledger::MemoryLedger> ledger;
  std::unique_ptr<Dispatcher> dispatcher;
  uint64_t token = 0;  // of the last request handled
};

protocol::CallRequest call_from(const std::string& agent) {
  protocol::CallRequest r;
  r.ai_name = agent;
  r.prompt = "hello";
  return r;
}

protocol::ResetRequest reset_of(const std::string& agent) {
  protocol::ResetRequest r;
  r.ai_name = agent;
  return r;
}

std::string code_of(const std::optional<Reply>& reply) {
  REQUIRE(reply);
  return std::string(reply->code());
}

}  // namespace

TEST_CASE("a call goes to the call service under its token and an answer it has at once is the reply") {
  DispatchBench b(base_config());
  FakeCallService calls;
  b.dispatcher->set_call_service(&calls);

  calls.answer = protocol::Error::overloaded("too many calls in flight", 100);
  const auto refused = b.handle(call_from(kAgent));
  CHECK(code_of(refused) == "overloaded");
  REQUIRE(calls.started.size() == 1);
  CHECK(calls.started[0].first == b.token);
  CHECK(calls.started[0].second.ai_name == kAgent);

  calls.answer.reset();
  CHECK_FALSE(b.handle(call_from(kAgent)));  // answered later, through the CallSink
  CHECK(calls.started.size() == 2);
  CHECK(b.mailbox.drain().empty());
}

TEST_CASE("a call with no call service is answered internal") {
  DispatchBench b(base_config());
  CHECK(code_of(b.handle(call_from(kAgent))) == "internal");
}

TEST_CASE("with restricted agents a call from an agent not configured never reaches the call service") {
  Config config = base_config();
  config.restrict_agents = true;
  config.agents[kAgent] = AgentConfig{};
  DispatchBench b(std::move(config));
  FakeCallService calls;
  b.dispatcher->set_call_service(&calls);

  CHECK(code_of(b.handle(call_from("stranger"))) == "unknown_agent");
  CHECK(calls.started.empty());
  protocol::UsageRequest usage;
  usage.ai_name = "stranger";
  CHECK(code_of(b.handle(usage)) == "unknown_agent");
  CHECK_FALSE(b.handle(call_from(kAgent)));
  CHECK(calls.started.size() == 1);
}

TEST_CASE("a reset from a client without the admin role is unauthorized and changes nothing") {
  DispatchBench b(base_config());
  b.charge(kAgent, "anthropic", 500);
  const auto reply = b.handle(reset_of(kAgent), ClientRole::kClient);
  CHECK(code_of(reply) == "unauthorized");
  CHECK(b.used(kAgent, "anthropic") == 500);
  CHECK(b.mailbox.drain().empty());
}

TEST_CASE("a set_limit from a client without the admin role is unauthorized and changes nothing") {
  DispatchBench b(base_config());
  protocol::SetLimitRequest r;
  r.ai_name = kAgent;
  r.provider = "anthropic";
  r.limit = 10;
  const auto reply = b.handle(r, ClientRole::kClient);
  CHECK(code_of(reply) == "unauthorized");
  REQUIRE(reply);
  CHECK(reply->error().message.find("set_limit") != std::string::npos);
  CHECK(b.mailbox.drain().empty());
  CHECK(b.ledger->limits()->empty());
}

TEST_CASE("a reset from an admin is written by the ledger and answered through the mailbox") {
  DispatchBench b(base_config());
  b.charge(kAgent, "anthropic", 500);
  CHECK_FALSE(b.handle(reset_of(kAgent)));

  auto messages = b.mailbox.drain();
  REQUIRE(messages.size() == 1);
  const LoopMessage& m = messages.front();
  CHECK(m.token == b.token);
  REQUIRE(m.reply);
  REQUIRE(m.reply->ok());
  const auto& reset = std::get<protocol::ResetReply>(m.reply->body());
  CHECK(reset.ai_name == kAgent);
  CHECK(reset.cleared.at("anthropic") == 500);
  bool ledger_event = false;
  for (const auto& e : m.events) {
    ledger_event = ledger_event || std::holds_alternative<protocol::LedgerEvent>(e);
  }
  CHECK(ledger_event);
  CHECK(b.used(kAgent, "anthropic") == 0);
}

TEST_CASE("a reset of an agent nobody charged is unknown_agent unless forced") {
  DispatchBench b(base_config());
  b.charge(kAgent, "anthropic", 500);
  const auto typo = b.handle(reset_of("imperum"));
  CHECK(code_of(typo) == "unknown_agent");
  CHECK_THAT(typo->error().message, Catch::Contains("imperium"));
  CHECK(b.mailbox.drain().empty());

  auto forced = reset_of("imperum");
  forced.force = true;
  CHECK_FALSE(b.handle(forced));
  CHECK(b.mailbox.drain().size() == 1);
  CHECK(b.used(kAgent, "anthropic") == 500);
}

TEST_CASE("a reset of a provider that is not configured is a bad request") {
  DispatchBench b(base_config());
  auto r = reset_of(kAgent);
  r.provider = "mistral";
  CHECK(code_of(b.handle(r)) == "bad_request");
}

TEST_CASE("status ops are answered at once from the ledger") {
  DispatchBench b(base_config());
  b.charge(kAgent, "anthropic", 500);
  protocol::UsageRequest usage;
  usage.ai_name = kAgent;
  const auto reply = b.handle(usage, ClientRole::kClient);
  REQUIRE(reply);
  REQUIRE(reply->ok());
  CHECK(std::get<protocol::UsageReply>(reply->body()).providers.at("anthropic").used == 500);
  CHECK(code_of(b.handle(protocol::SummaryRequest{}, ClientRole::kClient)) == "ok");
  CHECK(b.mailbox.drain().empty());
}

TEST_CASE("ping is answered at once with the version and the pid") {
  DispatchBench b(base_config());
  const auto reply = b.handle(protocol::PingRequest{}, ClientRole::kClient);
  REQUIRE(reply);
  REQUIRE(reply->ok());
  const auto& ping = std::get<protocol::PingReply>(reply->body());
  CHECK(ping.version == TOLLGATE_VERSION);
  CHECK(ping.pid == static_cast<int64_t>(::getpid()));
}

TEST_CASE("a global alert makes the dispatcher tell the call service of an emergency shutdown") {
  DispatchBench b(base_config({"ANTHROPIC_GLOBAL_MONTHLY_LIMIT=1000", "SHUTDOWN_ON_EMERGENCY=true"}));
  FakeCallService calls;
  b.dispatcher->set_call_service(&calls);
  CHECK_FALSE(calls.shutdown);

  b.charge(kAgent, "anthropic", 990);
  protocol::AlertEvent agent_alert;
  agent_alert.ai_name = kAgent;
  b.dispatcher->published(agent_alert);
  CHECK_FALSE(calls.shutdown);  // only global alerts and ledger changes are read at once

  protocol::AlertEvent global_alert;
  global_alert.ai_name = "*";
  b.dispatcher->published(global_alert);
  REQUIRE(calls.shutdown);
  CHECK_THAT(*calls.shutdown, Catch::Contains("SHUTDOWN_ON_EMERGENCY"));

  // A reset (a ledger event) lifts it.
  CHECK_FALSE(b.handle(reset_of(kAgent)));
  for (const auto& m : b.mailbox.drain()) {
    for (const auto& e : m.events) b.dispatcher->published(e);
  }
  CHECK_FALSE(calls.shutdown);
}

TEST_CASE("a reload puts the new configuration in force and hands it to the call service") {
  DispatchBench b(base_config());
  FakeCallService calls;
  b.dispatcher->set_call_service(&calls);
  std::shared_ptr<const Config> heard;
  b.dispatcher->add_config_listener([&](const std::shared_ptr<const Config>& c) { heard = c; });
  b.dispatcher->set_reloader(
      [] { return protocol::Result<Config>(base_config({"TOLLGATE_MAX_INFLIGHT=7"})); });

  b.dispatcher->reload();
  CHECK(b.dispatcher->config()->max_inflight == 7);
  REQUIRE(calls.reconfigured.size() == 1);
  CHECK(calls.reconfigured[0] == b.dispatcher->config());
  CHECK(heard == b.dispatcher->config());
}

TEST_CASE("a reload that fails keeps the running configuration") {
  DispatchBench b(base_config({"TOLLGATE_MAX_INFLIGHT=5"}));
  FakeCallService calls;
  b.dispatcher->set_call_service(&calls);
  b.dispatcher->set_reloader(
      [] { return protocol::Result<Config>(protocol::Error::bad_request("bad file")); });
  b.dispatcher->reload();
  CHECK(b.dispatcher->config()->max_inflight == 5);
  CHECK(calls.reconfigured.empty());
}
