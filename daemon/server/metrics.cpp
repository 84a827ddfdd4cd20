#include "daemon/server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace tollgate::metrics {
namespace {

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  auto first_ok = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
  };
  if (!first_ok(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return first_ok(c) || (c >= '0' && c <= '9'); });
}

void check_names(std::string_view name, const std::vector<std::string>& label_names,
                 bool histogram) {
  if (!valid_name(name, true)) {
    throw std::invalid_argument("metrics: invalid metric name '" + std::string(name) + "'");
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    // "__" is reserved for Prometheus itself; "le" is the histogram's own.
    if (!valid_name(label, false) || label.starts_with("__") || (histogram && label == "le")) {
      throw std::invalid_argument("metrics: invalid label name '" + label + "' on " +
                                  std::string(name));
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i),
                  label) != label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metrics: duplicate label '" + label + "' on " + std::string(name));
    }
  }
}

std::vector<double> checked_bounds(std::vector<double> bounds, std::string_view name) {
  // +Inf is always the last bucket; listing it is harmless.
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw std::invalid_argument("metrics: bucket bounds of " + std::string(name) +
                                  " must be finite and strictly increasing");
    }
  }
  return bounds;
}

// `{a="x",b="y"` without the closing brace, or "" when there are no labels
// and no extra label.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;  // bucket bounds need no escaping
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, double value) {
  out += name;
  append_labels(out, names, values);
  out += ' ';
  out += format_value(value);
  out += '\n';
}

void append_header(std::string& out, std::string_view name, std::string_view help,
                   std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void render_counters(std::string& out, const CounterFamily& family) {
  append_header(out, family.name(), family.help(), "counter");
  family.for_each([&](const std::vector<std::string>& values, const Counter& c) {
    append_sample(out, family.name(), family.label_names(), values, c.value());
  });
}

void render_gauges(std::string& out, const GaugeFamily& family,
                   const std::map<std::vector<std::string>, double>* collected) {
  append_header(out, family.name(), family.help(), "gauge");
  std::map<std::vector<std::string>, double> samples;
  family.for_each([&](const std::vector<std::string>& values, const Gauge& g) {
    samples[values] = g.value();
  });
  if (collected != nullptr) {
    for (const auto& [values, value] : *collected) samples[values] = value;
  }
  for (const auto& [values, value] : samples) {
    append_sample(out, family.name(), family.label_names(), values, value);
  }
}

void render_histograms(std::string& out, const HistogramFamily& family) {
  append_header(out, family.name(), family.help(), "histogram");
  const std::string bucket = family.name() + "_bucket";
  family.for_each([&](const std::vector<std::string>& values, const Histogram& h) {
    const std::vector<uint64_t> counts = h.cumulative_counts();
    for (size_t i = 0; i < counts.size(); ++i) {
      const bool inf = i == family.bounds().size();
      out += bucket;
      append_labels(out, family.label_names(), values, "le",
                    inf ? "+Inf" : format_value(family.bounds()[i]));
      out += ' ';
      out += std::to_string(counts[i]);
      out += '\n';
    }
    append_sample(out, family.name() + "_sum", family.label_names(), values, h.sum());
    append_sample(out, family.name() + "_count", family.label_names(), values,
                  static_cast<double>(counts.back()));
  });
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0)) return;  // also refuses NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds->size() + 1)) {}

void Histogram::observe(double value) {
  // Bucket i counts values <= bounds[i]; NaN and values above every bound
  // land in +Inf only.
  size_t index = bounds_->size();
  if (!std::isnan(value)) {
    index = static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), value) -
                                bounds_->begin());
  }
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

