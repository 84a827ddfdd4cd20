// AlertListener: every daemon publishes every alert and every `ledger`
// event (reset, rollover, limit, recovered) fired anywhere in the cluster
// (PROTOCOL.md section 12; internal to the PostgreSQL backend). A batch
// that fires alerts or writes ledger records announces each (pg_notify on
// the ledger's alert channel, pg_rows.h; the key says which log it is in,
// as both share log_seq) in its own transaction, so the announcement is
// delivered exactly when it is committed. The listener LISTENs on a
// connection of its own, reads each announced one from its log and hands
// it to `deliver` (alerts) or `deliver_record` (ledger records), skipping
// its own daemon's (that daemon publishes them from its operations'
// results).
//
// Nothing is missed across a disconnection (the database restarting, the
// listener's connection dropped): alerts carry the ledger's log_seq, which
// every daemon's batches advance one after another under the ledger's
// lock, so commit order is seq order. The listener keeps the highest seq
// it has heard of; after each LISTEN (the first included, from a seq read
// before it) it reads the alerts log past that seq and delivers what it
// did not hear, skipping the ones its own daemon fired (RowTable::
// kOrigin); an announcement for a seq it already has is skipped.
//
// One thread of its own; `deliver` runs on it (keep it cheap: post).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/core/ledger_types.h"
#include "daemon/ledger/postgres/pg_conn.h"

namespace tollgate::ledger::pg {

class AlertListener {
 public:
  using Connect = std::function<std::unique_ptr<PgConn>()>;
  // Returns once the first LISTEN succeeded or failed: alerts committed
  // after a successful start are all heard.
  AlertListener(Connect connect, std::string channel, std::string owner,
                std::function<void(const Alert&)> deliver,
                std::function<void(const LedgerRecord&)> deliver_record);
  ~AlertListener();  // stops and joins its thread
  AlertListener(const AlertListener&) = delete;
  AlertListener& operator=(const AlertListener&) = delete;

 private:
  void run(const std::stop_token& stop);
  // Listens until stop or a connection failure (thrown).
  void listen(PgConn& conn, const std::stop_token& stop);
  void deliver_one(PgConn& conn, const std::string& payload);
  // Delivers the others' alerts in the log past last_seq_, in seq order.
  void catch_up(PgConn& conn);
  // A row of the alerts log or the ledger log, to its callback.
  void deliver_row(int16_t table, const std::string& bytes);

  const Connect connect_;
  const std::string channel_;
  const std::string owner_;
  const std::function<void(const Alert&)> deliver_;
  const std::function<void(const LedgerRecord&)> deliver_record_;
  // The highest alert seq heard of (listener thread only); nullopt until
  // the first read of the ledger's log_seq.
  std::optional<uint64_t> last_seq_;
  std::mutex started_mu_;
  std::condition_variable started_cv_;
  bool started_ = false;  // guarded by started_mu_
  std::jthread thread_;  // last: started once the above exist
};

}  // namespace tollgate::ledger::pg
