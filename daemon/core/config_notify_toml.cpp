#include "daemon/core/config_notify_toml.h"

#include <algorithm>

#include "daemon/core/config_toml.h"

namespace tollgate::config_detail {

using protocol::Error;
using protocol::Result;

namespace {

const std::vector<std::string> kNotifyKinds = {"email", "webhook"};

std::string origin_of(const std::string& path, const toml::node& n) {
  return path + ":" + std::to_string(n.source().begin.line);
}

Error wrong_type(const std::string& origin, const std::string& key, const std::string& expected) {
  return Error::bad_request(origin + ": " + key + ": must be " + expected);
}

// The string field a key sets, or nullptr for a key that is not a string.
std::string* string_field(NotifyAt& a, const std::string& key) {
  auto& d = a.destination;
  if (key == "name") return &d.name;
  if (key == "url") return &d.url;
  if (key == "format") return &d.format;
  if (key == "secret") return &d.secret;
  if (key == "secret_env") return &a.secret_env;
  if (key == "smtp_url") return &d.smtp_url;
  if (key == "from") return &d.from;
  if (key == "username") return &d.username;
  if (key == "password") return &d.password;
  if (key == "password_env") return &a.password_env;
  if (key == "starttls") return &d.starttls;
  return nullptr;
}

// levels, to: arrays of non-empty strings.
Result<std::vector<std::string>> string_list(const std::string& origin, const std::string& key,
                                             const toml::node& v) {
  const auto* a = v.as_array();
  if (!a) return wrong_type(origin, key, "an array of strings");
  std::vector<std::string> out;
  for (const auto& e : *a) {
    auto s = e.value_exact<std::string>();
    if (!s) return wrong_type(origin, key, "an array of strings");
    if (s->empty()) return Error::bad_request(origin + ": " + key + ": an empty string");
    out.push_back(*s);
  }
  return out;
}

// timeout_ms, give_up_after: whole numbers in range.
Result<uint64_t> whole(const std::string& origin, const std::string& key, const toml::node& v,
                       int64_t min, int64_t max, const std::string& rule) {
  auto n = v.value_exact<int64_t>();
  if (!n) return wrong_type(origin, key, rule);
  if (*n < min || *n > max) {
    return Error::bad_request(origin + ": " + key + "=" + std::to_string(*n) + ": must be " + rule);
  }
  return static_cast<uint64_t>(*n);
}

Result<void> read_key(const std::string& origin, const std::string& key, const std::string& word,
                      const toml::node& v, NotifyAt& a) {
  auto& d = a.destination;
  if (word == "levels" || word == "to") {
    auto list = string_list(origin, key, v);
    if (!list) return list.error();
    (word == "levels" ? d.levels : d.to) = std::move(*list);
    if (word == "levels" && d.levels.empty()) {
      return Error::bad_request(origin + ": " + key +
                                ": must name at least one level (leave it out for all)");
    }
  } else if (word == "timeout_ms") {
    auto n = whole(origin, key, v, 1, 600000, "a whole number of milliseconds from 1 to 600000");
    if (!n) return n.error();
    d.timeout_ms = *n;
    a.has_timeout = true;
  } else if (word == "give_up_after") {
    auto n =
        whole(origin, key, v, 0, 1000000, "a whole number of attempts from 0 (never) to 1000000");
    if (!n) return n.error();
    d.give_up_after = static_cast<uint32_t>(*n);
  } else {
    auto s = v.value_exact<std::string>();
    if (!s) return wrong_type(origin, key, "a string");
    *string_field(a, word) = *s;
  }
  return {};
}

Result<void> read_destination(const std::string& path, const std::string& kind, size_t index,
                              const toml::node& node, NotifyAt& a) {
  a.key = "notify." + kind + "[" + std::to_string(index) + "]";
  a.origin = origin_of(path, node);
  a.destination.kind =
      kind == "email" ? NotifyDestination::Kind::kEmail : NotifyDestination::Kind::kWebhook;
  const auto* t = node.as_table();
  if (!t) return wrong_type(a.origin, a.key, "a table ([[notify." + kind + "]])");
  const auto& keys = kind == "email" ? kNotifyEmailKeys : kNotifyWebhookKeys;
  for (const auto& [k, v] : *t) {
    const std::string word(k.str());
    const std::string origin = origin_of(path, v);
    if (std::find(keys.begin(), keys.end(), word) == keys.end()) {
      return unknown_name(origin, a.key + "." + word, word, "key", keys);
    }
    a.origins[word] = origin;
    if (auto r = read_key(origin, a.key + "." + word, word, v, a); !r) return r;
  }
  return {};
}

}  // namespace

Result<void> read_toml_notify(const std::string& path, const toml::node& node,
                              std::vector<NotifyAt>& out) {
  const auto* t = node.as_table();
  if (!t)
    return wrong_type(origin_of(path, node), "notify",
                      "a table ([[notify.webhook]], [[notify.email]])");
  for (const auto& [k, v] : *t) {
    const std::string kind(k.str());
    if (std::find(kNotifyKinds.begin(), kNotifyKinds.end(), kind) == kNotifyKinds.end()) {
      return unknown_name(origin_of(path, v), "notify." + kind, kind, "key", kNotifyKinds);
    }
    const auto* list = v.as_array();
    if (!list)
      return wrong_type(origin_of(path, v), "notify." + kind,
                        "an array of tables ([[notify." + kind + "]])");
    for (size_t i = 0; i < list->size(); ++i) {
      NotifyAt a;
      if (auto r = read_destination(path, kind, i, *list->get(i), a); !r) return r;
      out.push_back(std::move(a));
    }
  }
  return {};
}

}  // namespace tollgate::config_detail
