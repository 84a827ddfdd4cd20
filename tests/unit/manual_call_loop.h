// ManualCallLoop: a CallLoop that a unit test steps by hand, on its own
// thread: posted tasks run at run_ready(), timers when advance() moves the
// ManualClock past them, and the transport is a FakeTransport the test
// answers. With it, call code runs with no thread, no socket and no sleep.
//
// Threads: post() and post_after() from any thread (a ledger's writer may
// post an answer); run_ready(), advance(), the transport and jitter01() on
// the test's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <utility>

#include "daemon/core/clock.h"
#include "daemon/core/sync.h"
#include "tests/unit/fake_transport.h"
#include "workers/calls/call_loop.h"

namespace tollgate::workers::testing {

class ManualCallLoop final : public CallLoop {
 public:
  explicit ManualCallLoop(ManualClock& clock) : clock_(clock) {}

  void post(Task task) override {
    MutexLock lock(mu_);
    tasks_.push_back(std::move(task));
  }
  void post_after(std::chrono::milliseconds delay, Task task) override {
    MutexLock lock(mu_);
    timers_.emplace(clock_.steady_now() + delay, std::move(task));
  }
  Transport& transport() override { return transport_; }
  FakeTransport& fake() { return transport_; }
  double jitter01() override { return jitter_; }
  void set_jitter(double jitter) { jitter_ = jitter; }

  // Runs the queued tasks, and those they post, until none is left.
  // Returns how many ran.
  size_t run_ready() {
    size_t ran = 0;
    while (Task task = take_task()) {
      task();
      ++ran;
    }
    return ran;
  }

  // Moves the clock on by `by`, running each timer as the clock reaches it
  // (in time order, with the tasks it posts), then the tasks left.
  void advance(std::chrono::milliseconds by) {
    const Clock::SteadyTime until = clock_.steady_now() + by;
    while (Task task = take_timer(until)) {
      task();
      run_ready();
    }
    clock_.advance(std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_.steady_now()));
    run_ready();
  }

  size_t timers() const {
    MutexLock lock(mu_);
    return timers_.size();
  }

 private:
  Task take_task() {
    MutexLock lock(mu_);
    if (tasks_.empty()) return {};
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    return task;
  }
  // The first timer due by `until`, with the clock moved to its time.
  Task take_timer(Clock::SteadyTime until) {
    MutexLock lock(mu_);
    if (timers_.empty() || timers_.begin()->first > until) return {};
    const auto when = timers_.begin()->first;
    Task task = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    if (when > clock_.steady_now()) {
      clock_.advance(std::chrono::duration_cast<std::chrono::milliseconds>(when - clock_.steady_now()));
    }
    return task;
  }

  ManualClock& clock_;
  FakeTransport transport_;
  double jitter_ = 0.5;

  mutable Mutex mu_;
  std::deque<Task> tasks_ GUARDED_BY(mu_);
  std::multimap<Clock::SteadyTime, Task> timers_ GUARDED_BY(mu_);
};

}  // namespace tollgate::workers::testing
