// Hostile and malformed request bodies: every one gets an error value, none
// crashes, throws or allocates in proportion to a declared size.
#include <catch2/catch.hpp>

#include <random>

#include "protocol/codec.h"
#include "tests/unit/protocol_test_util.h"

namespace protocol = tollgate::protocol;
using namespace protocol;
using protocol::testing::from_hex;
using nlohmann::json;

namespace {

void require_bad_request(std::string_view body) {
  auto d = decode_request(body);
  REQUIRE_FALSE(d.body.ok());
  INFO(d.body.error().message);
  CHECK(d.body.error().code == ErrorCode::kBadRequest);
  CHECK(d.id.is_nil());
}

std::string nested_arrays(size_t depth) {
  std::string s(depth, '\x91');  // array of one element, repeated
  s += '\x01';
  return s;
}

bool acceptable_code(ErrorCode c) {
  return c == ErrorCode::kBadRequest || c == ErrorCode::kTooLarge ||
         c == ErrorCode::kUnsupportedVersion || c == ErrorCode::kUnknownOp;
}

}  // namespace

TEST_CASE("a 5 byte array header declaring 4 billion elements is a bad request") {
  require_bad_request(from_hex("dd ff ff ff ff"));
  require_bad_request(from_hex("df ff ff ff ff"));          // map32
  require_bad_request(from_hex("db ff ff ff ff"));          // str32
  require_bad_request(from_hex("c6 ff ff ff ff"));          // bin32
  require_bad_request(from_hex("c9 ff ff ff ff 01"));       // ext32
  require_bad_request(from_hex("81 a1 78 dd ff ff ff ff"));  // nested in a map
  CHECK(decode_request(from_hex("dd ff ff ff ff")).body.error().message.rfind("request body: ", 0) == 0);
}

TEST_CASE("declared element counts beyond the body size are rejected before unpacking") {
  // A map whose value is an array claiming 1000 elements in a 20-byte body.
  std::string body = from_hex("82 a2 6f 70 a4 70 69 6e 67 a1 78 dc 03 e8");
  body += std::string(6, '\x01');
  auto d = decode_request(body);
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().message == "request body: declares more elements than it has bytes");
}

TEST_CASE("100000 levels of nested arrays are a bad request") {
  require_bad_request(nested_arrays(100000));
  // Same depth inside a map.
  std::string in_map = from_hex("81 a1 78") + nested_arrays(100000);
  require_bad_request(in_map);
  auto d = decode_request(nested_arrays(100000));
  CHECK(d.body.error().message.find("deeper than 32 levels") != std::string::npos);
}

TEST_CASE("nesting up to the depth limit is accepted in unknown fields") {
  // {"op": "ping", "x": 31 nested arrays}: 32 levels with the body map.
  std::string body = from_hex("82 a2 6f 70 a4 70 69 6e 67 a1 78") + nested_arrays(31);
  CHECK(decode_request(body).body.ok());
  std::string deeper = from_hex("82 a2 6f 70 a4 70 69 6e 67 a1 78") + nested_arrays(32);
  CHECK_FALSE(decode_request(deeper).body.ok());
}

TEST_CASE("trailing bytes after the body map are rejected with the id echoed") {
  std::string body = encode_request(RequestId::from_int(5), PingRequest{}) + '\x00';
  auto d = decode_request(body);
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().code == ErrorCode::kBadRequest);
  CHECK(d.body.error().message.find("trailing") != std::string::npos);
  CHECK(d.id == RequestId::from_int(5));
}

TEST_CASE("a body that is not a map is rejected") {
  require_bad_request(from_hex("93 01 02 03"));
  require_bad_request(from_hex("a4 70 69 6e 67"));
  require_bad_request(from_hex("c0"));
  require_bad_request(from_hex("c1"));  // never-used byte
  require_bad_request("");
  require_bad_request("{\"op\":\"ping\"}");
  CHECK(decode_request(from_hex("93 01 02 03")).body.error().message ==
        "request body: must be a msgpack map, not array");
}

