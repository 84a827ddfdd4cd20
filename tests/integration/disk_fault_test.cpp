// Disk faults: a data directory that cannot be written stops start-up with
// one clear line; a disk that fills up while the daemon runs makes it
// degraded (calls refused, status ops answer, nothing corrupted) and it
// recovers by itself when space returns. The full-disk cases mount a small
// tmpfs and so need root; they are skipped with a message otherwise.
#include <catch2/catch.hpp>
#include <lmdb.h>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <httplib.h>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

// A tmpfs of `size` mounted on `dir` for the guard's lifetime. ok() is
// false (and why() says why) when the mount failed, e.g. not root.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& options) : dir_(dir) {
    if (::geteuid() != 0) {
      why_ = "not root";
      return;
    }
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      why_ = std::string("mount tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  std::string why_;
  bool mounted_ = false;
};

// Writes to `path` until the file system is full.
void fill_disk(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::vector<char> block(64 * 1024, 'f');
  while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
  }
  // Fill the last partial block too.
  while (std::fwrite(block.data(), 1, 1, f) == 1 && std::fflush(f) == 0) {
  }
  std::fclose(f);
}

// Lines of `out` that mention `needle`.
int count_lines_with(const std::string& out, const std::string& needle) {
  int n = 0;
  size_t pos = 0;
  while ((pos = out.find(needle, pos)) != std::string::npos) {
    ++n;
    pos = out.find('\n', pos);
    if (pos == std::string::npos) break;
  }
  return n;
}

}  // namespace

TEST_CASE("an unwritable data directory stops start-up with one clear line") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::filesystem::create_directory(data);
  // Root ignores permission bits: a read-only mount is what stops it.
  TmpfsMount ro(data, "ro,size=1m");
  if (!ro.ok()) std::filesystem::permissions(data, std::filesystem::perms::owner_read |
                                                       std::filesystem::perms::owner_exec);
  if (!ro.ok() && ::geteuid() == 0) {
    WARN("skipped: as root a read-only directory needs a mount (" << ro.why() << ")");
    return;
  }
  ChildProcess p(bin_dir() + "/tollgated", {},
                 {{"TOLLGATE_DATA_DIR", data}, {"TOLLGATE_LISTEN", "tcp://127.0.0.1:0"},
                  {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"}, {"TOLLGATE_HTTP", "off"}});
  auto status = p.wait_exit(20s);
  const std::string out = p.output();
  INFO(out);
  REQUIRE(status.has_value());
  CHECK(*status != 0);
  CHECK(count_lines_with(out, "ledger directory " + data + " is not writable") == 1);
  CHECK(out.find("ready") == std::string::npos);
}

TEST_CASE("a full disk makes the daemon degraded and it recovers when space returns") {
  TempDir dir;
  const std::string mnt = dir.path() + "/mnt";
  std::filesystem::create_directory(mnt);
  TmpfsMount fs(mnt, "size=2m");
  if (!fs.ok()) {
    WARN("skipped: the full-disk test mounts a tmpfs (" << fs.why() << ")");
    return;
  }
  const std::string data = mnt + "/ledger";
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data}, {"ANTHROPIC_RPM", "0"},
                                                 {"TOLLGATE_HTTP", "127.0.0.1:0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  const auto readyz = [&d] {
    httplib::Client http("http://" + d.http());
    auto res = http.Get("/readyz");
    REQUIRE(res);
    return std::pair{res->status, json::parse(res->body)};
  };
  CHECK(readyz().first == 200);
  auto first = client.request(call_body("before", "while there is space", 10));
  REQUIRE(first["ok"] == true);
  const auto used_before = first["usage"]["total_tokens"];

  fill_disk(mnt + "/filler");
  // New agents add rows, so the ledger file must grow: it cannot for long.
  json refused;
  for (int i = 0; i < 20000 && refused.is_null(); ++i) {
    auto r = client.request(call_body("agent-" + std::to_string(i), "on a full disk", 10));
    if (r["ok"] == false) refused = r;
  }
  INFO(refused.dump());
  REQUIRE_FALSE(refused.is_null());
  CHECK(refused["error"]["code"] == "ledger_unavailable");
  CHECK(refused["error"].contains("retry_after_ms"));
  CHECK(refused["error"]["message"].get<std::string>().find("ledger") != std::string::npos);
  auto degraded = client.request(call_body("before", "still full", 10));
  CHECK(degraded["ok"] == false);
  CHECK(degraded["error"]["message"].get<std::string>().find("degraded") != std::string::npos);
  // Status ops keep answering from read transactions.
  auto usage = client.request({{"op", "usage"}, {"ai_name", "before"}});
  CHECK(usage["ok"] == true);
  CHECK(usage["providers"]["anthropic"]["used"] == used_before);
  CHECK(client.request({{"op", "summary"}})["ok"] == true);
  // The readiness probe says why the daemon cannot take calls.
  auto [not_ready, why] = readyz();
  CHECK(not_ready == 503);
  CHECK(why["ready"] == false);
  CHECK(why["reason"].get<std::string>().find("degraded") != std::string::npos);

  std::filesystem::remove(mnt + "/filler");
  // The writer probes once a second; calls work again after a probe.
  json again;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    again = client.request(call_body("before", "space is back", 10));
  } while (again["ok"] == false && std::chrono::steady_clock::now() < deadline);
  INFO(again.dump());
  CHECK(again["ok"] == true);
  auto summary = client.request({{"op", "summary"}});
  for (const std::string p : {"anthropic", "openai"}) CHECK(summary["providers"][p]["reserved"] == 0);
  auto after = client.request({{"op", "usage"}, {"ai_name", "before"}});
  CHECK(after["providers"]["anthropic"]["used"] ==
        used_before.get<uint64_t>() + again["usage"]["total_tokens"].get<uint64_t>());
  CHECK(d.process().output().find("degraded") != std::string::npos);
  CHECK(readyz().first == 200);
}

