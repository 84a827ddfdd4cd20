#include "daemon/core/env_file.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <string_view>

namespace tollgate {
namespace {

using protocol::Error;

constexpr std::string_view kSpace = " \t";
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

std::string_view trim_left(std::string_view s) {
  const auto b = s.find_first_not_of(kSpace);
  return b == std::string_view::npos ? std::string_view{} : s.substr(b);
}

std::string_view trim_right(std::string_view s) {
  const auto e = s.find_last_not_of(" \t\r");
  return e == std::string_view::npos ? std::string_view{} : s.substr(0, e + 1);
}

bool valid_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_';
  });
}

// What follows a backslash in double quotes; nullopt keeps the backslash
// (as docker compose and python-dotenv do with "\d").
std::optional<char> escaped(char c) {
  switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case '\\': return '\\';
    case '"': return '"';
    case '$': return '$';
    default: return std::nullopt;
  }
}

// A quoted value: `rest` starts at the opening quote. Sets `value` and
// returns the text after the closing quote, or nullopt if it never closes.
std::optional<std::string_view> quoted(std::string_view rest, std::string& value) {
  const char q = rest[0];
  for (size_t i = 1; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == q) return rest.substr(i + 1);
    if (q == '"' && c == '\\' && i + 1 < rest.size()) {
      if (auto e = escaped(rest[i + 1])) {
        value += *e;
        ++i;
        continue;
      }
    }
    value += c;
  }
  return std::nullopt;
}

// An unquoted value ends at a '#' that follows whitespace (a comment).
std::string_view unquoted(std::string_view rest) {
  for (size_t i = 1; i < rest.size(); ++i) {
    if (rest[i] == '#' && (rest[i - 1] == ' ' || rest[i - 1] == '\t')) return trim_right(rest.substr(0, i));
  }
  return trim_right(rest);
}

}  // namespace

protocol::Result<std::vector<EnvEntry>> parse_env_file(const std::string& text,
                                                       const std::string& path) {
  std::string_view all(text);
  if (all.starts_with(kByteOrderMark)) all.remove_prefix(kByteOrderMark.size());
  std::vector<EnvEntry> out;
  std::istringstream in{std::string(all)};
  std::string raw;
  int lineno = 0;
  while (std::getline(in, raw)) {
    ++lineno;
    auto at = [&](const std::string& what) {
      return Error::bad_request(path + ":" + std::to_string(lineno) + ": " + what);
    };
    std::string_view line = trim_right(trim_left(raw));
    if (line.empty() || line[0] == '#') continue;
    if (line.starts_with("export") && line.size() > 6 && kSpace.find(line[6]) != std::string_view::npos) {
      line = trim_left(line.substr(7));
    }
    const auto eq = line.find('=');
    const std::string key(eq == std::string_view::npos ? std::string_view{} : trim_right(line.substr(0, eq)));
    if (!valid_key(key)) return at("expected KEY=VALUE");
    std::string_view rest = trim_left(line.substr(eq + 1));
    std::string value;
    if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
      auto after = quoted(rest, value);
      if (!after) return at(key + ": unterminated quoted value");
      const bool comment = !after->empty() && kSpace.find((*after)[0]) != std::string_view::npos &&
                           trim_left(*after).starts_with('#');
      if (!trim_left(*after).empty() && !comment) {
        return at(key + ": unexpected text after the closing quote: " + std::string(trim_left(*after)) +
                  " (only a comment, after a space, may follow)");
      }
    } else {
      value = std::string(unquoted(rest));
    }
    out.push_back({key, std::move(value), lineno});
  }
  return out;
}

}  // namespace tollgate
