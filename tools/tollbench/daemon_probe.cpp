#include "tools/tollbench/daemon_probe.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

namespace tollgate::tollbench {
namespace {

// utime and stime of PID: fields 14 and 15 of /proc/PID/stat. The command
// name (field 2) is in parentheses and may hold spaces, so count from its
// closing parenthesis: utime is then the 12th field.
protocol::Result<std::pair<uint64_t, uint64_t>> cpu_ticks(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::string text(4096, '\0');
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return protocol::Error::bad_request("cannot open " + path);
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return protocol::Error::bad_request("cannot read " + path);
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i == 12) utime = std::stoull(field);
    if (i == 13) stime = std::stoull(field);
  }
  if (!fields) return protocol::Error::bad_request("short " + path);
  return std::make_pair(utime, stime);
}

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

protocol::Result<std::string> http_get(const std::string& url) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return protocol::Error::internal("curl_easy_init failed");
  std::string body;
  long status = 0;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return protocol::Error::internal(url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return protocol::Error::internal(url + ": HTTP " + std::to_string(status));
  return body;
}

protocol::Result<DaemonSnapshot> read_metrics(const std::string& url, DaemonSnapshot s) {
  auto page = http_get(url);
  if (!page) return page.error();
  struct Want {
    const char* name;
    double* into;
  } wants[] = {{"tollgate_call_duration_seconds_sum", &s.call_seconds},
               {"tollgate_call_duration_seconds_count", &s.call_count},
               {"tollgate_call_ledger_wait_seconds_sum", &s.ledger_wait_seconds},
               {"tollgate_call_ledger_wait_seconds_count", &s.ledger_wait_count},
               {"tollgate_call_other_seconds_sum", &s.own_seconds},
               {"tollgate_call_other_seconds_count", &s.own_count}};
  for (const Want& w : wants) {
    auto v = prometheus_sample(*page, w.name);
    if (!v) return v.error();
    *w.into = *v;
  }
  s.ledger_wait_buckets = prometheus_buckets(*page, "tollgate_call_ledger_wait_seconds");
  s.own_buckets = prometheus_buckets(*page, "tollgate_call_other_seconds");
  return s;
}

}  // namespace

protocol::Result<double> prometheus_sample(const std::string& page, const std::string& name) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return protocol::Error::bad_request("no sample " + name + " in the metrics page");
}

Buckets prometheus_buckets(const std::string& page, const std::string& name) {
  const std::string prefix = name + "_bucket{le=\"";
  Buckets out;
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t close = line.find("\"} ", prefix.size());
    if (close == std::string::npos) continue;
    // strtod reads "+Inf" as infinity.
    out.emplace_back(std::strtod(line.c_str() + prefix.size(), nullptr),
                     std::strtod(line.c_str() + close + 3, nullptr));
  }
  return out;
}

std::optional<double> bucket_quantile(const Buckets& before, const Buckets& after, double q) {
  if (after.empty() || (!before.empty() && before.size() != after.size())) return std::nullopt;
  auto count = [&](size_t i) { return after[i].second - (before.empty() ? 0 : before[i].second); };
  const double total = count(after.size() - 1);
  if (total <= 0) return std::nullopt;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    const double upper = after[i].first;
    const double n = count(i);
    if (n >= rank) {
      if (std::isinf(upper)) return lower;
      return lower + (upper - lower) * (rank - below) / (n - below);
    }
    lower = upper;
    below = n;
  }
  return lower;
}

protocol::Result<DaemonSnapshot> take_snapshot(const DaemonProbeOptions& o, bool cpu_first) {
  DaemonSnapshot s;
  auto read_cpu = [&]() -> std::optional<protocol::Error> {
    if (o.pid == 0) return std::nullopt;
    auto t = cpu_ticks(o.pid);
    if (!t) return t.error();
    s.user_ticks = t->first;
    s.system_ticks = t->second;
    return std::nullopt;
  };
  if (cpu_first) {
    if (auto e = read_cpu()) return *e;
  }
  if (!o.metrics_url.empty()) {
    auto m = read_metrics(o.metrics_url, s);
    if (!m) return m.error();
    s = *m;
  }
  if (!cpu_first) {
    if (auto e = read_cpu()) return *e;
  }
  return s;
}

std::string describe_difference(const DaemonProbeOptions& o, const DaemonSnapshot& before,
                                const DaemonSnapshot& after, uint64_t calls) {
  char line[256];
  std::string out;
  if (o.pid != 0 && calls > 0) {
    const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double user = static_cast<double>(after.user_ticks - before.user_ticks);
    const double system = static_cast<double>(after.system_ticks - before.system_ticks);
    const double us_per_tick = 1e6 / hz / static_cast<double>(calls);  // per request
    std::snprintf(line, sizeof line,
                  "daemon cpu_us_per_request=%.1f (user %.1f + system %.1f; %.0f ticks of 1/%.0f s "
                  "over %llu requests)\n",
                  (user + system) * us_per_tick, user * us_per_tick, system * us_per_tick,
                  user + system, hz, static_cast<unsigned long long>(calls));
    out += line;
  }
  if (!o.metrics_url.empty()) {
    const double n = after.call_count - before.call_count;
    const double waits = after.ledger_wait_count - before.ledger_wait_count;
    if (n <= 0 || waits <= 0) return out + "daemon split: no call in the metrics' difference\n";
    const double in_daemon = (after.call_seconds - before.call_seconds) / n * 1e3;
    const double ledger = (after.ledger_wait_seconds - before.ledger_wait_seconds) / waits * 1e3;
    const double owns = after.own_count - before.own_count;
    const double own = owns > 0 ? (after.own_seconds - before.own_seconds) / owns * 1e3 : 0;
    std::snprintf(line, sizeof line,
                  "daemon split, mean per call: in_daemon_ms=%.3f = ledger_wait_ms=%.3f + "
                  "own_ms=%.3f + rest_ms=%.3f (%.0f calls)\n",
                  in_daemon, ledger, own, in_daemon - ledger - own, n);
    out += line;
    auto ms = [](std::optional<double> seconds) { return seconds ? *seconds * 1e3 : -1.0; };
    std::snprintf(line, sizeof line,
                  "daemon split, percentiles: ledger_wait_p50_ms=%.3f ledger_wait_p99_ms=%.3f "
                  "own_p50_ms=%.3f own_p99_ms=%.3f\n",
                  ms(bucket_quantile(before.ledger_wait_buckets, after.ledger_wait_buckets, 0.5)),
                  ms(bucket_quantile(before.ledger_wait_buckets, after.ledger_wait_buckets, 0.99)),
                  ms(bucket_quantile(before.own_buckets, after.own_buckets, 0.5)),
                  ms(bucket_quantile(before.own_buckets, after.own_buckets, 0.99)));
    out += line;
  }
  return out;
}

}  // namespace tollgate::tollbench
