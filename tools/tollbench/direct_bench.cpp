#include "tools/tollbench/direct_bench.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "daemon/core/sync.h"
#include "workers/calls/worker.h"
#include "workers/providers/anthropic_adapter.h"

namespace tollgate::tollbench {
namespace {

using Clock = std::chrono::steady_clock;

// What the HTTP client's callbacks share with the submitting thread.
struct DirectProgress {
  Mutex mu;
  CondVar changed{mu};  // signalled on every answer
  std::vector<double> latencies GUARDED_BY(mu);  // milliseconds
  uint64_t done GUARDED_BY(mu) = 0;
  uint64_t errors GUARDED_BY(mu) = 0;
  std::string first_error GUARDED_BY(mu);

  void finished(double ms, const workers::HttpResponse& r) {
    MutexLock lock(mu);
    latencies.push_back(ms);
    if (!r.transport_ok() || r.status != 200) {
      ++errors;
      if (first_error.empty()) first_error = r.error.empty() ? std::to_string(r.status) : r.error;
    }
    ++done;
    changed.signal();
  }
};

}  // namespace

protocol::Result<ZmqBenchResult> run_direct_bench(const DirectBenchOptions& o) {
  workers::Worker worker;  // its loop drives the curl transport, as in tollgated
  workers::ProviderCall call;
  call.api_key = "bench-key";
  call.base_url = o.base_url;
  call.model = "claude-sonnet-4-5";
  call.max_tokens = o.max_tokens;
  call.messages.resize(1);
  call.messages[0].role = "user";
  call.messages[0].content = "Benchmark prompt: reply briefly.";
  const auto request = workers::AnthropicAdapter().build_request(call);

  DirectProgress p;
  const auto worker_cpu_start = worker.thread_cpu_time();
  uint64_t sent = 0;  // this thread only
  const auto start = Clock::now();
  auto next_send = start;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.rate > 0 ? 1.0 / o.rate : 0.0));
  auto can_send = [&](uint64_t done) {
    return sent < o.requests && (o.rate > 0 ? Clock::now() >= next_send : sent - done < o.inflight);
  };
  for (;;) {
    {
      MutexLock lock(p.mu);
      while (p.done < o.requests && !can_send(p.done)) {
        if (o.rate > 0 && sent < o.requests) p.changed.wait_until(next_send);
        else p.changed.wait();
      }
      if (p.done >= o.requests) break;
    }
    ++sent;
    next_send += interval;
    const auto t0 = Clock::now();
    auto on_done = [&p, t0](workers::HttpResponse r) {
      p.finished(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), r);
    };
    worker.post([&worker, &request, on_done] { worker.transport().submit(request, {}, {}, on_done); });
  }
  const auto worker_cpu = worker.thread_cpu_time() - worker_cpu_start;
  MutexLock lock(p.mu);
  ZmqBenchResult r;
  r.worker_cpu_us_per_request =
      std::chrono::duration<double, std::micro>(worker_cpu).count() / static_cast<double>(o.requests);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.per_second = static_cast<double>(o.requests) / r.seconds;
  r.ok = o.requests - p.errors;
  r.errors = p.errors;
  r.first_error = p.first_error;
  std::vector<double> latencies = std::move(p.latencies);
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) { return latencies[static_cast<size_t>(q * static_cast<double>(latencies.size() - 1))]; };
  r.p50_ms = pct(0.5);
  r.p90_ms = pct(0.9);
  r.p99_ms = pct(0.99);
  r.max_ms = latencies.back();
  return r;
}

}  // namespace tollgate::tollbench
