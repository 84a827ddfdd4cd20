#include "tools/cutfs/overlay.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cutfs {

void Overlay::erase(off_t offset, off_t length) {
  if (length <= 0) return;
  const off_t stop = offset + length;
  // The first extent that may reach into [offset, stop).
  auto it = extents_.upper_bound(offset);
  if (it != extents_.begin()) --it;
  while (it != extents_.end() && it->first < stop) {
    const off_t start = it->first;
    const off_t finish = start + static_cast<off_t>(it->second.size());
    if (finish <= offset) {
      ++it;
      continue;
    }
    std::string bytes = std::move(it->second);
    it = extents_.erase(it);
    // Keep the parts before and after the erased range.
    if (start < offset) extents_.emplace(start, bytes.substr(0, static_cast<size_t>(offset - start)));
    if (finish > stop) {
      it = extents_.emplace(stop, bytes.substr(static_cast<size_t>(stop - start))).first;
      ++it;
    }
  }
}

void Overlay::write(off_t offset, std::string_view data) {
  if (data.empty()) return;
  erase(offset, static_cast<off_t>(data.size()));
  extents_.emplace(offset, std::string(data));
}

void Overlay::paint(off_t offset, std::span<char> out) const {
  const off_t stop = offset + static_cast<off_t>(out.size());
  auto it = extents_.upper_bound(offset);
  if (it != extents_.begin()) --it;
  for (; it != extents_.end() && it->first < stop; ++it) {
    const off_t from = std::max(offset, it->first);
    const off_t to = std::min(stop, it->first + static_cast<off_t>(it->second.size()));
    if (from >= to) continue;
    std::memcpy(out.data() + (from - offset), it->second.data() + (from - it->first),
                static_cast<size_t>(to - from));
  }
}

off_t Overlay::end() const {
  if (extents_.empty()) return 0;
  const auto& last = *extents_.rbegin();
  return last.first + static_cast<off_t>(last.second.size());
}

size_t Overlay::bytes() const {
  size_t n = 0;
  for (const auto& [start, bytes] : extents_) n += bytes.size();
  return n;
}

int Overlay::flush_to(int fd) {
  while (!extents_.empty()) {
    auto it = extents_.begin();
    size_t done = 0;
    while (done < it->second.size()) {
      ssize_t n = pwrite(fd, it->second.data() + done, it->second.size() - done,
                         it->first + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -errno;
      done += static_cast<size_t>(n);
    }
    extents_.erase(it);
  }
  return 0;
}

}  // namespace cutfs
