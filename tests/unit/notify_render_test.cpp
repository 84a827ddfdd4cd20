// What a notification destination receives (workers/notify/render.h,
// signature.h): pure, no network.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "workers/notify/render.h"
#include "workers/notify/signature.h"

using nlohmann::json;
using tollgate::NotifyDestination;
using tollgate::notify::OutboxItem;

namespace {

const char* kBody =
    R"({"level":"critical","ai_name":"imperium","provider":"anthropic","threshold":0.95,)"
    R"("percentage":95.2,"used":133280,"limit":140000,"period":"2026-11","at_ms":1795970670000,)"
    R"("message":"imperium's anthropic budget reached critical"})";

OutboxItem item(uint64_t id = 7, const std::string& destination = "ops") {
  return OutboxItem{id, destination, "alert.critical", kBody, "critical", 1795970670000};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the delivery id is stable per item and destination and differs otherwise") {
  const auto id = tollgate::notify::delivery_id(item());
  CHECK(id == tollgate::notify::delivery_id(item()));
  CHECK(id.rfind("7-1795970670000-", 0) == 0);
  CHECK(id != tollgate::notify::delivery_id(item(7, "slack")));
  CHECK(id != tollgate::notify::delivery_id(item(8)));
  auto fresh = item();
  fresh.created_ms += 1;  // a ledger started afresh reuses ids, not times
  CHECK(id != tollgate::notify::delivery_id(fresh));
}

TEST_CASE("the generic JSON body is the alert body plus topic and delivery id") {
  const json j = json::parse(tollgate::notify::render_json(item()));
  CHECK(j["level"] == "critical");
  CHECK(j["ai_name"] == "imperium");
  CHECK(j["used"] == 133280);
  CHECK(j["topic"] == "alert.critical");
  CHECK(j["delivery_id"] == tollgate::notify::delivery_id(item()));
}

TEST_CASE("a body that is not a JSON object is still delivered under body") {
  auto odd = item();
  odd.body_json = "not json";
  const json j = json::parse(tollgate::notify::render_json(odd));
  CHECK(j["body"] == "not json");
  CHECK(j["topic"] == "alert.critical");
}

TEST_CASE("the Slack body is one readable line of text") {
  const json j = json::parse(tollgate::notify::render_slack(item()));
  REQUIRE(j.size() == 1);
  CHECK(j["text"] ==
        "[tollgate] critical: agent imperium's anthropic budget is at 95.2% "
        "(133,280 of 140,000 tokens, period 2026-11)");
}

TEST_CASE("a global alert says global and a forecast uses its message") {
  auto global = item();
  global.body_json = R"({"level":"emergency","ai_name":"*","provider":"openai","percentage":98,)"
                     R"("used":980,"limit":1000,"period":"2026-11"})";
  global.level = "emergency";
  CHECK(tollgate::notify::alert_line(global) ==
        "emergency: the global openai budget is at 98.0% (980 of 1,000 tokens, period 2026-11)");
  auto forecast = item();
  forecast.level = "forecast";
  forecast.body_json = R"({"level":"forecast","ai_name":"guardian","provider":"anthropic",)"
                       R"("message":"guardian's anthropic budget runs out on 2026-11-24"})";
  CHECK(tollgate::notify::alert_line(forecast) ==
        "forecast: guardian's anthropic budget runs out on 2026-11-24");
}

TEST_CASE("level filters pass every level when empty and only the listed ones otherwise") {
  NotifyDestination d;
  CHECK(tollgate::notify::wants(d, "warning"));
  d.levels = {"emergency", "exhausted"};
  CHECK_FALSE(tollgate::notify::wants(d, "warning"));
  CHECK(tollgate::notify::wants(d, "exhausted"));
}

TEST_CASE("the e-mail is an RFC 5322 message with the alert fields") {
  NotifyDestination d;
  d.kind = NotifyDestination::Kind::kEmail;
  d.from = "tollgate@example.com";
  d.to = {"ops@example.com", "oncall@example.com"};
  const std::string m = tollgate::notify::render_email(item(), d);
  const auto id = tollgate::notify::delivery_id(item());
  CHECK(m.rfind("From: tollgate@example.com\r\n", 0) == 0);
  CHECK(contains(m, "\r\nTo: ops@example.com, oncall@example.com\r\n"));
  CHECK(contains(
      m, "\r\nSubject: [tollgate] critical: agent imperium's anthropic budget is at 95.2%"));
  CHECK(contains(m, "\r\nDate: Sun, 29 Nov 2026 16:44:30 +0000\r\n"));
  CHECK(contains(m, "\r\nMessage-ID: <" + id + "@tollgate>\r\n"));
  CHECK(contains(m, "\r\n\r\ncritical: agent imperium"));
  CHECK(contains(m, "\r\nused: 133280\r\n"));
  CHECK(contains(m, "\r\nperiod: 2026-11\r\n"));
  CHECK(contains(m, "\r\ndelivery_id: " + id + "\r\n"));
}

TEST_CASE("an agent name cannot add e-mail headers and non-ASCII subjects are encoded") {
  auto evil = item();
  evil.body_json = R"({"level":"warning","ai_name":"x\r\nBcc: a@b.c","message":"m"})";
  NotifyDestination d;
  d.from = "f@example.com";
  d.to = {"t@example.com"};
  const std::string m = tollgate::notify::render_email(evil, d);
  CHECK_FALSE(contains(m, "\r\nBcc:"));
  auto accents = item();
  accents.body_json = R"({"level":"warning","message":"agent \u00e9t\u00e9 is near"})";
  CHECK(contains(tollgate::notify::render_email(accents, d), "Subject: =?UTF-8?B?"));
}

TEST_CASE("the signature is HMAC SHA256 of the body in lowercase hex") {
  // RFC 4231 test case 2.
  CHECK(tollgate::notify::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(tollgate::notify::signature_header_value("Jefe", "what do ya want for nothing?")
            .rfind("sha256=5bdc", 0) == 0);
}

TEST_CASE("the RFC 5322 date is UTC with English names") {
  CHECK(tollgate::notify::rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
}
