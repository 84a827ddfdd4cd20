// Worker: one provider worker thread running one loop, the shape of redis's
// aeMain: run the tasks posted and the timers due, let the curl transport
// move its transfers along (CurlTransport::perform, which runs the
// callbacks of finished ones), then block in curl_multi_poll until a socket
// is ready, the next timer is due, or another thread posts a task (it wakes
// the poll with curl_multi_wakeup). Every step of a call (planning, a
// ledger answer, an HTTP answer, a retry timer) runs on this one thread, so
// a call's state needs no lock and an HTTP answer never changes thread.
//
// Threads: post(), post_after(), flush_timers() and stop_transport() from
// any thread; everything else on the worker thread. The destructor stops
// the transport (its callbacks run, ending their calls with "shutting
// down"), runs the tasks and timers still queued, then joins.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "daemon/core/clock.h"
#include "daemon/core/sync.h"
#include "workers/calls/call_loop.h"
#include "workers/providers/curl_transport.h"

namespace tollgate::workers {

class Worker final : public CallLoop {
 public:
  explicit Worker(CurlTransportOptions transport_options = {},
                  const Clock& clock = SystemClock::instance());
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(Task task) override;
  void post_after(std::chrono::milliseconds delay, Task task) override;
  // Shutdown: every pending timer runs now.
  void flush_timers();
  // Shutdown: the transport aborts its transfers (each on_done gets
  // "shutting down", on this worker) before the next queued task runs; later
  // submissions get "shutting down" too.
  void stop_transport();

  // Any thread: requests submitted to the transport and not answered yet.
  size_t transfers_pending() const { return transport_.pending(); }
  // Any thread: the CPU time (user + system) the worker thread has used, for
  // benchmarks; zero if the system cannot say.
  std::chrono::nanoseconds thread_cpu_time();

  // Worker thread only.
  Transport& transport() override { return transport_; }
  // One generator per worker, seeded once (a std::random_device per call
  // costs more than the rest of the call's CPU).
  double jitter01() override { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

 private:
  using Timers = std::multimap<Clock::SteadyTime, Task>;
  struct Round {
    std::deque<Task> tasks;
    bool stop_transport = false;
  };
  void run();
  // The tasks to run now (with the timers that are due) and whether the
  // transport must stop first.
  Round take_round() EXCLUDES(mu_);
  // How long the loop may wait for the transport: 0 when work is queued,
  // else until the next timer (at most a second); nullopt: stopped with
  // nothing left, the loop ends.
  std::optional<int> wait_ms() EXCLUDES(mu_);
  // After queueing work: wakes the loop if it waits (or is about to).
  void wake() REQUIRES(mu_);

  // Constant after construction.
  const Clock& clock_;

  // Worker thread only.
  CurlTransport transport_;
  std::mt19937_64 rng_{std::random_device{}()};

  Mutex mu_;
  std::deque<Task> tasks_ GUARDED_BY(mu_);
  Timers timers_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;            // the destructor runs
  bool stop_transport_ GUARDED_BY(mu_) = false;      // stop_transport() was called
  bool transport_stopped_ GUARDED_BY(mu_) = false;   // and the loop did it
  // The loop is in (or about to enter) transport_.wait(): a post must
  // wake it. Cleared by the one who wakes it.
  bool waiting_ GUARDED_BY(mu_) = false;

  std::jthread thread_;  // last: starts after, and is joined before, the rest
};

}  // namespace tollgate::workers
