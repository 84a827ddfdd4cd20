// The LMDB ledger's redo log (daemon/ledger/lmdb/redo_log.h, lmdb_redo.h):
// the file's own rules (records after the checkpoint, torn records and
// headers, the ring), then recovery of a real ledger whose process died,
// including a power cut that kept LMDB's newer meta pages but not the
// pages they point at.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/lmdb/redo_log.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;
using detail::RedoLog;

namespace {

std::unique_ptr<RedoLog> open_log(const std::string& path, uint64_t max_ring = RedoLog::kMaxRing) {
  auto log = RedoLog::open(path, max_ring);
  REQUIRE(log.ok());
  return std::move(log.value());
}

void append(RedoLog& log, const std::string& payload) {
  std::string error;
  REQUIRE(log.append(payload, error) == RedoLog::Append::kDone);
}

// A checkpoint after everything appended so far.
void checkpoint(RedoLog& log) {
  RedoLog::Header h = log.header_here(true);
  h.meta = "meta";
  std::string error;
  REQUIRE(log.write_header(h, error));
}

std::vector<std::string> payloads(RedoLog& log) {
  std::vector<std::string> out;
  for (auto& r : log.take_records()) out.push_back(r.payload);
  return out;
}

void overwrite(const std::string& path, uint64_t offset, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
          static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

BudgetPolicy redo_policy() { return fixed_policy({"anthropic", "openai"}, 10'000'000, std::nullopt); }

void charge_100(Ledger& l, int i) {
  auto r = l.reserve("a1", "anthropic", 100, "call-" + std::to_string(i), kNov15);
  REQUIRE(r->reserved());
  REQUIRE(l.commit(r->reservation_id, 100, 0, 0, kNov15).ok());
}

// The ledger in `dir`, opened again, holds `calls` charges of charge_100
// and nothing reserved.
void check_charged_in_full(const std::string& dir, int calls) {
  auto l = open_ledger(dir, redo_policy());
  const auto u = usage_of(*l, "a1", "anthropic");
  CHECK(u.used == static_cast<uint64_t>(calls) * 100);
  CHECK(u.reserved == 0);
  CHECK(u.requests == static_cast<uint64_t>(calls));
}

// Runs body(options) in a child process that then dies without closing
// anything (as SIGKILL or a power cut would end tollgated); the test
// stops unless the child got to the end of body.
template <class Body>
void in_dying_child(const LmdbLedgerOptions& options, Body body) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto opened = LmdbLedger::open(options, redo_policy(), kNov15);
    if (!opened.ok()) _exit(10);
    body(*opened.value());
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

LmdbLedgerOptions redo_options(const std::string& dir, uint64_t checkpoint_every) {
  LmdbLedgerOptions o;
  o.dir = dir;
  o.redo_checkpoint_every = checkpoint_every;
  return o;
}

}  // namespace

TEST_CASE("crc32c gives the Castagnoli check value") {
  CHECK(detail::crc32c(0, "123456789", 9) == 0xE3069283u);
  // In two pieces, the same.
  CHECK(detail::crc32c(detail::crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
}

TEST_CASE("a redo log gives back the records after its last checkpoint in order") {
  TempDir dir;
  const std::string path = dir.path + "/redo.log";
  {
    auto log = open_log(path);
    CHECK_FALSE(log->header().active);
    append(*log, "first");
    checkpoint(*log);
    append(*log, "second");
    append(*log, std::string(5000, 'x'));
  }
  auto log = open_log(path);
  CHECK(log->header().active);
  CHECK(log->header().meta == "meta");
  CHECK(payloads(*log) == std::vector<std::string>{"second", std::string(5000, 'x')});
  CHECK(log->next_seq() == 4);
}

TEST_CASE("a torn last record ends the redo log and the next record takes its place") {
  TempDir dir;
  const std::string path = dir.path + "/redo.log";
  uint64_t torn_at = 0;
  {
    auto log = open_log(path);
    checkpoint(*log);
    append(*log, "kept");
    torn_at = log->position();
    append(*log, "torn record");
  }
  overwrite(path, torn_at + 40, "XX");  // inside the second record's payload
  {
    auto log = open_log(path);
    CHECK(payloads(*log) == std::vector<std::string>{"kept"});
    CHECK(log->position() == torn_at);
    append(*log, "after");
  }
  auto log = open_log(path);
  CHECK(payloads(*log) == std::vector<std::string>{"kept", "after"});
}

TEST_CASE("records wrap around the ring and an older lap is never read as new") {
  TempDir dir;
  const std::string path = dir.path + "/redo.log";
  const std::string block(40'000, 'b');
  uint64_t wraps = 0;
  int n = 0;
  for (int round = 0; round < 12; ++round) {
    {
      auto log = open_log(path);
      payloads(*log);
      for (int i = 0; i < 8; ++i) {
        const uint64_t before = log->position();
        append(*log, block + std::to_string(n++));
        if (log->position() < before) ++wraps;
      }
      checkpoint(*log);
      for (int i = 0; i < 3; ++i) append(*log, "tail " + std::to_string(n++));
    }
    auto log = open_log(path);
    CHECK(payloads(*log) == std::vector<std::string>{"tail " + std::to_string(n - 3),
                                                     "tail " + std::to_string(n - 2),
                                                     "tail " + std::to_string(n - 1)});
  }
  CHECK(wraps >= 2);
  // It wrapped instead of growing.
  CHECK(std::filesystem::file_size(path) == RedoLog::kRingStart + RedoLog::kInitialRing);
}

TEST_CASE("a full ring refuses a record until a checkpoint frees room for it") {
  TempDir dir;
  const std::string path = dir.path + "/redo.log";
  auto log = open_log(path, 64 << 10);
  checkpoint(*log);
  std::string error;
  int appended = 0;
  while (log->append(std::string(1000, 'r'), error) == RedoLog::Append::kDone) ++appended;
  CHECK(appended > 50);
  CHECK(appended < 70);
  CHECK(log->append(std::string(1000, 'r'), error) == RedoLog::Append::kFull);
  checkpoint(*log);
  CHECK(log->append("room again", error) == RedoLog::Append::kDone);
  CHECK(std::filesystem::file_size(path) == RedoLog::kRingStart + (64 << 10));
}

TEST_CASE("a torn header slot leaves the other header in force") {
  TempDir dir;
  const std::string path = dir.path + "/redo.log";
  uint64_t older_next = 0;
  {
    auto log = open_log(path);
    append(*log, "one");
    checkpoint(*log);
    older_next = log->header().next_seq;
    append(*log, "two");
    checkpoint(*log);
    REQUIRE(log->header().next_seq == older_next + 1);
    // The newest header went to slot (seq & 1): tear it.
    overwrite(path, (log->header().seq & 1) * RedoLog::kSlotBytes + 20, "torn");
  }
  auto log = open_log(path);
  CHECK(log->header().next_seq == older_next);
  CHECK(payloads(*log) == std::vector<std::string>{"two"});
}

TEST_CASE("a file that is no redo log is set aside and a new log started") {
  TempDir dir;
  const std::string path = dir.path + "/redo.log";
  write_file(path, std::string(100'000, 'z'));
  auto log = open_log(path);
  CHECK_FALSE(log->header().active);
  CHECK(log->take_records().empty());
  CHECK(read_file(path + ".unreadable") == std::string(100'000, 'z'));
}

TEST_CASE("a ledger whose process died recovers every charge its redo log made durable") {
  TempDir dir;
  in_dying_child(redo_options(dir.path, 3), [](Ledger& l) {
    for (int i = 0; i < 40; ++i) charge_100(l, i);
  });
  CHECK(open_log(dir.path + "/redo.log")->header().active);
  check_charged_in_full(dir.path, 40);
}

TEST_CASE("a power cut that kept LMDB's newer meta pages but not their pages loses no charge") {
  TempDir dir;
  const std::string data = dir.path + "/data.mdb";
  // Checkpoints only at open: every later commit is LMDB pages that were
  // never flushed, and records in the log.
  in_dying_child(redo_options(dir.path, 1'000'000), [&](Ledger& l) {
    std::filesystem::copy_file(data, data + ".at-checkpoint");
    for (int i = 0; i < 25; ++i) charge_100(l, i);
  });
  // The disk after the cut: the file as it was flushed at the checkpoint,
  // with the meta pages LMDB wrote since (page 0 and 1).
  const std::string after = read_file(data);
  std::string cut = read_file(data + ".at-checkpoint");
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  REQUIRE(cut.size() >= 2 * page);
  cut.replace(0, 2 * page, after.substr(0, 2 * page));
  write_file(data, cut);
  // Those meta pages name transactions the file has no pages for.
  auto newest_txn = [&](const std::string& file) {
    uint64_t newest = 0;
    for (size_t slot = 0; slot < 2; ++slot) {
      uint64_t txn = 0;
      std::memcpy(&txn, file.data() + slot * page + 144, sizeof txn);  // mm_txnid
      newest = std::max(newest, txn);
    }
    return newest;
  };
  CHECK(newest_txn(cut) >= newest_txn(read_file(data + ".at-checkpoint")) + 50);

  check_charged_in_full(dir.path, 25);
}

TEST_CASE("a full redo ring makes a commit durable through a checkpoint instead") {
  TempDir dir;
  LmdbLedgerOptions o = redo_options(dir.path, 1'000'000);
  o.redo_max_ring_bytes = 32 << 10;
  in_dying_child(o, [](Ledger& l) {
    for (int i = 0; i < 150; ++i) charge_100(l, i);
  });
  CHECK(std::filesystem::file_size(dir.path + "/redo.log") == RedoLog::kRingStart + (32 << 10));
  auto l = open_ledger(dir.path, redo_policy());
  CHECK(usage_of(*l, "a1", "anthropic").used == 15000);
}

TEST_CASE("a clean stop leaves data.mdb whole without its redo log") {
  TempDir dir;
  {
    auto l = open_ledger(redo_options(dir.path, 1'000'000), redo_policy());
    for (int i = 0; i < 5; ++i) charge_100(*l, i);
  }
  CHECK_FALSE(open_log(dir.path + "/redo.log")->header().active);
  std::filesystem::remove(dir.path + "/redo.log");
  auto l = open_ledger(dir.path, redo_policy());
  CHECK(usage_of(*l, "a1", "anthropic").used == 500);
}

TEST_CASE("a data.mdb older than its redo log stops the open with what to do") {
  TempDir dir;
  const std::string data = dir.path + "/data.mdb";
  {
    auto l = open_ledger(dir.path, redo_policy());
    charge_100(*l, 0);
  }
  std::filesystem::copy_file(data, data + ".backup");
  in_dying_child(redo_options(dir.path, 1), [](Ledger& l) {
    for (int i = 1; i < 10; ++i) charge_100(l, i);
  });
  std::filesystem::copy_file(data + ".backup", data, std::filesystem::copy_options::overwrite_existing);
  LmdbLedgerOptions o;
  o.dir = dir.path;
  auto l = LmdbLedger::open(o, redo_policy(), kNov15);
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains("older than redo.log's checkpoint"));
  CHECK_THAT(l.error().message, Catch::Contains("move redo.log away"));
  // Doing so opens the backup as it is.
  std::filesystem::rename(dir.path + "/redo.log", dir.path + "/redo.log.old");
  auto backup = open_ledger(dir.path, redo_policy());
  CHECK(usage_of(*backup, "a1", "anthropic").used == 100);
}

TEST_CASE("another process's writes while the redo log is on survive a crash after the next commit") {
  TempDir dir;
  int ready[2], go[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(go) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The owner of the log: checkpoints only at open, then dies.
    auto opened = LmdbLedger::open(redo_options(dir.path, 1'000'000), redo_policy(), kNov15);
    if (!opened.ok()) _exit(10);
    for (int i = 0; i < 3; ++i) charge_100(*opened.value(), i);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(11);
    charge_100(*opened.value(), 3);  // sees the other process's commits
    _exit(0);
  }
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  {
    // A second process: the log is the first one's, so this one leaves
    // it alone (no recovery from it) and commits durably on its own.
    LmdbLedgerOptions o;
    o.dir = dir.path;
    o.recover_on_open = false;
    auto other = open_ledger(o, redo_policy());
    CHECK(usage_of(*other, "a1", "anthropic").used == 300);
    auto r = other->reserve("b1", "anthropic", 700, "other", kNov15);
    REQUIRE(r->reserved());
    REQUIRE(other->commit(r->reservation_id, 700, 0, 0, kNov15).ok());
  }
  REQUIRE(write(go[1], "g", 1) == 1);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(open_log(dir.path + "/redo.log")->header().active);

  auto l = open_ledger(dir.path, redo_policy());
  CHECK(usage_of(*l, "a1", "anthropic").used == 400);
  CHECK(usage_of(*l, "b1", "anthropic").used == 700);
}