template <typename Child>
Child& Family<Child>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metrics: " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  {
    ReaderMutexLock lock(mu_);
    auto it = children_.find(label_values);
    if (it != children_.end()) return *it->second;
  }
  WriterMutexLock lock(mu_);
  auto& slot = children_[label_values];  // another thread may have made it meanwhile
  if (!slot) slot = make_child();
  return *slot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : Family(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {}

bool CollectedSamples::add(std::string_view family, std::vector<std::string> label_values,
                           double value) {
  auto it = gauge_arity_->find(family);
  if (it == gauge_arity_->end() || it->second != label_values.size()) return false;
  samples_[std::string(family)][std::move(label_values)] = value;
  return true;
}

Registry::Entry& Registry::find_or_check(std::string_view name, MetricType type,
                                         const std::vector<std::string>& label_names,
                                         bool& created) {
  auto it = families_.find(name);
  created = it == families_.end();
  if (created) {
    check_names(name, label_names, type == MetricType::kHistogram);
    it = families_.emplace(std::string(name), Entry{type, nullptr, nullptr, nullptr}).first;
    return it->second;
  }
  const Entry& e = it->second;
  const std::vector<std::string>* existing =
      e.counter ? &e.counter->label_names()
                : e.gauge ? &e.gauge->label_names() : &e.histogram->label_names();
  if (e.type != type || *existing != label_names) {
    throw std::invalid_argument("metrics: " + std::string(name) +
                                " registered again with another type or labels");
  }
  return it->second;
}

CounterFamily& Registry::counter(std::string_view name, std::string_view help,
                                 std::vector<std::string> label_names) {
  MutexLock lock(mu_);
  bool created = false;
  Entry& e = find_or_check(name, MetricType::kCounter, label_names, created);
  if (created) {
    const bool plain = label_names.empty();
    e.counter = std::make_unique<CounterFamily>(std::string(name), std::string(help),
                                                std::move(label_names));
    if (plain) e.counter->with({});
  }
  return *e.counter;
}

GaugeFamily& Registry::gauge(std::string_view name, std::string_view help,
                             std::vector<std::string> label_names) {
  MutexLock lock(mu_);
  bool created = false;
  Entry& e = find_or_check(name, MetricType::kGauge, label_names, created);
  if (created) {
    const bool plain = label_names.empty();
    gauge_arity_[std::string(name)] = label_names.size();
    e.gauge = std::make_unique<GaugeFamily>(std::string(name), std::string(help),
                                            std::move(label_names));
    if (plain) e.gauge->with({});
  }
  return *e.gauge;
}

HistogramFamily& Registry::histogram(std::string_view name, std::string_view help,
                                     std::vector<double> bounds,
                                     std::vector<std::string> label_names) {
  bounds = checked_bounds(std::move(bounds), name);
  MutexLock lock(mu_);
  bool created = false;
  Entry& e = find_or_check(name, MetricType::kHistogram, label_names, created);
  if (created) {
    const bool plain = label_names.empty();
    e.histogram = std::make_unique<HistogramFamily>(std::string(name), std::string(help),
                                                    std::move(label_names), std::move(bounds));
    if (plain) e.histogram->with({});
  } else if (e.histogram->bounds() != bounds) {
    throw std::invalid_argument("metrics: " + std::string(name) +
                                " registered again with other buckets");
  }
  return *e.histogram;
}

void Registry::add_collector(Collector collector) {
  MutexLock lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render_prometheus() const {
  // Families are never removed, so the pointers stay valid after unlocking;
  // collectors run unlocked because they may take their own locks (ledger).
  std::vector<const Entry*> entries;
  std::vector<Collector> collectors;
  std::map<std::string, size_t, std::less<>> arity;
  {
    MutexLock lock(mu_);
    for (const auto& [name, entry] : families_) entries.push_back(&entry);
    collectors = collectors_;
    arity = gauge_arity_;
  }
  CollectedSamples collected(&arity);
  for (const Collector& collector : collectors) collector(collected);

  std::string out;
  for (const Entry* e : entries) {
    switch (e->type) {
      case MetricType::kCounter:
        render_counters(out, *e->counter);
        break;
      case MetricType::kGauge: {
        auto it = collected.samples_.find(e->gauge->name());
        render_gauges(out, *e->gauge, it == collected.samples_.end() ? nullptr : &it->second);
        break;
      }
      case MetricType::kHistogram:
        render_histograms(out, *e->histogram);
        break;
    }
  }
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "NaN";  // cannot happen with 64 bytes
  return std::string(buf, end);
}

std::vector<double> call_duration_buckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

std::vector<double> fsync_duration_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}

// A call's ledger waits: a few syncs (sub-millisecond to milliseconds),
// or, for a call queued for budget room, up to its deadline.
std::vector<double> ledger_wait_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60,   120};
}

