#include "tools/cutfs/cutfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cutfs {
namespace {

// What a FUSE file handle (fuse_file_info::fh) points at.
struct Handle {
  int fd;     // the backing file, always read-write
  ino_t ino;  // its inode: the key of its overlay
  bool sync;  // opened O_SYNC or O_DSYNC: every write is an fsync'd write
};

Handle& handle(const fuse_file_info* fi) { return *reinterpret_cast<Handle*>(fi->fh); }

// FUSE paths start with "/"; the *at() calls want them relative to the
// backing directory.
const char* rel(const char* path) { return path[1] != '\0' ? path + 1 : "."; }

int fail() { return -errno; }

// Changes fail once the power is off. Caller holds state().mu.
bool powered_off() { return state().cut; }

// A file is gone (unlinked, or replaced by a rename): its overlay must not
// outlive it, or a new file that gets its inode number would inherit it.
void forget_if_last_link(const char* path) {
  struct stat st {};
  if (fstatat(state().backing, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
      st.st_nlink == 1) {
    state().files.erase(st.st_ino);
  }
}

void* op_init(fuse_conn_info* conn, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->hard_remove = 1;  // no .fuse_hidden files: handles keep their fd
  cfg->direct_io = 0;     // LMDB maps data.mdb: mmap needs the page cache
  cfg->kernel_cache = 0;  // each open drops the file's cached pages
  // Write-through: every write(2) reaches cutfs before it returns, so no
  // dirty page in the kernel escapes a cut.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  std::printf("cutfs: mounted\n");
  std::fflush(stdout);
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  int rc = fi != nullptr ? fstat(handle(fi).fd, st)
                         : fstatat(state().backing, rel(path), st, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) return fail();
  if (S_ISREG(st->st_mode)) {
    std::lock_guard lock(state().mu);
    if (auto it = state().files.find(st->st_ino); it != state().files.end()) {
      st->st_size = std::max(st->st_size, it->second.end());
    }
  }
  return 0;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*,
               fuse_readdir_flags) {
  int fd = openat(state().backing, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail();
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int rc = fail();
    close(fd);
    return rc;
  }
  while (dirent* e = readdir(dir)) filler(buf, e->d_name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  closedir(dir);
  return 0;
}

// Metadata goes straight to the backing directory (see main.cpp).
int op_mkdir(const char* path, mode_t mode) {
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  return mkdirat(state().backing, rel(path), mode) == 0 ? 0 : fail();
}

int op_unlink(const char* path) {
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  forget_if_last_link(path);
  return unlinkat(state().backing, rel(path), 0) == 0 ? 0 : fail();
}

int op_rmdir(const char* path) {
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  return unlinkat(state().backing, rel(path), AT_REMOVEDIR) == 0 ? 0 : fail();
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  forget_if_last_link(to);
  return renameat(state().backing, rel(from), state().backing, rel(to)) == 0 ? 0 : fail();
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  int fd = fi != nullptr ? handle(fi).fd : openat(state().backing, rel(path), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail();
  struct stat st {};
  int rc = ftruncate(fd, size) == 0 && fstat(fd, &st) == 0 ? 0 : fail();
  if (fi == nullptr) close(fd);
  if (rc == 0) state().files[st.st_ino].truncate(size);
  return rc;
}

// Opens the backing file read-write whatever the caller asked (an fsync
// through a read-only descriptor still has to write the overlay out), and
// without O_APPEND (the kernel gives every write its offset) or O_SYNC
// (cutfs itself is the disk whose cache a cut loses; the backing file's
// own cache survives, as the machine keeps running).
int open_backing(const char* path, int flags, mode_t mode) {
  flags &= ~(O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC);
  return openat(state().backing, rel(path), flags | O_RDWR | O_CLOEXEC, mode);
}

int attach(int fd, int flags, bool fresh, fuse_file_info* fi) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int rc = fail();
    close(fd);
    return rc;
  }
  std::lock_guard lock(state().mu);
  if (fresh) state().files.erase(st.st_ino);
  if (flags & O_TRUNC) state().files[st.st_ino].truncate(0);
  fi->fh = reinterpret_cast<uint64_t>(new Handle{fd, st.st_ino, (flags & O_DSYNC) != 0});
  return 0;
}

int op_open(const char* path, fuse_file_info* fi) {
  if (fi->flags & O_TRUNC) {
    std::lock_guard lock(state().mu);
    if (powered_off()) return -EIO;
  }
  int fd = open_backing(path, fi->flags & ~O_CREAT, 0);
  return fd < 0 ? fail() : attach(fd, fi->flags, false, fi);
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  {
    std::lock_guard lock(state().mu);
    if (powered_off()) return -EIO;
  }
  // Try to make it new first, to know whether an overlay may be stale.
  int fd = open_backing(path, fi->flags | O_CREAT | O_EXCL, mode);
  if (fd >= 0) return attach(fd, fi->flags, true, fi);
  if (errno != EEXIST || (fi->flags & O_EXCL)) return fail();
  fd = open_backing(path, fi->flags & ~O_CREAT, 0);
  return fd < 0 ? fail() : attach(fd, fi->flags, false, fi);
}

int op_read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  const Handle& h = handle(fi);
  std::lock_guard lock(state().mu);  // no write lands between pread and paint
  struct stat st {};
  if (fstat(h.fd, &st) != 0) return fail();
  off_t length = st.st_size;
  auto it = state().files.find(h.ino);
  if (it != state().files.end()) length = std::max(length, it->second.end());
  if (offset >= length) return 0;
  size = std::min(size, static_cast<size_t>(length - offset));
  ssize_t n = pread(h.fd, buf, size, offset);
  if (n < 0) return fail();
  std::memset(buf + n, 0, size - static_cast<size_t>(n));  // a hole the overlay may fill
  if (it != state().files.end()) it->second.paint(offset, {buf, size});
  return static_cast<int>(size);
}

int op_write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  const Handle& h = handle(fi);
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  Overlay& overlay = state().files[h.ino];
  if (!h.sync || state().lie) {
    overlay.write(offset, {buf, size});
    return static_cast<int>(size);
  }
  // O_DSYNC (LMDB writes its meta pages so): durable when write returns.
  overlay.erase(offset, static_cast<off_t>(size));
  ssize_t n = pwrite(h.fd, buf, size, offset);
  return n < 0 ? fail() : static_cast<int>(n);
}

