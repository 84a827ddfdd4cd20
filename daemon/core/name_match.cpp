#include "daemon/core/name_match.h"

#include <algorithm>

namespace tollgate {

std::vector<std::string> close_matches(std::string_view name,
                                       const std::vector<std::string>& candidates,
                                       size_t max_distance, size_t limit) {
  std::vector<std::pair<size_t, size_t>> found;  // distance, index
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i] == name) continue;
    const size_t d = edit_distance(name, candidates[i]);
    if (d <= max_distance) found.emplace_back(d, i);
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (size_t k = 0; k < found.size() && k < limit; ++k) out.push_back(candidates[found[k].second]);
  return out;
}

std::string alternatives(const std::vector<std::string>& names, std::string_view quote) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += std::string(quote) + names[i] + std::string(quote);
  }
  return out;
}

std::string did_you_mean(const std::vector<std::string>& matches) {
  if (matches.empty()) return "";
  return ", did you mean " + alternatives(matches, "'") + "?";
}

}  // namespace tollgate
