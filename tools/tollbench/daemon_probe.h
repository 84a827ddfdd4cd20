// What tollbench reads from the daemon around its measured phase, for
// `call` and `ping`: the CPU time it spent (utime + stime of /proc/PID/stat,
// all its threads, in clock ticks) and, from its HTTP /metrics, the sum and
// count of the call-duration and ledger-wait histograms. The difference of
// two snapshots, divided by the calls, gives the daemon's CPU per call and
// the mean split of a call's time inside the daemon into waiting for the
// ledger (tollgate_call_ledger_wait_seconds) and everything else.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>

#include "protocol/error.h"

namespace tollgate::tollbench {

struct DaemonSnapshot {
  uint64_t user_ticks = 0;      // utime; --daemon-pid
  uint64_t system_ticks = 0;    // stime (the ledger's fsyncs count here)
  double call_seconds = 0;      // tollgate_call_duration_seconds_sum; --metrics
  double call_count = 0;        // ..._count
  double ledger_wait_seconds = 0;  // tollgate_call_ledger_wait_seconds_sum
  double ledger_wait_count = 0;    // ..._count
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

}  // namespace tollgate::tollbench
