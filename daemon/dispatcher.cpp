#include "daemon/dispatcher.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <set>

#include "daemon/call_service.h"
#include "daemon/policy/recommend.h"
#include "daemon/reports.h"
#include "daemon/selection_snapshot.h"

namespace tollgate {

using protocol::Error;

namespace {

// Ledger reads failing is an environment problem, not the client's.
std::string ledger_error(const protocol::RequestId& id, const Error& e) {
  spdlog::error("ledger read failed: {}", e.message);
  return protocol::encode_error_reply(id, Error::internal("ledger: " + e.message));
}

constexpr uint32_t kDefaultAlertsLimit = 100;
constexpr uint32_t kDefaultHistoryMonths = 6;

}  // namespace

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Dispatcher::Dispatcher(std::shared_ptr<const Config> config, ledger::Ledger& ledger,
                       ProviderRuntime& runtime, Mailbox& mailbox, NowFn now)
    : config_(std::move(config)),
      ledger_(ledger),
      runtime_(runtime),
      mailbox_(mailbox),
      now_(std::move(now)),
      started_(std::chrono::steady_clock::now()) {}

std::optional<std::string> Dispatcher::handle(uint64_t token, const protocol::RequestId& id,
                                              protocol::RequestBody& body, curve::ClientRole role) {
  using namespace protocol;
  if (std::holds_alternative<ResetRequest>(body) && role != curve::ClientRole::kAdmin) {
    return encode_error_reply(id, Error::unauthorized(
        "reset: needs an admin client key (this key is not marked admin in TOLLGATE_CURVE_CLIENTS_FILE)"));
  }
  return std::visit(
      [&](auto& r) -> Reply {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, PingRequest>) return ping(id);
        else if constexpr (std::is_same_v<T, CallRequest>) return call(token, id, r);
        else if constexpr (std::is_same_v<T, UsageRequest>) return usage(id, r);
        else if constexpr (std::is_same_v<T, SummaryRequest>) return summary(id);
        else if constexpr (std::is_same_v<T, ProviderStatusRequest>) return provider_status(id, r);
        else if constexpr (std::is_same_v<T, RecommendRequest>) return recommend(id, r);
        else if constexpr (std::is_same_v<T, EmergencyStatusRequest>) return emergency(id);
        else if constexpr (std::is_same_v<T, AlertsRequest>) return alerts(id, r);
        else if constexpr (std::is_same_v<T, HistoryRequest>) return history(id, r);
        else return reset(token, id, r);
      },
      body);
}

std::optional<Error> Dispatcher::check_agent(const std::string& agent) const {
  if (!config_->restrict_agents || config_->agents.count(agent)) return std::nullopt;
  return Error::unknown_agent("ai_name: agent '" + agent +
                              "' is not configured (agents are restricted by configuration)");
}

Dispatcher::Reply Dispatcher::ping(const protocol::RequestId& id) const {
  protocol::PingReply reply;
  reply.version = TOLLGATE_VERSION;
  reply.uptime_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - started_)
                                              .count());
  reply.pid = static_cast<int64_t>(getpid());
  return protocol::encode_reply(id, reply);
}

protocol::RecommendReply Dispatcher::recommendation(const std::string& agent, int64_t now_ms,
                                                    std::string* reason_out) const {
  protocol::RecommendReply out;
  auto snap = ledger_.snapshot(agent, now_ms);
  if (!snap) {
    out.reason = "internal";
    return out;
  }
  auto input = selection_input(*config_, *snap, runtime_, agent,
                               policy::recommendation_reservation(config_->default_max_tokens),
                               std::nullopt, now_ms);
  auto rec = policy::recommend(input);
  out.provider = rec.provider;
  out.reason = rec.reason;
  out.available = rec.available;
  if (reason_out) *reason_out = rec.reason;
  return out;
}

Dispatcher::Reply Dispatcher::usage(const protocol::RequestId& id, const protocol::UsageRequest& r) {
  if (auto e = check_agent(r.ai_name)) return protocol::encode_error_reply(id, *e);
  const int64_t now = now_();
  auto period = ledger_.current_period(now);
  if (!period) return ledger_error(id, period.error());
  auto u = ledger_.usage(r.ai_name, *period);
  if (!u) return ledger_error(id, u.error());
  auto rec = recommendation(r.ai_name, now);
  return protocol::encode_reply(id, usage_reply(r.ai_name, *period, *u, *config_, rec.provider));
}

std::vector<std::string> Dispatcher::known_agents(const std::string& period) const {
  std::set<std::string> names;
  for (const auto& [name, agent] : config_->agents) names.insert(name);
  if (auto listed = ledger_.agents(period)) names.insert(listed->begin(), listed->end());
  return {names.begin(), names.end()};
}

Dispatcher::Reply Dispatcher::summary(const protocol::RequestId& id) {
  auto period = ledger_.current_period(now_());
  if (!period) return ledger_error(id, period.error());
  auto global = ledger_.global_usage(*period);
  if (!global) return ledger_error(id, global.error());
  std::vector<AgentUsage> agents;
  for (const auto& name : known_agents(*period)) {
    auto u = ledger_.usage(name, *period);
    if (!u) return ledger_error(id, u.error());
    agents.push_back({name, std::move(*u)});
  }
  return protocol::encode_reply(id, summary_reply(*period, *global, agents, *config_));
}

