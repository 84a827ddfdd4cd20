#include "daemon/ledger/row_codec.h"

#include <msgpack.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <array>
#include <map>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace tollgate::ledger::detail {
namespace {

static_assert(std::is_trivially_copyable_v<UsageRow> && sizeof(UsageRow) == 48);
// A usage row as tollgated wrote it before reserved_usd (section 10).
constexpr size_t kUsageRowBytesBeforeUsd = 40;

void append_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Signed times sort as unsigned after flipping the sign bit.
uint64_t sortable(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }

template <class Tuple>
std::string pack(const Tuple& tuple) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, tuple);
  return std::string(buf.data(), buf.size());
}

template <class Tuple>
std::optional<Tuple> unpack(std::string_view bytes, const char* what) {
  try {
    const msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    Tuple out;
    oh.get().convert(out);
    return out;
  } catch (const std::exception& e) {
    spdlog::error("ledger: undecodable {} record ({} bytes): {}", what, bytes.size(), e.what());
    return std::nullopt;
  }
}

// [agent, provider, period, request_id, amount, created_ms, full_cost_usd];
// records written before full_cost_usd have the first six only.
using ReservationTuple =
    std::tuple<std::string, std::string, std::string, std::string, uint64_t, int64_t, double>;
constexpr uint32_t kReservationFieldsWithCost = 7;
using AlertTuple = std::tuple<uint8_t, std::string, std::string, double, double, uint64_t, uint64_t,
                              std::string, int64_t, std::string, uint64_t>;
using ResetTuple = std::tuple<int64_t, std::string, std::string, std::string, uint64_t>;
// [state, expiry_ms, received_ms, fingerprint, reservation_id, reply, reply_bytes]
using IdempotencyTuple =
    std::tuple<std::string, int64_t, int64_t, std::string, uint64_t, std::string, uint64_t>;
// What tollgated wrote before pending markers: a stored reply and its expiry.
using LegacyIdempotencyTuple = std::tuple<int64_t, std::string>;

// Index i names IdempotencyState i.
constexpr std::array<std::string_view, 3> kIdempotencyStates = {"pending", "done", "too_large"};

// The fields of each ledger_log kind.
using ResetChangeTuple = std::tuple<std::string, std::string, std::map<std::string, uint64_t>>;
using RolloverTuple = std::tuple<std::string, std::string>;
using ChargeTuple = std::tuple<std::string, std::string, std::string, uint64_t, uint64_t>;
using RecoveryTuple = std::tuple<std::vector<ChargeTuple>, uint64_t>;
// [scope, provider, tokens, usd, previous_tokens, previous_usd, set_by]
using LimitChangeTuple =
    std::tuple<std::string, std::string, std::optional<uint64_t>, std::optional<double>,
               std::optional<uint64_t>, std::optional<double>, std::string>;
// limits: [tokens, usd, set_at_ms, set_by]; usage_day: [used, requests, cost_usd]
using LimitTuple = std::tuple<std::optional<uint64_t>, std::optional<double>, int64_t, std::string>;
using DayUsageTuple = std::tuple<uint64_t, uint64_t, double>;

// Index i names LedgerChange alternative i.
constexpr std::array<std::string_view, std::variant_size_v<LedgerChange>> kKinds = {
    "reset", "rollover", "recovered", "limit"};

// Packs the fields of one change.
struct PackChange {
  msgpack::packer<msgpack::sbuffer>& pk;
  void operator()(const ResetChange& c) const {
    pk.pack(ResetChangeTuple{c.agent, c.period, c.cleared});
  }
  void operator()(const Rollover& c) const { pk.pack(RolloverTuple{c.from, c.to}); }
  void operator()(const RecoveryChange& c) const {
    std::vector<ChargeTuple> charges;
    for (const auto& ch : c.charges) {
      charges.emplace_back(ch.agent, ch.provider, ch.period, ch.tokens, ch.reservations);
    }
    pk.pack(RecoveryTuple{std::move(charges), c.tokens});
  }
  void operator()(const LimitChange& c) const {
    pk.pack(LimitChangeTuple{c.scope, c.provider, c.tokens, c.usd, c.previous_tokens,
                             c.previous_usd, c.set_by});
  }
};

