// DataDirLock: one tollgated per data directory. The second taker is
// refused with the holder's pid, inside one process (flock belongs to the
// open file description) and across processes; the kernel frees the lock
// when its holder dies, whatever the lock file still says.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "daemon/ledger/lmdb/data_dir_lock.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A forked child that holds the lock on dir until it is killed.
struct LockingChild {
  pid_t pid = -1;
  int ready_fd = -1;  // the child writes one byte: 'L' locked, 'F' failed

  explicit LockingChild(const std::string& dir) {
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(ready[0]);
      auto lock = DataDirLock::acquire(dir);
      const char c = lock.ok() ? 'L' : 'F';
      if (write(ready[1], &c, 1) != 1) _exit(3);
      for (;;) pause();  // until SIGKILL
    }
    close(ready[1]);
    ready_fd = ready[0];
  }
  char wait_ready() const {
    char c = 0;
    return read(ready_fd, &c, 1) == 1 ? c : '?';
  }
  void kill_and_reap() {
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    pid = -1;
  }
  ~LockingChild() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    close(ready_fd);
  }
};

}  // namespace

TEST_CASE("a data directory lock writes the holder's pid and refuses a second taker naming it") {
  TempDir dir;
  auto first = DataDirLock::acquire(dir.path);
  REQUIRE(first.ok());
  const std::string pid = std::to_string(getpid());
  CHECK(file_text(dir.path + "/tollgated.lock") == pid + "\n");

  auto second = DataDirLock::acquire(dir.path);
  REQUIRE_FALSE(second.ok());
  INFO(second.error().message);
  CHECK_THAT(second.error().message, Catch::Contains("pid " + pid));
  CHECK_THAT(second.error().message, Catch::Contains(dir.path));
  CHECK_THAT(second.error().message, Catch::Contains("in use by another tollgated"));
}

TEST_CASE("a data directory lock is free again once its holder is destroyed") {
  TempDir dir;
  { REQUIRE(DataDirLock::acquire(dir.path).ok()); }
  CHECK(DataDirLock::acquire(dir.path).ok());
}

TEST_CASE("a data directory locked by another process is refused until that process dies") {
  TempDir dir;
  LockingChild child(dir.path);
  REQUIRE(child.wait_ready() == 'L');
  auto refused = DataDirLock::acquire(dir.path);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("pid " + std::to_string(child.pid)));

  // SIGKILL leaves the lock file with the dead pid in it: no matter.
  child.kill_and_reap();
  auto taken = DataDirLock::acquire(dir.path);
  REQUIRE(taken.ok());
  CHECK(file_text(dir.path + "/tollgated.lock") == std::to_string(getpid()) + "\n");
}

TEST_CASE("a data directory that does not exist yet is created and locked") {
  TempDir dir;
  const std::string nested = dir.path + "/a/b";
  auto lock = DataDirLock::acquire(nested);
  REQUIRE(lock.ok());
  CHECK(lock->path() == nested + "/tollgated.lock");
}
