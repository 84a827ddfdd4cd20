// AlertListener: every daemon publishes every alert fired anywhere in the
// cluster (PROTOCOL.md section 12; internal to the PostgreSQL backend). A
// batch that fires alerts announces each (pg_notify on the ledger's alert
// channel, pg_rows.h) in its own transaction, so the announcement is
// delivered exactly when the alert is committed. The listener LISTENs on a
// connection of its own, reads each announced alert from the alerts log
// and hands it to `deliver`, skipping its own daemon's (that daemon
// publishes them from its operations' results).
//
// An announcement made while the listener is disconnected (the database
// restarting) is not seen: the alert is still in the log (`alerts` op).
//
// One thread of its own; `deliver` runs on it (keep it cheap: post).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>
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
                std::function<void(const Alert&)> deliver);
  ~AlertListener();  // stops and joins its thread
  AlertListener(const AlertListener&) = delete;
  AlertListener& operator=(const AlertListener&) = delete;

 private:
  void run(const std::stop_token& stop);
  // Listens until stop or a connection failure (thrown).
  void listen(PgConn& conn, const std::stop_token& stop);
  void deliver_one(PgConn& conn, const std::string& payload);

  const Connect connect_;
  const std::string channel_;
  const std::string owner_;
  const std::function<void(const Alert&)> deliver_;
  std::mutex started_mu_;
  std::condition_variable started_cv_;
  bool started_ = false;  // guarded by started_mu_
  std::jthread thread_;  // last: started once the above exist
};

}  // namespace tollgate::ledger::pg
