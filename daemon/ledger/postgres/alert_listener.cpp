#include "daemon/ledger/postgres/alert_listener.h"

#include <poll.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "daemon/ledger/postgres/pg_rows.h"
#include "daemon/ledger/postgres/pg_schema.h"
#include "daemon/ledger/row_codec.h"

namespace tollgate::ledger::pg {
namespace {

// How often the listener looks at its stop token while nothing arrives,
// and how long it waits before connecting again after a failure.
constexpr int kPollMs = 200;
constexpr auto kReconnect = std::chrono::seconds(1);

// The alert's seq: the second half of its alerts-log key (time_seq_key).
std::optional<uint64_t> seq_of(const std::string& key) {
  if (key.size() != 16) return std::nullopt;
  uint64_t seq = 0;
  for (size_t i = 8; i < 16; ++i) seq = (seq << 8) | static_cast<unsigned char>(key[i]);
  return seq;
}

// The ledger's log_seq now (0 for a new ledger).
uint64_t stored_log_seq(PgConn& conn) {
  auto r = conn.query("SELECT v FROM tollgate_rows WHERE tbl = $1::smallint AND k = $2",
                      {PgParam::num(static_cast<int16_t>(RowTable::kMeta)),
                       PgParam::bytes(kMetaLogSeq)});
  return r.rows() == 0 ? 0 : detail::decode_u64(r.bytes(0, 0)).value_or(0);
}

// A seq as the second half of a key compares (8 bytes, big-endian).
std::string seq_bytes(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return out;
}

}  // namespace

AlertListener::AlertListener(Connect connect, std::string channel, std::string owner,
                             std::function<void(const Alert&)> deliver,
                             std::function<void(const LedgerRecord&)> deliver_record)
    : connect_(std::move(connect)),
      channel_(std::move(channel)),
      owner_(std::move(owner)),
      deliver_(std::move(deliver)),
      deliver_record_(std::move(deliver_record)),
      thread_([this](std::stop_token stop) { run(stop); }) {
  std::unique_lock lock(started_mu_);
  started_cv_.wait(lock, [this] { return started_; });
}

AlertListener::~AlertListener() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void AlertListener::run(const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any wake;
  bool warned = false;
  auto started = [this] {
    std::lock_guard lock(started_mu_);
    if (started_) return;
    started_ = true;
    started_cv_.notify_all();
  };
  while (!stop.stop_requested()) {
    try {
      auto conn = connect_();
      // Where hearing starts: alerts committed from here on are delivered,
      // by announcement or by the catch-up after LISTEN.
      if (!last_seq_) last_seq_ = stored_log_seq(*conn);
      conn->exec("LISTEN \"" + channel_ + "\"");
      catch_up(*conn);
      started();
      if (warned) spdlog::info("ledger: listening for other daemons' alerts again");
      warned = false;
      listen(*conn, stop);
    } catch (const PgError& e) {
      if (!warned) spdlog::warn("ledger: alert listener lost PostgreSQL: {}", e.what());
      warned = true;
      started();
    }
    std::unique_lock lock(mu);
    wake.wait_for(lock, stop, kReconnect, [] { return false; });
  }
  started();  // stopped before the first attempt ended
}

void AlertListener::listen(PgConn& conn, const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    pollfd p{conn.socket(), POLLIN, 0};
    if (::poll(&p, 1, kPollMs) < 0) continue;  // EINTR: look again
    for (const std::string& payload : conn.notifications()) deliver_one(conn, payload);
  }
}

void AlertListener::deliver_one(PgConn& conn, const std::string& payload) {
  const auto parsed = parse_alert_payload(payload);
  const auto seq = parsed ? seq_of(parsed->second) : std::nullopt;
  if (!seq) {
    spdlog::warn("ledger: unreadable alert announcement ignored");
    return;
  }
  if (last_seq_ && *seq <= *last_seq_) return;  // delivered by the catch-up
  last_seq_ = *seq;
  if (parsed->first == owner_) return;  // ours: published by this daemon already
  auto r = conn.query(
      "SELECT tbl::int8, v FROM tollgate_rows WHERE (tbl = $1::smallint OR tbl = $3::smallint)"
      " AND k = $2",
      {PgParam::num(static_cast<int16_t>(RowTable::kAlerts)), PgParam::bytes(parsed->second),
       PgParam::num(static_cast<int16_t>(RowTable::kLedgerLog))});
  if (r.rows() == 0) return;
  deliver_row(static_cast<int16_t>(r.i64(0, 0)), r.bytes(0, 1));
}

void AlertListener::catch_up(PgConn& conn) {
  // Alerts are few (each level of each budget once a period): the scan
  // of their keys is cheap, and it runs once per connection.
  auto r = conn.query(
      "SELECT a.k, a.tbl::int8, a.v, o.v FROM tollgate_rows a"
      " LEFT JOIN tollgate_rows o ON o.tbl = $3::smallint AND o.k = a.k"
      " WHERE (a.tbl = $1::smallint OR a.tbl = $4::smallint)"
      " AND substring(a.k from 9 for 8) > $2 ORDER BY substring(a.k from 9 for 8)",
      {PgParam::num(static_cast<int16_t>(RowTable::kAlerts)),
       PgParam::bytes(seq_bytes(last_seq_.value_or(0))),
       PgParam::num(static_cast<int16_t>(RowTable::kOrigin)),
       PgParam::num(static_cast<int16_t>(RowTable::kLedgerLog))});
  size_t missed = 0;
  for (int i = 0; i < r.rows(); ++i) {
    const auto seq = seq_of(r.bytes(i, 0));
    if (!seq) continue;
    last_seq_ = std::max(last_seq_.value_or(0), *seq);
    if (!r.null(i, 3) && r.bytes(i, 3) == owner_) continue;
    deliver_row(static_cast<int16_t>(r.i64(i, 1)), r.bytes(i, 2));
    ++missed;
  }
  if (missed > 0) {
    spdlog::info("ledger: {} alerts and ledger events of other daemons from while this one was "
                 "not listening, published now",
                 missed);
  }
}

void AlertListener::deliver_row(int16_t table, const std::string& bytes) {
  try {
    if (table == static_cast<int16_t>(RowTable::kAlerts)) {
      if (auto alert = detail::decode_alert(bytes); alert && deliver_) deliver_(*alert);
    } else if (auto record = detail::decode_ledger_record(bytes); record && deliver_record_) {
      deliver_record_(*record);
    }
  } catch (const std::exception& e) {
    spdlog::error("ledger: the remote alert listener threw: {}", e.what());
  }
}

}  // namespace tollgate::ledger::pg
