#include "daemon/ledger/postgres/settlement_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <msgpack.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <tuple>

namespace tollgate::ledger::pg {
namespace {

using StoredTuple = std::tuple<std::string, std::string, std::string, int64_t, int64_t,
                               std::optional<std::string>, uint64_t>;
using CommitTuple = std::tuple<std::string, uint64_t, uint64_t, uint64_t, double, int64_t,
                               std::optional<StoredTuple>>;
using ReleaseTuple = std::tuple<std::string, uint64_t>;

void pack_one(msgpack::packer<msgpack::sbuffer>& pk, const detail::WriteOp& op) {
  if (const auto* c = std::get_if<detail::CommitOp>(&op)) {
    std::optional<StoredTuple> stored;
    if (c->stored) {
      const auto& s = *c->stored;
      stored = StoredTuple{s.call.agent, s.call.key, s.call.fingerprint, s.call.received_ms,
                           s.call.expiry_ms, s.reply, s.reply_bytes};
    }
    pk.pack(CommitTuple{"commit", c->req.reservation_id, c->req.input_tokens,
                        c->req.output_tokens, c->req.cost_usd, c->req.now_ms, stored});
  } else if (const auto* r = std::get_if<detail::ReleaseOp>(&op)) {
    pk.pack(ReleaseTuple{"release", r->reservation_id});
  }
}

detail::WriteOp unpack_one(const msgpack::object& o) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size < 2) throw msgpack::type_error();
  if (o.via.array.ptr[0].as<std::string>() == "release") {
    auto t = o.as<ReleaseTuple>();
    return detail::release_op(std::get<1>(t), nullptr);
  }
  auto t = o.as<CommitTuple>();
  auto& [kind, id, input, output, cost, now_ms, stored] = t;
  CommitRequest req{id, input, output, cost, now_ms};
  std::optional<StoredReply> reply;
  if (stored) {
    auto& [agent, key, fingerprint, received_ms, expiry_ms, body, bytes] = *stored;
    reply = StoredReply{IdempotentCall{agent, key, fingerprint, received_ms, expiry_ms}, body, bytes};
  }
  return detail::commit_op(req, std::move(reply), nullptr);
}

bool fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

SettlementSpool::SettlementSpool(std::string dir) : path_(std::move(dir) + "/pg-settlements.spool") {}

void SettlementSpool::save(const std::vector<detail::WriteOp>& kept) {
  std::error_code ec;
  if (kept.empty()) {
    std::filesystem::remove(path_, ec);
    return;
  }
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(static_cast<uint32_t>(kept.size()));
  for (const auto& op : kept) pack_one(pk, op);
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (!out) {
      spdlog::error("ledger: cannot write the settlement spool {}", tmp);
      return;
    }
  }
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  if (!fsync_path(tmp, O_RDONLY) || std::rename(tmp.c_str(), path_.c_str()) != 0 ||
      !fsync_path(dir, O_RDONLY | O_DIRECTORY)) {
    spdlog::error("ledger: cannot make the settlement spool {} durable: {}", path_,
                  std::strerror(errno));
  }
}

Result<std::vector<detail::WriteOp>> SettlementSpool::load() const {
  std::vector<detail::WriteOp> out;
  std::string bytes;
  {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return out;  // nothing spooled
      return Error::internal("settlement spool " + path_ + ": " + std::strerror(errno));
    }
    char chunk[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, chunk, sizeof chunk)) > 0) bytes.append(chunk, static_cast<size_t>(n));
    ::close(fd);
    if (n < 0) return Error::internal("settlement spool " + path_ + ": cannot read");
  }
  try {
    const msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    const msgpack::object& o = oh.get();
    if (o.type != msgpack::type::ARRAY) throw msgpack::type_error();
    for (uint32_t i = 0; i < o.via.array.size; ++i) out.push_back(unpack_one(o.via.array.ptr[i]));
  } catch (const std::exception& e) {
    return Error::internal("settlement spool " + path_ + " cannot be read (" + e.what() +
                           "); move it aside to start without it");
  }
  return out;
}

}  // namespace tollgate::ledger::pg
