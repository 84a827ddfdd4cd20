#include "workers/notify/notifier.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <random>
#include <stdexcept>

#include "workers/notify/attempt.h"
#include "workers/notify/render.h"

namespace tollgate::notify {
namespace {

constexpr int kIdleWaitMs = 60000;  // a cap only: wakeups come from curl_multi_wakeup

CURLM* as_multi(void* m) {
  return static_cast<CURLM*>(m);
}

void global_init_once() {
  static const bool initialised = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
    return true;
  }();
  (void)initialised;
}

}  // namespace

// One destination: its queue of pending items, the attempt in flight, its
// backoff, its counters (atomic: stats() reads them from other threads).
struct Notifier::Lane {
  Lane(NotifyDestination d, RetryPolicy policy) : config(std::move(d)), backoff(policy) {}
  const NotifyDestination config;
  DestinationBackoff backoff;
  std::deque<OutboxItem> queue;      // read from the outbox, not yet done
  uint64_t cursor = 0;               // the last id read from the outbox
  bool more = true;                  // the outbox may hold more for it
  std::unique_ptr<Attempt> attempt;  // the queue's front, in flight
  uint32_t refusals = 0;             // consecutive refusals of the front item
  std::atomic<uint64_t> delivered{0}, retried{0}, failed{0}, filtered{0};
  std::atomic<uint32_t> failing{0};
  metrics::Counter* m_delivered = nullptr;
  metrics::Counter* m_retried = nullptr;
  metrics::Counter* m_failed = nullptr;
  metrics::Counter* m_filtered = nullptr;

  void count(std::atomic<uint64_t>& n, metrics::Counter* m) {
    ++n;
    if (m) m->inc();
  }
};

NotifierOptions notifier_options(const NotifyConfig& config, metrics::Registry* metrics) {
  NotifierOptions o;
  o.retry = RetryPolicy{static_cast<int64_t>(config.retry_min_ms),
                        static_cast<int64_t>(config.retry_max_ms)};
  o.metrics = metrics;
  return o;
}

Notifier::Notifier(std::vector<NotifyDestination> destinations, Outbox& outbox,
                   NotifierOptions options)
    : outbox_(outbox), options_(std::move(options)), random_(options_.random) {
  global_init_once();
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  if (!random_) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  metrics::CounterFamily* family = nullptr;
  if (options_.metrics) {
    family = &options_.metrics->counter(
        metrics::kNotifyDeliveriesTotal,
        "Alert notification attempts by destination and result: delivered, "
        "retried (failed, tried again), failed (given up), filtered (level not wanted)",
        {"destination", "result"});
    auto& depth = options_.metrics->gauge(
        metrics::kNotifyOutboxDepth, "Alert notifications waiting in the outbox, all destinations");
    depth_gauge_ = &depth.with({});
  }
  for (auto& d : destinations) {
    auto lane = std::make_unique<Lane>(std::move(d), options_.retry);
    if (family) {
      lane->m_delivered = &family->with({lane->config.name, "delivered"});
      lane->m_retried = &family->with({lane->config.name, "retried"});
      lane->m_failed = &family->with({lane->config.name, "failed"});
      lane->m_filtered = &family->with({lane->config.name, "filtered"});
    }
    lanes_.push_back(std::move(lane));
  }
}

Notifier::~Notifier() {
  stop();
  curl_multi_cleanup(as_multi(multi_));
}

void Notifier::start() {
  if (thread_.joinable() || stopping_) return;
  thread_ = std::jthread([this] { run(); });
}

void Notifier::notify_new() {
  new_items_ = true;
  curl_multi_wakeup(as_multi(multi_));
}

void Notifier::stop() {
  stopping_ = true;
  curl_multi_wakeup(as_multi(multi_));
  if (thread_.joinable()) thread_.join();
}

NotifyStats Notifier::stats() const {
  NotifyStats s;
  for (const auto& l : lanes_) {
    s.destinations.push_back(DestinationStats{l->config.name, l->delivered, l->retried, l->failed,
                                              l->filtered, l->failing});
  }
  s.outbox_depth = outbox_.depth();
  return s;
}

void Notifier::run() {
  update_depth();
  while (!stopping_) {
    if (new_items_.exchange(false)) {
      for (auto& l : lanes_) l->more = true;
    }
    start_lanes(options_.clock->steady_now());
    int running = 0;
    curl_multi_perform(as_multi(multi_), &running);
    reap();
    if (stopping_) break;
    curl_multi_poll(as_multi(multi_), nullptr, 0, wait_ms(options_.clock->steady_now()), nullptr);
  }
  for (auto& l : lanes_) {
    if (l->attempt) curl_multi_remove_handle(as_multi(multi_), l->attempt->easy());
    l->attempt.reset();
  }
}

