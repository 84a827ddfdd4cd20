// tollgate::Error and tollgate::Result<T>: what every Client method returns.
//
// An Error is either the daemon's (`code` one of PROTOCOL.md section 3's
// error codes: budget_exhausted, rate_limited, timeout, ...) or the
// client's own, with these codes:
//   client_timeout  no reply within the client's timeout (Options::timeout,
//                   CallOptions::client_timeout); the daemon may still be
//                   working on the request, whose late reply is discarded
//   transport       ZeroMQ failed (bad endpoint, closed context)
//   bad_reply       the reply could not be decoded as a protocol map
// `request_id` is the `id` the client gave the request (the one in the
// daemon's logs). Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace tollgate {

inline constexpr const char* kClientTimeout = "client_timeout";
inline constexpr const char* kTransport = "transport";
inline constexpr const char* kBadReply = "bad_reply";

struct Error {
  std::string code;
  std::string message;
  std::optional<int64_t> retry_after_ms;  // set where waiting would help
  std::string request_id;
  bool partial = false;  // a stream ended by this error after some parts
};

// T or an Error. value() on an error (or error() on a value) throws
// std::logic_error: check ok() first.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    if (!ok()) throw std::logic_error("tollgate::Result::value() on error " + std::get<1>(v_).code);
    return std::get<0>(v_);
  }
  T& value() & {
    if (!ok()) throw std::logic_error("tollgate::Result::value() on error " + std::get<1>(v_).code);
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw std::logic_error("tollgate::Result::value() on error " + std::get<1>(v_).code);
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    if (ok()) throw std::logic_error("tollgate::Result::error() on a value");
    return std::get<1>(v_);
  }
  const T* operator->() const { return &value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace tollgate
