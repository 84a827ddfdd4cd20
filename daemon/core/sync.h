// Mutexes the compiler can check: clang's -Wthread-safety reads the
// annotations below (GUARDED_BY on the state a mutex protects, REQUIRES on
// the functions that must hold it) and reports every access made without
// the lock. Other compilers see plain std::mutex code.
//
// libstdc++'s std::mutex carries no annotations, so tollgate's mutex-guarded
// state uses these thin wrappers instead (the shape of leveldb's port::Mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define TG_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TG_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) TG_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY TG_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) TG_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) TG_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) TG_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) TG_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) TG_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) TG_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS TG_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace tollgate {

class CondVar;

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// A condition variable bound to one Mutex; wait() must be called with it
// held and returns with it held.
class CondVar {
 public:
  explicit CondVar(Mutex& mu) : mu_(mu) {}
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void wait() REQUIRES(mu_) {
    std::unique_lock<std::mutex> lock(mu_.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false when `deadline` passed without a signal.
  template <class Clock, class Duration>
  bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) REQUIRES(mu_) {
    std::unique_lock<std::mutex> lock(mu_.mu_, std::adopt_lock);
    const bool signalled = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return signalled;
  }
  void signal() { cv_.notify_one(); }
  void signal_all() { cv_.notify_all(); }

 private:
  Mutex& mu_;
  std::condition_variable cv_;
};

}  // namespace tollgate
