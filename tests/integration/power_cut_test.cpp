// Power cut: what an fsync protects. A SIGKILL (crash_test.cpp) leaves the
// kernel's page cache intact, so it never shows what was lost by not
// syncing. Here tollgated's data directory is on cutfs (tools/cutfs), a
// FUSE filesystem that keeps every byte not yet fsync'd in memory and drops
// it on command; the test kills tollgated under load, cuts, unmounts (so
// no page cache hides the loss), mounts again and restarts tollgated on
// the bytes that survived. Then: the ledger opens, no replied call is
// lost, nothing the provider served is undercounted, nothing stays
// reserved, and reservations in flight came back as a `recovered` event.
// On a disk that lies about fsync (cutfs --lie) the same check must see
// the loss, or it proves nothing.
//
// Needs /dev/fuse and fusermount3; without them (or where mounting is not
// permitted) each test warns, naming what is missing, and passes.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/load_clients.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

constexpr int kClients = 6;
constexpr int kAgents = 3;
constexpr int kCuts = 3;
const std::vector<std::string> kProviders = {"anthropic", "openai"};

std::string find_in_path(const std::string& name) {
  std::stringstream path(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin");
  for (std::string dir; std::getline(path, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// What is missing for a FUSE mount, or nullopt when nothing is.
std::optional<std::string> fuse_missing() {
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    return std::string("/dev/fuse is not usable: ") + std::strerror(errno);
  }
  if (find_in_path("fusermount3").empty()) return "fusermount3 is not in PATH (Debian: fuse3)";
  return std::nullopt;
}

// One power period of cutfs: mounts BACKING on MOUNTPOINT, and cut() +
// unmount() end it. The destructor unmounts (lazily) whatever is left, so
// a failed test leaves no mount behind.
class CutfsMount {
 public:
  CutfsMount(const std::string& backing, const std::string& mountpoint, bool lie = false)
      : mountpoint_(mountpoint) {
    std::vector<std::string> args = {backing, mountpoint};
    if (lie) args.insert(args.begin(), "--lie");
    cutfs_ = std::make_unique<ChildProcess>(bin_dir() + "/cutfs", args, Env{});
    mounted_ = cutfs_->wait_for_line("cutfs: mounted", scaled(10s)).has_value();
  }
  ~CutfsMount() {
    if (!mounted_) return;
    ChildProcess lazy(find_in_path("fusermount3"), {"-u", "-z", mountpoint_}, Env{});
    lazy.wait_exit(scaled(10s));
  }
  CutfsMount(const CutfsMount&) = delete;
  CutfsMount& operator=(const CutfsMount&) = delete;

  bool mounted() const { return mounted_; }
  // Why it did not mount: libfuse's and fusermount3's own words.
  std::string output() const { return cutfs_->output(); }
  // The power cut; returns cutfs's "cut dropped N bytes in M files" line.
  std::string cut() {
    cutfs_->signal(SIGUSR1);
    auto line = cutfs_->wait_for_line("cutfs: cut dropped", scaled(10s));
    REQUIRE(line.has_value());
    return *line;
  }
  void unmount() {
    ChildProcess fusermount(find_in_path("fusermount3"), {"-u", mountpoint_}, Env{});
    const auto status = fusermount.wait_exit(scaled(10s));
    INFO("fusermount3 -u: " << fusermount.output());
    REQUIRE(status == 0);
    REQUIRE(cutfs_->wait_exit(scaled(10s)) == 0);
    check_no_sanitizer_report("cutfs", cutfs_->output());
    mounted_ = false;
  }

 private:
  std::string mountpoint_;
  std::unique_ptr<ChildProcess> cutfs_;
  bool mounted_ = false;
};

// True when the test should stop here: FUSE is missing, or the mount was
// refused by the system (libfuse and fusermount3 say so in their words; a
// cutfs that fails for any other reason fails the test).
bool skip_without_fuse(const CutfsMount* mount) {
  if (mount == nullptr) {
    auto missing = fuse_missing();
    if (missing) WARN("power-cut test skipped: " << *missing);
    return missing.has_value();
  }
  if (mount->mounted()) return false;
  const std::string out = mount->output();
  INFO(out);
  REQUIRE((out.find("fuse: ") != std::string::npos || out.find("fusermount3: ") != std::string::npos));
  WARN("power-cut test skipped: cannot mount a FUSE filesystem here:\n" << out);
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// write(2) of `data` at `offset` to `path` (created if missing), then
// fsync(2) when `sync`; the errno of the first failure, 0 on success.
int write_file(const std::string& path, const std::string& data, off_t offset, bool sync, int flags = 0) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0640);
  if (fd < 0) return errno;
  int err = pwrite(fd, data.data(), data.size(), offset) == static_cast<ssize_t>(data.size()) ? 0 : errno;
  if (err == 0 && sync && fsync(fd) != 0) err = errno;
  close(fd);
  return err;
}

// Reads `path` through a shared mmap, as LMDB reads its data file.
std::string read_mapped(const std::string& path, size_t size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  REQUIRE(map != MAP_FAILED);
  std::string bytes(static_cast<const char*>(map), size);
  munmap(map, size);
  return bytes;
}

uint64_t reserved_now(TestClient& client) {
  auto summary = client.request({{"op", "summary"}});
  uint64_t reserved = 0;
  for (const auto& p : kProviders) reserved += summary["providers"][p]["reserved"].get<uint64_t>();
  return reserved;
}

// When the power goes, relative to the calls.
enum class CutMoment {
  kAtReply,   // as a reply arrives: between the ledger's batches, or in one
  kInFlight,  // once a reservation is visible (so durable) and unanswered
};

// Calls from kClients clients until `more` further ok replies came (and,
// for kInFlight, a reservation is held), then the power goes: tollgated is
// killed, and cutfs drops what it did not sync. Returns cutfs's account of
// what was dropped.
std::string load_then_cut(zmq::context_t& ctx, TollgatedProcess& d, CutfsMount& mount, ReplyTally& replies,
                          uint64_t more, CutMoment moment) {
  const uint64_t target = replies.ok + more;
  std::atomic<bool> stop{false};
  bool held = moment != CutMoment::kInFlight;
  {
    std::vector<std::jthread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        call_until_stopped(ctx, d.requests(), "agent" + std::to_string(c % kAgents), "power cut", stop,
                           replies);
      });
    }
    const bool reached = replies.wait_for_ok(target, scaled(30s));
    if (reached && moment == CutMoment::kInFlight) {
      // The clients call in step (one ledger batch each way), so a cut
      // right at a reply finds no reservation: wait for one.
      TestClient probe(ctx, d.requests());
      const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
      while (!held && std::chrono::steady_clock::now() < deadline) held = reserved_now(probe) > 0;
    }
    // Killed first, so every reply a client holds was sent before the cut;
    // the cut then keeps exactly what was synced when the process died.
    d.process().signal(SIGKILL);
    stop = true;
    REQUIRE(reached);
    REQUIRE(held);
  }
  REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
  return mount.cut();
}

