// KeptSnapshots: the budget snapshots (ledger.h) a backend keeps per agent
// so that a call's plan need not read rows every time, each with a Tag
// saying what it was read under (PgLedger: when; LmdbLedger: the last
// committed write transaction and the policy). A kept snapshot is given
// back only while the backend's `fresh(tag)` holds and it is of the
// current month's period (a month with no write yet is read again: the
// period may roll over). At most kMax agents are kept; past that, all are
// dropped and read again. Internal to the ledger backends.
//
// Threads: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "daemon/core/ledger_types.h"
#include "daemon/core/period.h"
#include "daemon/core/sync.h"

namespace tollgate::ledger::detail {

template <class Tag>
class KeptSnapshots {
 public:
  static constexpr size_t kMax = 10000;

  // The snapshot kept for `agent`, if fresh(its tag) and of now_ms's period.
  template <class Fresh>
  std::optional<BudgetSnapshot> find(const std::string& agent, int64_t now_ms, Fresh fresh) const {
    MutexLock lock(mu_);
    auto it = entries_.find(agent);
    if (it == entries_.end() || !fresh(it->second.tag) ||
        it->second.snapshot.period != period_name_of(now_ms)) {
      return std::nullopt;
    }
    return it->second.snapshot;
  }

  void keep(const std::string& agent, Tag tag, BudgetSnapshot snapshot) {
    MutexLock lock(mu_);
    if (entries_.size() >= kMax) entries_.clear();
    entries_.insert_or_assign(agent, Entry{std::move(tag), std::move(snapshot)});
  }

  void clear() {
    MutexLock lock(mu_);
    entries_.clear();
  }

 private:
  struct Entry {
    Tag tag;
    BudgetSnapshot snapshot;
  };
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
};

}  // namespace tollgate::ledger::detail
