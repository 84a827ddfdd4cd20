// Notifier: delivers the alerts waiting in an Outbox (outbox.h) to the
// configured notification destinations (webhooks, e-mail), at least once.
//
// DESIGN. One thread, one libcurl multi handle. Each destination is a lane
// with at most one attempt in flight: its oldest pending item, so a
// destination gets its alerts in order. Lanes are independent: every lane
// that is not backing off has its attempt on the multi handle at the same
// time, so a receiver that is down or hangs (up to its timeout_ms) holds up
// only its own lane. An attempt that fails backs its lane off (retry.h:
// full jitter, doubling from retry_min to retry_max) and the same item is
// tried again when the backoff is over; a success calls Outbox::done() and
// starts the lane's next item at once. An item whose level the destination
// does not want is done() without sending (counted as filtered), so the
// outbox drains whatever the writer put in it.
//
// Give-up: retryable failures (no answer, timeouts, 408, 425, 429, 5xx,
// SMTP 4xx) are retried forever. A refusal (another 4xx or a 3xx, SMTP 5xx,
// SMTP login denied, no STARTTLS when required) is retried too, logged as
// an error each time as likely permanent, and the item is given up after
// the destination's give_up_after consecutive refusals (default 20; 0:
// never): logged with its delivery id, counted as failed and done(), so a
// poisoned item does not block its destination's later alerts for ever.
//
// Waiting: the thread blocks in curl_multi_poll until a transfer's socket
// is ready, a curl timer or the next lane's backoff deadline is due, or
// notify_new() / stop() wake it with curl_multi_wakeup: the multi-handle
// equivalent of a condition variable's wait_until (a condition variable
// cannot also wait on the transfers' sockets). Nothing sleeps.
//
// Stop: stop() wakes the thread, which removes every attempt in flight
// from the multi handle (aborting it: no wait for a timeout) and returns;
// stop() joins it. The aborted items stay in the outbox and are delivered
// again, with the same delivery id, after the next start. The one wait
// stop() cannot cut is a host name resolution in progress (libcurl's
// resolver thread is joined), bounded by the system resolver's timeout.
//
// Threads: the constructor, start(), stop() and the destructor from one
// owning thread; notify_new() and stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/config.h"
#include "daemon/server/metrics.h"
#include "workers/notify/outbox.h"
#include "workers/notify/retry.h"

namespace tollgate::notify {

struct NotifierOptions {
  RetryPolicy retry;  // from NotifyConfig's retry_min_ms / retry_max_ms
  size_t batch = 16;  // items read per Outbox::pending() call
  // Registers tollgate_notify_deliveries_total{destination, result} and
  // tollgate_notify_outbox_depth on it when set; it must outlive the Notifier.
  metrics::Registry* metrics = nullptr;
  RandomSource random;  // draws in [0, 1); empty: a seeded std::mt19937_64
  const Clock* clock = &SystemClock::instance();
};

// The options a NotifyConfig gives (retry bounds); the rest default.
NotifierOptions notifier_options(const NotifyConfig& config, metrics::Registry* metrics);

// Counters of one destination since start.
struct DestinationStats {
  std::string name;
  uint64_t delivered = 0;  // items the receiver accepted (2xx, SMTP 250)
  uint64_t retried = 0;    // failed attempts that will be tried again
  uint64_t failed = 0;     // items given up after give_up_after refusals
  uint64_t filtered = 0;   // items done() without sending: level not wanted
  uint32_t failing = 0;    // consecutive failed attempts now (0: healthy)
};

struct NotifyStats {
  std::vector<DestinationStats> destinations;  // in configuration order
  uint64_t outbox_depth = 0;                   // Outbox::depth(), read by stats()
};

class Notifier {
 public:
  // `outbox` must outlive the Notifier. Destinations are fixed for its
  // life (a reload that changes them builds a new Notifier).
  Notifier(std::vector<NotifyDestination> destinations, Outbox& outbox,
           NotifierOptions options = {});
  ~Notifier();  // stop()
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Starts the thread; it first delivers whatever is pending (items left by
  // a previous run). Call once.
  void start();
  // New items were written to the outbox: look now. Any thread; cheap.
  void notify_new();
  // Aborts attempts in flight and joins the thread. Idempotent.
  void stop();

  NotifyStats stats() const;

 private:
  struct Lane;
  void run();
  void start_lanes(Clock::SteadyTime now);
  void start_lane(Lane& lane);
  void reap();
  void finish(Lane& lane, int code);
  void advance(Lane& lane, bool given_up);
  void back_off(Lane& lane, const std::string& why);
  int wait_ms(Clock::SteadyTime now) const;
  void update_depth();

  // Constant after construction.
  Outbox& outbox_;
  NotifierOptions options_;
  void* multi_ = nullptr;  // CURLM*, kept out of this header
  metrics::Gauge* depth_gauge_ = nullptr;

  // Owned by the notifier thread once started.
  std::vector<std::unique_ptr<Lane>> lanes_;
  RandomSource random_;

  std::atomic<bool> new_items_{true};
  std::atomic<bool> stopping_{false};
  std::jthread thread_;
};

}  // namespace tollgate::notify
