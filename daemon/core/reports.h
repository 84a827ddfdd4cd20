// Reports: the status replies and ledger events, built from what the ledger
// read and the configuration. Pure functions of their arguments (no I/O, no
// clock), so every mapping rule of PROTOCOL.md sections 3 and 4 is tested
// without a daemon; any thread may call them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/core/ledger_types.h"
#include "protocol/codec.h"

namespace tollgate {

// The ledger's budget policy for a configuration: its thresholds, chain
// and limits (captured by value, so the ledger may keep it across reloads).
ledger::BudgetPolicy budget_policy(const Config& config);

protocol::AlertEvent alert_event(const ledger::Alert& alert);
// Appends one event per alert, in order.
void append_alert_events(const std::vector<ledger::Alert>& alerts,
                         std::vector<protocol::Event>& out);
protocol::LedgerEvent rollover_event(const ledger::Rollover& rollover, int64_t now_ms);
protocol::LedgerEvent recovered_event(const ledger::OpenReport& report, int64_t now_ms);
protocol::LedgerEvent reset_event(const ledger::ResetOutcome& reset, int64_t now_ms);
protocol::LedgerEvent limit_event(const ledger::LimitChange& change, int64_t at_ms);
// A record of the ledger log as the `ledger` event it was published as
// (the same mapping as the ones above), for the `ledger_events` op.
protocol::LedgerEvent ledger_event(const ledger::LedgerRecord& record);

// The agent's level: the highest threshold reached on its primary provider
// (the first of its chain, Config::chain_for); `exhausted` only when every
// provider of its chain is used up, else at most `emergency`.
std::string agent_level(const std::string& agent, const ledger::ProviderUsage& usage, const Config& config);

protocol::UsageReply usage_reply(const std::string& agent, const std::string& period,
                                 const ledger::ProviderUsage& usage, const Config& config,
                                 std::optional<std::string> recommended);

protocol::GlobalProviderUsage global_usage(const ledger::BudgetUsage& usage);

// One agent's usage, for the summary's agents list.
struct AgentUsage {
  std::string agent;
  ledger::ProviderUsage usage;
};

protocol::SummaryReply summary_reply(const std::string& period, const ledger::ProviderUsage& global,
                                     const std::vector<AgentUsage>& agents, const Config& config);

// Every configured provider appears in every month (zeros when unused).
protocol::HistoryReply history_reply(const std::string& agent,
                                     const std::vector<ledger::HistoryMonth>& months,
                                     const Config& config);

protocol::EmergencyStatusReply emergency_reply(const ledger::EmergencyStatus& status);

protocol::ResetReply reset_reply(const ledger::ResetOutcome& reset);

// ---- section 10 (operator_reports.cpp)
protocol::LimitsReply limits_reply(const std::vector<ledger::LimitEntry>& limits);
protocol::ForecastReply forecast_reply(const ledger::Forecast& forecast);
// ai_name nullopt: every agent together. Every configured provider appears
// in every day (zeros when unused).
protocol::DailyReply daily_reply(const std::optional<std::string>& ai_name,
                                 const std::vector<ledger::DailyUsage>& days, const Config& config);
// "YYYY-MM-DD" of a UTC day number.
std::string day_name(int64_t day);

}  // namespace tollgate
