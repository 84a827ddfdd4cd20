#include "daemon/server/signals.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tollgate {

SignalSource::SignalSource() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
  // A vanished client must not kill the daemon with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
}

SignalSource::~SignalSource() {
  if (fd_ >= 0) close(fd_);
}

SignalEvent SignalSource::read() {
  signalfd_siginfo info;
  ssize_t n = ::read(fd_, &info, sizeof info);
  if (n != static_cast<ssize_t>(sizeof info)) return SignalEvent::kNone;
  return info.ssi_signo == SIGHUP ? SignalEvent::kReload : SignalEvent::kStop;
}

}  // namespace tollgate