std::optional<LedgerChange> unpack_change(std::string_view kind, const msgpack::object& fields) {
  if (kind == kKinds[0]) {
    ResetChangeTuple t;
    fields.convert(t);
    auto& [agent, period, cleared] = t;
    return ResetChange{std::move(agent), std::move(period), std::move(cleared)};
  }
  if (kind == kKinds[1]) {
    RolloverTuple t;
    fields.convert(t);
    return Rollover{std::move(std::get<0>(t)), std::move(std::get<1>(t))};
  }
  if (kind == kKinds[2]) {
    RecoveryTuple t;
    fields.convert(t);
    RecoveryChange c;
    c.tokens = std::get<1>(t);
    for (auto& [agent, provider, period, tokens, reservations] : std::get<0>(t)) {
      c.charges.push_back({std::move(agent), std::move(provider), std::move(period), tokens,
                           reservations});
    }
    return c;
  }
  if (kind == kKinds[3]) {
    LimitChangeTuple t;
    fields.convert(t);
    auto& [scope, provider, tokens, usd, previous_tokens, previous_usd, set_by] = t;
    return LimitChange{std::move(scope), std::move(provider), tokens, usd, previous_tokens,
                       previous_usd, std::move(set_by)};
  }
  return std::nullopt;
}

// "a\0b" into its two parts; nullopt without the NUL.
std::optional<std::pair<std::string_view, std::string_view>> split_nul(std::string_view key) {
  const size_t nul = key.find('\0');
  if (nul == std::string_view::npos) return std::nullopt;
  return std::make_pair(key.substr(0, nul), key.substr(nul + 1));
}

uint64_t read_be64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

}  // namespace

std::string usage_key(std::string_view period, std::string_view scope, std::string_view provider) {
  std::string key;
  key.reserve(period.size() + scope.size() + provider.size() + 2);
  key.append(period).push_back('\0');
  key.append(scope).push_back('\0');
  key.append(provider);
  return key;
}

std::string usage_prefix(std::string_view period) {
  std::string key(period);
  key.push_back('\0');
  return key;
}

std::string usage_prefix(std::string_view period, std::string_view scope) {
  std::string key = usage_prefix(period);
  key.append(scope).push_back('\0');
  return key;
}

std::optional<UsageKey> parse_usage_key(std::string_view key) {
  const size_t a = key.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = key.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  return UsageKey{key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1)};
}

std::string fired_key(std::string_view period, std::string_view scope, std::string_view provider,
                      AlertLevel level) {
  std::string key = usage_key(period, scope, provider);
  key.push_back('\0');
  key.push_back(static_cast<char>(level));
  return key;
}

std::string u64_key(uint64_t v) {
  std::string key;
  append_be64(key, v);
  return key;
}

std::string time_seq_key(int64_t at_ms, uint64_t seq) {
  std::string key;
  append_be64(key, sortable(at_ms));
  append_be64(key, seq);
  return key;
}

std::string day_key(std::string_view provider, int64_t day) {
  std::string key(provider);
  key.push_back('\0');
  append_be64(key, sortable(day));
  return key;
}

std::string idempotency_key(std::string_view agent, std::string_view key) {
  std::string out(agent);
  out.push_back('\0');
  out.append(key);
  return out;
}

std::string limit_key(const LimitKey& key) {
  std::string out(key.scope);
  out.push_back('\0');
  out.append(key.provider);
  return out;
}

std::optional<LimitKey> parse_limit_key(std::string_view key) {
  const auto parts = split_nul(key);
  if (!parts) return std::nullopt;
  return LimitKey{std::string(parts->first), std::string(parts->second)};
}

std::string day_usage_key(std::string_view scope, int64_t day, std::string_view provider) {
  std::string key(scope);
  key.push_back('\0');
  append_be64(key, sortable(day));
  key.append(provider);
  return key;
}

std::optional<DayUsageKey> parse_day_usage_key(std::string_view key) {
  const auto parts = split_nul(key);
  if (!parts || parts->second.size() < 8) return std::nullopt;
  const int64_t day = static_cast<int64_t>(read_be64(parts->second) ^ (uint64_t{1} << 63));
  return DayUsageKey{std::string(parts->first), day, std::string(parts->second.substr(8))};
}

