// Budget arithmetic: token upper bounds, alert levels, threshold crossing,
// cost. Pure functions of their arguments (no LMDB, no clock, no I/O); safe
// from any thread.
//
// Token upper bound. Byte-level BPE tokenizers never produce more tokens
// than UTF-8 bytes, so the bytes of the system prompt and of every message,
// plus a fixed overhead per message and per request (role markers and
// chat-template tokens the provider adds), plus max_tokens, bound what one
// call can be charged. The bound is what the ledger reserves.
//
// Alert levels (PROTOCOL.md section 4): warning, critical, emergency at the
// configured fractions of a budget's limit, exhausted at 1.0. A level is
// reached when used / limit >= threshold (the quotient is rounded once, so
// 112000 of 140000 reaches 0.80 exactly). A limit of 0 means "no budget":
// every level counts as reached from the start, so it never fires on a
// crossing. Global budgets without a limit have no levels at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::ledger {

// Tokens a provider's chat template adds around one message (role markers,
// separators), and around the whole request (system block, reply priming).
// Generous on purpose: the bound must stay sound.
inline constexpr uint64_t kPerMessageOverhead = 8;
inline constexpr uint64_t kPerRequestOverhead = 16;

// UTF-8 bytes of system and every message content, plus overheads, plus
// max_tokens. Saturates at UINT64_MAX instead of wrapping.
uint64_t token_upper_bound(std::string_view system, const std::vector<std::string>& contents,
                           uint64_t max_tokens);

struct Thresholds {
  double warning = 0.80;    // ALERT_WARNING_THRESHOLD
  double critical = 0.95;   // OPENAI_FALLBACK_THRESHOLD
  double emergency = 0.98;  // ALERT_EMERGENCY_THRESHOLD
};

// Ordered by severity; the numeric values are stored in the ledger's
// alerts_fired keys and must not change.
enum class AlertLevel : uint8_t { kWarning = 1, kCritical = 2, kEmergency = 3, kExhausted = 4 };
inline constexpr AlertLevel kAllAlertLevels[] = {AlertLevel::kWarning, AlertLevel::kCritical,
                                                 AlertLevel::kEmergency, AlertLevel::kExhausted};

// "warning", "critical", "emergency", "exhausted".
std::string_view alert_level_name(AlertLevel level);
std::optional<AlertLevel> alert_level_from_name(std::string_view name);
// The fraction of the limit at which `level` is reached (exhausted: 1.0).
double threshold_of(AlertLevel level, const Thresholds& thresholds);

bool level_reached(AlertLevel level, uint64_t used, uint64_t limit, const Thresholds& thresholds);
// Every level reached at `used`, in ascending severity.
std::vector<AlertLevel> reached_levels(uint64_t used, uint64_t limit, const Thresholds& thresholds);
// Levels reached at new_used that were not reached at old_used, ascending.
// A jump over several thresholds returns each of them.
std::vector<AlertLevel> crossed_levels(uint64_t old_used, uint64_t new_used, uint64_t limit,
                                       const Thresholds& thresholds);

// The level of one budget, or of an agent (PROTOCOL.md `usage`.level).
enum class AgentLevel : uint8_t { kNormal, kWarning, kCritical, kEmergency, kExhausted };
// "normal", "warning", "critical", "emergency", "exhausted".
std::string_view agent_level_name(AgentLevel level);
// The highest level `used` reaches for `limit`.
AgentLevel budget_level(uint64_t used, uint64_t limit, const Thresholds& thresholds);
AgentLevel to_agent_level(AlertLevel level);

// used / limit as a percentage (0..100, above 100 when over). A limit of 0
// reads as 100 (nothing left).
double percentage(uint64_t used, uint64_t limit);

// Dollars per million tokens; 0 when no price is configured.
struct Price {
  double input_per_million = 0.0;
  double output_per_million = 0.0;
};
double cost_usd(const Price& price, uint64_t input_tokens, uint64_t output_tokens);

}  // namespace tollgate::ledger
