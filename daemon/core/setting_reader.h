// Typed reads of configuration settings for daemon/core/config.cpp: each value
// remembers where it came from (a FILE:LINE, or the environment), so that a
// bad one is reported there; the reader remembers every name it was asked
// for, which makes the loader's own reads the list of known names. Not for
// use outside the configuration loader. Pure; one reader per thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "protocol/error.h"

namespace tollgate::config_detail {

// One setting's value and where it came from.
struct Setting {
  std::string value;
  std::string origin;  // "FILE:LINE" from the .env or TOML file; empty: the environment
  std::string label;   // its name in errors when not the variable's (a TOML provider key)
};

// Name -> setting, later sources overriding earlier ones.
using Settings = std::map<std::string, Setting>;

// "NAME=VALUE: RULE".
protocol::Error bad_setting(const std::string& name, const std::string& value, const std::string& rule);

// Why `url` is not an http:// or https:// URL with a host, or nullopt.
std::optional<std::string> base_url_problem(const std::string& url);

// Reads typed settings from the merged map, remembering the first error.
class SettingReader {
 public:
  explicit SettingReader(const Settings& s) : s_(s) {}

  const std::string* find(const std::string& name) const;
  const Setting* setting(const std::string& name) const;
  // The error for `name`'s value: the FILE:LINE it came from, its name (or
  // label), its value and the rule.
  protocol::Error bad(const std::string& name, const std::string& value, const std::string& rule) const;

  void str(const std::string& name, std::string& out) const;
  // A string that must not be empty (a model name).
  void nonempty(const std::string& name, std::string& out, const std::string& rule);
  // An http:// or https:// URL with a host.
  void url(const std::string& name, std::string& out);
  template <class T>
  void uint(const std::string& name, T& out, uint64_t min, uint64_t max, const std::string& rule) {
    uint64_t v = 0;
    if (read_uint(name, v, min, max, rule)) out = static_cast<T>(v);
  }
  void fraction(const std::string& name, double& out);
  void number(const std::string& name, double& out, double min, double max, const std::string& rule);
  void boolean(const std::string& name, bool& out);
  void optional_uint(const std::string& name, std::optional<uint64_t>& out);
  // Unset or empty: out stays nullopt.
  void optional_number(const std::string& name, std::optional<double>& out, double min, double max,
                       const std::string& rule);
  // true, false, or auto (also empty): nullopt.
  void optional_bool(const std::string& name, std::optional<bool>& out);

  const std::optional<protocol::Error>& error() const { return error_; }
  // Every name asked for so far, whether it was set or not.
  const std::set<std::string>& names_read() const { return read_; }

 private:
  bool read_uint(const std::string& name, uint64_t& out, uint64_t min, uint64_t max,
                 const std::string& rule);

  const Settings& s_;
  std::optional<protocol::Error> error_;
  mutable std::set<std::string> read_;
};

}  // namespace tollgate::config_detail