TEST_CASE("a truncated body is rejected") {
  std::string body = encode_request(RequestId::from_int(5), PingRequest{});
  for (size_t n = 1; n < body.size(); ++n) require_bad_request(body.substr(0, n));
}

TEST_CASE("non-string keys in the body map are rejected") {
  // {"op":"ping", 1: 2}
  auto d = decode_request(from_hex("82 a2 6f 70 a4 70 69 6e 67 01 02"));
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().code == ErrorCode::kBadRequest);
  CHECK(d.body.error().message == "body: map keys must be strings");
}

TEST_CASE("an id of the wrong type is a bad request with a nil id") {
  for (const json& id : {json(1.5), json(true), json::array({1}), json::object({{"a", 1}}),
                         json(std::string(129, 'x'))}) {
    auto d = decode_request(from_json({{"op", "ping"}, {"id", id}}));
    INFO(id.dump());
    REQUIRE_FALSE(d.body.ok());
    CHECK(d.body.error().code == ErrorCode::kBadRequest);
    CHECK(d.body.error().message.rfind("id: ", 0) == 0);
    CHECK(d.id.is_nil());
  }
}

TEST_CASE("v 2 is unsupported_version and v as a string is a bad request") {
  auto v2 = decode_request(from_json({{"op", "ping"}, {"v", 2}, {"id", "abc"}}));
  REQUIRE_FALSE(v2.body.ok());
  CHECK(v2.body.error().code == ErrorCode::kUnsupportedVersion);
  CHECK(v2.id == RequestId::from_string("abc"));
  auto vs = decode_request(from_json({{"op", "ping"}, {"v", "1"}}));
  REQUIRE_FALSE(vs.body.ok());
  CHECK(vs.body.error().code == ErrorCode::kBadRequest);
}

TEST_CASE("random and mutated bodies decode to a request or an expected error") {
  std::mt19937_64 rng(20250214);
  std::vector<std::string> valid;
  CallRequest call{.ai_name = "imperium", .prompt = std::string("hello"), .max_tokens = 10,
                   .temperature = 0.5};
  CallRequest chat{.ai_name = "g", .messages = {{"user", "a"}, {"assistant", "b"}}, .system = "s",
                   .idempotency_key = "k", .timeout_ms = 5};
  for (const RequestBody& b : std::vector<RequestBody>{PingRequest{}, call, chat, AlertsRequest{3, 4, "*"},
                                                       HistoryRequest{"a", 2}, ResetRequest{"a", "openai", false},
                                                       UsageRequest{"u"}, ProviderStatusRequest{}}) {
    valid.push_back(encode_request(RequestId::from_int(77), b));
    valid.push_back(encode_request(RequestId::from_string("req-1"), b));
  }
  auto byte = [&] { return static_cast<char>(rng() & 0xff); };
  size_t ok_count = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string body;
    if (i % 2 == 0) {
      body.resize(rng() % 48);
      for (auto& c : body) c = byte();
    } else {
      body = valid[rng() % valid.size()];
      const int mutations = 1 + static_cast<int>(rng() % 4);
      for (int m = 0; m < mutations && !body.empty(); ++m) {
        const size_t at = rng() % body.size();
        switch (rng() % 4) {
          case 0: body[at] = byte(); break;
          case 1: body[at] = static_cast<char>(body[at] ^ (1 << (rng() % 8))); break;
          case 2: body.resize(at); break;
          default: body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), byte()); break;
        }
      }
    }
    DecodedRequest d = decode_request(body);
    if (d.body.ok()) {
      ++ok_count;
      // A body that decodes re-encodes to one that decodes the same.
      auto again = decode_request(encode_request(d.id, *d.body));
      REQUIRE(again.body.ok());
      REQUIRE(*again.body == *d.body);
      REQUIRE(again.id == d.id);
    } else if (!acceptable_code(d.body.error().code)) {
      FAIL("unexpected code " << code_name(d.body.error().code) << ": " << d.body.error().message);
    }
    auto j = to_json(body);
    if (j.ok()) REQUIRE_NOTHROW(j->dump());
  }
  // The mutations leave some bodies valid, so both paths were exercised.
  CHECK(ok_count > 0);
  CHECK(ok_count < 100000);
}
