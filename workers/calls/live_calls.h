// LiveCalls: how many CallRun objects exist. Each CallRun counts itself in
// while it lives; the pool's destructor waits until none is left (ledger
// callbacks hold calls alive, so the loops they post to must outlive them).
//
// Threads: every method from any thread.
#pragma once

#include <cstdint>

#include "daemon/core/sync.h"

namespace tollgate::workers {

class LiveCalls {
 public:
  LiveCalls() = default;
  LiveCalls(const LiveCalls&) = delete;
  LiveCalls& operator=(const LiveCalls&) = delete;

  void add() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ++count_;
  }
  void remove() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (--count_ == 0) none_.signal_all();
  }
  // Blocks until no call is alive.
  void wait_none() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (count_ != 0) none_.wait();
  }
  int64_t count() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return count_;
  }

 private:
  mutable Mutex mu_;
  CondVar none_{mu_};
  int64_t count_ GUARDED_BY(mu_) = 0;
};

}  // namespace tollgate::workers
