// The Notifier (workers/notify/notifier.h) against real receivers: a Python
// http.server webhook and an aiosmtpd SMTP server (notify_receivers.h), with
// an in-memory outbox. Waits are on what a receiver printed or on the
// outbox's depth, never on sleep.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>

#include "daemon/server/metrics.h"
#include "tests/integration/notify_receivers.h"
#include "workers/notify/memory_outbox.h"
#include "workers/notify/notifier.h"
#include "workers/notify/render.h"

using namespace std::chrono_literals;
using nlohmann::json;
using tollgate::NotifyDestination;
using tollgate::notify::MemoryOutbox;
using tollgate::notify::Notifier;
using tollgate::notify::NotifierOptions;
using tollgate::notify::OutboxItem;
using tollgate::testing::closed_port;
using tollgate::testing::hmac_hex;
using tollgate::testing::scaled;
using tollgate::testing::SmtpReceiver;
using tollgate::testing::WebhookReceiver;

namespace {

OutboxItem alert(const std::string& level, uint64_t used = 95, int64_t at_ms = 1795970670000) {
  const json body = {{"level", level},
                     {"ai_name", "imperium"},
                     {"provider", "anthropic"},
                     {"threshold", 0.95},
                     {"percentage", 95.0},
                     {"used", used},
                     {"limit", 100},
                     {"period", "2026-11"},
                     {"at_ms", at_ms},
                     {"message", "imperium's anthropic budget reached " + level}};
  return OutboxItem{0, "", "alert." + level, body.dump(), level, at_ms};
}

NotifyDestination webhook(const std::string& name, const std::string& url) {
  NotifyDestination d;
  d.name = name;
  d.url = url;
  d.timeout_ms = 5000;
  return d;
}

// Fast retries, so that a test sees several attempts in well under a second.
NotifierOptions fast(tollgate::metrics::Registry* registry = nullptr) {
  NotifierOptions o;
  o.retry = tollgate::notify::RetryPolicy{20, 100};
  o.metrics = registry;
  return o;
}

const auto kWait = scaled(20s);

}  // namespace

TEST_CASE("a webhook delivery arrives signed with its delivery id and the alert body with topic") {
  WebhookReceiver receiver;
  MemoryOutbox outbox;
  const uint64_t id = outbox.add(alert("critical"), {"hook"});
  auto d = webhook("hook", receiver.url());
  d.secret = "s3cret-zzSECRETzz";
  tollgate::metrics::Registry registry;
  Notifier notifier({d}, outbox, fast(&registry));
  notifier.start();

  const auto got = receiver.wait_for(1, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));
  const auto& headers = got[0]["headers"];
  const std::string body = got[0]["body"];
  CHECK(headers["Content-Type"] == "application/json");
  CHECK(headers["X-Tollgate-Signature"] == "sha256=" + hmac_hex(d.secret, body));
  OutboxItem sent = alert("critical");
  sent.id = id;
  sent.destination = "hook";
  const std::string delivery = tollgate::notify::delivery_id(sent);
  CHECK(headers["X-Tollgate-Delivery"] == delivery);
  const json j = json::parse(body);
  CHECK(j["topic"] == "alert.critical");
  CHECK(j["delivery_id"] == delivery);
  CHECK(j["level"] == "critical");
  CHECK(j["ai_name"] == "imperium");
  CHECK(outbox.done_calls() == std::vector<std::pair<uint64_t, std::string>>{{id, "hook"}});
  CHECK(notifier.stats().destinations[0].delivered == 1);
  CHECK(notifier.stats().outbox_depth == 0);
  notifier.stop();
  const std::string metrics = registry.render_prometheus();
  CHECK(metrics.find(
            "tollgate_notify_deliveries_total{destination=\"hook\",result=\"delivered\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("tollgate_notify_outbox_depth 0") != std::string::npos);
}

TEST_CASE("a slack destination gets a text body and an unsigned one has no signature header") {
  WebhookReceiver receiver;
  MemoryOutbox outbox;
  outbox.add(alert("warning", 80), {"slack"});
  auto d = webhook("slack", receiver.url());
  d.format = "slack";
  Notifier notifier({d}, outbox, fast());
  notifier.start();
  const auto got = receiver.wait_for(1, kWait);
  const json j = json::parse(std::string(got[0]["body"]));
  REQUIRE(j.size() == 1);
  CHECK(j["text"] ==
        "[tollgate] warning: agent imperium's anthropic budget is at 95.0% (80 of 100 tokens, "
        "period 2026-11)");
  CHECK_FALSE(got[0]["headers"].contains("X-Tollgate-Signature"));
  CHECK(got[0]["headers"].contains("X-Tollgate-Delivery"));
}

TEST_CASE("a receiver answering 500 twice then 200 gets the item with one delivery id") {
  WebhookReceiver receiver({"--fail-first", "2"});
  MemoryOutbox outbox;
  outbox.add(alert("emergency"), {"hook"});
  Notifier notifier({webhook("hook", receiver.url())}, outbox, fast());
  notifier.start();
  const auto got = receiver.wait_for(3, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));
  REQUIRE(got.size() == 3);
  CHECK(got[0]["status"] == 500);
  CHECK(got[1]["status"] == 500);
  CHECK(got[2]["status"] == 200);
  CHECK(got[0]["headers"]["X-Tollgate-Delivery"] == got[2]["headers"]["X-Tollgate-Delivery"]);
  CHECK(got[1]["body"] == got[2]["body"]);
  const auto s = notifier.stats().destinations[0];
  CHECK(s.retried == 2);
  CHECK(s.delivered == 1);
  CHECK(s.failing == 0);
}