// Agent/provider pairs whose ledger usage is below what replies reported:
// replied calls the ledger lost.
std::vector<std::string> undercounts(TestClient& client, ReplyTally& replies) {
  std::lock_guard lock(replies.mu);
  std::vector<std::string> lost;
  for (const auto& [key, tokens] : replies.tokens) {
    auto usage = client.request({{"op", "usage"}, {"ai_name", key.first}});
    const uint64_t used = usage["providers"][key.second]["used"].get<uint64_t>();
    if (used < tokens) {
      lost.push_back(key.first + "/" + key.second + " used " + std::to_string(used) + " < replied " +
                     std::to_string(tokens));
    }
  }
  return lost;
}

size_t recovered_events(TestClient& client) {
  auto events = client.request({{"op", "ledger_events"}, {"limit", 10000}})["events"];
  return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                           [](const json& e) { return e["kind"] == "recovered"; }));
}

// After a restart on what survived a cut: nothing reserved, nothing served
// uncharged, no replied call lost.
void check_settled(TestClient& client, const FakeProviderProcess& fake, ReplyTally& replies) {
  auto summary = client.request({{"op", "summary"}});
  auto stats = fake.stats();
  INFO(summary.dump());
  INFO(stats.dump());
  for (const auto& p : kProviders) {
    CHECK(summary["providers"][p]["reserved"] == 0);
    CHECK(summary["providers"][p]["used"].get<uint64_t>() >= served(stats, p));
  }
  for (const auto& agent : summary["agents"]) {
    auto usage = client.request({{"op", "usage"}, {"ai_name", agent["ai_name"]}});
    for (const auto& p : kProviders) CHECK(usage["providers"][p]["reserved"] == 0);
  }
  auto lost = undercounts(client, replies);
  for (const auto& l : lost) UNSCOPED_INFO(l);
  CHECK(lost.empty());
}

Env daemon_env(const FakeProviderProcess& fake, const std::string& mountpoint) {
  return merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", mountpoint + "/ledger"},
                                     {"ANTHROPIC_MONTHLY_LIMIT", "100000000"},
                                     {"OPENAI_MONTHLY_LIMIT", "100000000"},
                                     {"ANTHROPIC_RPM", "0"},
                                     {"OPENAI_RPM", "0"},
                                     {"ANTHROPIC_RPD", "0"},
                                     {"OPENAI_RPD", "0"}});
}

}  // namespace

