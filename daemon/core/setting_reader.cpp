#include "daemon/core/setting_reader.h"

#include <algorithm>
#include <charconv>
#include <cctype>

namespace tollgate::config_detail {

using protocol::Error;

namespace {

std::optional<uint64_t> parse_uint(const std::string& v, uint64_t min, uint64_t max) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || out < min || out > max) {
    return std::nullopt;
  }
  return out;
}

std::optional<double> parse_double(const std::string& v, double min, double max) {
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !(out >= min && out <= max)) {
    return std::nullopt;
  }
  return out;
}

std::optional<bool> parse_bool(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
  if (l == "0" || l == "false" || l == "no" || l == "off") return false;
  return std::nullopt;
}

// As bad_setting, after the FILE:LINE the setting came from, if any.
Error bad_setting(const Setting& s, const std::string& name, const std::string& rule) {
  const std::string& label = s.label.empty() ? name : s.label;
  return Error::bad_request((s.origin.empty() ? "" : s.origin + ": ") + label + "=" + s.value + ": " + rule);
}

}  // namespace

Error bad_setting(const std::string& name, const std::string& value, const std::string& rule) {
  return Error::bad_request(name + "=" + value + ": " + rule);
}

std::optional<std::string> base_url_problem(const std::string& url) {
  const std::string rule = "must be an http:// or https:// URL with a host, e.g. https://api.example.com";
  std::string_view rest(url);
  if (rest.starts_with("https://")) rest.remove_prefix(8);
  else if (rest.starts_with("http://")) rest.remove_prefix(7);
  else return rule;
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view host = authority;
  std::string_view port;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close == 1) return rule;
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port[0] != ':') return rule;
  } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
  }
  const bool host_ok = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == ':' || c == '%';
  });
  if (!host_ok) return rule;
  if (!port.empty()) {
    port.remove_prefix(1);
    if (!parse_uint(std::string(port), 1, 65535)) return rule + " (the port must be a number from 1 to 65535)";
  }
  return std::nullopt;
}

const Setting* SettingReader::setting(const std::string& name) const {
  read_.insert(name);
  auto it = s_.find(name);
  return it == s_.end() ? nullptr : &it->second;
}

const std::string* SettingReader::find(const std::string& name) const {
  const auto* s = setting(name);
  return s ? &s->value : nullptr;
}

Error SettingReader::bad(const std::string& name, const std::string& value, const std::string& rule) const {
  const auto* s = setting(name);
  return s ? bad_setting(*s, name, rule) : bad_setting(name, value, rule);
}

void SettingReader::str(const std::string& name, std::string& out) const {
  if (const auto* v = find(name)) out = *v;
}

void SettingReader::nonempty(const std::string& name, std::string& out, const std::string& rule) {
  const auto* v = find(name);
  if (!v || error_) return;
  if (v->empty()) error_ = bad(name, *v, rule);
  else out = *v;
}

void SettingReader::url(const std::string& name, std::string& out) {
  const auto* v = find(name);
  if (!v || error_) return;
  if (auto why = base_url_problem(*v)) error_ = bad(name, *v, *why);
  else out = *v;
}

bool SettingReader::read_uint(const std::string& name, uint64_t& out, uint64_t min, uint64_t max,
                              const std::string& rule) {
  const auto* v = find(name);
  if (!v || error_) return false;
  auto r = parse_uint(*v, min, max);
  if (!r) {
    error_ = bad(name, *v, rule);
    return false;
  }
  out = *r;
  return true;
}

void SettingReader::fraction(const std::string& name, double& out) {
  number(name, out, 0.0, 1.0, "must be a number from 0 to 1");
}

void SettingReader::number(const std::string& name, double& out, double min, double max,
                           const std::string& rule) {
  const auto* v = find(name);
  if (!v || error_) return;
  auto r = parse_double(*v, min, max);
  if (!r) error_ = bad(name, *v, rule);
  else out = *r;
}

void SettingReader::boolean(const std::string& name, bool& out) {
  const auto* v = find(name);
  if (!v || error_) return;
  auto r = parse_bool(*v);
  if (!r) error_ = bad(name, *v, "must be true or false");
  else out = *r;
}

void SettingReader::optional_uint(const std::string& name, std::optional<uint64_t>& out) {
  const auto* v = find(name);
  if (!v || error_ || v->empty()) return;
  auto r = parse_uint(*v, 0, UINT64_MAX);
  if (!r) error_ = bad(name, *v, "must be a whole number of tokens");
  else out = *r;
}

void SettingReader::optional_number(const std::string& name, std::optional<double>& out,
                                    double min, double max, const std::string& rule) {
  const auto* v = find(name);
  if (!v || error_ || v->empty()) return;
  double d = 0;
  number(name, d, min, max, rule);
  if (!error_) out = d;
}

void SettingReader::optional_bool(const std::string& name, std::optional<bool>& out) {
  const auto* v = find(name);
  if (!v || error_) return;
  std::string l = *v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l.empty() || l == "auto") {
    out = std::nullopt;
    return;
  }
  auto r = parse_bool(*v);
  if (!r) error_ = bad(name, *v, "must be true, false or auto");
  else out = *r;
}

}  // namespace tollgate::config_detail
