#include "daemon/core/nearest_name.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace tollgate {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the usual dynamic programme: the swap looks two back.
  std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], before[j - 2] + 1);
      }
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

NearestName nearest_name(std::string_view word, const std::vector<std::string>& candidates) {
  NearestName best;
  const std::string w = lower(word);
  for (const auto& c : candidates) {
    const size_t d = edit_distance(w, lower(c));
    if (best.name.empty() || d < best.distance) best = {c, d};
  }
  return best;
}

}  // namespace tollgate