int op_fsync(const char*, int, fuse_file_info* fi) {
  const Handle& h = handle(fi);
  std::lock_guard lock(state().mu);
  if (powered_off()) return -EIO;
  if (state().lie) return 0;
  auto it = state().files.find(h.ino);
  return it == state().files.end() ? 0 : it->second.flush_to(h.fd);
}

// close(2) persists nothing: only fsync does.
int op_flush(const char*, fuse_file_info*) { return 0; }

int op_release(const char*, fuse_file_info* fi) {
  Handle* h = &handle(fi);
  close(h->fd);
  delete h;
  return 0;
}

int op_statfs(const char*, struct statvfs* st) { return fstatvfs(state().backing, st) == 0 ? 0 : fail(); }

int op_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  int rc = fi != nullptr ? fchmod(handle(fi).fd, mode) : fchmodat(state().backing, rel(path), mode, 0);
  return rc == 0 ? 0 : fail();
}

int op_utimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  int rc = fi != nullptr ? futimens(handle(fi).fd, tv)
                         : utimensat(state().backing, rel(path), tv, AT_SYMLINK_NOFOLLOW);
  return rc == 0 ? 0 : fail();
}

int op_access(const char* path, int mask) {
  return faccessat(state().backing, rel(path), mask, 0) == 0 ? 0 : fail();
}

fuse_operations make_operations() {
  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.truncate = op_truncate;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.fsync = op_fsync;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.statfs = op_statfs;
  ops.chmod = op_chmod;
  ops.utimens = op_utimens;
  ops.access = op_access;
  return ops;
}

}  // namespace

State& state() {
  static State s;
  return s;
}

std::string cut() {
  std::lock_guard lock(state().mu);
  size_t bytes = 0;
  size_t files = 0;
  for (const auto& [ino, overlay] : state().files) {
    bytes += overlay.bytes();
    if (!overlay.empty()) ++files;
  }
  state().files.clear();
  state().cut = true;
  return std::to_string(bytes) + " bytes in " + std::to_string(files) + " files";
}

const fuse_operations& operations() {
  static const fuse_operations ops = make_operations();
  return ops;
}

}  // namespace cutfs
