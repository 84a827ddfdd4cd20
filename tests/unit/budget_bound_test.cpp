// The token upper bound: sound (never below the UTF-8 byte count) and
// monotone in every input.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "daemon/core/budget.h"

using tollgate::ledger::kPerMessageOverhead;
using tollgate::ledger::kPerRequestOverhead;
using tollgate::ledger::token_upper_bound;

namespace {

// Appends one random code point (1 to 4 UTF-8 bytes), skipping surrogates.
void append_code_point(std::string& s, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> width(1, 4);
  uint32_t cp = 0;
  switch (width(rng)) {
    case 1: cp = std::uniform_int_distribution<uint32_t>(0x20, 0x7e)(rng); break;
    case 2: cp = std::uniform_int_distribution<uint32_t>(0x80, 0x7ff)(rng); break;
    case 3: cp = std::uniform_int_distribution<uint32_t>(0xe000, 0xffff)(rng); break;
    default: cp = std::uniform_int_distribution<uint32_t>(0x10000, 0x10ffff)(rng); break;
  }
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

std::string random_utf8(std::mt19937_64& rng, size_t code_points) {
  std::string s;
  for (size_t i = 0; i < code_points; ++i) append_code_point(s, rng);
  return s;
}

}  // namespace

TEST_CASE("the bound covers every utf8 byte of random prompts plus max tokens") {
  std::mt19937_64 rng(20240229);
  std::uniform_int_distribution<size_t> len(0, 300);
  std::uniform_int_distribution<size_t> count(0, 6);
  std::uniform_int_distribution<uint64_t> max_tokens(1, 17000);
  for (int round = 0; round < 500; ++round) {
    const std::string system = random_utf8(rng, len(rng));
    std::vector<std::string> contents(count(rng));
    uint64_t bytes = system.size();
    for (auto& c : contents) {
      c = random_utf8(rng, len(rng));
      bytes += c.size();
    }
    const uint64_t mt = max_tokens(rng);
    const uint64_t bound = token_upper_bound(system, contents, mt);
    // Byte-level BPE: tokens <= bytes, so bytes + max_tokens bounds the charge.
    REQUIRE(bound >= bytes + mt);
    REQUIRE(bound == bytes + mt + kPerRequestOverhead + kPerMessageOverhead * contents.size());
  }
}

TEST_CASE("the bound counts bytes not characters") {
  const std::string four_byte_chars = "\xF0\x9F\x98\x80\xF0\x9F\x98\x80";  // two emoji
  CHECK(token_upper_bound("", {four_byte_chars}, 0) ==
        8 + kPerMessageOverhead + kPerRequestOverhead);
}

TEST_CASE("the bound grows with each message and with max tokens") {
  const uint64_t one = token_upper_bound("sys", {"hello"}, 100);
  CHECK(token_upper_bound("sys", {"hello", ""}, 100) == one + kPerMessageOverhead);
  CHECK(token_upper_bound("sys", {"hello"}, 101) == one + 1);
  CHECK(token_upper_bound("system", {"hello"}, 100) == one + 3);
}

TEST_CASE("the bound saturates instead of wrapping") {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  CHECK(token_upper_bound("abc", {"def"}, kMax) == kMax);
  CHECK(token_upper_bound("abc", {"def"}, kMax - 10) == kMax);
}
