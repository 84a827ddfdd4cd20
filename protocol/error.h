// Error codes and the Result type shared by every tollgate module.
//
// Expected failures are values (leveldb's Status): a function that can fail
// in a way the protocol names returns Result<T>; the error carries one of the
// wire error codes of PROTOCOL.md section 3 and a one-line message a person
// can act on. Exceptions from third-party libraries are caught where they
// arise and turned into these values. Plain data; safe to copy between
// threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tollgate::protocol {

enum class ErrorCode {
  kBadRequest,
  kUnsupportedVersion,
  kUnknownOp,
  kUnknownAgent,
  kTooLarge,
  kBudgetExhausted,
  kRateLimited,
  kProviderError,
  kNotConfigured,
  kEmergencyShutdown,
  kUnauthorized,
  kTimeout,
  kOverloaded,
  kCancelled,  // section 9: the `cancel` op ended the call
  kLedgerUnavailable,  // section 12: the ledger cannot be written now
  kInternal,
};

// The wire name: "bad_request", "unsupported_version", ...
std::string_view code_name(ErrorCode code);
// Inverse of code_name; nullopt for a name the protocol does not define.
std::optional<ErrorCode> code_from_name(std::string_view name);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::optional<int64_t> retry_after_ms;
  // Section 9: a streamed call that failed after its first part was sent
  // (the parts already sent are all the client gets). Written only when true.
  bool partial = false;

  static Error bad_request(std::string m) { return {ErrorCode::kBadRequest, std::move(m), {}, false}; }
  static Error unsupported_version(std::string m) { return {ErrorCode::kUnsupportedVersion, std::move(m), {}, false}; }
  static Error unknown_op(std::string m) { return {ErrorCode::kUnknownOp, std::move(m), {}, false}; }
  static Error unknown_agent(std::string m) { return {ErrorCode::kUnknownAgent, std::move(m), {}, false}; }
  static Error too_large(std::string m) { return {ErrorCode::kTooLarge, std::move(m), {}, false}; }
  static Error budget_exhausted(std::string m) { return {ErrorCode::kBudgetExhausted, std::move(m), {}, false}; }
  static Error rate_limited(std::string m, int64_t retry_ms) { return {ErrorCode::kRateLimited, std::move(m), retry_ms, false}; }
  static Error provider_error(std::string m) { return {ErrorCode::kProviderError, std::move(m), {}, false}; }
  static Error not_configured(std::string m) { return {ErrorCode::kNotConfigured, std::move(m), {}, false}; }
  static Error emergency_shutdown(std::string m) { return {ErrorCode::kEmergencyShutdown, std::move(m), {}, false}; }
  static Error unauthorized(std::string m) { return {ErrorCode::kUnauthorized, std::move(m), {}, false}; }
  static Error timeout(std::string m) { return {ErrorCode::kTimeout, std::move(m), {}, false}; }
  static Error overloaded(std::string m, int64_t retry_ms) { return {ErrorCode::kOverloaded, std::move(m), retry_ms, false}; }
  static Error cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m), {}, false}; }
  static Error ledger_unavailable(std::string m, int64_t retry_ms) { return {ErrorCode::kLedgerUnavailable, std::move(m), retry_ms, false}; }
  static Error internal(std::string m) { return {ErrorCode::kInternal, std::move(m), {}, false}; }
};

// A value or an Error. Minimal std::expected stand-in (C++20 has none).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  static Result success() { return {}; }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace tollgate::protocol
