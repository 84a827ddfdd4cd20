// MemoryOutbox: an Outbox (outbox.h) in memory, for tests and for running
// the Notifier without a ledger. Not durable. Thread-safe (one mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "workers/notify/outbox.h"

namespace tollgate::notify {

class MemoryOutbox final : public Outbox {
 public:
  // Adds one row per destination for the alert (as the ledger does in the
  // alert's transaction); returns the id of the first one.
  uint64_t add(const OutboxItem& alert, const std::vector<std::string>& destinations);

  std::vector<OutboxItem> pending(const std::string& destination, uint64_t after_id,
                                  size_t limit) override;
  void done(uint64_t id, const std::string& destination) override;
  uint64_t depth() override;

  // (id, destination) of every done() call, in order (tests).
  std::vector<std::pair<uint64_t, std::string>> done_calls() const;
  // Waits until depth() is `depth` or `timeout` passes; true if it is.
  bool wait_for_depth(uint64_t depth, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  uint64_t next_id_ = 1;  // guarded by mu_
  std::map<std::pair<std::string, uint64_t>, OutboxItem>
      rows_;                                            // (destination, id); guarded by mu_
  std::vector<std::pair<uint64_t, std::string>> done_;  // guarded by mu_
};

}  // namespace tollgate::notify
