// RequestId: a request's `id` kept as its raw msgpack bytes.
//
// PROTOCOL.md section 3: the id is a string (at most 128 bytes) or an
// integer, optional, and echoed verbatim in the reply. Keeping the encoded
// bytes makes the echo exact and cheap (no re-encoding, no variant). An
// empty `raw` is nil (no id). Plain data; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::protocol {

struct RequestId {
  std::string raw{};  // one encoded msgpack str or int; empty = nil

  static RequestId from_int(int64_t id);
  static RequestId from_string(std::string_view id);

  bool is_nil() const { return raw.empty(); }
  // The value, when the id is of that type.
  std::optional<int64_t> as_int() const;
  std::optional<std::string> as_string() const;
  // For logs: the decimal integer or the string itself; "nil" when absent.
  std::string to_display() const;

  bool operator==(const RequestId&) const = default;
};

}  // namespace tollgate::protocol
