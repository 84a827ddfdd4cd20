#include "daemon/core/budget.h"

#include <algorithm>
#include <limits>

#include "daemon/core/policy/saturating.h"

namespace tollgate::ledger {

InputSize input_size(std::string_view system, const std::vector<std::string>& contents) {
  uint64_t bytes = system.size();
  uint64_t bound = saturating_add(kPerRequestOverhead, system.size());
  for (const auto& content : contents) {
    bytes = saturating_add(bytes, content.size());
    bound = saturating_add(bound, saturating_add(content.size(), kPerMessageOverhead));
  }
  return InputSize{bytes / 4, bound};
}

uint64_t token_upper_bound(std::string_view system, const std::vector<std::string>& contents,
                           uint64_t max_tokens) {
  return saturating_add(input_size(system, contents).bound, max_tokens);
}

namespace {

// used / limit >= fraction with one correctly rounded division: 112000 of
// 140000 reaches 0.80 exactly (levels and admission's soft threshold).
bool at_fraction(uint64_t used, uint64_t limit, double fraction) {
  return static_cast<double>(used) / static_cast<double>(limit) >= fraction;
}

}  // namespace

Fit fit(const BudgetRoom& b, uint64_t amount) {
  if (b.used > b.limit || amount > b.limit - b.used) return Fit::kNever;
  if (b.soft_threshold && at_fraction(b.used, b.limit, *b.soft_threshold)) return Fit::kThreshold;
  const uint64_t held = saturating_add(b.used, b.reserved);
  if (held > b.limit || amount > b.limit - held) return Fit::kWaits;
  if (b.soft_threshold && at_fraction(held, b.limit, *b.soft_threshold)) return Fit::kWaits;
  return Fit::kFits;
}

Fit fit_usd(const DollarRoom& b, double amount) {
  if (b.used + amount > b.limit) return Fit::kNever;
  if (b.soft_threshold && b.limit > 0 && b.used / b.limit >= *b.soft_threshold) {
    return Fit::kThreshold;
  }
  const double held = b.used + b.reserved;
  if (held + amount > b.limit) return Fit::kWaits;
  if (b.soft_threshold && b.limit > 0 && held / b.limit >= *b.soft_threshold) return Fit::kWaits;
  return Fit::kFits;
}

bool exhausted_usd(double used, double limit, const Thresholds& thresholds) {
  if (limit <= 0 || used >= limit) return true;
  return limit - used < thresholds.exhausted_fraction * limit;
}

bool exhausted(uint64_t used, uint64_t limit, const Thresholds& thresholds) {
  if (limit == 0) return true;
  if (used >= limit) return true;
  return static_cast<double>(limit - used) <
         thresholds.exhausted_fraction * static_cast<double>(limit);
}

std::string_view alert_level_name(AlertLevel level) {
  switch (level) {
    case AlertLevel::kWarning: return "warning";
    case AlertLevel::kCritical: return "critical";
    case AlertLevel::kEmergency: return "emergency";
    case AlertLevel::kExhausted: return "exhausted";
    case AlertLevel::kOverReservation: return "over_reservation";
    case AlertLevel::kForecast: return "forecast";
  }
  return "exhausted";
}

std::optional<AlertLevel> alert_level_from_name(std::string_view name) {
  for (AlertLevel level : kAllAlertLevels) {
    if (alert_level_name(level) == name) return level;
  }
  for (AlertLevel kind : {AlertLevel::kOverReservation, AlertLevel::kForecast}) {
    if (alert_level_name(kind) == name) return kind;
  }
  return std::nullopt;
}

double threshold_of(AlertLevel level, const Thresholds& thresholds) {
  switch (level) {
    case AlertLevel::kWarning: return thresholds.warning;
    case AlertLevel::kCritical: return thresholds.critical;
    case AlertLevel::kEmergency: return thresholds.emergency;
    case AlertLevel::kExhausted: return 1.0 - thresholds.exhausted_fraction;
    case AlertLevel::kOverReservation:
    case AlertLevel::kForecast: return 0.0;
  }
  return 1.0;
}

bool level_reached(AlertLevel level, uint64_t used, uint64_t limit, const Thresholds& thresholds) {
  if (level == AlertLevel::kOverReservation || level == AlertLevel::kForecast) return false;
  if (limit == 0) return true;
  if (level == AlertLevel::kExhausted) return exhausted(used, limit, thresholds);
  // One correctly rounded division: 112000/140000 equals the literal 0.80.
  return at_fraction(used, limit, threshold_of(level, thresholds));
}

std::vector<AlertLevel> reached_levels(uint64_t used, uint64_t limit, const Thresholds& thresholds) {
  std::vector<AlertLevel> out;
  for (AlertLevel level : kAllAlertLevels) {
    if (level_reached(level, used, limit, thresholds)) out.push_back(level);
  }
  return out;
}

std::vector<AlertLevel> crossed_levels(uint64_t old_used, uint64_t new_used, uint64_t limit,
                                       const Thresholds& thresholds) {
  std::vector<AlertLevel> out;
  for (AlertLevel level : kAllAlertLevels) {
    if (level_reached(level, new_used, limit, thresholds) &&
        !level_reached(level, old_used, limit, thresholds)) {
      out.push_back(level);
    }
  }
  return out;
}

std::string_view agent_level_name(AgentLevel level) {
  switch (level) {
    case AgentLevel::kNormal: return "normal";
    case AgentLevel::kWarning: return "warning";
    case AgentLevel::kCritical: return "critical";
    case AgentLevel::kEmergency: return "emergency";
    case AgentLevel::kExhausted: return "exhausted";
  }
  return "normal";
}

AgentLevel to_agent_level(AlertLevel level) {
  switch (level) {
    case AlertLevel::kWarning: return AgentLevel::kWarning;
    case AlertLevel::kCritical: return AgentLevel::kCritical;
    case AlertLevel::kEmergency: return AgentLevel::kEmergency;
    case AlertLevel::kExhausted: return AgentLevel::kExhausted;
    case AlertLevel::kOverReservation:
    case AlertLevel::kForecast: return AgentLevel::kNormal;  // no level
  }
  return AgentLevel::kNormal;
}

AgentLevel budget_level(uint64_t used, uint64_t limit, const Thresholds& thresholds) {
  AgentLevel out = AgentLevel::kNormal;
  for (AlertLevel level : kAllAlertLevels) {
    if (level_reached(level, used, limit, thresholds)) out = to_agent_level(level);
  }
  return out;
}

double percentage(uint64_t used, uint64_t limit) {
  if (limit == 0) return 100.0;
  return static_cast<double>(used) * 100.0 / static_cast<double>(limit);
}

double cost_usd(const Price& price, uint64_t input_tokens, uint64_t output_tokens) {
  return (static_cast<double>(input_tokens) * price.input_per_million +
          static_cast<double>(output_tokens) * price.output_per_million) /
         1e6;
}

UsageSplit split_usage(uint64_t input_tokens, std::optional<uint64_t> cache_creation,
                       std::optional<uint64_t> cache_read, uint64_t output_tokens) {
  UsageSplit s;
  s.cache_creation = std::min(cache_creation.value_or(0), input_tokens);
  s.cache_read = std::min(cache_read.value_or(0), input_tokens - s.cache_creation);
  s.uncached_input = input_tokens - s.cache_creation - s.cache_read;
  s.output = output_tokens;
  return s;
}

double cost_usd(const Price& price, const UsageSplit& usage) {
  return (static_cast<double>(usage.uncached_input) * price.input_per_million +
          static_cast<double>(usage.cache_creation) * price.cache_write() +
          static_cast<double>(usage.cache_read) * price.cache_read() +
          static_cast<double>(usage.output) * price.output_per_million) /
         1e6;
}

}  // namespace tollgate::ledger