TEST_CASE("a destination that is down or hangs does not hold up another destination") {
  WebhookReceiver good;
  WebhookReceiver hanging({"--hang"});
  MemoryOutbox outbox;
  const std::vector<std::string> all = {"down", "hang", "good"};
  for (uint64_t used : {81, 96, 99}) outbox.add(alert("warning", used), all);
  auto hang = webhook("hang", hanging.url());
  hang.timeout_ms = 600000;  // only stop() ends its attempt
  Notifier notifier({webhook("down", "http://127.0.0.1:" + std::to_string(closed_port()) + "/hook"),
                     hang, webhook("good", good.url())},
                    outbox, fast());
  notifier.start();
  const auto got = good.wait_for(3, kWait);
  REQUIRE(got.size() == 3);
  for (size_t i = 0; i < 3; ++i) {  // in order
    CHECK(json::parse(std::string(got[i]["body"]))["used"] == std::vector<int>{81, 96, 99}[i]);
  }
  REQUIRE(outbox.wait_for_depth(6, kWait));  // down's and hang's three each stay
  const auto before_stop = std::chrono::steady_clock::now();
  notifier.stop();  // aborts hang's attempt in flight without waiting for its timeout
  const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - before_stop);
  INFO("stop took " << stop_ms.count() << " ms");
  CHECK(stop_ms < 2s);
  const auto s = notifier.stats();
  CHECK(s.destinations[0].delivered == 0);
  CHECK(s.destinations[0].retried >= 1);
  CHECK(s.destinations[1].delivered == 0);
  CHECK(s.destinations[2].delivered == 3);
  CHECK(s.outbox_depth == 6);
}

TEST_CASE("a backlog of alerts arrives oldest first") {
  WebhookReceiver receiver;
  MemoryOutbox outbox;
  constexpr uint64_t kBacklog = 100;
  for (uint64_t used = 1; used <= kBacklog; ++used) outbox.add(alert("warning", used), {"hook"});
  Notifier notifier({webhook("hook", receiver.url())}, outbox, fast());
  const auto start = std::chrono::steady_clock::now();
  notifier.start();
  const auto got = receiver.wait_for(kBacklog, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  INFO(kBacklog << " deliveries in " << ms.count() << " ms");
  REQUIRE(got.size() == kBacklog);
  for (uint64_t i = 0; i < kBacklog; ++i) {
    CHECK(json::parse(std::string(got[i]["body"]))["used"] == i + 1);
  }
  CHECK(notifier.stats().destinations[0].delivered == kBacklog);
}

TEST_CASE("items left in the outbox are delivered by the next notifier with the same delivery id") {
  MemoryOutbox outbox;
  outbox.add(alert("exhausted"), {"hook"});
  const int port = closed_port();
  {
    Notifier down({webhook("hook", "http://127.0.0.1:" + std::to_string(port) + "/hook")}, outbox,
                  fast());
    down.start();
    down.notify_new();
    down.stop();
  }
  REQUIRE(outbox.depth() == 1);
  WebhookReceiver receiver({"--port", std::to_string(port)});
  Notifier up({webhook("hook", receiver.url())}, outbox, fast());
  up.start();
  const auto got = receiver.wait_for(1, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));
  CHECK(json::parse(std::string(got[0]["body"]))["delivery_id"] ==
        got[0]["headers"]["X-Tollgate-Delivery"]);
}

TEST_CASE("a destination filtered to emergency gets no warning and its outbox still drains") {
  WebhookReceiver receiver;
  MemoryOutbox outbox;
  outbox.add(alert("warning"), {"pager"});
  outbox.add(alert("emergency"), {"pager"});
  auto d = webhook("pager", receiver.url());
  d.levels = {"emergency"};
  Notifier notifier({d}, outbox, fast());
  notifier.start();
  receiver.wait_for(1, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));  // the warning was done() before the emergency was sent
  const auto got = receiver.received();
  REQUIRE(got.size() == 1);
  CHECK(json::parse(std::string(got[0]["body"]))["level"] == "emergency");
  CHECK(notifier.stats().destinations[0].filtered == 1);
  CHECK(outbox.done_calls().size() == 2);
}

