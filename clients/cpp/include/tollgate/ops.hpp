// Typed views of the most used status replies (PROTOCOL.md section 3):
// `usage`, `recommend` and `ping`. Each keeps the whole reply in `raw`
// (fields added by later daemons are there). The other ops return a
// tollgate::Value. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tollgate/value.hpp"

namespace tollgate {

// One provider's budget of one agent, as in `usage` and `set_limit`.
struct BudgetUsage {
  uint64_t used = 0, reserved = 0, remaining = 0, requests = 0;
  std::optional<uint64_t> limit;  // nil: no limit
  std::optional<double> limit_usd;
  double percentage = 0, cost_usd = 0;
};

struct UsageReport {
  std::string ai_name, period, level;
  std::optional<std::string> recommended;
  std::map<std::string, BudgetUsage> providers;
  Value raw;
};

struct Recommendation {
  std::optional<std::string> provider;  // nil when none is available
  std::string reason;
  bool available = false;
  Value raw;
};

struct PingInfo {
  std::string version;
  int64_t uptime_ms = 0, pid = 0;
  Value raw;
};

// Optional filters of `alerts`.
struct AlertsQuery {
  std::optional<int64_t> limit, since_ms;
  std::optional<std::string> ai_name;  // "*" for the global budgets' alerts
};

namespace detail {

inline std::optional<std::string> optional_string(const Value& v) {
  if (!v.is_string()) return std::nullopt;
  return v.as_string();
}

inline BudgetUsage budget_from(const Value& v) {
  BudgetUsage b;
  b.used = v["used"].as_uint();
  b.reserved = v["reserved"].as_uint();
  b.remaining = v["remaining"].as_uint();
  b.requests = v["requests"].as_uint();
  if (v["limit"].is_number()) b.limit = v["limit"].as_uint();
  if (v["limit_usd"].is_number()) b.limit_usd = v["limit_usd"].as_double();
  b.percentage = v["percentage"].as_double();
  b.cost_usd = v["cost_usd"].as_double();
  return b;
}

inline UsageReport usage_from(Value reply) {
  UsageReport u;
  u.ai_name = reply["ai_name"].as_string();
  u.period = reply["period"].as_string();
  u.level = reply["level"].as_string();
  u.recommended = optional_string(reply["recommended"]);
  for (const auto& [name, b] : reply["providers"].as_map()) u.providers[name] = budget_from(b);
  u.raw = std::move(reply);
  return u;
}

inline Recommendation recommendation_from(Value reply) {
  Recommendation r;
  r.provider = optional_string(reply["provider"]);
  r.reason = reply["reason"].as_string();
  r.available = reply["available"].as_bool();
  r.raw = std::move(reply);
  return r;
}

inline PingInfo ping_from(Value reply) {
  PingInfo p;
  p.version = reply["version"].as_string();
  p.uptime_ms = reply["uptime_ms"].as_int();
  p.pid = reply["pid"].as_int();
  p.raw = std::move(reply);
  return p;
}

}  // namespace detail
}  // namespace tollgate
