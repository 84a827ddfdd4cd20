// `tollbench ledger`: durable reserve+commit pairs per second through the
// ledger's group-commit writer.
//
// N submitters each run a chain: reserve, then (from the reserve's
// callback) commit, then the next reserve, until `pairs` pairs are done
// in total. Chains use the asynchronous API, so many submitters need no
// threads of their own: the ledger's writer thread drives them all, and
// the main thread just waits. Every pair is durable (fsync'd) before its
// chain moves on unless `durable` is false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/error.h"

namespace tollgate::tollbench {

struct LedgerBenchOptions {
  std::string dir;             // ledger directory (created; best empty)
  size_t submitters = 64;      // concurrent reserve+commit chains
  uint64_t pairs = 100000;     // total pairs
  bool group_commit = true;    // false: one operation per transaction
  bool durable = true;         // false: MDB_NOSYNC (for comparison only)
  // A PostgreSQL URI: the ledgers are `daemons` PostgreSQL ledgers on that
  // database (schema `dir`), the chains spread over them; "": LMDB in dir.
  std::string postgres;
  size_t daemons = 1;
};

struct LedgerBenchResult {
  uint64_t pairs = 0;
  double seconds = 0;
  double pairs_per_second = 0;
  uint64_t batches = 0;         // write transactions committed
  double ops_per_batch = 0;
  // This process's CPU time (its threads: the ledger's writer, the waiting
  // main thread) per pair.
  double cpu_us_per_pair = 0;
};

protocol::Result<LedgerBenchResult> run_ledger_bench(const LedgerBenchOptions& options);

}  // namespace tollgate::tollbench
