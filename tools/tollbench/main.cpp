// tollbench: load generator for tollgate. One subcommand per subsystem;
// each lives in its own <name>_bench.{h,cpp}.
// g++ 12 at -O2 reports a false "potential null pointer dereference" deep
// inside CLI11's std::string handling; silence it for that header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdio>
#include <optional>

#include "tools/tollbench/ledger_bench.h"
#include "tools/tollbench/daemon_probe.h"
#include "tools/tollbench/direct_bench.h"
#include "tools/tollbench/floor_bench.h"
#include "tools/tollbench/zmq_bench.h"

namespace {

int run_ledger(const tollgate::tollbench::LedgerBenchOptions& o) {
  auto r = tollgate::tollbench::run_ledger_bench(o);
  if (!r.ok()) {
    std::fprintf(stderr, "tollbench ledger: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf(
      "ledger %ssubmitters=%zu pairs=%llu group_commit=%s durable=%s: %.0f pairs/s "
      "(%.3f s, %llu transactions, %.1f ops per transaction, %.1f us CPU per pair)\n",
      o.postgres.empty() ? "" : ("postgres daemons=" + std::to_string(o.daemons) + " ").c_str(),
      o.submitters, static_cast<unsigned long long>(r->pairs), o.group_commit ? "on" : "off",
      o.durable ? "on" : "off", r->pairs_per_second, r->seconds,
      static_cast<unsigned long long>(r->batches), r->ops_per_batch, r->cpu_us_per_pair);
  return 0;
}

int report(const tollgate::tollbench::ZmqBenchOptions& o,
           const tollgate::protocol::Result<tollgate::tollbench::ZmqBenchResult>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "tollbench %s: %s\n", o.op.c_str(), r.error().message.c_str());
    return 1;
  }
  std::printf(
      "%s requests=%llu %s: %.0f/s ok=%llu errors=%llu "
      "latency ms p50=%.3f p90=%.3f p99=%.3f max=%.3f\n",
      o.op.c_str(), static_cast<unsigned long long>(o.requests),
      (o.rate > 0 ? "rate=" + std::to_string(static_cast<long>(o.rate)) + "/s" : "inflight=" + std::to_string(o.inflight)).c_str(), r->per_second,
      static_cast<unsigned long long>(r->ok), static_cast<unsigned long long>(r->errors),
      r->p50_ms, r->p90_ms, r->p99_ms, r->max_ms);
  if (r->parts > 0) {
    std::printf("streamed: %llu parts, first part ms p50=%.3f p99=%.3f\n",
                static_cast<unsigned long long>(r->parts), r->first_part_p50_ms, r->first_part_p99_ms);
  }
  if (r->worker_cpu_us_per_request > 0) {
    std::printf("worker_cpu_us_per_request=%.1f (the thread driving the transfers)\n", r->worker_cpu_us_per_request);
  }
  if (!r->first_error.empty()) std::printf("first error: %s\n", r->first_error.c_str());
  if (!r->errors_by_code.empty()) {
    std::printf("errors by code:");
    for (const auto& [code, n] : r->errors_by_code) {
      std::printf(" %s=%llu", code.c_str(), static_cast<unsigned long long>(n));
    }
    std::printf("\n");
  }
  return 0;
}

// A run with --daemon-pid / --metrics: a snapshot of the daemon as the
// measured phase begins and one after it, and their difference printed
// after the run's own line.
int run_zmq(tollgate::tollbench::ZmqBenchOptions o, const tollgate::tollbench::DaemonProbeOptions& probe) {
  using tollgate::tollbench::DaemonSnapshot;
  using tollgate::tollbench::take_snapshot;
  const bool probing = probe.pid != 0 || !probe.metrics_url.empty();
  std::optional<tollgate::protocol::Result<DaemonSnapshot>> before;
  if (probing) o.at_measure_start = [&] { before = take_snapshot(probe, false); };
  auto result = tollgate::tollbench::run_zmq_bench(o);
  const int rc = report(o, result);
  if (!probing || rc != 0) return rc;
  auto after = take_snapshot(probe, true);
  if (!before) {
    std::fprintf(stderr, "tollbench %s: the measured phase never began\n", o.op.c_str());
    return 1;
  }
  for (const auto* s : {&*before, &after}) {
    if (!s->ok()) {
      std::fprintf(stderr, "tollbench %s: %s\n", o.op.c_str(), s->error().message.c_str());
      return 1;
    }
  }
  std::fputs(describe_difference(probe, before->value(), after.value(), o.requests).c_str(), stdout);
  return 0;
}

int run_direct(const tollgate::tollbench::DirectBenchOptions& d) {
  tollgate::tollbench::ZmqBenchOptions shown;
  shown.op = "direct";
  shown.requests = d.requests;
  shown.inflight = d.inflight;
  shown.rate = d.rate;
  return report(shown, tollgate::tollbench::run_direct_bench(d));
}

void add_zmq_options(CLI::App* cmd, tollgate::tollbench::ZmqBenchOptions& o,
                     tollgate::tollbench::DaemonProbeOptions& probe) {
  cmd->add_option("--daemon-pid", probe.pid,
                  "tollgated's pid: print its CPU time (utime+stime) per measured request");
  cmd->add_option("--metrics", probe.metrics_url,
                  "tollgated's /metrics URL: print the split of a call's time in the daemon "
                  "(ledger waits, the daemon's own work and hand-offs, the rest) over the measured "
                  "calls: means, and p50/p99 of the ledger waits and the daemon's own time");
  cmd->add_option("--endpoint", o.endpoint, "tollgated request endpoint")->capture_default_str();
  cmd->add_option("--requests", o.requests, "measured requests")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "requests sent first and not measured")->capture_default_str();
  cmd->add_option("--inflight", o.inflight, "requests outstanding (max-rate mode)")->capture_default_str();
  cmd->add_option("--rate", o.rate, "fixed rate in requests/s (0: max rate)")->capture_default_str();
}

