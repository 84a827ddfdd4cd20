// PrivatePostgres: a PostgreSQL server of one test's own
// (tools/pg-test-server.sh in a temporary directory), for tests that stop
// or pause it, or need a database no other test writes to.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/integration/tollgated_process.h"

namespace tollgate::testing {

// Started, paused, resumed, stopped.
class PrivatePostgres {
 public:
  PrivatePostgres() {
    REQUIRE(run("start") == 0);
    uri_ = read_uri();
  }
  ~PrivatePostgres() {
    if (run("stop") != 0) WARN("pg-test-server.sh stop failed");
  }
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;
  const std::string& uri() const { return uri_; }
  void pause() { REQUIRE(run("pause") == 0); }
  void resume() { REQUIRE(run("resume") == 0); }

 private:
  int run(const std::string& action) const {
    const std::string cmd = std::string(TOLLGATE_SOURCE_DIR) + "/tools/pg-test-server.sh " +
                            action + " " + state_.path() + " >/dev/null";
    return std::system(cmd.c_str());
  }
  std::string read_uri() const {
    FILE* f = std::fopen((state_.path() + "/uri").c_str(), "r");
    REQUIRE(f != nullptr);
    char line[256] = {};
    const bool read = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    REQUIRE(read);
    std::string uri(line);
    while (!uri.empty() && uri.back() == '\n') uri.pop_back();
    return uri;
  }
  TempDir state_;
  std::string uri_;
};

}  // namespace tollgate::testing
