// DESIGN: one round of the loop takes, under mu_, the tasks queued and the
// timers due (and whether stop_transport() was called), runs them without
// the lock, lets the transport perform, then waits in the transport until
// a socket or the next timer is ready. A post() that finds the loop waiting
// wakes it with curl_multi_wakeup (one syscall, once per wait); a post()
// from the worker thread itself, or while the loop runs, only queues: the
// loop looks at the queue again before it waits. Tasks posted during a round run in the next
// one, after the transport performed.
#include "workers/calls/worker.h"

#include <pthread.h>
#include <time.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace tollgate::workers {
namespace {

// The longest wait with nothing to do (a bound, not a poll interval: any
// post or socket ends it).
constexpr int kMaxWaitMs = 1000;

// Names `thread` "tg-worker-N", N counting the workers this process
// started: what `top -H`, perf and gdb show for it (at most 15 characters).
// Named by the constructor, so the name is there once the Worker exists.
void name_worker_thread(std::jthread& thread) {
  static std::atomic<unsigned> started{0};
  const std::string name = "tg-worker-" + std::to_string(started.fetch_add(1) % 100000);
  pthread_setname_np(thread.native_handle(), name.c_str());
}

}  // namespace

Worker::Worker(CurlTransportOptions transport_options, const Clock& clock)
    : clock_(clock), transport_(std::move(transport_options)), thread_([this] { run(); }) {
  name_worker_thread(thread_);
}

Worker::~Worker() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    stop_transport_ = true;
    wake();
  }
  thread_.join();
}

void Worker::post(Task task) {
  MutexLock lock(mu_);
  tasks_.push_back(std::move(task));
  wake();
}

void Worker::post_after(std::chrono::milliseconds delay, Task task) {
  MutexLock lock(mu_);
  timers_.emplace(clock_.steady_now() + delay, std::move(task));
  wake();
}

void Worker::flush_timers() {
  MutexLock lock(mu_);
  for (auto& [when, task] : timers_) tasks_.push_back(std::move(task));
  timers_.clear();
  wake();
}

void Worker::stop_transport() {
  MutexLock lock(mu_);
  stop_transport_ = true;
  wake();
}

std::chrono::nanoseconds Worker::thread_cpu_time() {
  clockid_t id{};
  timespec t{};
  if (pthread_getcpuclockid(thread_.native_handle(), &id) != 0 || clock_gettime(id, &t) != 0) {
    return std::chrono::nanoseconds{0};
  }
  return std::chrono::seconds{t.tv_sec} + std::chrono::nanoseconds{t.tv_nsec};
}

void Worker::wake() {
  if (!waiting_) return;
  waiting_ = false;  // one wake-up per wait
  transport_.wakeup();
}

Worker::Round Worker::take_round() {
  Round round;
  MutexLock lock(mu_);
  waiting_ = false;
  // Stopping: timers still pending run now (a retry then meets the stopped
  // transport, or the stopping pool, and ends its call).
  const auto due = stopping_ ? Clock::SteadyTime::max() : clock_.steady_now();
  while (!timers_.empty() && timers_.begin()->first <= due) {
    tasks_.push_back(std::move(timers_.begin()->second));
    timers_.erase(timers_.begin());
  }
  round.tasks.swap(tasks_);
  round.stop_transport = stop_transport_ && !transport_stopped_;
  transport_stopped_ = transport_stopped_ || round.stop_transport;
  return round;
}

std::optional<int> Worker::wait_ms() {
  MutexLock lock(mu_);
  // Queued since the round began: the next round runs it.
  if (!tasks_.empty() || (stop_transport_ && !transport_stopped_) || transport_.ready()) return 0;
  if (stopping_) {
    if (timers_.empty() && transport_.idle()) return std::nullopt;
    if (!timers_.empty()) return 0;  // the next round runs them
  }
  int ms = kMaxWaitMs;
  if (!timers_.empty()) {
    const auto left = timers_.begin()->first - clock_.steady_now();
    // Rounded up: waking before the timer is due would only spin.
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    ms = static_cast<int>(std::clamp<int64_t>(left_ms, 0, kMaxWaitMs));
  }
  waiting_ = ms > 0;
  return ms;
}

void Worker::run() {
  while (true) {
    Round round = take_round();
    if (round.stop_transport) transport_.stop();
    for (auto& task : round.tasks) {
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error("worker task failed: {}", e.what());
      }
    }
    transport_.perform();
    const std::optional<int> ms = wait_ms();
    if (!ms) return;
    transport_.wait(*ms);
  }
}

}  // namespace tollgate::workers
