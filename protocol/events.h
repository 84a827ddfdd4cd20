// Event bodies of PROTOCOL.md section 4, published on the PUB socket by the
// server loop (encode_event in codec.h adds the topic and `seq`).
//
// Level, circuit and reason fields are the wire strings themselves
// ("warning", "open", ...): the policy code owns their meaning, the codec
// only carries them. Plain data; safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/request_id.h"

namespace tollgate::protocol {

// Topic `usage.<ai_name>`: after every charged call.
struct UsageEvent {
  std::string ai_name{};
  std::string provider{};
  std::string model{};
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t total_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;
  std::string reason{};
  RequestId request_id{};  // the call's id (nil when it had none)
  std::string period{};    // "YYYY-MM"
  int64_t at_ms = 0;
  // Section 10: a call answered from the response cache (tokens and cost
  // 0: nothing was charged; provider and model: who answered originally).
  bool cached = false;
  bool operator==(const UsageEvent&) const = default;
};

// Topic `alert.<level>`: a budget crossed a threshold. Also the element of
// the `alerts` reply. ai_name is "*" for a global budget.
struct AlertEvent {
  std::string level{};  // warning | critical | emergency | exhausted
  std::string ai_name{};
  std::string provider{};
  double threshold = 0;   // fraction 0..1
  double percentage = 0;  // 0..100
  uint64_t used = 0;
  uint64_t limit = 0;
  std::string period{};
  int64_t at_ms = 0;
  std::string message{};
  bool operator==(const AlertEvent&) const = default;
};

// Topic `provider.<provider>`: circuit state change.
struct ProviderEvent {
  std::string provider{};
  std::string circuit{};  // closed | open | half_open
  std::string reason{};
  int64_t at_ms = 0;
  bool operator==(const ProviderEvent&) const = default;
};

// Topic `ledger`, kind `reset`.
struct LedgerReset {
  std::string ai_name{};
  std::string period{};
  std::map<std::string, uint64_t> cleared{};  // provider -> tokens cleared
  bool operator==(const LedgerReset&) const = default;
};

// Topic `ledger`, kind `rollover`: a new period began.
struct LedgerRollover {
  std::string period{};
  std::string previous_period{};
  bool operator==(const LedgerRollover&) const = default;
};

struct RecoveredEntry {
  std::string ai_name{};
  std::string provider{};
  std::string period{};
  uint64_t tokens = 0;
  bool operator==(const RecoveredEntry&) const = default;
};

// Topic `ledger`, kind `recovered`: reservations left by a crash, charged.
struct LedgerRecovered {
  std::vector<RecoveredEntry> entries{};
  uint64_t total_tokens = 0;
  bool operator==(const LedgerRecovered&) const = default;
};

// Topic `ledger`, kind `limit` (section 10): an operator changed a limit
// with set_limit. nil limits: the configured ones apply.
struct LedgerLimit {
  std::string ai_name{};  // "*": the global budget
  std::string provider{};
  std::optional<uint64_t> limit{};
  std::optional<double> limit_usd{};
  std::optional<uint64_t> previous_limit{};    // the override it replaced (nil: none)
  std::optional<double> previous_limit_usd{};
  std::string set_by{};
  bool operator==(const LedgerLimit&) const = default;
};

// Body: {kind, <fields of data>, at_ms, seq}.
struct LedgerEvent {
  std::variant<LedgerReset, LedgerRollover, LedgerRecovered, LedgerLimit> data{};
  int64_t at_ms = 0;
  bool operator==(const LedgerEvent&) const = default;
};

using Event = std::variant<UsageEvent, AlertEvent, ProviderEvent, LedgerEvent>;

// "reset", "rollover" or "recovered".
std::string_view ledger_kind(const LedgerEvent& event);
// "usage.<ai_name>", "alert.<level>", "provider.<provider>" or "ledger".
std::string event_topic(const Event& event);

}  // namespace tollgate::protocol
