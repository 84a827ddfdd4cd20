// Test harness for the call path: a fake-provider process, a tollgated
// pointed at it, a DEALER client and a SUB collector. All waiting is on
// replies and events with bounded timeouts, never on sleep.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "tests/integration/tollgated_process.h"

namespace tollgate::testing {

using Env = std::map<std::string, std::string>;

// tools/fake-provider on an ephemeral loopback port. The constructor
// returns once it printed "listening 127.0.0.1:PORT" (it accepts
// connections from then on); `args` are extra command line options.
class FakeProviderProcess {
 public:
  explicit FakeProviderProcess(std::vector<std::string> args = {});
  // Checks that the fake printed no sanitizer report (then kills it).
  ~FakeProviderProcess();
  FakeProviderProcess(const FakeProviderProcess&) = delete;
  FakeProviderProcess& operator=(const FakeProviderProcess&) = delete;
  int port() const { return port_; }
  // "http://127.0.0.1:PORT": ANTHROPIC_BASE_URL; OPENAI_BASE_URL may be
  // this or this + "/v1".
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The child itself, e.g. to signal it and wait for its exit status.
  ChildProcess& process() { return *child_; }
  // GET /_control/stats.
  nlohmann::json stats() const;
  // POST /_control/faults (replaces the script).
  void set_faults(const nlohmann::json& faults) const;
  // Env entries that point tollgated at this fake with both keys set.
  Env provider_env() const;

 private:
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

// A DEALER client; request() waits for the reply with the same id. The
// timeouts of request() and try_request() are bounds on an expected reply:
// both are stretched by scaled().
class TestClient {
 public:
  TestClient(zmq::context_t& ctx, const std::string& endpoint);
  nlohmann::json request(nlohmann::json body, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Like request() but without Catch2 assertions (they are not
  // thread-safe): nullopt when no reply came within timeout or it could not
  // be decoded. For client threads.
  std::optional<nlohmann::json> try_request(nlohmann::json body,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends without waiting; collect with receive().
  void send(nlohmann::json body);
  std::optional<nlohmann::json> receive(std::chrono::milliseconds timeout);

 private:
  zmq::socket_t socket_;
  int64_t next_id_ = 1;
};

// A SUB socket subscribed to everything; events() drains what arrived.
class EventCollector {
 public:
  EventCollector(zmq::context_t& ctx, const std::string& endpoint);
  // Makes sure the subscription is live (ZeroMQ's slow joiner): resets a
  // throwaway agent until its `ledger` event arrives, then forgets it.
  void sync(TestClient& client);
  // Collects every event until `pred` holds for the list or timeout.
  template <class Pred>
  bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred(events_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      poll(left);
    }
    return true;
  }
  const std::vector<std::pair<std::string, nlohmann::json>>& events() const { return events_; }
  void poll(std::chrono::milliseconds timeout);
  // Events whose topic starts with prefix.
  std::vector<nlohmann::json> with_prefix(const std::string& prefix) const;

 private:
  zmq::socket_t socket_;
  std::vector<std::pair<std::string, nlohmann::json>> events_;
};

// a with b's entries added (b wins).
Env merge(Env a, const Env& b);

nlohmann::json call_body(const std::string& agent, const std::string& prompt, uint64_t max_tokens = 50);

// "provider:outcome[:code] " for each entry of a call reply's attempts.
std::string attempt_codes(const nlohmann::json& reply);

// Tokens (input + output) fake-provider's stats say it served for `api`.
uint64_t served(const nlohmann::json& stats, const std::string& api);

}  // namespace tollgate::testing
