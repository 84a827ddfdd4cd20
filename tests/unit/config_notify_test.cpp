// Alert notification destinations in the configuration (daemon/core/
// config_notify.h; docs/configuration.md, "Alert notifications"): the
// variables' single webhook and e-mail destination, the TOML tables, the
// errors, and secrets never shown.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "daemon/core/config_notify.h"
#include "tests/unit/config_test_util.h"

using tollgate::NotifyDestination;
using tollgate::config_testing::load_env;
using tollgate::config_testing::load_error;
using tollgate::config_testing::toml_config;
using tollgate::config_testing::toml_error_at;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string docs() {
  std::ifstream in(std::string(TOLLGATE_DOCS_DIR) + "/configuration.md");
  REQUIRE(in);
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

// The backquoted first cells of the table whose header starts with `| HEADER |`.
std::set<std::string> table_keys(const std::string& doc, const std::string& header) {
  std::set<std::string> out;
  std::istringstream in(doc.substr(doc.find("| " + header + " |")));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  while (std::getline(in, line) && line.rfind("| `", 0) == 0)
    out.insert(line.substr(3, line.find('`', 3) - 3));
  return out;
}

}  // namespace

TEST_CASE("no notification variable means no destination") {
  auto c = load_env({});
  CHECK(c.notify.destinations.empty());
  CHECK(c.notify.retry_min_ms == 1000);
  CHECK(c.notify.retry_max_ms == 300000);
}

TEST_CASE("the webhook variables make one webhook named webhook") {
  auto c =
      load_env({"TOLLGATE_WEBHOOK_URL=https://hooks.example.com/x", "TOLLGATE_WEBHOOK_FORMAT=slack",
                "TOLLGATE_WEBHOOK_SECRET=zzSECRETzz", "TOLLGATE_WEBHOOK_LEVELS=critical, emergency",
                "TOLLGATE_NOTIFY_TIMEOUT_MS=2500"});
  REQUIRE(c.notify.destinations.size() == 1);
  const auto& d = c.notify.destinations[0];
  CHECK(d.kind == NotifyDestination::Kind::kWebhook);
  CHECK(d.name == "webhook");
  CHECK(d.url == "https://hooks.example.com/x");
  CHECK(d.format == "slack");
  CHECK(d.secret == "zzSECRETzz");
  CHECK(d.levels == std::vector<std::string>{"critical", "emergency"});
  CHECK(d.timeout_ms == 2500);
  const auto text = tollgate::describe_config(c);
  CHECK_FALSE(contains(text, "zzSECRETzz"));
  CHECK_FALSE(contains(text, "/x"));
  CHECK(contains(text, "notify.webhook.webhook=https://hooks.example.com/...\n"));
  CHECK(contains(text, "notify.webhook.secret=(set, redacted)\n"));
}

TEST_CASE("the SMTP variables make one e-mail destination named email") {
  auto c = load_env(
      {"TOLLGATE_SMTP_URL=smtp://mail.example.com:587", "TOLLGATE_ALERT_EMAIL_FROM=t@example.com",
       "TOLLGATE_ALERT_EMAIL_TO=a@example.com,b@example.com", "TOLLGATE_SMTP_USERNAME=u",
       "TOLLGATE_SMTP_PASSWORD=zzPASSzz", "TOLLGATE_SMTP_STARTTLS=require"});
  REQUIRE(c.notify.destinations.size() == 1);
  const auto& d = c.notify.destinations[0];
  CHECK(d.kind == NotifyDestination::Kind::kEmail);
  CHECK(d.name == "email");
  CHECK(d.to == std::vector<std::string>{"a@example.com", "b@example.com"});
  CHECK(d.starttls == "require");
  CHECK(d.password == "zzPASSzz");
  CHECK_FALSE(contains(tollgate::describe_config(c), "zzPASSzz"));
}

TEST_CASE("bad notification variables are errors naming the variable") {
  CHECK(load_error({"TOLLGATE_WEBHOOK_URL=ftp://x"})
            .rfind("TOLLGATE_WEBHOOK_URL=ftp://x: must be an http://", 0) == 0);
  CHECK(load_error({"TOLLGATE_WEBHOOK_URL=http://x", "TOLLGATE_WEBHOOK_FORMAT=xml"}) ==
        "TOLLGATE_WEBHOOK_FORMAT=xml: must be json or slack");
  CHECK(contains(
      load_error({"TOLLGATE_WEBHOOK_URL=http://x", "TOLLGATE_WEBHOOK_LEVELS=warning,loud"}),
      "TOLLGATE_WEBHOOK_LEVELS=warning,loud: each level must be one of"));
  CHECK(load_error({"TOLLGATE_SMTP_URL=smtp://m", "TOLLGATE_ALERT_EMAIL_TO=a@b.c"}) ==
        "TOLLGATE_ALERT_EMAIL_FROM=: must be one e-mail address, name@example.com");
  CHECK(contains(load_error({"TOLLGATE_SMTP_URL=http://m", "TOLLGATE_ALERT_EMAIL_FROM=f@b.c",
                             "TOLLGATE_ALERT_EMAIL_TO=a@b.c"}),
                 "TOLLGATE_SMTP_URL=http://m: must be an smtp:// or smtps:// URL"));
  CHECK(load_error({"TOLLGATE_NOTIFY_RETRY_MIN_MS=5000", "TOLLGATE_NOTIFY_RETRY_MAX_MS=1000"}) ==
        "TOLLGATE_NOTIFY_RETRY_MIN_MS=5000: must not exceed TOLLGATE_NOTIFY_RETRY_MAX_MS (1000)");
}

