// CallLoop: the thread a call runs on, as CallRun sees it: a queue of
// tasks, timers, the transport its provider requests go through, and a
// random draw for retry jitter. Worker (worker.h) is the real one: one
// thread, one curl multi loop. A unit test can run calls on a loop it
// steps by hand, with a fake transport and a manual clock.
//
// Threads: post() and post_after() from any thread; the tasks run on the
// loop's thread, one at a time, in the order posted (timers once due).
// transport() and jitter01() on the loop's thread only.
#pragma once

#include <chrono>
#include <functional>

#include "workers/providers/transport.h"

namespace tollgate::workers {

class CallLoop {
 public:
  using Task = std::function<void()>;

  virtual ~CallLoop() = default;
  virtual void post(Task task) = 0;
  virtual void post_after(std::chrono::milliseconds delay, Task task) = 0;
  virtual Transport& transport() = 0;
  // A uniform draw in [0, 1).
  virtual double jitter01() = 0;
};

}  // namespace tollgate::workers
