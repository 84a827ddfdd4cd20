// tollbench ping / call: a ZeroMQ load generator against a running
// tollgated. One DEALER socket keeps `inflight` requests outstanding (max
// rate) or sends at a fixed rate; each reply's latency is measured from its
// send (with --stream, also the latency of each call's first part). Single
// thread; the daemon does the concurrency.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "protocol/error.h"

namespace tollgate::tollbench {

struct ZmqBenchOptions {
  std::string endpoint = "tcp://127.0.0.1:5555";
  // ping | call | mixed (soak: 9 calls in 10, the rest usage, summary,
  // provider_status, alerts and ping in turn)
  std::string op = "ping";
  std::string agent = "bench";    // call: ai_name (suffixed -0 .. -agents-1)
  uint32_t agents = 16;
  uint32_t max_tokens = 16;
  uint64_t requests = 100000;
  uint32_t inflight = 64;         // max-rate mode
  double rate = 0;                // requests/s; 0 = as fast as allowed by inflight
  uint64_t warmup = 1000;         // requests not measured
  bool stream = false;            // call: stream: true (PROTOCOL.md section 9)
  // Runs as the measured phase begins (the last warm-up reply is in, or
  // before the first request without warm-up): --daemon-pid and --metrics
  // take their first snapshot here.
  std::function<void()> at_measure_start;
};

struct ZmqBenchResult {
  uint64_t ok = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double per_second = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  // --stream: parts received, and the latency of each call's first part.
  uint64_t parts = 0;
  double first_part_p50_ms = 0, first_part_p99_ms = 0;
  // direct: the CPU time of the worker thread that drives the transfers,
  // per request (the HTTP half of a call, as tollgated's workers do it).
  double worker_cpu_us_per_request = 0;
  std::string first_error;
  std::map<std::string, uint64_t> errors_by_code;  // error.code -> replies
};

protocol::Result<ZmqBenchResult> run_zmq_bench(const ZmqBenchOptions& options);

// Decode + validate + encode-reply of a typical call request on this
// thread, `iterations` times; returns operations per second.
double run_codec_bench(uint64_t iterations);

}  // namespace tollgate::tollbench
