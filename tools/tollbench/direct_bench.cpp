#include "tools/tollbench/direct_bench.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "workers/calls/worker.h"
#include "workers/providers/anthropic_adapter.h"

namespace tollgate::tollbench {

protocol::Result<ZmqBenchResult> run_direct_bench(const DirectBenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  workers::Worker worker;  // its loop drives the curl transport, as in tollgated
  workers::ProviderCall call;
  call.api_key = "bench-key";
  call.base_url = o.base_url;
  call.model = "claude-sonnet-4-5";
  call.max_tokens = o.max_tokens;
  call.messages = {{"user", "Benchmark prompt: reply briefly."}};
  const auto request = workers::AnthropicAdapter().build_request(call);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latencies;
  uint64_t done = 0, errors = 0, sent = 0;
  std::string first_error;
  const auto start = Clock::now();
  auto next_send = start;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.rate > 0 ? 1.0 / o.rate : 0.0));
  std::unique_lock lock(mu);
  while (done < o.requests) {
    bool can_send = sent < o.requests &&
                    (o.rate > 0 ? Clock::now() >= next_send : sent - done < o.inflight);
    if (can_send) {
      ++sent;
      next_send += interval;
      auto t0 = Clock::now();
      lock.unlock();
      auto on_done = [&, t0](workers::HttpResponse r) {
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        std::lock_guard l(mu);
        latencies.push_back(ms);
        if (!r.transport_ok() || r.status != 200) {
          ++errors;
          if (first_error.empty()) first_error = r.error.empty() ? std::to_string(r.status) : r.error;
        }
        ++done;
        cv.notify_one();
      };
      worker.post([&worker, &request, on_done] {
        worker.transport().submit(request, {}, {}, on_done);
      });
      lock.lock();
      continue;
    }
    if (o.rate > 0 && sent < o.requests) cv.wait_until(lock, next_send);
    else cv.wait(lock);
  }
  ZmqBenchResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.per_second = static_cast<double>(o.requests) / r.seconds;
  r.ok = o.requests - errors;
  r.errors = errors;
  r.first_error = first_error;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies[static_cast<size_t>(p * static_cast<double>(latencies.size() - 1))]; };
  r.p50_ms = pct(0.5);
  r.p90_ms = pct(0.9);
  r.p99_ms = pct(0.99);
  r.max_ms = latencies.back();
  return r;
}

}  // namespace tollgate::tollbench
