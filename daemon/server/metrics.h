// Metrics: a small thread-safe registry of counters, gauges and histograms
// that renders the Prometheus text exposition format 0.0.4 for GET /metrics.
//
// Threads: any thread may register families, update metrics and render.
// Updating a child (Counter::inc, Gauge::set, Histogram::observe) is a few
// relaxed atomic operations and takes no lock; looking a child up by label
// values (`with`) takes the family's shared lock (exclusive only the first
// time a label combination is seen). Keep the returned reference for hot
// paths with fixed labels.
//
// Ownership: the Registry owns every family and child; they are never
// removed, so references stay valid for the registry's lifetime.
// Collectors are callbacks run by render_prometheus() (on the rendering
// thread, without any registry lock held) that add gauge samples computed at
// scrape time, e.g. token usage read from the ledger; whatever a collector
// captures must outlive the registry, or at least every render call.
//
// Errors: an invalid metric or label name, a label-count mismatch, bad
// bucket bounds, or one name registered twice with another type or other
// labels are programming errors and throw std::invalid_argument (they show
// up at start-up, not in traffic).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/sync.h"

namespace tollgate::metrics {

// ---- Metric names the daemon exports (Prometheus conventions: base units,
// counters end in _total). Labels are listed in declaration order.
// Per-agent budgets {agent, provider}; filled at scrape time by a collector.
inline constexpr std::string_view kTokensUsed = "tollgate_tokens_used";
inline constexpr std::string_view kTokensReserved = "tollgate_tokens_reserved";
inline constexpr std::string_view kTokensLimit = "tollgate_tokens_limit";
// Global budgets {provider}; the limit only where one is configured.
inline constexpr std::string_view kGlobalTokensUsed = "tollgate_global_tokens_used";
inline constexpr std::string_view kGlobalTokensLimit = "tollgate_global_tokens_limit";
// Calls queued for budget room held by other calls in flight {provider}.
inline constexpr std::string_view kAdmissionWaiting = "tollgate_admission_waiting";
// Every reply, by op and code ("ok" for success) {op, code}.
inline constexpr std::string_view kRequestsTotal = "tollgate_requests_total";
// Error replies by protocol error code {code}.
inline constexpr std::string_view kErrorsTotal = "tollgate_errors_total";
// Providers passed over in a call, by reply `reason` {reason}.
inline constexpr std::string_view kFallbacksTotal = "tollgate_fallbacks_total";
// Circuit breaker per provider: 0 closed, 1 half-open, 2 open {provider}.
inline constexpr std::string_view kCircuitState = "tollgate_circuit_state";
inline constexpr std::string_view kCallsInFlight = "tollgate_calls_in_flight";
// Whole `call` inside the daemon, seconds.
inline constexpr std::string_view kCallDuration = "tollgate_call_duration_seconds";
// Of that, the time a call waited for its ledger operations (reservations,
// the charge, releases) to be answered, durable; one observation per call
// that ran (a CallRun: workers/calls/call_run.h; not a call refused before
// it started, a cache hit or an idempotent replay), seconds.
inline constexpr std::string_view kCallLedgerWait = "tollgate_call_ledger_wait_seconds";
// Of that, the time a call spent neither waiting for its ledger operations
// nor for its providers' HTTP answers: the daemon's own work (planning,
// encoding, decoding) and its hand-offs between threads; one observation
// per call that ran, seconds.
inline constexpr std::string_view kCallOther = "tollgate_call_other_seconds";
// One HTTP request to a provider, seconds {provider}.
inline constexpr std::string_view kProviderRequestDuration =
    "tollgate_provider_request_duration_seconds";
// Operations per ledger write transaction.
inline constexpr std::string_view kLedgerBatchOps = "tollgate_ledger_batch_ops";
inline constexpr std::string_view kLedgerFsyncDuration = "tollgate_ledger_fsync_duration_seconds";
// Alerts published, by level {level}.
inline constexpr std::string_view kAlertsTotal = "tollgate_alerts_total";
// Alert notification attempts by result: delivered, retried, failed (given
// up), filtered (level not wanted) {destination, result}; registered by
// workers/notify's Notifier.
inline constexpr std::string_view kNotifyDeliveriesTotal = "tollgate_notify_deliveries_total";
// Alert notifications waiting in the outbox, all destinations.
inline constexpr std::string_view kNotifyOutboxDepth = "tollgate_notify_outbox_depth";

// The response cache (PROTOCOL.md section 10): calls answered from it
// (stored answers and calls that waited for an identical one), calls that
// went to a provider for lack of one, entries removed {reason: size or
// expired}, and its size now.
inline constexpr std::string_view kCacheHitsTotal = "tollgate_cache_hits_total";
inline constexpr std::string_view kCacheMissesTotal = "tollgate_cache_misses_total";
inline constexpr std::string_view kCacheEvictionsTotal = "tollgate_cache_evictions_total";
inline constexpr std::string_view kCacheEntries = "tollgate_cache_entries";
inline constexpr std::string_view kCacheBytes = "tollgate_cache_bytes";

// tollgate_circuit_state values.
inline constexpr double kCircuitClosed = 0;
inline constexpr double kCircuitHalfOpen = 1;
inline constexpr double kCircuitOpen = 2;

// A monotonically increasing value. Lock-free.
class Counter {
 public:
  // `amount` must be >= 0 (a negative one is ignored: counters never drop).
  void inc(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down. Lock-free.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void sub(double amount) { value_.fetch_add(-amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (upper bounds, `le`), plus their
// sum. Lock-free; the count is derived from the buckets so a render never
// shows a _count different from the +Inf bucket.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double value);

  // Cumulative count per bound, then the +Inf bucket (= count).
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;  // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds + 1 (+Inf)
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// What all families share: name, help, label names and the child lookup.
// Children are keyed by label values in declaration order; std::map keeps
// the rendered order deterministic.
template <typename Child>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  virtual ~Family() = default;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // The child for these label values (one per label name, in order),
  // created at zero on first use. Throws std::invalid_argument on a count
  // mismatch.
  Child& with(const std::vector<std::string>& label_values);

  // Calls fn(label_values, child) for every child, in label order, under
  // the family's shared lock.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    ReaderMutexLock lock(mu_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 protected:
  virtual std::unique_ptr<Child> make_child() const = 0;

 private:
  // Constant after construction.
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;

  mutable SharedMutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_ GUARDED_BY(mu_);
};

class CounterFamily : public Family<Counter> {
 public:
  using Family::Family;

 protected:
  std::unique_ptr<Counter> make_child() const override { return std::make_unique<Counter>(); }
};

class GaugeFamily : public Family<Gauge> {
 public:
  using Family::Family;

 protected:
  std::unique_ptr<Gauge> make_child() const override { return std::make_unique<Gauge>(); }
};

class HistogramFamily : public Family<Histogram> {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  const std::vector<double>& bounds() const { return bounds_; }

 protected:
  std::unique_ptr<Histogram> make_child() const override {
    return std::make_unique<Histogram>(&bounds_);
  }

 private:
  const std::vector<double> bounds_;  // strictly increasing, finite
};

// What collectors write into at render time: gauge samples for gauge
// families registered on the registry. A sample for an unknown name, a
// family that is not a gauge, or with the wrong number of label values is
// refused (returns false) and not rendered. A collected sample with the same
// labels as a child set through the family replaces it in the output.
class CollectedSamples {
 public:
  bool add(std::string_view family, std::vector<std::string> label_values, double value);

 private:
  friend class Registry;
  explicit CollectedSamples(const std::map<std::string, size_t, std::less<>>* gauge_arity)
      : gauge_arity_(gauge_arity) {}

  const std::map<std::string, size_t, std::less<>>* gauge_arity_;
  std::map<std::string, std::map<std::vector<std::string>, double>, std::less<>> samples_;
};

using Collector = std::function<void(CollectedSamples&)>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name again with the same type and labels (and buckets)
  // returns the existing family.
  CounterFamily& counter(std::string_view name, std::string_view help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string_view name, std::string_view help,
                     std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string_view name, std::string_view help,
                             std::vector<double> bounds, std::vector<std::string> label_names = {});

  void add_collector(Collector collector);

  // Every family sorted by name: HELP, TYPE, then its samples sorted by
  // label values. A family without labels always has its one sample (0 until
  // updated); a labelled family without children shows HELP and TYPE only.
  std::string render_prometheus() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  Entry& find_or_check(std::string_view name, MetricType type,
                       const std::vector<std::string>& label_names, bool& created) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<std::string, Entry, std::less<>> families_ GUARDED_BY(mu_);
  std::map<std::string, size_t, std::less<>> gauge_arity_ GUARDED_BY(mu_);
  std::vector<Collector> collectors_ GUARDED_BY(mu_);
};

// Text helpers, exposed for tests.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// Shortest text that parses back to `value`; "+Inf", "-Inf", "NaN".
std::string format_value(double value);

// The daemon's families (names above), registered with help text, labels
// and buckets. Token gauges are declared here and filled by a collector the
// daemon adds with Registry::add_collector.
struct DaemonMetrics {
  CounterFamily& requests;                    // {op, code, transport}
  CounterFamily& errors;                      // {code}
  CounterFamily& fallbacks;                   // {reason}
  CounterFamily& alerts;                      // {level}
  GaugeFamily& circuit_state;                 // {provider}
  Gauge& calls_in_flight;
  Histogram& call_duration;                   // seconds
  Histogram& call_ledger_wait;                // seconds
  Histogram& call_other;                      // seconds
  HistogramFamily& provider_request_duration; // {provider}, seconds
  Histogram& ledger_batch_ops;
  Histogram& ledger_fsync_duration;           // seconds
  GaugeFamily& tokens_used;                   // {agent, provider}
  GaugeFamily& tokens_reserved;               // {agent, provider}
  GaugeFamily& tokens_limit;                  // {agent, provider}
  GaugeFamily& global_tokens_used;            // {provider}
  GaugeFamily& global_tokens_limit;           // {provider}
  GaugeFamily& admission_waiting;             // {provider}
};
DaemonMetrics register_daemon_metrics(Registry& registry);

// The response cache's families (registered only when the cache is on).
struct CacheMetrics {
  Counter& hits;
  Counter& misses;
  CounterFamily& evictions;  // {reason}: size | expired
  Gauge& entries;
  Gauge& bytes;
};
CacheMetrics register_cache_metrics(Registry& registry);

// Bucket bounds used by register_daemon_metrics.
std::vector<double> call_duration_buckets();     // 10 ms .. 120 s
std::vector<double> fsync_duration_buckets();    // 100 us .. 1 s
std::vector<double> ledger_wait_buckets();       // 100 us .. 120 s
std::vector<double> call_other_buckets();        // 10 us .. 1 s
std::vector<double> batch_ops_buckets();         // 1 .. 256

}  // namespace tollgate::metrics