std::string outbox_key(std::string_view destination, uint64_t id) {
  std::string key(destination);
  key.push_back('\0');
  append_be64(key, id);
  return key;
}

std::string encode_limit(const LimitOverride& l) {
  return pack(LimitTuple{l.tokens, l.usd, l.set_at_ms, l.set_by});
}

std::optional<LimitOverride> decode_limit(std::string_view bytes) {
  auto t = unpack<LimitTuple>(bytes, "limit");
  if (!t) return std::nullopt;
  auto& [tokens, usd, set_at_ms, set_by] = *t;
  return LimitOverride{tokens, usd, set_at_ms, std::move(set_by)};
}

std::string encode_day_usage(const DayUsage& d) {
  return pack(DayUsageTuple{d.used, d.requests, d.cost_usd});
}

DayUsage decode_day_usage(std::string_view bytes) {
  auto t = unpack<DayUsageTuple>(bytes, "usage_day");
  if (!t) return DayUsage{};
  return DayUsage{std::get<0>(*t), std::get<1>(*t), std::get<2>(*t)};
}

std::string encode_reservation(const ReservationRow& r) {
  return pack(ReservationTuple{r.agent, r.provider, r.period, r.request_id, r.amount, r.created_ms,
                               r.full_cost_usd.value_or(0.0)});
}

std::optional<ReservationRow> decode_reservation(std::string_view bytes) {
  try {
    const msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    const msgpack::object& o = oh.get();
    // msgpack-cxx fills a longer tuple from a shorter array: count first.
    if (o.type != msgpack::type::ARRAY || o.via.array.size < 6) throw msgpack::type_error();
    ReservationTuple t;
    o.convert(t);
    auto& [agent, provider, period, request_id, amount, created_ms, cost] = t;
    ReservationRow r{std::move(agent), std::move(provider), std::move(period),
                        std::move(request_id), amount, created_ms, std::nullopt};
    if (o.via.array.size >= kReservationFieldsWithCost) r.full_cost_usd = cost;
    return r;
  } catch (const std::exception& e) {
    spdlog::error("ledger: undecodable reservation record ({} bytes): {}", bytes.size(), e.what());
    return std::nullopt;
  }
}

std::string encode_alert(const Alert& a) {
  return pack(AlertTuple{static_cast<uint8_t>(a.level), a.ai_name, a.provider, a.threshold,
                         a.percentage, a.used, a.limit, a.period, a.at_ms, a.message, a.log_seq});
}

std::optional<Alert> decode_alert(std::string_view bytes) {
  auto t = unpack<AlertTuple>(bytes, "alert");
  if (!t) return std::nullopt;
  auto& [level, ai_name, provider, threshold, pct, used, limit, period, at_ms, message, seq] = *t;
  if (level < static_cast<uint8_t>(AlertLevel::kWarning) ||
      level > static_cast<uint8_t>(AlertLevel::kForecast)) {
    return std::nullopt;
  }
  return Alert{static_cast<AlertLevel>(level), std::move(ai_name), std::move(provider), threshold,
               pct, used, limit, std::move(period), at_ms, std::move(message), seq};
}

std::string encode_reset(const ResetRecord& r) {
  return pack(ResetTuple{r.at_ms, r.agent, r.provider, r.period, r.cleared});
}

std::optional<ResetRecord> decode_reset(std::string_view bytes) {
  auto t = unpack<ResetTuple>(bytes, "reset");
  if (!t) return std::nullopt;
  auto& [at_ms, agent, provider, period, cleared] = *t;
  return ResetRecord{at_ms, std::move(agent), std::move(provider), std::move(period), cleared};
}

std::string encode_ledger_record(const LedgerRecord& r) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  const std::string_view kind = kKinds[r.change.index()];
  pk.pack_array(4);
  pk.pack_str(static_cast<uint32_t>(kind.size()));
  pk.pack_str_body(kind.data(), static_cast<uint32_t>(kind.size()));
  pk.pack(r.at_ms);
  pk.pack(r.log_seq);
  std::visit(PackChange{pk}, r.change);
  return std::string(buf.data(), buf.size());
}

