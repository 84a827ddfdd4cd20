#include "daemon/server/dispatcher.h"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon/core/request_id_format.h"
#include "daemon/server/call_service.h"
#include "daemon/server/mailbox_sink.h"
#include "daemon/core/name_match.h"
#include "daemon/core/reports.h"

namespace tollgate {

using protocol::Error;

namespace {

// One round of the idempotency expiry sweep: bounded steps, each its own
// write operation (other writes go between them), the next submitted from
// the previous one's callback on the writer thread, until the round
// reached the end of the table.
void prune_expired(ledger::Ledger& ledger, int64_t now_ms, uint64_t deleted_before) {
  ledger.prune_async(now_ms, [&ledger, now_ms, deleted_before](
                                 protocol::Result<ledger::PruneOutcome> step) {
    if (!step) {
      spdlog::warn("idempotency prune failed: {}", step.error().message);
      return;
    }
    const uint64_t deleted = deleted_before + step->deleted;
    if (!step->swept) {
      prune_expired(ledger, now_ms, deleted);
      return;
    }
    if (deleted > 0) spdlog::debug("idempotency prune: {} expired records deleted", deleted);
  });
}

}  // namespace

Dispatcher::Dispatcher(std::shared_ptr<const Config> config, ledger::Ledger& ledger,
                       ProviderRuntime& runtime, Mailbox& mailbox, NowFn now)
    : config_(std::move(config)),
      ledger_(ledger),
      runtime_(runtime),
      mailbox_(mailbox),
      now_(now),
      status_(ledger, runtime, now),
      started_(std::chrono::steady_clock::now()) {}

std::optional<Reply> Dispatcher::handle(uint64_t token, const protocol::RequestId& id,
                                        protocol::RequestBody& body, const curve::Caller& caller) {
  using namespace protocol;
  const bool admin_op =
      std::holds_alternative<ResetRequest>(body) || std::holds_alternative<SetLimitRequest>(body);
  if (admin_op && caller.role != curve::ClientRole::kAdmin) {
    return Error::unauthorized(std::string(op_name(body)) +
                               ": needs an admin client key (this key is not marked admin in "
                               "TOLLGATE_CURVE_CLIENTS_FILE)");
  }
  if (StatusReader::is_status_op(body)) return status_.answer(*config_, body);
  return std::visit(
      [&](auto& r) -> MaybeReply {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, PingRequest>) return ping();
        else if constexpr (std::is_same_v<T, CallRequest>) return call(token, id, r);
        else if constexpr (std::is_same_v<T, ResetRequest>) return reset(token, id, r);
        else if constexpr (std::is_same_v<T, SetLimitRequest>) return set_limit(token, r, caller);
        else return Reply(Error::internal("op not dispatched"));
      },
      body);
}

Reply Dispatcher::ping() const {
  protocol::PingReply reply;
  reply.version = TOLLGATE_VERSION;
  reply.uptime_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - started_)
                                              .count());
  reply.pid = static_cast<int64_t>(getpid());
  return reply;
}

Dispatcher::MaybeReply Dispatcher::reset(uint64_t token, const protocol::RequestId& id,
                                         const protocol::ResetRequest& r) {
  if (auto e = StatusReader::check_agent(*config_, r.ai_name)) return Reply(*e);
  if (r.provider && !config_->provider(*r.provider)) {
    return Reply(Error::bad_request("provider: '" + *r.provider + "' is not a configured provider"));
  }
  if (auto e = check_reset_target(r)) return Reply(*e);
  const int64_t now = now_();
  Mailbox& mailbox = mailbox_;
  ledger_.reset_async(r.ai_name, r.provider, now,
                      [&mailbox, token, id, now](protocol::Result<ledger::ResetOutcome> done) {
                        LoopMessage m;
                        m.token = token;
                        if (!done) {
                          m.reply = Reply(ledger_failure(done.error()));
                        } else {
                          spdlog::trace("request {}: ledger reset {} in {}", id, done->agent,
                                        done->period);
                          if (done->rollover) m.events.emplace_back(rollover_event(*done->rollover, now));
                          m.events.emplace_back(reset_event(*done, now));
                          m.reply = Reply(reset_reply(*done));
                        }
                        mailbox.post(std::move(m));
                      });
  return std::nullopt;
}

std::optional<Error> Dispatcher::check_reset_target(const protocol::ResetRequest& r) const {
  // A reset of an agent nobody ever charged is almost always a typo; it
  // would also leave a phantom row in summary, the dashboard and /metrics.
  if (r.force || config_->agents.count(r.ai_name)) return std::nullopt;
  auto known = ledger_.all_agents();
  if (!known) return ledger_failure(known.error());
  if (std::binary_search(known->begin(), known->end(), r.ai_name)) return std::nullopt;
  std::vector<std::string> candidates = *known;
  for (const auto& [name, agent] : config_->agents) candidates.push_back(name);
  return Error::unknown_agent("reset: agent '" + r.ai_name + "' has no usage in the ledger" +
                              did_you_mean(close_matches(r.ai_name, candidates)) +
                              " (force: true resets it anyway)");
}

