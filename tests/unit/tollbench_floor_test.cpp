// tollbench floor: each measurement runs on real files, eventfds and ZeroMQ
// sockets and says what it measured; bad options are refused by name.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tools/tollbench/floor_bench.h"

using tollgate::tollbench::FloorBenchOptions;
using tollgate::tollbench::run_floor_bench;

namespace {

// A fresh directory under the system's temporary directory, removed after.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tollbench-floor-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

FloorBenchOptions small(const std::string& what) {
  FloorBenchOptions o;
  o.what = what;
  o.rounds = 40;
  return o;
}

}  // namespace

TEST_CASE("floor flush writes and syncs records in the given directory and removes its file") {
  ScratchDir dir;
  FloorBenchOptions o = small("flush");
  o.dir = dir.path;
  auto r = run_floor_bench(o);
  REQUIRE(r.ok());
  CHECK(r->rfind("floor flush: ", 0) == 0);
  CHECK(r->find("per durable record (40 records") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("floor flush names a directory it cannot write") {
  FloorBenchOptions o = small("flush");
  o.dir = "/nonexistent/floor";
  auto r = run_floor_bench(o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("/nonexistent/floor") != std::string::npos);
}

TEST_CASE("floor wake measures both a wake-up on the same CPU and one across CPUs") {
  auto r = run_floor_bench(small("wake"));
  REQUIRE(r.ok());
  CHECK(r->find("with the other thread on the same CPU") != std::string::npos);
  CHECK(r->find("(this CPU idle while it sleeps; 40 rounds)") != std::string::npos);
}

TEST_CASE("floor zmq echoes every message of a client in another process") {
  FloorBenchOptions o = small("zmq");
  o.inflight = 8;
  auto r = run_floor_bench(o);
  REQUIRE(r.ok());
  CHECK(r->find("per round trip through a ROUTER echo (40 round trips, 8 in flight)") != std::string::npos);
}

TEST_CASE("floor refuses no rounds an unknown measurement and a CPU that does not exist") {
  FloorBenchOptions o = small("flush");
  o.rounds = 0;
  CHECK(run_floor_bench(o).error().message.find("--rounds") != std::string::npos);
  CHECK(run_floor_bench(small("nap")).error().message.find("'nap'") != std::string::npos);
  o = small("wake");
  o.cpu = 4095;
  CHECK(run_floor_bench(o).error().message.find("CPU 4095") != std::string::npos);
}