namespace {

// A read transaction on the daemon's ledger from this process, held for
// the guard's lifetime. LMDB never reuses a page freed after the oldest
// reader's snapshot, so while it is held every ledger write needs pages
// past the end of the file: on a full disk every write, probes included,
// fails, and the ledger stays degraded until space returns.
class PinnedSnapshot {
 public:
  explicit PinnedSnapshot(const std::string& dir) {
    REQUIRE(mdb_env_create(&env_) == 0);
    REQUIRE(mdb_env_open(env_, dir.c_str(), MDB_RDONLY, 0640) == 0);
    REQUIRE(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn_) == 0);
  }
  ~PinnedSnapshot() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    mdb_env_close(env_);
  }
  PinnedSnapshot(const PinnedSnapshot&) = delete;
  PinnedSnapshot& operator=(const PinnedSnapshot&) = delete;

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
};

}  // namespace

TEST_CASE("a call served while the disk is full is charged what was served once space returns") {
  TempDir dir;
  const std::string mnt = dir.path() + "/mnt";
  std::filesystem::create_directory(mnt);
  TmpfsMount fs(mnt, "size=2m");
  if (!fs.ok()) {
    WARN("skipped: the full-disk test mounts a tmpfs (" << fs.why() << ")");
    return;
  }
  const std::string data = mnt + "/ledger";
  // The first Anthropic answer takes 3 s: long enough to fill the disk
  // and see the ledger degraded while the call is at the provider.
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=3000:times=1"});
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  TestClient other(ctx, d.requests());
  PinnedSnapshot pin(data);
  // Use up the pages the ledger could still reuse from before the pin.
  for (int i = 0; i < 5; ++i) {
    REQUIRE(other.request({{"op", "reset"}, {"ai_name", "warm-" + std::to_string(i)}, {"force", true}})["ok"] == true);
  }

  auto body = call_body("served", "answered while the disk fills up", 200);
  body["timeout_ms"] = 60000;
  client.send(body);
  const auto reserved = [&other] {
    auto u = other.request({{"op", "usage"}, {"ai_name", "served"}});
    return u["providers"]["anthropic"]["reserved"].get<uint64_t>();
  };
  const auto until = [](auto pred, std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
    return true;
  };
  REQUIRE(until([&] { return reserved() > 0; }, scaled(10s)));

  fill_disk(mnt + "/filler");
  int writes = 0;
  REQUIRE(until([&] {
    ++writes;
    return other.request({{"op", "reset"}, {"ai_name", "filler-" + std::to_string(writes)}, {"force", true}})["ok"] == false;
  }, scaled(10s)));

  // The provider answers: the charge cannot be written now, and is kept.
  auto reply = client.receive(scaled(30s));
  REQUIRE(reply.has_value());
  INFO(reply->dump());
  CHECK((*reply)["ok"] == false);
  CHECK((*reply)["error"]["message"].get<std::string>().find("kept and charged once the ledger recovers") !=
        std::string::npos);
  CHECK(reserved() > 0);

  std::filesystem::remove(mnt + "/filler");
  // No restart: the writer's next probe succeeds, and the kept charge is
  // applied: nothing reserved, and used is what the provider served.
  CHECK(until([&] { return reserved() == 0; }, scaled(20s)));
  auto usage = other.request({{"op", "usage"}, {"ai_name", "served"}});
  INFO(usage.dump());
  const uint64_t served_tokens = served(fake.stats(), "anthropic");
  CHECK(served_tokens > 0);
  CHECK(usage["providers"]["anthropic"]["used"] == served_tokens);
  CHECK(usage["providers"]["anthropic"]["requests"] == 1);
  auto summary = other.request({{"op", "summary"}});
  for (const std::string p : {"anthropic", "openai"}) CHECK(summary["providers"][p]["reserved"] == 0);
  CHECK(d.process().output().find("applied 1 settlements kept while the ledger was degraded") !=
        std::string::npos);
}

TEST_CASE("an idempotent repeat is answered from its record while the ledger is degraded") {
  TempDir dir;
  const std::string mnt = dir.path() + "/mnt";
  std::filesystem::create_directory(mnt);
  TmpfsMount fs(mnt, "size=2m");
  if (!fs.ok()) {
    WARN("skipped: the full-disk test mounts a tmpfs (" << fs.why() << ")");
    return;
  }
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", mnt + "/ledger"},
                                                 {"ANTHROPIC_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto keyed = call_body("before", "while there is space", 10);
  keyed["idempotency_key"] = "kept-1";
  auto first = client.request(keyed);
  REQUIRE(first["ok"] == true);

  fill_disk(mnt + "/filler");
  json refused;
  for (int i = 0; i < 20000 && refused.is_null(); ++i) {
    auto r = client.request(call_body("agent-" + std::to_string(i), "on a full disk", 10));
    if (r["ok"] == false) refused = r;
  }
  REQUIRE_FALSE(refused.is_null());
  auto degraded = client.request(call_body("before", "still full", 10));
  INFO(degraded.dump());
  REQUIRE(degraded["ok"] == false);
  REQUIRE(degraded["error"]["message"].get<std::string>().find("degraded") != std::string::npos);
  const auto served_before = fake.stats()["anthropic"]["requests"];

  auto repeat = client.request(keyed);
  INFO(repeat.dump());
  CHECK(repeat["ok"] == true);
  CHECK(repeat["replayed"] == true);
  CHECK(repeat["text"] == first["text"]);
  CHECK(fake.stats()["anthropic"]["requests"] == served_before);
}
