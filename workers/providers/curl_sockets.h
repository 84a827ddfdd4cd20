// CurlSockets: what a CurlTransport's loop waits on. libcurl's multi
// socket interface tells it which sockets to watch (CURLMOPT_SOCKETFUNCTION)
// and when its timer is due (CURLMOPT_TIMERFUNCTION); it keeps the sockets
// in an epoll set beside an eventfd that wakeup() writes. wait() is one
// epoll_wait; act() then hands curl only the sockets found ready, and the
// timer when due (curl_multi_socket_action). curl_multi_perform would
// instead look at every active transfer, each with a poll(2) of its own.
//
// Threads: everything but wakeup() on the thread that drives the multi
// handle.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tollgate::workers {

class CurlSockets {
 public:
  // Throws std::runtime_error when the epoll set or eventfd cannot be made.
  CurlSockets();
  ~CurlSockets();
  CurlSockets(const CurlSockets&) = delete;
  CurlSockets& operator=(const CurlSockets&) = delete;

  // Sets multi's socket and timer callbacks to this object, which must
  // outlive multi.
  void attach(CURLM* multi);

  // Blocks until a watched socket is ready, curl's timer is due, wakeup()
  // is called, or timeout_ms passes (0: only looks).
  void wait(int timeout_ms);
  // Any thread: ends the current or next wait() early.
  void wakeup();
  // Hands curl the sockets the last wait() saw ready, then its timer if
  // due. Callbacks of the transfers run from inside.
  void act(CURLM* multi);
  // Forgets what the last wait() saw (nothing is active to act on).
  void discard_ready() { ready_.clear(); }
  // act() has something to do now.
  bool ready() const { return !ready_.empty() || timer_is_due(); }

 private:
  static int on_socket(CURL* easy, curl_socket_t s, int what, void* user, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* user);
  bool timer_is_due() const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unordered_set<curl_socket_t> watched_;
  std::optional<std::chrono::steady_clock::time_point> timer_due_;
  // Sockets the last wait() saw ready, with their CURL_CSELECT_* bits.
  std::vector<std::pair<curl_socket_t, int>> ready_;
  std::vector<std::pair<curl_socket_t, int>> acting_;  // act()'s, its capacity kept
};

}  // namespace tollgate::workers
