// The clock the call path reads, behind an interface so unit tests can move
// time by hand (ManualClock) instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tollgate {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time: deadlines, timers, durations.
  virtual SteadyTime steady_now() const = 0;
  // Wall-clock milliseconds since the Unix epoch: periods, ledger records.
  virtual int64_t wall_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
  int64_t wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // The process-wide instance production code passes around.
  static const Clock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// Time that moves only when a test says so. Safe to read from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t wall_ms = 1'767'225'600'000)  // 2026-01-01T00:00:00Z
      : wall_ms_(wall_ms) {}
  SteadyTime steady_now() const override { return SteadyTime(std::chrono::nanoseconds(steady_ns_.load())); }
  int64_t wall_ms() const override { return wall_ms_.load(); }
  void advance(std::chrono::milliseconds by) {
    steady_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(by).count();
    wall_ms_ += by.count();
  }

 private:
  std::atomic<int64_t> steady_ns_{1'000'000'000};
  std::atomic<int64_t> wall_ms_;
};

}  // namespace tollgate