// Section 10. The reply is the budget as `usage` shows it once the override
// is durable, read in the ledger's callback (one read, an admin op).
Dispatcher::MaybeReply Dispatcher::set_limit(uint64_t token, const protocol::SetLimitRequest& r,
                                             const curve::Caller& caller) {
  if (r.ai_name != ledger::kGlobalScope) {
    if (auto e = StatusReader::check_agent(*config_, r.ai_name)) return Reply(*e);
  }
  if (!config_->provider(r.provider)) {
    return Reply(Error::bad_request("provider: '" + r.provider + "' is not a configured provider"));
  }
  ledger::SetLimitRequest req{r.ai_name, r.provider, r.limit, r.limit_usd, caller.who, now_()};
  Mailbox& mailbox = mailbox_;
  const StatusReader& status = status_;
  ledger_.set_limit_async(
      std::move(req), [&mailbox, &status, config = config_, token,
                       scope = r.ai_name](protocol::Result<ledger::SetLimitOutcome> done) {
        LoopMessage m;
        m.token = token;
        if (!done) {
          m.reply = Reply(ledger_failure(done.error()));
        } else {
          if (done->rollover) m.events.emplace_back(rollover_event(*done->rollover, done->change_at_ms));
          append_alert_events(done->alerts, m.events);
          m.events.emplace_back(limit_event(done->change, done->change_at_ms));
          m.reply = status.budget_of(*config, scope);
        }
        mailbox.post(std::move(m));
      });
  return std::nullopt;
}

Dispatcher::MaybeReply Dispatcher::call(uint64_t token, const protocol::RequestId& id,
                                        protocol::CallRequest& r) {
  if (auto e = StatusReader::check_agent(*config_, r.ai_name)) return Reply(*e);
  if (!calls_) return Reply(Error::internal("call: not implemented yet"));
  auto now = calls_->start(token, id, std::move(r), config_);
  if (!now) return std::nullopt;
  return reply_of(std::move(*now));
}

void Dispatcher::cancel(uint64_t token, protocol::Error why) {
  if (calls_) calls_->cancel(token, std::move(why));
}

void Dispatcher::tick() {
  auto now = std::chrono::steady_clock::now();
  // systemd's WatchdogSec=: a keep-alive from the loop proves the loop runs.
  if (now - last_watchdog_ >= std::chrono::seconds(2)) {
    sd_notify(0, "WATCHDOG=1");
    last_watchdog_ = now;
  }
  if (now - last_emergency_ >= std::chrono::seconds(1)) refresh_emergency();
  if (now - last_prune_ >= std::chrono::minutes(10)) {
    last_prune_ = now;
    prune_expired(ledger_, now_(), 0);
  }
  const auto forecast_every = std::chrono::seconds(config_->forecast_check_seconds);
  if (forecast_every.count() > 0 && now - last_forecast_ >= forecast_every) {
    last_forecast_ = now;
    check_forecasts();
  }
}

// Section 10: alert.forecast for every budget now projected to run out
// before its period ends (once per budget and period, by the ledger).
void Dispatcher::check_forecasts() {
  Mailbox& mailbox = mailbox_;
  ledger_.check_forecasts_async(now_(), [&mailbox](protocol::Result<std::vector<ledger::Alert>> r) {
    if (!r) {
      spdlog::warn("forecast check failed: {}", r.error().message);
      return;
    }
    if (r->empty()) return;
    LoopMessage m;
    append_alert_events(*r, m.events);
    mailbox.post(std::move(m));
  });
}

void Dispatcher::refresh_emergency() {
  last_emergency_ = std::chrono::steady_clock::now();
  if (!calls_) return;
  auto status = ledger_.emergency_status(now_());
  if (!status) return;
  if (!status->shutdown) {
    calls_->set_shutdown(std::nullopt);
    return;
  }
  std::string reason;
  for (const auto& r : status->reasons) reason += (reason.empty() ? "" : "; ") + r;
  calls_->set_shutdown(reason.empty() ? "every provider's global budget is exhausted" : reason);
}

void Dispatcher::published(const protocol::Event& event) {
  // Global alerts and ledger changes (reset, rollover) can switch the
  // emergency shutdown on or off: re-read it at once.
  const auto* a = std::get_if<protocol::AlertEvent>(&event);
  if (a && alert_listener_) alert_listener_();
  if (a && a->ai_name == "*") {
    refresh_emergency();
  } else if (std::holds_alternative<protocol::LedgerEvent>(event)) {
    refresh_emergency();
  }
}

void Dispatcher::reload() {
  if (!reloader_) return;
  auto next = reloader_();
  if (!next) {
    spdlog::error("reload refused, keeping the running configuration: {}", next.error().message);
    return;
  }
  auto fresh = std::make_shared<const Config>(std::move(next).value());
  for (const auto& w : fresh->warnings) spdlog::warn("reload: {}", w);
  ledger_.set_policy(budget_policy(*fresh));
  // New limits: fire the levels now crossed (a lowered limit), re-arm those
  // no longer reached (a raised one), edge-triggered as always.
  Mailbox& mailbox = mailbox_;
  ledger_.reevaluate_levels_async(now_(), [&mailbox](protocol::Result<std::vector<ledger::Alert>> r) {
    if (!r) {
      spdlog::error("reload: budget levels not re-evaluated: {}", r.error().message);
      return;
    }
    if (r->empty()) return;
    LoopMessage m;
    append_alert_events(*r, m.events);
    mailbox.post(std::move(m));
  });
  runtime_.reconfigure(*fresh);
  if (calls_) calls_->reconfigure(fresh);
  config_ = std::move(fresh);
  for (const auto& listener : config_listeners_) listener(config_);
  refresh_emergency();
  spdlog::info("configuration reloaded");
}

}  // namespace tollgate
