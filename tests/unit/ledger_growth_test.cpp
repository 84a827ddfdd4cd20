// A tiny initial map fills and grows by itself with nothing lost; a map
// another process grew is adopted.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

TEST_CASE("a tiny map grows when full and keeps every write") {
  TempDir dir;
  LmdbLedgerOptions o;
  o.dir = dir.path;
  o.initial_map_bytes = 64 * 1024;
  auto opened = open_ledger(o, fixed_policy({"anthropic"}, 1u << 30, std::nullopt));
  auto& l = *opened;
  const size_t initial = l.map_size();
  const std::string reply(2000, 'r');
  constexpr int kAgents = 300;
  // Many agents (usage rows), idempotency replies and leftover reservations.
  for (int i = 0; i < kAgents; ++i) {
    const std::string agent = "agent-" + std::to_string(i);
    auto r = l.reserve(agent, "anthropic", 100, "x", kNov15);
    REQUIRE(r.ok());
    REQUIRE(l.commit(r->reservation_id, 60, 40, 0, kNov15).ok());
    REQUIRE(l.idempotency_put(agent, "key", reply, kNov15 + 1000).ok());
    REQUIRE(l.reserve(agent, "anthropic", 7, "open", kNov15).ok());
  }
  CHECK(l.map_size() > initial);
  CHECK(l.agents("2024-11")->size() == kAgents);
  const auto g = l.global_usage("2024-11").value().at("anthropic");
  CHECK(g.used == 100u * kAgents);
  CHECK(g.reserved == 7u * kAgents);
  CHECK(l.idempotency_get("agent-299", "key", kNov15)->value() == reply);
  CHECK_FALSE(l.degraded());
}

namespace {

// Another process with the same ledger open: on each byte from the test it
// writes about 3 MiB more (so its map grows well past the test's), then
// answers one byte ('d' done, anything else failed). Forked before the test
// opens anything, so it shares no LMDB state with it. Never returns.
[[noreturn]] void run_growing_process(const std::string& dir, int go_fd, int done_fd) {
  LmdbLedgerOptions o;
  o.dir = dir;
  o.initial_map_bytes = 256 * 1024;
  o.recover_on_open = false;  // the test's reservations are not leftovers
  char c = 0;
  if (read(go_fd, &c, 1) != 1) _exit(3);
  auto other = LmdbLedger::open(o, fixed_policy({"anthropic"}, 1u << 30, std::nullopt), kNov15);
  if (!other.ok()) _exit(4);
  const std::string reply(8000, 'o');
  for (int round = 0;; ++round) {
    char answer = 'd';
    for (int i = 0; i < 384; ++i) {
      // (Built by appending: g++ 12 warns falsely about "r" + std::string.)
      std::string key = std::to_string(round);
      key.insert(key.begin(), 'r');
      key += '-';
      key += std::to_string(i);
      if (!other.value()->idempotency_put("other", key, reply, kNov15 + 1000).ok()) answer = 'f';
    }
    if (write(done_fd, &answer, 1) != 1) _exit(5);
    if (read(go_fd, &c, 1) != 1) _exit(0);  // the test closed the pipe: done
  }
}

}  // namespace

