// cutfs: a FUSE filesystem that loses what was not fsync'd, on command, as
// a power cut would. In the spirit of LazyFS (github.com/dsrhaslab/lazyfs),
// much smaller: for tests of tollgated's durability
// (tests/integration/power_cut_test.cpp, tools/soak-power-cut.sh).
//
//   cutfs [--lie] BACKING MOUNTPOINT
//
// The mount mirrors the directory BACKING. Data written to a file stays in
// cutfs's memory (an Overlay per file) and reaches the backing file only
// when the file is fsync'd or fdatasync'd, or when it was written through
// a descriptor opened O_SYNC/O_DSYNC (LMDB writes its meta pages so).
// Reads see the overlay over the backing file. Metadata (create, mkdir,
// rename, unlink, truncate, chmod, times) goes straight to BACKING: what a
// cut loses is unsynced DATA, not names or sizes set by truncate.
//
// SIGUSR1 is the power cut: every overlay is dropped, every later change
// fails with EIO, and cutfs prints "cutfs: cut dropped N bytes in M files".
// The kernel may still cache the lost bytes in its page cache for this
// mount, so a test unmounts (fusermount3 -u) after a cut and mounts again
// on BACKING: the new mount reads only what survived. Writes are
// write-through (no writeback cache), so no dirty page in the kernel
// outlives a cut unseen; the one exception, pages of a shared writable
// mmap, are LMDB's lock file, which holds nothing that must survive.
//
// --lie: fsync and O_DSYNC answer success and keep nothing, a disk that
// lies about its cache. A durability test must fail on it.
// CUTFS_DEBUG=1 in the environment: libfuse's -d (every request logged).
//
// Prints "cutfs: mounted" once the kernel talks to it. SIGTERM or
// fusermount3 -u ends it. No auto_unmount: its fusermount3 helper can
// outlive cutfs for a moment and unmount the NEXT cutfs mounted on the
// same directory (seen as a failing unmount in the test); after a SIGKILL,
// `fusermount3 -u -z MOUNTPOINT` cleans up. libfuse 3.14 prints "Ignoring
// invalid max threads value" at start: its own default, harmless.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tools/cutfs/cutfs.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: cutfs [--lie] BACKING MOUNTPOINT\n");
  return 2;
}

// Waits for SIGUSR1 (blocked in every other thread) and cuts the power.
// `stopping` turns the next SIGUSR1 into the end of the loop.
void cut_loop(const std::atomic<bool>& stopping) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (stopping.load()) return;
    std::string dropped = cutfs::cut();
    std::printf("cutfs: cut dropped %s\n", dropped.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--lie") {
    cutfs::state().lie = true;
    args.erase(args.begin());
  }
  if (args.size() != 2) return usage();
  cutfs::state().backing = open(args[0].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cutfs::state().backing < 0) {
    std::fprintf(stderr, "cutfs: cannot open %s: %s\n", args[0].c_str(), std::strerror(errno));
    return 1;
  }
  // Blocked before fuse_main starts its threads, so they inherit it and
  // only cut_loop's sigwait takes the signal.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::atomic<bool> stopping{false};
  std::thread cutter(cut_loop, std::cref(stopping));

  std::string self = argv[0];
  std::string options = "fsname=cutfs,subtype=cutfs";
  std::vector<char*> fuse_argv = {self.data(), const_cast<char*>("-f"), const_cast<char*>("-o"),
                                  options.data(), args[1].data()};
  if (std::getenv("CUTFS_DEBUG") != nullptr) fuse_argv.push_back(const_cast<char*>("-d"));
  fuse_argv.push_back(nullptr);
  int rc = fuse_main(static_cast<int>(fuse_argv.size()) - 1, fuse_argv.data(), &cutfs::operations(), nullptr);

  stopping = true;
  pthread_kill(cutter.native_handle(), SIGUSR1);
  cutter.join();
  close(cutfs::state().backing);
  return rc;
}
