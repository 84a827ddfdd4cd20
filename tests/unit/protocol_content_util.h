// Helpers shared by the tests of PROTOCOL.md section 8 in protocol/.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/codec.h"

namespace tollgate::protocol::testing {

// A valid two-turn tool conversation: the user asks, the assistant calls
// get_weather (toolu_1), the user answers with its result.
inline nlohmann::json tool_call() {
  using nlohmann::json;
  json tool_use = {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "get_weather"},
                   {"input", {{"city", "Paris"}}}};
  json tool_result = {{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "sunny"}};
  json messages = json::array({
      {{"role", "user"}, {"content", "weather in Paris?"}},
      {{"role", "assistant"}, {"content", json::array({{{"type", "text"}, {"text", "checking"}}, tool_use})}},
      {{"role", "user"}, {"content", json::array({tool_result})}},
  });
  json tool = {{"name", "get_weather"}, {"description", "the forecast"},
               {"input_schema", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}};
  return {{"op", "call"}, {"ai_name", "imperium"}, {"messages", messages}, {"tools", json::array({tool})}};
}

// The body of `j` with the msgpack string `placeholder` replaced by the
// raw msgpack bytes `raw` (for values JSON cannot express: bin, ext,
// integer keys, NaN).
inline std::string with_raw(const nlohmann::json& j, const std::string& placeholder, const std::string& raw) {
  std::string body = from_json(j);
  const std::string packed = from_json(nlohmann::json(placeholder));
  const auto at = body.find(packed);
  REQUIRE(at != std::string::npos);
  body.replace(at, packed.size(), raw);
  return body;
}

// Requires `body` to be refused with `code` and a message starting with `prefix`.
inline void require_refused(const std::string& body, ErrorCode code, const std::string& prefix,
                            const DecodeLimits& limits = {}) {
  auto d = decode_request(body, limits);
  REQUIRE_FALSE(d.body.ok());
  INFO(d.body.error().message);
  CHECK(d.body.error().code == code);
  CHECK(d.body.error().message.rfind(prefix, 0) == 0);
}

inline void require_bad_call(const nlohmann::json& j, const std::string& prefix) {
  INFO(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  require_refused(from_json(j), ErrorCode::kBadRequest, prefix);
}

inline CallRequest require_call(const std::string& body, const DecodeLimits& limits = {}) {
  auto d = decode_request(body, limits);
  if (!d.body) INFO(d.body.error().message);
  REQUIRE(d.body.ok());
  REQUIRE(std::holds_alternative<CallRequest>(*d.body));
  return std::get<CallRequest>(*d.body);
}

}  // namespace tollgate::protocol::testing
