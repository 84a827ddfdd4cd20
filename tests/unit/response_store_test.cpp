// The response cache's store (daemon/cache/response_store.h) on real LMDB
// files in a temporary directory, with times passed in (no clock, no
// sleeps): TTL, eviction order and size accounting, reopening, and entries
// that do not read.
#include <catch2/catch.hpp>
#include <lmdb.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "daemon/cache/response_store.h"

using tollgate::cache::CachedAnswer;
using tollgate::cache::ResponseStore;
using tollgate::cache::StoreOptions;

namespace {

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kTtl = 60'000;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tollgate-cache-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::unique_ptr<ResponseStore> open_store(const std::string& dir, uint64_t max_bytes = 1 << 20) {
  auto store = ResponseStore::open(StoreOptions{dir, max_bytes});
  REQUIRE(store);
  return std::move(store).value();
}

// A 32-byte key like the daemon's (a SHA-256).
std::string key_of(int n) {
  std::string k(32, 'k');
  k.replace(0, std::to_string(n).size(), std::to_string(n));
  return k;
}

CachedAnswer answer(int64_t created_ms, size_t reply_bytes = 100) {
  return CachedAnswer{std::string(reply_bytes, 'r'), "anthropic", "claude-sonnet-4-5", 42,
                      created_ms};
}

// Overwrites the stored value of `key` with `value`, as damage would.
void write_raw(const std::string& dir, const std::string& key, const std::string& value) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 4);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn, "entries", 0, &dbi) == 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

}  // namespace

TEST_CASE("a stored answer is read back until its TTL has passed") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store->put(key_of(1), answer(kT0), kTtl));
  auto hit = store->get(key_of(1), kT0 + kTtl - 1, kTtl);
  REQUIRE(hit);
  CHECK(*hit == answer(kT0));
  CHECK_FALSE(store->get(key_of(1), kT0 + kTtl, kTtl));
  CHECK_FALSE(store->get(key_of(2), kT0, kTtl));
  // The TTL is the reader's: a shorter one judges the same entry expired.
  CHECK_FALSE(store->get(key_of(1), kT0 + 1000, 1000));
}

TEST_CASE("a put removes the entries expired by its time") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store->put(key_of(1), answer(kT0), kTtl));
  REQUIRE(store->put(key_of(2), answer(kT0 + 10), kTtl));
  CHECK(store->stats().entries == 2);
  REQUIRE(store->put(key_of(3), answer(kT0 + kTtl + 5), kTtl));
  CHECK(store->stats().entries == 2);
  CHECK(store->stats().expired == 1);
  CHECK(store->stats().evicted == 0);
  CHECK(store->get(key_of(2), kT0 + kTtl + 5, kTtl));
  // An expired entry replaced under its own key counts as expired too.
  REQUIRE(store->put(key_of(2), answer(kT0 + 2 * kTtl), kTtl));
  CHECK(store->stats().expired == 2);  // key 1, and key 2 as it was
  CHECK(store->stats().entries == 2);
}

TEST_CASE("stored bytes stay under the cap and the oldest entries are evicted first") {
  TempDir dir;
  const uint64_t cap = 64 * 1024;
  auto store = open_store(dir.path, cap);
  const uint64_t one = ResponseStore::entry_bytes(key_of(0), answer(kT0, 1000));
  const int fits = static_cast<int>(cap / one);
  for (int i = 0; i < 200; ++i) {
    REQUIRE(store->put(key_of(i), answer(kT0 + i, 1000), kTtl));
    CHECK(store->stats().bytes <= cap);
  }
  const auto stats = store->stats();
  CHECK(stats.entries == static_cast<uint64_t>(fits));
  CHECK(stats.bytes == stats.entries * one);
  CHECK(stats.evicted == static_cast<uint64_t>(200 - fits));
  // The newest `fits` remain; everything before them is gone.
  const int64_t now = kT0 + 200;
  for (int i = 0; i < 200; ++i) {
    INFO(i);
    CHECK(store->get(key_of(i), now, kTtl).has_value() == (i >= 200 - fits));
  }
}

