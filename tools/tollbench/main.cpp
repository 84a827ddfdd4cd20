// tollbench: load generator for tollgate. One subcommand per subsystem;
// each lives in its own <name>_bench.{h,cpp}.
// g++ 12 at -O2 reports a false "potential null pointer dereference" deep
// inside CLI11's std::string handling; silence it for that header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdio>

#include "tools/tollbench/ledger_bench.h"

namespace {

int run_ledger(const tollgate::tollbench::LedgerBenchOptions& o) {
  auto r = tollgate::tollbench::run_ledger_bench(o);
  if (!r.ok()) {
    std::fprintf(stderr, "tollbench ledger: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf(
      "ledger submitters=%zu pairs=%llu group_commit=%s durable=%s: %.0f pairs/s "
      "(%.3f s, %llu transactions, %.1f ops per transaction)\n",
      o.submitters, static_cast<unsigned long long>(r->pairs), o.group_commit ? "on" : "off",
      o.durable ? "on" : "off", r->pairs_per_second, r->seconds,
      static_cast<unsigned long long>(r->batches), r->ops_per_batch);
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

  CLI11_PARSE(app, argc, argv);
  if (ledger->parsed()) {
    ledger_opts.group_commit = !no_group_commit;
    ledger_opts.durable = !no_sync;
    return run_ledger(ledger_opts);
  }
  return 2;
}
