#include "daemon/ledger/lmdb/data_dir_lock.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace tollgate::ledger {
namespace {

using protocol::Error;

// The pid as written in the lock file, or "unknown" (the holder may not
// have written it yet, or the file was edited).
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) text += buf[i];
  return text.empty() ? "unknown" : text;
}

int lock_now(int fd) {
  int rc = 0;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

void write_pid(int fd, const std::string& path) {
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    // The lock holds without it; only the next daemon's message loses the pid.
    spdlog::warn("cannot write the pid into {}: {}", path, std::strerror(errno));
  }
}

}  // namespace

protocol::Result<bool> prepare_data_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error::internal("cannot create ledger directory " + dir + ": " + ec.message());
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Error::internal("ledger directory " + dir + " is not writable: " + std::strerror(errno));
  }
  return true;
}

protocol::Result<DataDirLock> DataDirLock::acquire(const std::string& dir) {
  if (auto prepared = prepare_data_dir(dir); !prepared) return prepared.error();
  std::string path = (std::filesystem::path(dir) / kDataDirLockFile).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Error::internal("cannot open " + path + ": " + std::strerror(errno));
  if (const int err = lock_now(fd); err != 0) {
    const std::string holder = holder_pid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error::internal("data directory " + dir + " is in use by another tollgated (pid " +
                             holder + ", holding " + path +
                             "); stop it, or give this daemon its own TOLLGATE_DATA_DIR");
    }
    return Error::internal("cannot lock " + path + ": " + std::strerror(err));
  }
  write_pid(fd, path);
  return DataDirLock(fd, std::move(path));
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace tollgate::ledger