TEST_CASE("cutfs keeps what was fsynced and drops the rest at a power cut") {
  if (skip_without_fuse(nullptr)) return;
  TempDir backing;
  TempDir mountpoint;
  const std::string b = backing.path();
  const std::string m = mountpoint.path();
  {
    CutfsMount mount(b, m);
    if (skip_without_fuse(&mount)) return;
    REQUIRE(write_file(m + "/lost", "never synced", 0, false) == 0);
    REQUIRE(write_file(m + "/kept", "synced bytes", 0, true) == 0);
    REQUIRE(write_file(m + "/patched", "0123456789", 0, true) == 0);
    REQUIRE(write_file(m + "/patched", "ab", 3, false) == 0);
    REQUIRE(write_file(m + "/dsync", "meta page", 0, false, O_DSYNC) == 0);
    // The mount shows every write, to read(2) and to mmap alike...
    CHECK(read_file(m + "/lost") == "never synced");
    CHECK(read_file(m + "/patched") == "012ab56789");
    CHECK(read_mapped(m + "/patched", 10) == "012ab56789");
    // ...while the disk holds only what was synced.
    CHECK(read_file(b + "/lost").empty());
    CHECK(read_file(b + "/patched") == "0123456789");
    CHECK(mount.cut().find("dropped 14 bytes in 2 files") != std::string::npos);
    // The power is off: nothing more is written.
    CHECK(write_file(m + "/after", "late", 0, true) == EIO);
    mount.unmount();
  }
  CutfsMount again(b, m);
  REQUIRE(again.mounted());
  CHECK(read_file(m + "/lost").empty());
  CHECK(read_file(m + "/kept") == "synced bytes");
  CHECK(read_mapped(m + "/kept", 12) == "synced bytes");
  CHECK(read_file(m + "/patched") == "0123456789");
  CHECK(read_file(m + "/dsync") == "meta page");
  CHECK(!std::filesystem::exists(m + "/after"));
  again.unmount();
}

TEST_CASE("power cuts under load lose no replied call and leave nothing reserved") {
  if (skip_without_fuse(nullptr)) return;
  // The provider holds each call a while, so cuts land with calls in flight.
  FakeProviderProcess fake({"--fault", "*:delay_ms=40"});
  TempDir backing;
  TempDir mountpoint;
  const Env env = daemon_env(fake, mountpoint.path());
  zmq::context_t ctx;
  ReplyTally replies;
  std::mt19937 rng(Catch::rngSeed());
  std::uniform_int_distribution<uint64_t> more(5, 60);
  size_t recovered = 0;
  CutMoment last = CutMoment::kAtReply;
  for (int power = 0; power <= kCuts; ++power) {
    INFO("power period " << power);
    CutfsMount mount(backing.path(), mountpoint.path());
    if (skip_without_fuse(&mount)) return;
    TollgatedProcess d(env);  // the ledger opens on what survived
    TestClient client(ctx, d.requests());
    if (power > 0) {
      check_settled(client, fake, replies);
      // A reservation held at the cut comes back charged, with its event.
      const bool recovering = d.process().output().find("recovered") != std::string::npos;
      if (last == CutMoment::kInFlight) CHECK(recovering);
      const size_t now = recovered_events(client);
      CHECK(now == recovered + (recovering ? 1 : 0));
      recovered = now;
    }
    if (power == kCuts) {
      d.process().signal(SIGKILL);
      REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
    } else {
      last = power % 2 == 0 ? CutMoment::kInFlight : CutMoment::kAtReply;
      UNSCOPED_INFO(load_then_cut(ctx, d, mount, replies, more(rng), last));
    }
    mount.unmount();
  }
}

TEST_CASE("on a disk that lies about fsync the same checks see replied calls lost") {
  if (skip_without_fuse(nullptr)) return;
  FakeProviderProcess fake;
  TempDir backing;
  TempDir mountpoint;
  const Env env = daemon_env(fake, mountpoint.path());
  zmq::context_t ctx;
  ReplyTally replies;
  {
    CutfsMount liar(backing.path(), mountpoint.path(), true);
    if (skip_without_fuse(&liar)) return;
    TollgatedProcess d(env);
    load_then_cut(ctx, d, liar, replies, 20, CutMoment::kAtReply);
    liar.unmount();
  }
  CutfsMount mount(backing.path(), mountpoint.path());
  REQUIRE(mount.mounted());
  TollgatedProcess d(env);
  TestClient client(ctx, d.requests());
  CHECK(!undercounts(client, replies).empty());
  d.process().signal(SIGKILL);
  REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
  mount.unmount();
}
