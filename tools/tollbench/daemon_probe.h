// What tollbench reads from the daemon around its measured phase, for
// `call` and `ping`: the CPU time it spent (utime + stime of /proc/PID/stat,
// all its threads, in clock ticks) and, from its HTTP /metrics, the
// call-duration, ledger-wait and daemon's-own-time histograms. The
// difference of two snapshots, divided by the calls, gives the daemon's CPU
// per call and the split of a call's time inside the daemon: waiting for
// the ledger (tollgate_call_ledger_wait_seconds), the daemon's own work
// and hand-offs (tollgate_call_other_seconds), and the rest (the providers'
// answers, the reply's way back to the loop); means, and the percentiles
// of the two histograms from their buckets.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/error.h"

namespace tollgate::tollbench {

// A histogram's cumulative buckets: (upper bound, count), bounds ascending,
// the last +Inf.
using Buckets = std::vector<std::pair<double, double>>;

struct DaemonSnapshot {
  uint64_t user_ticks = 0;      // utime; --daemon-pid
  uint64_t system_ticks = 0;    // stime (the ledger's fsyncs count here)
  double call_seconds = 0;      // tollgate_call_duration_seconds_sum; --metrics
  double call_count = 0;        // ..._count
  double ledger_wait_seconds = 0;  // tollgate_call_ledger_wait_seconds_sum
  double ledger_wait_count = 0;    // ..._count
  Buckets ledger_wait_buckets;     // ..._bucket
  double own_seconds = 0;          // tollgate_call_other_seconds_sum
  double own_count = 0;            // ..._count
  Buckets own_buckets;             // ..._bucket
};

struct DaemonProbeOptions {
  pid_t pid = 0;            // 0: no CPU reading
  std::string metrics_url;  // empty: no metrics reading
};

// One snapshot: the metrics first, then the CPU ticks (at the start of the
// phase) or the other way round (`cpu_first`, at its end), so the daemon's
// work of rendering /metrics falls outside the CPU window.
protocol::Result<DaemonSnapshot> take_snapshot(const DaemonProbeOptions& o, bool cpu_first);

// The lines tollbench prints for `calls` measured calls between `before`
// and `after` (nothing for what the options did not ask for).
std::string describe_difference(const DaemonProbeOptions& o, const DaemonSnapshot& before,
                                const DaemonSnapshot& after, uint64_t calls);

// The value of the sample `name` (no labels) in a Prometheus text page;
// error if absent. Exposed for tests.
protocol::Result<double> prometheus_sample(const std::string& page, const std::string& name);
// The buckets of the histogram `name` (no other labels) in such a page.
Buckets prometheus_buckets(const std::string& page, const std::string& name);
// The q-quantile (0 < q < 1) of the observations between two readings of
// one histogram, interpolated within its bucket as Prometheus's
// histogram_quantile does; a quantile in the +Inf bucket is the highest
// finite bound. nullopt when nothing was observed between them.
std::optional<double> bucket_quantile(const Buckets& before, const Buckets& after, double q);

}  // namespace tollgate::tollbench
