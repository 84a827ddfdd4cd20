// Budget arithmetic: the size of a call's input, token upper bounds,
// admission of a reservation, alert levels, threshold crossing, cost. Pure
// functions of their arguments (no LMDB, no clock, no I/O); safe from any
// thread.
//
// Input size (PROTOCOL.md section 3, rules 2 and 4). One function gives both
// numbers a call needs, so the per-request cap and the reservation can never
// disagree about what they measure:
// - estimate: UTF-8 bytes / 4, the ordinary estimate the per-request cap
//   (MAX_TOKENS_PER_REQUEST) is defined on;
// - bound: what the provider can report at most. Byte-level BPE tokenizers
//   (Anthropic's and OpenAI's) never produce more tokens than UTF-8 bytes,
//   so the bytes of the system prompt and of every message, plus a fixed
//   overhead per message and per request (role markers and chat-template
//   tokens the provider adds), bound the input. bytes / 4 is no bound: CJK
//   text, digits and code give about one token per character.
// input_bound.h measures a whole CallRequest (content blocks, tools, images)
// the same way; for a text-only call it gives exactly these numbers.
// The reservation is bound + max_tokens (token_upper_bound). Near the end of
// a budget, where that does not fit, the call pool may replace the bound by
// the provider's own count (Anthropic's count_tokens) plus a margin.
//
// Admission (PROTOCOL.md section 3, rules 4 and 6): a reservation fits one
// budget when used + reserved + amount <= limit and, for a budget with a
// soft threshold (the fallback threshold of a provider that is not the last
// in the chain), used + reserved is under it. It can never fit when
// used + amount > limit or used alone has reached the threshold; otherwise
// only other calls' reservations stand in the way and the call may wait.
//
// Alert levels (PROTOCOL.md section 4): warning, critical, emergency at the
// configured fractions of a budget's limit. A level is reached when
// used / limit >= threshold (the quotient is rounded once, so 112000 of
// 140000 reaches 0.80 exactly). Exhausted means empty: what is left
// (limit - used) is under exhausted_fraction of the limit. A limit of 0
// means "no budget": every level counts as reached from the start, and no
// alert ever fires for it. Global budgets without a limit have no levels.
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

// The input part of a call, measured two ways (see above).
struct InputSize {
  uint64_t estimate = 0;  // UTF-8 bytes / 4: the per-request cap's measure
  uint64_t bound = 0;     // never below what a byte-level BPE provider reports
};
// Saturates at UINT64_MAX instead of wrapping.
InputSize input_size(std::string_view system, const std::vector<std::string>& contents);

// input_size(...).bound + max_tokens, saturating.
uint64_t token_upper_bound(std::string_view system, const std::vector<std::string>& contents,
                           uint64_t max_tokens);

// One budget as admission sees it.
struct BudgetRoom {
  uint64_t used = 0;
  uint64_t reserved = 0;
  uint64_t limit = 0;
  std::optional<double> soft_threshold;  // fraction of limit; nullopt: none
};
enum class Fit {
  kFits,       // reserve now
  kWaits,      // only other calls' reservations stand in the way
  kNever,      // used + amount > limit: this call can never fit
  kThreshold,  // used has reached the soft threshold: fall back
};
Fit fit(const BudgetRoom& budget, uint64_t amount);

// The same rule for a budget in US dollars (PROTOCOL.md section 10): the
// cost charged, the cost held by reservations, the limit, and the amount
// a reservation holds (the call's highest possible cost).
struct DollarRoom {
  double used = 0;
  double reserved = 0;
  double limit = 0;
  std::optional<double> soft_threshold;
};
Fit fit_usd(const DollarRoom& budget, double amount);

struct Thresholds {
  double warning = 0.80;    // ALERT_WARNING_THRESHOLD
  double critical = 0.95;   // OPENAI_FALLBACK_THRESHOLD
  double emergency = 0.98;  // ALERT_EMERGENCY_THRESHOLD
  // TOLLGATE_EXHAUSTED_FRACTION: exhausted when limit - used is under this
  // fraction of the limit.
  double exhausted_fraction = 0.01;
};

