#include "daemon/server/request_metrics.h"

#include <variant>

namespace tollgate {

namespace {

bool is_fallback(std::string_view reason) { return reason.rfind("fallback_", 0) == 0; }

}  // namespace

void RequestMetrics::replied(std::string_view transport, std::string_view op, const Reply& reply,
                             double seconds, bool was_pending) {
  const std::string code(reply.code());
  m_.requests.with({std::string(op), code, std::string(transport)}).inc();
  if (!reply.ok()) m_.errors.with({code}).inc();
  if (op == "call") {
    if (was_pending) m_.calls_in_flight.sub(1);
    m_.call_duration.observe(seconds);
    if (const auto reason = reply.reason(); is_fallback(reason)) {
      m_.fallbacks.with({std::string(reason)}).inc();
    }
  }
}

void RequestMetrics::published(const protocol::Event& event) {
  if (const auto* a = std::get_if<protocol::AlertEvent>(&event)) m_.alerts.with({a->level}).inc();
}

}  // namespace tollgate
