// Internal to protocol/: typed, validated access to the fields of one
// decoded msgpack map (a request body, a chat message, a stored alert).
//
// Every reader takes the wire key and a rule; the first failure is kept as
// a bad_request Error whose message is "<key>: <rule>" (prefixed with the
// path for nested maps, e.g. "messages[2].role: user or assistant"), and
// later calls do nothing. nil counts as absent. A known key given twice is
// an error. Strings are checked to be UTF-8 and copied out, so the source
// buffer may be freed afterwards. Single-threaded per instance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "protocol/error.h"
#include "protocol/request_id.h"

namespace tollgate::protocol::detail {

bool valid_utf8(std::string_view s);
// [A-Za-z0-9_.-]{1,64}
bool valid_agent_name(std::string_view s);

class FieldReader {
 public:
  // `map` must be a MAP object; `path` prefixes keys in messages ("" at top).
  FieldReader(const msgpack::object& map, std::string path = {});

  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }
  void fail(std::string_view key, std::string_view rule);
  // Keeps `error` as is (e.g. a nested reader's failure) unless one is set.
  void fail_with(const Error& error) {
    if (!error_) error_ = error;
  }

  // The value under `key`; nullptr when absent, nil, or already failed.
  const msgpack::object* find(std::string_view key);
  // bad_request when any key of the map is not a string.
  bool check_string_keys();

  void agent_name(std::string_view key, std::string& out, bool allow_star = false);
  void agent_name(std::string_view key, std::optional<std::string>& out, bool allow_star = false);
  void string(std::string_view key, size_t min_bytes, size_t max_bytes, std::string& out);
  void string(std::string_view key, size_t min_bytes, size_t max_bytes,
              std::optional<std::string>& out);
  void uint(std::string_view key, uint64_t lo, uint64_t hi, std::optional<uint64_t>& out);
  void uint(std::string_view key, uint64_t lo, uint64_t hi, uint64_t& out);
  void uint(std::string_view key, uint64_t lo, uint64_t hi, std::optional<uint32_t>& out);
  void int64(std::string_view key, int64_t lo, int64_t hi, std::optional<int64_t>& out);
  void int64(std::string_view key, int64_t lo, int64_t hi, int64_t& out);
  void number(std::string_view key, double lo, double hi, std::optional<double>& out);
  void number(std::string_view key, double lo, double hi, double& out);
  // A msgpack bool; absent or nil leaves `out` as it is.
  void boolean(std::string_view key, bool& out);

  std::string path_of(std::string_view key) const;

 private:
  // Each returns false after recording the failure.
  bool read_string(const msgpack::object& o, std::string_view key, size_t min_bytes,
                   size_t max_bytes, std::string& out);
  bool read_uint(const msgpack::object& o, std::string_view key, uint64_t lo, uint64_t hi,
                 uint64_t& out);
  bool read_int(const msgpack::object& o, std::string_view key, int64_t lo, int64_t hi,
                int64_t& out);
  bool read_number(const msgpack::object& o, std::string_view key, double lo, double hi,
                   double& out);
  void missing(std::string_view key, std::string_view rule);

  const msgpack::object_kv* begin_;
  const msgpack::object_kv* end_;
  std::string path_;
  std::optional<Error> error_;
};

// A request id (a request's `id`, the `target` of `cancel`, a reply's echo)
// as canonical msgpack bytes; nil when absent; bad_request naming `key`
// when it is neither an integer nor a UTF-8 string of at most 128 bytes.
Result<RequestId> read_request_id(FieldReader& fields, std::string_view key);

}  // namespace tollgate::protocol::detail