// The daemon's own part of a call: tens to hundreds of microseconds.
std::vector<double> call_other_buckets() {
  return {0.00001, 0.000025, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005,
          0.00075, 0.001,    0.0025,  0.005,    0.01,   0.1,     1};
}

std::vector<double> batch_ops_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256}; }

DaemonMetrics register_daemon_metrics(Registry& r) {
  const std::vector<std::string> budget_labels = {"agent", "provider"};
  return DaemonMetrics{
      r.counter(kRequestsTotal,
                "Replies sent, by op, result code (ok on success) and transport (zmq or http).",
                {"op", "code", "transport"}),
      r.counter(kErrorsTotal, "Error replies, by protocol error code.", {"code"}),
      r.counter(kFallbacksTotal, "Providers passed over during a call, by reason.", {"reason"}),
      r.counter(kAlertsTotal, "Budget alerts published, by level.", {"level"}),
      r.gauge(kCircuitState, "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
              {"provider"}),
      r.gauge(kCallsInFlight, "Calls currently running.").with({}),
      r.histogram(kCallDuration, "Time a call spends inside the daemon, in seconds.",
                  call_duration_buckets())
          .with({}),
      r.histogram(kCallLedgerWait,
                  "Time a call spent waiting for its ledger operations to be answered (durable), "
                  "in seconds.",
                  ledger_wait_buckets())
          .with({}),
      r.histogram(kCallOther,
                  "Time a call spent neither waiting for its ledger operations nor for its "
                  "providers' HTTP answers (the daemon's own work and hand-offs), in seconds.",
                  call_other_buckets())
          .with({}),
      r.histogram(kProviderRequestDuration, "Duration of one HTTP request to a provider, in seconds.",
                  call_duration_buckets(), {"provider"}),
      r.histogram(kLedgerBatchOps, "Operations committed per ledger write transaction.",
                  batch_ops_buckets())
          .with({}),
      r.histogram(kLedgerFsyncDuration, "Duration of one durable ledger commit (LMDB and the redo log flush), in seconds.",
                  fsync_duration_buckets())
          .with({}),
      r.gauge(kTokensUsed, "Tokens charged this month, per agent and provider.", budget_labels),
      r.gauge(kTokensReserved, "Tokens reserved by running calls, per agent and provider.",
              budget_labels),
      r.gauge(kTokensLimit, "Monthly token limit, per agent and provider.", budget_labels),
      r.gauge(kGlobalTokensUsed, "Tokens charged this month across all agents, per provider.",
              {"provider"}),
      r.gauge(kGlobalTokensLimit, "Global monthly token limit per provider, where one is set.",
              {"provider"}),
      r.gauge(kAdmissionWaiting,
              "Calls queued for budget room held by other calls in flight, per provider.",
              {"provider"}),
  };
}

CacheMetrics register_cache_metrics(Registry& r) {
  return CacheMetrics{
      r.counter(kCacheHitsTotal,
                "Calls answered from the response cache (charged nothing), including calls that "
                "waited for an identical one.")
          .with({}),
      r.counter(kCacheMissesTotal,
                "Calls that asked for the response cache and went to a provider.")
          .with({}),
      r.counter(kCacheEvictionsTotal,
                "Response cache entries removed: to fit TOLLGATE_CACHE_MAX_MB (size) or past "
                "their TTL (expired).",
                {"reason"}),
      r.gauge(kCacheEntries, "Answers in the response cache.").with({}),
      r.gauge(kCacheBytes,
              "Bytes of answers in the response cache (keys and encoded replies), as counted "
              "against TOLLGATE_CACHE_MAX_MB.")
          .with({}),
  };
}

}  // namespace tollgate::metrics
