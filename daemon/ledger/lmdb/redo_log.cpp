#include "daemon/ledger/lmdb/redo_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace tollgate::ledger::detail {
namespace {

constexpr uint32_t kHeaderMagic = 0x48524754;  // "TGRH"
constexpr uint32_t kRecordMagic = 0x52524754;  // "TGRR"
constexpr uint32_t kVersion = 1;
constexpr uint32_t kKindRecord = 1;
constexpr uint32_t kKindWrap = 2;
constexpr size_t kRecordHead = 32;  // magic, kind, log id, seq, size, crc
constexpr size_t kHeaderFixed = 48;  // magic, version, seq, log id, active, meta size, next_seq, start
constexpr size_t kAlign = 16;
constexpr uint64_t kMaxPayload = RedoLog::kMaxRing / 2;

uint64_t padded(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Little-endian field access (the file is read on the machine that wrote
// it; memcpy keeps it free of alignment assumptions).
template <class T>
void store_at(std::string& out, size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}
template <class T>
T load_at(const char* p, size_t at) {
  T v;
  std::memcpy(&v, p + at, sizeof v);
  return v;
}

std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc32c_soft(uint32_t crc, const unsigned char* p, size_t n) {
  static const std::array<uint32_t, 256> table = crc_table();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse(uint32_t crc, const unsigned char* p,
                                                      size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}
#endif

std::string io_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  static const bool sse = __builtin_cpu_supports("sse4.2");
  if (sse) return ~crc32c_sse(~crc, p, size);
#endif
  return ~crc32c_soft(~crc, p, size);
}

RedoLog::~RedoLog() {
  if (fd_ >= 0) ::close(fd_);
}

protocol::Result<std::unique_ptr<RedoLog>> RedoLog::open(const std::string& path,
                                                         uint64_t max_ring) {
  using protocol::Error;
  std::unique_ptr<RedoLog> log(new RedoLog());
  log->path_ = path;
  log->max_ring_ = std::max<uint64_t>(max_ring, 4096);
  auto fail = [&](const std::string& what) {
    return Error::internal("redo log " + path + ": " + what);
  };
  log->fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  std::string error;
  if (log->fd_ < 0 && errno == ENOENT) {
    // A new log: the ring's bytes are written and flushed first (see the
    // header), then an inactive header makes it a log.
    const std::string tmp = path + ".new." + std::to_string(::getpid());
    log->fd_ = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (log->fd_ < 0) return fail(io_error("create"));
    if (::flock(log->fd_, LOCK_EX | LOCK_NB) != 0) return fail(io_error("flock"));
    if (::getrandom(&log->log_id_, sizeof log->log_id_, 0) != sizeof log->log_id_) {
      return fail(io_error("getrandom"));
    }
    log->ring_end_ = kRingStart;
    if (!log->grow_ring(error)) return fail(error);
    {
      MutexLock lock(log->mu_);
      log->header_ = Header{};
    }
    if (!log->write_header(Header{}, error) || !log->write_header(Header{}, error)) {
      return fail(error);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(io_error("rename"));
    const std::string dir = path.substr(0, path.find_last_of('/') + 1);
    const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return fail(io_error("open directory"));
    const int synced = ::fsync(dir_fd);
    ::close(dir_fd);
    if (synced != 0) return fail(io_error("fsync directory"));
    return log;
  }
  if (log->fd_ < 0) return fail(io_error("open"));
  if (::flock(log->fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::unique_ptr<RedoLog>();  // another process's
    return fail(io_error("flock"));
  }
  struct stat st{};
  if (::fstat(log->fd_, &st) != 0) return fail(io_error("fstat"));
  log->ring_end_ = static_cast<uint64_t>(st.st_size);
  if (log->ring_end_ < kRingStart + kRecordHead) {
    error = "too short to be a redo log";
  } else if (log->read_headers(error)) {
    log->read_records();
    return log;
  }
  spdlog::error("ledger: {}: {}; moved to {}.unreadable, starting a new log (the ledger is what "
                "data.mdb holds)", path, error, path);
  if (::rename(path.c_str(), (path + ".unreadable").c_str()) != 0) return fail(io_error("rename"));
  return open(path, max_ring);
}

RedoLog::Header RedoLog::header() const {
  MutexLock lock(mu_);
  return header_;
}

bool RedoLog::read_headers(std::string& error) {
  std::string slot(kSlotBytes, '\0');
  bool found = false;
  Header best;
  for (uint64_t i = 0; i < 2; ++i) {
    if (::pread(fd_, slot.data(), kSlotBytes, static_cast<off_t>(i * kSlotBytes)) !=
        static_cast<ssize_t>(kSlotBytes)) {
      continue;
    }
    const char* p = slot.data();
    const auto meta_size = load_at<uint32_t>(p, 28);
    if (load_at<uint32_t>(p, 0) != kHeaderMagic || load_at<uint32_t>(p, 4) != kVersion ||
        meta_size > kMaxMetaBytes) {
      continue;
    }
    const size_t end = kHeaderFixed + meta_size;
    if (load_at<uint32_t>(p, end) != crc32c(0, p, end)) continue;  // torn
    Header h;
    h.seq = load_at<uint64_t>(p, 8);
    h.active = load_at<uint32_t>(p, 24) != 0;
    h.next_seq = load_at<uint64_t>(p, 32);
    h.start = load_at<uint64_t>(p, 40);
    h.meta.assign(p + kHeaderFixed, meta_size);
    if (h.start < kRingStart || h.start + kRecordHead > ring_end_) continue;
    if (!found || h.seq > best.seq) {
      best = std::move(h);
      log_id_ = load_at<uint64_t>(p, 16);
      found = true;
    }
  }
  if (!found) {
    error = "no readable header (both slots are torn or not a redo log)";
    return false;
  }
  MutexLock lock(mu_);
  header_ = best;
  tail_ = best.start;
  pos_ = best.start;
  next_seq_ = best.next_seq;
  return true;
}

void RedoLog::read_records() {
  std::string head(kRecordHead, '\0');
  bool after_wrap = false;
  uint64_t scanned = 0;
  while (scanned <= ring_end_ && pos_ + kRecordHead <= ring_end_) {
    if (::pread(fd_, head.data(), kRecordHead, static_cast<off_t>(pos_)) !=
        static_cast<ssize_t>(kRecordHead)) {
      return;
    }
    const char* p = head.data();
    const auto kind = load_at<uint32_t>(p, 4);
    const auto size = load_at<uint32_t>(p, 24);
    if (load_at<uint32_t>(p, 0) != kRecordMagic || load_at<uint64_t>(p, 8) != log_id_ ||
        load_at<uint64_t>(p, 16) != next_seq_ || size > kMaxPayload ||
        pos_ + kRecordHead + size > ring_end_) {
      return;
    }
    std::string payload(size, '\0');
    if (size > 0 && ::pread(fd_, payload.data(), size, static_cast<off_t>(pos_ + kRecordHead)) !=
                        static_cast<ssize_t>(size)) {
      return;
    }
    uint32_t crc = crc32c(0, p, kRecordHead - 4);
    crc = crc32c(crc, payload.data(), payload.size());
    if (load_at<uint32_t>(p, 28) != crc) return;  // torn: the last append never completed
    if (kind == kKindWrap) {
      if (after_wrap || size != 0) return;
      after_wrap = true;
      scanned += ring_end_ - pos_;
      pos_ = kRingStart;
      continue;
    }
    if (kind != kKindRecord) return;
    after_wrap = false;
    records_.push_back(Record{next_seq_, std::move(payload)});
    ++next_seq_;
    const uint64_t step = padded(kRecordHead + size);
    scanned += step;
    pos_ += step;
  }
}

bool RedoLog::write_all(const void* data, size_t size, uint64_t offset, std::string& error) const {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      error = io_error("pwrite");
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

bool RedoLog::grow_ring(std::string& error) {
  const uint64_t ring = ring_end_ - kRingStart;
  const uint64_t target =
      kRingStart + std::min(max_ring_, ring == 0 ? kInitialRing : ring * 2);
  // From a static block of zeros: a heap buffer of a MiB would stay in the
  // allocator, a quarter of an idle daemon's memory.
  static const char kZeros[64 << 10] = {};
  for (uint64_t at = ring_end_; at < target; at += sizeof kZeros) {
    if (!write_all(kZeros, std::min<uint64_t>(sizeof kZeros, target - at), at, error)) return false;
  }
  if (::fsync(fd_) != 0) {  // the size too, not only the data
    error = io_error("fsync");
    return false;
  }
  ring_end_ = target;
  return true;
}

RedoLog::Append RedoLog::append(std::string_view payload, std::string& error) {
  if (payload.size() > kMaxPayload) {
    error = "record of " + std::to_string(payload.size()) + " bytes is larger than the ring allows";
    return Append::kFailed;
  }
  const uint64_t need = padded(kRecordHead + payload.size());
  uint64_t tail = 0;
  {
    MutexLock lock(mu_);
    tail = tail_;
  }
  // Records always leave room for a wrap record before the ring's end.
  uint64_t at = pos_;
  bool wrap = false;
  if (pos_ >= tail) {
    while (pos_ + need + kRecordHead > ring_end_) {
      if (kRingStart + need < tail) {
        wrap = true;
        at = kRingStart;
        break;
      }
      if (ring_end_ - kRingStart >= max_ring_) return Append::kFull;
      if (!grow_ring(error)) {
        // A full disk, say: the ring stays as it is, and is full for now.
        spdlog::warn("ledger: cannot grow {} ({}); it stays at {} bytes", path_, error, ring_end_);
        if (::ftruncate(fd_, static_cast<off_t>(ring_end_)) != 0) {
          spdlog::warn("ledger: cannot cut {} back: {}", path_, std::strerror(errno));
        }
        max_ring_ = ring_end_ - kRingStart;
        return Append::kFull;
      }
    }
  } else if (pos_ + need >= tail) {
    return Append::kFull;
  }
  auto encode = [&](uint32_t kind, std::string_view body, uint64_t seq) {
    buf_.assign(padded(kRecordHead + body.size()), '\0');
    store_at<uint32_t>(buf_, 0, kRecordMagic);
    store_at<uint32_t>(buf_, 4, kind);
    store_at<uint64_t>(buf_, 8, log_id_);
    store_at<uint64_t>(buf_, 16, seq);
    store_at<uint32_t>(buf_, 24, static_cast<uint32_t>(body.size()));
    if (!body.empty()) std::memcpy(buf_.data() + kRecordHead, body.data(), body.size());
    uint32_t crc = crc32c(0, buf_.data(), kRecordHead - 4);
    store_at<uint32_t>(buf_, 28, crc32c(crc, body.data(), body.size()));
  };
  if (wrap) {
    encode(kKindWrap, {}, next_seq_);
    if (!write_all(buf_.data(), buf_.size(), pos_, error)) return Append::kFailed;
  }
  encode(kKindRecord, payload, next_seq_);
  if (!write_all(buf_.data(), buf_.size(), at, error)) return Append::kFailed;
  if (::fdatasync(fd_) != 0) {  // one flush: the blocks exist, the size is unchanged
    error = io_error("fdatasync");
    return Append::kFailed;
  }
  pos_ = at + need;
  ++next_seq_;
  return Append::kDone;
}

bool RedoLog::write_header(Header h, std::string& error) {
  MutexLock lock(mu_);
  if (h.next_seq < header_.next_seq) return true;  // a newer checkpoint is already written
  if (h.meta.size() > kMaxMetaBytes) {
    error = "meta of " + std::to_string(h.meta.size()) + " bytes";
    return false;
  }
  h.seq = header_.seq + 1;
  std::string slot(kSlotBytes, '\0');
  store_at<uint32_t>(slot, 0, kHeaderMagic);
  store_at<uint32_t>(slot, 4, kVersion);
  store_at<uint64_t>(slot, 8, h.seq);
  store_at<uint64_t>(slot, 16, log_id_);
  store_at<uint32_t>(slot, 24, h.active ? 1 : 0);
  store_at<uint32_t>(slot, 28, static_cast<uint32_t>(h.meta.size()));
  store_at<uint64_t>(slot, 32, h.next_seq);
  store_at<uint64_t>(slot, 40, h.start);
  std::memcpy(slot.data() + kHeaderFixed, h.meta.data(), h.meta.size());
  const size_t end = kHeaderFixed + h.meta.size();
  store_at<uint32_t>(slot, end, crc32c(0, slot.data(), end));
  if (!write_all(slot.data(), slot.size(), (h.seq & 1) * kSlotBytes, error)) return false;
  if (::fdatasync(fd_) != 0) {
    error = io_error("fdatasync");
    return false;
  }
  header_ = std::move(h);
  tail_ = header_.start;
  return true;
}

}  // namespace tollgate::ledger::detail