void Notifier::start_lanes(Clock::SteadyTime now) {
  for (auto& l : lanes_) {
    if (!l->attempt && l->more && l->backoff.ready(now)) start_lane(*l);
  }
}

// Reads the lane's next items if its queue is empty, drops (done) the ones
// it does not want, and puts an attempt at the front one in flight.
void Notifier::start_lane(Lane& lane) {
  try {
    while (!lane.attempt) {
      if (lane.queue.empty()) {
        auto items = outbox_.pending(lane.config.name, lane.cursor, options_.batch);
        if (items.empty()) {
          lane.more = false;
          return;
        }
        for (auto& item : items) {
          lane.cursor = std::max(lane.cursor, item.id);
          lane.queue.push_back(std::move(item));
        }
      }
      const OutboxItem& item = lane.queue.front();
      if (!wants(lane.config, item.level)) {
        outbox_.done(item.id, lane.config.name);
        lane.count(lane.filtered, lane.m_filtered);
        lane.queue.pop_front();
        update_depth();
        continue;
      }
      lane.attempt = Attempt::start(lane.config, item);
      if (!lane.attempt) return back_off(lane, "libcurl could not prepare the request");
      curl_multi_add_handle(as_multi(multi_), lane.attempt->easy());
    }
  } catch (const std::exception& e) {
    back_off(lane, std::string("outbox: ") + e.what());
  }
}

void Notifier::reap() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(as_multi(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    for (auto& l : lanes_) {
      if (l->attempt && l->attempt->easy() == msg->easy_handle) {
        finish(*l, msg->data.result);
        break;
      }
    }
  }
}

void Notifier::finish(Lane& lane, int code) {
  const AttemptResult r = lane.attempt->finish(static_cast<CURLcode>(code));
  curl_multi_remove_handle(as_multi(multi_), lane.attempt->easy());
  lane.attempt.reset();
  const std::string id = delivery_id(lane.queue.front());
  lane.refusals = r.outcome == Outcome::kRefused ? lane.refusals + 1 : 0;
  switch (next_step(r.outcome, lane.refusals, lane.config.give_up_after)) {
    case NextStep::kNext:
      spdlog::debug("notify: {} delivered {} ({})", lane.config.name, id, r.detail);
      lane.count(lane.delivered, lane.m_delivered);
      lane.backoff.succeeded();
      lane.failing = 0;
      return advance(lane, false);
    case NextStep::kGiveUp:
      spdlog::error("notify: {} gave up {} after {} refusals in a row: {}", lane.config.name, id,
                    lane.refusals, r.detail);
      lane.count(lane.failed, lane.m_failed);
      advance(lane, true);
      return back_off(lane, "");
    case NextStep::kRetryLater:
      lane.count(lane.retried, lane.m_retried);
      if (r.outcome == Outcome::kRefused) {
        spdlog::error(
            "notify: {} refused {} ({} of {} before giving up; likely permanent, check the "
            "destination): {}",
            lane.config.name, id, lane.refusals, lane.config.give_up_after, r.detail);
      }
      return back_off(lane, id + ": " + r.detail);
  }
}

// The front item is finished (delivered or given up): done() it.
void Notifier::advance(Lane& lane, bool given_up) {
  const OutboxItem item = std::move(lane.queue.front());
  lane.queue.pop_front();
  lane.refusals = 0;
  try {
    outbox_.done(item.id, lane.config.name);
  } catch (const std::exception& e) {
    spdlog::error("notify: {}: outbox done({}) failed ({}); it is delivered again after a restart",
                  lane.config.name, item.id, e.what());
  }
  if (given_up) spdlog::debug("notify: {} removed {} from the outbox", lane.config.name, item.id);
  update_depth();
}

// The lane waits its backoff before the next attempt. `why` empty: not logged.
void Notifier::back_off(Lane& lane, const std::string& why) {
  const int64_t delay = lane.backoff.failed(options_.clock->steady_now(), random_());
  lane.failing = lane.backoff.failures();
  if (!why.empty()) {
    spdlog::warn("notify: {} failed (attempt {} in a row), next try in {} ms: {}", lane.config.name,
                 lane.backoff.failures(), delay, why);
  }
}

int Notifier::wait_ms(Clock::SteadyTime now) const {
  if (new_items_) return 0;
  int64_t wait = kIdleWaitMs;
  for (const auto& l : lanes_) {
    if (l->attempt || !l->more) continue;
    const auto due = std::chrono::ceil<std::chrono::milliseconds>(l->backoff.due() - now).count();
    wait = std::min<int64_t>(wait, std::max<int64_t>(due, 0));
  }
  return static_cast<int>(wait);
}

void Notifier::update_depth() {
  if (!depth_gauge_) return;
  try {
    depth_gauge_->set(static_cast<double>(outbox_.depth()));
  } catch (const std::exception& e) {
    spdlog::warn("notify: outbox depth: {}", e.what());
  }
}

}  // namespace tollgate::notify
