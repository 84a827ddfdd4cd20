// LedgerOutbox: the Notifier's Outbox (outbox.h) over the ledger's outbox
// rows (daemon/ledger/ledger.h), which every alert writes in its own
// transaction, one per notification destination (BudgetPolicy::
// notify_destinations). An item's id is its alert's log_seq (only grows),
// its body the alert event body exactly as published (PROTOCOL.md section
// 4, without `seq`), its created_ms the alert's at_ms.
//
// Thread-safe as the ledger is: reads open a read transaction on the
// caller's thread; done() waits for its durable write (the Notifier's
// thread, never a ledger callback). Failures are logged, never thrown: a
// failed read yields nothing (retried at the next wake), a failed done()
// leaves the row, delivered again after a restart (at least once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "workers/notify/outbox.h"

namespace tollgate::notify {

class LedgerOutbox final : public Outbox {
 public:
  explicit LedgerOutbox(ledger::Ledger& ledger) : ledger_(ledger) {}

  std::vector<OutboxItem> pending(const std::string& destination, uint64_t after_id,
                                  size_t limit) override;
  void done(uint64_t id, const std::string& destination) override;
  uint64_t depth() override;

  // Drops the entries of every destination not in `configured` (removed
  // from the configuration: nothing would ever deliver them), each with a
  // warning naming the destination and how many alerts it loses.
  void drop_unconfigured(const std::vector<std::string>& configured);

 private:
  ledger::Ledger& ledger_;
};

// The outbox item of one alert for one destination.
OutboxItem outbox_item(const ledger::OutboxEntry& entry);

}  // namespace tollgate::notify
