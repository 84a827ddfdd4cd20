// Worker: one provider worker thread. It runs the call state machines
// (workers/calls/call_run.h) assigned to it: every step of a call — planning,
// handling a ledger answer, handling an HTTP answer, a retry timer — is a
// task on this thread, so a call's state needs no lock. HTTP transfers run
// on the worker's own HttpClient (one curl multi handle with its own
// thread); ledger and HTTP callbacks only post() the next step back here.
//
// Threads: post() and post_after() from any thread; the tasks run on the
// worker thread. The destructor stops the HttpClient (its callbacks post
// "shutting down" steps), runs what is queued, then joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "workers/providers/http_client.h"

namespace tollgate::workers {

class Worker {
 public:
  using Task = std::function<void()>;

  explicit Worker(HttpClientOptions http_options = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(Task task);
  void post_after(std::chrono::milliseconds delay, Task task);
  // Shutdown: every pending timer runs now.
  void flush_timers();
  HttpClient& http() { return http_; }
  // Worker thread only: a uniform draw in [0, 1) for retry jitter. One
  // generator per worker, seeded once (a std::random_device per call
  // costs more than the rest of the call's CPU).
  double jitter01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

 private:
  void run(std::stop_token stop);

  HttpClient http_;
  std::mt19937_64 rng_{std::random_device{}()};  // worker thread only
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Task> tasks_;                                       // guarded by mu_
  std::multimap<std::chrono::steady_clock::time_point, Task> timers_;  // guarded by mu_
  std::jthread thread_;  // last: starts after, and is joined before, the rest
};

}  // namespace tollgate::workers
