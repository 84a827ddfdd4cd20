// `tollbench floor`: what this machine charges for the pieces every call
// through tollgated is made of, measured with no tollgate code around them:
// the lower bounds under issue 17's CPU targets (docs/benchmarks.md).
//
//   flush  a 128-byte record written into a pre-zeroed, flushed file and
//          fdatasync'd, `rounds` times in a row: a durable point as the
//          redo log makes one (a call needs two: its reservation and its
//          charge). CPU (user + system) and wall time per record.
//   wake   one thread waking another through an eventfd, then sleeping
//          until it is woken back: the measured thread's CPU per round,
//          with both threads on one CPU and with the other thread on a
//          second CPU, where the measured one's CPU goes idle while it
//          sleeps (as a daemon's does at one call in flight).
//   zmq    a ROUTER socket echoing each message back to a DEALER that keeps
//          `inflight` outstanding from a child process on the other CPU:
//          this process's CPU (its thread and ZeroMQ's I/O thread) per
//          round trip, a call's ZeroMQ half with nothing else done.
//
// The HTTP half is `tollbench direct` (its worker thread's CPU per request).
// Every measured thread runs on `cpu`; the other side on `other_cpu`. Main
// thread only; runs before any other thread of the process exists (zmq
// forks).
#pragma once

#include <cstdint>
#include <string>

#include "protocol/error.h"

namespace tollgate::tollbench {

struct FloorBenchOptions {
  std::string what;          // flush | wake | zmq
  std::string dir = ".";     // flush: where the file goes (the ledger's disk)
  uint64_t rounds = 2000;
  uint32_t inflight = 1;     // zmq
  int cpu = 0;
  int other_cpu = 1;
};

// One line per measurement, e.g. "floor flush: 31.2 us CPU, 80.1 us wall
// per durable record (2000 records, 128 bytes, in DIR)".
protocol::Result<std::string> run_floor_bench(const FloorBenchOptions& options);

// CPU time (user + system) of every thread of this process so far, in
// microseconds.
double process_cpu_us();

}  // namespace tollgate::tollbench
