#include "daemon/ledger/postgres/alert_listener.h"

#include <poll.h>

#include <spdlog/spdlog.h>

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

}  // namespace

AlertListener::AlertListener(Connect connect, std::string channel, std::string owner,
                             std::function<void(const Alert&)> deliver)
    : connect_(std::move(connect)),
      channel_(std::move(channel)),
      owner_(std::move(owner)),
      deliver_(std::move(deliver)),
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
      conn->exec("LISTEN \"" + channel_ + "\"");
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
  if (!parsed) {
    spdlog::warn("ledger: unreadable alert announcement ignored");
    return;
  }
  if (parsed->first == owner_) return;  // ours: published by this daemon already
  auto r = conn.query("SELECT v FROM tollgate_rows WHERE tbl = $1::smallint AND k = $2",
                      {PgParam::num(static_cast<int16_t>(RowTable::kAlerts)),
                       PgParam::bytes(parsed->second)});
  if (r.rows() == 0) return;
  if (auto alert = detail::decode_alert(r.bytes(0, 0))) {
    try {
      deliver_(*alert);
    } catch (const std::exception& e) {
      spdlog::error("ledger: the remote alert listener threw: {}", e.what());
    }
  }
}

}  // namespace tollgate::ledger::pg
