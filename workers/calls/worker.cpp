#include "workers/calls/worker.h"

#include <spdlog/spdlog.h>

namespace tollgate::workers {

Worker::Worker(HttpClientOptions http_options)
    : http_(std::move(http_options)), thread_([this](std::stop_token st) { run(st); }) {}

Worker::~Worker() {
  http_.stop();  // every in-flight transfer's callback posts its last step
  thread_.request_stop();
  cv_.notify_all();
  thread_.join();
}

void Worker::post(Task task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Worker::post_after(std::chrono::milliseconds delay, Task task) {
  {
    std::lock_guard lock(mu_);
    timers_.emplace(std::chrono::steady_clock::now() + delay, std::move(task));
  }
  cv_.notify_one();
}

void Worker::flush_timers() {
  {
    std::lock_guard lock(mu_);
    for (auto& [when, task] : timers_) tasks_.push_back(std::move(task));
    timers_.clear();
  }
  cv_.notify_one();
}

void Worker::run(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      tasks_.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    if (!tasks_.empty()) {
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error("worker task failed: {}", e.what());
      }
      lock.lock();
      continue;
    }
    if (stop.stop_requested()) {
      // Timers still pending at shutdown run now: a retry then meets the
      // stopped HttpClient and ends its call with "shutting down".
      if (timers_.empty()) return;
      for (auto& [when, task] : timers_) tasks_.push_back(std::move(task));
      timers_.clear();
      continue;
    }
    if (timers_.empty()) {
      cv_.wait(lock, stop, [&] { return !tasks_.empty(); });
    } else {
      // A copy: wait_until reads its deadline again after every wake-up,
      // and flush_timers() may free the timer node meanwhile (the lock is
      // released while waiting).
      const auto next = timers_.begin()->first;
      cv_.wait_until(lock, stop, next, [&] { return !tasks_.empty(); });
    }
  }
}

}  // namespace tollgate::workers