Dispatcher::Reply Dispatcher::history(const protocol::RequestId& id,
                                      const protocol::HistoryRequest& r) {
  if (auto e = check_agent(r.ai_name)) return protocol::encode_error_reply(id, *e);
  auto months = ledger_.history(r.ai_name, r.months.value_or(kDefaultHistoryMonths), now_());
  if (!months) return ledger_error(id, months.error());
  return protocol::encode_reply(id, history_reply(r.ai_name, *months, *config_));
}

Dispatcher::Reply Dispatcher::alerts(const protocol::RequestId& id, const protocol::AlertsRequest& r) {
  auto list = ledger_.alerts(r.limit.value_or(kDefaultAlertsLimit), r.since_ms, r.ai_name);
  if (!list) return ledger_error(id, list.error());
  protocol::AlertsReply reply;
  for (const auto& a : *list) reply.alerts.push_back(alert_event(a));
  return protocol::encode_reply(id, reply);
}

Dispatcher::Reply Dispatcher::emergency(const protocol::RequestId& id) {
  auto status = ledger_.emergency_status(now_());
  if (!status) return ledger_error(id, status.error());
  return protocol::encode_reply(id, emergency_reply(*status));
}

Dispatcher::Reply Dispatcher::provider_status(const protocol::RequestId& id,
                                              const protocol::ProviderStatusRequest& r) {
  if (r.ai_name) {
    if (auto e = check_agent(*r.ai_name)) return protocol::encode_error_reply(id, *e);
  }
  const int64_t now = now_();
  auto period = ledger_.current_period(now);
  if (!period) return ledger_error(id, period.error());
  auto global = ledger_.global_usage(*period);
  if (!global) return ledger_error(id, global.error());
  protocol::ProviderStatusReply reply;
  for (const auto& p : config_->providers) {
    auto s = runtime_.state(p.name, now);
    if (auto it = global->find(p.name); it != global->end()) {
      s.used = it->second.used;
      s.limit = it->second.limit;
      s.percentage = it->second.limit ? it->second.percentage : 0.0;
    }
    reply.providers[p.name] = s;
  }
  std::vector<std::string> names = r.ai_name ? std::vector<std::string>{*r.ai_name}
                                             : known_agents(*period);
  for (const auto& agent : names) {
    auto snap = ledger_.snapshot(agent, now);
    if (!snap) return ledger_error(id, snap.error());
    auto input = selection_input(*config_, *snap, runtime_, agent,
                                 policy::recommendation_reservation(config_->default_max_tokens),
                                 std::nullopt, now);
    auto rec = policy::recommend(input);
    protocol::AgentStatus st{agent, rec.provider, rec.reason, {}};
    for (const auto& av : policy::provider_availability(input)) {
      protocol::AgentProviderAvailability a;
      a.available = av.available;
      if (av.why) a.why = std::string(policy::reason_name(*av.why));
      if (auto it = snap->providers.find(av.provider); it != snap->providers.end()) {
        a.percentage = it->second.agent.percentage;
      }
      st.providers[av.provider] = a;
    }
    reply.agents.push_back(std::move(st));
  }
  return protocol::encode_reply(id, reply);
}

Dispatcher::Reply Dispatcher::recommend(const protocol::RequestId& id,
                                        const protocol::RecommendRequest& r) {
  if (auto e = check_agent(r.ai_name)) return protocol::encode_error_reply(id, *e);
  return protocol::encode_reply(id, recommendation(r.ai_name, now_()));
}

Dispatcher::Reply Dispatcher::reset(uint64_t token, const protocol::RequestId& id,
                                    const protocol::ResetRequest& r) {
  if (auto e = check_agent(r.ai_name)) return protocol::encode_error_reply(id, *e);
  if (r.provider && !config_->provider(*r.provider)) {
    return protocol::encode_error_reply(
        id, Error::bad_request("provider: '" + *r.provider + "' is not a configured provider"));
  }
  const int64_t now = now_();
  Mailbox& mailbox = mailbox_;
  ledger_.reset_async(r.ai_name, r.provider, now,
                      [&mailbox, token, id, now](protocol::Result<ledger::ResetOutcome> done) {
                        LoopMessage m;
                        m.token = token;
                        if (!done) {
                          m.reply = protocol::encode_error_reply(
                              id, Error::internal("ledger: " + done.error().message));
                        } else {
                          if (done->rollover) m.events.emplace_back(rollover_event(*done->rollover, now));
                          m.events.emplace_back(reset_event(*done, now));
                          m.reply = protocol::encode_reply(id, reset_reply(*done));
                        }
                        mailbox.post(std::move(m));
                      });
  return std::nullopt;
}

Dispatcher::Reply Dispatcher::call(uint64_t token, const protocol::RequestId& id,
                                   protocol::CallRequest& r) {
  if (auto e = check_agent(r.ai_name)) return protocol::encode_error_reply(id, *e);
  if (!calls_) return protocol::encode_error_reply(id, Error::internal("call: not implemented yet"));
  return calls_->start(token, id, std::move(r), config_);
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
    ledger_.prune_async(now_(), [](protocol::Result<uint64_t> n) {
      if (!n) spdlog::warn("idempotency prune failed: {}", n.error().message);
    });
  }
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
  if (const auto* a = std::get_if<protocol::AlertEvent>(&event); a && a->ai_name == "*") {
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
  ledger_.set_policy(budget_policy(*fresh));
  runtime_.reconfigure(*fresh);
  if (calls_) calls_->reconfigure(fresh);
  config_ = std::move(fresh);
  refresh_emergency();
  spdlog::info("configuration reloaded");
}

}  // namespace tollgate