std::optional<LedgerRecord> decode_ledger_record(std::string_view bytes) {
  try {
    const msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    const msgpack::object& o = oh.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size < 4) {
      throw msgpack::type_error();
    }
    const msgpack::object* a = o.via.array.ptr;
    const auto kind = a[0].as<std::string>();
    auto change = unpack_change(kind, a[3]);
    if (!change) {
      spdlog::warn("ledger: ledger log record of unknown kind '{}' skipped", kind);
      return std::nullopt;
    }
    return LedgerRecord{std::move(*change), a[1].as<int64_t>(), a[2].as<uint64_t>()};
  } catch (const std::exception& e) {
    spdlog::error("ledger: undecodable ledger log record ({} bytes): {}", bytes.size(), e.what());
    return std::nullopt;
  }
}

std::string encode_idempotency(const IdempotencyRecord& r) {
  const std::string_view state = kIdempotencyStates[static_cast<size_t>(r.state)];
  return pack(IdempotencyTuple{std::string(state), r.expiry_ms, r.received_ms, r.fingerprint,
                               r.reservation_id, r.reply, r.reply_bytes});
}

std::optional<IdempotencyRecord> decode_idempotency(std::string_view bytes) {
  try {
    const msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    const msgpack::object& o = oh.get();
    IdempotencyRecord r;
    if (o.type == msgpack::type::ARRAY && o.via.array.size == 2) {
      auto legacy = o.as<LegacyIdempotencyTuple>();
      r.state = IdempotencyState::kDone;
      r.expiry_ms = std::get<0>(legacy);
      r.reply = std::move(std::get<1>(legacy));
      return r;
    }
    auto t = o.as<IdempotencyTuple>();
    auto& [state, expiry_ms, received_ms, fingerprint, reservation_id, reply, reply_bytes] = t;
    const auto known = std::find(kIdempotencyStates.begin(), kIdempotencyStates.end(), state);
    if (known == kIdempotencyStates.end()) {
      spdlog::warn("ledger: idempotency record in unknown state '{}' ignored", state);
      return std::nullopt;
    }
    r.state = static_cast<IdempotencyState>(known - kIdempotencyStates.begin());
    r.expiry_ms = expiry_ms;
    r.received_ms = received_ms;
    r.fingerprint = std::move(fingerprint);
    r.reservation_id = reservation_id;
    r.reply = std::move(reply);
    r.reply_bytes = reply_bytes;
    return r;
  } catch (const std::exception& e) {
    spdlog::error("ledger: undecodable idempotency record ({} bytes): {}", bytes.size(), e.what());
    return std::nullopt;
  }
}

std::string encode_u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

std::optional<uint64_t> decode_u64(std::string_view bytes) {
  if (bytes.size() != sizeof(uint64_t)) return std::nullopt;
  uint64_t v = 0;
  std::memcpy(&v, bytes.data(), sizeof v);
  return v;
}

std::string encode_sends(const std::vector<int64_t>& sent_ms) {
  return std::string(reinterpret_cast<const char*>(sent_ms.data()), sent_ms.size() * sizeof(int64_t));
}

std::vector<int64_t> decode_sends(std::string_view bytes) {
  if (bytes.size() % sizeof(int64_t) != 0) {
    spdlog::warn("ledger: a rate window row of {} bytes is not a list of times; read as empty",
                 bytes.size());
    return {};
  }
  std::vector<int64_t> out(bytes.size() / sizeof(int64_t));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::string encode_usage(const UsageRow& row) {
  return std::string(reinterpret_cast<const char*>(&row), sizeof row);
}

UsageRow decode_usage(std::string_view bytes) {
  UsageRow row;
  if (bytes.size() == sizeof(UsageRow) || bytes.size() == kUsageRowBytesBeforeUsd) {
    std::memcpy(&row, bytes.data(), bytes.size());
  } else {
    spdlog::error("ledger: usage row of {} bytes ignored (expected {})", bytes.size(),
                  sizeof(UsageRow));
  }
  return row;
}

}  // namespace tollgate::ledger::detail
