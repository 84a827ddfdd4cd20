#include "daemon/core/config_notify.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace tollgate::config_detail {

using protocol::Error;
using protocol::Result;

const std::vector<std::string> kNotifyWebhookKeys = {
    "format", "give_up_after", "levels", "name", "secret", "secret_env", "timeout_ms", "url"};
const std::vector<std::string> kNotifyEmailKeys = {
    "from",     "give_up_after", "levels",     "name", "password", "password_env",
    "smtp_url", "starttls",      "timeout_ms", "to",   "username"};
const std::vector<std::string> kNotifyLevels = {"critical", "emergency",        "exhausted",
                                                "forecast", "over_reservation", "warning"};

namespace {

// The variables of the single webhook and the single e-mail destination.
const std::vector<std::string> kWebhookVariables = {
    "TOLLGATE_WEBHOOK_URL", "TOLLGATE_WEBHOOK_FORMAT", "TOLLGATE_WEBHOOK_SECRET",
    "TOLLGATE_WEBHOOK_LEVELS"};
const std::vector<std::string> kEmailVariables = {
    "TOLLGATE_SMTP_URL",          "TOLLGATE_ALERT_EMAIL_FROM", "TOLLGATE_ALERT_EMAIL_TO",
    "TOLLGATE_SMTP_USERNAME",     "TOLLGATE_SMTP_PASSWORD",    "TOLLGATE_SMTP_STARTTLS",
    "TOLLGATE_ALERT_EMAIL_LEVELS"};

// The error for one field of a destination: "WHERE: KEY=VALUE: RULE".
using Bad = std::function<Error(const std::string& field, const std::string& value,
                                const std::string& rule)>;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    std::string item = s.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

bool one_of(const std::string& v, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

// An address for MAIL FROM / RCPT TO: local@domain, no spaces or brackets.
bool address_ok(const std::string& a) {
  const auto at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() &&
         std::none_of(a.begin(), a.end(), [](unsigned char c) {
           return std::isspace(c) || c == '<' || c == '>' || c == ',' || c < 0x20;
         });
}

// smtp://host[:port] or smtps://host[:port] (base_url_problem's rules for the rest).
std::optional<std::string> smtp_url_problem(const std::string& url) {
  const std::string rule =
      "must be an smtp:// or smtps:// URL with a host, e.g. smtp://mail.example.com:587";
  for (const char* scheme : {"smtp://", "smtps://"}) {
    if (url.rfind(scheme, 0) == 0) {
      return base_url_problem("http://" + url.substr(std::string(scheme).size()))
                 ? std::optional(rule)
                 : std::nullopt;
    }
  }
  return rule;
}

Result<void> check_levels(const NotifyDestination& d, const Bad& bad) {
  for (const auto& l : d.levels) {
    if (!one_of(l, kNotifyLevels)) {
      return bad("levels", joined(d.levels), "each level must be one of " + joined(kNotifyLevels));
    }
  }
  return {};
}

Result<void> check_webhook(const NotifyDestination& d, const Bad& bad) {
  if (d.url.empty()) return bad("url", "", "required: the URL alerts are POSTed to");
  if (auto why = base_url_problem(d.url)) return bad("url", d.url, *why);
  if (!one_of(d.format, {"json", "slack"})) return bad("format", d.format, "must be json or slack");
  return check_levels(d, bad);
}

Result<void> check_email(const NotifyDestination& d, const Bad& bad) {
  if (d.smtp_url.empty()) return bad("smtp_url", "", "required: the SMTP server, smtp://host:port");
  if (auto why = smtp_url_problem(d.smtp_url)) return bad("smtp_url", d.smtp_url, *why);
  if (!address_ok(d.from))
    return bad("from", d.from, "must be one e-mail address, name@example.com");
  if (d.to.empty()) return bad("to", "", "required: at least one e-mail address");
  for (const auto& t : d.to) {
    if (!address_ok(t))
      return bad("to", joined(d.to), "each must be an e-mail address, name@example.com");
  }
  if (!one_of(d.starttls, {"try", "require", "none"}))
    return bad("starttls", d.starttls, "must be try, require or none");
  if (!d.username.empty() && d.password.empty())
    return bad("password", "", "required with a username");
  if (d.username.empty() && !d.password.empty())
    return bad("username", "", "required with a password");
  return check_levels(d, bad);
}

Result<void> check_destination(const NotifyDestination& d, const Bad& bad) {
  return d.kind == NotifyDestination::Kind::kEmail ? check_email(d, bad) : check_webhook(d, bad);
}

// A TOML destination: secrets from their variables, the default timeout, checked.
Result<NotifyDestination> toml_destination(const SettingReader& r, const NotifyAt& a,
                                           uint64_t timeout_ms) {
  NotifyDestination d = a.destination;
  const Bad bad = [&a](const std::string& field, const std::string& value,
                       const std::string& rule) {
    const auto o = a.origins.find(field);
    const std::string where = o == a.origins.end() ? a.origin : o->second;
    const bool secret = field == "secret" || field == "password";
    return Error::bad_request(where + ": " + a.key + "." + field + (secret ? "" : "=" + value) +
                              ": " + rule);
  };
  if (!a.has_timeout) d.timeout_ms = timeout_ms;
  auto from_env = [&](const std::string& field, const std::string& var,
                      std::string& out) -> Result<void> {
    if (var.empty()) return {};
    if (!out.empty())
      return bad(field + "_env", var, "set " + field + " or " + field + "_env, not both");
    const std::string* v = r.find(var);
    if (!v || v->empty())
      return bad(field + "_env", var, var + " is not set (it holds the " + field + ")");
    out = *v;
    return {};
  };
  if (auto e = from_env("secret", a.secret_env, d.secret); !e) return e.error();
  if (auto e = from_env("password", a.password_env, d.password); !e) return e.error();
  if (d.name.empty()) return bad("name", "", "required: a name for logs, metrics and the outbox");
  if (!std::all_of(d.name.begin(), d.name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
      })) {
    return bad("name", d.name, "must be letters, digits, '-', '_' or '.'");
  }
  if (auto e = check_destination(d, bad); !e) return e.error();
  return d;
}

// "FILE:LINE: NAME=(redacted): RULE": r.bad would show the value, which
// may be a secret.
Error redacted_bad(const SettingReader& r, const std::string& var, const std::string& rule) {
  const Setting* s = r.setting(var);
  return Error::bad_request((s && !s->origin.empty() ? s->origin + ": " : "") + var +
                            "=(redacted): " + rule);
}

// The destination the variables `vars` describe (the first one is its URL),
// nullopt when none of them is set; `name`: its name.
Result<std::optional<NotifyDestination>> env_destination(const SettingReader& r,
                                                         const std::vector<std::string>& vars,
                                                         NotifyDestination::Kind kind,
                                                         const std::string& name,
                                                         uint64_t timeout_ms) {
  auto value = [&r](const std::string& var) {
    const std::string* v = r.find(var);
    return v ? *v : std::string();
  };
  if (value(vars[0]).empty()) {
    for (const auto& v : vars) {
      if (!value(v).empty())
        return redacted_bad(r, v, vars[0] + " is not set, so it would not be used");
    }
    return std::optional<NotifyDestination>();
  }
  NotifyDestination d;
  d.kind = kind;
  d.name = name;
  d.timeout_ms = timeout_ms;
  const bool email = kind == NotifyDestination::Kind::kEmail;
  (email ? d.smtp_url : d.url) = value(vars[0]);
  if (!email) {
    if (const std::string* f = r.find("TOLLGATE_WEBHOOK_FORMAT"); f && !f->empty()) d.format = *f;
    d.secret = value("TOLLGATE_WEBHOOK_SECRET");
    d.levels = split_list(value("TOLLGATE_WEBHOOK_LEVELS"));
  } else {
    d.from = value("TOLLGATE_ALERT_EMAIL_FROM");
    d.to = split_list(value("TOLLGATE_ALERT_EMAIL_TO"));
    d.username = value("TOLLGATE_SMTP_USERNAME");
    d.password = value("TOLLGATE_SMTP_PASSWORD");
    if (const std::string* s = r.find("TOLLGATE_SMTP_STARTTLS"); s && !s->empty()) d.starttls = *s;
    d.levels = split_list(value("TOLLGATE_ALERT_EMAIL_LEVELS"));
  }
  static const std::map<std::string, std::string> kVariable = {
      {"url", "TOLLGATE_WEBHOOK_URL"},        {"format", "TOLLGATE_WEBHOOK_FORMAT"},
      {"smtp_url", "TOLLGATE_SMTP_URL"},      {"from", "TOLLGATE_ALERT_EMAIL_FROM"},
      {"to", "TOLLGATE_ALERT_EMAIL_TO"},      {"username", "TOLLGATE_SMTP_USERNAME"},
      {"password", "TOLLGATE_SMTP_PASSWORD"}, {"starttls", "TOLLGATE_SMTP_STARTTLS"}};
  const Bad bad = [&r, email](const std::string& field, const std::string& shown,
                              const std::string& rule) {
    const std::string var =
        field == "levels" ? (email ? "TOLLGATE_ALERT_EMAIL_LEVELS" : "TOLLGATE_WEBHOOK_LEVELS")
                          : kVariable.at(field);
    return field == "password" ? redacted_bad(r, var, rule) : r.bad(var, shown, rule);
  };
  if (auto e = check_destination(d, bad); !e) return e.error();
  return std::optional(d);
}

}  // namespace

