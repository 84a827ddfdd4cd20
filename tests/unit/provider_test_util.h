// Helpers shared by the provider adapter unit tests (pure; any thread).
#pragma once

#include <cstdint>
#include <string>

#include "workers/providers/provider_adapter.h"

namespace tollgate::workers::testing {

inline constexpr int64_t kNow = 1717243200000;  // 2024-06-01T12:00:00Z

// The value of the first request header with exactly this name, or
// "<absent>".
inline std::string header_value(const HttpRequest& req, const std::string& name) {
  for (const auto& [n, v] : req.headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

}  // namespace tollgate::workers::testing