CLI::App* add_floor(CLI::App& app, tollgate::tollbench::FloorBenchOptions& o) {
  auto* floor = app.add_subcommand(
      "floor", "what the machine charges for a call's parts with no tollgate code: flush, wake, zmq");
  floor->add_option("what", o.what, "flush | wake | zmq")->required()->check(CLI::IsMember({"flush", "wake", "zmq"}));
  floor->add_option("--dir", o.dir, "flush: a directory on the ledger's disk")->capture_default_str();
  floor->add_option("--rounds", o.rounds, "measured records, wake-ups or round trips")
      ->check(CLI::PositiveNumber)->capture_default_str();
  floor->add_option("--inflight", o.inflight, "zmq: messages outstanding")
      ->check(CLI::PositiveNumber)->capture_default_str();
  floor->add_option("--cpu", o.cpu, "the CPU the measured side runs on")->capture_default_str();
  floor->add_option("--other-cpu", o.other_cpu, "the CPU of the other side (wake, zmq)")->capture_default_str();
  return floor;
}

int run_floor(const tollgate::tollbench::FloorBenchOptions& o) {
  auto r = tollgate::tollbench::run_floor_bench(o);
  if (!r.ok()) {
    std::fprintf(stderr, "tollbench %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", r->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tollbench: load generator for tollgate"};
  app.require_subcommand(1);

  tollgate::tollbench::LedgerBenchOptions ledger_opts;
  bool no_group_commit = false;
  bool no_sync = false;
  auto* ledger = app.add_subcommand("ledger", "durable reserve+commit pairs per second");
  ledger->add_option("--dir", ledger_opts.dir, "ledger directory (use an empty one)")->required();
  ledger->add_option("--submitters", ledger_opts.submitters, "concurrent reserve+commit chains")
      ->check(CLI::PositiveNumber);
  ledger->add_option("--pairs", ledger_opts.pairs, "total reserve+commit pairs")
      ->check(CLI::PositiveNumber);
  ledger->add_flag("--no-group-commit", no_group_commit, "one operation per transaction");
  ledger->add_flag("--no-sync", no_sync, "MDB_NOSYNC: skip fsync (comparison only)");
  ledger->add_option("--postgres", ledger_opts.postgres,
                     "PostgreSQL URI: PostgreSQL ledgers (schema --dir) instead of LMDB");
  ledger->add_option("--daemons", ledger_opts.daemons,
                     "with --postgres: ledgers on the one database, as several tollgateds")
      ->check(CLI::PositiveNumber);

  tollgate::tollbench::ZmqBenchOptions ping_opts;
  auto* ping = app.add_subcommand("ping", "ping round trips through a running tollgated");
  tollgate::tollbench::DaemonProbeOptions probe;
  add_zmq_options(ping, ping_opts, probe);
  tollgate::tollbench::ZmqBenchOptions call_opts;
  call_opts.op = "call";
  call_opts.requests = 20000;
  auto* call = app.add_subcommand("call", "calls through a running tollgated (point it at fake-provider)");
  add_zmq_options(call, call_opts, probe);
  call->add_option("--agents", call_opts.agents, "agents to spread calls over")->capture_default_str();
  call->add_option("--max-tokens", call_opts.max_tokens, "max_tokens of each call")->capture_default_str();
  call->add_flag("--stream", call_opts.stream,
                 "stream every call (stream: true); also reports the first part's latency");
  call->add_flag_callback("--mixed", [&call_opts] { call_opts.op = "mixed"; },
                          "every tenth request is a status op (usage, summary, provider_status, "
                          "alerts, ping in turn) instead of a call");
  uint64_t codec_iterations = 2'000'000;
  auto* codec = app.add_subcommand("codec", "decode+validate+encode of a typical call request, one core");
  codec->add_option("--iterations", codec_iterations)->capture_default_str();

  tollgate::tollbench::DirectBenchOptions direct_opts;
  auto* direct = app.add_subcommand("direct", "Anthropic-format calls straight to a provider URL (baseline)");
  direct->add_option("--base-url", direct_opts.base_url, "e.g. http://127.0.0.1:PORT")->required();
  direct->add_option("--requests", direct_opts.requests)->capture_default_str();
  direct->add_option("--inflight", direct_opts.inflight)->capture_default_str();
  direct->add_option("--rate", direct_opts.rate, "fixed rate in requests/s (0: max rate)")->capture_default_str();

  tollgate::tollbench::FloorBenchOptions floor_opts;
  auto* floor = add_floor(app, floor_opts);

  CLI11_PARSE(app, argc, argv);
  if (floor->parsed()) return run_floor(floor_opts);
  if (direct->parsed()) return run_direct(direct_opts);
  if (ping->parsed()) return run_zmq(ping_opts, probe);
  if (call->parsed()) return run_zmq(call_opts, probe);
  if (codec->parsed()) {
    std::printf("codec: %.0f decode+validate+encode per second (%llu iterations, one thread)\n",
                tollgate::tollbench::run_codec_bench(codec_iterations),
                static_cast<unsigned long long>(codec_iterations));
    return 0;
  }
  if (ledger->parsed()) {
    ledger_opts.group_commit = !no_group_commit;
    ledger_opts.durable = !no_sync;
    return run_ledger(ledger_opts);
  }
  return 2;
}
