// HTTP helpers for the tests of the fake-provider binary: the headers each
// API needs, a JSON POST and the fake's stats.
#pragma once

#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <string>

namespace tollgate::testing {

inline httplib::Headers anthropic_headers() {
  return {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}};
}

inline httplib::Headers openai_headers() { return {{"Authorization", "Bearer k"}}; }

inline httplib::Result post(httplib::Client& c, const std::string& path, const httplib::Headers& h,
                            const nlohmann::json& body) {
  return c.Post(path.c_str(), h, body.dump(), "application/json");
}

inline nlohmann::json stats(httplib::Client& c) {
  auto r = c.Get("/_control/stats");
  REQUIRE(r);
  return nlohmann::json::parse(r->body);
}

// POSTs `body` and returns the answer's JSON after checking its status.
inline nlohmann::json call(httplib::Client& c, const std::string& path, const nlohmann::json& body,
                           int status = 200) {
  const bool anthropic = path.find("/messages") != std::string::npos;
  auto r = post(c, path, anthropic ? anthropic_headers() : openai_headers(), body);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == status);
  return nlohmann::json::parse(r->body);
}

}  // namespace tollgate::testing
