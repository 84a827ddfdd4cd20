// Dispatcher: answers each decoded request for the server loop.
//
// Status ops (usage, summary, history, alerts, emergency_status,
// provider_status, recommend) are answered at once from read transactions
// by the StatusReader (shared with the HTTP listener).
// Writes (reset) and calls go to the ledger's writer or the worker pool and
// are answered later under the request's token: a reset through the loop's
// Mailbox, a call through the call service's CallSink (the server's, which
// posts to the same Mailbox). Every answer is a typed Reply.
//
// Loop thread only, except that ledger callbacks (writer thread) only post
// to the Mailbox.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "daemon/core/config.h"
#include "daemon/ledger/ledger.h"
#include "daemon/server/mailbox.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/server/server.h"
#include "daemon/server/status_reader.h"

namespace tollgate {

class CallService;  // workers/: runs `call` requests

class Dispatcher : public RequestHandler {
 public:
  Dispatcher(std::shared_ptr<const Config> config, ledger::Ledger& ledger,
             ProviderRuntime& runtime, Mailbox& mailbox, NowFn now = system_now_ms);

  // The service that runs calls; without one, `call` answers internal.
  void set_call_service(CallService* calls) {
    calls_ = calls;
    refresh_emergency();
  }

  // `reset` and `set_limit` need the admin role (PROTOCOL.md sections 6
  // and 10); every other op is open to every allowed client.
  std::optional<Reply> handle(uint64_t token, const protocol::RequestId& id,
                              protocol::RequestBody& body, const curve::Caller& caller) override;
  void cancel(uint64_t token, protocol::Error why) override;
  void tick() override;
  void reload() override;
  void published(const protocol::Event& event) override;

  // Loop thread: the configuration in force (replaced by reload()).
  const std::shared_ptr<const Config>& config() const { return config_; }
  // Optional SIGHUP source of a new configuration.
  void set_reloader(std::function<protocol::Result<Config>()> reloader) {
    reloader_ = std::move(reloader);
  }
  // Told (on the loop thread) every configuration a reload put in force,
  // e.g. to hand it to the HTTP listener's thread. Each listener added is
  // told, in order.
  void add_config_listener(std::function<void(const std::shared_ptr<const Config>&)> listener) {
    config_listeners_.push_back(std::move(listener));
  }
  // Told (on the loop thread) after alert events were published: the
  // notification sender looks at its outbox.
  void set_alert_listener(std::function<void()> listener) { alert_listener_ = std::move(listener); }

 private:
  using MaybeReply = std::optional<Reply>;
  Reply ping() const;
  MaybeReply reset(uint64_t token, const protocol::RequestId& id, const protocol::ResetRequest& r);
  std::optional<protocol::Error> check_reset_target(const protocol::ResetRequest& r) const;
  MaybeReply set_limit(uint64_t token, const protocol::SetLimitRequest& r,
                       const curve::Caller& caller);
  MaybeReply call(uint64_t token, const protocol::RequestId& id, protocol::CallRequest& r);

  // Reads the emergency state and tells the call service (shutdown or not).
  void refresh_emergency();
  void check_forecasts();

  std::shared_ptr<const Config> config_;
  ledger::Ledger& ledger_;
  ProviderRuntime& runtime_;
  Mailbox& mailbox_;
  NowFn now_;
  StatusReader status_;
  CallService* calls_ = nullptr;
  std::function<protocol::Result<Config>()> reloader_;
  std::vector<std::function<void(const std::shared_ptr<const Config>&)>> config_listeners_;
  std::function<void()> alert_listener_;
  const std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_watchdog_{};
  std::chrono::steady_clock::time_point last_prune_{};
  std::chrono::steady_clock::time_point last_emergency_{};
  std::chrono::steady_clock::time_point last_forecast_{};
};

}  // namespace tollgate
