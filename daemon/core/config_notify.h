// Alert notification destinations for daemon/core/config.cpp
// (docs/configuration.md, "Alert notifications"): the TOML file's
// [[notify.webhook]] and [[notify.email]] tables, and the variables for the
// common single-destination case (TOLLGATE_WEBHOOK_URL makes a webhook
// named "webhook", TOLLGATE_SMTP_URL an e-mail destination named "email").
// Every bad value is an error naming the variable or FILE:LINE and key, the
// value (never a secret's) and the rule. Not for use outside the
// configuration loader. Pure apart from reading settings.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/core/setting_reader.h"
#include "protocol/error.h"

namespace tollgate::config_detail {

// The keys of a [[notify.webhook]] and of a [[notify.email]] table, sorted.
extern const std::vector<std::string> kNotifyWebhookKeys;
extern const std::vector<std::string> kNotifyEmailKeys;
// The alert levels a destination's `levels` may name.
extern const std::vector<std::string> kNotifyLevels;

// One destination from the TOML file, with where each key was set.
struct NotifyAt {
  NotifyDestination destination;
  std::string key;                             // "notify.webhook[0]", for errors
  std::string origin;                          // FILE:LINE of its table
  std::map<std::string, std::string> origins;  // key -> FILE:LINE
  std::string secret_env;                      // webhook: the variable holding the secret
  std::string password_env;                    // e-mail: the variable holding the password
  bool has_timeout = false;                    // timeout_ms set (else TOLLGATE_NOTIFY_TIMEOUT_MS)
};

// (read_toml_notify, which reads the TOML file's `notify` table into
// NotifyAt values, is in config_notify_toml.h: it needs toml++.)

// The TOLLGATE_NOTIFY_* / TOLLGATE_WEBHOOK_* / TOLLGATE_SMTP_* /
// TOLLGATE_ALERT_EMAIL_* variables into `n` (typed values checked here; the
// env destinations are checked by check_notify).
void read_notify_variables(SettingReader& r, NotifyConfig& n);

// The TOML destinations (reading secret_env / password_env through `r`),
// then the variables' ones, each checked, into c.notify.destinations.
protocol::Result<void> check_notify(const SettingReader& r, const std::vector<NotifyAt>& toml,
                                    Config& c);

}  // namespace tollgate::config_detail
