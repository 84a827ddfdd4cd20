// StatusReader: the status ops (usage, summary, provider_status, recommend,
// emergency_status, alerts, history, ledger_events; section 10: limits,
// forecast, daily), answered from read
// transactions on the ledger and the providers' live state.
//
// Both front ends use it: the server loop (ZeroMQ requests, through the
// Dispatcher) and the HTTP listener's thread (daemon/server/http_api.h), so the two
// give the same reply for the same question by construction.
//
// While a remote ledger (PostgreSQL) cannot be read, a status op answers
// with its last ok reply to the same question, marked stale
// (known_replies.h); a question never answered before gets the
// ledger_unavailable error.
//
// Threads: any thread. Its only state is the known replies (their own
// lock); the ledger's reads open a read transaction on the caller's thread
// (MDB_NOTLS) and ProviderRuntime takes its own lock. The caller passes the configuration in
// force (the loop's own; the HTTP thread's snapshot of it).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/ledger/ledger.h"
#include "daemon/core/provider_runtime.h"
#include "daemon/server/known_replies.h"
#include "daemon/server/reply.h"
#include "protocol/codec.h"

namespace tollgate {

// Unix epoch milliseconds; injected so tests and tools can move time.
using NowFn = std::function<int64_t()>;
int64_t system_now_ms();

// The reply error of a failed ledger operation: ledger_unavailable keeps
// its code and retry_after_ms (the database is out of reach: retry);
// anything else is the daemon's own failure (internal). "ledger: " first.
protocol::Error ledger_failure(const protocol::Error& e);

class StatusReader {
 public:
  StatusReader(const ledger::Ledger& ledger, const ProviderRuntime& runtime, NowFn now);

  // True for the ops answer() serves.
  static bool is_status_op(const protocol::RequestBody& body);

  // The reply (ok or error) to a status op; nullopt for any other op
  // (ping, call, reset are the loop's).
  std::optional<Reply> answer(const Config& config, const protocol::RequestBody& body) const;

  // The recommendation for `agent` now; `reason` is "internal" when the
  // ledger could not be read.
  protocol::RecommendReply recommendation(const Config& config, const std::string& agent,
                                          int64_t now_ms) const;

  // Every agent with configuration or usage in `period`, sorted.
  std::vector<std::string> known_agents(const Config& c, const std::string& period) const;

  const ledger::Ledger& ledger() const { return ledger_; }
  const ProviderRuntime& runtime() const { return runtime_; }
  int64_t now_ms() const { return now_(); }

  // nullopt when the agent may be named; else the unknown_agent error.
  static std::optional<protocol::Error> check_agent(const Config& config, const std::string& agent);

  // The budget an operator's set_limit changed, as `usage` shows it (for
  // "*": the global budgets of the providers that have a limit).
  Reply budget_of(const Config& config, const std::string& scope) const;

 private:
  std::optional<Reply> read_answer(const Config& config, const protocol::RequestBody& body) const;
  Reply usage(const Config& c, const protocol::UsageRequest& r) const;
  Reply summary(const Config& c) const;
  Reply history(const Config& c, const protocol::HistoryRequest& r) const;
  Reply alerts(const protocol::AlertsRequest& r) const;
  Reply ledger_events(const protocol::LedgerEventsRequest& r) const;
  Reply emergency() const;
  Reply provider_status(const Config& c, const protocol::ProviderStatusRequest& r) const;
  Reply recommend(const Config& c, const protocol::RecommendRequest& r) const;
  Reply limits() const;
  Reply forecast(const Config& c, const protocol::ForecastRequest& r) const;
  Reply daily(const Config& c, const protocol::DailyRequest& r) const;

  const ledger::Ledger& ledger_;
  const ProviderRuntime& runtime_;
  const NowFn now_;
  mutable KnownReplies known_;
};

}  // namespace tollgate
