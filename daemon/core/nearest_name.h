// The known name closest to a misspelt one, for "did you mean" in
// configuration errors and warnings. Pure; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate {

// Edits (insertions, deletions, substitutions and swaps of two adjacent
// characters) that turn `a` into `b`: the optimal string alignment distance.
size_t edit_distance(std::string_view a, std::string_view b);

struct NearestName {
  std::string name;  // empty when there are no candidates
  size_t distance = 0;
};

// The candidate with the fewest edits from `word`, ignoring case (so that
// `MODEL` finds `model` at distance 0); the first one in order on a tie.
NearestName nearest_name(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace tollgate
