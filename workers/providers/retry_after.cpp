// Retry hints in provider response headers (parse_retry_after).
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "workers/providers/provider_adapter.h"

namespace tollgate::workers {
namespace {

// A provider asking for more than a day is treated as asking for a day.
constexpr int64_t kMaxRetryAfterMs = 24LL * 3600 * 1000;

int64_t clamp_wait(double ms) {
  if (!(ms > 0)) return 0;  // also NaN
  if (ms > static_cast<double>(kMaxRetryAfterMs)) return kMaxRetryAfterMs;
  return static_cast<int64_t>(std::ceil(ms));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A non-negative decimal number taking the whole string.
std::optional<double> number(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> epoch_ms(int y, int mon, int d, int h, int mi, double s) {
  if (mon < 1 || mon > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
      s >= 61) {
    return std::nullopt;
  }
  int64_t days = days_from_civil(y, static_cast<unsigned>(mon), static_cast<unsigned>(d));
  return (days * 86400 + h * 3600 + mi * 60) * 1000 + static_cast<int64_t>(s * 1000);
}

// IMF-fixdate, the only HTTP-date form servers may send:
// "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<int64_t> http_date_ms(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string s(trim(text));
  char wday[4] = {}, mon[4] = {}, zone[4] = {};
  int d = 0, y = 0, h = 0, mi = 0, sec = 0;
  if (std::sscanf(s.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", wday, &d, mon, &y, &h, &mi, &sec,
                  zone) != 8 ||
      std::string_view(zone) != "GMT") {
    return std::nullopt;
  }
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == mon) return epoch_ms(y, i + 1, d, h, mi, sec);
  }
  return std::nullopt;
}

// RFC 3339: "2024-06-01T12:00:30Z", "2024-06-01T12:00:30.5+02:00".
std::optional<int64_t> rfc3339_ms(std::string_view text) {
  std::string s(trim(text));
  int y = 0, mon = 0, d = 0, h = 0, mi = 0, consumed = 0;
  double sec = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%lf%n", &y, &mon, &d, &h, &mi, &sec,
                  &consumed) != 6) {
    return std::nullopt;
  }
  auto base = epoch_ms(y, mon, d, h, mi, sec);
  if (!base) return std::nullopt;
  std::string_view zone = std::string_view(s).substr(static_cast<size_t>(consumed));
  if (zone == "Z" || zone == "z") return base;
  int zh = 0, zm = 0;
  char sign = 0;
  std::string z(zone);
  if (std::sscanf(z.c_str(), "%c%2d:%2d", &sign, &zh, &zm) != 3 || (sign != '+' && sign != '-')) {
    return std::nullopt;
  }
  int64_t offset_ms = (zh * 60 + zm) * 60 * 1000;
  return sign == '+' ? *base - offset_ms : *base + offset_ms;
}

// Go-style durations used by OpenAI: "1s", "6m0s", "20ms", "1h2m3.5s".
std::optional<double> duration_ms(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t n = 0;
    while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
    auto value = number(s.substr(0, n));
    if (!value) return std::nullopt;
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && std::isalpha(static_cast<unsigned char>(s[u]))) ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    if (unit == "ms") total += *value;
    else if (unit == "s") total += *value * 1000;
    else if (unit == "m") total += *value * 60000;
    else if (unit == "h") total += *value * 3600000;
    else return std::nullopt;
  }
  return total;
}

const std::string* header(const HttpHeaders& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

std::optional<int64_t> reset_headers(const HttpHeaders& headers, int64_t now_ms) {
  std::optional<int64_t> longest;
  auto consider = [&](std::optional<int64_t> ms) {
    if (ms && (!longest || *ms > *longest)) longest = ms;
  };
  for (const auto& [name, value] : headers) {
    bool anthropic = name.rfind("anthropic-ratelimit-", 0) == 0 && name.ends_with("-reset");
    bool openai = name.rfind("x-ratelimit-reset-", 0) == 0;
    if (anthropic) {
      if (auto at = rfc3339_ms(value)) consider(clamp_wait(static_cast<double>(*at - now_ms)));
    } else if (openai) {
      if (auto ms = duration_ms(value)) consider(clamp_wait(*ms));
    }
  }
  return longest;
}

}  // namespace

std::optional<int64_t> parse_retry_after(const HttpHeaders& headers, int64_t now_ms) {
  if (const std::string* ms = header(headers, "retry-after-ms")) {
    if (auto v = number(*ms)) return clamp_wait(*v);
  }
  if (const std::string* ra = header(headers, "retry-after")) {
    if (auto seconds = number(*ra)) return clamp_wait(*seconds * 1000);
    if (auto at = http_date_ms(*ra)) return clamp_wait(static_cast<double>(*at - now_ms));
  }
  return reset_headers(headers, now_ms);
}

}  // namespace tollgate::workers
