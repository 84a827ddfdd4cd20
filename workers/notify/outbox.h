// Outbox: the seam between the ledger, which durably records every alert
// for every notification destination in the transaction that records the
// alert, and the Notifier (notifier.h), which delivers them. The ledger
// implements it over LMDB; MemoryOutbox (memory_outbox.h) is the one tests
// use.
//
// Threads: implementations must be thread-safe. The Notifier calls
// pending() and done() from its own thread; depth() may be called from
// any thread.
//
// Contract: ids grow with each row written (pending() pages by them, oldest
// first), an item stays pending until done() removes it, and done() is
// durable when it returns: a crash before it means the item is delivered
// again after the restart (at least once; the delivery id lets receivers
// drop the duplicate). Implementations do not throw (a failed ledger write
// is the ledger's own loud error); the Notifier logs a std::exception from
// one and backs the destination off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tollgate::notify {

// One alert waiting for delivery to one destination.
struct OutboxItem {
  uint64_t id = 0;          // the outbox row (stable across restarts)
  std::string destination;  // the destination's name (config)
  std::string topic;        // "alert.warning", "alert.forecast", ...
  std::string body_json;    // the alert event body as JSON (PROTOCOL.md section 4 alert body)
  // "warning", "critical", "emergency", "exhausted", "over_reservation", "forecast"
  std::string level;
  int64_t created_ms = 0;
};

class Outbox {  // implementations must be thread-safe
 public:
  virtual ~Outbox() = default;
  // Up to `limit` items not yet delivered, oldest first, for one destination, after `after_id`.
  virtual std::vector<OutboxItem> pending(const std::string& destination, uint64_t after_id,
                                          size_t limit) = 0;
  // The item reached (or was given up for) the destination: remove it durably.
  virtual void done(uint64_t id, const std::string& destination) = 0;
  // Items not yet delivered, all destinations (metrics).
  virtual uint64_t depth() = 0;
};

}  // namespace tollgate::notify