TEST_CASE("a map grown by another process is adopted by the next write and the next read") {
  TempDir dir;
  int go[2], done[2];
  REQUIRE(pipe(go) == 0);
  REQUIRE(pipe(done) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(go[1]);
    close(done[0]);
    run_growing_process(dir.path, go[0], done[1]);
  }
  close(go[0]);
  close(done[1]);
  auto grow_elsewhere = [&] {
    char c = 0;
    REQUIRE(write(go[1], "g", 1) == 1);
    REQUIRE(read(done[0], &c, 1) == 1);
    REQUIRE(c == 'd');
  };

  LmdbLedgerOptions o;
  o.dir = dir.path;
  o.initial_map_bytes = 256 * 1024;
  // The redo log's checkpoints hold pages back from reuse, in the other
  // process too, which changes how far each of its rounds grows the map;
  // adopting a grown map is the same with or without it.
  o.redo_log = false;
  auto opened = open_ledger(o, fixed_policy({"anthropic"}, 1u << 30, std::nullopt));
  auto& l = *opened;
  REQUIRE(l.reserve("mine", "anthropic", 100, "before", kNov15)->reserved());
  const size_t first_size = l.map_size();

  grow_elsewhere();
  auto r = l.reserve("mine", "anthropic", 100, "after", kNov15);
  INFO((r.ok() ? std::string("write ok") : r.error().message));
  REQUIRE(r.ok());
  CHECK(r->reserved());
  CHECK_FALSE(l.degraded());
  CHECK(l.map_size() > first_size);
  const size_t second_size = l.map_size();

  grow_elsewhere();
  auto stored = l.idempotency_get("other", "r1-383", kNov15);
  INFO((stored.ok() ? std::string("read ok") : stored.error().message));
  REQUIRE(stored.ok());
  CHECK(stored->has_value());
  CHECK(l.map_size() > second_size);
  CHECK(l.usage("mine", "2024-11").value()["anthropic"].reserved == 200);

  close(go[1]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  close(done[0]);
}

TEST_CASE("a map growth completes within a bound while readers keep the map busy") {
  TempDir dir;
  // A relay of readers: each stays inside its read transaction until
  // another reader is inside too (or 50 ms passed), so with a lock that
  // prefers readers some reader always holds the map and a growth never
  // gets it. A lock that stops new readers while a growth waits lets the
  // last one leave after at most 50 ms.
  std::mutex relay_mu;
  std::condition_variable relay_cv;
  int inside = 0;
  int handoffs = 0;  // a reader left with another one inside
  std::atomic<bool> stop{false};
  LmdbLedgerOptions o;
  o.dir = dir.path;
  o.initial_map_bytes = 64 * 1024;
  o.inside_read = [&] {
    std::unique_lock lock(relay_mu);
    ++inside;
    relay_cv.notify_all();
    relay_cv.wait_for(lock, std::chrono::milliseconds(50),
                      [&] { return stop.load() || inside >= 2; });
    if (inside >= 2) ++handoffs;
    --inside;
    relay_cv.notify_all();
  };
  auto opened = open_ledger(o, fixed_policy({"anthropic"}, 1u << 30, std::nullopt));
  auto& l = *opened;
  const size_t initial = l.map_size();
  std::vector<std::jthread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) (void)l.usage("reader", "2024-11");
    });
  }
  {
    // The relay runs before the first write.
    std::unique_lock lock(relay_mu);
    relay_cv.wait(lock, [&] { return handoffs >= 20; });
  }

  // About 512 KiB of idempotency records: the 64 KiB map must double
  // several times while the readers run.
  constexpr int kWrites = 128;
  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0;
  int failed = 0;
  const std::string reply(4000, 'r');
  for (int i = 0; i < kWrites; ++i) {
    l.idempotency_put_async("agent", "key-" + std::to_string(i), reply, kNov15 + 1000,
                            [&](Result<bool> r) {
                              std::lock_guard lock(done_mu);
                              ++done;
                              if (!r.ok()) ++failed;
                              done_cv.notify_all();
                            });
  }
  bool in_time = false;
  {
    std::unique_lock lock(done_mu);
    in_time = done_cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == kWrites; });
  }
  stop = true;
  relay_cv.notify_all();
  readers.clear();  // joins
  {
    std::unique_lock lock(done_mu);
    done_cv.wait(lock, [&] { return done == kWrites; });
  }
  CHECK(in_time);
  CHECK(failed == 0);
  CHECK(l.map_size() > initial);
  CHECK_FALSE(l.degraded());
  CHECK(l.idempotency_get("agent", "key-127", kNov15).value() == reply);
}

TEST_CASE("a growth that readers hold off past grow_wait fails its batch and degrades the ledger with the reason") {
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false;
  bool let_go = false;
  LmdbLedgerOptions o;
  o.dir = dir.path;
  o.initial_map_bytes = 64 * 1024;
  o.grow_wait = std::chrono::milliseconds(100);
  o.probe_interval = std::chrono::hours(1);
  o.inside_read = [&] {
    std::unique_lock lock(mu);
    holding = true;
    cv.notify_all();
    cv.wait(lock, [&] { return let_go; });
  };
  auto opened = open_ledger(o, fixed_policy({"anthropic"}, 1u << 30, std::nullopt));
  auto& l = *opened;
  // One read transaction stays open until the test lets it go.
  std::jthread reader([&] { (void)l.usage("reader", "2024-11"); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return holding; });
  }
  std::vector<std::future<Result<bool>>> writes;
  const std::string reply(4000, 'r');
  for (int i = 0; i < 64; ++i) {
    auto promise = std::make_shared<std::promise<Result<bool>>>();
    writes.push_back(promise->get_future());
    l.idempotency_put_async("agent", "key-" + std::to_string(i), reply, kNov15 + 1000,
                            [promise](Result<bool> r) { promise->set_value(std::move(r)); });
  }
  // Bounded: the growth gives up after grow_wait, the reader still inside.
  const bool answered_in_time =
      writes.back().wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  {
    std::lock_guard lock(mu);
    let_go = true;
  }
  cv.notify_all();
  reader.join();
  int refused = 0;
  for (auto& w : writes) refused += w.get().ok() ? 0 : 1;
  CHECK(answered_in_time);
  CHECK(refused > 0);
  CHECK(l.degraded());
  CHECK_THAT(l.health().reason, Catch::Contains("could not grow") && Catch::Contains("100 ms"));
  // Once the reader is gone, a probe clears it and the map grows again.
  REQUIRE(l.probe().ok());
  CHECK(l.idempotency_put("agent", "late", reply, kNov15 + 1000).ok());
}
