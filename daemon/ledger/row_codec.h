// The byte encoding of the ledger's rows (rows.h) shared by the backends
// that store them as keys and values: the LMDB tables (lmdb/ledger_tables.h,
// laid out in lmdb_ledger.h's DESIGN block) and the PostgreSQL rows
// (postgres/pg_ledger.h). Keys sort as the byte strings they are, in the
// order rows.h promises; values are msgpack arrays or fixed-size structs.
// A value that cannot be decoded is reported as std::nullopt (or zeros)
// plus an error log, never as a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/budget.h"
#include "daemon/core/ledger_types.h"
#include "daemon/ledger/rows.h"

namespace tollgate::ledger::detail {

// ---- keys
std::string usage_key(std::string_view period, std::string_view scope, std::string_view provider);
// The prefix of every usage key of a period ("YYYY-MM\0"), and of one scope
// in it ("YYYY-MM\0scope\0").
std::string usage_prefix(std::string_view period);
std::string usage_prefix(std::string_view period, std::string_view scope);
struct UsageKey {
  std::string_view period, scope, provider;
};
std::optional<UsageKey> parse_usage_key(std::string_view key);

std::string fired_key(std::string_view period, std::string_view scope, std::string_view provider,
                      AlertLevel level);
std::string u64_key(uint64_t v);                   // big-endian, sorts numerically
std::string time_seq_key(int64_t at_ms, uint64_t seq);  // sorts by time, then seq
std::string day_key(std::string_view provider, int64_t day);
std::string idempotency_key(std::string_view agent, std::string_view key);
std::string limit_key(const LimitKey& key);
std::optional<LimitKey> parse_limit_key(std::string_view key);
// "scope\0" + day i64 BE (sign-flipped) + provider; the prefix of a scope's
// rows from a day on is the key without the provider.
std::string day_usage_key(std::string_view scope, int64_t day, std::string_view provider);
std::optional<DayUsageKey> parse_day_usage_key(std::string_view key);
// "destination\0" + id u64 BE.
std::string outbox_key(std::string_view destination, uint64_t id);

// ---- values
std::string encode_reservation(const ReservationRow& r);
std::optional<ReservationRow> decode_reservation(std::string_view bytes);
std::string encode_alert(const Alert& a);
std::optional<Alert> decode_alert(std::string_view bytes);
std::string encode_reset(const ResetRecord& r);
std::optional<ResetRecord> decode_reset(std::string_view bytes);
// ledger_log: msgpack [kind, at_ms, log_seq, fields of the kind]; a record
// of a kind this build does not know is skipped (nullopt, logged).
std::string encode_ledger_record(const LedgerRecord& r);
std::optional<LedgerRecord> decode_ledger_record(std::string_view bytes);
std::string encode_idempotency(const IdempotencyRecord& r);
// Also reads the records of older tollgateds ([expiry_ms, reply]: "done"
// without a fingerprint); nullopt (logged) for one it cannot read.
std::optional<IdempotencyRecord> decode_idempotency(std::string_view bytes);

std::string encode_limit(const LimitOverride& l);
std::optional<LimitOverride> decode_limit(std::string_view bytes);
std::string encode_day_usage(const DayUsage& d);
DayUsage decode_day_usage(std::string_view bytes);  // zeros for a malformed row (logged)

std::string encode_u64(uint64_t v);
std::optional<uint64_t> decode_u64(std::string_view bytes);
// rate_minute: a provider's send times, int64 ms each (host byte order, as
// the counters); empty for a malformed row (logged).
std::string encode_sends(const std::vector<int64_t>& sent_ms);
std::vector<int64_t> decode_sends(std::string_view bytes);

UsageRow decode_usage(std::string_view bytes);  // zeros for a malformed row (logged)
// The stored bytes of a usage row (host byte order, 48 bytes).
std::string encode_usage(const UsageRow& row);

}  // namespace tollgate::ledger::detail
