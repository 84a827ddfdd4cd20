#include "daemon/server/request_metrics.h"

#include <msgpack.hpp>

#include <variant>

namespace tollgate {

namespace {

const msgpack::object* field(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      return &kv.val;
    }
  }
  return nullptr;
}

std::string text(const msgpack::object* o) {
  if (!o || o->type != msgpack::type::STR) return {};
  return std::string(o->via.str.ptr, o->via.str.size);
}

bool is_fallback(std::string_view reason) { return reason.rfind("fallback_", 0) == 0; }

}  // namespace

ReplyOutcome read_reply_outcome(std::string_view body) {
  ReplyOutcome out{"unreadable", {}};
  try {
    // Our own encoder wrote it, but a reader of encoded bytes must not
    // trust them: msgpack throws on malformed input.
    auto handle = msgpack::unpack(body.data(), body.size());
    const auto& root = handle.get();
    const auto* ok = field(root, "ok");
    if (!ok || ok->type != msgpack::type::BOOLEAN) return out;
    if (ok->via.boolean) {
      out.code = "ok";
      out.reason = text(field(root, "reason"));
    } else if (const auto* error = field(root, "error")) {
      out.code = text(field(*error, "code"));
      if (out.code.empty()) out.code = "unreadable";
    }
  } catch (const std::exception&) {
    out.code = "unreadable";
  }
  return out;
}

void RequestMetrics::replied(std::string_view transport, std::string_view op,
                             std::string_view body, double seconds, bool was_pending) {
  auto outcome = read_reply_outcome(body);
  m_.requests.with({std::string(op), outcome.code, std::string(transport)}).inc();
  if (outcome.code != "ok") m_.errors.with({outcome.code}).inc();
  if (op == "call") {
    if (was_pending) m_.calls_in_flight.sub(1);
    m_.call_duration.observe(seconds);
    if (is_fallback(outcome.reason)) m_.fallbacks.with({outcome.reason}).inc();
  }
}

void RequestMetrics::published(const protocol::Event& event) {
  if (const auto* a = std::get_if<protocol::AlertEvent>(&event)) m_.alerts.with({a->level}).inc();
}

}  // namespace tollgate
