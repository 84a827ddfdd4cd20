#include "protocol/error.h"

#include <array>

namespace tollgate::protocol {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 16> kNames = {{
    {ErrorCode::kBadRequest, "bad_request"},
    {ErrorCode::kUnsupportedVersion, "unsupported_version"},
    {ErrorCode::kUnknownOp, "unknown_op"},
    {ErrorCode::kUnknownAgent, "unknown_agent"},
    {ErrorCode::kTooLarge, "too_large"},
    {ErrorCode::kBudgetExhausted, "budget_exhausted"},
    {ErrorCode::kRateLimited, "rate_limited"},
    {ErrorCode::kProviderError, "provider_error"},
    {ErrorCode::kNotConfigured, "not_configured"},
    {ErrorCode::kEmergencyShutdown, "emergency_shutdown"},
    {ErrorCode::kUnauthorized, "unauthorized"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kOverloaded, "overloaded"},
    {ErrorCode::kCancelled, "cancelled"},
    {ErrorCode::kLedgerUnavailable, "ledger_unavailable"},
    {ErrorCode::kInternal, "internal"},
}};

}  // namespace

std::string_view code_name(ErrorCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "internal";
}

std::optional<ErrorCode> code_from_name(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

}  // namespace tollgate::protocol
