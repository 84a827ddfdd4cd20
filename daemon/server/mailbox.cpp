#include "daemon/server/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tollgate {

Mailbox::Mailbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Mailbox::~Mailbox() { close(fd_); }

void Mailbox::post(LoopMessage message) {
  bool was_empty;
  {
    MutexLock lock(mu_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(message));
  }
  if (was_empty) {
    uint64_t one = 1;
    // EAGAIN only when the counter is saturated, which still wakes the loop.
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
}

std::deque<LoopMessage> Mailbox::drain() {
  uint64_t count;
  [[maybe_unused]] auto n = ::read(fd_, &count, sizeof count);
  std::deque<LoopMessage> out;
  MutexLock lock(mu_);
  out.swap(queue_);
  return out;
}

}  // namespace tollgate
