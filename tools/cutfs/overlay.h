// Overlay: the bytes of one file that were written but not yet fsync'd.
//
// A set of non-overlapping extents (offset -> bytes), newest write wins.
// cutfs keeps one per file and paints it over what the backing file holds
// on every read; fsync moves it into the backing file, a cut forgets it.
// Not thread-safe: cutfs holds its one mutex around every use.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>

namespace cutfs {

class Overlay {
 public:
  // Records `data` at `offset`, replacing whatever the overlay held there.
  void write(off_t offset, std::string_view data);
  // Forgets the bytes in [offset, offset + length): they are now in the
  // backing file (a synchronous write) or beyond its end (a truncate).
  void erase(off_t offset, off_t length);
  // Forgets everything at or after `size`.
  void truncate(off_t size) { erase(size, kForever - size); }
  // Copies the overlay's bytes that fall in [offset, offset + out.size())
  // over `out`.
  void paint(off_t offset, std::span<char> out) const;
  // One past the last byte held, 0 when empty: the file is at least this
  // long, whatever the backing file says.
  off_t end() const;
  size_t bytes() const;
  bool empty() const { return extents_.empty(); }
  // pwrite()s every extent to `fd`, then forgets them; -errno on the first
  // failure (the extents not yet written stay).
  int flush_to(int fd);

 private:
  static constexpr off_t kForever = static_cast<off_t>(1) << 62;
  std::map<off_t, std::string> extents_;  // start -> bytes, disjoint
};

}  // namespace cutfs
