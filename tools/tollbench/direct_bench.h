// tollbench direct: Anthropic-format calls straight to a provider URL (the
// fake provider) through the same worker loop and curl transport tollgated
// uses, N in flight, for the baseline of the daemon's added latency.
#pragma once

#include <cstdint>
#include <string>

#include "tools/tollbench/zmq_bench.h"

namespace tollgate::tollbench {

struct DirectBenchOptions {
  std::string base_url;  // e.g. http://127.0.0.1:PORT
  uint64_t requests = 5000;
  uint32_t inflight = 1;
  uint32_t max_tokens = 16;
  double rate = 0;  // requests/s; 0 = max
};

protocol::Result<ZmqBenchResult> run_direct_bench(const DirectBenchOptions& options);

}  // namespace tollgate::tollbench
