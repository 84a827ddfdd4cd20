#include "workers/notify/ledger_outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/core/reports.h"
#include "protocol/codec.h"
#include "protocol/json_bridge.h"

namespace tollgate::notify {

OutboxItem outbox_item(const ledger::OutboxEntry& entry) {
  const protocol::AlertEvent event = alert_event(entry.alert);
  // The body as published, without the event stream's `seq`.
  const protocol::EncodedEvent encoded = protocol::encode_event(event, 0);
  auto body = protocol::to_json(encoded.body);
  std::string json = "{}";
  if (body) {
    body->erase("seq");
    json = body->dump();
  }
  return OutboxItem{entry.alert.log_seq, entry.destination, encoded.topic, std::move(json),
                    event.level,         entry.alert.at_ms};
}

std::vector<OutboxItem> LedgerOutbox::pending(const std::string& destination, uint64_t after_id,
                                              size_t limit) {
  auto entries = ledger_.outbox(destination, after_id, limit);
  if (!entries) {
    spdlog::warn("notifications: cannot read the outbox of {}: {}", destination,
                 entries.error().message);
    return {};
  }
  std::vector<OutboxItem> out;
  out.reserve(entries->size());
  for (const auto& e : *entries) out.push_back(outbox_item(e));
  return out;
}

void LedgerOutbox::done(uint64_t id, const std::string& destination) {
  auto r = ledger_.outbox_done(destination, id);
  if (!r) {
    spdlog::warn("notifications: alert {} for {} stays in the outbox ({}); it is sent again after "
                 "a restart",
                 id, destination, r.error().message);
  }
}

void LedgerOutbox::drop_unconfigured(const std::vector<std::string>& configured) {
  auto destinations = ledger_.outbox_destinations();
  if (!destinations) {
    spdlog::warn("notifications: cannot read the outbox: {}", destinations.error().message);
    return;
  }
  for (const auto& d : *destinations) {
    if (std::find(configured.begin(), configured.end(), d) != configured.end()) continue;
    auto dropped = ledger_.outbox_drop(d);
    if (dropped) {
      spdlog::warn("notifications: destination {} is no longer configured; its {} undelivered "
                   "alert(s) are dropped from the outbox (they stay in `alerts`)",
                   d, *dropped);
    } else {
      spdlog::warn("notifications: cannot drop the outbox of {}: {}", d, dropped.error().message);
    }
  }
}

uint64_t LedgerOutbox::depth() {
  auto d = ledger_.outbox_depth();
  return d ? *d : 0;
}

}  // namespace tollgate::notify