TEST_CASE("a secret without its URL is an error that does not show the secret") {
  const auto e = load_error({"TOLLGATE_WEBHOOK_SECRET=zzSECRETzz"});
  CHECK(e ==
        "TOLLGATE_WEBHOOK_SECRET=(redacted): TOLLGATE_WEBHOOK_URL is not set, so it would not be "
        "used");
  CHECK_FALSE(contains(load_error({"TOLLGATE_SMTP_PASSWORD=zzPASSzz"}), "zzPASSzz"));
}

TEST_CASE("the notification example of the configuration docs loads as documented") {
  const std::string doc = docs();
  const auto at = doc.find("## Alert notifications");
  REQUIRE(at != std::string::npos);
  const auto open = doc.find("```toml\n", at);
  const auto close = doc.find("```", open + 8);
  auto c = toml_config("notify.toml", doc.substr(open + 8, close - open - 8),
                       {"OPS_HOOK_SECRET=zzSECRETzz", "SMTP_PASSWORD=zzPASSzz"});
  REQUIRE(c.notify.destinations.size() == 3);
  std::map<std::string, NotifyDestination> by_name;
  for (const auto& d : c.notify.destinations) by_name[d.name] = d;
  CHECK(by_name["ops-hook"].secret == "zzSECRETzz");
  CHECK(by_name["ops-hook"].timeout_ms == 10000);
  CHECK(by_name["ops-hook"].levels ==
        std::vector<std::string>{"critical", "emergency", "exhausted"});
  CHECK(by_name["slack"].format == "slack");
  CHECK(by_name["oncall"].kind == NotifyDestination::Kind::kEmail);
  CHECK(by_name["oncall"].password == "zzPASSzz");
  CHECK(by_name["oncall"].to.size() == 2);
  CHECK(c.warnings.empty());  // the secret variables are known names
}

TEST_CASE("bad notify tables are errors naming the file line and key") {
  CHECK(contains(
      toml_error_at("n.toml",
                    "[[notify.webhook]]\nname = \"a\"\nurl = \"http://x\"\nformat = \"xml\"\n", 4),
      "notify.webhook[0].format=xml: must be json or slack"));
  CHECK(
      contains(toml_error_at("n.toml", "[[notify.webhook]]\nname = \"a\"\nulr = \"http://x\"\n", 3),
               "notify.webhook[0].ulr: unknown key (the closest known one is url)"));
  CHECK(contains(toml_error_at("n.toml", "[[notify.webhook]]\nurl = \"http://x\"\n", 1),
                 "notify.webhook[0].name=: required"));
  CHECK(contains(toml_error_at("n.toml", "[[notify.pager]]\nname = \"a\"\n", 1),
                 "notify.pager: unknown key"));
  CHECK(contains(toml_error_at("n.toml",
                               "[[notify.webhook]]\nname = \"a\"\nurl = \"http://x\"\n"
                               "[[notify.webhook]]\nname = \"a\"\nurl = \"http://y\"\n",
                               5),
                 "another destination has this name"));
  CHECK(contains(
      toml_error_at("n.toml",
                    "[[notify.webhook]]\nname = \"a\"\nurl = \"http://x\"\nsecret_env = \"NOPE\"\n",
                    4),
      "NOPE is not set"));
  CHECK(contains(toml_error_at("n.toml",
                               "[[notify.email]]\nname = \"m\"\nsmtp_url = \"smtp://m\"\n"
                               "from = \"f@x.y\"\nto = \"a@x.y\"\n",
                               5),
                 "notify.email[0].to: must be an array of strings"));
}

TEST_CASE("a TOML destination named like the variables one is an error") {
  auto c = tollgate::config_testing::load_toml_text(
      "n.toml", "[[notify.webhook]]\nname = \"webhook\"\nurl = \"http://x\"\n",
      {"TOLLGATE_WEBHOOK_URL=http://y"});
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message ==
        "TOLLGATE_WEBHOOK_URL=http://y: makes a destination named webhook, and the TOML file "
        "has one too (rename it)");
}

TEST_CASE("docs configuration lists exactly the notify table keys the loader reads") {
  const std::string doc = docs();
  const auto& webhook = tollgate::config_detail::kNotifyWebhookKeys;
  const auto& email = tollgate::config_detail::kNotifyEmailKeys;
  CHECK(table_keys(doc, "`[[notify.webhook]]` key") ==
        std::set<std::string>(webhook.begin(), webhook.end()));
  CHECK(table_keys(doc, "`[[notify.email]]` key") ==
        std::set<std::string>(email.begin(), email.end()));
}
