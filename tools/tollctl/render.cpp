#include "tools/tollctl/render.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace tollgate::tools {
namespace {

constexpr int kBarWidth = 20;
constexpr const char* kReset = "\033[0m";

// Default alert thresholds (PROTOCOL.md section 4); tollctl does not know
// the daemon's configuration, so the bar marks the defaults.
const char* level_for(double pct) {
  if (pct >= 100.0) return "exhausted";
  if (pct >= 98.0) return "emergency";
  if (pct >= 95.0) return "critical";
  if (pct >= 80.0) return "warning";
  return "";
}

const char* color_for(double pct) {
  if (pct >= 98.0) return "\033[1;35m";
  if (pct >= 95.0) return "\033[31m";
  if (pct >= 80.0) return "\033[33m";
  return "\033[32m";
}

// Printed width: skips ANSI escapes and UTF-8 continuation bytes.
size_t visible_width(const std::string& s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\033') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

Style detect_style() {
  Style s;
  s.color = ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  return s;
}

std::string usage_bar(double percentage, const Style& style) {
  const double pct = std::isfinite(percentage) ? std::clamp(percentage, 0.0, 1000.0) : 0.0;
  const int filled = static_cast<int>(std::lround(std::min(pct, 100.0) / 100.0 * kBarWidth));
  char num[32];
  std::snprintf(num, sizeof num, "%5.1f%%", pct);
  std::string bar = "[";
  bar.append(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kBarWidth - filled), '-');
  bar.append("] ").append(num);
  const std::string level = level_for(pct);
  if (!level.empty()) bar += " " + level;
  if (style.color) bar = std::string(color_for(pct)).append(bar).append(kReset);
  return bar;
}

Table::Table(std::vector<std::string> headers, std::string align)
    : headers_(std::move(headers)), align_(std::move(align)) {
  align_.resize(headers_.size(), 'l');
}

void Table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out, const Style& style) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = visible_width(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], visible_width(row[c]));
  }
  auto print_row = [&](const std::vector<std::string>& row, bool header) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - visible_width(row[c]), ' ');
      const bool last = c + 1 == row.size();
      std::string cell = align_[c] == 'r' ? pad + row[c] : row[c] + (last ? "" : pad);
      if (header && style.color) cell = "\033[1m" + cell + kReset;
      line += cell;
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_row(headers_, true);
  for (const auto& row : rows_) print_row(row, false);
}

const nlohmann::json& member(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? kEmpty : *it;
}

std::string field_str(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  return it->dump();
}

double field_num(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return 0.0;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return 0.0;
  return it->get<double>();
}

std::string field_tokens(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "-";
  if (it->is_number_unsigned()) return with_commas(it->get<uint64_t>());
  if (it->is_number_integer()) {
    const auto v = it->get<int64_t>();
    if (v >= 0) return with_commas(static_cast<uint64_t>(v));
    return std::string("-").append(with_commas(static_cast<uint64_t>(-(v + 1)) + 1));
  }
  return it->dump();
}

std::string field_cost(const nlohmann::json& obj, const char* key) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%.4f", field_num(obj, key));
  return buf;
}

std::string field_bar(const nlohmann::json& obj, const Style& style) {
  if (obj.is_object() && obj.contains("limit") && obj["limit"].is_null()) return "-";
  return usage_bar(field_num(obj, "percentage"), style);
}

std::string format_uptime(uint64_t ms) {
  const uint64_t s = ms / 1000;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%llud %02lluh %02llum %02llus",
                static_cast<unsigned long long>(s / 86400), static_cast<unsigned long long>(s / 3600 % 24),
                static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  return buf;
}

std::string format_time_ms(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(ms);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace tollgate::tools
