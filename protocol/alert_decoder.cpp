// decode_alert_event: the inverse of encode_event for alert bodies, so the
// daemon can keep encoded alerts and serve them back for the `alerts` op.
#include <limits>

#include "protocol/bounded_unpack.h"
#include "protocol/codec.h"
#include "protocol/field_reader.h"

namespace tollgate::protocol {

Result<AlertEvent> decode_alert_event(std::string_view body) {
  constexpr size_t kAny = std::numeric_limits<size_t>::max();
  constexpr int64_t kMaxI = std::numeric_limits<int64_t>::max();
  constexpr uint64_t kMaxU = std::numeric_limits<uint64_t>::max();
  constexpr size_t kMaxDepth = 8;
  try {
    msgpack::zone zone(detail::zone_chunk_size(body.size()));
    auto unpacked = detail::unpack_bounded(zone, body, kMaxDepth, "alert body");
    if (!unpacked) return unpacked.error();
    if (unpacked->object.type != msgpack::type::MAP || unpacked->consumed != body.size()) {
      return Error::bad_request("alert body: must be exactly one msgpack map");
    }
    detail::FieldReader f(unpacked->object);
    AlertEvent a;
    if (f.check_string_keys()) {
      f.string("level", 1, kAny, a.level);
      f.string("ai_name", 1, kAny, a.ai_name);
      f.string("provider", 1, kAny, a.provider);
      f.number("threshold", 0, 1e9, a.threshold);
      f.number("percentage", 0, 1e9, a.percentage);
      f.uint("used", 0, kMaxU, a.used);
      f.uint("limit", 0, kMaxU, a.limit);
      f.string("period", 0, kAny, a.period);
      f.int64("at_ms", 0, kMaxI, a.at_ms);
      f.string("message", 0, kAny, a.message);
    }
    if (!f.ok()) return f.error();
    return a;
  } catch (const std::exception& e) {
    return Error::internal(std::string("alert body: decoding failed: ") + e.what());
  }
}

}  // namespace tollgate::protocol
