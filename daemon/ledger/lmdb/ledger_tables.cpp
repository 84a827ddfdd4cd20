#include "daemon/ledger/lmdb/ledger_tables.h"

#include <cstring>

namespace tollgate::ledger::detail {

UsageRow load_usage(MDB_txn* txn, const Tables& t, std::string_view key) {
  const auto bytes = kv_get(txn, t.usage, key);
  return bytes ? decode_usage(*bytes) : UsageRow{};
}

std::optional<std::string> meta_string(MDB_txn* txn, const Tables& t, std::string_view name) {
  const auto v = kv_get(txn, t.meta, name);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<uint64_t> meta_u64(MDB_txn* txn, const Tables& t, std::string_view name) {
  const auto v = kv_get(txn, t.meta, name);
  if (!v) return std::nullopt;
  return decode_u64(*v);
}

std::optional<uint32_t> meta_u32(MDB_txn* txn, const Tables& t, std::string_view name) {
  const auto v = kv_get(txn, t.meta, name);
  if (!v || v->size() != sizeof(uint32_t)) return std::nullopt;
  uint32_t out = 0;
  std::memcpy(&out, v->data(), sizeof out);
  return out;
}

void put_meta_u32(MDB_txn* txn, const Tables& t, std::string_view name, uint32_t v) {
  kv_put(txn, t.meta, name, std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
}

}  // namespace tollgate::ledger::detail
