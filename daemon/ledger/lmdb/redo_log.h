// The LMDB ledger's redo log (internal to the LMDB backend): one file,
// redo.log in the data directory, that makes a commit durable with one
// flush where LMDB needs two (lmdb_redo.h says how the ledger uses it).
//
// Layout: two 4 KiB header slots, then a ring of records.
//
//   header: magic "TGRH", version, seq (the newer slot wins), log id,
//           active, next_seq, start, meta page, CRC-32C of all of it.
//   record: magic "TGRR", kind (record or wrap), log id, seq, payload
//           size, CRC-32C of header and payload; the payload follows,
//           padded to 16 bytes.
//
// A header names a checkpoint: the LMDB meta page of a transaction that
// is on disk, the sequence number of the first record after it and that
// record's offset. Records follow from there with consecutive sequence
// numbers; a "wrap" record sends the reader back to the start of the ring.
// Reading stops at the first record that is torn (bad CRC), from another
// log, or out of sequence: an older lap's records always are.
//
// Durability without metadata: the ring's bytes are written (zeros) and
// flushed before any record lands on them, so appending a record rewrites
// allocated blocks of a file whose size does not change, and fdatasync
// flushes once (no journal commit). The ring starts at 1 MiB and doubles
// (up to 64 MiB) when a record does not fit and nothing has wrapped yet.
//
// Threads: append(), next_seq() and position() from one thread (the
// ledger's writer); write_header() and header() from any thread; the lock
// orders headers and guards the ring's tail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/sync.h"
#include "protocol/error.h"

namespace tollgate::ledger::detail {

// CRC-32C (Castagnoli), with the SSE 4.2 instruction where the CPU has it.
uint32_t crc32c(uint32_t crc, const void* data, size_t size);

class RedoLog {
 public:
  static constexpr size_t kSlotBytes = 4096;
  static constexpr uint64_t kRingStart = 2 * kSlotBytes;
  static constexpr uint64_t kInitialRing = uint64_t{1} << 20;
  static constexpr uint64_t kMaxRing = uint64_t{64} << 20;
  static constexpr size_t kMaxMetaBytes = 1024;

  struct Header {
    uint64_t seq = 0;       // newer header wins
    bool active = false;    // LMDB may hold commits that only the records make durable
    uint64_t next_seq = 1;  // the first record after the checkpoint
    uint64_t start = kRingStart;  // ... and its offset
    std::string meta;       // the checkpoint's LMDB meta (the start of its page)
  };
  struct Record {
    uint64_t seq = 0;
    std::string payload;
  };

  // Opens path, creating an empty inactive log when it does not exist.
  // Reads the newest valid header and the records after it. A file that is
  // no redo log (too short, no valid header: only a disk that lost
  // flushed writes makes one) is moved to path + ".unreadable" and a new
  // log started, with an error logged.
  // max_ring: the most the ring grows to (a new ring starts at the
  // smaller of kInitialRing and max_ring). The log is locked (flock) for
  // as long as it is open: null when another process has it open.
  static protocol::Result<std::unique_ptr<RedoLog>> open(const std::string& path,
                                                         uint64_t max_ring = kMaxRing);
  ~RedoLog();
  RedoLog(const RedoLog&) = delete;
  RedoLog& operator=(const RedoLog&) = delete;

  const std::string& path() const { return path_; }
  Header header() const;
  // The records read at open, after the header's checkpoint (moved out).
  std::vector<Record> take_records() { return std::move(records_); }

  // Appends the next record and flushes it. kFull: the ring has no room
  // until a newer checkpoint's header is written (the ring never grows
  // past max_ring, nor after it failed to grow once); kFailed: an I/O
  // error (error says which).
  enum class Append { kDone, kFull, kFailed };
  Append append(std::string_view payload, std::string& error);
  // The sequence number the next append gets, and where it goes.
  uint64_t next_seq() const { return next_seq_; }
  uint64_t position() const { return pos_; }
  // A header whose checkpoint follows everything appended so far (meta
  // still to be filled in for an active one).
  Header header_here(bool active) const {
    Header h;
    h.active = active;
    h.next_seq = next_seq_;
    h.start = pos_;
    return h;
  }

  // Writes h (seq is assigned) to the older slot and flushes it. A header
  // whose checkpoint is older than the last one written is skipped (true).
  // Once written, records before h.start may be overwritten.
  bool write_header(Header h, std::string& error);

 private:
  RedoLog() = default;
  bool read_headers(std::string& error);
  void read_records();
  bool grow_ring(std::string& error);
  bool write_all(const void* data, size_t size, uint64_t offset, std::string& error) const;

  std::string path_;
  int fd_ = -1;
  uint64_t log_id_ = 0;
  uint64_t ring_end_ = kRingStart + kInitialRing;  // file size
  uint64_t max_ring_ = kMaxRing;
  std::vector<Record> records_;
  // Writer thread only.
  uint64_t pos_ = kRingStart;
  uint64_t next_seq_ = 1;
  std::string buf_;

  mutable Mutex mu_;
  Header header_ GUARDED_BY(mu_);
  uint64_t tail_ GUARDED_BY(mu_) = kRingStart;  // header_.start: live records begin here
};

}  // namespace tollgate::ledger::detail
