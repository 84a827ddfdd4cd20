// Close matches for "did you mean" messages (daemon/core/name_match.h).
#include <catch2/catch.hpp>

#include "daemon/core/name_match.h"

using tollgate::close_matches;
using tollgate::did_you_mean;
using tollgate::edit_distance;

TEST_CASE("edit distance counts insertions deletions and substitutions") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("imperium", "imperium") == 0);
  CHECK(edit_distance("imperum", "imperium") == 1);
  CHECK(edit_distance("ANTHROPIC_MONTLY_LIMIT", "ANTHROPIC_MONTHLY_LIMIT") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
}

TEST_CASE("close matches are the nearest candidates within the distance and never the name itself") {
  const std::vector<std::string> agents = {"guardian", "imperium", "imperial", "scout"};
  CHECK(close_matches("imperum", agents) == std::vector<std::string>{"imperium"});
  CHECK(close_matches("imperia", agents) == std::vector<std::string>{"imperial", "imperium"});
  CHECK(close_matches("imperium", agents) == std::vector<std::string>{"imperial"});
  CHECK(close_matches("zzz", agents).empty());
  CHECK(did_you_mean({}) == "");
  CHECK(did_you_mean({"a"}) == ", did you mean 'a'?");
  CHECK(did_you_mean({"a", "b", "c"}) == ", did you mean 'a', 'b' or 'c'?");
}
