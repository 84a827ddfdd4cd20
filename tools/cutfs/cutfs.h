// cutfs's state and its FUSE operations (cutfs.cpp); main.cpp mounts it.
#pragma once

#include <sys/types.h>

#define FUSE_USE_VERSION 314
#include <fuse.h>

#include <map>
#include <mutex>
#include <string>

#include "tools/cutfs/overlay.h"

namespace cutfs {

struct State {
  int backing = -1;            // the backing directory, O_PATH
  bool lie = false;            // --lie: fsync answers 0 and keeps nothing
  std::mutex mu;               // guards everything below
  std::map<ino_t, Overlay> files;  // by the backing file's inode
  bool cut = false;            // power is off: every change fails with EIO
};

// The state the operations use; main sets it before fuse_main.
State& state();

// Drops every overlay and fails every later change. Returns what was
// dropped, for the line cutfs prints: "<bytes> bytes in <files> files".
std::string cut();

// The operations table for fuse_main.
const fuse_operations& operations();

}  // namespace cutfs
