// Signals as a file descriptor (signalfd), so the server loop can poll them
// with its sockets instead of acting inside a handler (redis shutdown_asap).
//
// Construct SignalSource on the main thread BEFORE starting any other thread:
// it blocks SIGTERM, SIGINT and SIGHUP for the calling thread, and threads
// started afterwards inherit the mask, so only the loop sees them.
#pragma once

namespace tollgate {

enum class SignalEvent { kNone, kStop, kReload };

class SignalSource {
 public:
  SignalSource();
  ~SignalSource();
  SignalSource(const SignalSource&) = delete;
  SignalSource& operator=(const SignalSource&) = delete;

  int fd() const { return fd_; }
  // Reads one pending signal without blocking; kNone when there is none.
  SignalEvent read();

 private:
  int fd_ = -1;
};

}  // namespace tollgate
