// Alert notifications through the real tollgated (PROTOCOL.md section 10):
// every alert lands in the ledger's outbox in its own transaction and is
// delivered at least once to a real webhook receiver (signed) and a real
// SMTP server, across a SIGKILL in the middle of a delivery and a receiver
// that is down while the daemon comes back; duplicates carry the same
// delivery id.
#include <catch2/catch.hpp>

#include <strings.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <set>

#include "tests/integration/call_harness.h"
#include "tests/integration/notify_receivers.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

const std::string kSecret = "whsec-test-0451";

// A header by name, whatever case the client sent it in.
std::string header(const json& request, const std::string& name) {
  for (const auto& [key, value] : request["headers"].items()) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return value.get<std::string>();
  }
  return {};
}

Env notify_env(const FakeProviderProcess& fake, const std::string& data_dir, int webhook_port,
               const SmtpReceiver& smtp) {
  return merge(fake.provider_env(),
               {{"TOLLGATE_DATA_DIR", data_dir},
                {"TOLLGATE_WEBHOOK_URL", "http://127.0.0.1:" + std::to_string(webhook_port) + "/hook"},
                {"TOLLGATE_WEBHOOK_SECRET", kSecret},
                {"TOLLGATE_SMTP_URL", smtp.url()},
                {"TOLLGATE_ALERT_EMAIL_FROM", "tollgate@example.com"},
                {"TOLLGATE_ALERT_EMAIL_TO", "ops@example.com"},
                {"TOLLGATE_SMTP_STARTTLS", "none"},
                {"TOLLGATE_NOTIFY_RETRY_MIN_MS", "50"},
                {"TOLLGATE_NOTIFY_RETRY_MAX_MS", "200"},
                {"TOLLGATE_NOTIFY_TIMEOUT_MS", "600000"}});
}

}  // namespace

TEST_CASE("every alert reaches a signed webhook and an SMTP server across a kill mid-delivery and a receiver outage") {
  TempDir data;
  FakeProviderProcess fake;
  SmtpReceiver smtp;
  const int port = closed_port();
  const Env env = notify_env(fake, data.path(), port, smtp);
  std::vector<json> alerts;  // as published
  {
    WebhookReceiver hanging({"--port", std::to_string(port), "--hang"});
    TollgatedProcess d(env);
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    EventCollector events(ctx, d.events());
    events.sync(client);
    auto call = client.request(call_body("imperium", "hello", 20));
    REQUIRE(call["ok"] == true);
    const uint64_t used = call["usage"]["total_tokens"].get<uint64_t>();
    // A limit at what is used fires every level at once: four alerts.
    REQUIRE(client.request({{"op", "set_limit"}, {"ai_name", "imperium"},
                            {"provider", "anthropic"}, {"limit", used}})["ok"] == true);
    REQUIRE(events.wait_until([&](const auto&) { return events.with_prefix("alert.").size() >= 4; },
                              scaled(10s)));
    alerts = events.with_prefix("alert.");
    // E-mail is up: every alert is mailed. The webhook hangs on the first.
    auto mails = smtp.wait_for(alerts.size(), scaled(20s));
    CHECK(mails.size() == alerts.size());
    hanging.wait_for(1, scaled(10s));
    d.process().signal(SIGKILL);  // in the middle of that delivery
    REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
  }
  // Back up while the receiver is down: the deliveries wait in the outbox.
  TollgatedProcess d(env);
  REQUIRE(d.process().wait_for_line("notify: webhook failed", scaled(20s)));
  WebhookReceiver receiver({"--port", std::to_string(port)});
  auto got = receiver.wait_for(alerts.size(), scaled(20s));
  std::map<std::string, std::string> delivery_of;  // "level ai_name provider" -> delivery id
  for (const auto& request : got) {
    const std::string body = request["body"];
    INFO(body);
    CHECK(header(request, "X-Tollgate-Signature") == "sha256=" + hmac_hex(kSecret, body));
    const json alert = json::parse(body);
    const std::string delivery = header(request, "X-Tollgate-Delivery");
    CHECK(alert["delivery_id"] == delivery);
    CHECK(alert["topic"] == "alert." + alert["level"].get<std::string>());
    const std::string key = alert["level"].get<std::string>() + " " +
                            alert["ai_name"].get<std::string>() + " " +
                            alert["provider"].get<std::string>();
    // A duplicate is identifiable: the same alert always has the same id.
    auto [it, fresh] = delivery_of.emplace(key, delivery);
    CHECK((fresh || it->second == delivery));
  }
  for (const auto& a : alerts) {
    const std::string key = a["level"].get<std::string>() + " " + a["ai_name"].get<std::string>() +
                            " " + a["provider"].get<std::string>();
    CHECK(delivery_of.count(key) == 1);
  }
}
