// The response cache shared by daemons on one PostgreSQL ledger
// (daemon/cache/shared_answer_store.h): each store with its own local
// ResponseStore in a temporary directory, all on one schema of the test
// PostgreSQL; times passed in (no clock, no sleeps).
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "daemon/cache/response_store.h"
#include "daemon/cache/shared_answer_store.h"
#include "tests/unit/ledger_test_util.h"

using tollgate::cache::CachedAnswer;
using tollgate::cache::ResponseStore;
using tollgate::cache::SharedAnswerStore;
using tollgate::cache::SharedStoreOptions;
using tollgate::cache::StoreOptions;
using namespace tollgate::ledger::testing;

namespace {

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kTtl = 60'000;

// One daemon's store: a local ResponseStore in its own directory in front
// of the schema's shared table.
struct Daemon {
  TempDir dir;
  std::unique_ptr<SharedAnswerStore> store;
  Daemon(const PgSchema& schema, uint64_t max_bytes = 1 << 20) {
    auto local = ResponseStore::open(StoreOptions{dir.path, 1 << 20});
    REQUIRE(local);
    SharedStoreOptions o;
    o.uri = schema.uri;
    o.schema = schema.name;
    o.max_bytes = max_bytes;
    auto opened = SharedAnswerStore::open(o, std::move(local).value());
    INFO((opened ? std::string() : opened.error().message));
    REQUIRE(opened);
    store = std::move(opened).value();
  }
};

CachedAnswer answer(const std::string& text, int64_t at_ms) {
  return CachedAnswer{"reply:" + text, "anthropic", "claude", 42, at_ms};
}

// A schema of its own, created (the ledger creates it in a daemon).
struct Schema : PgSchema {
  Schema() {
    tollgate::ledger::pg::PgConn::connect(uri, 10000)->exec("CREATE SCHEMA " + name);
  }
};

}  // namespace

TEST_CASE("an answer stored through one daemon's shared store is a hit through another until its ttl") {
  Schema schema;
  Daemon first(schema), second(schema), third(schema);
  REQUIRE(first.store->put("k1", answer("one", kT0), kTtl));
  auto hit = second.store->get("k1", kT0 + 1000, kTtl);
  REQUIRE(hit.has_value());
  CHECK(*hit == answer("one", kT0));
  CHECK(second.store->stats().entries == 1);  // kept in its own store too
  CHECK_FALSE(third.store->get("k1", kT0 + kTtl, kTtl).has_value());  // expired everywhere
  CHECK_FALSE(third.store->get("nope", kT0, kTtl).has_value());
}

TEST_CASE("the shared table keeps the newest answers within max bytes") {
  Schema schema;
  const uint64_t one = ResponseStore::entry_bytes("k00", answer("x", kT0));
  Daemon writer(schema, 4 * one);
  // Enough puts for one trim (every kTrimEvery-th put).
  for (uint64_t i = 0; i < SharedAnswerStore::kTrimEvery; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%02u", static_cast<unsigned>(i));
    REQUIRE(writer.store->put(key, answer("x", kT0 + static_cast<int64_t>(i)), kTtl));
  }
  Daemon reader(schema);
  char newest[8];
  std::snprintf(newest, sizeof newest, "k%02u", static_cast<unsigned>(SharedAnswerStore::kTrimEvery - 1));
  CHECK(reader.store->get(newest, kT0 + 100, kTtl).has_value());
  CHECK_FALSE(reader.store->get("k00", kT0 + 100, kTtl).has_value());
  int kept = 0;
  for (uint64_t i = 0; i < SharedAnswerStore::kTrimEvery; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%02u", static_cast<unsigned>(i));
    if (Daemon(schema).store->get(key, kT0 + 100, kTtl)) ++kept;
  }
  CHECK(kept >= 3);  // about 4 entries' bytes, counted a little differently
  CHECK(kept <= 5);
}

TEST_CASE("a shared store that cannot reach its database says so at open") {
  TempDir dir;
  auto local = ResponseStore::open(StoreOptions{dir.path, 1 << 20});
  REQUIRE(local);
  SharedStoreOptions o;
  o.uri = "postgresql://tollgate:secret@127.0.0.1:1/nowhere";
  auto opened = SharedAnswerStore::open(o, std::move(local).value());
  REQUIRE_FALSE(opened);
  CHECK_THAT(opened.error().message, Catch::Contains("response cache"));
  CHECK_THAT(opened.error().message, !Catch::Contains("secret"));
}