// Ordered by severity; the numeric values are stored in the ledger's
// alerts_fired keys and must not change.
//
// kOverReservation is an alert kind, not a threshold level: a commit charged
// more than its reservation held (the reservation was meant to be a bound).
// It fires once per (agent, provider, period), is kept and published like
// the others (`alert.over_reservation`), and is never a budget's level: it is
// not in kAllAlertLevels, so levels, emergency status and re-arming never
// see it.
enum class AlertLevel : uint8_t {
  kWarning = 1,
  kCritical = 2,
  kEmergency = 3,
  kExhausted = 4,
  kOverReservation = 5,
  // Also a kind, not a threshold level: the forecast (PROTOCOL.md section
  // 10) projects the budget to reach its limit before its period ends.
  // Once per budget and period; never a budget's level, like
  // kOverReservation.
  kForecast = 6,
};
// The threshold levels, in ascending severity.
inline constexpr AlertLevel kAllAlertLevels[] = {AlertLevel::kWarning, AlertLevel::kCritical,
                                                 AlertLevel::kEmergency, AlertLevel::kExhausted};

// "warning", "critical", "emergency", "exhausted", "over_reservation",
// "forecast".
std::string_view alert_level_name(AlertLevel level);
std::optional<AlertLevel> alert_level_from_name(std::string_view name);
// The fraction of the limit at which `level` is reached (exhausted:
// 1 - exhausted_fraction; over_reservation: 0, it is no threshold).
double threshold_of(AlertLevel level, const Thresholds& thresholds);

// Never true for kOverReservation (no usage reaches it).
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

// limit - used is under exhausted_fraction of limit (limit > 0).
bool exhausted(uint64_t used, uint64_t limit, const Thresholds& thresholds);
// The same in US dollars (a limit of 0: true).
bool exhausted_usd(double used, double limit, const Thresholds& thresholds);

// used / limit as a percentage (0..100, above 100 when over). A limit of 0
// reads as 100 (nothing left).
double percentage(uint64_t used, uint64_t limit);

// Dollars per million tokens; 0 when no price is configured. The prompt
// cache rates default to the input rate: a model with no cache prices
// costs what it cost before caching was reported (every input token at the
// input rate).
struct Price {
  // Not an aggregate: Price{input, output} stays valid as fields are added.
  Price() = default;
  Price(double input, double output, std::optional<double> cache_write = std::nullopt,
        std::optional<double> cache_read = std::nullopt)
      : input_per_million(input),
        output_per_million(output),
        cache_write_per_million(cache_write),
        cache_read_per_million(cache_read) {}

  double input_per_million = 0.0;
  double output_per_million = 0.0;
  std::optional<double> cache_write_per_million;  // nullopt: input_per_million
  std::optional<double> cache_read_per_million;   // nullopt: input_per_million

  double cache_write() const { return cache_write_per_million.value_or(input_per_million); }
  double cache_read() const { return cache_read_per_million.value_or(input_per_million); }
};
// Every input token at the input rate (no cache split known).
double cost_usd(const Price& price, uint64_t input_tokens, uint64_t output_tokens);

// One reply's tokens, by the rate each is priced at.
struct UsageSplit {
  uint64_t uncached_input = 0;  // input neither written to nor read from the cache
  uint64_t cache_creation = 0;  // input written to the prompt cache
  uint64_t cache_read = 0;      // input read from the prompt cache
  uint64_t output = 0;
};
// The split of a provider's counts, where input_tokens includes both cache
// counts (ProviderReply, TokenUsage). Absent counts are 0; cache counts
// larger than input_tokens are cut down to it (creation first), so the
// three input parts always add up to input_tokens.
UsageSplit split_usage(uint64_t input_tokens, std::optional<uint64_t> cache_creation,
                       std::optional<uint64_t> cache_read, uint64_t output_tokens);
// Each part at its own rate: uncached input at input, cache creation at
// cache_write(), cache reads at cache_read(), output at output.
double cost_usd(const Price& price, const UsageSplit& usage);

}  // namespace tollgate::ledger
