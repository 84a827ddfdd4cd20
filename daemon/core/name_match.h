// Close matches of a mistyped name ("did you mean ...?") for error
// messages: agents in `reset`. The distance is nearest_name.h's
// edit_distance. Pure; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/nearest_name.h"

namespace tollgate {

// The candidates within max_distance of `name` (at most `limit`), nearest
// first, ties in the candidates' order. `name` itself is never returned.
std::vector<std::string> close_matches(std::string_view name,
                                       const std::vector<std::string>& candidates,
                                       size_t max_distance = 2, size_t limit = 3);

// "a", "a or b", "a, b or c" (each name between `quote`s): the names a
// value may take, for a message.
std::string alternatives(const std::vector<std::string>& names, std::string_view quote = "");

// ", did you mean 'a' or 'b'?" or "" when there is none: for appending to
// a message.
std::string did_you_mean(const std::vector<std::string>& matches);

}  // namespace tollgate
