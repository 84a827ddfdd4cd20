// What a notification destination receives for one outbox item (PROTOCOL.md
// section 10), and whether it wants it. Pure: no I/O, no clock reads.
//
// - delivery_id: "<outbox id>-<created_ms>-<8 hex of the destination's
//   name>": the same for every attempt at one (alert, destination), across
//   retries and restarts, and different for another destination or for a
//   row of a ledger started afresh (its ids start over, its times do not).
// - webhook "json": the alert event body plus `topic` and `delivery_id`.
// - webhook "slack": {"text": one readable line}.
// - e-mail: an RFC 5322 message, CRLF line ends, plain-text UTF-8 body.
#pragma once

#include <string>

#include "daemon/core/config.h"
#include "workers/notify/outbox.h"

namespace tollgate::notify {

std::string delivery_id(const OutboxItem& item);

// Does the destination get alerts of this level (its `levels`, empty: all)?
bool wants(const NotifyDestination& destination, const std::string& level);

// The generic JSON body. A body_json that is not a JSON object is sent as
// {"topic", "delivery_id", "body": "<the text>"}.
std::string render_json(const OutboxItem& item);

// One line for people: level, agent (or global), provider, percentage, used
// of limit, period; the alert's own `message` when the fields are missing
// (forecasts).
std::string alert_line(const OutboxItem& item);
// The Slack-compatible body: {"text": "[tollgate] <alert_line>"}.
std::string render_slack(const OutboxItem& item);

// The whole message: From, To, Subject "[tollgate] <level>: ...", Date (the
// alert's created_ms), Message-ID <delivery id@tollgate>, then the alert's
// fields one per line.
std::string render_email(const OutboxItem& item, const NotifyDestination& destination);

// "Sun, 29 Nov 2026 16:44:30 +0000".
std::string rfc5322_date(int64_t unix_ms);

}  // namespace tollgate::notify
