// The table of docs/protocol.md between `<!-- request-fields -->` and
// `<!-- /request-fields -->`: op → the request fields it documents (the
// envelope's `v`, `id` and `op` not included). Read by the test of the
// daemon's encoder (tests/unit/protocol_fields_test.cpp) and by the C++
// client's wire test (clients/cpp/tests/client_wire_test.cpp). Include
// after <catch2/catch.hpp>.
#pragma once

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace tollgate::testing {

inline std::map<std::string, std::set<std::string>> request_fields_table(const std::string& doc_path) {
  std::ifstream in(doc_path);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto begin = doc.find("<!-- request-fields -->");
  const auto end = doc.find("<!-- /request-fields -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::istringstream rows(doc.substr(begin, end - begin));
  const std::regex row(R"(^\| `([a-z_]+)` \|(.*)\|\s*$)");
  const std::regex name("`([a-z_]+)`");
  std::map<std::string, std::set<std::string>> table;
  for (std::string line; std::getline(rows, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    auto& fields = table[m[1]];
    const std::string cells = m[2];
    for (std::sregex_iterator it(cells.begin(), cells.end(), name), last; it != last; ++it) {
      fields.insert((*it)[1]);
    }
  }
  return table;
}

}  // namespace tollgate::testing
