// The sockets and timer of a curl multi handle, on epoll (curl_sockets.h).
#include "workers/providers/curl_sockets.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tollgate::workers {
namespace {

// Socket events taken by one epoll_wait.
constexpr int kMaxEvents = 64;

std::runtime_error system_error(const char* what) {
  return std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

CurlSockets::CurlSockets() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw system_error("epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (wake_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    auto error = system_error("eventfd");
    if (wake_fd_ >= 0) close(wake_fd_);
    close(epoll_fd_);
    throw error;
  }
}

CurlSockets::~CurlSockets() {
  close(wake_fd_);
  close(epoll_fd_);
}

void CurlSockets::attach(CURLM* multi) {
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &CurlSockets::on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, static_cast<void*>(this));
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &CurlSockets::on_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, static_cast<void*>(this));
}

int CurlSockets::on_socket(CURL* /*easy*/, curl_socket_t s, int what, void* user,
                           void* /*socketp*/) {
  auto* self = static_cast<CurlSockets*>(user);
  if (what == CURL_POLL_REMOVE) {
    // curl may already have closed it, which took it out of the set.
    epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, s, nullptr);
    self->watched_.erase(s);
    return 0;
  }
  epoll_event ev{};
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  ev.data.fd = s;
  const bool known = self->watched_.count(s) > 0;
  if (epoll_ctl(self->epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0) {
    // A socket closed and another opened under its number, with no REMOVE
    // in between, is unknown to epoll though known here.
    if (!known || epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, s, &ev) != 0) {
      spdlog::error("curl transport: cannot watch socket {}: {}", s, std::strerror(errno));
      return -1;  // curl fails the transfers on that socket
    }
  }
  self->watched_.insert(s);
  return 0;
}

int CurlSockets::on_timer(CURLM* /*multi*/, long timeout_ms, void* user) {
  auto* self = static_cast<CurlSockets*>(user);
  if (timeout_ms < 0) {
    self->timer_due_.reset();
  } else {
    self->timer_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

bool CurlSockets::timer_is_due() const {
  return timer_due_ && *timer_due_ <= std::chrono::steady_clock::now();
}

void CurlSockets::wait(int timeout_ms) {
  int ms = ready() ? 0 : timeout_ms;
  if (ms > 0 && timer_due_) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        *timer_due_ - std::chrono::steady_clock::now());
    ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, ms));
  }
  epoll_event events[kMaxEvents];
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, ms);
  for (int k = 0; k < n; ++k) {
    const epoll_event& e = events[k];
    if (e.data.fd == wake_fd_) {
      uint64_t count = 0;
      while (read(wake_fd_, &count, sizeof count) > 0) {
      }
      continue;
    }
    int bits = 0;
    if (e.events & (EPOLLIN | EPOLLHUP)) bits |= CURL_CSELECT_IN;
    if (e.events & EPOLLOUT) bits |= CURL_CSELECT_OUT;
    if (e.events & EPOLLERR) bits |= CURL_CSELECT_ERR;
    ready_.emplace_back(e.data.fd, bits);
  }
}

void CurlSockets::wakeup() {
  const uint64_t one = 1;
  // Fails only when the counter is full: a wake-up is pending anyway.
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof one);
}

void CurlSockets::act(CURLM* multi) {
  int running = 0;
  acting_.swap(ready_);
  // A socket curl closed since wait() is unknown to it and ignored.
  for (auto [s, bits] : acting_) curl_multi_socket_action(multi, s, bits, &running);
  acting_.clear();
  if (timer_is_due()) {
    timer_due_.reset();  // curl sets it again from inside
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
}

}  // namespace tollgate::workers
