#include "protocol/bounded_unpack.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "protocol/codec.h"

namespace tollgate::protocol::detail {
namespace {

enum class Problem { kNone, kMalformed, kTruncated, kTooDeep, kTooManyElements };

// Allocation-free pre-scan (see header): msgpack's parser calls these as it
// walks the bytes; returning false stops it immediately.
class BoundsCheck : public msgpack::null_visitor {
 public:
  BoundsCheck(size_t max_depth, uint64_t max_elements)
      : max_depth_(max_depth), max_elements_(max_elements) {}

  bool start_array(uint32_t n) { return open(n); }
  bool start_map(uint32_t n) { return open(uint64_t{2} * n); }
  bool end_array() { return close(); }
  bool end_map() { return close(); }
  void parse_error(size_t /*parsed*/, size_t /*at*/) { problem_ = Problem::kMalformed; }
  void insufficient_bytes(size_t /*parsed*/, size_t /*at*/) { problem_ = Problem::kTruncated; }

  Problem problem() const { return problem_; }

 private:
  bool open(uint64_t elements) {
    if (++depth_ > max_depth_) {
      problem_ = Problem::kTooDeep;
      return false;
    }
    declared_ += elements;
    if (declared_ > max_elements_) {
      problem_ = Problem::kTooManyElements;
      return false;
    }
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  const size_t max_depth_;
  const uint64_t max_elements_;
  size_t depth_ = 0;
  uint64_t declared_ = 0;
  Problem problem_ = Problem::kNone;
};

// Keep strings, bin and ext in the caller's buffer instead of copying.
bool reference_everything(msgpack::type::object_type /*type*/, std::size_t /*size*/,
                          void* /*user_data*/) {
  return true;
}

Error scan_error(Problem problem, std::string_view what, size_t max_depth) {
  std::string w(what);
  switch (problem) {
    case Problem::kTruncated:
      return Error::bad_request(w + ": ends in the middle of a msgpack value");
    case Problem::kTooDeep: return too_deep(what, max_depth);
    case Problem::kTooManyElements:
      return Error::bad_request(w + ": declares more elements than it has bytes");
    case Problem::kMalformed:
    case Problem::kNone:
      break;
  }
  return Error::bad_request(w + ": not valid msgpack");
}

}  // namespace

size_t zone_chunk_size(size_t body_size) {
  // A container element is a 24-byte msgpack::object; small bodies fit one
  // chunk, large ones do not allocate huge chunks up front.
  return std::clamp<size_t>(body_size * 4, 1024, 64 * 1024);
}

Result<Unpacked> unpack_bounded(msgpack::zone& zone, std::string_view bytes, size_t max_depth,
                                std::string_view what) {
  if (bytes.empty()) return Error::bad_request(std::string(what) + ": empty");
  BoundsCheck check(max_depth, bytes.size());
  size_t scanned = 0;
  if (!msgpack::parse(bytes.data(), bytes.size(), scanned, check)) {
    return scan_error(check.problem(), what, max_depth);
  }
  const size_t n = bytes.size();
  const msgpack::unpack_limit limit(n, n, n, n, n, max_depth + 1);
  try {
    size_t off = 0;
    bool referenced = false;
    msgpack::object object = msgpack::unpack(zone, bytes.data(), bytes.size(), off, referenced,
                                             &reference_everything, nullptr, limit);
    return Unpacked{object, off};
  } catch (const std::exception& e) {
    // The scan accepted it, so this is msgpack disagreeing with itself or
    // memory running out; still the body's fault as far as the client goes.
    return Error::bad_request(std::string(what) + ": cannot be decoded (" + e.what() + ")");
  }
}

std::string_view type_name(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "bool";
    case msgpack::type::POSITIVE_INTEGER: return "integer";
    case msgpack::type::NEGATIVE_INTEGER: return "negative integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "bin";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
  }
  return "unknown type";
}

}  // namespace tollgate::protocol::detail