void read_notify_variables(SettingReader& r, NotifyConfig& n) {
  r.uint("TOLLGATE_NOTIFY_RETRY_MIN_MS", n.retry_min_ms, 1, 3'600'000,
         "must be a whole number of milliseconds from 1 to 3600000");
  r.uint("TOLLGATE_NOTIFY_RETRY_MAX_MS", n.retry_max_ms, 1, 86'400'000,
         "must be a whole number of milliseconds from 1 to 86400000");
  r.uint("TOLLGATE_NOTIFY_TIMEOUT_MS", n.timeout_ms, 1, 600'000,
         "must be a whole number of milliseconds from 1 to 600000");
  for (const auto& v : kWebhookVariables) r.find(v);
  for (const auto& v : kEmailVariables) r.find(v);
}

Result<void> check_notify(const SettingReader& r, const std::vector<NotifyAt>& toml, Config& c) {
  NotifyConfig& n = c.notify;
  if (n.retry_min_ms > n.retry_max_ms) {
    return r.bad(
        "TOLLGATE_NOTIFY_RETRY_MIN_MS", std::to_string(n.retry_min_ms),
        "must not exceed TOLLGATE_NOTIFY_RETRY_MAX_MS (" + std::to_string(n.retry_max_ms) + ")");
  }
  std::vector<NotifyDestination> out;
  std::set<std::string> names;
  for (const auto& a : toml) {
    auto d = toml_destination(r, a, n.timeout_ms);
    if (!d) return d.error();
    if (!names.insert(d->name).second) {
      return Error::bad_request(a.origins.at("name") + ": " + a.key + ".name=" + d->name +
                                ": another destination has this name");
    }
    out.push_back(std::move(*d));
  }
  for (const auto& [vars, kind, name] :
       {std::tuple{kWebhookVariables, NotifyDestination::Kind::kWebhook, std::string("webhook")},
        std::tuple{kEmailVariables, NotifyDestination::Kind::kEmail, std::string("email")}}) {
    auto d = env_destination(r, vars, kind, name, n.timeout_ms);
    if (!d) return d.error();
    if (!*d) continue;
    if (!names.insert(name).second) {
      return r.bad(
          vars[0], r.find(vars[0]) ? *r.find(vars[0]) : "",
          "makes a destination named " + name + ", and the TOML file has one too (rename it)");
    }
    out.push_back(std::move(**d));
  }
  n.destinations = std::move(out);
  return {};
}

}  // namespace tollgate::config_detail