TEST_CASE(
    "a refused item is given up after its destination's count and the next one is delivered") {
  WebhookReceiver receiver({"--fail-first", "2", "--fail-status", "400"});
  MemoryOutbox outbox;
  outbox.add(alert("warning", 80), {"hook"});
  outbox.add(alert("critical", 95), {"hook"});
  auto d = webhook("hook", receiver.url());
  d.give_up_after = 2;
  Notifier notifier({d}, outbox, fast());
  notifier.start();
  const auto got = receiver.wait_for(3, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));
  CHECK(json::parse(std::string(got[1]["body"]))["level"] == "warning");
  CHECK(json::parse(std::string(got[2]["body"]))["level"] == "critical");
  const auto s = notifier.stats().destinations[0];
  CHECK(s.failed == 1);
  CHECK(s.retried == 1);
  CHECK(s.delivered == 1);
}

TEST_CASE(
    "an e-mail alert arrives at the SMTP server with its sender recipients subject and body") {
  SmtpReceiver smtp;
  MemoryOutbox outbox;
  outbox.add(alert("critical"), {"mail"});
  NotifyDestination d;
  d.kind = NotifyDestination::Kind::kEmail;
  d.name = "mail";
  d.smtp_url = smtp.url();
  d.from = "tollgate@example.com";
  d.to = {"ops@example.com", "oncall@example.com"};
  d.timeout_ms = 5000;
  Notifier notifier({d}, outbox, fast());
  notifier.start();
  const auto got = smtp.wait_for(1, kWait);
  REQUIRE(outbox.wait_for_depth(0, kWait));
  CHECK(got[0]["mail_from"] == "tollgate@example.com");
  CHECK(got[0]["rcpt_tos"] == std::vector<std::string>{"ops@example.com", "oncall@example.com"});
  const std::string data = got[0]["data"];
  INFO(data);
  CHECK(data.find("From: tollgate@example.com\r\n") != std::string::npos);
  CHECK(data.find("To: ops@example.com, oncall@example.com\r\n") != std::string::npos);
  CHECK(data.find("Subject: [tollgate] critical: agent imperium's anthropic budget is at 95.0%") !=
        std::string::npos);
  CHECK(data.find("Message-ID: <") != std::string::npos);
  CHECK(data.find("\r\nused: 95\r\n") != std::string::npos);
  CHECK(notifier.stats().destinations[0].delivered == 1);
}

TEST_CASE("an e-mail destination that requires STARTTLS refuses a server without it") {
  SmtpReceiver smtp;  // plain SMTP, no STARTTLS
  MemoryOutbox outbox;
  outbox.add(alert("critical"), {"mail"});
  NotifyDestination d;
  d.kind = NotifyDestination::Kind::kEmail;
  d.name = "mail";
  d.smtp_url = smtp.url();
  d.from = "tollgate@example.com";
  d.to = {"ops@example.com"};
  d.starttls = "require";
  d.give_up_after = 1;
  Notifier notifier({d}, outbox, fast());
  notifier.start();
  REQUIRE(outbox.wait_for_depth(0, kWait));
  CHECK(notifier.stats().destinations[0].failed == 1);
  CHECK(smtp.received().empty());
}

TEST_CASE("notification logs name the destination and never its secret or its URL path") {
  std::ostringstream logs;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(logs));
  capture->set_level(spdlog::level::trace);
  spdlog::set_default_logger(capture);
  {
    WebhookReceiver receiver({"--fail-first", "1", "--fail-status", "401"});
    MemoryOutbox outbox;
    outbox.add(alert("critical"), {"hook"});
    auto d =
        webhook("hook", "http://127.0.0.1:" + std::to_string(receiver.port()) + "/T000/zzPATHzz");
    d.secret = "zzSECRETzz";
    Notifier notifier({d}, outbox, fast());
    notifier.start();
    receiver.wait_for(2, kWait);
    REQUIRE(outbox.wait_for_depth(0, kWait));
  }
  spdlog::set_default_logger(previous);
  const std::string text = logs.str();
  INFO(text);
  CHECK(text.find("notify: hook refused") != std::string::npos);
  CHECK(text.find("notify: hook delivered") != std::string::npos);
  CHECK(text.find("zzSECRETzz") == std::string::npos);
  CHECK(text.find("zzPATHzz") == std::string::npos);
}
