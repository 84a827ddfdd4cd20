#include "daemon/server/status_reader.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "daemon/core/policy/recommend.h"
#include "daemon/core/reports.h"
#include "daemon/core/selection_snapshot.h"

namespace tollgate {

using protocol::Error;

namespace {

// Ledger reads failing is an environment problem, not the client's.
Error ledger_error(const Error& e) {
  spdlog::error("ledger read failed: {}", e.message);
  return ledger_failure(e);
}

constexpr uint32_t kDefaultAlertsLimit = 100;
constexpr uint32_t kDefaultLedgerEventsLimit = 100;
constexpr uint32_t kDefaultHistoryMonths = 6;
constexpr uint32_t kDefaultDailyDays = 31;

}  // namespace

Error ledger_failure(const Error& e) {
  if (e.code == protocol::ErrorCode::kLedgerUnavailable) {
    Error out = e;
    out.message = "ledger: " + e.message;
    return out;
  }
  return Error::internal("ledger: " + e.message);
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StatusReader::StatusReader(const ledger::Ledger& ledger, const ProviderRuntime& runtime, NowFn now)
    : ledger_(ledger), runtime_(runtime), now_(std::move(now)) {}

bool StatusReader::is_status_op(const protocol::RequestBody& body) {
  using namespace protocol;
  return std::holds_alternative<UsageRequest>(body) || std::holds_alternative<SummaryRequest>(body) ||
         std::holds_alternative<ProviderStatusRequest>(body) ||
         std::holds_alternative<RecommendRequest>(body) ||
         std::holds_alternative<EmergencyStatusRequest>(body) ||
         std::holds_alternative<AlertsRequest>(body) || std::holds_alternative<HistoryRequest>(body) ||
         std::holds_alternative<LedgerEventsRequest>(body) ||
         std::holds_alternative<LimitsRequest>(body) ||
         std::holds_alternative<ForecastRequest>(body) || std::holds_alternative<DailyRequest>(body);
}

std::optional<Reply> StatusReader::answer(const Config& c, const protocol::RequestBody& body) const {
  std::optional<Reply> reply = read_answer(c, body);
  if (!reply || !ledger_.remote()) return reply;
  const std::string question = KnownReplies::question(body);
  if (reply->ok()) {
    known_.remember(question, *reply, now_());
  } else if (reply->error().code == protocol::ErrorCode::kLedgerUnavailable) {
    if (auto known = known_.recall(question, reply->error().message)) return known;
  }
  return reply;
}

std::optional<Reply> StatusReader::read_answer(const Config& c,
                                               const protocol::RequestBody& body) const {
  using namespace protocol;
  return std::visit(
      [&](const auto& r) -> std::optional<Reply> {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, UsageRequest>) return usage(c, r);
        else if constexpr (std::is_same_v<T, SummaryRequest>) return summary(c);
        else if constexpr (std::is_same_v<T, ProviderStatusRequest>) return provider_status(c, r);
        else if constexpr (std::is_same_v<T, RecommendRequest>) return recommend(c, r);
        else if constexpr (std::is_same_v<T, EmergencyStatusRequest>) return emergency();
        else if constexpr (std::is_same_v<T, AlertsRequest>) return alerts(r);
        else if constexpr (std::is_same_v<T, HistoryRequest>) return history(c, r);
        else if constexpr (std::is_same_v<T, LedgerEventsRequest>) return ledger_events(r);
        else if constexpr (std::is_same_v<T, LimitsRequest>) return limits();
        else if constexpr (std::is_same_v<T, ForecastRequest>) return forecast(c, r);
        else if constexpr (std::is_same_v<T, DailyRequest>) return daily(c, r);
        else return std::nullopt;
      },
      body);
}

std::optional<Error> StatusReader::check_agent(const Config& c, const std::string& agent) {
  if (!c.restrict_agents || c.agents.count(agent)) return std::nullopt;
  return Error::unknown_agent("ai_name: agent '" + agent +
                              "' is not configured (agents are restricted by configuration)");
}

protocol::RecommendReply StatusReader::recommendation(const Config& c, const std::string& agent,
                                                      int64_t now_ms) const {
  protocol::RecommendReply out;
  auto snap = ledger_.snapshot(agent, now_ms);
  if (!snap) {
    out.reason = "internal";
    return out;
  }
  auto input = selection_input(c, *snap, runtime_, agent,
                               policy::recommendation_reservation(c.default_max_tokens),
                               std::nullopt, now_ms);
  price_chain(input, c, agent, policy::kShortPromptTokens, c.default_max_tokens);
  auto rec = policy::recommend(input);
  out.provider = rec.provider;
  out.reason = rec.reason;
  out.available = rec.available;
  if (input.cheapest) {
    out.selection = "cheapest";
    for (const auto& p : input.chain) {
      if (rec.provider && p.name == *rec.provider) out.expected_cost_usd = p.expected_cost_usd;
    }
  }
  return out;
}

Reply StatusReader::usage(const Config& c, const protocol::UsageRequest& r) const {
  if (auto e = check_agent(c, r.ai_name)) return Reply(*e);
  const int64_t now = now_();
  auto period = ledger_.current_period(now);
  if (!period) return ledger_error(period.error());
  auto u = ledger_.usage(r.ai_name, *period);
  if (!u) return ledger_error(u.error());
  auto rec = recommendation(c, r.ai_name, now);
  return Reply(usage_reply(r.ai_name, *period, *u, c, rec.provider));
}

std::vector<std::string> StatusReader::known_agents(const Config& c, const std::string& period) const {
  std::set<std::string> names;
  for (const auto& [name, agent] : c.agents) names.insert(name);
  if (auto listed = ledger_.agents(period)) names.insert(listed->begin(), listed->end());
  return {names.begin(), names.end()};
}

Reply StatusReader::summary(const Config& c) const {
  auto period = ledger_.current_period(now_());
  if (!period) return ledger_error(period.error());
  auto global = ledger_.global_usage(*period);
  if (!global) return ledger_error(global.error());
  std::vector<AgentUsage> agents;
  for (const auto& name : known_agents(c, *period)) {
    auto u = ledger_.usage(name, *period);
    if (!u) return ledger_error(u.error());
    agents.push_back({name, std::move(*u)});
  }
  return Reply(summary_reply(*period, *global, agents, c));
}

Reply StatusReader::history(const Config& c, const protocol::HistoryRequest& r) const {
  if (auto e = check_agent(c, r.ai_name)) return Reply(*e);
  auto months = ledger_.history(r.ai_name, r.months.value_or(kDefaultHistoryMonths), now_());
  if (!months) return ledger_error(months.error());
  return Reply(history_reply(r.ai_name, *months, c));
}

Reply StatusReader::alerts(const protocol::AlertsRequest& r) const {
  auto list = ledger_.alerts(r.limit.value_or(kDefaultAlertsLimit), r.since_ms, r.ai_name);
  if (!list) return ledger_error(list.error());
  protocol::AlertsReply reply;
  for (const auto& a : *list) reply.alerts.push_back(alert_event(a));
  return Reply(reply);
}

Reply StatusReader::ledger_events(const protocol::LedgerEventsRequest& r) const {
  auto list = ledger_.ledger_events(r.limit.value_or(kDefaultLedgerEventsLimit), r.since_ms);
  if (!list) return ledger_error(list.error());
  protocol::LedgerEventsReply reply;
  for (const auto& record : *list) reply.events.push_back(ledger_event(record));
  return Reply(reply);
}

Reply StatusReader::emergency() const {
  auto status = ledger_.emergency_status(now_());
  if (!status) return ledger_error(status.error());
  return Reply(emergency_reply(*status));
}

Reply StatusReader::provider_status(const Config& c, const protocol::ProviderStatusRequest& r) const {
  if (r.ai_name) {
    if (auto e = check_agent(c, *r.ai_name)) return Reply(*e);
  }
  const int64_t now = now_();
  auto period = ledger_.current_period(now);
  if (!period) return ledger_error(period.error());
  auto global = ledger_.global_usage(*period);
  if (!global) return ledger_error(global.error());
  protocol::ProviderStatusReply reply;
  const auto waiting = ledger_.waiting();
  for (const auto& p : c.providers) {
    auto s = runtime_.state(p.name, now);
    // The ledger counts the requests of every daemon that shares it (the
    // minute only with a minute limit: else it keeps no window).
    if (auto day = ledger_.requests_today(p.name, now)) s.rate.day_used = *day;
    if (s.rate.minute_limit != 0) {
      if (auto minute = ledger_.requests_this_minute(p.name, now)) s.rate.minute_used = *minute;
    }
    if (auto w = waiting.find(p.name); w != waiting.end()) s.waiting = w->second;
    if (auto it = global->find(p.name); it != global->end()) {
      s.used = it->second.used;
      s.limit = it->second.limit;
      s.percentage = it->second.limit ? it->second.percentage : 0.0;
    }
    reply.providers[p.name] = s;
  }
  std::vector<std::string> names = r.ai_name ? std::vector<std::string>{*r.ai_name}
                                             : known_agents(c, *period);
  for (const auto& agent : names) {
    auto snap = ledger_.snapshot(agent, now);
    if (!snap) return ledger_error(snap.error());
    auto input = selection_input(c, *snap, runtime_, agent,
                                 policy::recommendation_reservation(c.default_max_tokens),
                                 std::nullopt, now);
    price_chain(input, c, agent, policy::kShortPromptTokens, c.default_max_tokens);
    if (input.cheapest) reply.selection = "cheapest";
    auto rec = policy::recommend(input);
    protocol::AgentStatus st{agent, rec.provider, rec.reason, {}};
    for (const auto& av : policy::provider_availability(input)) {
      protocol::AgentProviderAvailability a;
      a.available = av.available;
      if (av.why) a.why = std::string(policy::reason_name(*av.why));
      if (auto it = snap->providers.find(av.provider); it != snap->providers.end()) {
        a.percentage = it->second.agent.percentage;
      }
      for (const auto& p : input.chain) {
        if (p.name == av.provider) a.expected_cost_usd = p.expected_cost_usd;
      }
      st.providers[av.provider] = a;
    }
    reply.agents.push_back(std::move(st));
  }
  return Reply(reply);
}

Reply StatusReader::recommend(const Config& c, const protocol::RecommendRequest& r) const {
  if (auto e = check_agent(c, r.ai_name)) return Reply(*e);
  return Reply(recommendation(c, r.ai_name, now_()));
}

// ---- section 10

Reply StatusReader::limits() const {
  auto list = ledger_.limits();
  if (!list) return ledger_error(list.error());
  return Reply(limits_reply(*list));
}

Reply StatusReader::forecast(const Config& c, const protocol::ForecastRequest& r) const {
  if (r.ai_name && *r.ai_name != ledger::kGlobalScope) {
    if (auto e = check_agent(c, *r.ai_name)) return Reply(*e);
  }
  auto f = ledger_.forecast(r.ai_name, now_());
  if (!f) return ledger_error(f.error());
  return Reply(forecast_reply(*f));
}

Reply StatusReader::daily(const Config& c, const protocol::DailyRequest& r) const {
  if (r.ai_name) {
    if (auto e = check_agent(c, *r.ai_name)) return Reply(*e);
  }
  const std::string scope = r.ai_name.value_or(ledger::kGlobalScope);
  auto days = ledger_.daily(scope, r.days.value_or(kDefaultDailyDays), now_());
  if (!days) return ledger_error(days.error());
  return Reply(daily_reply(r.ai_name, *days, c));
}

Reply StatusReader::budget_of(const Config& c, const std::string& scope) const {
  auto period = ledger_.current_period(now_());
  if (!period) return ledger_error(period.error());
  auto usage = ledger_.usage(scope, *period);
  if (!usage) return ledger_error(usage.error());
  if (scope != ledger::kGlobalScope) {
    return Reply(usage_reply(scope, *period, *usage, c, recommendation(c, scope, now_()).provider));
  }
  for (auto it = usage->begin(); it != usage->end();) {
    it = it->second.limit ? std::next(it) : usage->erase(it);
  }
  protocol::UsageReply reply = usage_reply(scope, *period, *usage, c, std::nullopt);
  ledger::AgentLevel highest = ledger::AgentLevel::kNormal;
  for (const auto& [name, u] : *usage) highest = std::max(highest, u.level);
  reply.level = std::string(ledger::agent_level_name(highest));
  return Reply(reply);
}

}  // namespace tollgate