TEST_CASE("replacing an entry counts its bytes once and moves it to the newest end") {
  TempDir dir;
  const uint64_t one = ResponseStore::entry_bytes(key_of(0), answer(kT0, 1000));
  auto store = open_store(dir.path, one * 8);
  REQUIRE(store->put(key_of(1), answer(kT0, 1000), kTtl));
  REQUIRE(store->put(key_of(2), answer(kT0 + 1, 1000), kTtl));
  REQUIRE(store->put(key_of(1), answer(kT0 + 2, 1000), kTtl));
  CHECK(store->stats().entries == 2);
  CHECK(store->stats().bytes == 2 * one);
  // Seven more make nine: one must go, and key 2 is now the oldest.
  for (int i = 3; i <= 9; ++i) REQUIRE(store->put(key_of(i), answer(kT0 + i, 1000), kTtl));
  CHECK_FALSE(store->get(key_of(2), kT0 + 10, kTtl));
  CHECK(store->get(key_of(1), kT0 + 10, kTtl));
  CHECK(store->stats().bytes == 8 * one);
  CHECK(store->stats().evicted == 1);
}

TEST_CASE("an answer over an eighth of the cap is not stored") {
  TempDir dir;
  auto store = open_store(dir.path, 80 * 1024);
  CHECK_FALSE(store->put(key_of(1), answer(kT0, 20 * 1024), kTtl));
  CHECK(store->stats().entries == 0);
  CHECK(store->put(key_of(1), answer(kT0, 5 * 1024), kTtl));
}

TEST_CASE("a store closed cleanly keeps its entries when reopened") {
  TempDir dir;
  {
    auto store = open_store(dir.path);
    REQUIRE(store->put(key_of(1), answer(kT0), kTtl));
    REQUIRE(store->put(key_of(2), answer(kT0 + 1), kTtl));
  }
  auto store = open_store(dir.path);
  CHECK(store->stats().entries == 2);
  CHECK(store->stats().bytes == 2 * ResponseStore::entry_bytes(key_of(1), answer(kT0)));
  auto hit = store->get(key_of(2), kT0 + 2, kTtl);
  REQUIRE(hit);
  CHECK(*hit == answer(kT0 + 1));
}

TEST_CASE("a store not closed cleanly starts empty") {
  TempDir dir;
  {
    auto store = open_store(dir.path);
    REQUIRE(store->put(key_of(1), answer(kT0), kTtl));
  }
  // As after a crash: the marker written at a clean close is missing.
  REQUIRE(std::filesystem::remove(std::filesystem::path(dir.path) / "clean"));
  auto store = open_store(dir.path);
  CHECK(store->stats().entries == 0);
  CHECK(store->stats().bytes == 0);
  CHECK_FALSE(store->get(key_of(1), kT0 + 1, kTtl));
}

TEST_CASE("an entry that does not read is a miss and is replaced by the next put") {
  TempDir dir;
  {
    auto store = open_store(dir.path);
    REQUIRE(store->put(key_of(1), answer(kT0), kTtl));
    REQUIRE(store->put(key_of(2), answer(kT0), kTtl));
  }
  std::string not_msgpack(8, '\0');  // built in two steps: g++ 12 reports a false
  not_msgpack += "\xc1 not msgpack";   // -Warray-bounds on string(n, c) + "..."
  write_raw(dir.path, key_of(1), not_msgpack);
  write_raw(dir.path, key_of(2), "short");
  auto store = open_store(dir.path);
  CHECK_FALSE(store->get(key_of(1), kT0 + 1, kTtl));
  CHECK_FALSE(store->get(key_of(2), kT0 + 1, kTtl));
  REQUIRE(store->put(key_of(1), answer(kT0 + 2), kTtl));
  CHECK(store->get(key_of(1), kT0 + 3, kTtl));
}
