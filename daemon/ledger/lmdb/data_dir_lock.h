// DataDirLock: one tollgated per data directory.
//
// LMDB lets several processes open one environment, and a second daemon's
// crash recovery would then charge the first daemon's live reservations in
// full. So tollgated takes an exclusive flock(2) on `tollgated.lock` in the
// data directory before it opens the ledger, holds it for its whole life,
// and writes its pid into the file for the next one to name. The kernel
// drops the lock when the process dies however it dies (SIGKILL included),
// so a lock file left behind never blocks a restart; the pid in it is only
// information.
//
// flock locks belong to an open file description: a second acquire() of the
// same directory fails even inside one process. The descriptor is
// close-on-exec, so children never inherit the lock.
//
// Also used by LmdbEnv::open: prepare_data_dir() creates the directory and
// checks that it is writable, with the messages start-up failures print.
//
// Not thread-safe; main's thread takes it before any other thread exists.
#pragma once

#include <string>
#include <utility>

#include "protocol/error.h"

namespace tollgate::ledger {

inline constexpr const char* kDataDirLockFile = "tollgated.lock";

// Creates dir (and parents) if missing and checks that this process may
// write in it. One clear Error naming the directory otherwise.
protocol::Result<bool> prepare_data_dir(const std::string& dir);

class DataDirLock {
 public:
  // Prepares dir, then locks dir/tollgated.lock without waiting and writes
  // this process's pid into it. When another process holds it: an Error
  // naming the directory and that process's pid (as written in the file).
  static protocol::Result<DataDirLock> acquire(const std::string& dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock (the file stays)

  const std::string& path() const { return path_; }

 private:
  DataDirLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace tollgate::ledger
